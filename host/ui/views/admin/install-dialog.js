import { t, fieldLabel } from '../../i18n.js';
import { api, enc } from '../../api.js';
import { h, alertBox, showError, clearBox, badge, openDialog, dialogActions, field, busy, nextId } from '../../dom.js';
import { scopeChips } from './common.js';
import { rangeEditor } from './range-editor.js';

// Install, upgrade or change the grant and the visible range of a plugin.
export function installDialog(entry, installation, members, departments) {
  const versions = [...entry.versions].reverse();
  const { done } = openDialog({
    title: installation ? t('install.changeTitle', { name: entry.name }) : t('install.title', { name: entry.name }),
    testid: 'install-dialog',
    wide: true,
    build(body, close) {
      const error = alertBox('install-error');
      const versionSelect = h('select', { 'data-testid': 'install-version' }, versions.map((v) => h('option', { value: v.version }, v.version + (installation && installation.version === v.version ? ` (${t('install.current')})` : ''))));
      versionSelect.value = installation && installation.version !== entry.latest ? entry.latest : (installation ? installation.version : entry.latest);
      const diff = h('div', { class: 'diff', role: 'status', 'data-testid': 'install-diff' });
      const scopeList = h('ul', { class: 'scope-list' });
      const scopeBoxes = [];
      const egressList = h('ul', { class: 'scope-list' });
      const egressBoxes = [];
      const egressGroup = h('fieldset', { class: 'scope-group', 'data-testid': 'install-egress' },
        h('legend', {}, t('install.egress')), h('p', { class: 'hint' }, t('install.egressHint')), egressList);
      const configList = h('div', { class: 'config-list' });
      const configInputs = [];
      const configGroup = h('fieldset', { class: 'scope-group', 'data-testid': 'install-config' },
        h('legend', {}, t('install.config')), h('p', { class: 'hint' }, t('install.configHint')), configList);
      // What was typed survives switching versions; else the values set before.
      const typed = new Map(Object.entries((installation && installation.config) || {}));

      const renderScopes = () => {
        const v = entry.versions.find((x) => x.version === versionSelect.value);
        const previouslyGranted = installation ? new Set(installation.granted_scopes) : null;
        scopeBoxes.length = 0;
        scopeList.replaceChildren(...v.scopes.map((s) => {
          const id = nextId('grant');
          const input = h('input', {
            type: 'checkbox', id, value: s.scope, 'aria-describedby': `${id}-purpose`, 'data-testid': `grant-${s.scope}`,
            checked: s.required || !previouslyGranted || previouslyGranted.has(s.scope),
            disabled: s.required,
          });
          scopeBoxes.push(input);
          return h('li', { class: 'scope-row' }, input, h('div', { class: 'scope-text' },
            h('label', { for: id, class: 'scope-label' }, h('span', { class: 'scope-field' }, fieldLabel(s)), ' ', h('code', { class: 'scope-code' }, s.scope),
              s.required ? badge(t('consent.required'), 'warn') : badge(t('consent.optional'), 'neutral'),
              s.sensitive ? badge(t('consent.sensitiveTag'), 'danger') : null),
            h('p', { class: 'scope-purpose', id: `${id}-purpose` }, h('span', { class: 'muted' }, t('consent.purpose')), s.purpose)));
        }));
        // Destinations: a new install proposes them all; an upgrade keeps
        // only those approved before, so a new one must be ticked.
        const approvedBefore = installation ? new Set(installation.approved_egress || []) : null;
        egressBoxes.length = 0;
        const destinations = v.destinations || [];
        egressList.replaceChildren(...destinations.map((d) => {
          const id = nextId('egress');
          const input = h('input', {
            type: 'checkbox', id, value: d.destination, 'aria-describedby': `${id}-purpose`, 'data-testid': `approve-${d.destination}`,
            checked: !approvedBefore || approvedBefore.has(d.destination),
          });
          egressBoxes.push(input);
          return h('li', { class: 'scope-row' }, input, h('div', { class: 'scope-text' },
            h('label', { for: id, class: 'scope-label' }, h('code', { class: 'scope-code' }, d.destination)),
            h('p', { class: 'scope-purpose', id: `${id}-purpose` }, h('span', { class: 'muted' }, t('consent.purpose')), d.purpose)));
        }));
        egressGroup.hidden = destinations.length === 0;
        for (const input of configInputs) typed.set(input.name, input.value);
        configInputs.length = 0;
        const keys = v.config || [];
        configList.replaceChildren(...keys.map((c) => {
          const input = h('input', {
            type: 'text', name: c.key, value: typed.get(c.key) || '', maxlength: 2048, 'data-testid': `config-${c.key}`,
            placeholder: c.default || '', required: c.required, spellcheck: 'false', autocomplete: 'off',
          });
          configInputs.push(input);
          const hint = c.default ? t('install.configDefault', { value: c.default }) : (c.required ? t('install.configRequired') : t('install.configOptional'));
          return field(h('span', {}, h('code', { class: 'scope-code' }, c.key), ' ', c.description), input, hint);
        }));
        configGroup.hidden = keys.length === 0;
        diff.replaceChildren();
        if (installation) {
          const before = new Set(installation.declared_scopes);
          const after = new Set(v.scopes.map((s) => s.scope));
          const added = [...after].filter((s) => !before.has(s));
          const removed = [...before].filter((s) => !after.has(s));
          if (v.version === installation.version) diff.append(t('install.sameVersion'));
          else {
            diff.append(h('strong', {}, t('install.diffTitle', { from: installation.version, to: v.version })));
            diff.append(h('div', { 'data-testid': 'diff-added' }, t('install.added'), ' ', added.length ? scopeChips(added) : t('install.none')));
            diff.append(h('div', { 'data-testid': 'diff-removed' }, t('install.removed'), ' ', removed.length ? scopeChips(removed) : t('install.none')));
            if (added.length) diff.append(h('p', { class: 'hint' }, t('install.addedHint')));
          }
        }
      };
      versionSelect.addEventListener('change', renderScopes);

      // Visible range: rules, previewed as they change.
      const range = rangeEditor(installation && installation.visible_range, members, departments);

      renderScopes();
      body.append(
        h('p', { class: 'muted' }, entry.description),
        h('p', {}, t('consent.recipient'), ' ', h('strong', {}, entry.developer && entry.developer.name), entry.developer && entry.developer.contact ? ` · ${entry.developer.contact}` : ''),
        field(t('install.version'), versionSelect),
        diff,
        h('fieldset', { class: 'scope-group' }, h('legend', {}, t('install.scopes')), h('p', { class: 'hint' }, t('install.scopesHint')), scopeList),
        egressGroup,
        configGroup,
        range.element,
        error,
      );
      const cancel = h('button', { type: 'button', class: 'btn' }, t('common.cancel'));
      cancel.addEventListener('click', () => close(null));
      const submitLabel = () => (installation ? (versionSelect.value !== installation.version ? t('install.upgrade') : t('install.save')) : t('install.install'));
      const submit = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'install-submit' }, submitLabel());
      versionSelect.addEventListener('change', () => { submit.textContent = submitLabel(); });
      submit.addEventListener('click', async () => {
        clearBox(error);
        const bodyJson = {
          version: versionSelect.value,
          granted_scopes: scopeBoxes.filter((b) => b.checked).map((b) => b.value),
          approved_egress: egressBoxes.filter((b) => b.checked).map((b) => b.value),
          config: Object.fromEntries(configInputs.filter((i) => i.value.trim() !== '').map((i) => [i.name, i.value.trim()])),
          visible_range: range.value(),
        };
        busy(submit, true);
        try {
          const view = await api('PUT', `/workbench/plugins/${enc(entry.id)}`, { json: bodyJson });
          close(view);
        } catch (err) {
          busy(submit, false);
          showError(error, err);
          submit.focus();
        }
      });
      body.append(dialogActions(cancel, submit));
    },
  });
  return done;
}
