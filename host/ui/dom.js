// Small DOM helpers: element builder, alert regions, dialogs, tables, formatting.
import { t, currentLang } from './i18n.js';

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (typeof v !== 'string' && typeof v !== 'number' && k in el) el[k] = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

let uid = 0;
export function nextId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

// A region that announces failures; empty (and invisible) until something fails.
export function alertBox(testid) {
  return h('div', { role: 'alert', class: 'alert', 'data-testid': testid });
}

export function showError(box, err) {
  const parts = [h('strong', { class: 'alert-title' }, err.code === 'network' ? t('error.networkTitle') : t('error.title')), ' ',
    h('span', { class: 'alert-message' }, err.message)];
  if (err.code && err.code !== 'network') parts.push(' ', h('code', { class: 'alert-code' }, err.code));
  const invocation = err.body && err.body.invocation;
  if (invocation) parts.push(h('div', { class: 'alert-extra' }, t('error.invocation'), ' ', h('code', { 'data-testid': 'invocation-id' }, invocation)));
  box.replaceChildren(...parts);
}

export function showMessage(box, text) {
  box.replaceChildren(h('span', { class: 'alert-message' }, text));
}

export function clearBox(box) {
  box.replaceChildren();
}

// A polite region for confirmations (saved, withdrawn, receipts).
export function statusBox(testid) {
  return h('div', { role: 'status', class: 'notice', 'data-testid': testid });
}

export function fmtTime(ms) {
  if (ms === null || ms === undefined) return '—';
  const locale = currentLang() === 'zh' ? 'zh-CN' : 'en-GB';
  return new Date(ms).toLocaleString(locale, { hour12: false });
}

export function fmtBytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

export function table({ caption, columns, rows, testid, empty }) {
  const thead = h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c))));
  const tbody = h('tbody', {}, rows);
  if (!rows.length && empty) tbody.append(h('tr', {}, h('td', { colspan: String(columns.length), class: 'empty' }, empty)));
  const tbl = h('table', { class: 'table', 'data-testid': testid }, caption ? h('caption', { class: 'sr-only' }, caption) : null, thead, tbody);
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption || t('common.table') }, tbl);
}

export function badge(text, kind) {
  return h('span', { class: `badge badge-${kind || 'neutral'}` }, text);
}

const FOCUSABLE = 'a[href], button:not([disabled]), input:not([disabled]):not([type="hidden"]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])';

function focusables(root) {
  return [...root.querySelectorAll(FOCUSABLE)].filter((el) => !el.closest('[hidden]') && el.getClientRects().length > 0);
}

// An accessible modal: role=dialog, aria-modal, labelled by its heading,
// focus moved in and kept in, Esc closes (resolving `null`), focus returns to the opener.
export function openDialog({ title, build, testid, wide, initialFocus }) {
  const titleId = nextId('dialog-title');
  const dlg = h('dialog', { class: `dialog${wide ? ' dialog-wide' : ''}`, role: 'dialog', 'aria-modal': 'true', 'aria-labelledby': titleId, 'data-testid': testid });
  const opener = document.activeElement;
  let resolveDone;
  const done = new Promise((resolve) => { resolveDone = resolve; });
  let closed = false;
  // While a workbench dialog is open no plugin frame can take focus or keys.
  const frames = [...document.querySelectorAll('iframe')].filter((f) => !f.inert);
  for (const f of frames) f.inert = true;
  const close = (value) => {
    if (closed) return;
    closed = true;
    dlg.close();
    dlg.remove();
    for (const f of frames) f.inert = false;
    if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
    resolveDone(value);
  };
  const heading = h('h2', { id: titleId, class: 'dialog-title' }, title);
  const body = h('div', { class: 'dialog-body' });
  dlg.append(heading, body);
  build(body, close);
  dlg.addEventListener('cancel', (e) => {
    e.preventDefault();
    close(null);
  });
  dlg.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      close(null);
      return;
    }
    if (e.key !== 'Tab') return;
    const items = focusables(dlg);
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (e.shiftKey && (document.activeElement === first || !dlg.contains(document.activeElement))) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && (document.activeElement === last || !dlg.contains(document.activeElement))) {
      e.preventDefault();
      first.focus();
    }
  });
  document.body.append(dlg);
  dlg.showModal();
  const target = (initialFocus && initialFocus(dlg)) || focusables(body)[0] || heading;
  if (target === heading) heading.tabIndex = -1;
  target.focus();
  return { dialog: dlg, close, done };
}

export function dialogActions(...buttons) {
  return h('div', { class: 'dialog-actions' }, buttons);
}

// Asks "are you sure"; resolves true only on the confirm button.
export function confirmDialog({ title, message, confirmLabel, danger, testid }) {
  const { done } = openDialog({
    title,
    testid: testid || 'confirm-dialog',
    build(body, close) {
      body.append(
        h('p', { class: 'dialog-message' }, message),
        dialogActions(
          h('button', { type: 'button', class: 'btn', onclick: () => close(false) }, t('common.cancel')),
          h('button', { type: 'button', class: `btn ${danger ? 'btn-danger' : 'btn-primary'}`, onclick: () => close(true) }, confirmLabel),
        ),
      );
    },
    initialFocus: (dlg) => dlg.querySelector('.dialog-actions .btn'),
  });
  return done.then((v) => v === true);
}

export function field(labelText, control, hint) {
  const id = control.id || nextId('f');
  control.id = id;
  const hintEl = hint ? h('p', { class: 'hint', id: `${id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: id }, labelText), control, hintEl);
}

export function busy(button, on) {
  button.disabled = on;
  button.setAttribute('aria-busy', on ? 'true' : 'false');
}
