// Pieces the admin tabs share: focus after a rebuild, scope chips, the visible range, a deletion receipt, and loading the catalogue, installations and members together.
import { t } from '../../i18n.js';
import { api } from '../../api.js';
import { h, showError, fmtTime } from '../../dom.js';

// After a list is rebuilt, focus that sat on a removed control goes to the section heading.
export function keepFocus() {
  const active = document.activeElement;
  if (document.querySelector('dialog[open]')) return;
  if (!active || active === document.body || !active.isConnected) {
    const title = document.getElementById('admin-section-title');
    if (title) {
      title.tabIndex = -1;
      title.focus();
    }
  }
}

export const scopeChips = (scopes) => h('span', { class: 'chips' }, scopes.length ? scopes.map((s) => h('code', { class: 'chip' }, s)) : '—');

export function receiptView(r) {
  return h('div', { class: 'receipt', 'data-testid': 'receipt' },
    h('strong', {}, t('receipt.title', { removed: r.removed })),
    h('dl', { class: 'dl' },
      h('dt', {}, t('receipt.consents')), h('dd', { 'data-testid': 'receipt-consents' }, String(r.consents_deleted)),
      h('dt', {}, t('receipt.storage')), h('dd', {}, String(r.storage_entries_deleted)),
      h('dt', {}, t('receipt.at')), h('dd', {}, fmtTime(r.deleted_at_ms)),
      h('dt', {}, t('receipt.audit')), h('dd', {}, `#${r.audit_seq}`)));
}

export async function loadAll(errorBox) {
  try {
    const [catalogue, installed, members, departments] = await Promise.all([
      api('GET', '/plugins'), api('GET', '/workbench/plugins'), api('GET', '/members'), api('GET', '/departments'),
    ]);
    return { catalogue, installed, members, departments };
  } catch (err) {
    showError(errorBox, err);
    return null;
  }
}
