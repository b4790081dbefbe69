// Hostile plugin pages (tests/guests/hostile-page) against the frame: no way
// out of the browser (every request, name lookup and UDP packet that leaves
// for anywhere but loopback is heard by support.mjs's watch), and no way to
// pass for the workbench (focus, scrolling, the header, notices, consent
// dialogs, history, a hung or flooding script).
//
//   WORKBENCH_HOSTILE_PAGE=/path/to/hostile_page.wasm (tests/guests/hostile-page)
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import {
  BASE, REPO, newPage, shot, signIn, readToken, waitForText, FRAME, api, openPlugin, frameDocument, auditSince, lastSeq,
  publishAndInstall, outside, contactsSince,
} from './support.mjs';

const HOSTILE = path.resolve(REPO, process.env.WORKBENCH_HOSTILE_PAGE || 'target/wasm/wasm32-wasip2/release/hostile_page.wasm');
const NAME = '恶意页面';

before(async () => {
  // Set-up, as acme and the admin: the hostile page, installed for li.na only; she agrees.
  const manifest = `id = "hostile-page"
name = "${NAME}"
version = "0.1.0"
description = "Pages that try to get out of the frame, and to pass for the workbench."

[developer]
name = "Acme 软件有限公司"
contact = "plugins@acme.example"

[[scopes]]
scope = "user.id"
purpose = "Tell callers apart."
required = true
`;
  await publishAndInstall(manifest, HOSTILE, 'li.na', ['user.id']);
  await consent(true);
});

async function consent(given) {
  const lina = await readToken('li.na');
  const r = given
    ? await api(lina, 'PUT', '/me/plugins/hostile-page/consent', { scopes: ['user.id'] })
    : await api(lina, 'DELETE', '/me/plugins/hostile-page/consent');
  assert.ok(r.status === 200 || r.status === 204, r.text);
}

// Signs li.na in and shows the hostile page at `route`.
async function openAt(route, viewport) {
  const page = await newPage(viewport);
  await signIn(page, 'li.na');
  const frame = await openPlugin(page, NAME);
  await frame.locator('h1').first().waitFor();
  if (route !== '/') {
    await page.evaluate((hash) => { window.location.hash = hash; }, `#/workbench/hostile-page/${encodeURIComponent(route)}`);
  }
  return { page, frame };
}

const notice = (page) => page.getByTestId('bridge-notice');
// Does `action`, then waits until the notice under the frame reports a refusal of kind `code`.
async function refused(page, code, action) {
  await page.evaluate(() => { delete document.querySelector('[data-testid="bridge-notice"]').dataset.lastCode; });
  await action();
  await page.waitForFunction((c) => document.querySelector('[data-testid="bridge-notice"]').dataset.lastCode === c, code);
}

