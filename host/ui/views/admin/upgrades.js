// 新版本审核: newer versions of installed plugins with what each changes
// (scopes, requirements, destinations, configuration keys, purposes), to
// approve or decline with a reason; and whether versions that widen
// nothing apply themselves.
import { t } from '../../i18n.js';
import { api, enc } from '../../api.js';
import { h, alertBox, showError, showMessage, clearBox, badge, openDialog, dialogActions, field, busy } from '../../dom.js';
import { scopeChips } from './common.js';

function declineDialog(p) {
  return openDialog({
    title: t('up.declineTitle', { name: p.name, version: p.version }),
    testid: 'upgrade-decline-dialog',
    build(body, close) {
      const reason = h('textarea', { rows: 3, maxlength: 500, required: true, 'data-testid': 'upgrade-decline-reason' });
      const error = alertBox('upgrade-decline-error');
      const send = h('button', { type: 'submit', class: 'btn btn-danger', 'data-testid': 'upgrade-decline-send' }, t('up.decline'));
      const cancel = h('button', { type: 'button', class: 'btn' }, t('common.cancel'));
      cancel.addEventListener('click', () => close(null));
      const form = h('form', { class: 'form' }, field(t('up.declineReason'), reason, t('up.declineHint')), error, dialogActions(cancel, send));
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        clearBox(error);
        busy(send, true);
        try {
          await api('POST', `/workbench/upgrades/${enc(p.plugin)}/decline`, { json: { version: p.version, reason: reason.value.trim() } });
          close(true);
        } catch (err) {
          busy(send, false);
          showError(error, err);
        }
      });
      body.append(form);
    },
  }).done;
}

function diffList(d) {
  const rows = [];
  const line = (label, value, testid) => rows.push(h('div', { class: 'diff-line', 'data-testid': testid }, h('strong', {}, label), ' ', value));
  if (d.added_scopes.length) line(t('up.addedScopes'), scopeChips(d.added_scopes), 'up-added-scopes');
  if (d.newly_required.length) line(t('up.newlyRequired'), scopeChips(d.newly_required), 'up-newly-required');
  if (d.removed_scopes.length) line(t('up.removedScopes'), scopeChips(d.removed_scopes), 'up-removed-scopes');
  if (d.added_destinations.length) line(t('up.addedDestinations'), d.added_destinations.join(', '), 'up-added-destinations');
  if (d.removed_destinations.length) line(t('up.removedDestinations'), d.removed_destinations.join(', '), 'up-removed-destinations');
  if (d.added_config.length) line(t('up.addedConfig'), d.added_config.join(', '), 'up-added-config');
  if (d.removed_config.length) line(t('up.removedConfig'), d.removed_config.join(', '), 'up-removed-config');
  if (d.added_subscriptions && d.added_subscriptions.length) line(t('up.addedSubscriptions'), d.added_subscriptions.join(', '), 'up-added-subscriptions');
  if (d.removed_subscriptions && d.removed_subscriptions.length) line(t('up.removedSubscriptions'), d.removed_subscriptions.join(', '), 'up-removed-subscriptions');
  for (const c of d.purposes) {
    rows.push(h('div', { class: 'diff-line', 'data-testid': 'up-purpose' }, h('strong', {}, t('up.purpose', { what: c.what })),
      h('div', { class: 'muted' }, t('up.before'), ' ', h('del', {}, c.before)), h('div', {}, t('up.after'), ' ', h('ins', {}, c.after))));
  }
  if (!rows.length) rows.push(h('p', { class: 'muted' }, t('up.nothing')));
  return h('div', { class: 'diff' }, rows);
}

// Renders the review into `holder`; `changed()` runs after an approval.
export async function renderUpgrades(holder, status, ctx, changed) {
  let review;
  const error = alertBox('upgrades-error');
  try {
    review = await api('GET', '/workbench/upgrades');
  } catch (err) {
    holder.replaceChildren(error);
    showError(error, err);
    return;
  }
  if (!ctx.alive()) return;
  const autoId = 'auto-apply';
  const auto = h('input', { type: 'checkbox', id: autoId, checked: review.auto_apply, 'data-testid': 'auto-apply' });
  auto.addEventListener('change', async () => {
    clearBox(error);
    try {
      await api('PUT', '/workbench/upgrade-settings', { json: { auto_apply: auto.checked } });
      showMessage(status, auto.checked ? t('up.autoOn') : t('up.autoOff'));
    } catch (err) {
      auto.checked = !auto.checked;
      showError(error, err);
    }
  });
  const cards = review.pending.map((p) => {
    const cardError = alertBox();
    const approve = h('button', { type: 'button', class: 'btn btn-primary', 'aria-label': t('up.approveNamed', { name: p.name, version: p.version }), 'data-testid': `approve-upgrade-${p.plugin}` }, t('up.approve'));
    approve.addEventListener('click', async () => {
      busy(approve, true);
      try {
        await api('POST', `/workbench/upgrades/${enc(p.plugin)}/approve`, { json: { version: p.version } });
        showMessage(status, t('up.approved', { name: p.name, version: p.version }));
        await changed();
      } catch (err) {
        busy(approve, false);
        showError(cardError, err);
      }
    });
    const decline = h('button', { type: 'button', class: 'btn btn-danger', 'aria-label': t('up.declineNamed', { name: p.name, version: p.version }), 'data-testid': `decline-upgrade-${p.plugin}` }, t('up.decline'));
    decline.addEventListener('click', async () => {
      if (await declineDialog(p)) {
        showMessage(status, t('up.declined', { name: p.name, version: p.version }));
        await changed();
      }
    });
    return h('article', { class: 'card', 'data-testid': `pending-${p.plugin}`, lang: p.lang || undefined },
      h('h4', { class: 'card-title' }, p.name, ' ', h('code', {}, `${p.installed} → ${p.version}`), ' ',
        p.widens ? badge(t('up.widens'), 'warn') : badge(t('up.narrows'), 'ok'),
        p.declined ? badge(t('up.declinedBadge'), 'danger') : null),
      p.declined ? h('p', { class: 'notice notice-warn' }, t('up.declinedBy', { by: p.declined.by, reason: p.declined.reason })) : null,
      diffList(p.diff),
      h('p', { class: 'hint' }, t('up.approveHint')),
      h('div', { class: 'form-actions' }, approve, p.declined ? null : decline), cardError);
  });
  holder.replaceChildren(
    h('section', { class: 'card', 'aria-labelledby': 'upgrades-title', 'data-testid': 'upgrade-review' },
      h('h3', { class: 'card-title', id: 'upgrades-title' }, t('up.title')),
      h('div', { class: 'check-row' }, auto, h('label', { for: autoId }, t('up.auto'))),
      error,
      cards.length ? h('div', { class: 'card-list' }, cards) : h('p', { class: 'muted', 'data-testid': 'no-upgrades' }, t('up.none'))));
}
