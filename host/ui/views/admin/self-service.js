// 自助开通: what members may do with each catalogue plugin (nothing, ask,
// open it themselves) within which bounds, the queue of requests to
// approve or decline with a reason, and who opened what (with an end).
import { t, fieldLabel } from '../../i18n.js';
import { api, enc } from '../../api.js';
import { h, alertBox, showError, showMessage, statusBox, clearBox, badge, table, fmtTime, openDialog, dialogActions, field, busy, nextId } from '../../dom.js';
import { keepFocus } from './common.js';

const MODES = ['none', 'request', 'open'];

function declineDialog(request) {
  return openDialog({
    title: t('ss.declineTitle', { plugin: request.plugin, member: request.member }),
    testid: 'decline-dialog',
    build(body, close) {
      const reason = h('textarea', { rows: 3, maxlength: 500, required: true, 'data-testid': 'decline-reason' });
      const error = alertBox('decline-error');
      const send = h('button', { type: 'submit', class: 'btn btn-danger', 'data-testid': 'decline-send' }, t('ss.decline'));
      const cancel = h('button', { type: 'button', class: 'btn' }, t('common.cancel'));
      cancel.addEventListener('click', () => close(null));
      const form = h('form', { class: 'form' }, field(t('ss.declineReason'), reason, t('ss.declineHint')), error, dialogActions(cancel, send));
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        clearBox(error);
        busy(send, true);
        try {
          close(await api('POST', `/workbench/requests/${request.id}/decide`, { json: { approve: false, reason: reason.value.trim() } }));
        } catch (err) {
          busy(send, false);
          showError(error, err);
        }
      });
      body.append(form);
    },
  }).done;
}

