// Benchmark (not a test): what the plugin frame costs. Against a demo server
// (`WORKBENCH_URL`), as li.na, alternating where it can:
//   open   — a click on 工程日报's tile until its first page is in the frame
//            (the frame's height set from the page's report of it), the plugin
//            closed again between rounds;
//   bridge — a click on the plugin's own 提交 in the frame until the new
//            document is built in the frame (POST → 303 → GET → render);
//   plain  — the same two invocations made with fetch from the page;
//   script — `await workbench.invoke({path: '/echo'})` timed by a plugin page's
//            own script (tests/guests/hostile-page `/bench`, published here as
//            acme with WORKBENCH_HOSTILE_PAGE), one call at a time;
//   fetch  — the same invocation with fetch from the page.
// Prints the median and p90 of each over ROUNDS (default 50) and the differences.
//
//   WORKBENCH_URL=http://127.0.0.1:PORT WORKBENCH_HOSTILE_PAGE=target/wasm/wasm32-wasip2/release/hostile_page.wasm \
//     node bench-bridge.mjs [ROUNDS]
//
// With WORKBENCH_URL_BEFORE (a second server, an earlier build) it compares
// instead: opening and the form, against both servers round by round, each
// round in the other order than the one before (so neither always goes
// first), and prints each one's median and the median of the per-round
// ratios (WORKBENCH_URL's time over WORKBENCH_URL_BEFORE's).
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE = (process.env.WORKBENCH_URL || '').replace(/\/+$/, '');
if (!BASE) throw new Error('WORKBENCH_URL is required');
const BEFORE = (process.env.WORKBENCH_URL_BEFORE || '').replace(/\/+$/, '');
const HOSTILE = process.env.WORKBENCH_HOSTILE_PAGE;
if (!HOSTILE) throw new Error('WORKBENCH_HOSTILE_PAGE is required: the built tests/guests/hostile-page component');
const ROUNDS = Number(process.argv[2] || 50);
const FRAME = 'iframe[data-testid="plugin-frame"]';

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
const fmt = (x) => x.toFixed(2);

