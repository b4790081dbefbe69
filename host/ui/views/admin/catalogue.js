// 应用目录: the published plugins an admin may install.
import { t, fieldLabel } from '../../i18n.js';
import { h, alertBox, showMessage, statusBox, clearBox, badge, table, fmtTime, fmtBytes } from '../../dom.js';
import { keepFocus, scopeChips, loadAll } from './common.js';
import { installDialog } from './install-dialog.js';

export async function renderCatalogue(section, ctx) {
  const status = statusBox('catalogue-status');
  const error = alertBox('catalogue-error');
  const list = h('div', { class: 'card-list', 'data-testid': 'catalogue' });
  section.append(h('p', { class: 'muted' }, t('admin.catalogueLead')), status, error, list);

  async function load() {
    const data = await loadAll(error);
    if (!data || !ctx.alive()) return;
    clearBox(error);
    list.replaceChildren();
    if (!data.catalogue.length) list.append(h('p', { class: 'empty-state' }, t('admin.noCatalogue')));
    for (const entry of data.catalogue) {
      const inst = data.installed.find((i) => i.plugin === entry.id);
      const latest = entry.versions.find((v) => v.version === entry.latest) || entry.versions[entry.versions.length - 1];
      const cardError = alertBox(`catalogue-error-${entry.id}`);
      const button = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': `install-${entry.id}`, 'aria-label': (inst ? t('admin.changeNamed', { name: entry.name }) : t('admin.installNamed', { name: entry.name })) }, inst ? t('admin.change') : t('admin.install'));
      button.addEventListener('click', async () => {
        clearBox(cardError);
        const view = await installDialog(entry, inst, data.members, data.departments);
        if (view) {
          await load();
          showMessage(status, t('admin.installed', { name: view.name, version: view.version }));
        }
      });
      list.append(h('article', { class: 'card', 'data-testid': `catalogue-${entry.id}`, 'aria-labelledby': `cat-${entry.id}` },
        h('div', { class: 'card-head' },
          h('h3', { class: 'card-title', id: `cat-${entry.id}`, lang: entry.lang || undefined }, entry.name, ' ', h('code', { class: 'muted small' }, entry.id)),
          inst ? badge(t('admin.installedBadge', { version: inst.version }), 'ok') : badge(t('admin.notInstalled'), 'neutral')),
        h('p', { lang: entry.lang || undefined }, entry.description),
        h('dl', { class: 'dl' },
          h('dt', {}, t('admin.developer')), h('dd', {}, entry.developer && entry.developer.name, entry.developer && entry.developer.contact ? ` · ${entry.developer.contact}` : ''),
          h('dt', {}, t('admin.latest')), h('dd', {}, entry.latest)),
        h('h4', { class: 'sub-title' }, t('admin.scopesOf', { version: latest.version })),
        table({
          caption: t('admin.scopesOf', { version: latest.version }),
          columns: [t('col.scope'), t('col.field'), t('col.purpose'), t('col.required'), t('col.sensitive')],
          rows: latest.scopes.map((s) => h('tr', {}, h('td', {}, h('code', {}, s.scope)), h('td', {}, fieldLabel(s)), h('td', {}, s.purpose),
            h('td', {}, s.required ? t('common.yes') : t('common.no')), h('td', {}, s.sensitive ? t('common.yes') : t('common.no')))),
        }),
        h('details', { class: 'versions' }, h('summary', {}, t('admin.versions', { n: entry.versions.length })),
          table({
            caption: t('admin.versions', { n: entry.versions.length }),
            columns: [t('col.version'), t('col.published'), t('col.size'), t('col.signed'), t('col.scopes'), t('col.digest')],
            rows: [...entry.versions].reverse().map((v) => h('tr', {}, h('td', {}, v.version), h('td', { class: 'nowrap' }, fmtTime(v.published_at_ms)),
              h('td', { class: 'nowrap' }, fmtBytes(v.size_bytes)), h('td', {}, v.signed_by ? h('code', {}, v.signed_by) : t('admin.unsigned')),
              h('td', {}, scopeChips(v.scopes.map((s) => s.scope))), h('td', {}, h('code', { class: 'hash' }, v.digest.slice(0, 16) + '…')))),
          })),
        h('div', { class: 'form-actions' }, button),
        cardError));
    }
    keepFocus();
  }
  await load();
}
