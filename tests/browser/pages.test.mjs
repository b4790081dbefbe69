// Plugin pages through the frame bridge: the example plugins used through
// their own forms and links (with the browser's back button and a reload),
// a consent asked in the middle of a flow, a page built with componentize-py,
// a phone-width screen and the keyboard (hostile pages: wayout.test.mjs). Set-up steps that are not the member's own go
// through the API; everything the member does goes through the page.
//
//   WORKBENCH_PYTHON_PAGE=/path/to/notes-page.wasm (tests/guests-py/notes-page)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  REPO, newPage, shot, signIn, readToken, apiGet, waitForText, FRAME, api, openPlugin, frameDocument, routeInUrl, frameFitsItsContent, auditSince, lastSeq, publishAndInstall,
  contactsSince,
} from './support.mjs';

// tests/guests-py/notes-page, built with componentize-py (about 18 MB, under the default cap).
const PYTHON_PAGE = path.resolve(REPO, process.env.WORKBENCH_PYTHON_PAGE || 'target/wasm/python/notes-page.wasm');

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

test('客户拜访 through its own page: his avatar, plan a visit, a consent asked mid-flow, mark it done', async () => {
  const page = await newPage();
  const t0 = Date.now();
  const seq = await lastSeq();
  await signIn(page, 'zhang.wei');
  const frame = await openPlugin(page, '客户拜访');
  const plan = frame.getByRole('form', { name: '计划拜访' });
  await plan.waitFor();
  // His avatar, which he let it show: the workbench hands it to the frame as
  // a data: URL (the host fetched it); the frame never asks the avatar's host.
  const avatar = frame.locator('img.avatar[src^="data:image/png;base64,"]');
  await avatar.waitFor();
  assert.equal(await avatar.evaluate((img) => img.complete && img.naturalWidth), 64, 'the image decoded');
  assert.equal(await avatar.getAttribute('data-wb-src'), 'https://avatars.example/zhang.wei.png');
  const shown = await auditSince(seq, 'action=page.avatar');
  assert.deepEqual(shown.map((r) => [r.outcome, r.scope, r.subject]), [['allowed', 'user.avatar', 'zhang.wei']]);
  assert.deepEqual(contactsSince(t0).filter((c) => c.includes('avatars.example')), [], 'nothing went to the avatar\'s host from the browser');
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
