// The plugin frame's shell (inlined into /ui/frame.html, the only script the
// frame's CSP lets run in its window: docs/ARCHITECTURE.md "Plugin pages").
//
// A plugin's page is markup here and scripts elsewhere. Its HTML is parsed
// inert (DOMParser), cleaned (no scripts, frames, objects, links, refresh,
// autofocus, handlers, outside URLs to fetch or preconnect) and put in the
// document; its scripts run in a dedicated worker (frame-worker.js), which has
// no DOM, no network and no WebRTC, and which reaches the page only through
// the messages checked here. So no plugin code runs in this window: it cannot
// take focus, scroll or navigate anything, add history, open dialogs or call
// the workbench page except through this shell, which says only:
//   - a click on a relative link, a form submission → {type: 'navigate'}
//   - workbench.invoke({...}) in the worker → {type: 'invoke'}, answered by 'reply'
//   - the member pressed or clicked in the frame → {type: 'activity'}
//   - the document's height → {type: 'height'}
//   - the worker hung, flooded or failed and was stopped → {type: 'cut', reason}
//   - an image from elsewhere the page shows → {type: 'image', src}
// and shows what the page sends: {type: 'render', html, route}, and an image
// it asked for as a data: URL, {type: 'image', src, data} (the member's own
// avatar when they consented to it: docs/ARCHITECTURE.md "Plugin pages").
(() => {
  'use strict';
  const PROTOCOL = 'workbench.bridge/1';
  // Where the plugin's relative URLs are resolved: never fetched.
  const BASE = 'https://plugin.invalid';
  const styleText = (document.getElementById('wb-style') || {}).textContent || '';
  const preludeText = (document.getElementById('wb-worker') || {}).textContent || '';
  const parentOrigin = location.origin;
  const host = window.parent;
  // What the worker may send: at most this many messages a second, each at
  // most this large; it answers a ping within this long or is stopped.
  const WORKER = Object.freeze({ perSecond: 200, messageBytes: 1024 * 1024, pingMs: 1000, hungMs: 5000, htmlBytes: 512 * 1024 });
  const EVENTS = new Set(['click', 'submit', 'input', 'change']);
  const LINKS = new Set(['a', 'area']);
  // Elements that fetch, frame, navigate or change the document's rules: never kept.
  const DROPPED = 'script, iframe, frame, frameset, object, embed, applet, portal, fencedframe, base, link, meta[http-equiv], template[shadowrootmode]';
  const SCRIPT_TYPES = new Set(['', 'text/javascript', 'application/javascript', 'module', 'text/ecmascript']);
  // Scripts that are data and stay in the document (any other type is dropped:
  // speculation rules, import maps and the like make the browser act).
  const DATA_SCRIPT = /^application\/([\w.-]+\+)?json$/i;
  const FETCHING = ['src', 'srcset', 'poster', 'background', 'data', 'codebase', 'lowsrc', 'dynsrc', 'longdesc', 'manifest', 'icon'];

  let route = '/';
  let worker = null;
  let lastHeight = 0;
  let heightQueued = false;

  const post = (message) => host.postMessage({ wb: PROTOCOL, ...message }, parentOrigin, message.body instanceof ArrayBuffer ? [message.body] : []);

  function resolve(href) {
    let url;
    try {
      url = new URL(href, new URL(route, BASE));
    } catch {
      return { external: String(href) };
    }
    if (url.origin !== BASE) return { external: url.href };
    return { path: url.pathname, query: url.search.replace(/^\?/, '') };
  }

  // Follows `href`: inside the plugin a GET of its route, elsewhere a refusal.
  function go(href) {
    const to = resolve(href);
    if (to.external) post({ type: 'leave', href: to.external.slice(0, 2048) });
    else post({ type: 'navigate', method: 'GET', path: to.path, query: to.query });
  }

  // ---- Cleaning a document -------------------------------------------------

  function isScript(el) {
    return SCRIPT_TYPES.has((el.getAttribute('type') || '').trim().toLowerCase());
  }

  function urlIsData(value) {
    return /^\s*data:/i.test(value);
  }

  // Cleans `root` in place; returns the text of the scripts it took out.
  function clean(root) {
    const scripts = [];
    for (const el of [...root.querySelectorAll('script')]) {
      if (isScript(el) && !el.hasAttribute('src')) scripts.push(el.textContent);
    }
    // SVG animation could put a URL back after this (an animated href or src).
    for (const el of [...root.querySelectorAll('animate, set')]) {
      if (/(^|:)(href|src)$/i.test(el.getAttribute('attributeName') || '')) el.remove();
    }
    for (const el of [...root.querySelectorAll(DROPPED)]) {
      // Data islands (<script type="application/json">) stay: they never run.
      if (el.localName === 'script' && DATA_SCRIPT.test((el.getAttribute('type') || '').trim()) && !el.hasAttribute('src')) continue;
      el.remove();
    }
    for (const el of [...root.querySelectorAll('*')]) {
      for (const attr of [...el.attributes]) {
        const name = attr.name.toLowerCase();
        if (name.startsWith('on') || name === 'autofocus' || name === 'ping' || name === 'target' || name === 'formtarget'
          || name === 'srcdoc' || name === 'attributionsrc' || name === 'itemtype') {
          el.removeAttribute(attr.name);
        } else if (FETCHING.includes(name) || (name.endsWith('href') && !LINKS.has(el.localName))) {
          // Nothing is fetched from elsewhere: an outside URL is kept aside, never requested.
          if (!urlIsData(attr.value) && !(name.endsWith('href') && attr.value.startsWith('#'))) {
            el.setAttribute(`data-wb-${name.replace(/[^a-z-]/g, '-')}`, attr.value.slice(0, 2048));
            el.removeAttribute(attr.name);
          }
        } else if (name.endsWith('href') || name === 'action' || name === 'formaction') {
          // A link or form to another origin keeps no URL the browser could preconnect to.
          const to = resolve(attr.value);
          if (to.external) {
            const kept = name.endsWith('href') ? 'href' : name;
            el.setAttribute(`data-wb-${kept}`, attr.value.slice(0, 2048));
            el.removeAttribute(attr.name);
            if (kept === 'href') {
              el.setAttribute('role', 'link');
              el.setAttribute('tabindex', '0');
            }
          }
        }
      }
    }
    return scripts;
  }

  // A plugin's markup as nodes of this document, cleaned.
  function fragmentOf(html) {
    const parsed = new DOMParser().parseFromString(`<!doctype html><body>${html}`, 'text/html');
    clean(parsed.body);
    const fragment = document.createDocumentFragment();
    for (const node of [...parsed.body.childNodes]) fragment.append(document.adoptNode(node));
    return fragment;
  }

  // ---- Events from the member ----------------------------------------------

  // The link an event is about (HTML <a>/<area>, SVG <a>), if any.
  function linkOf(event) {
    for (const node of event.composedPath()) {
      if (!(node instanceof Element)) continue;
      const name = node.localName;
      if (name === 'a' || name === 'area') return node;
    }
    return null;
  }

  // The worker's registrations: [{ id, selector, type, preventDefault }].
  let registrations = [];

  function matches(event, type) {
    const found = [];
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return found;
    for (const r of registrations) {
      if (r.type !== type) continue;
      let el = null;
      try {
        el = target.closest(r.selector);
      } catch {
        el = null;
      }
      if (el) found.push({ r, el });
    }
    return found;
  }

  function snapshot(el) {
    const attrs = {};
    for (const attr of el.attributes) if (attr.name.startsWith('data-') || attr.name === 'class' || attr.name === 'aria-label') attrs[attr.name] = attr.value;
    return {
      tag: el.localName,
      id: el.id || null,
      name: el.getAttribute('name'),
      text: (el.textContent || '').slice(0, 64 * 1024),
      value: 'value' in el && typeof el.value === 'string' ? el.value : null,
      checked: 'checked' in el ? Boolean(el.checked) : null,
      attrs,
    };
  }

  function formFields(form) {
    const fields = [];
    for (const [k, v] of new FormData(form)) fields.push([k, typeof v === 'string' ? v : v.name]);
    return fields;
  }

  // Tells the worker; true when one of its handlers keeps the event.
  function toWorker(event, type) {
    let kept = false;
    for (const { r, el } of matches(event, type)) {
      const form = el instanceof HTMLFormElement ? el : el.closest('form');
      tell({ t: 'event', handler: r.id, event: { type, target: snapshot(el), form: form ? formFields(form) : null } });
      if (r.preventDefault) kept = true;
    }
    return kept;
  }

  function onActivity(event) {
    if (!event.isTrusted || (event.type === 'keydown' && event.repeat)) return;
    post({ type: 'activity' });
  }

  function onClick(event) {
    const link = linkOf(event);
    // The browser never follows a link from here: the bridge does, or nothing.
    if (link) event.preventDefault();
    if (!event.isTrusted) return;
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return; // no windows to open
    const kept = toWorker(event, 'click');
    if (!link || kept) return;
    const external = link.getAttribute('data-wb-href');
    if (external !== null) {
      post({ type: 'leave', href: external.slice(0, 2048) });
      return;
    }
    const href = link.getAttribute('href');
    if (href === null || href.startsWith('#')) return; // in-page anchors: the page never scrolls the workbench
    go(href);
  }

  // Enter on a link made from an outside URL (no href, so the browser sends no click).
  function onKey(event) {
    if (!event.isTrusted || event.key !== 'Enter') return;
    const el = event.target instanceof Element ? event.target : null;
    if (el && el.hasAttribute('data-wb-href') && el.getAttribute('role') === 'link') {
      event.preventDefault();
      post({ type: 'leave', href: el.getAttribute('data-wb-href').slice(0, 2048) });
    }
  }

  async function encodeForm(form, submitter) {
    const attr = (name) => (submitter && (submitter.getAttribute(`form${name}`) ?? submitter.getAttribute(`data-wb-form${name}`))) ?? form.getAttribute(name) ?? form.getAttribute(`data-wb-${name}`);
    const method = (attr('method') || 'get').toUpperCase();
    const action = attr('action') || '';
    const enctype = (attr('enctype') || 'application/x-www-form-urlencoded').toLowerCase();
    const to = resolve(action || route);
    if (to.external) return { type: 'leave', href: to.external.slice(0, 2048) };
    const data = new FormData(form, submitter || undefined);
    if (method === 'GET') {
      const params = new URLSearchParams();
      for (const [k, v] of data) params.append(k, typeof v === 'string' ? v : v.name);
      return { type: 'navigate', method: 'GET', path: to.path, query: params.toString() };
    }
    if (method !== 'POST') return null; // method="dialog" closes a dialog, nothing to send
    if (enctype === 'multipart/form-data') {
      const encoded = new Response(data);
      const bytes = await encoded.arrayBuffer();
      return { type: 'navigate', method: 'POST', path: to.path, query: to.query, contentType: encoded.headers.get('content-type'), body: bytes };
    }
    if (enctype === 'text/plain') {
      const lines = [];
      for (const [k, v] of data) lines.push(`${k}=${typeof v === 'string' ? v : v.name}`);
      return { type: 'navigate', method: 'POST', path: to.path, query: to.query, contentType: 'text/plain; charset=utf-8', body: `${lines.join('\r\n')}\r\n` };
    }
    const params = new URLSearchParams();
    for (const [k, v] of data) params.append(k, typeof v === 'string' ? v : v.name);
    return { type: 'navigate', method: 'POST', path: to.path, query: to.query, contentType: 'application/x-www-form-urlencoded', body: params.toString() };
  }

  function onSubmit(event) {
    const form = event.target;
    event.preventDefault();
    if (!(form instanceof HTMLFormElement) || !event.isTrusted) return;
    if (toWorker(event, 'submit')) return;
    encodeForm(form, event.submitter).then((message) => {
      if (message) post(message);
    });
  }

  function onInput(event) {
    if (event.isTrusted) toWorker(event, event.type);
  }

  // ---- The worker ----------------------------------------------------------

  function tell(message) {
    if (worker) worker.w.postMessage(message);
  }

  function stopWorker(reason) {
    if (!worker) return;
    const w = worker;
    worker = null;
    clearInterval(w.pinger);
    w.w.onmessage = null;
    w.w.onerror = null;
    w.w.terminate();
    registrations = [];
    if (reason) post({ type: 'cut', reason });
  }

  // A rough size of what the worker sent, stopping once over `limit`.
  function sizeOf(value, limit) {
    let total = 0;
    const stack = [value];
    let seen = 0;
    while (stack.length && total <= limit) {
      const v = stack.pop();
      seen += 1;
      if (seen > 10000) return limit + 1;
      if (typeof v === 'string') total += v.length;
      else if (v instanceof ArrayBuffer) total += v.byteLength;
      else if (ArrayBuffer.isView(v)) total += v.byteLength;
      else if (v && typeof v === 'object') {
        for (const key of Object.keys(v)) {
          total += key.length;
          stack.push(v[key]);
        }
      } else total += 8;
    }
    return total;
  }

  function startWorker(scripts) {
    stopWorker(null);
    if (!scripts.length) return;
    const start = `self.workbenchStart = ${JSON.stringify({ route })};\n`;
    const code = `${start}${preludeText}\n;\n${scripts.join('\n;\n')}\n`;
    let w;
    try {
      w = new Worker(URL.createObjectURL(new Blob([code], { type: 'text/javascript' })), { name: 'plugin-page' });
    } catch {
      post({ type: 'cut', reason: 'error' });
      return;
    }
    const state = { w, window: performance.now(), count: 0, answered: performance.now(), pinger: 0 };
    worker = state;
    w.onmessage = (event) => {
      if (worker !== state) return;
      const now = performance.now();
      if (now - state.window > 1000) {
        state.window = now;
        state.count = 0;
      }
      state.count += 1;
      if (state.count > WORKER.perSecond) {
        stopWorker('flood');
        return;
      }
      if (sizeOf(event.data, WORKER.messageBytes) > WORKER.messageBytes) {
        stopWorker('too_large');
        return;
      }
      fromWorker(event.data);
    };
    w.onerror = (event) => {
      event.preventDefault();
      if (worker === state) stopWorker('error');
    };
    state.pinger = setInterval(() => {
      if (worker !== state) return;
      if (performance.now() - state.answered > WORKER.hungMs) stopWorker('hung');
      else w.postMessage({ t: 'ping' });
    }, WORKER.pingMs);
  }

  // Selector and property checks: a bad one is dropped (the worker hears nothing).
  const isSelector = (v) => typeof v === 'string' && v.length > 0 && v.length <= 512;
  const ATTR_OK = /^(?:class|title|alt|role|lang|dir|style|hidden|disabled|open|colspan|rowspan|width|height|min|max|step|placeholder|aria-[a-z-]+|data-[a-z0-9-]+)$/;

  function applyProps(el, props) {
    if (typeof props.text === 'string') el.textContent = props.text;
    if (typeof props.html === 'string' && props.html.length <= WORKER.htmlBytes) {
      const fragment = fragmentOf(props.html);
      el.replaceChildren(fragment);
    }
    if (typeof props.value === 'string' && 'value' in el) el.value = props.value;
    if (typeof props.checked === 'boolean' && 'checked' in el) el.checked = props.checked;
    if (typeof props.hidden === 'boolean') el.hidden = props.hidden;
    if (typeof props.disabled === 'boolean' && 'disabled' in el) el.disabled = props.disabled;
    if (props.attrs && typeof props.attrs === 'object') {
      for (const [name, value] of Object.entries(props.attrs)) {
        const lower = String(name).toLowerCase();
        if (!ATTR_OK.test(lower)) continue;
        if (value === null || value === false) el.removeAttribute(lower);
        else el.setAttribute(lower, String(value).slice(0, 4096));
      }
    }
    if (props.classes && typeof props.classes === 'object') {
      for (const c of Array.isArray(props.classes.add) ? props.classes.add : []) if (typeof c === 'string' && /^[\w-]{1,64}$/.test(c)) el.classList.add(c);
      for (const c of Array.isArray(props.classes.remove) ? props.classes.remove : []) if (typeof c === 'string') el.classList.remove(c);
    }
  }

  function select(selector) {
    try {
      return [...document.querySelectorAll(selector)].slice(0, 1000);
    } catch {
      return [];
    }
  }

  const pending = new Map(); // the shell's invoke id → the worker's id
  let nextId = 1;

  function fromWorker(m) {
    if (!m || typeof m !== 'object') return;
    if (m.t === 'pong') {
      worker.answered = performance.now();
    } else if (m.t === 'on') {
      if (Number.isSafeInteger(m.id) && isSelector(m.selector) && EVENTS.has(m.type) && registrations.length < 256) {
        registrations.push({ id: m.id, selector: m.selector, type: m.type, preventDefault: m.preventDefault === true });
      }
    } else if (m.t === 'set') {
      if (isSelector(m.selector) && m.props && typeof m.props === 'object') {
        for (const el of select(m.selector)) applyProps(el, m.props);
        askImages();
        resized();
      }
    } else if (m.t === 'get') {
      if (Number.isSafeInteger(m.id) && isSelector(m.selector)) tell({ t: 'got', id: m.id, items: select(m.selector).map(snapshot) });
    } else if (m.t === 'navigate') {
      if (typeof m.href === 'string' && m.href.length <= 4096) go(m.href);
    } else if (m.t === 'invoke') {
      if (!Number.isSafeInteger(m.id)) return;
      const id = nextId;
      nextId += 1;
      pending.set(id, m.id);
      const message = { type: 'invoke', id, method: m.method, path: m.path, query: m.query, headers: m.headers };
      if (m.body !== undefined) message.body = m.body;
      // The page checks every field again and answers a bad one with a refusal.
      try {
        post(message);
      } catch {
        pending.delete(id);
        tell({ t: 'reply', id: m.id, error: { code: 'bad_field', message: 'refused: bad_field' } });
      }
    }
  }

  // ---- Images from elsewhere -------------------------------------------------

  // Never fetched here. The workbench page may hand one over as a data: URL
  // (only the member's avatar, fetched by the host); anything else stays unshown.
  const IMAGE_DATA = /^data:image\/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/]+=*$/;
  const IMAGES = Object.freeze({ asked: 16, dataBytes: 400 * 1024 });
  const images = new Map(); // src → its data: URL, or null (asked, or refused)

  function showImages(src) {
    const data = images.get(src);
    if (!data) return;
    for (const img of document.querySelectorAll('img[data-wb-src]')) {
      if (img.getAttribute('data-wb-src') === src && img.getAttribute('src') !== data) img.setAttribute('src', data);
    }
  }

  function askImages() {
    for (const img of document.querySelectorAll('img[data-wb-src]')) {
      const src = img.getAttribute('data-wb-src');
      if (images.has(src)) showImages(src);
      else if (images.size < IMAGES.asked && /^https?:\/\//i.test(src)) {
        images.set(src, null);
        post({ type: 'image', src });
      }
    }
  }

  // ---- The page's messages ---------------------------------------------------

  function onMessage(event) {
    if (event.source !== host || event.origin !== parentOrigin) return;
    const m = event.data;
    if (!m || m.wb !== PROTOCOL) return;
    if (m.type === 'render') render(String(m.html), String(m.route || '/'));
    else if (m.type === 'image') {
      if (typeof m.src !== 'string' || !images.has(m.src) || typeof m.data !== 'string') return;
      if (m.data.length > IMAGES.dataBytes || !IMAGE_DATA.test(m.data)) return;
      images.set(m.src, m.data);
      showImages(m.src);
    } else if (m.type === 'reply') {
      const theirs = pending.get(m.id);
      if (theirs === undefined) return;
      pending.delete(m.id);
      tell({ ...m, wb: undefined, type: undefined, t: 'reply', id: theirs });
    }
  }

  function reportHeight() {
    heightQueued = false;
    const root = document.documentElement;
    if (!root) return;
    const px = Math.ceil(Math.max(root.scrollHeight, root.getBoundingClientRect().height));
    if (Math.abs(px - lastHeight) < 2) return;
    lastHeight = px;
    post({ type: 'height', px });
  }
  function resized() {
    if (heightQueued) return;
    heightQueued = true;
    requestAnimationFrame(reportHeight);
  }
  const observer = typeof ResizeObserver === 'function' ? new ResizeObserver(resized) : null;

  function render(html, at) {
    route = at.startsWith('/') ? at : '/';
    pending.clear();
    const parsed = new DOMParser().parseFromString(/^\s*<!doctype/i.test(html) ? html : `<!doctype html>${html}`, 'text/html');
    const scripts = clean(parsed.documentElement);
    const root = document.adoptNode(parsed.documentElement);
    document.replaceChild(root, document.documentElement);
    const optOut = document.querySelector('meta[name="workbench-style"][content="none"]');
    if (!optOut && document.head) {
      const style = document.createElement('style');
      style.id = 'wb-style';
      style.textContent = styleText;
      document.head.prepend(style);
    }
    window.scrollTo(0, 0);
    lastHeight = 0;
    if (observer) {
      observer.disconnect();
      observer.observe(document.documentElement);
      if (document.body) observer.observe(document.body);
    }
    resized();
    askImages();
    startWorker(scripts);
  }

  window.addEventListener('message', onMessage);
  window.addEventListener('click', onClick, true);
  window.addEventListener('auxclick', onClick, true);
  window.addEventListener('submit', onSubmit, true);
  window.addEventListener('input', onInput, true);
  window.addEventListener('change', onInput, true);
  window.addEventListener('keydown', onKey, true);
  window.addEventListener('pointerdown', onActivity, true);
  window.addEventListener('keydown', onActivity, true);
  window.addEventListener('load', resized);
  post({ type: 'ready' });
})();
