// The member's inbox in the workbench: a bell with the unread count, the
// notifications plugins sent (title and text as plain text), mark read, and
// opening one opens its plugin at its route (#/workbench/{plugin}/{route}).
import { t } from '../i18n.js';
import { api, enc } from '../api.js';
import { h, alertBox, showError, clearBox, fmtTime, badge } from '../dom.js';

export async function renderInbox(main, ctx) {
  const error = alertBox('inbox-error');
  const count = h('span', { class: 'bell-count', 'data-testid': 'inbox-unread' }, '0');
  const bell = h('button', { type: 'button', class: 'btn btn-ghost bell', 'aria-expanded': 'false', 'aria-controls': 'inbox-panel', 'data-testid': 'inbox-bell' },
    h('span', { 'aria-hidden': 'true' }, '🔔 '), t('inbox.title'), ' ', count);
  const readAll = h('button', { type: 'button', class: 'btn btn-ghost', 'data-testid': 'inbox-read-all' }, t('inbox.readAll'));
  const list = h('ul', { class: 'inbox-list', 'data-testid': 'inbox-list' });
  const panel = h('section', { id: 'inbox-panel', class: 'inbox-panel', hidden: true, 'aria-label': t('inbox.title') },
    h('div', { class: 'inbox-head' }, h('h2', { class: 'section-title' }, t('inbox.title')), readAll), error, list);
  main.append(h('div', { class: 'inbox' }, bell, panel));

  async function markRead(n) {
    await api('POST', `/me/notifications/${enc(n.id)}/read`);
  }

  async function load() {
    let inbox;
    try {
      inbox = await api('GET', '/me/notifications');
    } catch (err) {
      showError(error, err);
      return;
    }
    if (!ctx.alive()) return;
    clearBox(error);
    count.textContent = String(inbox.unread);
    bell.setAttribute('aria-label', t('inbox.bell', { count: inbox.unread }));
    readAll.disabled = inbox.unread === 0;
    list.replaceChildren();
    if (!inbox.notifications.length) list.append(h('li', { class: 'empty-state' }, t('inbox.empty')));
    for (const n of inbox.notifications) {
      const open = h('button', { type: 'button', class: 'btn btn-link inbox-open', 'data-testid': `inbox-open-${n.id}` }, n.title);
      open.addEventListener('click', async () => {
        try {
          if (!n.read_at_ms) await markRead(n);
        } catch (err) {
          showError(error, err);
          return;
        }
        ctx.go(`#/workbench/${enc(n.plugin)}/${encodeURIComponent(n.route)}`);
      });
      const read = n.read_at_ms ? null : h('button', { type: 'button', class: 'btn btn-ghost btn-small', 'data-testid': `inbox-read-${n.id}` }, t('inbox.markRead'));
      if (read) {
        read.addEventListener('click', async () => {
          try {
            await markRead(n);
          } catch (err) {
            showError(error, err);
            return;
          }
          await load();
          bell.focus();
        });
      }
      list.append(h('li', { class: `inbox-item${n.read_at_ms ? '' : ' unread'}`, 'data-testid': `inbox-item-${n.id}` },
        h('div', { class: 'inbox-line' }, open, n.read_at_ms ? null : badge(t('inbox.unread'), 'info')),
        h('p', { class: 'inbox-text' }, n.text),
        h('p', { class: 'muted small' }, `${n.plugin} · ${fmtTime(n.created_at_ms)}`),
        read));
    }
  }

  bell.addEventListener('click', () => {
    const opening = panel.hidden;
    panel.hidden = !opening;
    bell.setAttribute('aria-expanded', String(opening));
    if (opening) load();
  });
  readAll.addEventListener('click', async () => {
    try {
      await api('POST', '/me/notifications/read');
    } catch (err) {
      showError(error, err);
      return;
    }
    await load();
  });
  await load();
}