async function token(member, base = BASE) {
  const res = await fetch(`${base}/api/v1/demo/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ member }) });
  return (await res.json()).token;
}
async function api(who, method, p, body, base = BASE) {
  const init = { method, headers: { authorization: `Bearer ${await token(who, base)}` } };
  if (body instanceof FormData) init.body = body;
  else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers['content-type'] = 'application/json';
  }
  const res = await fetch(`${base}/api/v1${p}`, init);
  // Published already (a second run against the same server): as good.
  if (res.status >= 300 && res.status !== 409) throw new Error(`${method} ${p}: ${res.status} ${await res.text()}`);
}

// Set-up: the page whose script times its own calls, for li.na, consented.
async function setUp(base) {
  const form = new FormData();
  form.append('manifest', `id = "bench-page"\nname = "基准页面"\nversion = "0.1.0"\ndescription = "Times script calls."\n\n[developer]\nname = "Acme"\ncontact = "plugins@acme.example"\n\n[[scopes]]\nscope = "user.id"\npurpose = "Tell callers apart."\nrequired = true\n`);
  form.append('component', new Blob([fs.readFileSync(HOSTILE)], { type: 'application/wasm' }), path.basename(HOSTILE));
  await api('acme', 'POST', '/plugins', form, base);
  await api('admin', 'PUT', '/workbench/plugins/bench-page', { version: '0.1.0', granted_scopes: ['user.id'], visible_to: ['li.na'] }, base);
  await api('li.na', 'PUT', '/me/plugins/bench-page/consent', { scopes: ['user.id'] }, base);
  await api('li.na', 'PUT', '/me/plugins/site-daily-report/consent', { scopes: ['user.id', 'user.name'] }, base).catch(() => {});
}
await setUp(BASE);
if (BEFORE) await setUp(BEFORE);

// One opening: the tile's click to the first page's height in the frame (ms).
async function openOnce(page, close) {
  await page.evaluate(() => {
    window.__open = null;
    // The next click is the tile's.
    document.addEventListener('click', () => {
      const t0 = performance.now();
      const watch = new MutationObserver(() => {
        const frame = document.querySelector('iframe[data-testid="plugin-frame"]');
        if (frame && frame.style.height) {
          window.__open = performance.now() - t0;
          watch.disconnect();
        }
      });
      watch.observe(document.body, { subtree: true, attributes: true, attributeFilter: ['style'] });
    }, { capture: true, once: true });
  });
  await page.getByRole('button', { name: '打开 工程日报' }).click();
  await page.waitForFunction(() => window.__open !== null, null, { polling: 100 });
  const took = await page.evaluate(() => window.__open);
  await page.frameLocator(FRAME).locator('h1').waitFor();
  if (close) await page.getByRole('button', { name: '关闭应用' }).click();
  return took;
}

// One form: a click on the plugin's own 提交 in the frame to the new document built (ms).
async function formOnce(page, i) {
  const frame = await (await page.locator(FRAME).elementHandle()).contentFrame();
  const locator = page.frameLocator(FRAME);
  await frame.evaluate(() => {
    window.__t0 = null;
    window.__t1 = null;
    document.body.dataset.old = '1';
    window.addEventListener('click', () => { window.__t0 = performance.now(); }, { capture: true, once: true });
    new MutationObserver((_, observer) => {
      if (document.body && !document.body.dataset.old && document.querySelector('article.report')) {
        window.__t1 = performance.now();
        observer.disconnect();
      }
    }).observe(document, { childList: true, subtree: true });
  });
  await locator.locator('textarea').fill(`基准 ${i}`);
  await locator.getByRole('button', { name: /提交|保存修改/ }).click();
  // Polled slowly: the times are taken inside the page, the harness only waits.
  await frame.waitForFunction(() => window.__t1 !== null && window.__t0 !== null, null, { polling: 100 });
  return frame.evaluate(() => window.__t1 - window.__t0);
}

async function signedIn(browser, base) {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' })).newPage();
  await page.goto(`${base}/`);
  await page.getByRole('button', { name: /\bli\.na ·/ }).click();
  return page;
}

if (BEFORE) {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const pages = { after: await signedIn(browser, BASE), before: await signedIn(browser, BEFORE) };
    const times = { open: { after: [], before: [] }, form: { after: [], before: [] } };
    const ratios = { open: [], form: [] };
    for (const [what, run] of [['open', (p, i, last) => openOnce(p, !last)], ['form', (p, i) => formOnce(p, i)]]) {
      for (let i = 0; i < ROUNDS + 5; i += 1) {
        const order = i % 2 ? ['before', 'after'] : ['after', 'before'];
        const took = {};
        for (const which of order) took[which] = await run(pages[which], i, i === ROUNDS + 4);
        if (i >= 5) {
          times[what].after.push(took.after);
          times[what].before.push(took.before);
          ratios[what].push(took.after / took.before);
        }
      }
    }
    console.log(`rounds ${ROUNDS} (after 5 warm-up), each round in turn after-first and before-first`);
    for (const what of ['open', 'form']) {
      const [a, b] = [times[what].after, times[what].before];
      console.log(`${what}: after median ${fmt(quantile(a, 0.5))} ms (p90 ${fmt(quantile(a, 0.9))}), before median ${fmt(quantile(b, 0.5))} ms (p90 ${fmt(quantile(b, 0.9))}); per-round after/before: median ${fmt(quantile(ratios[what], 0.5))}x, p10 ${fmt(quantile(ratios[what], 0.1))}x, p90 ${fmt(quantile(ratios[what], 0.9))}x`);
    }
  } finally {
    await browser.close();
  }
  process.exit(0);
}

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const page = await signedIn(browser, BASE);
  const locator = page.frameLocator(FRAME);

  // Opening: the tile's click to the first page's height in the frame.
  const open = [];
  for (let i = 0; i < ROUNDS + 5; i += 1) {
    const took = await openOnce(page, i < ROUNDS + 4);
    if (i >= 5) open.push(took);
  }

  const bridge = [];
  const plain = [];
  for (let i = 0; i < ROUNDS + 5; i += 1) {
    // Through the bridge: the click's time in the frame to the new document built.
    const took = await formOnce(page, i);

    // Plain: the same two invocations from the page, no frame.
    const direct = await page.evaluate(async (n) => {
      const { token: bearer } = JSON.parse(sessionStorage.getItem('workbench.session'));
      const call = (body) => fetch('/api/v1/me/plugins/site-daily-report/invoke', {
        method: 'POST', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
      }).then((r) => r.json());
      const t0 = performance.now();
      const posted = await call({ method: 'POST', path: '/', body: `text=${encodeURIComponent(`直接 ${n}`)}`, headers: [['content-type', 'application/x-www-form-urlencoded'], ['accept', 'text/html']] });
      const location = posted.headers.find(([k]) => k === 'location')[1];
      const [p, query] = location.split('?');
      const shown = await call({ method: 'GET', path: p, query, headers: [['accept', 'text/html']] });
      if (!shown.body.includes('article')) throw new Error('unexpected page');
      return performance.now() - t0;
    }, i);
    if (i >= 5) {
      bridge.push(took);
      plain.push(direct);
    }
  }

  // A script's call, timed by the page's own script, against the same call from the page.
  await page.evaluate((hash) => { window.location.hash = hash; }, `#/workbench/bench-page/${encodeURIComponent(`/bench?n=${ROUNDS + 5}`)}`);
  await locator.locator('#times[data-done="1"]').waitFor({ timeout: (ROUNDS + 5) * 1000 + 30000 });
  const script = JSON.parse(await locator.locator('#times').innerText()).slice(5);
  const direct = [];
  for (let i = 0; i < ROUNDS + 5; i += 1) {
    const viaFetch = await page.evaluate(async () => {
      const { token: bearer } = JSON.parse(sessionStorage.getItem('workbench.session'));
      const t0 = performance.now();
      const res = await fetch('/api/v1/me/plugins/bench-page/invoke', {
        method: 'POST', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' }, body: JSON.stringify({ path: '/echo' }),
      });
      await res.json();
      return performance.now() - t0;
    });
    if (i >= 5) direct.push(viaFetch);
    await page.waitForTimeout(220);
  }

  const om = quantile(open, 0.5);
  const bm = quantile(bridge, 0.5);
  const pm = quantile(plain, 0.5);
  const sm = quantile(script, 0.5);
  const fm = quantile(direct, 0.5);
  console.log(`rounds ${ROUNDS} (after 5 warm-up)`);
  console.log(`open:   median ${fmt(om)} ms, p90 ${fmt(quantile(open, 0.9))} ms (a tile's click → its first page in the frame)`);
  console.log(`bridge: median ${fmt(bm)} ms, p90 ${fmt(quantile(bridge, 0.9))} ms (click in the frame → new document built)`);
  console.log(`plain:  median ${fmt(pm)} ms, p90 ${fmt(quantile(plain, 0.9))} ms (POST + GET invoke with fetch)`);
  console.log(`bridge adds: ${fmt(bm - pm)} ms at the median (${fmt(bm / pm)}x)`);
  console.log(`script: median ${fmt(sm)} ms, p90 ${fmt(quantile(script, 0.9))} ms (workbench.invoke timed by the page's script)`);
  console.log(`fetch:  median ${fmt(fm)} ms, p90 ${fmt(quantile(direct, 0.9))} ms (the same call from the page)`);
  console.log(`bridge adds: ${fmt(sm - fm)} ms a call at the median (${fmt(sm / fm)}x)`);
} finally {
  await browser.close();
}
