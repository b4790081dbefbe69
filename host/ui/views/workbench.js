// The member's workbench: plugin tiles, the consent flow and the sandboxed plugin frame.
import { t } from '../i18n.js';
import { api, enc } from '../api.js';
import { h, alertBox, showError, showMessage, statusBox, clearBox, badge, field, busy } from '../dom.js';
import { askConsent } from './consent.js';

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

function header(result, name) {
  const found = (result.headers || []).find(([k]) => k.toLowerCase() === name);
  return found ? found[1] : '';
}

// The plugin's answer as a document for `srcdoc`: its HTML as is, anything else escaped.
function documentFor(result) {
  const type = header(result, 'content-type').toLowerCase();
  if (result.body !== null && result.body !== undefined && type.startsWith('text/html')) return result.body;
  let text;
  if (result.body !== null && result.body !== undefined) {
    text = result.body;
    if (type.includes('json')) {
      try {
        text = JSON.stringify(JSON.parse(text), null, 2);
      } catch { /* shown as sent */ }
    }
  } else if (result.body_base64) {
    text = t('runner.binary', { bytes: Math.floor((result.body_base64.length * 3) / 4) });
  } else {
    text = t('runner.emptyBody');
  }
  return `<!doctype html><meta charset="utf-8"><style>body{margin:0;padding:12px;font:14px/1.5 ui-monospace,Menlo,Consolas,monospace;color:#1f2937}pre{margin:0;white-space:pre-wrap;word-break:break-word}</style><pre>${escapeHtml(text)}</pre>`;
}

