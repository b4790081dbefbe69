// Shared by the browser tests: the browser, pages, sign-in, and reading the
// API for assertions (never for a test's steps through the page).
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import dgram from 'node:dgram';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(HERE, '..', '..');
export const BASE = (process.env.WORKBENCH_URL || '').replace(/\/+$/, '');
if (!BASE) throw new Error('WORKBENCH_URL is required: the base URL of a fresh `workbench serve --demo` server');
export const COMPONENT = path.resolve(REPO, process.env.WORKBENCH_COMPONENT || 'target/wasm/wasm32-wasip2/release/two_fields.wasm');
export const SHOTS = path.resolve(REPO, process.env.WORKBENCH_SCREENSHOTS || 'target/browser');
export const TIMEOUT = 15000;

let browser;

// What left the browser for anywhere but this machine's loopback. The browser
// sends every such request through `proxy` (so it resolves no name itself:
// the proxy hears the name), and pages aim their WebRTC at `udp`. Each
// connection, request line and UDP packet is recorded here.
export const outside = { contacts: [], udpPort: 0 };
// The browser's own background traffic (updates, sign-in): not a page's.
const BROWSER_OWN = /(^|\.)(google\.com|googleapis\.com|gvt1\.com|gstatic\.com|googleusercontent\.com)(:\d+)?$/;
const proxy = net.createServer((socket) => {
  socket.on('error', () => {});
  const at = Date.now();
  let seen = false;
  socket.once('data', (data) => {
    seen = true;
    const line = data.toString('latin1').split('\r\n')[0].slice(0, 300);
    const target = (line.split(' ')[1] || '').replace(/^[a-z]+:\/\//, '').split('/')[0];
    if (!BROWSER_OWN.test(target)) outside.contacts.push({ at, kind: 'tcp', line, target });
    socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
  });
  // A connection opened ahead (a preconnect) that never says where to.
  socket.on('close', () => {
    if (!seen) outside.contacts.push({ at, kind: 'tcp', line: '(a connection that sent nothing)', target: '' });
  });
  socket.setTimeout(5000, () => socket.destroy());
});
const udp = dgram.createSocket('udp4');
udp.on('message', (message, from) => outside.contacts.push({ at: Date.now(), kind: 'udp', line: `${message.length} bytes from ${from.address}:${from.port}`, target: '' }));

// Contacts since `since` (a Date.now()), as lines for a message.
export function contactsSince(since) {
  return outside.contacts.filter((c) => c.at >= since).map((c) => `${c.kind} ${c.line}`);
}

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  await new Promise((resolve) => udp.bind(0, '127.0.0.1', resolve));
  outside.udpPort = udp.address().port;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      // Loopback (the workbench) is reached directly; everything else goes to the watch.
      `--proxy-server=http://127.0.0.1:${proxy.address().port}`,
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-domain-reliability',
    ],
  });
});

after(async () => {
  if (browser) await browser.close();
  proxy.close();
  udp.close();
});

export async function newPage(viewport = { width: 1280, height: 900 }) {
  const context = await browser.newContext({ viewport, locale: 'zh-CN' });
  context.setDefaultTimeout(TIMEOUT);
  const page = await context.newPage();
  page.pageErrors = [];
  page.on('pageerror', (e) => page.pageErrors.push(e.message));
  return page;
}

export async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

export const escapeRe = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export async function signIn(page, member) {
  if (!page.url().startsWith(BASE)) await page.goto(`${BASE}/`);
  await page.getByRole('heading', { level: 1, name: '登录工作台', exact: true }).waitFor();
  await page.getByRole('button', { name: new RegExp(`\\b${escapeRe(member)} ·`) }).click();
  await page.getByRole('button', { name: '退出登录' }).waitFor();
}

export async function signOut(page) {
  await page.getByRole('button', { name: '退出登录' }).click();
  await page.getByRole('heading', { level: 1, name: '登录工作台', exact: true }).waitFor();
}

