// The start of a plugin page's script worker (docs/ARCHITECTURE.md "Plugin
// pages"). The frame's shell (frame.js) runs a page's scripts here, after
// this prelude, in a dedicated worker: no DOM, no window, no network (the
// frame's CSP: connect-src 'none', no imports, no eval) and no WebRTC
// (browsers give workers none). What a script may do is `workbench`:
//
//   workbench.invoke({ method, path, query, headers, body }) → Promise<{ status, ok, headers, text, json }>
//   workbench.navigate(href)                 a route of this plugin (needs the member's action)
//   workbench.route                          the route shown
//   workbench.page.on(selector, type, fn, { preventDefault })   click | submit | input | change
//   workbench.page.set(selector, { text, html, value, checked, hidden, disabled, attrs, classes })
//   workbench.page.get(selector) → Promise<[{ tag, id, name, text, value, checked, attrs }]>
//
// Every message goes to the shell, which checks it again.
(() => {
  'use strict';
  const post = (message) => self.postMessage(message);
  // The shell puts what the page starts with ahead of this prelude.
  let route = String((self.workbenchStart && self.workbenchStart.route) || '/');
  delete self.workbenchStart;
  let nextId = 1;
  const pending = new Map();
  const handlers = new Map();

  function request(kind, fields) {
    const id = nextId;
    nextId += 1;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      post({ t: kind, id, ...fields });
    });
  }

  function answered(m) {
    const waiting = pending.get(m.id);
    if (!waiting) return;
    pending.delete(m.id);
    if (m.error) {
      const error = new Error(String(m.error.message || m.error.code));
      error.code = String(m.error.code || 'failed');
      waiting.reject(error);
      return;
    }
    if (m.t === 'got') {
      waiting.resolve(m.items);
      return;
    }
    const text = m.body === null || m.body === undefined ? '' : String(m.body);
    const type = ((m.headers || []).find(([k]) => String(k).toLowerCase() === 'content-type') || [null, ''])[1];
    let json;
    if (/json/i.test(type)) {
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
    }
    waiting.resolve(Object.freeze({ status: m.status, ok: m.status >= 200 && m.status < 300, headers: m.headers || [], text, json }));
  }

  function invoke(req = {}) {
    const { method = 'GET', path = route.split('?')[0], query = '', headers = [], body } = req;
    let sendBody = body;
    const sendHeaders = (Array.isArray(headers) ? headers : Object.entries(headers)).map(([k, v]) => [String(k), String(v)]);
    if (body !== undefined && body !== null && typeof body === 'object' && !(body instanceof ArrayBuffer) && !ArrayBuffer.isView(body)) {
      sendBody = JSON.stringify(body);
      if (!sendHeaders.some(([k]) => k.toLowerCase() === 'content-type')) sendHeaders.push(['content-type', 'application/json']);
    }
    if (ArrayBuffer.isView(sendBody)) sendBody = sendBody.buffer.slice(sendBody.byteOffset, sendBody.byteOffset + sendBody.byteLength);
    const fields = { method: String(method).toUpperCase(), path: String(path), query: String(query), headers: sendHeaders };
    if (sendBody !== undefined && sendBody !== null) fields.body = sendBody instanceof ArrayBuffer ? sendBody : String(sendBody);
    return request('invoke', fields);
  }

  const page = Object.freeze({
    on(selector, type, fn, options = {}) {
      if (typeof fn !== 'function') throw new TypeError('workbench.page.on: a handler function is required');
      const id = nextId;
      nextId += 1;
      handlers.set(id, fn);
      post({ t: 'on', id, selector: String(selector), type: String(type), preventDefault: Boolean(options.preventDefault) });
    },
    set(selector, props = {}) {
      post({ t: 'set', selector: String(selector), props });
    },
    get(selector) {
      return request('get', { selector: String(selector) });
    },
  });

  Object.defineProperty(self, 'workbench', {
    value: Object.freeze({ invoke, navigate: (href) => post({ t: 'navigate', href: String(href) }), get route() { return route; }, page }),
    enumerable: true,
  });

  self.addEventListener('message', (event) => {
    const m = event.data;
    if (!m || typeof m !== 'object') return;
    if (m.t === 'ping') post({ t: 'pong' });
    else if (m.t === 'reply' || m.t === 'got') answered(m);
    else if (m.t === 'event') {
      const fn = handlers.get(m.handler);
      if (fn) {
        Promise.resolve().then(() => fn(Object.freeze(m.event))).catch((err) => {
          setTimeout(() => { throw err; }, 0);
        });
      }
    }
  });
})();