test('a hostile page\'s script runs where it reaches nothing: no window, no network, no WebRTC, no other plugin', async () => {
  const since = await lastSeq();
  const t0 = Date.now();
  const { page, frame } = await openAt(`/?udp=${outside.udpPort}`);
  const popups = [];
  page.context().on('page', (p) => popups.push(p.url()));
  const before = await page.evaluate(() => ({ title: document.title, session: sessionStorage.length, who: document.querySelector('[data-testid="who-name"]').textContent }));
  const report = frame.locator('#report[data-done="attack"]');
  await report.waitFor();
  const r = JSON.parse(await report.innerText());
  await shot(page, 'wayout-01-script');

  // The script has no window: nothing of the page, the opener, storage, focus or history.
  for (const key of ['window', 'parent', 'top', 'opener', 'local_storage', 'cookie', 'indexed_db', 'open', 'top_navigation', 'focus', 'history', 'eval', 'import', 'beacon', 'image']) {
    assert.equal(r[key], 'blocked', `${key}: ${JSON.stringify(r[key])}`);
  }
  // No network and no WebRTC.
  assert.equal(r.webrtc, 'blocked', 'no RTCPeerConnection where page scripts run');
  for (const key of ['fetch', 'fetch_api', 'websocket', 'event_source', 'nested_worker']) assert.equal(r[key], 'blocked', `${key}: ${JSON.stringify(r[key])}`);
  // Through the bridge, only this plugin, only within the limits.
  assert.equal(r.admin_route, 'echo:/api/v1/admin/members', 'an "admin route" is only a path inside this plugin');
  assert.equal(r.headers, 'x-plugin-note', 'Authorization and Cookie set by a script never reach the plugin');
  assert.equal(r.huge, 'refused:too_large');
  assert.ok(r.flood.answered >= 1 && r.flood.answered <= 25, `flood answered: ${r.flood.answered}`);
  assert.equal(r.flood.answered + r.flood.rate_limited, 100, JSON.stringify(r.flood));
  // A `set` with markup sent straight to the shell is cleaned: its text stays, its handler, script and image URL do not.
  const scratch = await (await frameDocument(page)).evaluate(() => {
    const el = document.getElementById('scratch');
    return { text: el.textContent, dropped: ['script', '[onerror]', '[src]'].filter((q) => el.querySelector(q)) };
  });
  assert.deepEqual(scratch, { text: 'scratch', dropped: [] });

  // With a click (a user activation): no more.
  await frame.getByRole('button', { name: 'Attack with a click' }).click();
  await frame.locator('#report[data-clicked="1"]').waitFor();
  const clicked = JSON.parse(await frame.locator('#report').innerText());
  assert.equal(clicked.open_with_click, 'blocked');
  assert.equal(clicked.top_navigation_with_click, 'blocked');

  // A link and a form to another origin are not followed, and the notice names neither.
  await refused(page, 'leave', () => frame.getByRole('link', { name: 'A link out' }).click());
  await refused(page, 'leave', () => frame.getByRole('button', { name: 'Send elsewhere' }).click());
  const said = await notice(page).innerText();
  assert.match(said, /链接指向工作台之外/);
  assert.ok(!/leak|http|steal/.test(said), `the notice says only the workbench's words: ${said}`);
  await shot(page, 'wayout-02-refusals');

  // The workbench page is as it was; no window opened; nothing reached anywhere.
  assert.ok(page.url().startsWith(`${BASE}/#/workbench/hostile-page/`), page.url());
  assert.deepEqual(await page.evaluate(() => ({ title: document.title, session: sessionStorage.length, who: document.querySelector('[data-testid="who-name"]').textContent })), before);
  assert.deepEqual(popups, []);
  await page.waitForTimeout(1500); // STUN and TURN would have gone by now
  assert.deepEqual(contactsSince(t0), [], 'nothing left the browser');

  // The audit log: only this plugin ran for her, once per answered call.
  const records = await auditSince(since, 'subject=li.na');
  assert.deepEqual([...new Set(records.map((x) => x.actor))], ['plugin:hostile-page@0.1.0']);
  const reads = records.filter((x) => x.action === 'read' && x.outcome === 'allowed');
  // Opening it twice (the tile, then the route), the "admin route", the headers call, the flood's answered calls.
  assert.equal(reads.length, 2 + 2 + r.flood.answered, 'one read per invocation the page was answered');

  // A multipart form with a file: over 512 KB it is refused; within it, it reaches the plugin whole.
  const upload = frame.locator('#upload');
  await frame.getByLabel('A file').setInputFiles({ name: 'big.bin', mimeType: 'application/octet-stream', buffer: Buffer.alloc(600 * 1024, 7) });
  await refused(page, 'too_large', () => upload.getByRole('button', { name: 'Upload' }).click());
  await waitForText(notice(page), '应用页面一次最多发送 512 KB');
  const photo = Buffer.from('\u0089PNG fake photo bytes '.repeat(100));
  await frame.getByLabel('A file').setInputFiles({ name: '现场.png', mimeType: 'image/png', buffer: photo });
  await upload.getByRole('button', { name: 'Upload' }).click();
  await waitForText(frame.locator('pre'), '"path": "/upload"');
  const echo = JSON.parse(await frame.locator('pre').innerText());
  assert.match(echo.headers.find(([k]) => k === 'content-type')[1], /^multipart\/form-data; boundary=/);
  assert.deepEqual(echo.headers.map(([k]) => k).sort(), ['accept', 'content-type']);
  assert.ok(echo.body_bytes > photo.length && echo.body_bytes < photo.length + 1024, `multipart body of ${echo.body_bytes} bytes`);
  assert.deepEqual(page.pageErrors, []);
});

