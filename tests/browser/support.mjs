// Shared by the browser tests: the browser, pages, sign-in, and reading the
// API for assertions (never for a test's steps through the page).
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
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

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
});

after(async () => {
  if (browser) await browser.close();
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

