// The bridge's end inside the plugin frame (inlined into /ui/frame.html).
//
// The frame is sandboxed (scripts and form events, an opaque origin, no
// network: see docs/SECURITY.md). Nothing here is trusted by the workbench
// page: a plugin's script shares this realm and may rewrite any of it. The
// page checks every message. This end only makes the plain things work:
//   - a click on a relative link, a form submission → {type: 'navigate'}
//   - window.workbench.invoke({...}) → {type: 'invoke'}, answered by 'reply'
//   - the document's height → {type: 'height'}
// and shows what the page sends: {type: 'render', html, route}.
(() => {
  'use strict';
  const PROTOCOL = 'workbench.bridge/1';
  // Where the plugin's relative URLs are resolved: never fetched.
  const BASE = 'https://plugin.invalid';
  const styleText = (document.getElementById('wb-style') || {}).textContent || '';
  const parentOrigin = location.origin;
  const host = window.parent;
  let route = '/';
  let nextId = 1;
  const pending = new Map();
  let lastHeight = 0;
  let heightQueued = false;

  // Bytes are handed over, not copied.
  const post = (message) => host.postMessage({ wb: PROTOCOL, ...message }, parentOrigin, message.body instanceof ArrayBuffer ? [message.body] : []);

  function resolve(href) {
    const current = new URL(route, BASE);
    const url = new URL(href, current);
    if (url.origin !== BASE) return { external: url.href };
    return { path: url.pathname, query: url.search.replace(/^\?/, '') };
  }

  // Follows `href`: inside the plugin a GET of its route, elsewhere a refusal to show.
  function go(href) {
    const to = resolve(href);
    if (to.external) post({ type: 'leave', href: to.external.slice(0, 2048) });
    else post({ type: 'navigate', method: 'GET', path: to.path, query: to.query });
  }

  // A form's fields as urlencoded text (a file counts as its name, as browsers send it).
  function urlencoded(data) {
    const params = new URLSearchParams();
    for (const [k, v] of data) params.append(k, typeof v === 'string' ? v : v.name);
    return params.toString();
  }

  // The browser's own navigation never happens; a plugin handler that calls
  // preventDefault() keeps the event to itself. The bridge acts when the
  // event is back at the window (after every plugin handler), or, if a
  // handler stopped it on the way, once the dispatch is over.
  const taken = new WeakMap();
  function takeOver(event, then) {
    const state = { pluginPrevented: false, done: false };
    const original = event.preventDefault;
    event.preventDefault = function preventDefault() {
      state.pluginPrevented = true;
      return original.call(this);
    };
    original.call(event);
    const act = () => {
      if (state.done) return;
      state.done = true;
      if (!state.pluginPrevented) then();
    };
    taken.set(event, act);
    setTimeout(act, 0);
  }
  function settle(event) {
    const act = taken.get(event);
    if (act) act();
  }

  function onClick(event) {
    if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) {
      // A modified click would open a window: there are none.
      const a = event.target instanceof Element && event.target.closest('a[href]');
      if (a) event.preventDefault();
      return;
    }
    const a = event.target instanceof Element ? event.target.closest('a[href]') : null;
    if (!a) return;
    const href = a.getAttribute('href');
    if (href === null || href.startsWith('#')) return; // in-page anchors scroll as usual
    takeOver(event, () => go(href));
  }

  async function encodeForm(form, submitter) {
    const method = ((submitter && submitter.getAttribute('formmethod')) || form.getAttribute('method') || 'get').toUpperCase();
    const action = (submitter && submitter.getAttribute('formaction')) || form.getAttribute('action') || '';
    const enctype = ((submitter && submitter.getAttribute('formenctype')) || form.getAttribute('enctype') || 'application/x-www-form-urlencoded').toLowerCase();
    const to = resolve(action || route);
    if (to.external) return { type: 'leave', href: to.external.slice(0, 2048) };
    const data = new FormData(form, submitter || undefined);
    if (method === 'GET') return { type: 'navigate', method: 'GET', path: to.path, query: urlencoded(data) };
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
    return { type: 'navigate', method: 'POST', path: to.path, query: to.query, contentType: 'application/x-www-form-urlencoded', body: urlencoded(data) };
  }

  function onSubmit(event) {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    const submitter = event.submitter;
    takeOver(event, async () => {
      const message = await encodeForm(form, submitter);
      if (message) post(message);
    });
  }

  // form.submit() fires no submit event: it goes through the bridge as well
  // (the browser's own submission would only meet the CSP's form-action).
  const nativeSubmit = HTMLFormElement.prototype.submit;
  Object.defineProperty(HTMLFormElement.prototype, 'submit', {
    configurable: true,
    writable: true,
    value: function submit() {
      if (!(this instanceof HTMLFormElement) || !this.isConnected) return nativeSubmit.call(this);
      encodeForm(this, null).then((message) => {
        if (message) post(message);
      });
      return undefined;
    },
  });

  function onMessage(event) {
    if (event.source !== host || event.origin !== parentOrigin) return;
    const m = event.data;
    if (!m || m.wb !== PROTOCOL) return;
    if (m.type === 'render') render(String(m.html), String(m.route || '/'));
    else if (m.type === 'reply') {
      const waiting = pending.get(m.id);
      if (!waiting) return;
      pending.delete(m.id);
      if (m.error) {
        const error = new Error(m.error.message);
        error.code = m.error.code;
        waiting.reject(error);
      } else {
        const text = m.body === null || m.body === undefined ? '' : String(m.body);
        const type = ((m.headers || []).find(([k]) => String(k).toLowerCase() === 'content-type') || [null, ''])[1];
        let json;
        if (/json/i.test(type)) {
          try { json = JSON.parse(text); } catch { json = undefined; }
        }
        waiting.resolve(Object.freeze({ status: m.status, ok: m.status >= 200 && m.status < 300, headers: m.headers || [], text, json }));
      }
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
  const resized = () => {
    if (heightQueued) return;
    heightQueued = true;
    requestAnimationFrame(reportHeight);
  };
  const observer = typeof ResizeObserver === 'function' ? new ResizeObserver(resized) : null;

  function install() {
    // document.open() removes every listener: put them back each time.
    window.addEventListener('message', onMessage);
    window.addEventListener('click', onClick, true);
    window.addEventListener('auxclick', onClick, true);
    window.addEventListener('submit', onSubmit, true);
    window.addEventListener('click', settle);
    window.addEventListener('auxclick', settle);
    window.addEventListener('submit', settle);
    window.addEventListener('load', resized);
  }

  function render(html, at) {
    route = at.startsWith('/') ? at : '/';
    document.open();
    install();
    // A fragment without a doctype would put the page in quirks mode.
    if (!/^\s*<!doctype/i.test(html)) document.write('<!doctype html>');
    document.write(html);
    document.close();
    const optOut = document.querySelector('meta[name="workbench-style"][content="none"]');
    if (!optOut && document.head) {
      const style = document.createElement('style');
      style.id = 'wb-style';
      style.textContent = styleText;
      document.head.prepend(style);
    }
    lastHeight = 0;
    if (observer) {
      observer.disconnect();
      observer.observe(document.documentElement);
      if (document.body) observer.observe(document.body);
    }
    resized();
  }

  // The script API for plugin pages.
  function invoke(request = {}) {
    const { method = 'GET', path = route.split('?')[0], query = '', headers = [], body } = request;
    let sendBody = body;
    const sendHeaders = Array.isArray(headers) ? headers.slice() : Object.entries(headers);
    if (body !== undefined && body !== null && typeof body === 'object' && !(body instanceof ArrayBuffer) && !ArrayBuffer.isView(body)) {
      sendBody = JSON.stringify(body);
      if (!sendHeaders.some(([k]) => String(k).toLowerCase() === 'content-type')) sendHeaders.push(['content-type', 'application/json']);
    }
    if (ArrayBuffer.isView(sendBody)) sendBody = sendBody.buffer.slice(sendBody.byteOffset, sendBody.byteOffset + sendBody.byteLength);
    const id = nextId;
    nextId += 1;
    return new Promise((resolvePromise, reject) => {
      pending.set(id, { resolve: resolvePromise, reject });
      const message = { type: 'invoke', id, method: String(method).toUpperCase(), path: String(path), query: String(query), headers: sendHeaders };
      if (sendBody !== undefined && sendBody !== null) message.body = sendBody;
      try {
        post(message);
      } catch (err) {
        pending.delete(id);
        reject(err);
      }
    });
  }

  const navigate = (href) => go(String(href));

  Object.defineProperty(window, 'workbench', {
    value: Object.freeze({ invoke, navigate, get route() { return route; } }),
    enumerable: true,
  });
  install();
  post({ type: 'ready' });
})();