test('markup alone reaches nothing: no request, no name looked up, no connection, no focus taken', async () => {
  const t0 = Date.now();
  const seq = await lastSeq();
  const { page, frame } = await openAt('/leak');
  await frame.locator('#done').waitFor();
  const doc = await frameDocument(page);
  // Nothing was kept that could fetch, frame, refresh or take focus.
  const kept = await doc.evaluate(() => ({
    dropped: ['iframe', 'object', 'embed', 'link', 'base', 'meta[http-equiv]', 'script', 'set', '[autofocus]', '[onclick]', '[ping]', '[src]', '[srcset]', '[poster]']
      .filter((s) => document.querySelector(s)).join(','),
    // No link, image or form keeps a URL elsewhere.
    outside: [...document.querySelectorAll('*')].flatMap((el) => [...el.attributes])
      .filter((a) => !a.name.startsWith('data-') && /href$|^src$|^action$/i.test(a.name) && /leak/.test(a.value)).map((a) => a.name),
    url: location.href,
    active: document.activeElement ? document.activeElement.localName : null,
  }));
  assert.equal(kept.dropped, '', `still in the document: ${kept.dropped}`);
  assert.deepEqual(kept.outside, [], 'no URL elsewhere left where the browser would act on it');
  assert.equal(kept.active, 'body', 'the autofocused field did not take focus');
  assert.equal(await page.evaluate(() => document.activeElement.localName === 'iframe'), false, 'the frame took no focus');

  // The member points at and clicks everything that leads out.
  await frame.getByRole('link', { name: 'Out by a link' }).hover();
  await refused(page, 'leave', () => frame.getByRole('link', { name: 'Out by a link' }).click());
  await refused(page, 'leave', () => frame.getByText('Out by an SVG link').click());
  await refused(page, 'leave', () => frame.getByText('Out by an old SVG link').click());
  await refused(page, 'leave', () => frame.getByRole('button', { name: 'Send out' }).click());
  await frame.getByRole('button', { name: 'A handler' }).click();
  await page.waitForTimeout(2500); // the refresh was due after 1 s
  assert.equal(await doc.evaluate(() => location.href), kept.url, 'the frame was never navigated');
  assert.deepEqual(contactsSince(t0), [], 'nothing left the browser: no prefetch, preconnect, frame, image or navigation');
  assert.ok(!/leak/.test(await notice(page).innerText()));
  // The images it names were asked of the host (at most 16 of its 25), which
  // hands a page only the member's consented avatar: each was refused, and
  // recorded; none was shown.
  const asked = await auditSince(seq, 'action=page.avatar');
  assert.equal(asked.length, 16, JSON.stringify(asked));
  assert.ok(asked.every((r) => r.outcome === 'denied' && r.reason === 'not_declared' && r.subject === 'li.na'), JSON.stringify(asked));
  assert.equal(await doc.evaluate(() => document.querySelectorAll('img[src]').length), 0);
  await shot(page, 'wayout-03-markup');
  // A relative link still works.
  await frame.getByRole('link', { name: 'Inside by a link' }).click();
  await waitForText(frame.locator('pre'), '"path": "/inside"');
  assert.deepEqual(page.pageErrors, []);
});

