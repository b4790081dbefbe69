// The open plugin: its page in a sandboxed frame, wired to the workbench
// through the bridge (../bridge.js). Links, forms and `workbench.invoke()` in
// the frame become invocations of this plugin, made here with the member's
// session; the plugin's route is kept in the page URL
// (#/workbench/{plugin}/{route}), so reload and back/forward work.
import { t } from '../i18n.js';
import { api, enc } from '../api.js';
import { h, alertBox, showError, showMessage, statusBox, clearBox, field, busy } from '../dom.js';
import { connect, invokeRequest, LIMITS } from '../bridge.js';

const MAX_REDIRECTS = 5;
// Relative URLs of the plugin resolve against this; it is never fetched.
const PLUGIN_BASE = 'https://plugin.invalid';

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}

// The member's avatar at `src` for plugin `p`'s page as a data: URL, or null
// (no consent, not the avatar, not fetched): the host checks and fetches it.
async function avatarData(p, src) {
  try {
    const res = await api('GET', `/me/plugins/${enc(p.plugin)}/avatar?src=${enc(src)}`, { raw: true });
    const blob = await res.blob();
    return await new Promise((resolve) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result));
      reader.onerror = () => resolve(null);
      reader.readAsDataURL(blob);
    });
  } catch {
    return null;
  }
}

function header(result, name) {
  const found = (result.headers || []).find(([k]) => k.toLowerCase() === name);
  return found ? found[1] : '';
}

// The plugin's answer as a document: its HTML as is, anything else escaped.
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
  return `<!doctype html><meta charset="utf-8"><pre>${escapeHtml(text)}</pre>`;
}

export function routeOf(req) {
  return `${req.path || '/'}${req.query ? `?${req.query}` : ''}`;
}

export function hashFor(plugin, route) {
  return `#/workbench/${enc(plugin)}/${enc(route || '/')}`;
}

// `route` as an invoke request: a path inside the plugin and its query.
export function requestFor(route) {
  const url = new URL(route || '/', PLUGIN_BASE);
  if (url.origin !== PLUGIN_BASE) return { method: 'GET', path: '/' };
  const req = { method: 'GET', path: url.pathname };
  const query = url.search.replace(/^\?/, '');
  if (query) req.query = query;
  return req;
}

// Where a redirect goes: a route inside the plugin, or null when it leaves it.
function redirectTarget(location, from) {
  let url;
  try {
    url = new URL(location, new URL(routeOf(from), PLUGIN_BASE));
  } catch {
    return null;
  }
  return url.origin === PLUGIN_BASE ? `${url.pathname}${url.search}` : null;
}

