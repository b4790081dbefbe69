// The workbench page's end of the plugin frame bridge (protocol
// `workbench.bridge/1`, docs/ARCHITECTURE.md). The frame is untrusted: a
// message is taken only from that frame's window, only in the shape its type
// allows (unknown fields refuse it), only within the size limits, only at
// the rate the bucket allows, and only ever becomes an invocation of the one
// plugin the frame shows; headers the frame may not set are dropped.

export const PROTOCOL = 'workbench.bridge/1';

export const LIMITS = Object.freeze({
  // The body a form or script may send (after encoding; the invoke request
  // carries it as base64 when it is not text, within the server's 1 MiB body limit).
  bodyBytes: 512 * 1024,
  pathBytes: 2048,
  queryBytes: 8192,
  headers: 32,
  headerBytes: 4096,
  // Invocations (navigations and script calls): a burst, then a steady rate.
  burst: 20,
  perSecond: 5,
  // Other messages (heights, refused links): dropped above this rate, silently.
  chatterPerSecond: 60,
  heightPx: 20000,
});

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
// Headers a frame may never set: credentials, and what the host or a proxy sets.
const DROPPED_HEADER = /^(authorization|proxy-authorization|cookie|cookie2|set-cookie|host|origin|referer|forwarded|x-forwarded-.*|x-real-ip|x-request-id|sec-.*|proxy-.*)$/i;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$/;

// The fields each message type may carry (besides `wb` and `type`), and their checks.
const SHAPES = {
  ready: {},
  activity: {},
  cut: { reason: (v) => ['hung', 'flood', 'too_large', 'error'].includes(v) },
  height: { px: (v) => Number.isFinite(v) && v >= 0 },
  leave: { href: (v) => typeof v === 'string' && v.length <= 2048 },
  image: { src: (v) => typeof v === 'string' && v.length <= 2048 },
  navigate: {
    method: (v) => v === 'GET' || v === 'POST',
    path: isPath,
    query: optional(isQuery),
    contentType: optional((v) => typeof v === 'string' && v.length <= 256 && !/[\r\n]/.test(v)),
    body: optional(isBody),
  },
  invoke: {
    id: (v) => Number.isSafeInteger(v) && v > 0,
    method: (v) => METHODS.has(v),
    path: isPath,
    query: optional(isQuery),
    headers: optional((v) => Array.isArray(v) && v.length <= LIMITS.headers
      && v.every((pair) => Array.isArray(pair) && pair.length === 2 && typeof pair[0] === 'string' && typeof pair[1] === 'string')),
    body: optional(isBody),
  },
};

function optional(check) {
  const f = (v) => v === undefined || check(v);
  f.optional = true;
  return f;
}

function isPath(v) {
  return typeof v === 'string' && v.startsWith('/') && !v.startsWith('//') && v.length <= LIMITS.pathBytes
    && !v.includes('?') && !/[\u0000-\u001f\u007f\s]/.test(v);
}

function isQuery(v) {
  return typeof v === 'string' && v.length <= LIMITS.queryBytes && !/[\u0000-\u001f\u007f]/.test(v);
}

function isBody(v) {
  return typeof v === 'string' || v instanceof ArrayBuffer;
}

function bodySize(v) {
  if (v instanceof ArrayBuffer) return v.byteLength;
  if (typeof v === 'string') return v.length > LIMITS.bodyBytes ? v.length : new TextEncoder().encode(v).length;
  return 0;
}

// Checks a message's shape; returns `{ message }` or `{ refused: reason-code, detail }`.
export function check(data) {
  if (data === null || typeof data !== 'object' || Array.isArray(data) || data.wb !== PROTOCOL) return { refused: 'not_bridge' };
  const shape = Object.prototype.hasOwnProperty.call(SHAPES, data.type) ? SHAPES[data.type] : null;
  if (!shape) return { refused: 'unknown_type', detail: String(data.type).slice(0, 40) };
  for (const key of Object.keys(data)) {
    if (key !== 'wb' && key !== 'type' && !Object.prototype.hasOwnProperty.call(shape, key)) {
      return { refused: 'unknown_field', detail: key.slice(0, 40) };
    }
  }
  if (data.body !== undefined && bodySize(data.body) > LIMITS.bodyBytes) {
    return { refused: 'too_large', detail: String(bodySize(data.body)) };
  }
  for (const [key, valid] of Object.entries(shape)) {
    if (!valid(data[key])) return { refused: 'bad_field', detail: key };
  }
  return { message: data };
}

