// Developer page: publish a plugin package and see the catalogue.
import { t } from '../i18n.js';
import { api, enc } from '../api.js';
import { h, alertBox, showError, showMessage, clearBox, table, fmtTime, field, busy, statusBox } from '../dom.js';

export async function renderDeveloper(main, ctx) {
  main.append(
    h('h1', { class: 'page-title', tabindex: '-1' }, t('dev.title')),
    h('p', { class: 'lead' }, t('dev.lead')),
  );

  const manifest = h('input', { type: 'file', accept: '.toml,text/plain,application/toml', required: true, 'data-testid': 'publish-manifest' });
  const component = h('input', { type: 'file', accept: '.wasm,application/wasm', required: true, 'data-testid': 'publish-component' });
  const publicKey = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', 'data-testid': 'publish-key' });
  const signature = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', 'data-testid': 'publish-signature' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'publish-submit' }, t('dev.publish'));
  const error = alertBox('publish-error');
  const result = statusBox('publish-result');
  const form = h('form', { class: 'form card', 'aria-labelledby': 'publish-title', 'data-testid': 'publish-form' },
    h('h2', { class: 'section-title', id: 'publish-title' }, t('dev.publishTitle')),
    h('div', { class: 'form-grid' },
      field(t('dev.manifest'), manifest, t('dev.manifestHint')),
      field(t('dev.component'), component, t('dev.componentHint'))),
    h('fieldset', { class: 'scope-group' }, h('legend', {}, t('dev.signing')),
      h('p', { class: 'hint' }, t('dev.signingHint')),
      h('div', { class: 'form-grid' }, field(t('dev.publicKey'), publicKey), field(t('dev.signature'), signature))),
    h('div', { class: 'form-actions' }, submit),
    error, result);
  main.append(form);

  const catalogueError = alertBox('dev-catalogue-error');
  const holder = h('div');
  main.append(h('section', { class: 'section', 'aria-labelledby': 'dev-catalogue-title' },
    h('h2', { class: 'section-title', id: 'dev-catalogue-title' }, t('dev.catalogue')), catalogueError, holder));

  async function loadCatalogue() {
    try {
      const plugins = await api('GET', '/plugins');
      // Per version of my own plugins: how many workbenches run it and have
      // it waiting (another developer's plugin answers 404: its versions only).
      const adoption = new Map(await Promise.all(plugins.map(async (p) => [p.id, await api('GET', `/plugins/${enc(p.id)}/adoption`).catch(() => null)])));
      if (!ctx.alive()) return;
      clearBox(catalogueError);
      holder.replaceChildren(table({
        caption: t('dev.catalogue'), testid: 'dev-catalogue',
        columns: [t('col.plugin'), t('col.name'), t('admin.latest'), t('col.published'), t('admin.developer')],
        rows: plugins.map((p) => {
          const latest = p.versions.find((v) => v.version === p.latest);
          const counts = adoption.get(p.id);
          const versions = h('div', {}, p.versions.map((v) => v.version).join(', '),
            counts ? h('ul', { class: 'plain-list', 'data-testid': `adoption-${p.id}` }, counts.map((c) => h('li', {}, h('code', {}, c.version), ' ', t('dev.adoption', { running: c.running, pending: c.pending })))) : null);
          return h('tr', {}, h('td', {}, h('code', {}, p.id)), h('td', {}, p.name), h('td', {}, versions),
            h('td', { class: 'nowrap' }, latest ? fmtTime(latest.published_at_ms) : '—'), h('td', {}, p.developer && p.developer.name));
        }),
        empty: t('admin.noCatalogue'),
      }));
    } catch (err) {
      showError(catalogueError, err);
    }
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearBox(error);
    clearBox(result);
    const mf = manifest.files[0];
    const wasm = component.files[0];
    if (!mf || !wasm) {
      showMessage(error, t('dev.missingFiles'));
      return;
    }
    const data = new FormData();
    try {
      data.append('manifest', await mf.text());
    } catch {
      showMessage(error, t('dev.unreadable'));
      return;
    }
    data.append('component', wasm, wasm.name || 'component.wasm');
    if (publicKey.value.trim()) data.append('public_key', publicKey.value.trim());
    if (signature.value.trim()) data.append('signature', signature.value.trim());
    busy(submit, true);
    try {
      const p = await api('POST', '/plugins', { body: data });
      result.replaceChildren(h('div', { class: 'published', 'data-testid': 'published' },
        h('strong', {}, t('dev.published', { id: p.id, version: p.version })),
        h('dl', { class: 'dl' },
          h('dt', {}, t('col.digest')), h('dd', {}, h('code', { class: 'hash' }, p.digest)),
          h('dt', {}, t('col.scopes')), h('dd', {}, p.scopes.join(', ') || '—'),
          h('dt', {}, t('col.signed')), h('dd', {}, p.signed_by ? h('code', { class: 'hash' }, p.signed_by) : t('admin.unsigned'))),
        h('details', {}, h('summary', {}, t('dev.imports', { n: p.imports.length })),
          h('ul', { class: 'imports' }, p.imports.map((i) => h('li', {}, h('code', {}, i.interface), i.functions && i.functions.length ? `: ${i.functions.join(', ')}` : ''))))));
      await loadCatalogue();
    } catch (err) {
      showError(error, err);
    } finally {
      busy(submit, false);
    }
  });

  await loadCatalogue();
}
