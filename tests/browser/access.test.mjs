// Who sees what: each administrative job sees only its own part of 应用管理
// (the auditor the audit log, no install buttons), and a member signs out
// everywhere from 我的数据, which ends every other tab's sign-in too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BASE, newPage, shot, signIn, readToken, apiGet, adminReady } from './support.mjs';

const TABS = ['catalogue', 'installed', 'members', 'audit', 'retention'];

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
