// Browser tests of the Workbench UI, driven through the page only (clicks,
// typing, file inputs). The API is read only to compare what the page shows.
//
//   WORKBENCH_URL=http://127.0.0.1:PORT \
//   WORKBENCH_COMPONENT=/path/to/two_fields.wasm \
//   WORKBENCH_SCREENSHOTS=target/browser \
//   node --test
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE, COMPONENT, newPage, shot, escapeRe, signIn, signOut, readToken, apiGet, waitForText,
  adminReady, scrollWidth, auditRowsShown, applyAuditFilters,
} from './support.mjs';

const PLUGIN_ID = 'visit-notes';
const PLUGIN_NAME = '拜访笔记';
const GOOD_MANIFEST = `id = "${PLUGIN_ID}"
name = "${PLUGIN_NAME}"
version = "0.1.0"
description = "Keeps notes of customer visits, signed with your name."

[developer]
name = "Acme 软件有限公司"
contact = "plugins@acme.example"

[[scopes]]
scope = "user.id"
purpose = "Tell your visit notes apart from other people's."
required = true

[[scopes]]
scope = "user.name"
purpose = "Sign each visit note with your name."
required = true
`;
const BAD_MANIFEST = GOOD_MANIFEST.replace('scope = "user.name"', 'scope = "user.salary"');

