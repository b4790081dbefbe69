// 我的数据: my consents with withdrawal, who read my data, the export, and
// signing out everywhere.
import { t, stateLabel, outcomeLabel, fieldLabel } from '../i18n.js';
import { api, enc, query, download, cursorPager } from '../api.js';
import { clearSession } from '../session.js';
import { h, alertBox, showError, showMessage, statusBox, clearBox, badge, table, fmtTime, confirmDialog, busy } from '../dom.js';

export async function renderMyData(main, ctx) {
  main.append(
    h('h1', { class: 'page-title', tabindex: '-1' }, t('my.title')),
    h('p', { class: 'lead' }, t('my.lead')),
  );

  // Consents.
  const consentStatus = statusBox('consent-status');
  const consentError = alertBox('consent-list-error');
  const consentList = h('div', { class: 'card-list', 'data-testid': 'my-consents' });
  main.append(h('section', { class: 'section', 'aria-labelledby': 'my-consents-title' },
    h('h2', { id: 'my-consents-title', class: 'section-title' }, t('my.consents')),
    h('p', { class: 'muted' }, t('my.consentsLead')),
    consentStatus, consentError, consentList));

  // Receipts: the signed record I keep of each consent and withdrawal.
  const receiptError = alertBox('receipt-error');
  const receiptHolder = h('div', { 'data-testid': 'my-receipts' });
  main.append(h('section', { class: 'section', 'aria-labelledby': 'my-receipts-title' },
    h('h2', { id: 'my-receipts-title', class: 'section-title' }, t('my.receipts')),
    h('p', { class: 'muted' }, t('my.receiptsLead')),
    receiptError, receiptHolder));

  // Access log.
  const accessError = alertBox('access-error');
  const accessRows = [];
  const accessHolder = h('div');
  const moreButton = h('button', { type: 'button', class: 'btn', hidden: true, 'data-testid': 'access-more' }, t('my.more'));
  main.append(h('section', { class: 'section', 'aria-labelledby': 'my-access-title' },
    h('h2', { id: 'my-access-title', class: 'section-title' }, t('my.access')),
    h('p', { class: 'muted' }, t('my.accessLead')),
    accessError, accessHolder, h('div', { class: 'pager' }, moreButton)));

  // Export.
  const exportError = alertBox('export-error');
  const exportStatus = statusBox('export-status');
  const exportButton = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'my-export' }, t('my.exportButton'));
  main.append(h('section', { class: 'section', 'aria-labelledby': 'my-export-title' },
    h('h2', { id: 'my-export-title', class: 'section-title' }, t('my.export')),
    h('p', { class: 'muted' }, t('my.exportLead')),
    h('div', { class: 'form-actions' }, exportButton), exportStatus, exportError));
  // Sign out everywhere: every token of mine issued until now stops working.
  const endError = alertBox('end-sessions-error');
  const endButton = h('button', { type: 'button', class: 'btn btn-danger', 'data-testid': 'end-my-sessions' }, t('my.endSessionsButton'));
  main.append(h('section', { class: 'section', 'aria-labelledby': 'my-sessions-title' },
    h('h2', { id: 'my-sessions-title', class: 'section-title' }, t('my.sessions')),
    h('p', { class: 'muted' }, t('my.sessionsLead')),
    h('div', { class: 'form-actions' }, endButton), endError));
  endButton.addEventListener('click', async () => {
    const ok = await confirmDialog({ title: t('my.endSessionsTitle'), message: t('my.endSessionsMessage'), confirmLabel: t('my.endSessionsButton'), danger: true });
    if (!ok) return;
    clearBox(endError);
    busy(endButton, true);
    try {
      await api('POST', '/me/sessions/end');
    } catch (err) {
      busy(endButton, false);
      showError(endError, err);
      return;
    }
    // This tab's token ended with the others: the next call says so and
    // the page signs out with that notice.
    try {
      await api('GET', '/me/plugins');
    } catch {
      return;
    }
    clearSession();
    location.hash = '#/signin';
  });
  exportButton.addEventListener('click', async () => {
    clearBox(exportError);
    busy(exportButton, true);
    try {
      await download('/me/export', `workbench-${ctx.session.member}-export.json`);
      showMessage(exportStatus, t('my.exported'));
    } catch (err) {
      showError(exportError, err);
    } finally {
      busy(exportButton, false);
    }
  });

  let names = {};

  async function withdraw(d, scopes, button, errorBox) {
    const fields = scopes
      ? d.scopes.filter((s) => scopes.includes(s.scope)).map((s) => fieldLabel(s)).join('、')
      : t('my.allScopes');
    const ok = await confirmDialog({
      title: t('my.withdrawTitle', { name: d.name }),
      message: t('my.withdrawMessage', { name: d.name, fields }),
      confirmLabel: t('my.withdrawConfirm'),
      danger: true,
      testid: 'withdraw-dialog',
    });
    if (!ok) return;
    clearBox(errorBox);
    busy(button, true);
    try {
      await api('DELETE', `/me/plugins/${enc(d.plugin)}/consent${query({ scopes: scopes ? scopes.join(',') : null })}`);
      await loadConsents();
      await loadReceipts();
      showMessage(consentStatus, t('my.withdrawn', { name: d.name, fields }));
      const title = document.getElementById('my-consents-title');
      if (title) {
        title.tabIndex = -1;
        title.focus();
      }
    } catch (err) {
      if (button.isConnected) busy(button, false);
      showError(errorBox, err);
    }
  }

  async function loadConsents() {
    let plugins;
    try {
      plugins = await api('GET', '/me/plugins');
    } catch (err) {
      showError(consentError, err);
      return;
    }
    names = Object.fromEntries(plugins.map((p) => [p.plugin, p.name]));
    const results = await Promise.all(plugins.map((p) => api('GET', `/me/plugins/${enc(p.plugin)}/consent`).then((d) => ({ d }), (err) => ({ err, p }))));
    if (!ctx.alive()) return;
    clearBox(consentError);
    consentList.replaceChildren();
    if (!results.length) consentList.append(h('p', { class: 'empty-state' }, t('my.noPlugins')));
    for (const r of results) {
      if (r.err) {
        const box = alertBox();
        showError(box, r.err);
        consentList.append(h('article', { class: 'card' }, h('h3', { class: 'card-title' }, r.p.name), box));
        continue;
      }
      const d = r.d;
      const errorBox = alertBox(`withdraw-error-${d.plugin}`);
      const personal = d.scopes.filter((s) => s.category !== 'capability' && s.state !== 'not_granted');
      const consented = personal.filter((s) => s.state === 'consented');
      const rows = personal.map((s) => {
        const button = s.state === 'consented'
          ? h('button', { type: 'button', class: 'btn btn-small', 'aria-label': t('my.withdrawScopeNamed', { name: d.name, field: fieldLabel(s) }), 'data-testid': `withdraw-${d.plugin}-${s.scope}` }, t('my.withdrawScope'))
          : null;
        if (button) button.addEventListener('click', () => withdraw(d, [s.scope], button, errorBox));
        return h('tr', { 'data-scope': s.scope },
          h('td', {}, h('span', { class: 'scope-field' }, fieldLabel(s)), h('br'), h('code', { class: 'scope-code' }, s.scope), s.sensitive ? [' ', badge(t('consent.sensitiveTag'), 'danger')] : null),
          h('td', {}, s.purpose, s.consent_days ? h('div', { class: 'muted small' }, t('consent.lasts', { days: s.consent_days })) : null),
          h('td', {}, badge(stateLabel(s.state), s.state === 'consented' ? 'ok' : 'neutral')),
          h('td', {}, button));
      });
      const allButton = h('button', { type: 'button', class: 'btn btn-danger', 'data-testid': `withdraw-all-${d.plugin}`, 'aria-label': t('my.withdrawAllNamed', { name: d.name }) }, t('my.withdrawAll'));
      allButton.addEventListener('click', () => withdraw(d, null, allButton, errorBox));
      consentList.append(h('article', { class: 'card', 'data-testid': `consent-card-${d.plugin}`, 'aria-labelledby': `consent-card-title-${d.plugin}` },
        h('div', { class: 'card-head' },
          h('h3', { class: 'card-title', id: `consent-card-title-${d.plugin}` }, d.name),
          d.usable ? badge(t('wb.usable'), 'ok') : badge(t('wb.needsConsent'), 'warn')),
        h('p', { class: 'muted' }, t('consent.recipient'), ' ', h('strong', {}, d.recipient && d.recipient.name), d.recipient && d.recipient.contact ? ` · ${d.recipient.contact}` : ''),
        table({ caption: t('my.scopesOf', { name: d.name }), columns: [t('col.field'), t('col.purpose'), t('col.state'), t('col.actions')], rows, empty: t('my.noScopes') }),
        consented.length ? h('div', { class: 'form-actions' }, allButton) : h('p', { class: 'muted' }, t('my.nothingConsented')),
        errorBox));
    }
  }

  async function loadReceipts() {
    let list;
    try {
      list = await api('GET', '/me/receipts');
    } catch (err) {
      showError(receiptError, err);
      return;
    }
    if (!ctx.alive()) return;
    clearBox(receiptError);
    const rows = list.map((r) => {
      const name = names[r.plugin] || r.plugin;
      const what = r.action === 'consent.withdraw' ? t('my.receiptWithdraw') : t('my.receiptGrant');
      const button = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': `receipt-${r.audit_seq}`, 'aria-label': t('my.receiptDownloadNamed', { name, what, time: fmtTime(r.issued_at_ms) }) }, t('my.receiptDownload'));
      button.addEventListener('click', async () => {
        clearBox(receiptError);
        busy(button, true);
        try {
          await download(`/me/receipts/${r.audit_seq}`, `consent-receipt-${r.audit_seq}.json`);
        } catch (err) {
          showError(receiptError, err);
        } finally {
          busy(button, false);
        }
      });
      return h('tr', { 'data-seq': String(r.audit_seq) },
        h('td', { class: 'nowrap' }, fmtTime(r.issued_at_ms)),
        h('td', {}, name),
        h('td', {}, what),
        h('td', {}, button));
    });
    receiptHolder.replaceChildren(table({
      caption: t('my.receipts'), testid: 'receipts',
      columns: [t('col.time'), t('col.name'), t('my.receiptAction'), t('col.actions')],
      rows, empty: t('my.noReceipts'),
    }));
  }

  function byLabel(by) {
    const m = /^plugin:([^@]+)@(.+)$/.exec(by || '');
    if (m) return names[m[1]] ? `${names[m[1]]} (${m[1]}@${m[2]})` : by;
    const a = /^admin:(.+)$/.exec(by || '');
    if (a) return t('my.byAdmin', { id: a[1] });
    return by;
  }

  const pager = cursorPager();
  // A request a plugin sent while serving you: where, and which of your
  // fields it had read by then (what could have gone with it).
  function sentTo(a) {
    const fields = a.could_include.map((scope) => fieldLabel({ scope, field: scope })).join(t('my.fieldSeparator'));
    const text = fields ? t('my.sentTo', { destination: a.sent_to, fields }) : t('my.sentNothing', { destination: a.sent_to });
    return h('span', { 'data-testid': 'sent-to' }, text);
  }
  async function loadAccess(append) {
    clearBox(accessError);
    let page;
    try {
      page = await api('GET', `/me/access-log${query({ after: append ? pager.next : null, limit: 50 })}`);
    } catch (err) {
      showError(accessError, err);
      return;
    }
    if (!ctx.alive()) return;
    for (const a of page.accesses) {
      accessRows.push(h('tr', {},
        h('td', { class: 'nowrap' }, fmtTime(a.ts_ms)),
        h('td', {}, byLabel(a.by)),
        h('td', {}, a.sent_to ? sentTo(a) : a.scope ? h('code', {}, a.scope) : '—'),
        h('td', {}, a.purpose || '—'),
        h('td', {}, badge(outcomeLabel(a.outcome), a.outcome === 'allowed' ? 'ok' : 'danger'), a.reason ? h('div', { class: 'muted small' }, a.reason) : null)));
    }
    pager.took(page);
    accessHolder.replaceChildren(table({
      caption: t('my.access'), testid: 'access-log',
      columns: [t('col.time'), t('col.by'), t('col.scope'), t('col.purpose'), t('col.outcome')],
      rows: accessRows, empty: t('my.noAccess'),
    }));
    moreButton.hidden = !pager.next;
  }
  moreButton.addEventListener('click', async () => {
    busy(moreButton, true);
    await loadAccess(true);
    busy(moreButton, false);
  });

  await loadConsents();
  await loadReceipts();
  await loadAccess(false);
}
