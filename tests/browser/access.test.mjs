// Who sees what: each administrative job sees only its own part of 应用管理
// (the auditor the audit log, no install buttons); a plugin's visible range
// is edited as rules over the department tree with a preview of who it
// reaches; and a member signs out everywhere from 我的数据, which ends
// every other tab's sign-in too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, COMPONENT, newPage, shot, signIn, readToken, apiGet, api, adminReady, publish, publishAndInstall } from './support.mjs';

const TABS = ['catalogue', 'installed', 'self-service', 'deliveries', 'members', 'audit', 'retention'];

async function tabsShown(page) {
  return page.locator('[data-testid^="tab-"]').evaluateAll((links) => links.map((a) => a.dataset.testid.slice(4)));
}

test("the auditor's console: the audit log alone, nothing to change, in zh and en", async () => {
  const page = await newPage();
  await signIn(page, 'zhou.min');
  await page.getByRole('link', { name: '应用管理' }).click();
  await adminReady(page, 'audit');
  assert.deepEqual(await tabsShown(page), ['audit']);
  // Asking for another tab by its address shows the audit log all the same.
  for (const tab of TABS.filter((x) => x !== 'audit')) {
    await page.goto(`${BASE}/#/admin/${tab}`);
    await adminReady(page, 'audit');
    assert.deepEqual(await tabsShown(page), ['audit'], tab);
  }
  // Nothing on the page installs, removes or changes anything.
  for (const name of [/安装/, /卸载/, /停用/, /移除/, /添加成员/, /保存/]) {
    assert.equal(await page.getByRole('button', { name }).count(), 0, String(name));
  }
  assert.equal(await page.getByTestId('verify-badge').locator('strong').count(), 1);
  await shot(page, 'access-auditor-zh');

  await page.locator('#lang').selectOption('en');
  await page.getByRole('heading', { level: 2, name: 'Audit log' }).waitFor();
  assert.deepEqual(await tabsShown(page), ['audit']);
  assert.match(await page.locator('.who-roles').innerText(), /Auditor/);
  assert.equal(await page.getByRole('button', { name: /Install|Uninstall|Disable|Remove|Save/ }).count(), 0);
  await shot(page, 'access-auditor-en');
  await page.locator('#lang').selectOption('zh');

  // The admin, holding every job, sees every tab.
  const admin = await newPage();
  await signIn(admin, 'admin');
  await admin.getByRole('link', { name: '应用管理' }).click();
  await adminReady(admin, 'catalogue');
  assert.deepEqual(await tabsShown(admin), TABS);
  assert.deepEqual(page.pageErrors, []);
  await page.context().close();
  await admin.context().close();
});

test('sign out everywhere: this tab and every other sign-in of mine end, and I sign in again', async () => {
  const phone = await newPage();
  const laptop = await newPage();
  await signIn(phone, 'wang.fang');
  await signIn(laptop, 'wang.fang');
  const others = await readToken('li.na');

  await phone.getByRole('link', { name: '我的数据' }).click();
  await phone.getByRole('heading', { level: 2, name: '登录设备' }).waitFor();
  await phone.getByTestId('end-my-sessions').click();
  const dialog = phone.getByRole('dialog', { name: '在所有设备上退出？' });
  await dialog.waitFor();
  await shot(phone, 'access-sign-out-everywhere');
  await dialog.getByRole('button', { name: '在所有设备上退出' }).click();
  await phone.getByRole('heading', { level: 1, name: '登录工作台', exact: true }).waitFor();
  await phone.getByText('你已在所有设备上退出，请重新登录。').waitFor();

  // The other device learns it on its next step.
  await laptop.getByRole('link', { name: '我的数据' }).click();
  await laptop.getByRole('heading', { level: 1, name: '登录工作台', exact: true }).waitFor();
  await laptop.getByText('你已在所有设备上退出，请重新登录。').waitFor();

  // Someone else's sign-in goes on; signing in again works at once.
  assert.equal((await apiGet(others, '/me/plugins')).status, 200);
  await signIn(phone, 'wang.fang');
  await phone.getByRole('link', { name: '我的数据' }).click();
  await phone.getByRole('heading', { level: 2, name: '登录设备' }).waitFor();

  // In English too, and the ending is in the audit log.
  await phone.locator('#lang').selectOption('en');
  await phone.getByRole('button', { name: 'Sign out everywhere' }).waitFor();
  await phone.locator('#lang').selectOption('zh');
  const auditor = await readToken('zhou.min');
  const log = await apiGet(auditor, '/audit?action=session.end&subject=wang.fang');
  assert.equal(log.status, 200);
  assert.ok(log.body.records.some((r) => r.actor === 'member:wang.fang'), JSON.stringify(log.body));
  assert.deepEqual(phone.pageErrors, []);
  assert.deepEqual(laptop.pageErrors, []);
  await phone.context().close();
  await laptop.context().close();
});

