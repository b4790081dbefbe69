// The member's workbench: plugin tiles, the consent flow, the open plugin
// (./runner.js), and the plugins I may open or ask for (./catalogue.js). The route #/workbench/{plugin}/{route} opens a plugin
// at a route of its own, so a reload or the back button comes back to it.
import { t } from '../i18n.js';
import { api } from '../api.js';
import { h, alertBox, showError, showMessage, statusBox, clearBox, badge } from '../dom.js';
import { askConsent } from './consent.js';
import { createRunner } from './runner.js';
import { renderCatalogue } from './catalogue.js';
import { renderInbox } from './inbox.js';

export async function renderWorkbench(main, ctx) {
  main.append(
    h('h1', { class: 'page-title', tabindex: '-1' }, t('wb.title')),
    h('p', { class: 'lead' }, t('wb.lead')),
  );
  const pageError = alertBox('workbench-error');
  const pageStatus = statusBox('workbench-status');
  const list = h('ul', { class: 'tiles', 'aria-label': t('wb.tiles'), 'data-testid': 'tiles' });
  main.append(pageStatus, pageError);
  // The inbox loads beside the rest: the page (and an open plugin) never waits for it.
  renderInbox(main, ctx);
  main.append(list);

  let plugins = [];

  async function consent(disclosure) {
    const ok = await askConsent(disclosure);
    if (!ok) {
      showMessage(pageStatus, t('wb.declined', { name: disclosure.name }));
      return false;
    }
    showMessage(pageStatus, t('wb.consented', { name: disclosure.name }));
    loadTiles();
    return true;
  }

  // Where a failure to open a plugin is shown: beside its tile, else on the page.
  let openingError = null;
  const runner = createRunner({
    consent,
    failed(err) {
      showError(openingError && openingError.isConnected ? openingError : pageError, err);
    },
    closed(p) {
      window.history.pushState(null, '', '#/workbench');
      const tile = p && list.querySelector(`[data-plugin="${CSS.escape(p.plugin)}"] button`);
      if (tile) tile.focus();
    },
  });
  main.append(runner.element);
  ctx.onLeave(() => runner.close());

  async function open(p, tileError, button) {
    clearBox(tileError);
    clearBox(pageStatus);
    if (button.getAttribute('aria-busy') === 'true') return;
    button.setAttribute('aria-busy', 'true');
    openingError = tileError;
    try {
      // The server decides: a 403 consent_required carries the disclosure to show.
      if (await runner.open(p, '/', 'push')) {
        runner.element.scrollIntoView({ block: 'start' });
        runner.focus();
      } else if (!runner.element.hidden && runner.current === p) {
        runner.focus();
      }
    } finally {
      button.setAttribute('aria-busy', 'false');
    }
  }

  async function loadTiles() {
    try {
      plugins = await api('GET', '/me/plugins');
    } catch (err) {
      showError(pageError, err);
      return;
    }
    if (!ctx.alive()) return;
    clearBox(pageError);
    const focusedPlugin = document.activeElement && document.activeElement.closest && document.activeElement.closest('[data-plugin]');
    const focusedId = focusedPlugin && focusedPlugin.dataset.plugin;
    list.replaceChildren();
    if (!plugins.length) list.append(h('li', { class: 'empty-state' }, t('wb.empty')));
    for (const p of plugins) {
      const tileError = alertBox(`tile-error-${p.plugin}`);
      const button = h('button', { type: 'button', class: 'btn btn-primary', 'aria-label': t('wb.openNamed', { name: p.name }), 'data-testid': `open-${p.plugin}` }, t('wb.open'));
      button.addEventListener('click', () => open(p, tileError, button));
      const state = p.usable
        ? (p.asking.length ? badge(t('wb.usableAsking'), 'info') : badge(t('wb.usable'), 'ok'))
        : badge(t('wb.needsConsent'), 'warn');
      // The plugin's texts are in p.lang, which may not be the page's language.
      list.append(h('li', { class: 'tile', 'data-plugin': p.plugin, 'data-testid': `tile-${p.plugin}`, lang: p.lang || undefined },
        h('div', { class: 'tile-head' },
          h('span', { class: 'tile-icon', 'aria-hidden': 'true' }, p.name.slice(0, 1)),
          h('div', {}, h('h2', { class: 'tile-name' }, p.name), h('p', { class: 'tile-meta muted' }, `${p.plugin} · ${t('common.version')} ${p.version}`))),
        h('p', { class: 'tile-desc' }, p.description),
        h('div', { class: 'tile-foot' }, state, button),
        tileError));
      if (focusedId === p.plugin) button.focus();
    }
  }

  await loadTiles();
  await renderCatalogue(main, ctx, loadTiles);

  // #/workbench/{plugin}/{route}: open that plugin there (a reload, back or forward).
  if (ctx.sub && ctx.alive()) {
    const p = plugins.find((x) => x.plugin === ctx.sub);
    if (!p) {
      showMessage(pageStatus, t('wb.notInstalled', { plugin: ctx.sub }));
      return;
    }
    let at = '/';
    try {
      at = ctx.rest ? decodeURIComponent(ctx.rest) : '/';
    } catch { /* a mangled route opens the plugin's start page */ }
    if (await runner.open(p, at, 'replace')) runner.focus();
  }
}
