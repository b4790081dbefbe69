// Plugin pages through the frame bridge: the example plugins used through
// their own forms and links (with the browser's back button and a reload),
// a consent asked in the middle of a flow, a hostile page, a phone-width
// screen and the keyboard. Set-up steps that are not the member's own go
// through the API; everything the member does goes through the page.
//
//   WORKBENCH_HOSTILE_PAGE=/path/to/hostile_page.wasm (tests/guests/hostile-page)
//   WORKBENCH_PYTHON_PAGE=/path/to/notes-page.wasm (tests/guests-py/notes-page)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { BASE, REPO, newPage, shot, signIn, readToken, apiGet, waitForText } from './support.mjs';

const HOSTILE = path.resolve(REPO, process.env.WORKBENCH_HOSTILE_PAGE || 'target/wasm/wasm32-wasip2/release/hostile_page.wasm');
// tests/guests-py/notes-page, built with componentize-py (about 18 MB, under the default cap).
const PYTHON_PAGE = path.resolve(REPO, process.env.WORKBENCH_PYTHON_PAGE || 'target/wasm/python/notes-page.wasm');
const FRAME = 'iframe[data-testid="plugin-frame"]';

async function api(token, method, p, body) {
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
async function openPlugin(page, name) {
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
async function frameDocument(page) {
  return (await page.locator(FRAME).elementHandle()).contentFrame();
}

function routeInUrl(page) {
  const hash = new URL(page.url()).hash;
  const parts = hash.replace(/^#\/?/, '').split('/');
  return { plugin: parts[1], route: parts[2] ? decodeURIComponent(parts[2]) : null };
}

// The frame has no scroll bar of its own: the page grew it to its content.
async function frameFitsItsContent(page) {
  const element = page.locator(FRAME);
  const outer = await element.evaluate((f) => f.clientHeight);
  const inner = await (await frameDocument(page)).evaluate(() => document.documentElement.scrollHeight);
  assert.ok(inner <= outer, `the frame document is ${inner}px high in a ${outer}px frame`);
}

async function auditSince(seq, query) {
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

async function lastSeq() {
  return Math.max(0, ...(await auditSince(0)).map((r) => r.seq));
}

// Set-up, as acme and the admin: publish `component` with `manifest`, install it for `member` only.
async function publishAndInstall(manifest, component, member, granted) {
  const form = new FormData();
  form.append('manifest', manifest);
  form.append('component', new Blob([fs.readFileSync(component)], { type: 'application/wasm' }), path.basename(component));
  const published = await api(await readToken('acme'), 'POST', '/plugins', form);
  assert.equal(published.status, 201, published.text);
  const { id, version } = published.body;
  const installed = await api(await readToken('admin'), 'PUT', `/workbench/plugins/${id}`, { version, granted_scopes: granted, visible_to: [member] });
  assert.equal(installed.status, 200, installed.text);
}

test('工程日报 through its own page: write, save, a history link, back, reload, edit', async () => {
  // An earlier day's report, written before this test (as li.na, through the API).
  const lina = await readToken('li.na');
  const earlier = await api(lina, 'POST', '/me/plugins/site-daily-report/invoke', { method: 'POST', path: '/', query: 'date=2026-11-28', body: 'text=%E5%9F%BA%E5%9D%91%E5%BC%80%E6%8C%96' });
  assert.equal(earlier.status, 200, earlier.text);
  assert.equal(earlier.body.status, 201, earlier.text);

  const page = await newPage();
  await signIn(page, 'li.na');
  const frame = await openPlugin(page, '工程日报');
  await waitForText(frame.locator('body'), '今天还没有填写日报');
  const today = (await frame.getByRole('heading', { level: 1 }).innerText()).split('·')[1].trim();
  assert.deepEqual(routeInUrl(page), { plugin: 'site-daily-report', route: '/' });
  await shot(page, 'pages-01-daily-report-empty');

  // She writes today's report in the plugin's own form and presses its 提交.
  await frame.getByLabel('今日施工内容').fill('三号楼 5 层楼板浇筑完成；明天拆模。');
  await frame.getByRole('button', { name: '提交' }).click();
  await frame.getByRole('status').filter({ hasText: '日报已保存' }).waitFor();
  assert.equal(await frame.locator('article.report').innerText(), '三号楼 5 层楼板浇筑完成；明天拆模。');
  assert.deepEqual(routeInUrl(page), { plugin: 'site-daily-report', route: `/?date=${today}&saved=1` });
  const reply = await api(lina, 'POST', '/me/plugins/site-daily-report/invoke', { path: '/report.json' });
  assert.equal(JSON.parse(reply.body.body).report, '三号楼 5 层楼板浇筑完成；明天拆模。', 'saved on the server');
  await frameFitsItsContent(page);
  await shot(page, 'pages-02-daily-report-saved');

  // A history link: the earlier day, in the page URL too.
  const history = frame.getByRole('navigation', { name: '历史日报' });
  await history.getByRole('link', { name: '2026-11-28' }).click();
  await frame.getByRole('heading', { level: 1, name: '工程日报 · 2026-11-28' }).waitFor();
  assert.equal(await frame.locator('article.report').innerText(), '基坑开挖');
  assert.deepEqual(routeInUrl(page), { plugin: 'site-daily-report', route: '/?date=2026-11-28' });
  await shot(page, 'pages-03-daily-report-history');

  // The browser's back button returns to today inside the plugin; forward goes to the day again.
  await page.goBack();
  await frame.getByRole('heading', { level: 1, name: `工程日报 · ${today}` }).waitFor();
  assert.deepEqual(routeInUrl(page), { plugin: 'site-daily-report', route: `/?date=${today}&saved=1` });
  await page.goForward();
  await frame.getByRole('heading', { level: 1, name: '工程日报 · 2026-11-28' }).waitFor();

  // A reload comes back to the same place.
  await page.reload();
  await frame.getByRole('heading', { level: 1, name: '工程日报 · 2026-11-28' }).waitFor();
  assert.equal(await frame.locator('article.report').innerText(), '基坑开挖');

  // Back to today through the plugin's own link; she edits the report.
  await frame.getByRole('link', { name: '回到今天' }).click();
  await frame.getByRole('heading', { level: 1, name: `工程日报 · ${today}` }).waitFor();
  await frame.getByLabel('修改日报').fill('三号楼 5 层楼板浇筑完成；明天拆模。下午验收通过。');
  await frame.getByRole('button', { name: '保存修改' }).click();
  await frame.getByRole('status').filter({ hasText: '日报已保存' }).waitFor();
  assert.match(await frame.locator('article.report').innerText(), /下午验收通过/);

  // An empty report is refused by the plugin, on its own page.
  await frame.getByLabel('修改日报').fill('   ');
  await frame.getByRole('button', { name: '保存修改' }).click();
  await frame.getByRole('alert').filter({ hasText: '日报是空的' }).waitFor();
  assert.match(await page.getByTestId('runner-meta').innerText(), /POST \/ → 状态 400/);
  await shot(page, 'pages-04-daily-report-refused');
  assert.deepEqual(page.pageErrors, []);
});

test('客户拜访 through its own page: plan a visit, a consent asked mid-flow, mark it done', async () => {
  const page = await newPage();
  await signIn(page, 'zhang.wei');
  const frame = await openPlugin(page, '客户拜访');
  const plan = frame.getByRole('form', { name: '计划拜访' });
  await plan.waitFor();
  const offered = await plan.getByLabel('客户').locator('option').allInnerTexts();
  assert.deepEqual(offered, ['上海建工三局', '浦东新区城投'], 'only the customers he may edit');

  await plan.getByLabel('客户').selectOption({ label: '浦东新区城投' });
  await plan.getByLabel('拜访日期').fill('2026-12-08');
  await plan.getByLabel('备注').fill('带上二期合同');
  await plan.getByRole('button', { name: '加入计划' }).click();
  // The plugin sends the visit to Acme's visit service (the demo's stand-in,
  // over TLS through the egress gate) and shows the number it got back.
  const sent = frame.getByRole('status').filter({ hasText: '已加入拜访计划，并已发送到拜访服务' });
  await sent.waitFor();
  const number = (await sent.innerText()).match(/编号 (V-\d{4})/);
  assert.ok(number, await sent.innerText());
  const table = frame.getByRole('table', { name: '拜访计划' });
  await waitForText(table, '带上二期合同');
  await waitForText(table.getByRole('row').filter({ hasText: '带上二期合同' }), number[1]);
  await shot(page, 'pages-05-visit-planned');

  // Meanwhile (in another tab) he withdraws the customer permissions; the next
  // submission needs them again: the consent dialog opens in the middle of the flow.
  const zhang = await readToken('zhang.wei');
  const withdrawn = await api(zhang, 'DELETE', '/me/plugins/customer-visit/consent?scopes=perm.customer');
  assert.equal(withdrawn.status, 200, withdrawn.text);
  await plan.getByLabel('客户').selectOption({ label: '上海建工三局' });
  await plan.getByLabel('拜访日期').fill('2026-12-09');
  await plan.getByLabel('备注').fill('年度回访');
  await plan.getByRole('button', { name: '加入计划' }).click();
  const dialog = page.getByRole('dialog', { name: '「客户拜访」请求使用你的信息' });
  await dialog.waitFor();
  // The page reads in Chinese, so the plugin's purposes are shown in Chinese too.
  assert.match(await dialog.innerText(), /列出你可以拜访并记录拜访的客户/);
  // And it names where his data may go: the visit service the admin approved.
  assert.match(await dialog.innerText(), /你的数据可能被发送到数据接收方的以下服务器[\s\S]*https:\/\/visits\.acme\.example/);
  await shot(page, 'pages-06-visit-consent-mid-flow');
  await dialog.getByRole('button', { name: '同意并打开' }).click();
  await dialog.waitFor({ state: 'detached' });
  // The submission the dialog interrupted goes on once he agreed. The visit
  // planned before went with the withdrawal (a withdrawal deletes what the
  // plugin kept about him).
  await frame.getByRole('status').filter({ hasText: '已加入拜访计划' }).waitFor();
  await waitForText(table, '年度回访');
  assert.equal(await table.getByRole('row').filter({ hasText: '带上二期合同' }).count(), 0);

  // He marks the visit done.
  const row = table.getByRole('row').filter({ hasText: '年度回访' });
  await row.getByRole('button', { name: '标记完成' }).click();
  await frame.getByRole('status').filter({ hasText: '已标记为完成' }).waitFor();
  await waitForText(table.getByRole('row').filter({ hasText: '年度回访' }), '已完成');
  const json = await api(zhang, 'POST', '/me/plugins/customer-visit/invoke', { path: '/visits.json' });
  const visits = JSON.parse(json.body.body).visits;
  assert.deepEqual(visits.map((v) => [v.customer_id, v.date, v.note, v.done]), [['c-1001', '2026-12-09', '年度回访', true]]);
  await frameFitsItsContent(page);
  await shot(page, 'pages-07-visit-done');

  // His access log says where the visits went and what they could carry.
  await page.getByRole('link', { name: '我的数据' }).click();
  await page.getByRole('heading', { level: 1, name: '我的数据', exact: true }).waitFor();
  await waitForText(page.getByTestId('access-log'), '已发送到 https://visits.acme.example');
  assert.match(await page.getByTestId('access-log').innerText(), /已发送到 https:\/\/visits\.acme\.example；可能包含：[^\n]*昵称/);
  assert.deepEqual(page.pageErrors, []);
});

test('审批助手: the processes filtered through its own form', async () => {
  const page = await newPage();
  await signIn(page, 'zhang.wei');
  const frame = await openPlugin(page, '审批助手');
  const filter = frame.getByRole('form', { name: '筛选流程' });
  await filter.waitFor();
  await waitForText(frame.locator('body'), '显示 4 个流程');
  await filter.getByLabel('我能').selectOption('approve');
  await filter.getByLabel('审批金额至少（元）').fill('100000');
  await filter.getByRole('button', { name: '筛选' }).click();
  await waitForText(frame.locator('body'), '显示 2 个流程');
  const names = await frame.getByRole('table', { name: '流程' }).locator('tbody tr td:first-child').allInnerTexts();
  assert.deepEqual(names, ['材料采购', '请假']);
  assert.deepEqual(routeInUrl(page), { plugin: 'approval-helper', route: '/?q=&can=approve&limit=100000' });
  await frame.getByRole('link', { name: '清除筛选' }).click();
  await waitForText(frame.locator('body'), '显示 4 个流程');
  await page.goBack();
  await waitForText(frame.locator('body'), '显示 2 个流程');
  assert.deepEqual(page.pageErrors, []);
});

test('a hostile plugin page stays in its frame: no network, no page, no storage, no other plugin', async () => {
  // Set-up: acme publishes the hostile page, the admin installs it for li.na only, she agrees.
  const manifest = `id = "hostile-page"
name = "恶意页面"
version = "0.1.0"
description = "A page that tries to escape the frame."

[developer]
name = "Acme 软件有限公司"
contact = "plugins@acme.example"

[[scopes]]
scope = "user.id"
purpose = "Tell callers apart."
required = true
`;
  await publishAndInstall(manifest, HOSTILE, 'li.na', ['user.id']);
  const lina = await readToken('li.na');
  assert.equal((await api(lina, 'PUT', '/me/plugins/hostile-page/consent', { scopes: ['user.id'] })).status, 200);
  const since = await lastSeq();

  const page = await newPage();
  const popups = [];
  page.context().on('page', (p) => popups.push(p.url()));
  const requests = [];
  page.on('request', (r) => requests.push(`${r.method()} ${r.url()}`));
  const failed = new Map();
  page.on('requestfailed', (r) => failed.set(`${r.method()} ${r.url()}`, r.failure() ? r.failure().errorText : ''));
  await signIn(page, 'li.na');
  const before = await page.evaluate(() => ({ title: document.title, session: sessionStorage.length, who: document.querySelector('[data-testid="who-name"]').textContent }));
  const frame = await openPlugin(page, '恶意页面');
  const report = frame.locator('#report[data-done="1"]');
  await report.waitFor();
  const r = JSON.parse(await report.innerText());
  await shot(page, 'pages-08-hostile');

  // What the frame could do, by its own report.
  for (const key of ['local_storage', 'session_storage', 'cookie', 'indexed_db', 'parent', 'top', 'opener_dom', 'open', 'top_navigation', 'fetch', 'xhr', 'websocket']) {
    assert.equal(r[key], 'blocked', `${key}: ${JSON.stringify(r[key])}`);
  }
  assert.ok(r.beacon === 'blocked' || r.violations.some((v) => v.directive === 'connect-src' && v.blocked.includes('beacon')), `beacon: ${r.beacon}`);
  const violated = new Set(r.violations.map((v) => v.directive));
  for (const directive of ['img-src', 'connect-src']) assert.ok(violated.has(directive), `a ${directive} violation: ${JSON.stringify(r.violations)}`);
  assert.equal(r.forged_plugin, 'refused:unknown_field', 'a message naming another plugin is refused');
  assert.equal(r.admin_route, 'echo:/api/v1/admin/members', 'an "admin route" is only a path inside this plugin');
  assert.equal(r.headers, 'x-plugin-note', 'Authorization and Cookie set by the frame never reach the plugin');
  assert.equal(r.huge, 'refused:too_large');
  assert.ok(r.flood.answered >= 1 && r.flood.answered <= 25, `flood answered: ${r.flood.answered}`);
  assert.equal(r.flood.answered + r.flood.rate_limited, 200, JSON.stringify(r.flood));

  // With a click (a user activation) popups and top navigation are still blocked.
  await frame.getByRole('button', { name: 'Attack with a click' }).click();
  await frame.locator('#report[data-clicked="1"]').waitFor();
  const clicked = JSON.parse(await frame.locator('#report').innerText());
  assert.equal(clicked.open_with_click, 'blocked');
  assert.equal(clicked.top_navigation_with_click, 'blocked');
  // A link and a form to another origin are not followed.
  await frame.getByRole('link', { name: 'A link out' }).click();
  await waitForText(page.getByTestId('bridge-notice'), '链接指向工作台之外（https://evil.example/）');
  await frame.getByRole('button', { name: 'Send elsewhere' }).click();
  await waitForText(page.getByTestId('bridge-notice'), 'https://evil.example/steal');
  await shot(page, 'pages-09-hostile-refusals');

  // The workbench page is as it was; no window opened; nothing left for another host.
  assert.ok(page.url().startsWith(`${BASE}/#/workbench/hostile-page/`), page.url());
  assert.deepEqual(await page.evaluate(() => ({ title: document.title, session: sessionStorage.length, who: document.querySelector('[data-testid="who-name"]').textContent })), before);
  assert.deepEqual(popups, []);
  // A request the browser began for another host was stopped by the frame's CSP before it left.
  const foreign = requests.filter((u) => !u.split(' ')[1].startsWith(BASE) && !u.split(' ')[1].startsWith('data:'));
  assert.deepEqual(foreign.filter((u) => failed.get(u) !== 'csp'), [], `left for another host: ${JSON.stringify([...failed])}`);
  const notice = page.getByTestId('bridge-notice');
  assert.ok(Number(await notice.getAttribute('data-refused')) >= 175, `refusals counted: ${await notice.getAttribute('data-refused')}`);

  // The audit log: only this plugin ran for her, exactly as often as the page was
  // answered (opening it, the "admin route", the headers call, the flood's answered calls).
  const records = await auditSince(since, 'subject=li.na');
  const actors = new Set(records.map((x) => x.actor));
  assert.deepEqual([...actors], ['plugin:hostile-page@0.1.0'], `actors: ${[...actors]}`);
  const reads = records.filter((x) => x.action === 'read' && x.outcome === 'allowed');
  assert.equal(reads.length, 1 + 2 + r.flood.answered, 'one read per invocation the page was answered');
  assert.equal(new Set(reads.map((x) => x.invocation)).size, reads.length);

  // form.submit() fires no submit event; the bridge routes it as well, and refuses it.
  const refusedBefore = Number(await page.getByTestId('bridge-notice').getAttribute('data-refused'));
  // The click lands in the frame's own process; click again only until the
  // page's handler has run (a second click is one more refusal, still > n).
  const bare = frame.locator('#report[data-bare="1"]');
  for (let i = 0; i < 3 && !(await bare.count()); i += 1) {
    await frame.getByRole('button', { name: 'Submit without an event' }).click();
    await bare.waitFor({ timeout: 3000 }).catch(() => {});
  }
  await bare.waitFor();
  await page.waitForFunction((n) => {
    const notice = document.querySelector('[data-testid="bridge-notice"]');
    return Number(notice.dataset.refused) > n && notice.dataset.lastCode === 'leave';
  }, refusedBefore);
  assert.match(await page.getByTestId('bridge-notice').innerText(), /https:\/\/evil\.example\/steal/);
  assert.equal(await frame.locator('#report[data-bare="1"]').count(), 1, 'the page is still there');
  assert.deepEqual(requests.filter((u) => u.includes('evil.example') && failed.get(u) !== 'csp'), [], 'the form data never left');

  // A multipart form with a file: over 512 KB it is refused; within it, it reaches the plugin whole.
  const upload = frame.locator('#upload');
  await frame.getByLabel('A file').setInputFiles({ name: 'big.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(600 * 1024, 7) });
  await upload.getByRole('button', { name: 'Upload' }).click();
  await waitForText(page.getByTestId('bridge-notice'), '应用页面一次最多发送 512 KB');
  const photo = Buffer.from('\u0089PNG fake photo bytes '.repeat(100));
  await frame.getByLabel('A file').setInputFiles({ name: '现场.png', mimeType: 'image/png', buffer: photo });
  await upload.getByRole('button', { name: 'Upload' }).click();
  await waitForText(frame.locator('pre'), '"path": "/upload"');
  const echo = JSON.parse(await frame.locator('pre').innerText());
  const type = echo.headers.find(([k]) => k === 'content-type')[1];
  assert.match(type, /^multipart\/form-data; boundary=/);
  assert.deepEqual(echo.headers.map(([k]) => k).sort(), ['accept', 'content-type']);
  assert.ok(echo.body_bytes > photo.length && echo.body_bytes < photo.length + 1024, `multipart body of ${echo.body_bytes} bytes for a ${photo.length}-byte file`);
  assert.deepEqual(page.pageErrors, []);
});

test('plugin pages fit a 375 px screen and work with the keyboard alone', async () => {
  const page = await newPage({ width: 375, height: 760 });
  await signIn(page, 'li.na');
  const frame = await openPlugin(page, '工程日报');
  await frame.getByRole('heading', { level: 1 }).waitFor();
  const widths = await (await frameDocument(page)).evaluate(() => ({ doc: document.documentElement.scrollWidth, view: window.innerWidth }));
  assert.ok(widths.doc <= widths.view, `the plugin page is ${widths.doc}px wide in a ${widths.view}px frame`);
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth) <= 375);
  await frameFitsItsContent(page);
  await shot(page, 'pages-10-375-daily-report');

  // Keyboard: Tab from the runner's title into the frame's form, type, Enter submits.
  await page.locator('#runner-title').focus();
  let inFrame = false;
  for (let i = 0; i < 12 && !inFrame; i += 1) {
    await page.keyboard.press('Tab');
    inFrame = await (await frameDocument(page)).evaluate(() => document.activeElement && document.activeElement.tagName === 'TEXTAREA');
  }
  assert.ok(inFrame, 'Tab reaches the report field inside the frame');
  await page.keyboard.press('Control+A');
  await page.keyboard.type('键盘填写的日报');
  await page.keyboard.press('Tab');
  assert.equal(await (await frameDocument(page)).evaluate(() => document.activeElement.textContent), '保存修改');
  await page.keyboard.press('Enter');
  await frame.getByRole('status').filter({ hasText: '日报已保存' }).waitFor();
  assert.equal(await frame.locator('article.report').innerText(), '键盘填写的日报');
  // …and Tab leaves the frame again, to the controls after it.
  let out = false;
  for (let i = 0; i < 20 && !out; i += 1) {
    await page.keyboard.press('Tab');
    out = await page.evaluate(() => document.activeElement && document.activeElement.tagName === 'SUMMARY');
  }
  assert.ok(out, 'Tab leaves the frame to the developer tools after it');

  // Every control in the plugin's page has a label.
  const unnamed = await (await frameDocument(page)).evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
    .filter((el) => !(el.labels && el.labels.length) && !(el.tagName === 'BUTTON' && el.textContent.trim()) && el.type !== 'hidden')
    .map((el) => el.outerHTML.slice(0, 120)));
  assert.deepEqual(unnamed, []);
  assert.deepEqual(page.pageErrors, []);
});

test('a page built with componentize-py (Python) works through the bridge: form, link, script call', async () => {
  const manifest = fs.readFileSync(path.join(REPO, 'tests', 'guests-py', 'notes-page', 'plugin.toml'), 'utf8');
  await publishAndInstall(manifest, PYTHON_PAGE, 'zhang.wei', ['user.id', 'storage']);
  const since = await lastSeq();

  const page = await newPage();
  await signIn(page, 'zhang.wei');
  const frame = await openPlugin(page, 'Python 笔记');
  await waitForText(frame.locator('body'), '还没有笔记');
  await frame.getByRole('textbox', { name: '笔记' }).fill('用 Python 写的第一条笔记');
  await frame.getByRole('button', { name: '保存笔记' }).click();
  await frame.getByRole('status').filter({ hasText: '笔记已保存' }).waitFor();
  assert.deepEqual(routeInUrl(page), { plugin: 'py-notes', route: '/?saved=1' });
  await frame.getByRole('link', { name: '笔记 1' }).click();
  await waitForText(frame.locator('#shown'), '用 Python 写的第一条笔记');
  assert.deepEqual(routeInUrl(page), { plugin: 'py-notes', route: '/?note=0' });
  await page.goBack();
  await frame.getByRole('status').filter({ hasText: '笔记已保存' }).waitFor();
  // The page's own script asks the plugin for JSON through workbench.invoke().
  await frame.getByRole('button', { name: '数一数' }).click();
  await waitForText(frame.locator('#count-out'), '共 1 条');
  await shot(page, 'pages-11-python-page');

  // Each of those invocations read only the open id, audited as the Python plugin.
  const records = await auditSince(since, 'subject=zhang.wei&plugin=py-notes');
  const reads = records.filter((x) => x.action === 'read');
  assert.ok(reads.length >= 6, `reads: ${reads.length}`);
  assert.deepEqual([...new Set(reads.map((x) => `${x.actor} ${x.scope} ${x.outcome}`))], ['plugin:py-notes@0.1.0 user.id allowed']);
  assert.deepEqual(page.pageErrors, []);
});
