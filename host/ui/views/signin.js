// Sign-in: pick a demo identity, or paste a token when the server is not in demo mode.
import { t, roleLabel } from '../i18n.js';
import { api } from '../api.js';
import { h, alertBox, showError, showMessage, statusBox, field, busy } from '../dom.js';
import { setSession, tokenClaims } from '../session.js';

export async function renderSignIn(main, ctx) {
  const card = h('section', { class: 'signin card', 'aria-labelledby': 'signin-title' });
  main.append(card);
  card.append(
    h('h1', { id: 'signin-title', class: 'page-title', tabindex: '-1' }, t('signin.title')),
    h('p', { class: 'lead' }, t('signin.lead')),
  );
  const status = statusBox('signin-notice');
  if (ctx.notice) status.textContent = ctx.notice;
  const error = alertBox('signin-error');
  card.append(status, error);

  let identities = null;
  let demo = true;
  try {
    identities = await api('GET', '/demo/identities', { anonymous: true });
  } catch (err) {
    if (err.status === 404) demo = false;
    else showError(error, err);
  }

  if (demo && identities) {
    const list = h('ul', { class: 'identity-list', 'aria-label': t('signin.identities') });
    for (const id of identities) {
      const button = h('button', { type: 'button', class: 'identity', 'data-testid': `identity-${id.member}` },
        h('span', { class: 'avatar', 'aria-hidden': 'true' }, (id.name || id.member).slice(0, 1)),
        h('span', { class: 'identity-text' },
          h('span', { class: 'identity-name' }, id.name || id.member),
          h('span', { class: 'identity-meta' }, `${id.member} · ${(id.roles || []).map(roleLabel).join(' · ')}`)));
      button.addEventListener('click', async () => {
        error.replaceChildren();
        busy(button, true);
        try {
          const s = await api('POST', '/demo/session', { json: { member: id.member }, anonymous: true });
          setSession({ token: s.token, tenant: s.tenant, tenantName: s.tenant_name, member: s.member, roles: s.roles, name: id.name, expires_at: Date.now() + s.expires_in * 1000 });
          ctx.go('#/');
        } catch (err) {
          busy(button, false);
          showError(error, err);
          button.focus();
        }
      });
      list.append(h('li', {}, button));
    }
    card.append(h('h2', { class: 'section-title' }, t('signin.pick')), list, h('p', { class: 'hint' }, t('signin.demoNote')));
  } else if (!demo) {
    card.append(h('p', { class: 'notice notice-warn', 'data-testid': 'no-demo' }, t('signin.noDemo')));
    const input = h('textarea', { id: 'token-input', rows: '4', spellcheck: 'false', autocomplete: 'off', required: true });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary' }, t('signin.useToken'));
    const form = h('form', { class: 'form' }, field(t('signin.token'), input, t('signin.tokenHint')), h('div', { class: 'form-actions' }, submit));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      error.replaceChildren();
      const token = input.value.trim();
      const claims = tokenClaims(token);
      if (!claims || !claims.sub) {
        showMessage(error, t('signin.badToken'));
        return;
      }
      setSession({ token, tenant: claims.tid, member: claims.sub, roles: claims.roles || [], name: claims.sub, expires_at: claims.exp ? claims.exp * 1000 : null });
      ctx.go('#/');
    });
    card.append(form);
  }
}
