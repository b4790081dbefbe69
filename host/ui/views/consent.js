// The consent dialog: who receives which field for what; sensitive scopes apart and unticked.
import { t, stateLabel, fieldLabel } from '../i18n.js';
import { api, enc } from '../api.js';
import { h, openDialog, dialogActions, alertBox, showError, showMessage, busy, badge } from '../dom.js';

// Resolves true when consent was saved, false when declined or closed.
export function askConsent(disclosure) {
  const d = disclosure;
  const personal = d.scopes.filter((s) => s.category !== 'capability' && s.state !== 'not_granted');
  const normal = personal.filter((s) => !s.sensitive);
  const sensitive = personal.filter((s) => s.sensitive);
  const capabilities = d.scopes.filter((s) => s.category === 'capability' && s.state !== 'not_granted');
  const boxes = [];

  const row = (s) => {
    const id = `consent-${d.plugin}-${s.scope}`.replace(/[^a-zA-Z0-9_-]/g, '-');
    const already = s.state === 'consented';
    const lockRequired = s.required && !s.sensitive;
    const input = h('input', {
      type: 'checkbox', id, value: s.scope,
      checked: s.sensitive ? false : (lockRequired || already),
      disabled: lockRequired,
      'aria-describedby': `${id}-purpose`,
      'data-testid': `consent-scope-${s.scope}`,
    });
    boxes.push({ input, scope: s });
    return h('li', { class: `scope-row${s.sensitive ? ' scope-sensitive' : ''}` },
      input,
      h('div', { class: 'scope-text' },
        h('label', { for: id, class: 'scope-label' },
          h('span', { class: 'scope-field' }, fieldLabel(s)), ' ', h('code', { class: 'scope-code' }, s.scope),
          s.required ? badge(t('consent.required'), 'warn') : badge(t('consent.optional'), 'neutral'),
          s.state !== 'not_consented' ? badge(stateLabel(s.state), s.state === 'consented' ? 'ok' : 'neutral') : null),
        h('p', { class: 'scope-purpose', id: `${id}-purpose` }, h('span', { class: 'muted' }, t('consent.purpose')), h('span', { lang: d.lang || undefined }, s.purpose),
          s.consent_days ? h('span', { class: 'muted small', 'data-testid': `lasts-${s.scope}` }, ' · ', t('consent.lasts', { days: s.consent_days })) : null)));
  };

  const { done } = openDialog({
    title: t('consent.title', { name: d.name }),
    testid: 'consent-dialog',
    wide: true,
    build(body, close) {
      const error = alertBox('consent-error');
      body.append(
        h('div', { class: 'recipient', 'data-testid': 'consent-recipient' },
          h('span', { class: 'muted' }, t('consent.recipient')), ' ',
          h('strong', {}, d.recipient && d.recipient.name ? d.recipient.name : '—'),
          d.recipient && d.recipient.contact ? h('span', {}, ' · ', t('consent.contact'), ' ', h('span', { class: 'contact' }, d.recipient.contact)) : null),
        h('p', { class: 'muted' }, h('span', { lang: d.lang || undefined }, d.description), ' ', h('span', {}, `(${t('common.version')} ${d.version})`)),
        h('p', {}, t('consent.intro')),
      );
      // Where the data may go: the recipient's servers the admin approved.
      if (d.destinations && d.destinations.length) {
        body.append(h('div', { class: 'destinations', 'data-testid': 'consent-destinations' },
          h('p', { class: 'muted' }, t('consent.destinations')),
          h('ul', { class: 'scope-list' }, d.destinations.map((x) => h('li', {},
            h('code', {}, x.destination), ' — ', h('span', { lang: d.lang || undefined }, x.purpose))))));
      }
      if (normal.length) {
        body.append(h('fieldset', { class: 'scope-group', 'data-testid': 'consent-basic' },
          h('legend', {}, t('consent.basic')), h('ul', { class: 'scope-list' }, normal.map(row))));
      }
      if (sensitive.length) {
        body.append(h('fieldset', { class: 'scope-group scope-group-sensitive', 'data-testid': 'consent-sensitive' },
          h('legend', {}, t('consent.sensitive')),
          h('p', { class: 'hint' }, t('consent.sensitiveHint')),
          h('ul', { class: 'scope-list' }, sensitive.map(row))));
      }
      if (capabilities.length) {
        body.append(h('div', { class: 'capabilities' }, h('p', { class: 'muted' }, t('consent.capabilities')),
          h('ul', {}, capabilities.map((s) => h('li', {}, h('span', { class: 'scope-field' }, fieldLabel(s)), ' — ', s.purpose)))));
      }
      body.append(h('p', { class: 'hint' }, t('consent.withdrawHint')), error);
      const decline = h('button', { type: 'button', class: 'btn', 'data-testid': 'consent-decline' }, t('consent.decline'));
      const agree = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'consent-agree' }, t('consent.agree'));
      decline.addEventListener('click', () => close(false));
      agree.addEventListener('click', async () => {
        error.replaceChildren();
        const chosen = boxes.filter((b) => b.input.checked).map((b) => b.scope);
        const missing = boxes.filter((b) => !b.input.checked && b.scope.required).map((b) => fieldLabel(b.scope));
        if (missing.length) {
          showMessage(error, t('consent.needRequired', { fields: missing.join('、') }));
          return;
        }
        if (!chosen.length) {
          showMessage(error, t('consent.nothingChosen'));
          return;
        }
        busy(agree, true);
        try {
          await api('PUT', `/me/plugins/${enc(d.plugin)}/consent`, {
            json: { scopes: chosen.map((s) => s.scope), sensitive: chosen.filter((s) => s.sensitive).map((s) => s.scope) },
          });
          close(true);
        } catch (err) {
          busy(agree, false);
          showError(error, err);
          agree.focus();
        }
      });
      body.append(dialogActions(decline, agree));
    },
  });
  return done.then((v) => v === true);
}