test('story: publish, install, consent, withdraw, decline, audit', async () => {
  const page = await newPage();
  await page.goto(`${BASE}/`);

  // 1. The developer signs in and uploads a bad manifest: the server's message appears next to the form.
  await signIn(page, 'acme');
  await page.getByRole('heading', { level: 1, name: '开发者', exact: true }).waitFor();
  await shot(page, '01-developer-signed-in');
  const form = page.getByTestId('publish-form');
  await page.getByLabel('清单文件 plugin.toml').setInputFiles({ name: 'plugin.toml', mimeType: 'text/plain', buffer: Buffer.from(BAD_MANIFEST) });
  await page.getByLabel('组件文件（.wasm）').setInputFiles(COMPONENT);
  await page.getByRole('button', { name: '发布', exact: true }).click();
  const publishAlert = form.getByRole('alert');
  await waitForText(publishAlert, 'unknown scope');
  const badText = await publishAlert.innerText();
  assert.match(badText, /manifest is not valid: unknown scope "user\.salary"/);
  assert.match(badText, /invalid_manifest/);
  await shot(page, '02-bad-manifest-refused');

  // 2. A good package is published.
  await page.getByLabel('清单文件 plugin.toml').setInputFiles({ name: 'plugin.toml', mimeType: 'text/plain', buffer: Buffer.from(GOOD_MANIFEST) });
  await page.getByRole('button', { name: '发布', exact: true }).click();
  await waitForText(page.getByTestId('publish-result'), `已发布 ${PLUGIN_ID}@0.1.0`);
  assert.equal((await page.getByTestId('publish-error').innerText()).trim(), '', 'the earlier error is cleared');
  const published = await page.getByTestId('publish-result').innerText();
  assert.match(published, /user\.id, user\.name/);
  await waitForText(page.getByTestId('dev-catalogue').locator('tr'), PLUGIN_ID);
  await shot(page, '03-published');
  await signOut(page);

  // 3. The admin finds it in the catalogue and installs it for everyone with its scopes.
  await signIn(page, 'admin');
  await page.getByRole('link', { name: '应用管理' }).click();
  await page.getByRole('heading', { level: 2, name: '应用目录', exact: true }).waitFor();
  const card = page.getByRole('article', { name: new RegExp(PLUGIN_ID) });
  await card.waitFor();
  const cardText = await card.innerText();
  assert.match(cardText, /Acme 软件有限公司/);
  assert.match(cardText, /Tell your visit notes apart from other people's\./);
  assert.match(cardText, /Sign each visit note with your name\./);
  assert.match(cardText, /未安装/);
  await card.getByRole('button', { name: `安装 ${PLUGIN_NAME}` }).click();
  const installDialog = page.getByRole('dialog', { name: `安装「${PLUGIN_NAME}」` });
  await installDialog.waitFor();
  assert.equal(await installDialog.getByRole('checkbox', { name: /user\.id/ }).isChecked(), true);
  assert.equal(await installDialog.getByRole('checkbox', { name: /user\.name/ }).isChecked(), true);
  await installDialog.getByRole('checkbox', { name: '全体成员' }).check();
  await shot(page, '04-install-dialog');
  await installDialog.getByRole('button', { name: '安装', exact: true }).click();
  await installDialog.waitFor({ state: 'detached' });
  await waitForText(page.getByTestId('catalogue-status'), `已保存 ${PLUGIN_NAME} 0.1.0 的安装`);
  await waitForText(page.getByRole('article', { name: new RegExp(PLUGIN_ID) }), '已安装 0.1.0');
  await page.getByRole('link', { name: '已安装应用' }).click();
  const installation = page.getByRole('article', { name: new RegExp(`${PLUGIN_ID}@0\\.1\\.0`) });
  await installation.waitFor();
  const installationText = await installation.innerText();
  assert.match(installationText, /全体成员/);
  assert.match(installationText, /user\.id[\s\S]*user\.name/);
  await shot(page, '05-installed');
  await signOut(page);

  // 4. wang.fang opens it: the consent dialog names the recipient and purposes; she agrees; it renders.
  await signIn(page, 'wang.fang');
  await page.getByRole('heading', { level: 1, name: '工作台', exact: true }).waitFor();
  const openButton = page.getByRole('button', { name: `打开 ${PLUGIN_NAME}` });
  await openButton.click();
  let consent = page.getByRole('dialog', { name: `「${PLUGIN_NAME}」请求使用你的信息` });
  await consent.waitFor();
  assert.equal(await consent.getAttribute('aria-modal'), 'true');
  const consentText = await consent.innerText();
  assert.match(consentText, /数据接收方：\s*Acme 软件有限公司/);
  assert.match(consentText, /plugins@acme\.example/);
  assert.match(consentText, /Tell your visit notes apart from other people's\./);
  assert.match(consentText, /Sign each visit note with your name\./);
  assert.ok(await consent.evaluate((d) => d.contains(document.activeElement)), 'focus is inside the consent dialog');
  await shot(page, '06-consent-dialog');
  await consent.getByRole('button', { name: '同意并打开' }).click();
  await consent.waitFor({ state: 'detached' });
  const frame = page.locator('iframe[data-testid="plugin-frame"]');
  await frame.waitFor();
  const frameBody = page.frameLocator('iframe[data-testid="plugin-frame"]').locator('body');
  await waitForText(frameBody, '王芳');
  assert.match(await frameBody.innerText(), /^\S+ 王芳\s*$/);
  const sandbox = await frame.getAttribute('sandbox');
  assert.notEqual(sandbox, null, 'the frame has a sandbox attribute');
  assert.deepEqual(sandbox.split(/\s+/).sort(), ['allow-forms', 'allow-scripts'], `sandbox is "${sandbox}": an opaque origin, no top navigation, no popups`);
  assert.match(await page.getByTestId('runner-meta').innerText(), /状态 200/);
  await shot(page, '07-plugin-rendered');

  // 5. 我的数据: her access log shows the two reads; she withdraws her consent.
  await page.getByRole('link', { name: '我的数据' }).click();
  await page.getByRole('heading', { level: 1, name: '我的数据', exact: true }).waitFor();
  const accessText = await page.getByTestId('access-log').innerText();
  assert.match(accessText, new RegExp(`${PLUGIN_NAME} \\(${PLUGIN_ID}@0\\.1\\.0\\)[\\s\\S]*user\\.id`));
  assert.match(accessText, /Sign each visit note with your name\./);
  const myCard = page.getByRole('article', { name: PLUGIN_NAME });
  assert.match(await myCard.innerText(), /已同意/);
  await myCard.getByRole('button', { name: `撤回对 ${PLUGIN_NAME} 的全部同意` }).click();
  const confirm = page.getByRole('dialog', { name: `撤回对「${PLUGIN_NAME}」的同意？` });
  await confirm.waitFor();
  await shot(page, '08-withdraw-confirm');
  await confirm.getByRole('button', { name: '确认撤回' }).click();
  await waitForText(page.getByTestId('consent-status'), `已撤回对 ${PLUGIN_NAME} 的同意`);
  await waitForText(page.getByRole('article', { name: PLUGIN_NAME }), '已撤回');
  const withdrawnText = await page.getByRole('article', { name: PLUGIN_NAME }).innerText();
  assert.match(withdrawnText, /已撤回/);
  assert.doesNotMatch(withdrawnText, /已同意/);
  await shot(page, '09-withdrawn');

  // Her receipts: the consent and the withdrawal, each a signed file she downloads.
  const receipts = page.getByTestId('receipts');
  await waitForText(receipts, '撤回');
  // (Other tests may have left her receipts of other plugins.)
  const receiptRows = receipts.locator('tbody tr', { hasText: PLUGIN_NAME });
  assert.equal(await receiptRows.count(), 2, await receipts.innerText());
  assert.match(await receiptRows.nth(0).innerText(), new RegExp(`${PLUGIN_NAME}[\\s\\S]*撤回`));
  assert.match(await receiptRows.nth(1).innerText(), new RegExp(`${PLUGIN_NAME}[\\s\\S]*同意`));
  const [file] = await Promise.all([
    page.waitForEvent('download'),
    receiptRows.nth(1).getByRole('button', { name: new RegExp(`下载回执：.*同意「${PLUGIN_NAME}」`) }).click(),
  ]);
  assert.match(file.suggestedFilename(), /^consent-receipt-\d+\.json$/);
  const signed = JSON.parse(readFileSync(await file.path(), 'utf8'));
  assert.equal(signed.receipt.action, 'consent.grant');
  assert.equal(signed.receipt.member, 'wang.fang');
  assert.equal(signed.receipt.plugin, PLUGIN_ID);
  assert.match(signed.receipt.scopes.map((x) => x.purpose).join(' '), /Sign each visit note with your name\./);
  assert.match(signed.signature, /^[0-9a-f]{128}$/);
  await shot(page, '09b-receipts');

  // 6. Opening it again asks again; she declines and the rest of the workbench still works.
  await page.getByRole('link', { name: '工作台' }).click();
  await page.getByRole('button', { name: `打开 ${PLUGIN_NAME}` }).click();
  consent = page.getByRole('dialog', { name: `「${PLUGIN_NAME}」请求使用你的信息` });
  await consent.waitFor();
  await shot(page, '10-consent-asked-again');
  await consent.getByRole('button', { name: '不同意' }).click();
  await consent.waitFor({ state: 'detached' });
  await waitForText(page.getByTestId('workbench-status'), `你没有同意，${PLUGIN_NAME} 未打开`);
  assert.equal(await page.getByTestId('runner').isHidden(), true);
  await page.getByRole('button', { name: '打开 工程日报' }).click();
  const other = page.getByRole('dialog', { name: '「工程日报」请求使用你的信息' });
  await other.waitFor();
  await other.getByRole('button', { name: '同意并打开' }).click();
  await other.waitFor({ state: 'detached' });
  await waitForText(frameBody, '工程日报');
  await shot(page, '11-other-plugin-still-works');
  await signOut(page);

  // 7. The admin's audit log shows it all, verified, and the filters narrow it.
  await signIn(page, 'admin');
  await page.getByRole('link', { name: '应用管理' }).click();
  await page.getByRole('link', { name: '审计日志' }).click();
  const badge = page.getByTestId('verify-badge');
  await waitForText(badge, '审计链校验通过');
  assert.equal(await badge.getAttribute('data-ok'), 'true');
  await page.getByTestId('audit-table').waitFor();
  const allRows = await auditRowsShown(page);
  const token = await readToken('admin');
  const firstPage = await apiGet(token, '/audit?limit=50');
  assert.deepEqual(allRows.map((r) => r.seq), firstPage.body.records.map((r) => r.seq));
  await shot(page, '12-audit-log');

  await applyAuditFilters(page, { subject: 'wang.fang' });
  const wang = await auditRowsShown(page);
  const wangApi = (await apiGet(token, '/audit?subject=wang.fang&limit=50')).body.records;
  assert.deepEqual(wang.map((r) => r.seq), wangApi.map((r) => r.seq));
  assert.ok(wang.length < allRows.length || firstPage.body.next, 'the subject filter narrows the table');
  assert.ok(wang.every((r) => r.subject === 'wang.fang'));
  const has = (pred, what) => assert.ok(wang.some(pred), `the filtered table shows ${what}`);
  has((r) => r.action === 'consent.grant' && r.outcome === 'allowed' && r.text.includes(`${PLUGIN_ID}: user.id, user.name`), 'her consent');
  has((r) => r.action === 'read' && r.outcome === 'allowed' && r.actor === `plugin:${PLUGIN_ID}@0.1.0` && r.text.includes('user.id'), 'the read of user.id');
  has((r) => r.action === 'read' && r.outcome === 'allowed' && r.actor === `plugin:${PLUGIN_ID}@0.1.0` && r.text.includes('user.name'), 'the read of user.name');
  has((r) => r.action === 'consent.withdraw' && r.text.includes(PLUGIN_ID), 'the withdrawal');
  has((r) => r.action === 'invoke' && r.outcome === 'denied' && r.actor === `plugin:${PLUGIN_ID}@0.1.0` && r.text.includes('consent_required'), 'the refused attempt');
  await shot(page, '13-audit-subject-filter');

  await applyAuditFilters(page, { subject: 'wang.fang', plugin: PLUGIN_ID, outcome: 'denied' });
  const denied = await auditRowsShown(page);
  const deniedApi = (await apiGet(token, `/audit?subject=wang.fang&plugin=${PLUGIN_ID}&outcome=denied&limit=50`)).body.records;
  assert.deepEqual(denied.map((r) => r.seq), deniedApi.map((r) => r.seq));
  assert.ok(denied.length >= 2 && denied.length < wang.length, `denied rows: ${denied.length}`);
  assert.ok(denied.every((r) => r.outcome === 'denied' && r.actor === `plugin:${PLUGIN_ID}@0.1.0`));
  assert.match(await page.getByTestId('audit-summary').innerText(), new RegExp(`本页 ${denied.length} 条记录`));
  await shot(page, '14-audit-narrowed');
  assert.deepEqual(page.pageErrors, []);
});

test('every main page fits a 375 px wide screen', async () => {
  const page = await newPage({ width: 375, height: 760 });
  const check = async (name) => {
    const width = await scrollWidth(page);
    await shot(page, `375-${name}`);
    assert.ok(width <= 375, `${name}: scrollWidth ${width} > 375`);
  };
  await page.goto(`${BASE}/`);
  await page.getByRole('heading', { level: 1, name: '登录工作台', exact: true }).waitFor();
  await check('signin');
  await signIn(page, 'admin');
  await page.getByTestId('tiles').locator('li').first().waitFor();
  const tiles = await page.getByTestId('tiles').locator('li.tile').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().left));
  assert.ok(tiles.length >= 3 && tiles.every((x) => x === tiles[0]), 'tiles stack in one column');
  await check('workbench');
  await page.getByRole('button', { name: '打开 客户拜访' }).click();
  await page.getByRole('dialog').waitFor();
  await check('consent-dialog');
  await page.keyboard.press('Escape');
  await page.getByRole('link', { name: '我的数据' }).click();
  await page.getByTestId('access-log').waitFor();
  await check('mydata');
  for (const [tab, label] of [['catalogue', '应用目录'], ['installed', '已安装应用'], ['members', '成员'], ['audit', '审计日志'], ['retention', '保留期限']]) {
    await page.goto(`${BASE}/#/admin/${tab}`);
    await page.getByRole('heading', { level: 2, name: label, exact: true }).waitFor();
    await adminReady(page, tab);
    await check(`admin-${tab}`);
  }
  await signOut(page);
  await signIn(page, 'acme');
  await page.getByTestId('dev-catalogue').waitFor();
  await check('developer');
  assert.deepEqual(page.pageErrors, []);
});