export async function renderWorkbench(main, ctx) {
  main.append(
    h('h1', { class: 'page-title', tabindex: '-1' }, t('wb.title')),
    h('p', { class: 'lead' }, t('wb.lead')),
  );
  const pageError = alertBox('workbench-error');
  const pageStatus = statusBox('workbench-status');
  const list = h('ul', { class: 'tiles', 'aria-label': t('wb.tiles'), 'data-testid': 'tiles' });
  main.append(pageStatus, pageError, list);

  // The frame where a plugin's answer is shown.
  const runnerTitle = h('h2', { id: 'runner-title', class: 'section-title', tabindex: '-1' });
  const runnerMeta = h('p', { class: 'runner-meta muted', 'data-testid': 'runner-meta' });
  const runnerError = alertBox('runner-error');
  const frame = h('iframe', { sandbox: '', class: 'plugin-frame', 'data-testid': 'plugin-frame', title: t('runner.frame'), referrerpolicy: 'no-referrer' });
  const closeButton = h('button', { type: 'button', class: 'btn btn-ghost' }, t('runner.close'));
  const pathInput = h('input', { type: 'text', value: '/', spellcheck: 'false', autocomplete: 'off', 'data-testid': 'route-path' });
  const methodSelect = h('select', { 'data-testid': 'route-method' }, ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].map((m) => h('option', { value: m }, m)));
  const bodyInput = h('textarea', { rows: '2', spellcheck: 'false', 'data-testid': 'route-body' });
  const sendButton = h('button', { type: 'submit', class: 'btn btn-primary' }, t('runner.send'));
  const routeForm = h('form', { class: 'route-form', 'aria-label': t('runner.routeForm') },
    h('div', { class: 'route-grid' },
      field(t('runner.method'), methodSelect),
      field(t('runner.path'), pathInput),
      field(t('runner.body'), bodyInput)),
    h('div', { class: 'form-actions' }, sendButton));
  const logs = h('div', { class: 'runner-logs' });
  const runner = h('section', { class: 'runner card', 'aria-labelledby': 'runner-title', hidden: true, 'data-testid': 'runner' },
    h('div', { class: 'runner-head' }, h('div', {}, runnerTitle, runnerMeta), closeButton),
    runnerError, frame, routeForm, logs);
  main.append(runner);

  let current = null;
  let plugins = [];

  closeButton.addEventListener('click', () => {
    runner.hidden = true;
    frame.srcdoc = '';
    const tile = current && list.querySelector(`[data-plugin="${CSS.escape(current.plugin)}"] button`);
    current = null;
    if (tile) tile.focus();
  });

  function showRunner(p) {
    current = p;
    runner.hidden = false;
    runnerTitle.textContent = p.name;
    frame.title = t('runner.frameOf', { name: p.name });
  }

  function showResult(p, req, result) {
    showRunner(p);
    clearBox(runnerError);
    runnerMeta.replaceChildren(
      `${(req.method || 'GET')} ${req.path || '/'} → ${t('runner.status')} ${result.status} · ${t('runner.invocation')} `,
      h('code', { 'data-testid': 'runner-invocation' }, result.invocation));
    frame.srcdoc = documentFor(result);
    logs.replaceChildren();
    if (result.logs && result.logs.length) {
      logs.append(h('details', {}, h('summary', {}, t('runner.logs', { n: result.logs.length })),
        h('pre', { class: 'code-block' }, result.logs.map((l) => JSON.stringify(l)).join('\n'))));
    }
  }

  async function consentThenMaybe(disclosure) {
    const ok = await askConsent(disclosure);
    if (!ok) {
      showMessage(pageStatus, t('wb.declined', { name: disclosure.name }));
      return false;
    }
    showMessage(pageStatus, t('wb.consented', { name: disclosure.name }));
    loadTiles();
    return true;
  }

  async function invoke(p, req, errorBox) {
    try {
      const result = await api('POST', `/me/plugins/${enc(p.plugin)}/invoke`, { json: req });
      showResult(p, req, result);
      return true;
    } catch (err) {
      if (err.code === 'consent_required' && err.body && err.body.disclosure) {
        if (await consentThenMaybe(err.body.disclosure)) return invoke(p, req, errorBox);
        return false;
      }
      if (err.code === 'plugin_failed') {
        showRunner(p);
        frame.srcdoc = '';
        runnerMeta.textContent = `${req.method || 'GET'} ${req.path || '/'}`;
        showError(runnerError, err);
        return false;
      }
      showError(errorBox.isConnected ? errorBox : pageError, err);
      return false;
    }
  }

  async function open(p, tileError, button) {
    clearBox(tileError);
    clearBox(pageStatus);
    if (button.getAttribute('aria-busy') === 'true') return;
    button.setAttribute('aria-busy', 'true');
    try {
      // The server decides: a 403 consent_required carries the disclosure to show.
      const req = { method: 'GET', path: '/' };
      pathInput.value = '/';
      methodSelect.value = 'GET';
      bodyInput.value = '';
      if (await invoke(p, req, tileError)) {
        runner.scrollIntoView({ block: 'start' });
        runnerTitle.focus({ preventScroll: true });
      } else if (!runner.hidden && current === p) {
        runnerTitle.focus();
      }
    } finally {
      button.setAttribute('aria-busy', 'false');
    }
  }

  routeForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!current) return;
    clearBox(runnerError);
    let path = pathInput.value.trim() || '/';
    let queryString = null;
    const q = path.indexOf('?');
    if (q >= 0) {
      queryString = path.slice(q + 1);
      path = path.slice(0, q);
    }
    if (!path.startsWith('/')) path = `/${path}`;
    const req = { method: methodSelect.value, path };
    if (queryString) req.query = queryString;
    if (bodyInput.value && methodSelect.value !== 'GET') {
      req.body = bodyInput.value;
      const trimmed = bodyInput.value.trim();
      req.headers = [['content-type', trimmed.startsWith('{') || trimmed.startsWith('[') ? 'application/json' : 'text/plain; charset=utf-8']];
    }
    busy(sendButton, true);
    await invoke(current, req, runnerError);
    busy(sendButton, false);
  });

  async function loadTiles() {
    try {
      plugins = await api('GET', '/me/plugins');
    } catch (err) {
      showError(pageError, err);
      return;
    }
    if (!ctx.alive()) return;
    clearBox(pageError);
    const focusedPlugin = document.activeElement && document.activeElement.closest && document.activeElement.closest('[data-plugin]');
    const focusedId = focusedPlugin && focusedPlugin.dataset.plugin;
    list.replaceChildren();
    if (!plugins.length) list.append(h('li', { class: 'empty-state' }, t('wb.empty')));
    for (const p of plugins) {
      const tileError = alertBox(`tile-error-${p.plugin}`);
      const button = h('button', { type: 'button', class: 'btn btn-primary', 'aria-label': t('wb.openNamed', { name: p.name }), 'data-testid': `open-${p.plugin}` }, t('wb.open'));
      button.addEventListener('click', () => open(p, tileError, button));
      const state = p.usable
        ? (p.asking.length ? badge(t('wb.usableAsking'), 'info') : badge(t('wb.usable'), 'ok'))
        : badge(t('wb.needsConsent'), 'warn');
      list.append(h('li', { class: 'tile', 'data-plugin': p.plugin, 'data-testid': `tile-${p.plugin}` },
        h('div', { class: 'tile-head' },
          h('span', { class: 'tile-icon', 'aria-hidden': 'true' }, p.name.slice(0, 1)),
          h('div', {}, h('h2', { class: 'tile-name' }, p.name), h('p', { class: 'tile-meta muted' }, `${p.plugin} · ${t('common.version')} ${p.version}`))),
        h('p', { class: 'tile-desc' }, p.description),
        h('div', { class: 'tile-foot' }, state, button),
        tileError));
      if (focusedId === p.plugin) button.focus();
    }
  }

  await loadTiles();
}