// A token bucket: `take()` is true while the burst lasts and then at `perSecond`.
export function bucket(burst, perSecond, now = () => performance.now()) {
  let tokens = burst;
  let last = now();
  return {
    take() {
      const t = now();
      tokens = Math.min(burst, tokens + ((t - last) / 1000) * perSecond);
      last = t;
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
  };
}

function base64(buffer) {
  const bytes = new Uint8Array(buffer);
  let text = '';
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

// The invoke request (`POST /me/plugins/{id}/invoke` body) for a checked
// message, and the names of the headers it dropped.
export function invokeRequest(message) {
  const req = { method: message.method, path: message.path };
  if (message.query) req.query = message.query;
  const dropped = [];
  const headers = [];
  for (const [name, value] of message.headers || []) {
    if (DROPPED_HEADER.test(name) || !HEADER_NAME.test(name) || /[\r\n\u0000]/.test(value) || value.length > LIMITS.headerBytes) {
      dropped.push(name.slice(0, 64));
    } else if (name.toLowerCase() !== 'content-type' || !message.contentType) {
      headers.push([name.toLowerCase(), value]);
    }
  }
  if (message.contentType) headers.push(['content-type', message.contentType]);
  if (message.type === 'navigate') headers.push(['accept', 'text/html']);
  if (message.body !== undefined) {
    if (message.body instanceof ArrayBuffer) req.body_base64 = base64(message.body);
    else req.body = message.body;
  }
  if (headers.length) req.headers = headers;
  return { req, dropped };
}

// Connects a frame: `handlers` get checked messages; `refused(code, detail)`
// hears every refusal. Returns `{ send(message), close() }`.
export function connect(frame, handlers) {
  const invocations = bucket(LIMITS.burst, LIMITS.perSecond);
  const chatter = bucket(LIMITS.chatterPerSecond, LIMITS.chatterPerSecond);
  function onMessage(event) {
    // Only that frame's window; its origin is opaque, so 'null'.
    if (!frame.contentWindow || event.source !== frame.contentWindow) return;
    if (event.origin !== 'null') {
      handlers.refused('bad_origin', event.origin);
      return;
    }
    const { message, refused, detail } = check(event.data);
    if (refused) {
      if (refused !== 'not_bridge' || chatter.take()) handlers.refused(refused, detail);
      // A script waiting for an answer hears why there is none.
      const data = event.data;
      if (data && data.type === 'invoke' && Number.isSafeInteger(data.id) && chatter.take()) {
        send({ type: 'reply', id: data.id, error: { code: refused, message: `refused: ${refused}${detail ? ` (${detail})` : ''}` } });
      }
      return;
    }
    if (message.type === 'navigate' || message.type === 'invoke') {
      if (!invocations.take()) {
        handlers.refused('rate_limited', message.type);
        if (message.type === 'invoke') send({ type: 'reply', id: message.id, error: { code: 'rate_limited', message: 'too many requests from this page; wait a moment' } });
        return;
      }
    } else if (!chatter.take()) {
      // Heights may go unheard; a refused way out is always counted.
      if (message.type === 'leave') handlers.refused('rate_limited', 'leave');
      return;
    }
    const handler = handlers[message.type];
    if (handler) handler(message);
  }
  function send(message) {
    // The frame's origin is opaque: '*' is the only target that reaches it.
    if (frame.contentWindow) frame.contentWindow.postMessage({ wb: PROTOCOL, ...message }, '*');
  }
  window.addEventListener('message', onMessage);
  return {
    send,
    close() {
      window.removeEventListener('message', onMessage);
    },
  };
}