// A token to read state with (only for assertions, never for the story's steps).
export async function readToken(member) {
  const res = await fetch(`${BASE}/api/v1/demo/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ member }) });
  assert.equal(res.status, 201);
  return (await res.json()).token;
}

export async function apiGet(token, p) {
  const res = await fetch(`${BASE}/api/v1${p}`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
}

export async function waitForText(locator, text) {
  await locator.filter({ hasText: text }).first().waitFor();
}

// Waits until a tab of the admin console has its content.
export async function adminReady(page, tab) {
  const ready = {
    catalogue: page.getByTestId('catalogue').locator('article').first(),
    installed: page.getByTestId('installations').locator('article').first(),
    members: page.getByTestId('members-table'),
    audit: page.getByTestId('audit-table'),
    retention: page.getByTestId('retention-audit'),
    'self-service': page.getByTestId('self-service-policies').locator('article').first(),
    deliveries: page.getByTestId('deliveries-table'),
  }[tab];
  await ready.waitFor();
  if (tab === 'retention') await page.waitForFunction(() => document.querySelector('[data-testid="retention-audit"]').value !== '');
  if (tab === 'audit') await page.getByTestId('verify-badge').locator('strong').waitFor();
}

export async function scrollWidth(page) {
  return page.evaluate(() => document.documentElement.scrollWidth);
}

export async function auditRowsShown(page) {
  return page.getByTestId('audit-table').locator('tbody tr[data-seq]').evaluateAll((rows) => rows.map((r) => ({
    seq: Number(r.dataset.seq), action: r.dataset.action, outcome: r.dataset.outcome, subject: r.dataset.subject, actor: r.dataset.actor, text: r.innerText,
  })));
}

export async function applyAuditFilters(page, { subject = '', plugin = '', outcome = '' }) {
  await page.getByLabel('数据主体（成员 ID）').fill(subject);
  await page.getByLabel('应用 ID').fill(plugin);
  await page.getByLabel('结果').selectOption(outcome);
  const before = await page.getByTestId('audit-summary').innerText();
  await page.getByRole('button', { name: '筛选', exact: true }).click();
  // The table is replaced after the answer arrives.
  await page.waitForFunction((b) => {
    const s = document.querySelector('[data-testid="audit-summary"]');
    return s && s.dataset.loaded === 'true';
  }, before);
}

// Plugin pages: the frame, set-up through the API, the audit log.
export const FRAME = 'iframe[data-testid="plugin-frame"]';

export async function api(token, method, p, body) {
  const init = { method, headers: { authorization: `Bearer ${token}` } };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['content-type'] = 'application/json';
  }
  const res = await fetch(`${BASE}/api/v1${p}`, init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, text };
}

// Opens plugin `name` from its tile; agrees in the consent dialog when it is asked.
export async function openPlugin(page, name) {
  await page.getByRole('button', { name: `打开 ${name}` }).click();
  const frame = page.frameLocator(FRAME);
  const dialog = page.getByRole('dialog', { name: `「${name}」请求使用你的信息` });
  await Promise.race([dialog.waitFor().catch(() => {}), frame.locator('body > *').first().waitFor().catch(() => {})]);
  if (await dialog.isVisible()) {
    await dialog.getByRole('button', { name: '同意并打开' }).click();
    await dialog.waitFor({ state: 'detached' });
  }
  return frame;
}

// The frame's document, to evaluate in.
export async function frameDocument(page) {
  return (await page.locator(FRAME).elementHandle()).contentFrame();
}

export function routeInUrl(page) {
  const hash = new URL(page.url()).hash;
  const parts = hash.replace(/^#\/?/, '').split('/');
  return { plugin: parts[1], route: parts[2] ? decodeURIComponent(parts[2]) : null };
}

// The frame has no scroll bar of its own: the page grew it to its content.
export async function frameFitsItsContent(page) {
  const element = page.locator(FRAME);
  const outer = await element.evaluate((f) => f.clientHeight);
  const inner = await (await frameDocument(page)).evaluate(() => document.documentElement.scrollHeight);
  assert.ok(inner <= outer, `the frame document is ${inner}px high in a ${outer}px frame`);
}

export async function auditSince(seq, query) {
  const admin = await readToken('admin');
  const records = [];
  let after = '';
  for (;;) {
    const page = (await apiGet(admin, `/audit?limit=1000${query ? `&${query}` : ''}${after ? `&after=${after}` : ''}`)).body;
    records.push(...page.records.filter((r) => r.seq > seq));
    if (!page.next) return records;
    after = encodeURIComponent(page.next);
  }
}

export async function lastSeq() {
  return Math.max(0, ...(await auditSince(0)).map((r) => r.seq));
}

// Set-up, as acme: publish `component` with `manifest` (installed nowhere).
export async function publish(manifest, component) {
  const form = new FormData();
  form.append('manifest', manifest);
  form.append('component', new Blob([fs.readFileSync(component)], { type: 'application/wasm' }), path.basename(component));
  const published = await api(await readToken('acme'), 'POST', '/plugins', form);
  assert.equal(published.status, 201, published.text);
  return published.body;
}

// Set-up, as acme and the admin: publish `component` with `manifest`, install it for `member` only.
export async function publishAndInstall(manifest, component, member, granted) {
  const { id, version } = await publish(manifest, component);
  const installed = await api(await readToken('admin'), 'PUT', `/workbench/plugins/${id}`, { version, granted_scopes: granted, visible_to: [member] });
  assert.equal(installed.status, 200, installed.text);
}