test('keyboard only: sign in, open a plugin, Esc closes the consent dialog', async () => {
  const page = await newPage();
  await page.goto(`${BASE}/`);
  await page.getByRole('heading', { level: 1, name: '登录工作台', exact: true }).waitFor();
  const tabTo = async (testid, max = 40) => {
    for (let i = 0; i < max; i += 1) {
      await page.keyboard.press('Tab');
      if (await page.evaluate((id) => document.activeElement && document.activeElement.dataset.testid === id, testid)) return;
    }
    assert.fail(`Tab never reached ${testid}`);
  };
  await tabTo('identity-li.na');
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { level: 1, name: '工作台', exact: true }).waitFor();
  await page.getByTestId('tiles').locator('li.tile').first().waitFor();
  await tabTo('open-site-daily-report');
  await page.keyboard.press('Enter');
  const frameBody = page.frameLocator('iframe[data-testid="plugin-frame"]').locator('body');
  await waitForText(frameBody, '李娜');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'runner-title');
  await shot(page, 'kbd-01-plugin-open');

  // The tiles come before the open plugin: walk back to another tile.
  let reached = false;
  for (let i = 0; i < 60 && !reached; i += 1) {
    await page.keyboard.press('Shift+Tab');
    reached = await page.evaluate(() => document.activeElement.dataset.testid === 'open-customer-visit');
  }
  assert.ok(reached, 'Shift+Tab reaches the customer-visit tile');
  await page.keyboard.press('Enter');
  const dialog = page.getByRole('dialog', { name: '「客户拜访」请求使用你的信息' });
  await dialog.waitFor();
  for (let i = 0; i < 12; i += 1) {
    await page.keyboard.press('Tab');
    assert.ok(await dialog.evaluate((d) => d.contains(document.activeElement)), `focus stays in the dialog (Tab ${i + 1})`);
  }
  const sensitive = dialog.getByRole('checkbox', { name: /user\.phone/ });
  assert.equal(await sensitive.isChecked(), false, 'the sensitive scope is unticked by default');
  assert.match(await dialog.getByTestId('consent-sensitive').innerText(), /敏感信息（需要单独同意）/);
  await shot(page, 'kbd-02-consent-dialog');
  await page.keyboard.press('Escape');
  await dialog.waitFor({ state: 'detached' });
  assert.equal(await page.evaluate(() => document.activeElement.dataset.testid), 'open-customer-visit', 'focus returns to the tile');
  await waitForText(page.getByTestId('workbench-status'), '你没有同意，客户拜访 未打开');
});

