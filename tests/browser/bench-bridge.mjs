// Benchmark (not a test): what the frame bridge adds to a form submission.
// Against a demo server (`WORKBENCH_URL`), as li.na in 工程日报, alternating:
//   bridge — a click on the plugin's own 提交 in the frame until the new
//            document is built in the frame (POST → 303 → GET → render);
//   plain  — the same two invocations made with fetch from the page;
//   scripted — the same form submitted by the page's own script after one click
//            (no harness between submission and document);
// and, without input or rendering, a script's call:
//   invoke — `await workbench.invoke({path: '/report.json'})` in the frame;
//   fetch  — the same invocation with fetch from the page.
// Prints the median and p90 of each over ROUNDS (default 50) and the differences.
//
//   WORKBENCH_URL=http://127.0.0.1:PORT node bench-bridge.mjs [ROUNDS]
import { chromium } from 'playwright-core';

const BASE = (process.env.WORKBENCH_URL || '').replace(/\/+$/, '');
if (!BASE) throw new Error('WORKBENCH_URL is required');
const ROUNDS = Number(process.argv[2] || 50);
const FRAME = 'iframe[data-testid="plugin-frame"]';

const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'zh-CN' })).newPage();
  await page.goto(`${BASE}/`);
  await page.getByRole('button', { name: /\bli\.na ·/ }).click();
  await page.getByRole('button', { name: '打开 工程日报' }).click();
  const dialog = page.getByRole('dialog');
  const locator = page.frameLocator(FRAME);
  await Promise.race([dialog.waitFor().catch(() => {}), locator.locator('h1').waitFor().catch(() => {})]);
  if (await dialog.isVisible()) await dialog.getByRole('button', { name: '同意并打开' }).click();
  await locator.locator('h1').waitFor();
  const frame = await (await page.locator(FRAME).elementHandle()).contentFrame();

  const bridge = [];
  const plain = [];
  for (let i = 0; i < ROUNDS + 5; i += 1) {
    // Through the bridge: the click's time in the frame to the new document built.
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
    const took = await frame.evaluate(() => window.__t1 - window.__t0);

    // Plain: the same two invocations from the page, no frame.
    const direct = await page.evaluate(async (n) => {
      const { token } = JSON.parse(sessionStorage.getItem('workbench.session'));
      const call = (body) => fetch('/api/v1/me/plugins/site-daily-report/invoke', {
        method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
      }).then((r) => r.json());
      const t0 = performance.now();
      const posted = await call({ method: 'POST', path: '/', body: `text=${encodeURIComponent(`直接 ${n}`)}`, headers: [['content-type', 'application/x-www-form-urlencoded'], ['accept', 'text/html']] });
      const location = posted.headers.find(([k]) => k === 'location')[1];
      const [path, query] = location.split('?');
      const shown = await call({ method: 'GET', path, query, headers: [['accept', 'text/html']] });
      if (!shown.body.includes('article')) throw new Error('unexpected page');
      return performance.now() - t0;
    }, i);
    if (i >= 5) {
      bridge.push(took);
      plain.push(direct);
    }
  }
  // The form again with no harness in the timed path: one click in the frame
  // (focus and the browser's user activation, which lasts a few seconds), then
  // the page's own script submits the form BATCH times in a row.
  const BATCH = 10;
  const scripted = [];
  while (scripted.length < ROUNDS) {
    await locator.locator('textarea').click();
    await frame.evaluate((n) => {
      window.__times = null;
      (async () => {
        const times = [];
        for (let i = 0; i < n; i += 1) {
          const form = document.querySelector('form');
          form.querySelector('textarea').value = `脚本 ${i}`;
          document.body.dataset.old = '1';
          const built = new Promise((resolve) => {
            const observer = new MutationObserver(() => {
              if (document.body && !document.body.dataset.old && document.querySelector('article.report')) {
                observer.disconnect();
                resolve(performance.now());
              }
            });
            observer.observe(document, { childList: true, subtree: true });
          });
          const t0 = performance.now();
          form.requestSubmit();
          const t1 = await Promise.race([built, new Promise((r) => { setTimeout(() => r(null), 3000); })]);
          if (t1 === null) break;
          times.push(t1 - t0);
        }
        window.__times = times;
      })();
    }, BATCH);
    await frame.waitForFunction(() => Array.isArray(window.__times), null, { polling: 100, timeout: 60000 });
    const times = await frame.evaluate(() => window.__times);
    if (times.length < BATCH) throw new Error(`a scripted submission was not shown (${times.length} of ${BATCH})`);
    scripted.push(...times);
    await page.waitForTimeout(2200); // the bridge's bucket refills at 5 a second
  }

  // A script's call through the bridge against the same call from the page (paced
  // under the bridge's rate: the bucket refills at 5 a second).
  const invoke = [];
  const direct = [];
  for (let i = 0; i < ROUNDS + 5; i += 1) {
    const viaBridge = await frame.evaluate(async () => {
      const t0 = performance.now();
      await workbench.invoke({ path: '/report.json' });
      return performance.now() - t0;
    });
    const viaFetch = await page.evaluate(async () => {
      const { token } = JSON.parse(sessionStorage.getItem('workbench.session'));
      const t0 = performance.now();
      const res = await fetch('/api/v1/me/plugins/site-daily-report/invoke', {
        method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ path: '/report.json' }),
      });
      await res.json();
      return performance.now() - t0;
    });
    if (i >= 5) {
      invoke.push(viaBridge);
      direct.push(viaFetch);
    }
    await page.waitForTimeout(220);
  }
  const fmt = (x) => x.toFixed(2);
  const bm = quantile(bridge, 0.5);
  const pm = quantile(plain, 0.5);
  console.log(`rounds ${ROUNDS} (after 5 warm-up)`);
  console.log(`bridge: median ${fmt(bm)} ms, p90 ${fmt(quantile(bridge, 0.9))} ms (click in the frame → new document built)`);
  console.log(`plain:  median ${fmt(pm)} ms, p90 ${fmt(quantile(plain, 0.9))} ms (POST + GET invoke with fetch)`);
  console.log(`bridge adds: ${fmt(bm - pm)} ms at the median (${fmt(bm / pm)}x)`);
  const sm = quantile(scripted, 0.5);
  console.log(`scripted: median ${fmt(sm)} ms, p90 ${fmt(quantile(scripted, 0.9))} ms (requestSubmit() by the page's script → new document built)`);
  console.log(`bridge adds: ${fmt(sm - pm)} ms at the median (${fmt(sm / pm)}x) against plain`);
  const im = quantile(invoke, 0.5);
  const fm = quantile(direct, 0.5);
  console.log(`invoke: median ${fmt(im)} ms, p90 ${fmt(quantile(invoke, 0.9))} ms (workbench.invoke in the frame)`);
  console.log(`fetch:  median ${fmt(fm)} ms, p90 ${fmt(quantile(direct, 0.9))} ms (the same call from the page)`);
  console.log(`bridge adds: ${fmt(im - fm)} ms a call at the median (${fmt(im / fm)}x)`);
} finally {
  await browser.close();
}
