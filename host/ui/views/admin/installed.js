// 已安装: the tenant's installations (upgrade, grant, visible range, enable, disable, uninstall, preview)
// with the review of newer versions above them (./upgrades.js).
import { t, stateLabel } from '../../i18n.js';
import { api, enc, query } from '../../api.js';
import { h, alertBox, showError, showMessage, statusBox, clearBox, badge, table, confirmDialog, field, busy } from '../../dom.js';
import { keepFocus, scopeChips, receiptView, loadAll } from './common.js';
import { rangeText } from './range-editor.js';
import { installDialog } from './install-dialog.js';
import { renderUpgrades } from './upgrades.js';

export async function renderInstalled(section, ctx) {
  const status = statusBox('installed-status');
  const error = alertBox('installed-error');
  const list = h('div', { class: 'card-list', 'data-testid': 'installations' });
  const upgrades = h('div');
  section.append(h('p', { class: 'muted' }, t('admin.installedLead')), status, error, upgrades, list);

  async function load() {
    const data = await loadAll(error);
    if (!data || !ctx.alive()) return;
    await renderUpgrades(upgrades, status, ctx, load);
    clearBox(error);
    list.replaceChildren();
    if (!data.installed.length) list.append(h('p', { class: 'empty-state' }, t('admin.noInstalled')));
    for (const inst of data.installed) {
      const entry = data.catalogue.find((c) => c.id === inst.plugin);
      const cardError = alertBox(`installed-error-${inst.plugin}`);
      const enabled = inst.state === 'enabled';
      const upgrade = h('button', { type: 'button', class: 'btn', 'aria-label': t('admin.upgradeNamed', { name: inst.name }), 'data-testid': `upgrade-${inst.plugin}` },
        entry && entry.latest !== inst.version ? t('admin.upgradeTo', { version: entry.latest }) : t('admin.change'));
      const toggle = h('button', { type: 'button', class: 'btn', 'aria-label': (enabled ? t('admin.disableNamed', { name: inst.name }) : t('admin.enableNamed', { name: inst.name })), 'data-testid': `toggle-${inst.plugin}` }, enabled ? t('admin.disable') : t('admin.enable'));
      const remove = h('button', { type: 'button', class: 'btn btn-danger', 'aria-label': t('admin.uninstallNamed', { name: inst.name }), 'data-testid': `uninstall-${inst.plugin}` }, t('admin.uninstall'));
      upgrade.addEventListener('click', async () => {
        if (!entry) return;
        const view = await installDialog(entry, inst, data.members, data.departments);
        if (view) {
          await load();
          showMessage(status, t('admin.installed', { name: view.name, version: view.version }));
        }
      });
      toggle.addEventListener('click', async () => {
        const ok = await confirmDialog({
          title: enabled ? t('admin.disableTitle', { name: inst.name }) : t('admin.enableTitle', { name: inst.name }),
          message: enabled ? t('admin.disableMessage', { name: inst.name }) : t('admin.enableMessage', { name: inst.name }),
          confirmLabel: enabled ? t('admin.disable') : t('admin.enable'),
          danger: enabled,
        });
        if (!ok) return;
        clearBox(cardError);
        try {
          await api('POST', `/workbench/plugins/${enc(inst.plugin)}/${enabled ? 'disable' : 'enable'}`);
          await load();
          showMessage(status, enabled ? t('admin.disabled', { name: inst.name }) : t('admin.enabled', { name: inst.name }));
        } catch (err) {
          showError(cardError, err);
        }
      });
      remove.addEventListener('click', async () => {
        const ok = await confirmDialog({
          title: t('admin.uninstallTitle', { name: inst.name }),
          message: t('admin.uninstallMessage', { name: inst.name }),
          confirmLabel: t('admin.uninstall'),
          danger: true,
        });
        if (!ok) return;
        clearBox(cardError);
        try {
          const receipt = await api('DELETE', `/workbench/plugins/${enc(inst.plugin)}`);
          await load();
          status.replaceChildren(receiptView(receipt));
        } catch (err) {
          showError(cardError, err);
        }
      });

      // Preview: what the plugin would see for a member.
      const memberSelect = h('select', { 'data-testid': `preview-member-${inst.plugin}` }, data.members.map((m) => h('option', { value: m.id }, `${m.profile.name || m.id} (${m.id})`)));
      const previewButton = h('button', { type: 'submit', class: 'btn btn-small' }, t('admin.preview'));
      const previewOut = h('div', { 'data-testid': `preview-${inst.plugin}` });
      const previewError = alertBox();
      const previewForm = h('form', { class: 'inline-form', 'aria-label': t('admin.previewNamed', { name: inst.name }) },
        field(t('admin.previewMember'), memberSelect), previewButton);
      previewForm.addEventListener('submit', async (e) => {
        e.preventDefault();
        clearBox(previewError);
        busy(previewButton, true);
        try {
          const p = await api('GET', `/workbench/plugins/${enc(inst.plugin)}/preview${query({ member: memberSelect.value })}`);
          previewOut.replaceChildren(
            h('p', {}, p.usable ? badge(t('admin.previewUsable'), 'ok') : badge(t('admin.previewNotUsable'), 'warn'), ' ', t('admin.previewFor', { member: p.member, version: p.version })),
            table({
              caption: t('admin.previewNamed', { name: inst.name }),
              columns: [t('col.scope'), t('col.required'), t('col.granted'), t('col.decision'), t('col.value')],
              rows: p.scopes.map((s) => h('tr', {}, h('td', {}, h('code', {}, s.scope)), h('td', {}, s.required ? t('common.yes') : t('common.no')),
                h('td', {}, s.granted ? t('common.yes') : t('common.no')),
                h('td', {}, badge(s.decision === 'allowed' ? t('outcome.allowed') : stateLabel(s.decision), s.decision === 'allowed' ? 'ok' : 'danger')),
                h('td', {}, s.value === null || s.value === undefined ? '—' : h('code', { class: 'value' }, typeof s.value === 'string' ? s.value : JSON.stringify(s.value))))),
            }));
        } catch (err) {
          showError(previewError, err);
        } finally {
          busy(previewButton, false);
        }
      });

      list.append(h('article', { class: 'card', 'data-testid': `installation-${inst.plugin}`, 'aria-labelledby': `inst-${inst.plugin}` },
        h('div', { class: 'card-head' },
          h('h3', { class: 'card-title', id: `inst-${inst.plugin}` }, inst.name, ' ', h('code', { class: 'muted small' }, `${inst.plugin}@${inst.version}`)),
          enabled ? badge(t('admin.stateEnabled'), 'ok') : badge(t('admin.stateDisabled'), 'danger')),
        h('dl', { class: 'dl' },
          h('dt', {}, t('admin.granted')), h('dd', {}, scopeChips(inst.granted_scopes)),
          h('dt', {}, t('admin.declared')), h('dd', {}, scopeChips(inst.declared_scopes)),
          h('dt', {}, t('admin.range')), h('dd', {}, rangeText(inst.visible_range, data.departments, data.members))),
        h('div', { class: 'form-actions' }, upgrade, toggle, remove),
        cardError,
        h('details', { class: 'preview' }, h('summary', {}, t('admin.previewSummary')), h('p', { class: 'hint' }, t('admin.previewHint')), previewForm, previewError, previewOut)));
    }
    keepFocus();
  }
  await load();
}