test('every control has an accessible name', async () => {
  const page = await newPage();
  const unnamed = () => page.locator('input, select, textarea, button').evaluateAll((els) => els.filter((el) => {
    const text = (s) => (s || '').replace(/\s+/g, ' ').trim();
    if (text(el.getAttribute('aria-label'))) return false;
    const by = el.getAttribute('aria-labelledby');
    if (by && by.split(/\s+/).some((id) => text(document.getElementById(id)?.textContent))) return false;
    if (el.labels && [...el.labels].some((l) => text(l.textContent))) return false;
    if (el.tagName === 'BUTTON' && text(el.textContent)) return false;
    if (text(el.getAttribute('title'))) return false;
    return true;
  }).map((el) => el.outerHTML.slice(0, 160)));
  const checkPage = async (name) => {
    const bad = await unnamed();
    const count = await page.locator('input, select, textarea, button').count();
    assert.ok(count > 0, `${name} has controls`);
    assert.deepEqual(bad, [], `${name}: controls without a name`);
  };
  await page.goto(`${BASE}/`);
  await page.getByRole('heading', { level: 1, name: '登录工作台', exact: true }).waitFor();
  await checkPage('sign-in');
  await signIn(page, 'admin');
  await page.getByTestId('tiles').locator('li.tile').first().waitFor();
  await checkPage('workbench');
  await page.getByRole('button', { name: '打开 客户拜访' }).click();
  await page.getByRole('dialog').waitFor();
  await checkPage('consent dialog');
  await page.keyboard.press('Escape');
  await page.getByRole('button', { name: '打开 工程日报' }).click();
  await page.getByRole('dialog').waitFor();
  await page.getByRole('dialog').getByRole('button', { name: '同意并打开' }).click();
  await page.getByTestId('runner').waitFor();
  await checkPage('workbench with a plugin open');
  await page.getByRole('link', { name: '我的数据' }).click();
  await page.getByTestId('access-log').waitFor();
  await checkPage('my data');
  for (const tab of ['catalogue', 'installed', 'members', 'audit', 'retention']) {
    await page.goto(`${BASE}/#/admin/${tab}`);
    await page.locator('#admin-section-title').waitFor();
    await adminReady(page, tab);
    await checkPage(`admin ${tab}`);
  }
  await page.goto(`${BASE}/#/admin/catalogue`);
  await page.getByRole('button', { name: '更改 客户拜访 的安装' }).click();
  // Where it may send (approved) and its configuration (the default as placeholder).
  const install = page.getByRole('dialog');
  assert.equal(await install.getByTestId('approve-https://visits.acme.example').isChecked(), true);
  const base = install.getByTestId('config-visits_url');
  assert.equal(await base.getAttribute('placeholder'), 'https://visits.acme.example');
  assert.equal(await base.inputValue(), '', 'nothing set: the default applies');
  assert.match(await install.getByTestId('install-config').innerText(), /Acme 拜访服务的地址/);
  await install.getByRole('checkbox', { name: '全体成员' }).uncheck();
  await install.getByTestId('range-except').click();
  await checkPage('install dialog');
  await page.keyboard.press('Escape');
  await page.goto(`${BASE}/#/admin/members`);
  await page.getByRole('button', { name: '编辑成员 li.na' }).click();
  await page.getByRole('dialog').waitFor();
  await checkPage('member dialog');
  await page.keyboard.press('Escape');
  await signOut(page);
  await signIn(page, 'acme');
  await page.getByTestId('dev-catalogue').waitFor();
  await checkPage('developer');
});