test('a page that opened the workbench keeps no handle on it', async () => {
  // Another origin opens the workbench in a window, and listens.
  const opener = http.createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><meta charset="utf-8"><title>elsewhere</title><button id="go">Open the workbench</button>
<script>window.heard = []; addEventListener('message', (e) => heard.push(String(e.data && JSON.stringify(e.data)).slice(0, 200)));
document.getElementById('go').onclick = () => { window.w = window.open(${JSON.stringify(`${BASE}/`)}, 'wb'); };</script>`);
  });
  await new Promise((resolve) => opener.listen(0, 'localhost', resolve));
  try {
    const page = await newPage();
    await page.goto(`http://localhost:${opener.address().port}/`);
    const [popup] = await Promise.all([page.context().waitForEvent('page'), page.click('#go')]);
    await popup.waitForLoadState();
    assert.equal(await popup.evaluate(() => window.opener), null, 'the workbench has no opener');
    await page.waitForFunction(() => window.w && window.w.closed, null, { timeout: 5000 }).catch(() => {});
    assert.equal(await page.evaluate(() => Boolean(window.w && !window.w.closed)), false, 'the opener holds no live handle');
    // Signed in there, the hostile page's attempt at top.opener goes nowhere.
    await signIn(popup, 'li.na');
    const frame = await openPlugin(popup, NAME);
    await frame.locator('#report[data-done="1"]').waitFor();
    assert.equal(JSON.parse(await frame.locator('#report').innerText()).opener, 'blocked');
    assert.deepEqual(await page.evaluate(() => window.heard), []);
  } finally {
    opener.close();
  }
});

test('a page cannot pass for the workbench: focus, scrolling and the header stay the workbench\'s', async () => {
  const { page, frame } = await openAt('/', { width: 1280, height: 800 });
  await frame.locator('#report[data-done="1"]').waitFor();
  // The member follows the page's link, then types into the workbench's own
  // field while the next page loads and tries its tricks.
  await page.getByText('直接调用（开发者）').click();
  await frame.getByRole('link', { name: 'Impersonate' }).click();
  await page.getByTestId('route-path').fill('');
  await page.keyboard.type('/typed-by-the-member', { delay: 20 });
  await frame.locator('#fake-bar[data-tried="1"]').waitFor();
  const scrolled = await page.evaluate(() => window.scrollY);
  await page.waitForTimeout(1000);
  assert.equal(await page.getByTestId('route-path').inputValue(), '/typed-by-the-member', 'the keys went to the workbench');
  assert.equal(await frame.locator('#phone').inputValue(), '', 'none reached the fake form');
  assert.equal(await page.evaluate(() => window.scrollY), scrolled, 'the page did not scroll the workbench');

  // The member scrolls all the way down: the header and the app's own name stay in view above it.
  await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
  await page.waitForTimeout(300);
  await frame.locator('#fake-bar').scrollIntoViewIfNeeded().catch(() => {});
  const layout = await page.evaluate(() => {
    const rect = (sel) => document.querySelector(sel).getBoundingClientRect();
    const bar = rect('[data-testid="topbar"]');
    const head = rect('[data-testid="runner-head"]');
    const atHead = document.elementFromPoint(head.left + 4, head.top + head.height / 2);
    return {
      bar: { top: bar.top, bottom: bar.bottom }, head: { top: head.top, bottom: head.bottom },
      headText: document.querySelector('[data-testid="runner-head"]').innerText,
      headOnTop: Boolean(atHead && atHead.closest('[data-testid="runner-head"]')),
      barOnTop: Boolean(document.elementFromPoint(bar.left + 4, bar.top + 4)?.closest('[data-testid="topbar"]')),
    };
  });
  assert.equal(layout.bar.top, 0, `the header is at the top: ${JSON.stringify(layout)}`);
  assert.ok(Math.abs(layout.head.top - layout.bar.bottom) <= 1, `the app's name is right below it: ${JSON.stringify(layout)}`);
  assert.ok(layout.headOnTop && layout.barOnTop, 'nothing covers them');
  assert.match(layout.headText, new RegExp(`第三方应用\\s*${NAME}`));
  await shot(page, 'wayout-04-impersonate');
  assert.deepEqual(page.pageErrors, []);
});

