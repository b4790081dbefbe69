// 可开通的应用: the plugins this workbench lets me open myself or ask for
// (the privacy guide's second path, §5.3). Opening one puts it on my
// workbench, where it asks for my consent like any other; asking sends my
// reason to an app admin, whose decision (and reason) shows here.
import { t } from '../i18n.js';
import { api, enc } from '../api.js';
import { h, alertBox, showError, showMessage, clearBox, badge, openDialog, dialogActions, field, busy } from '../dom.js';

function askDialog(entry) {
  return openDialog({
    title: t('cat.askTitle', { name: entry.name }),
    testid: 'request-dialog',
    build(body, close) {
      const reason = h('textarea', { rows: 3, maxlength: 500, 'data-testid': 'request-reason' });
      const error = alertBox('request-error');
      const send = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'request-send' }, t('cat.send'));
      const cancel = h('button', { type: 'button', class: 'btn' }, t('common.cancel'));
      cancel.addEventListener('click', () => close(null));
      const form = h('form', { class: 'form' }, field(t('cat.reason'), reason, t('cat.reasonHint')), error, dialogActions(cancel, send));
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        clearBox(error);
        busy(send, true);
        try {
          close(await api('POST', `/me/catalogue/${enc(entry.plugin)}/request`, { json: { reason: reason.value.trim() } }));
        } catch (err) {
          busy(send, false);
          showError(error, err);
        }
      });
      body.append(h('p', { class: 'hint' }, t('cat.askHint')), form);
    },
  }).done;
}

// Renders the section; `opened()` runs after a plugin was opened (the
// workbench reloads its tiles).
export async function renderCatalogue(main, ctx, opened) {
  const status = h('p', { class: 'notice', role: 'status', hidden: true, 'data-testid': 'catalogue-status' });
  const error = alertBox('catalogue-error');
  const list = h('ul', { class: 'tiles', 'aria-label': t('cat.title'), 'data-testid': 'member-catalogue' });
  const section = h('section', { class: 'section', 'aria-labelledby': 'member-catalogue-title', hidden: true },
    h('h2', { id: 'member-catalogue-title', class: 'section-title' }, t('cat.title')),
    h('p', { class: 'muted' }, t('cat.lead')), status, error, list);
  main.append(section);

  async function load() {
    let entries;
    try {
      entries = await api('GET', '/me/catalogue');
    } catch (err) {
      showError(error, err);
      return;
    }
    if (!ctx.alive()) return;
    section.hidden = entries.length === 0;
    list.replaceChildren(...entries.map((entry) => {
      const rowError = alertBox();
      const actions = [];
      if (entry.state === 'opened') actions.push(badge(t('cat.opened'), 'ok'));
      else if (entry.state === 'pending') actions.push(badge(t('cat.pending'), 'info'));
      else if (entry.mode === 'open') {
        const openButton = h('button', { type: 'button', class: 'btn btn-primary', 'aria-label': t('cat.openNamed', { name: entry.name }), 'data-testid': `self-open-${entry.plugin}` }, t('cat.open'));
        openButton.addEventListener('click', async () => {
          busy(openButton, true);
          try {
            await api('POST', `/me/catalogue/${enc(entry.plugin)}/open`);
            showMessage(status, t('cat.openedNow', { name: entry.name }));
            await load();
            await opened();
          } catch (err) {
            busy(openButton, false);
            showError(rowError, err);
          }
        });
        actions.push(openButton);
      } else {
        if (entry.state === 'declined') actions.push(badge(t('cat.declined'), 'danger'));
        const askButton = h('button', { type: 'button', class: 'btn', 'aria-label': t('cat.askNamed', { name: entry.name }), 'data-testid': `self-request-${entry.plugin}` }, entry.state === 'declined' ? t('cat.askAgain') : t('cat.ask'));
        askButton.addEventListener('click', async () => {
          const asked = await askDialog(entry);
          if (asked) {
            showMessage(status, t('cat.asked', { name: entry.name }));
            await load();
          }
        });
        actions.push(askButton);
      }
      const scopes = entry.scopes.length ? t('cat.scopes', { list: entry.scopes.join(', ') }) : t('cat.noScopes');
      return h('li', { class: 'tile', 'data-testid': `offer-${entry.plugin}`, lang: entry.lang || undefined },
        h('div', { class: 'tile-head' },
          h('span', { class: 'tile-icon', 'aria-hidden': 'true' }, entry.name.slice(0, 1)),
          h('div', {}, h('h3', { class: 'tile-name' }, entry.name), h('p', { class: 'tile-meta muted' }, entry.plugin))),
        h('p', { class: 'tile-desc' }, entry.description),
        h('p', { class: 'hint' }, entry.mode === 'open' ? t('cat.modeOpen') : t('cat.modeRequest'), ' ', scopes),
        entry.state === 'declined' && entry.decision ? h('p', { class: 'notice notice-warn', 'data-testid': `decision-${entry.plugin}` }, t('cat.decision', { reason: entry.decision })) : null,
        h('div', { class: 'tile-foot' }, ...actions),
        rowError);
    }));
  }
  await load();
}