test('server failures in the admin console show the server message in an alert', async () => {
  const page = await newPage();
  await signIn(page, 'admin');
  await page.getByRole('link', { name: '应用管理' }).click();
  await page.getByRole('link', { name: '成员' }).click();
  const addForm = page.getByRole('form', { name: '添加成员' });
  await addForm.getByLabel('成员 ID').fill('Bad Id!');
  await addForm.getByLabel('姓名').fill('测试');
  await addForm.getByRole('button', { name: '添加' }).click();
  // The same refused request, to learn the server's exact words (it changes nothing).
  const token = await readToken('admin');
  const refused = await fetch(`${BASE}/api/v1/members`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ id: 'Bad Id!', profile: { name: '测试' } }),
  });
  assert.equal(refused.status, 422);
  const { message, error } = await refused.json();
  const alert = addForm.getByRole('alert');
  await waitForText(alert, message);
  assert.match(await alert.innerText(), new RegExp(escapeRe(error)));
  await shot(page, 'err-01-member-invalid-id');

  await page.getByRole('link', { name: '保留期限' }).click();
  // The form is usable once it holds the current settings.
  await page.waitForFunction(() => document.querySelector('[data-testid=retention-audit]')?.value === '1095');
  await page.getByLabel('审计记录保留天数').fill('30');
  await page.getByRole('button', { name: '保存' }).click();
  await waitForText(page.getByRole('alert'), 'audit_days must be at least 1095');
  await shot(page, 'err-02-retention-too-short');

  // A network failure is reported too.
  await page.getByRole('link', { name: '成员' }).click();
  await page.route('**/api/v1/members', (route) => (route.request().method() === 'POST' ? route.abort('internetdisconnected') : route.continue()));
  const form2 = page.getByRole('form', { name: '添加成员' });
  await form2.getByLabel('成员 ID').fill('zhao.lei');
  await form2.getByLabel('姓名').fill('赵磊');
  await form2.getByRole('button', { name: '添加' }).click();
  await waitForText(form2.getByRole('alert'), '无法连接服务器');
  await shot(page, 'err-03-network');
  await page.unroute('**/api/v1/members');
});