test('one history entry per action of the member\'s; back leaves the page', async () => {
  const { page, frame } = await openAt('/history');
  await frame.getByRole('button', { name: 'Go ten times' }).waitFor();
  const before = await page.evaluate(() => window.history.length);
  await frame.getByRole('button', { name: 'Go ten times' }).click();
  await waitForText(frame.locator('pre'), '"query": "step=9"');
  assert.match(decodeURIComponent(new URL(page.url()).hash), /\/h\?step=9$/);
  assert.ok(await page.evaluate(() => window.history.length) <= before + 1, 'ten navigations from one click add at most one entry');
  await page.goBack();
  await frame.getByRole('button', { name: 'Go ten times' }).waitFor();
  assert.match(decodeURIComponent(new URL(page.url()).hash), /\/history$/);
});

test('consent is asked only on the member\'s action, once per action; the frame is inert under the dialog', async () => {
  const { page, frame } = await openAt('/consent-loop');
  await frame.getByRole('button', { name: 'Ask once' }).waitFor();
  await consent(false);
  try {
    const dialog = page.getByRole('dialog');
    // Calls every 300 ms, each needing her consent: no dialog, a notice that says what to do.
    await waitForText(frame.locator('#out'), 'refused');
    await page.waitForTimeout(2000);
    assert.equal(await dialog.count(), 0, 'no dialog opened on its own');
    assert.equal(await notice(page).getAttribute('data-last-code'), 'consent_needs_action');
    assert.match(await frame.locator('#out').innerText(), /consent_required/);

    // Her click opens it, once; the frame is inert behind it and her keys stay in it.
    await frame.getByRole('button', { name: 'Ask once' }).click();
    await dialog.waitFor();
    assert.equal(await page.locator(FRAME).evaluate((f) => f.inert), true, 'the frame is inert while the dialog is open');
    for (let i = 0; i < 6; i += 1) await page.keyboard.press('Tab');
    assert.ok(await page.evaluate(() => Boolean(document.activeElement.closest('dialog'))), 'Tab stays in the dialog');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.equal(await page.locator(FRAME).evaluate((f) => f.inert), false);
    await page.waitForTimeout(2000);
    assert.equal(await dialog.count(), 0, 'declined: not asked again without another action');
    await shot(page, 'wayout-05-consent');
  } finally {
    await consent(true);
  }
});

test('a hung or flooding script is stopped; the workbench stays responsive and the page usable', async () => {
  const { page, frame } = await openAt('/hang');
  await frame.locator('h1[data-started="1"]').waitFor();
  // The workbench's own controls answer while the script spins.
  await page.evaluate(() => {
    window.lag = 0;
    let last = performance.now();
    window.lagTimer = setInterval(() => { const now = performance.now(); window.lag = Math.max(window.lag, now - last - 50); last = now; }, 50);
  });
  await page.getByText('直接调用（开发者）').click();
  await page.getByTestId('route-path').waitFor();
  await page.waitForFunction(() => document.querySelector('[data-testid="bridge-notice"]').dataset.lastCode === 'script_hung');
  await frame.getByRole('link', { name: 'A link that still works' }).click();
  await waitForText(frame.locator('pre'), '"path": "/after-hang"');

  for (const [route, code] of [['/flood-page', 'script_flood'], ['/flood-page?huge', 'script_too_large']]) {
    await refused(page, code, () => page.evaluate((hash) => { window.location.hash = hash; }, `#/workbench/hostile-page/${encodeURIComponent(route)}`));
    await frame.getByRole('link', { name: 'A link that still works' }).click();
    await waitForText(frame.locator('pre'), '"path": "/after-flood"');
  }
  const lag = await page.evaluate(() => window.lag);
  assert.ok(lag < 1000, `the workbench page went ${Math.round(lag)} ms without running`);
  assert.match(await notice(page).innerText(), /已停止/);
  await shot(page, 'wayout-06-stopped');
  assert.deepEqual(page.pageErrors, []);
});