test('the rule editor: departments with their sub-departments, an exception, a preview of who is in range', async () => {
  const page = await newPage();
  const invoke = async (member) => (await api(await readToken(member), 'POST', '/me/plugins/site-daily-report/invoke', { path: '/report.json' })).status;
  try {
    await signIn(page, 'admin');
    await page.goto(`${BASE}/#/admin/members`);
    await adminReady(page, 'members');
    // The tree: 工程部 > 工地项目部.
    for (const [id, name, parent] of [['eng', '工程部', ''], ['eng.site', '工地项目部', 'eng']]) {
      await page.getByTestId('department-id').fill(id);
      await page.getByTestId('department-name').fill(name);
      await page.getByTestId('department-parent').selectOption(parent);
      await page.getByTestId('department-save').click();
      await page.locator(`tr[data-department="${id}"]`).waitFor();
    }
    // 张伟 into 工地项目部, 李娜 into 工程部.
    for (const [member, department] of [['zhang.wei', 'eng.site'], ['li.na', 'eng']]) {
      await page.getByRole('button', { name: `编辑成员 ${member}` }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByTestId(`member-department-${department}`).check();
      await dialog.getByRole('button', { name: '保存' }).click();
      await dialog.waitFor({ state: 'detached' });
    }
    // The range: 工程部 (with 工地项目部), except 李娜.
    await page.goto(`${BASE}/#/admin/catalogue`);
    await adminReady(page, 'catalogue');
    await page.getByRole('button', { name: '更改 工程日报 的安装' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('checkbox', { name: '全体成员' }).uncheck();
    await dialog.getByTestId('range-departments-eng').check();
    await page.waitForFunction(() => /当前范围内 2 人/.test(document.querySelector('[data-testid="range-preview"]').textContent));
    await dialog.getByTestId('range-except').click();
    await dialog.getByTestId('range-deny-members-li.na').check();
    await page.waitForFunction(() => /当前范围内 1 人/.test(document.querySelector('[data-testid="range-preview"]').textContent));
    assert.equal((await dialog.getByTestId('range-names').innerText()).trim(), '张伟');
    await shot(page, 'access-range-editor-zh');
    await dialog.getByTestId('install-submit').click();
    await dialog.waitFor({ state: 'detached' });

    // Decided at each call: 张伟 runs it, 李娜 (excepted) and 王芳 (in no department) do not.
    assert.equal(await invoke('zhang.wei'), 200);
    assert.equal(await invoke('li.na'), 404);
    assert.equal(await invoke('wang.fang'), 404);
    await page.goto(`${BASE}/#/admin/installed`);
    await adminReady(page, 'installed');
    const card = page.getByTestId('installations').locator('article', { hasText: '工程日报' });
    assert.match(await card.innerText(), /部门：工程部（含下级）；排除：李娜 \(li\.na\)/);

    // In English: the same rules, the same preview.
    await page.locator('#lang').selectOption('en');
    await page.goto(`${BASE}/#/admin/catalogue`);
    await adminReady(page, 'catalogue');
    await page.getByRole('button', { name: 'Change the installation of Site daily report' }).click();
    const en = page.getByRole('dialog');
    assert.equal(await en.getByRole('checkbox', { name: 'Everyone' }).isChecked(), false);
    assert.equal(await en.getByTestId('range-departments-eng').isChecked(), true);
    await en.getByText('Departments (with their sub-departments)').first().waitFor();
    await page.waitForFunction(() => /1 in range now/.test(document.querySelector('[data-testid="range-preview"]').textContent));
    await shot(page, 'access-range-editor-en');
    await page.keyboard.press('Escape');
    await page.locator('#lang').selectOption('zh');
    assert.deepEqual(page.pageErrors, []);

  } finally {
    // Back to everyone for the other tests.
    const admin = await readToken('admin');
    const restored = await api(admin, 'PUT', '/workbench/plugins/site-daily-report', { version: '0.1.0', granted_scopes: ['user.id', 'user.name', 'storage', 'log'] });
    assert.equal(restored.status, 200, restored.text);
    assert.equal(await invoke('li.na'), 200);
  }
  await page.context().close();
});

const offered = (id, name) => `id = "${id}"
name = "${name}"
version = "0.1.0"
description = "Notes for a site, signed with your name."

[developer]
name = "Acme 软件有限公司"
contact = "plugins@acme.example"

[[scopes]]
scope = "user.id"
purpose = "Tell your notes apart."
required = true

[[scopes]]
scope = "user.name"
purpose = "Sign your notes."
required = true
`;

test('members open a plugin themselves and ask for another; the app admin decides in the queue', async () => {
  await publish(offered('site-notes', '现场笔记本'), COMPONENT);
  await publish(offered('site-review', '现场评审'), COMPONENT);
  const admin = await newPage();
  await signIn(admin, 'admin');
  await admin.goto(`${BASE}/#/admin/self-service`);
  await adminReady(admin, 'self-service');
  // 现场笔记本: open to members; 现场评审: on request.
  for (const [id, mode] of [['site-notes', 'open'], ['site-review', 'request']]) {
    const card = admin.getByTestId(`policy-${id}`);
    await card.getByTestId(`mode-${id}`).selectOption(mode);
    await card.getByTestId(`bound-${id}-user.id`).check();
    await card.getByTestId(`bound-${id}-user.name`).check();
    await card.getByTestId(`save-policy-${id}`).click();
    await admin.getByTestId('self-service-status').filter({ hasText: '已保存' }).waitFor();
  }

  // 王芳 opens 现场笔记本 herself: it joins her plugins and asks for consent.
  const wang = await newPage();
  await signIn(wang, 'wang.fang');
  const offers = wang.getByTestId('member-catalogue');
  await offers.getByTestId('offer-site-notes').waitFor();
  await shot(wang, 'access-member-catalogue-zh');
  await offers.getByTestId('self-open-site-notes').click();
  await wang.getByTestId('tile-site-notes').waitFor();
  await offers.getByTestId('offer-site-notes').getByText('已开通').waitFor();
  // She asks for 现场评审 with a reason.
  await offers.getByTestId('self-request-site-review').click();
  const ask = wang.getByRole('dialog', { name: '申请「现场评审」' });
  await ask.getByTestId('request-reason').fill('评审本周的施工记录');
  await ask.getByTestId('request-send').click();
  await offers.getByTestId('offer-site-review').getByText('审批中').waitFor();

  // The app admin declines with a reason; she reads it, asks again, and is approved.
  await admin.reload();
  await adminReady(admin, 'self-service');
  const queue = admin.getByTestId('requests-table');
  await queue.getByText('评审本周的施工记录').waitFor();
  await shot(admin, 'access-review-queue-zh');
  await queue.getByRole('button', { name: '拒绝 wang.fang 对 site-review 的申请' }).click();
  const decline = admin.getByRole('dialog');
  await decline.getByTestId('decline-reason').fill('评审由项目经理负责');
  await decline.getByTestId('decline-send').click();
  await decline.waitFor({ state: 'detached' });
  await wang.reload();
  await wang.getByTestId('decision-site-review').filter({ hasText: '评审由项目经理负责' }).waitFor();
  await wang.getByTestId('self-request-site-review').click();
  await wang.getByTestId('request-reason').fill('项目经理请我协助');
  await wang.getByTestId('request-send').click();
  await admin.reload();
  await adminReady(admin, 'self-service');
  await admin.getByRole('button', { name: '批准 wang.fang 对 site-review 的申请' }).click();
  await admin.getByTestId('self-service-status').filter({ hasText: '已批准' }).waitFor();
  await wang.reload();
  await wang.getByTestId('tile-site-review').waitFor();

  // Who opened what; the admin ends 现场笔记本 for her and it leaves her workbench.
  const opened = admin.getByTestId('openings-table');
  await opened.getByText('申请获批').waitFor();
  await opened.getByTestId('end-opening-site-notes-wang.fang').click();
  await admin.getByTestId('self-service-status').filter({ hasText: '已结束' }).waitFor();
  await wang.reload();
  await wang.getByTestId('tile-site-review').waitFor();
  assert.equal(await wang.getByTestId('tile-site-notes').count(), 0);
  const status = (await api(await readToken('wang.fang'), 'POST', '/me/plugins/site-notes/invoke', { path: '/' })).status;
  assert.equal(status, 404);

  // In English.
  await wang.locator('#lang').selectOption('en');
  await wang.getByRole('heading', { name: 'Plugins you can open' }).waitFor();
  await shot(wang, 'access-member-catalogue-en');
  await wang.locator('#lang').selectOption('zh');
  await admin.locator('#lang').selectOption('en');
  await admin.getByRole('heading', { name: 'Requests waiting' }).waitFor();
  await admin.locator('#lang').selectOption('zh');
  assert.deepEqual(wang.pageErrors, []);
  assert.deepEqual(admin.pageErrors, []);
  await wang.context().close();
  await admin.context().close();
});

test('the upgrade review: a widening version waits with its diff, is declined, then approved, in zh and en', async () => {
  await publishAndInstall(offered('review-notes', '评审笔记'), COMPONENT, 'wang.fang', ['user.id', 'user.name']);
  const wider = offered('review-notes', '评审笔记').replace('version = "0.1.0"', 'version = "0.2.0"').replace('Sign your notes.', 'Sign your notes and show them to your team.')
    + '\n[[scopes]]\nscope = "user.nickname"\npurpose = "Greet you."\n';
  await publish(wider, COMPONENT);
  const page = await newPage();
  await signIn(page, 'admin');
  await page.goto(`${BASE}/#/admin/installed`);
  await adminReady(page, 'installed');
  const card = page.getByTestId('pending-review-notes');
  await card.getByText('扩大了权限').waitFor();
  assert.match(await card.getByTestId('up-added-scopes').innerText(), /user\.nickname/);
  assert.match(await card.getByTestId('up-purpose').innerText(), /Sign your notes and show them to your team\./);
  assert.match(await card.innerText(), /0\.1\.0 → 0\.2\.0/);
  await shot(page, 'access-upgrade-review-zh');
  await page.locator('#lang').selectOption('en');
  await page.getByTestId('pending-review-notes').getByText('Widens', { exact: true }).waitFor();
  await page.locator('#lang').selectOption('zh');

  // Declined with a reason: 0.1.0 keeps serving her.
  await page.getByTestId('pending-review-notes').getByTestId('decline-upgrade-review-notes').click();
  const dialog = page.getByRole('dialog');
  await dialog.getByTestId('upgrade-decline-reason').fill('暂不需要昵称');
  await dialog.getByTestId('upgrade-decline-send').click();
  await page.getByTestId('pending-review-notes').getByText('已拒绝').waitFor();
  const wang = await readToken('wang.fang');
  const consent = await api(wang, 'PUT', '/me/plugins/review-notes/consent', { scopes: ['user.id', 'user.name'] });
  assert.equal(consent.status, 200, consent.text);
  assert.equal((await api(wang, 'POST', '/me/plugins/review-notes/invoke', { path: '/' })).status, 200);

  // Approved after all: 0.2.0 runs, and she is asked again for what changed.
  await page.getByTestId('pending-review-notes').getByTestId('approve-upgrade-review-notes').click();
  await page.getByTestId('installed-status').filter({ hasText: '已批准' }).waitFor();
  await page.getByTestId('pending-review-notes').waitFor({ state: 'detached' });
  const asked = await api(wang, 'POST', '/me/plugins/review-notes/invoke', { path: '/' });
  assert.equal(asked.status, 403, asked.text);
  assert.equal(asked.body.error, 'consent_required');
  // The auto-apply switch is the tenant's, off by default.
  assert.equal(await page.getByTestId('auto-apply').isChecked(), false);
  assert.deepEqual(page.pageErrors, []);
  await page.context().close();
});
