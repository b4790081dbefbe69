// 审计日志: filters, pages, verification and the export of the tenant's audit log.
import { t, outcomeLabel, actionLabel } from '../../i18n.js';
import { api, query, download, cursorPager } from '../../api.js';
import { h, alertBox, showError, clearBox, badge, table, fmtTime, field, busy } from '../../dom.js';

// The server's audit actions, in its order: the `Action` enum of the OpenAPI
// document it serves (no list of them is kept here). Without the document
// the filter offers "any" only.
async function loadActions() {
  try {
    const doc = await api('GET', '/openapi.json', { anonymous: true });
    const actions = doc && doc.components && doc.components.schemas && doc.components.schemas.Action;
    return actions && Array.isArray(actions.enum) ? actions.enum : [];
  } catch {
    return [];
  }
}

function toMs(value) {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : null;
}

export async function renderAudit(section, ctx) {
  const ACTIONS = await loadActions();
  const verify = h('div', { class: 'verify', role: 'status', 'data-testid': 'verify-badge' }, t('audit.verifying'));
  const error = alertBox('audit-error');
  const exportError = alertBox('audit-export-error');

  const subject = h('input', { type: 'text', list: 'audit-members', autocomplete: 'off', 'data-testid': 'filter-subject' });
  const plugin = h('input', { type: 'text', list: 'audit-plugins', autocomplete: 'off', 'data-testid': 'filter-plugin' });
  const actor = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'member:wang.fang', 'data-testid': 'filter-actor' });
  const action = h('select', { 'data-testid': 'filter-action' }, h('option', { value: '' }, t('audit.any')), ACTIONS.map((a) => h('option', { value: a }, `${actionLabel(a)} (${a})`)));
  const outcome = h('select', { 'data-testid': 'filter-outcome' }, h('option', { value: '' }, t('audit.any')), ['allowed', 'denied', 'failed', 'trapped'].map((o) => h('option', { value: o }, outcomeLabel(o))));
  const destination = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'https://api.acme.example', 'data-testid': 'filter-destination' });
  const from = h('input', { type: 'datetime-local', step: '1', 'data-testid': 'filter-from' });
  const to = h('input', { type: 'datetime-local', step: '1', 'data-testid': 'filter-to' });
  const memberList = h('datalist', { id: 'audit-members' });
  const pluginList = h('datalist', { id: 'audit-plugins' });
  const apply = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'filter-apply' }, t('audit.apply'));
  const reset = h('button', { type: 'button', class: 'btn' }, t('audit.reset'));
  const exportButton = h('button', { type: 'button', class: 'btn', 'data-testid': 'audit-export' }, t('audit.export'));
  const form = h('form', { class: 'filters card', 'aria-label': t('audit.filters') },
    h('div', { class: 'form-grid' },
      field(t('audit.subject'), subject), field(t('audit.plugin'), plugin), field(t('audit.actor'), actor),
      field(t('audit.action'), action), field(t('audit.outcome'), outcome), field(t('audit.destination'), destination),
      field(t('audit.from'), from), field(t('audit.to'), to)),
    memberList, pluginList,
    h('div', { class: 'form-actions' }, apply, reset, exportButton), exportError);
  const summary = h('p', { class: 'muted', 'aria-live': 'polite', 'data-testid': 'audit-summary' });
  const holder = h('div');
  const first = h('button', { type: 'button', class: 'btn', 'data-testid': 'audit-first' }, t('audit.first'));
  const nextButton = h('button', { type: 'button', class: 'btn', 'data-testid': 'audit-next' }, t('audit.next'));
  section.append(h('p', { class: 'muted' }, t('audit.lead')), verify, form, error, summary, holder, h('div', { class: 'pager' }, first, nextButton));

  const PAGE = 50;
  let filters = {};
  const pager = cursorPager();

  function currentFilters() {
    return {
      subject: subject.value.trim(), plugin: plugin.value.trim(), actor: actor.value.trim(), action: action.value, outcome: outcome.value,
      destination: destination.value.trim(),
      from: toMs(from.value), to: toMs(to.value),
    };
  }

  async function load() {
    clearBox(error);
    summary.dataset.loaded = 'false';
    let page;
    try {
      page = await api('GET', `/audit${query({ ...filters, after: pager.after, limit: PAGE })}`);
    } catch (err) {
      showError(error, err);
      summary.dataset.loaded = 'true';
      return;
    }
    if (!ctx.alive()) return;
    pager.took(page);
    nextButton.disabled = !pager.next;
    first.disabled = pager.number === 1;
    summary.textContent = t('audit.summary', { page: pager.number, n: page.records.length });
    holder.replaceChildren(table({
      caption: t('audit.table'), testid: 'audit-table',
      columns: [t('col.seq'), t('col.time'), t('col.actor'), t('col.subject'), t('col.action'), t('col.scope'), t('col.outcome'), t('col.detail'), t('col.invocation')],
      rows: page.records.map((r) => h('tr', { 'data-seq': String(r.seq), 'data-action': r.action, 'data-outcome': r.outcome, 'data-subject': r.subject || '', 'data-actor': r.actor },
        h('td', {}, String(r.seq)), h('td', { class: 'nowrap' }, fmtTime(r.ts_ms)), h('td', { class: 'nowrap' }, h('code', {}, r.actor)), h('td', {}, r.subject || '—'),
        h('td', { class: 'nowrap' }, actionLabel(r.action), h('br'), h('code', { class: 'muted small' }, r.action)),
        h('td', {}, r.egress ? h('code', {}, `${r.egress.method} ${r.egress.destination}${r.egress.path}`) : r.scope ? h('code', {}, r.scope) : '—'),
        h('td', {}, badge(outcomeLabel(r.outcome), r.outcome === 'allowed' ? 'ok' : 'danger')),
        h('td', { class: 'detail' }, r.purpose ? h('div', {}, h('span', { class: 'muted' }, t('consent.purpose')), r.purpose) : null, r.reason ? h('div', {}, r.reason) : null,
          r.egress ? h('div', { 'data-testid': 'audit-egress' }, t('audit.egressDetail', {
            status: r.egress.status == null ? '—' : String(r.egress.status), out: r.egress.bytes_out, in: r.egress.bytes_in, ms: r.egress.duration_ms,
            fields: r.egress.could_include.length ? r.egress.could_include.join(', ') : '—',
          })) : null),
        h('td', {}, r.invocation ? h('code', { class: 'hash' }, r.invocation) : '—'))),
      empty: t('audit.empty'),
    }));
    summary.dataset.loaded = 'true';
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    filters = currentFilters();
    pager.restart();
    busy(apply, true);
    await load();
    busy(apply, false);
  });
  reset.addEventListener('click', async () => {
    form.reset();
    filters = {};
    pager.restart();
    await load();
  });
  nextButton.addEventListener('click', async () => {
    if (!pager.advance()) return;
    await load();
    if (nextButton.disabled) first.focus();
  });
  first.addEventListener('click', async () => {
    pager.restart();
    await load();
    nextButton.focus();
  });
  exportButton.addEventListener('click', async () => {
    clearBox(exportError);
    busy(exportButton, true);
    try {
      await download(`/audit/export${query(filters)}`, 'workbench-audit.ndjson');
    } catch (err) {
      showError(exportError, err);
    } finally {
      busy(exportButton, false);
    }
  });

  async function loadVerify() {
    try {
      const v = await api('GET', '/audit/verify');
      verify.className = `verify ${v.ok ? 'verify-ok' : 'verify-bad'}`;
      verify.dataset.ok = String(v.ok);
      verify.replaceChildren(
        h('strong', {}, v.ok ? t('audit.verifyOk') : t('audit.verifyBad')), ' ',
        t('audit.verifyDetail', { records: v.records, seq: v.checkpointed_seq }),
        v.anchored_seq ? [' ', h('span', { 'data-testid': 'verify-anchored' }, t('audit.verifyAnchored', { seq: v.anchored_seq }))] : null,
        h('div', { hidden: !v.error }, v.error || ''),
        h('details', {}, h('summary', {}, t('audit.publicKey')), h('code', { class: 'hash' }, v.public_key)));
    } catch (err) {
      verify.className = 'verify verify-bad';
      verify.dataset.ok = 'error';
      verify.replaceChildren(h('strong', {}, t('audit.verifyFailed')), ' ', err.message, ' ', h('code', {}, err.code));
    }
  }

  // Suggestions for the filters.
  Promise.all([api('GET', '/members'), api('GET', '/plugins')]).then(([members, plugins]) => {
    memberList.replaceChildren(...members.map((m) => h('option', { value: m.id }, m.profile.name || m.id)));
    pluginList.replaceChildren(...plugins.map((p) => h('option', { value: p.id }, p.name)));
  }, () => {});

  await Promise.all([loadVerify(), load()]);
}