export async function renderSelfService(section, ctx) {
  const status = statusBox('self-service-status');
  const error = alertBox('self-service-error');
  const policies = h('div', { class: 'card-list', 'data-testid': 'self-service-policies' });
  const queue = h('div', { 'data-testid': 'request-queue' });
  const openings = h('div', { 'data-testid': 'openings' });
  section.append(h('p', { class: 'muted' }, t('ss.lead')), status, error,
    h('h3', { class: 'sub-title' }, t('ss.queue')), queue,
    h('h3', { class: 'sub-title' }, t('ss.openings')), openings,
    h('h3', { class: 'sub-title' }, t('ss.policies')), policies);

  async function load() {
    let catalogue; let overview;
    try {
      [catalogue, overview] = await Promise.all([api('GET', '/plugins'), api('GET', '/workbench/self-service')]);
    } catch (err) {
      showError(error, err);
      return;
    }
    if (!ctx.alive()) return;
    clearBox(error);
    const pending = overview.requests.filter((r) => r.state === 'pending');
    queue.replaceChildren(table({
      caption: t('ss.queue'), testid: 'requests-table',
      columns: [t('col.time'), t('ss.member'), t('ss.plugin'), t('ss.reason'), t('col.actions')],
      empty: t('ss.noRequests'),
      rows: pending.map((r) => {
        const rowError = alertBox();
        const approve = h('button', { type: 'button', class: 'btn btn-small btn-primary', 'aria-label': t('ss.approveNamed', { plugin: r.plugin, member: r.member }), 'data-testid': `approve-${r.id}` }, t('ss.approve'));
        approve.addEventListener('click', async () => {
          busy(approve, true);
          try {
            await api('POST', `/workbench/requests/${r.id}/decide`, { json: { approve: true } });
            showMessage(status, t('ss.approved', { plugin: r.plugin, member: r.member }));
            await load();
          } catch (err) {
            busy(approve, false);
            showError(rowError, err);
          }
        });
        const decline = h('button', { type: 'button', class: 'btn btn-small btn-danger', 'aria-label': t('ss.declineNamed', { plugin: r.plugin, member: r.member }), 'data-testid': `decline-${r.id}` }, t('ss.decline'));
        decline.addEventListener('click', async () => {
          if (await declineDialog(r)) {
            showMessage(status, t('ss.declined', { plugin: r.plugin, member: r.member }));
            await load();
          }
        });
        return h('tr', { 'data-request': r.id }, h('td', { class: 'nowrap' }, fmtTime(r.created_at_ms)), h('td', {}, h('code', {}, r.member)),
          h('td', {}, h('code', {}, r.plugin)), h('td', {}, r.reason || '—'), h('td', { class: 'actions-cell' }, approve, ' ', decline, rowError));
      }),
    }));
    openings.replaceChildren(table({
      caption: t('ss.openings'), testid: 'openings-table',
      columns: [t('ss.plugin'), t('ss.member'), t('ss.via'), t('col.time'), t('col.actions')],
      empty: t('ss.noOpenings'),
      rows: overview.openings.map((o) => {
        const rowError = alertBox();
        const end = h('button', { type: 'button', class: 'btn btn-small btn-danger', 'aria-label': t('ss.endNamed', { plugin: o.plugin, member: o.member }), 'data-testid': `end-opening-${o.plugin}-${o.member}` }, t('ss.end'));
        end.addEventListener('click', async () => {
          try {
            await api('DELETE', `/workbench/self-service/${enc(o.plugin)}/openings/${enc(o.member)}`);
            showMessage(status, t('ss.ended', { plugin: o.plugin, member: o.member }));
            await load();
          } catch (err) {
            showError(rowError, err);
          }
        });
        return h('tr', {}, h('td', {}, h('code', {}, o.plugin)), h('td', {}, h('code', {}, o.member)),
          h('td', {}, o.via === 'approved' ? t('ss.viaApproved') : t('ss.viaOpened')), h('td', { class: 'nowrap' }, fmtTime(o.opened_at_ms)),
          h('td', { class: 'actions-cell' }, end, rowError));
      }),
    }));
    const current = new Map(overview.policies.map((p) => [p.plugin, p]));
    policies.replaceChildren(...catalogue.map((entry) => {
      const latest = entry.versions.find((v) => v.version === entry.latest) || entry.versions[entry.versions.length - 1];
      const policy = current.get(entry.id) || { mode: 'none', scopes: [], egress: [] };
      const cardError = alertBox();
      const modeSelect = h('select', { 'data-testid': `mode-${entry.id}` }, MODES.map((m) => h('option', { value: m, selected: policy.mode === m || null }, t(`ss.mode.${m}`))));
      const scopeBoxes = latest.scopes.map((s) => {
        const id = nextId('bound');
        const input = h('input', { type: 'checkbox', id, value: s.scope, checked: policy.scopes.includes(s.scope), 'data-testid': `bound-${entry.id}-${s.scope}` });
        return { input, sensitive: s.sensitive, row: h('li', { class: 'check-row' }, input, h('label', { for: id }, fieldLabel(s), ' ', h('code', { class: 'scope-code' }, s.scope), s.required ? badge(t('consent.required'), 'warn') : null, s.sensitive ? badge(t('consent.sensitiveTag'), 'danger') : null)) };
      });
      const egressBoxes = (latest.destinations || []).map((d) => {
        const id = nextId('bound');
        const input = h('input', { type: 'checkbox', id, value: d.destination, checked: policy.egress.includes(d.destination) });
        return { input, row: h('li', { class: 'check-row' }, input, h('label', { for: id }, h('code', {}, d.destination))) };
      });
      const save = h('button', { type: 'button', class: 'btn btn-primary', 'aria-label': t('ss.saveNamed', { name: entry.name }), 'data-testid': `save-policy-${entry.id}` }, t('common.save'));
      save.addEventListener('click', async () => {
        clearBox(cardError);
        busy(save, true);
        try {
          await api('PUT', `/workbench/self-service/${enc(entry.id)}`, { json: {
            mode: modeSelect.value,
            scopes: scopeBoxes.filter((b) => b.input.checked).map((b) => b.input.value),
            egress: egressBoxes.filter((b) => b.input.checked).map((b) => b.input.value),
          } });
          showMessage(status, t('ss.saved', { name: entry.name }));
        } catch (err) {
          showError(cardError, err);
        } finally {
          busy(save, false);
        }
      });
      return h('article', { class: 'card', 'data-testid': `policy-${entry.id}` },
        h('h4', { class: 'card-title' }, entry.name, ' ', h('code', {}, entry.id), ' ', badge(`${t('common.version')} ${latest.version}`, 'neutral')),
        field(t('ss.mode'), modeSelect),
        h('fieldset', { class: 'scope-group' }, h('legend', {}, t('ss.bounds')), h('p', { class: 'hint' }, t('ss.boundsHint')), h('ul', { class: 'check-list' }, scopeBoxes.map((b) => b.row))),
        egressBoxes.length ? h('fieldset', { class: 'scope-group' }, h('legend', {}, t('ss.egress')), h('ul', { class: 'check-list' }, egressBoxes.map((b) => b.row))) : null,
        h('div', { class: 'form-actions' }, save), cardError);
    }));
    keepFocus();
  }
  await load();
}
