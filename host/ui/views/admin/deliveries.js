// 事件投递: the tenant's deliveries of events to its plugins, newest first,
// dead letters on their own when asked; each dead letter with its last
// error and a replay button (the replay is audited).
import { t } from '../../i18n.js';
import { api, query } from '../../api.js';
import { h, alertBox, showError, showMessage, statusBox, clearBox, badge, table, fmtTime, busy, nextId } from '../../dom.js';

const STATE_KIND = { pending: 'warn', done: 'ok', dead: 'danger' };

export async function renderDeliveries(section, ctx) {
  const status = statusBox('deliveries-status');
  const error = alertBox('deliveries-error');
  const holder = h('div', { 'data-testid': 'deliveries' });
  const filterId = nextId('deliveries-filter');
  const filter = h('select', { id: filterId, 'data-testid': 'deliveries-filter' },
    h('option', { value: '' }, t('dl.all')),
    h('option', { value: 'dead' }, t('dl.deadOnly')),
    h('option', { value: 'pending' }, t('dl.pendingOnly')));
  section.append(
    h('p', { class: 'muted' }, t('dl.lead')),
    h('div', { class: 'toolbar' }, h('label', { for: filterId }, t('dl.show')), ' ', filter),
    error, status, holder,
  );

  async function load() {
    let list;
    try {
      list = await api('GET', `/workbench/deliveries${query({ state: filter.value || undefined })}`);
    } catch (err) {
      showError(error, err);
      return;
    }
    if (!ctx.alive()) return;
    clearBox(error);
    holder.replaceChildren(table({
      caption: t('admin.tab.deliveries'), testid: 'deliveries-table',
      columns: [t('col.time'), t('dl.plugin'), t('dl.kind'), t('dl.event'), t('dl.state'), t('dl.attempts'), t('dl.detail'), t('col.actions')],
      empty: t('dl.none'),
      rows: list.map((d) => {
        const rowError = alertBox();
        let action = null;
        if (d.state === 'dead') {
          action = h('button', {
            type: 'button', class: 'btn btn-small btn-primary', 'data-testid': `replay-${d.id}`,
            'aria-label': t('dl.replayNamed', { plugin: d.plugin, event: d.event_id }),
          }, t('dl.replay'));
          action.addEventListener('click', async () => {
            busy(action, true);
            try {
              await api('POST', `/workbench/deliveries/${encodeURIComponent(d.id)}/replay`);
              showMessage(status, t('dl.replayed', { plugin: d.plugin, event: d.event_id }));
              await load();
            } catch (err) {
              busy(action, false);
              showError(rowError, err);
            }
          });
        }
        // A done delivery's former failure (before a retry or a replay) is
        // history, not its state: the error shows while it matters.
        const failedBefore = d.attempts > 0 && d.last_error;
        let detail = '';
        if (d.state === 'pending') {
          detail = [t('dl.next', { time: fmtTime(d.next_at_ms) }), failedBefore ? d.last_error : ''].filter(Boolean).join(' · ');
        } else if (d.state === 'dead') {
          detail = d.last_error || '';
        }
        return h('tr', { 'data-testid': `delivery-${d.id}`, 'data-state': d.state },
          h('td', {}, fmtTime(d.updated_at_ms)),
          h('td', {}, d.plugin),
          h('td', {}, d.kind),
          h('td', { class: 'mono' }, d.event_id),
          h('td', {}, badge(t(`dl.state.${d.state}`), STATE_KIND[d.state])),
          h('td', {}, String(d.attempts)),
          h('td', { class: 'wrap', 'data-testid': 'delivery-detail' }, detail),
          h('td', {}, action, rowError));
      }),
    }));
  }
  filter.addEventListener('change', () => { clearBox(status); load(); });
  await load();
}
