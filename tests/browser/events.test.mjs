// Events in the page: a submitted approval becomes a notification in the
// approver's inbox that opens 审批助手 at the request; a plugin that fails
// every delivery leaves a dead letter in 应用管理 with its last error (shown
// as text, whatever the plugin put in it), and the
// replay button delivers it again once the plugin works.
//
//   WORKBENCH_PLATFORM_TOKEN=… (the demo prints TOKEN_PLATFORM)
//   WORKBENCH_EVENT_PROBE=/path/to/event_probe.wasm (tests/guests/event-probe)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { REPO, newPage, shot, signIn, readToken, api, FRAME, routeInUrl, publish } from './support.mjs';

const PLATFORM = process.env.WORKBENCH_PLATFORM_TOKEN || '';
const PROBE = path.resolve(REPO, process.env.WORKBENCH_EVENT_PROBE || 'target/wasm/wasm32-wasip2/release/event_probe.wasm');

async function eventually(check, what, ms = 20000) {
  const started = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    assert.ok(Date.now() - started < ms, `waited ${ms} ms for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function sendEvents(events) {
  assert.ok(PLATFORM, 'WORKBENCH_PLATFORM_TOKEN is set');
  const sent = await api(PLATFORM, 'POST', '/events', { events });
  assert.equal(sent.status, 202, sent.text);
  return sent.body;
}

test('a submitted approval becomes a notification that opens 审批助手 at the request', async () => {
  // Set-up: Zhang Wei lets 审批助手 notify him (the rest he agreed to in the demo).
  const zhang = await readToken('zhang.wei');
  const consent = await api(zhang, 'PUT', '/me/plugins/approval-helper/consent', { scopes: ['perm.approval', 'user.nickname', 'notify'] });
  assert.equal(consent.status, 200, consent.text);
  const id = `ap-${Date.now()}`;
  const title = '现场差旅报销';
  await sendEvents([{ id, kind: 'approval.submitted', subject: 'zhang.wei',
    payload: { approval_id: id, process_id: 'expense', title, amount_cents: 120000 } }]);
  await eventually(async () => (await api(zhang, 'GET', '/me/notifications')).body.notifications
    .some((n) => n.route === `/approvals/${id}`), 'the notification');

  const page = await newPage();
  await signIn(page, 'zhang.wei');
  const bell = page.getByTestId('inbox-bell');
  await bell.waitFor();
  assert.match(await bell.getAttribute('aria-label'), /通知，[1-9]\d* 条未读/);
  await bell.click();
  const open = page.getByRole('button', { name: `待审批：${title}` });
  await open.waitFor();
  await shot(page, 'events-inbox');
  await open.click();
  const frame = page.frameLocator(FRAME);
  await frame.getByRole('heading', { level: 1, name: `待审批：${title}` }).waitFor();
  assert.deepEqual(routeInUrl(page), { plugin: 'approval-helper', route: `/approvals/${id}` });
  await frame.getByText('金额：').first().waitFor();
  await shot(page, 'events-opened-at-the-approval');
  // Opening it read it: the bell counts one fewer.
  const left = await api(zhang, 'GET', '/me/notifications');
  assert.ok(left.body.notifications.find((n) => n.route === `/approvals/${id}`).read_at_ms, 'marked read on opening');
  assert.deepEqual(page.pageErrors, []);
  await page.context().close();
});

test('a dead letter shows in 应用管理 with its error, and the replay delivers it', async () => {
  // Set-up, as acme and the admin: a plugin that fails every event it is told of.
  const manifest = `id = "event-probe"
name = "事件探针"
version = "1.0.0"
description = "Keeps what each event saw."

[developer]
name = "Acme 软件有限公司"
contact = "plugins@acme.example"

[[scopes]]
scope = "storage"
purpose = "keep what each event saw"
required = true

[[scopes]]
scope = "user.name"
purpose = "greet the person an event is about"

[[scopes]]
scope = "notify"
purpose = "tell the person"

[[events]]
kind = "member.joined"
purpose = "welcome a new colleague"

[[config]]
key = "mode"
description = "ok or fail"
default = "ok"

[[config]]
key = "error"
description = "added to the failure's message"
default = ""
`;
  const { version } = await publish(manifest, PROBE);
  const admin = await readToken('admin');
  // The plugin's error is the plugin's text: the page must show it as text.
  const hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
  const install = (mode) => api(admin, 'PUT', '/workbench/plugins/event-probe', { version, granted_scopes: ['storage'], config: { mode, error: hostile } });
  assert.equal((await install('fail')).status, 200);
  const id = `joined-${Date.now()}`;
  await sendEvents([{ id, kind: 'member.joined', subject: 'wang.fang', payload: {} }]);
  const dead = await eventually(async () => (await api(admin, 'GET', '/workbench/deliveries?state=dead')).body
    .find((d) => d.event_id === id), 'the dead letter');

  const page = await newPage();
  await signIn(page, 'admin');
  await page.goto(`${page.url().split('#')[0]}#/admin/deliveries`);
  await page.getByTestId('deliveries-table').waitFor();
  await page.getByTestId('deliveries-filter').selectOption('dead');
  const row = page.getByTestId(`delivery-${dead.id}`);
  await row.waitFor();
  assert.equal(await row.getAttribute('data-state'), 'dead');
  const detail = row.getByTestId('delivery-detail');
  const text = await detail.innerText();
  assert.ok(text.includes('told to fail') && text.includes(hostile), `the error, as text: ${text}`);
  assert.equal(await row.locator('img, script').count(), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  await shot(page, 'events-dead-letter');

  // Fixed, then replayed from the page: delivered under the same id.
  assert.equal((await install('ok')).status, 200);
  await row.getByRole('button', { name: `重放 event-probe 的事件 ${id}` }).click();
  await page.getByTestId('deliveries-status').getByText(`已重放 event-probe 的事件 ${id}。`).waitFor();
  await eventually(async () => (await api(admin, 'GET', '/workbench/deliveries')).body
    .some((d) => d.id === dead.id && d.state === 'done'), 'the replayed delivery');
  await page.getByTestId('deliveries-filter').selectOption('');
  const done = page.locator(`[data-testid="delivery-${dead.id}"][data-state="done"]`);
  await done.waitFor();
  await shot(page, 'events-replayed');
  const replays = await api(admin, 'GET', '/audit?action=event.replay');
  assert.ok(replays.body.records.some((r) => JSON.stringify(r).includes(dead.id)), replays.text);
  assert.deepEqual(page.pageErrors, []);
  await page.context().close();
});
