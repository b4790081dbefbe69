// Calls to the Workbench API. Every failure becomes an ApiError carrying the
// server's `error` code and `message` (or a network message).
import { t, currentLang } from './i18n.js';
import { getSession } from './session.js';

export class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body || {};
  }
}

let unauthorizedHandler = null;
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

export async function api(method, path, opts = {}) {
  const headers = new Headers(opts.headers || {});
  const session = getSession();
  if (session && !opts.anonymous) headers.set('authorization', `Bearer ${session.token}`);
  // Plugins' names, descriptions and purposes come in the page's language when the plugin gives it.
  if (!headers.has('accept-language')) headers.set('accept-language', currentLang());
  let body = opts.body;
  if (opts.json !== undefined) {
    body = JSON.stringify(opts.json);
    if (!headers.has('content-type')) headers.set('content-type', 'application/json');
  }
  let res;
  try {
    res = await fetch(`/api/v1${path}`, { method, headers, body, cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'network', t('error.network'));
  }
  if (opts.raw && res.ok) return res;
  let text = '';
  try {
    text = await res.text();
  } catch {
    throw new ApiError(0, 'network', t('error.network'));
  }
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const code = (data && data.error) || `http_${res.status}`;
    const message = (data && data.message) || t('error.http', { status: res.status });
    const err = new ApiError(res.status, code, message, data);
    if (res.status === 401 && session && !opts.anonymous && unauthorizedHandler) unauthorizedHandler(err);
    throw err;
  }
  return data;
}

// Where a list the server pages by cursor stands: the cursor of the page
// shown (`after`), the next page's cursor as the server gave it, and the
// page's number. `took(page)` records an answer; `advance()` moves to the
// next page (false on the last); `restart()` goes back to the first.
export function cursorPager() {
  return {
    after: null,
    next: null,
    number: 1,
    took(page) {
      this.next = (page && page.next) || null;
    },
    advance() {
      if (!this.next) return false;
      this.after = this.next;
      this.number += 1;
      return true;
    },
    restart() {
      this.after = null;
      this.number = 1;
    },
  };
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

export const enc = encodeURIComponent;

// Fetches with the bearer token and hands the body to the browser as a file.
export async function download(path, filename) {
  const res = await api('GET', path, { raw: true });
  let blob;
  try {
    blob = await res.blob();
  } catch {
    throw new ApiError(0, 'network', t('error.network'));
  }
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30000);
}