test('language: Chinese by default, English on request, kept across reloads', async () => {
  const page = await newPage();
  await page.goto(`${BASE}/`);
  await page.getByRole('heading', { level: 1, name: '登录工作台', exact: true }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
  await page.getByLabel('语言 / Language').selectOption('en');
  await page.getByRole('heading', { level: 1, name: 'Sign in to the workbench', exact: true }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
  await page.reload();
  await page.getByRole('heading', { level: 1, name: 'Sign in to the workbench', exact: true }).waitFor();
  await page.getByRole('button', { name: /\bwang\.fang ·/ }).click();
  await page.getByRole('heading', { level: 1, name: 'Workbench', exact: true }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'My data' }).count(), 1);
  assert.equal(await page.getByRole('button', { name: 'Sign out' }).count(), 1);
  // The example plugins give their name, description and purposes in Chinese and English:
  // the tiles and the consent dialog follow the page's language, and say which it is.
  const tile = page.getByTestId('tile-site-daily-report');
  await waitForText(tile.locator('.tile-name'), 'Site daily report');
  assert.equal(await tile.getAttribute('lang'), 'en');
  assert.match(await tile.innerText(), /Site staff write today's construction report/);
  await shot(page, 'lang-01-english');
  await page.getByLabel('语言 / Language').selectOption('zh');
  await page.getByRole('heading', { level: 1, name: '工作台', exact: true }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
  assert.equal(await page.getByRole('link', { name: '我的数据' }).count(), 1);
  await waitForText(tile.locator('.tile-name'), '工程日报');
  assert.equal(await tile.getAttribute('lang'), 'zh');
  assert.match(await tile.innerText(), /现场人员填写当天的施工日报/);
  // The header names the signed-in person's company.
  await page.getByText('企业：红圈示范工程有限公司').waitFor();
});

test('admin console: upgrade shows the scope diff, preview, disable and enable, uninstall with its receipt', async () => {
  const ID = 'field-notes';
  const NAME = '现场笔记';
  const manifest = (version, extra = '') => `id = "${ID}"
name = "${NAME}"
version = "${version}"
description = "Keeps notes from the construction site, signed with your name."

[developer]
name = "Acme 软件有限公司"
contact = "plugins@acme.example"

[[scopes]]
scope = "user.id"
purpose = "Tell your site notes apart from other people's."
required = true

[[scopes]]
scope = "user.name"
purpose = "Sign each site note with your name."
required = true
${extra}`;
  // 0.2.0 also declares an optional scope the component does not call.
  const NICKNAME = `
[[scopes]]
scope = "user.nickname"
purpose = "Greet you by your nickname on the notes page."
required = false
`;
  const token = await readToken('admin');
  const installationOf = async () => (await apiGet(token, '/workbench/plugins')).body.find((i) => i.plugin === ID);
  const page = await newPage();

  // 1. The developer publishes 0.1.0, then 0.2.0 with one more (optional) scope.
  await signIn(page, 'acme');
  await page.getByRole('heading', { level: 1, name: '开发者', exact: true }).waitFor();
  const publish = async (text, version) => {
    await page.getByLabel('清单文件 plugin.toml').setInputFiles({ name: 'plugin.toml', mimeType: 'text/plain', buffer: Buffer.from(text) });
    await page.getByLabel('组件文件（.wasm）').setInputFiles(COMPONENT);
    await page.getByRole('button', { name: '发布', exact: true }).click();
    await waitForText(page.getByTestId('publish-result'), `已发布 ${ID}@${version}`);
    return page.getByTestId('publish-result').innerText();
  };
  assert.match(await publish(manifest('0.1.0'), '0.1.0'), /user\.id, user\.name(?!, user\.nickname)/);
  assert.match(await publish(manifest('0.2.0', NICKNAME), '0.2.0'), /user\.id, user\.name, user\.nickname/);
  await waitForText(page.getByTestId('dev-catalogue').locator('tr'), '0.1.0, 0.2.0');
  await shot(page, 'adm-01-published-two-versions');
  await signOut(page);

  // 2. The admin installs 0.1.0 for everyone.
  await signIn(page, 'admin');
  await page.getByRole('link', { name: '应用管理' }).click();
  const card = page.getByRole('article', { name: new RegExp(ID) });
  await card.waitFor();
  await card.getByRole('button', { name: `安装 ${NAME}` }).click();
  const installDlg = page.getByRole('dialog', { name: `安装「${NAME}」` });
  await installDlg.waitFor();
  assert.equal(await installDlg.getByLabel('版本', { exact: true }).inputValue(), '0.2.0', 'a new install offers the latest version first');
  await installDlg.getByLabel('版本', { exact: true }).selectOption('0.1.0');
  assert.equal(await installDlg.getByRole('checkbox', { name: /user\.nickname/ }).count(), 0, '0.1.0 does not declare user.nickname');
  assert.equal(await installDlg.getByRole('checkbox', { name: /user\.name/ }).isChecked(), true);
  await installDlg.getByRole('checkbox', { name: '全体成员' }).check();
  await shot(page, 'adm-02-install-0.1.0');
  await installDlg.getByRole('button', { name: '安装', exact: true }).click();
  await installDlg.waitFor({ state: 'detached' });
  await waitForText(page.getByTestId('catalogue-status'), `已保存 ${NAME} 0.1.0 的安装`);
  assert.equal((await installationOf()).version, '0.1.0');

  // The installation's upgrade control shows the scope difference before anything changes.
  await page.getByRole('link', { name: '已安装应用' }).click();
  let installation = page.getByRole('article', { name: new RegExp(`${ID}@0\\.1\\.0`) });
  await installation.waitFor();
  await shot(page, 'adm-03-installed-0.1.0');
  const upgradeButton = installation.getByRole('button', { name: `升级或更改 ${NAME}` });
  assert.match(await upgradeButton.innerText(), /升级到 0\.2\.0/);
  await upgradeButton.click();
  const upgradeDlg = page.getByRole('dialog', { name: `升级或更改「${NAME}」` });
  await upgradeDlg.waitFor();
  assert.equal(await upgradeDlg.getByLabel('版本', { exact: true }).inputValue(), '0.2.0');
  const diff = upgradeDlg.getByTestId('install-diff');
  await waitForText(diff, 'user.nickname');
  const diffText = await diff.innerText();
  assert.match(diffText, /从 0\.1\.0 升级到 0\.2\.0 的信息范围变化/);
  assert.match(await diff.getByTestId('diff-added').innerText(), /新增：\s*user\.nickname\s*$/);
  assert.match(await diff.getByTestId('diff-removed').innerText(), /移除：\s*无/);
  assert.match(diffText, /新增的信息需要每位成员重新同意后才会提供/);
  const nickBox = upgradeDlg.getByRole('checkbox', { name: /user\.nickname/ });
  assert.equal(await nickBox.isChecked(), false, 'a newly added optional scope is not granted by default');
  assert.equal(await nickBox.isEnabled(), true, 'an optional scope can be granted');
  assert.equal((await installationOf()).version, '0.1.0', 'nothing changes before confirming');
  await nickBox.check();
  await shot(page, 'adm-04-upgrade-diff');
  await upgradeDlg.getByRole('button', { name: '确认升级', exact: true }).click();
  await upgradeDlg.waitFor({ state: 'detached' });
  await waitForText(page.getByTestId('installed-status'), `已保存 ${NAME} 0.2.0 的安装`);
  const upgraded = await installationOf();
  assert.equal(upgraded.version, '0.2.0');
  assert.deepEqual([...upgraded.declared_scopes].sort(), ['user.id', 'user.name', 'user.nickname']);
  assert.deepEqual([...upgraded.granted_scopes].sort(), ['user.id', 'user.name', 'user.nickname']);
  installation = page.getByRole('article', { name: new RegExp(`${ID}@0\\.2\\.0`) });
  await installation.waitFor();
  assert.match(await installation.getByRole('button', { name: `升级或更改 ${NAME}` }).innerText(), /更改安装/, 'no newer version is left to upgrade to');
  await shot(page, 'adm-05-upgraded');

  // 3. Preview: what 0.2.0 would see for zhang.wei, as the API answers it.
  await installation.getByText('预览：这个应用能看到某位成员的哪些信息').click();
  await installation.getByLabel('成员', { exact: true }).selectOption('zhang.wei');
  await installation.getByRole('button', { name: '预览', exact: true }).click();
  const previewOut = page.getByTestId(`preview-${ID}`);
  await previewOut.locator('tbody tr').first().waitFor();
  const preview = (await apiGet(token, `/workbench/plugins/${ID}/preview?member=zhang.wei`)).body;
  assert.equal(preview.version, '0.2.0');
  assert.match(await previewOut.innerText(), new RegExp(`成员 zhang\\.wei，版本 0\\.2\\.0`));
  assert.match(await previewOut.innerText(), preview.usable ? /该成员可以使用/ : /该成员目前无法使用/);
  const rows = await previewOut.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.cells].map((c) => c.innerText.trim())));
  assert.equal(rows.length, preview.scopes.length);
  const yesNo = (b) => (b ? '是' : '否');
  for (const s of preview.scopes) {
    const row = rows.find((r) => r[0] === s.scope);
    assert.ok(row, `the preview shows ${s.scope}`);
    assert.equal(row[1], yesNo(s.required), `${s.scope}: required`);
    assert.equal(row[2], yesNo(s.granted), `${s.scope}: granted`);
    const decision = { allowed: '允许', not_consented: '未同意', withdrawn: '已撤回', not_granted: '管理员未授予' };
    assert.equal(row[3], decision[s.decision] ?? s.decision, `${s.scope}: decision`);
    const value = s.value === null || s.value === undefined ? '—' : (typeof s.value === 'string' ? s.value : JSON.stringify(s.value));
    assert.equal(row[4], value, `${s.scope}: value`);
  }
  // zhang.wei has not agreed to this plugin yet: nothing would reach it.
  assert.equal(preview.usable, false);
  assert.deepEqual(preview.scopes.map((s) => [s.scope, s.granted, s.decision, s.value]).sort(), [
    ['user.id', true, 'not_consented', null], ['user.name', true, 'not_consented', null], ['user.nickname', true, 'not_consented', null]]);
  await shot(page, 'adm-06-preview-zhang.wei');

  // Opens the confirmation of `verb` (停用, 启用, 卸载) from the installation's card.
  const confirmation = async (verb) => {
    await installation.getByRole('button', { name: `${verb} ${NAME}` }).click();
    const dialog = page.getByRole('dialog', { name: `${verb}「${NAME}」？` });
    await dialog.waitFor();
    return dialog;
  };

  // 4. Disable, with its confirmation; then enable again.
  const disableDlg = await confirmation('停用');
  assert.match(await disableDlg.innerText(), /会立即停止运行/);
  await shot(page, 'adm-07-disable-confirm');
  await disableDlg.getByRole('button', { name: '停用', exact: true }).click();
  await disableDlg.waitFor({ state: 'detached' });
  await waitForText(page.getByTestId('installed-status'), `已停用 ${NAME}`);
  assert.equal((await installationOf()).state, 'disabled');
  await waitForText(installation, '已停用');
  assert.doesNotMatch(await installation.innerText(), /运行中/);
  assert.equal(await installation.getByRole('button', { name: `启用 ${NAME}` }).count(), 1);
  await shot(page, 'adm-08-disabled');
  const enableDlg = await confirmation('启用');
  await enableDlg.getByRole('button', { name: '启用', exact: true }).click();
  await enableDlg.waitFor({ state: 'detached' });
  await waitForText(page.getByTestId('installed-status'), `已启用 ${NAME}`);
  assert.equal((await installationOf()).state, 'enabled');
  await waitForText(installation, '运行中');
  await shot(page, 'adm-09-enabled');

  // 5. Uninstall, with its confirmation: the page shows the server's deletion receipt.
  const uninstallDlg = await confirmation('卸载');
  assert.match(await uninstallDlg.innerText(), /此操作不能撤销/);
  await shot(page, 'adm-10-uninstall-confirm');
  const deleted = page.waitForResponse((r) => r.request().method() === 'DELETE' && r.url().endsWith(`/api/v1/workbench/plugins/${ID}`));
  await uninstallDlg.getByRole('button', { name: '卸载', exact: true }).click();
  const deleteResponse = await deleted;
  assert.equal(deleteResponse.status(), 200);
  const receipt = await deleteResponse.json();
  const receiptBox = page.getByTestId('installed-status').getByTestId('receipt');
  await receiptBox.waitFor();
  const receiptText = await receiptBox.innerText();
  assert.match(receiptText, new RegExp(`已删除 ${escapeRe(String(receipt.removed))}，删除回执`));
  assert.equal(await receiptBox.getByTestId('receipt-consents').innerText(), String(receipt.consents_deleted));
  assert.match(receiptText, new RegExp(`删除的存储条目\\s+${receipt.storage_entries_deleted}\\b`));
  assert.match(receiptText, new RegExp(`审计记录\\s+#${receipt.audit_seq}\\b`));
  assert.equal(await installationOf(), undefined, 'the installation is gone from the API');
  await page.getByRole('article', { name: new RegExp(ID) }).waitFor({ state: 'detached' });
  // The admin's own records are found by action (the plugin filter is for what plugins do).
  const audit = (await apiGet(token, '/audit?action=plugin.uninstall&limit=50')).body.records;
  const record = audit.find((r) => r.seq === receipt.audit_seq);
  assert.ok(record, 'the receipt names the uninstall audit record');
  assert.match(record.reason, new RegExp(`${ID}: ${receipt.consents_deleted} consents and ${receipt.storage_entries_deleted} storage entries deleted`));
  await shot(page, 'adm-11-uninstall-receipt');

  // The package stays in the catalogue, no longer installed.
  await page.getByRole('link', { name: '应用目录' }).click();
  await waitForText(page.getByRole('article', { name: new RegExp(ID) }), '未安装');
  assert.deepEqual(page.pageErrors, []);
});