// `consent(disclosure)` resolves true when the member agreed; `closed()` is
// called on close; `failed(error)` hears a failure before any page is shown.
export function createRunner({ consent, closed, failed }) {
  const title = h('h2', { id: 'runner-title', class: 'section-title', tabindex: '-1' });
  const mark = h('span', { class: 'runner-mark', 'data-testid': 'runner-mark' }, t('runner.mark'));
  const meta = h('p', { class: 'runner-meta muted', 'data-testid': 'runner-meta' });
  const error = alertBox('runner-error');
  const notice = statusBox('bridge-notice');
  const newFrame = () => h('iframe', {
    sandbox: 'allow-scripts allow-forms',
    class: 'plugin-frame',
    'data-testid': 'plugin-frame',
    title: t('runner.frame'),
    referrerpolicy: 'no-referrer',
    allow: '',
  });
  let frame = newFrame();
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
  const devTools = h('details', { class: 'runner-dev' }, h('summary', {}, t('runner.devTools')), routeForm);
  const logs = h('div', { class: 'runner-logs' });
  const element = h('section', { class: 'runner card', 'aria-labelledby': 'runner-title', hidden: true, 'data-testid': 'runner' },
    h('div', { class: 'runner-head', 'data-testid': 'runner-head' }, h('div', {}, h('div', { class: 'runner-name' }, mark, title), meta), closeButton),
    error, frame, notice, devTools, logs);

  let current = null; // the plugin shown
  let ready = false;
  let shown = null; // { html, route } the frame should show
  let sequence = 0; // the latest navigation wins
  let refusals = 0;
  let bridge = null;
  // The member's presses and clicks in the frame (the shell reports them; no
  // plugin code runs in the frame's window), and the last one that opened a
  // consent dialog or added a history entry: each action does so at most once.
  let actions = 0;
  let actionForConsent = 0;
  // The images the frame asked for: src → a promise of its data: URL or null.
  let images = new Map();
  let actionForHistory = 0;

  // The notice says only the workbench's own words: nothing the page sent.
  function refused(code) {
    refusals += 1;
    showMessage(notice, t('bridge.refusedCount', { n: refusals, reason: t(`bridge.refused.${code}`) }));
    notice.dataset.refused = String(refusals);
    notice.dataset.lastCode = code;
  }

  // The member is acting in the frame now: focus there and the browser's own
  // transient user activation (a click or key press just now).
  function acting() {
    return document.activeElement === frame && (!navigator.userActivation || navigator.userActivation.isActive);
  }

  // An action in the frame not yet spent on a consent dialog.
  function mayAskConsent() {
    if (!acting() || actions <= actionForConsent) return false;
    actionForConsent = actions;
    return true;
  }

  function sendShown() {
    if (ready && shown && bridge) bridge.send({ type: 'render', html: shown.html, route: shown.route });
  }

  // Each plugin gets a frame of its own: nothing of the one before (its
  // window, timers, late messages) reaches the next.
  function attach() {
    if (bridge) bridge.close();
    ready = false;
    const fresh = newFrame();
    frame.replaceWith(fresh);
    frame = fresh;
    actions = 0;
    images = new Map();
    actionForConsent = 0;
    actionForHistory = 0;
    bridge = connect(frame, {
      refused,
      activity() {
        actions += 1;
      },
      cut(m) {
        refused(`script_${m.reason}`);
      },
      ready() {
        ready = true;
        sendShown();
      },
      height(m) {
        // The document and the frame's 2 px border above and below it.
        const px = Math.min(Math.max(Math.ceil(m.px) + 4, 80), LIMITS.heightPx);
        frame.style.height = `${px}px`;
      },
      leave() {
        refused('leave');
      },
      image(m) {
        // Asked once per frame; the answer goes only to the plugin it was asked for.
        const p = current;
        if (!p || !/^https?:\/\//i.test(m.src)) return;
        if (!images.has(m.src)) {
          if (images.size >= 16) return;
          images.set(m.src, avatarData(p, m.src));
        }
        images.get(m.src).then((data) => {
          if (data && p === current && bridge) bridge.send({ type: 'image', src: m.src, data });
        });
      },
      navigate(m) {
        // Only what the member did: focus in the frame and a click or key press just now.
        if (!acting() || actions === 0) {
          refused('no_user_action');
          return;
        }
        const { req, dropped } = invokeRequest(m);
        if (dropped.length) refused('header');
        navigate(req, m.method === 'GET' ? 'push' : 'stay', mayAskConsent, actions);
      },
      async invoke(m) {
        const { req, dropped } = invokeRequest(m);
        if (dropped.length) refused('header');
        const p = current;
        try {
          const result = await call(p, req, mayAskConsent);
          if (p !== current) return;
          bridge.send({ type: 'reply', id: m.id, status: result.status, headers: result.headers, body: result.body, body_base64: result.body_base64 });
        } catch (err) {
          if (p !== current) return;
          bridge.send({ type: 'reply', id: m.id, error: { code: err.code || 'failed', message: err.message } });
        }
      },
    });
    frame.src = '/ui/frame.html';
  }

  closeButton.addEventListener('click', () => {
    const was = current;
    close();
    closed(was);
  });

  function close() {
    element.hidden = true;
    current = null;
    shown = null;
    sequence += 1;
    if (bridge) bridge.close();
    bridge = null;
    const blank = newFrame();
    frame.replaceWith(blank);
    frame = blank;
  }

  // One invocation of plugin `p` as the member; asks for consent when the
  // server wants it and `mayAsk()` allows (a frame's request asks only on an
  // unspent action of the member's, never on its own).
  async function call(p, req, mayAsk = () => true) {
    try {
      return await api('POST', `/me/plugins/${enc(p.plugin)}/invoke`, { json: req });
    } catch (err) {
      if (err.code === 'consent_required' && err.body && err.body.disclosure) {
        if (!mayAsk()) {
          refused('consent_needs_action');
          throw err;
        }
        frame.inert = true;
        let agreed;
        try {
          agreed = await consent(err.body.disclosure);
        } finally {
          frame.inert = false;
        }
        if (agreed) return call(p, req, () => true);
        const declined = new Error(t('wb.declined', { name: p.name }));
        declined.code = 'consent_declined';
        throw declined;
      }
      throw err;
    }
  }

  function showMeta(req, result) {
    meta.replaceChildren(
      `${req.method || 'GET'} ${routeOf(req)} → ${t('runner.status')} ${result.status} · ${t('runner.invocation')} `,
      h('code', { 'data-testid': 'runner-invocation' }, result.invocation));
    logs.replaceChildren();
    if (result.logs && result.logs.length) {
      logs.append(h('details', {}, h('summary', {}, t('runner.logs', { n: result.logs.length })),
        h('pre', { class: 'code-block' }, result.logs.map((l) => JSON.stringify(l)).join('\n'))));
    }
  }

  // Invokes `req`, follows relative redirects, shows the answer in the frame.
  // `history`: 'push' a new entry for a GET, 'replace' the current one, or 'stay'.
  // Resolves true when a document is shown.
  // `action`: the member's action in the frame that started it (none when the
  // workbench did): one history entry per action, however many navigations
  // it starts (the last one shown gets the entry).
  async function navigate(req, history, mayAsk = () => true, action = undefined) {
    const p = current;
    sequence += 1;
    const mine = sequence;
    element.setAttribute('aria-busy', 'true');
    clearBox(error);
    let at = req;
    try {
      for (let hop = 0; ; hop += 1) {
        const result = await call(p, at, mayAsk);
        if (mine !== sequence || p !== current) return false;
        const location = header(result, 'location');
        if (result.status >= 300 && result.status < 400 && location) {
          const target = redirectTarget(location, at);
          if (target === null) {
            refused('redirect');
          } else if (hop >= MAX_REDIRECTS) {
            refused('redirects');
          } else {
            // 307 and 308 repeat the request there; the others fetch the target.
            const next = requestFor(target);
            if ((result.status === 307 || result.status === 308) && at.method !== 'GET') {
              for (const key of ['method', 'headers', 'body', 'body_base64']) if (at[key] !== undefined) next[key] = at[key];
            }
            at = next;
            continue;
          }
        }
        // The document first, then the page's own bookkeeping.
        shown = { html: documentFor(result), route: routeOf(at) };
        sendShown();
        element.hidden = false;
        showMeta(at, result);
        if (at.method === 'GET') {
          const hash = hashFor(p.plugin, shown.route);
          // A POST answered by a redirect to a GET is a new page, as in a browser.
          let mode = history === 'stay' ? 'push' : history;
          if (mode === 'push' && action !== undefined) {
            if (action > actionForHistory) actionForHistory = action;
            else mode = 'replace';
          }
          if (window.location.hash !== hash) {
            if (mode === 'push') window.history.pushState(null, '', hash);
            else window.history.replaceState(null, '', hash);
          }
        }
        return true;
      }
    } catch (err) {
      if (mine !== sequence || p !== current) return false;
      if (err.code === 'consent_declined') {
        showMessage(notice, err.message);
      } else if (err.code === 'consent_required') {
        // Not asked without the member's action: the notice says what to do.
      } else if (err.code === 'plugin_failed' || shown) {
        // The plugin failed, or a page of it is shown: say so in the runner.
        element.hidden = false;
        meta.textContent = `${at.method || 'GET'} ${routeOf(at)}`;
        showError(error, err);
      } else {
        failed(err);
      }
      return false;
    } finally {
      if (mine === sequence) element.setAttribute('aria-busy', 'false');
    }
  }

  routeForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!current) return;
    const req = requestFor(pathInput.value.trim().startsWith('/') ? pathInput.value.trim() : `/${pathInput.value.trim()}`);
    req.method = methodSelect.value;
    if (bodyInput.value && req.method !== 'GET') {
      req.body = bodyInput.value;
      const trimmed = bodyInput.value.trim();
      req.headers = [['content-type', trimmed.startsWith('{') || trimmed.startsWith('[') ? 'application/json' : 'text/plain; charset=utf-8']];
    }
    busy(sendButton, true);
    await navigate(req, req.method === 'GET' ? 'push' : 'stay');
    busy(sendButton, false);
  });

  return {
    element,
    get current() {
      return current;
    },
    // Opens plugin `p` at `at` (a route); history as for navigate().
    async open(p, at, history) {
      // The same plugin keeps its frame (the tiles may have been read again since).
      if (!current || current.plugin !== p.plugin) {
        close();
        current = p;
        refusals = 0;
        clearBox(notice);
        delete notice.dataset.refused;
        delete notice.dataset.lastCode;
        title.textContent = p.name;
        attach();
        frame.title = t('runner.frameOf', { name: p.name });
      } else {
        current = p;
      }
      const req = requestFor(at);
      pathInput.value = routeOf(req);
      methodSelect.value = 'GET';
      bodyInput.value = '';
      return navigate(req, history);
    },
    focus() {
      title.focus({ preventScroll: true });
    },
    close,
  };
}
