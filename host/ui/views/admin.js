// 应用管理: catalogue, installations, members, audit log and retention, for the admin role.
import { t, outcomeLabel, actionLabel, stateLabel, fieldLabel } from '../i18n.js';
import { api, enc, query, download } from '../api.js';
import {
  h, alertBox, showError, showMessage, statusBox, clearBox, badge, table, fmtTime, fmtBytes,
  confirmDialog, openDialog, dialogActions, field, busy, nextId,
} from '../dom.js';

const TABS = [
  { name: 'catalogue', label: 'admin.tab.catalogue', render: renderCatalogue },
  { name: 'installed', label: 'admin.tab.installed', render: renderInstalled },
  { name: 'members', label: 'admin.tab.members', render: renderMembers },
  { name: 'audit', label: 'admin.tab.audit', render: renderAudit },
  { name: 'retention', label: 'admin.tab.retention', render: renderRetention },
];

export async function renderAdmin(main, ctx) {
  const tab = TABS.find((x) => x.name === ctx.sub) || TABS[0];
  main.append(
    h('h1', { class: 'page-title', tabindex: '-1' }, t('admin.title')),
    h('nav', { class: 'subnav', 'aria-label': t('admin.subnav') },
      h('ul', {}, TABS.map((x) => h('li', {}, h('a', {
        href: `#/admin/${x.name}`, class: 'subnav-link', 'aria-current': x === tab ? 'page' : null, 'data-testid': `tab-${x.name}`,
      }, t(x.label)))))),
  );
  const section = h('section', { class: 'section', 'aria-labelledby': 'admin-section-title' },
    h('h2', { id: 'admin-section-title', class: 'section-title' }, t(tab.label)));
  main.append(section);
  await tab.render(section, ctx);
}

// After a list is rebuilt, focus that sat on a removed control goes to the section heading.
function keepFocus() {
  const active = document.activeElement;
  if (document.querySelector('dialog[open]')) return;
  if (!active || active === document.body || !active.isConnected) {
    const title = document.getElementById('admin-section-title');
    if (title) {
      title.tabIndex = -1;
      title.focus();
    }
  }
}

const scopeChips = (scopes) => h('span', { class: 'chips' }, scopes.length ? scopes.map((s) => h('code', { class: 'chip' }, s)) : '—');

function visibleText(visible) {
  if (!visible) return t('admin.everyone');
  if (!visible.length) return t('admin.nobody');
  return t('admin.visibleList', { list: visible.join(', ') });
}

function receiptView(r) {
  return h('div', { class: 'receipt', 'data-testid': 'receipt' },
    h('strong', {}, t('receipt.title', { removed: r.removed })),
    h('dl', { class: 'dl' },
      h('dt', {}, t('receipt.consents')), h('dd', { 'data-testid': 'receipt-consents' }, String(r.consents_deleted)),
      h('dt', {}, t('receipt.storage')), h('dd', {}, String(r.storage_entries_deleted)),
      h('dt', {}, t('receipt.at')), h('dd', {}, fmtTime(r.deleted_at_ms)),
      h('dt', {}, t('receipt.audit')), h('dd', {}, `#${r.audit_seq}`)));
}

// Install, upgrade or change the grant and the visible range of a plugin.
function installDialog(entry, installation, members) {
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

      // Visible range.
      const rangeName = nextId('range');
      const everyone = h('input', { type: 'radio', name: rangeName, id: `${rangeName}-all`, value: 'all', checked: !installation || !installation.visible_to, 'data-testid': 'range-everyone' });
      const listed = h('input', { type: 'radio', name: rangeName, id: `${rangeName}-list`, value: 'list', checked: Boolean(installation && installation.visible_to), 'data-testid': 'range-listed' });
      const chosen = new Set((installation && installation.visible_to) || []);
      const memberBoxes = members.map((m) => {
        const id = nextId('vis');
        const input = h('input', { type: 'checkbox', id, value: m.id, checked: chosen.has(m.id) });
        return { m, input, row: h('li', { class: 'check-row' }, input, h('label', { for: id }, `${m.profile.name || m.id} (${m.id})`, m.profile.department ? h('span', { class: 'muted' }, ` · ${m.profile.department}`) : null)) };
      });
      const departments = [...new Set(members.map((m) => m.profile.department).filter(Boolean))].sort();
      const deptSelect = h('select', {}, departments.map((d) => h('option', { value: d }, d)));
      const deptButton = h('button', { type: 'button', class: 'btn btn-small' }, t('install.addDept'));
      deptButton.addEventListener('click', () => {
        for (const b of memberBoxes) if (b.m.profile.department === deptSelect.value) b.input.checked = true;
      });
      const memberPanel = h('div', { class: 'member-pick' },
        departments.length ? h('div', { class: 'inline-field' }, field(t('install.department'), deptSelect), deptButton) : null,
        h('ul', { class: 'check-list', 'aria-label': t('install.members') }, memberBoxes.map((b) => b.row)));
      const syncRange = () => { memberPanel.hidden = !listed.checked; };
      everyone.addEventListener('change', syncRange);
      listed.addEventListener('change', syncRange);
      syncRange();

      renderScopes();
      body.append(
        h('p', { class: 'muted' }, entry.description),
        h('p', {}, t('consent.recipient'), ' ', h('strong', {}, entry.developer && entry.developer.name), entry.developer && entry.developer.contact ? ` · ${entry.developer.contact}` : ''),
        field(t('install.version'), versionSelect),
        diff,
        h('fieldset', { class: 'scope-group' }, h('legend', {}, t('install.scopes')), h('p', { class: 'hint' }, t('install.scopesHint')), scopeList),
        h('fieldset', { class: 'scope-group' }, h('legend', {}, t('install.range')),
          h('div', { class: 'check-row' }, everyone, h('label', { for: everyone.id }, t('admin.everyone'))),
          h('div', { class: 'check-row' }, listed, h('label', { for: listed.id }, t('install.listed'))),
          memberPanel),
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
          visible_to: listed.checked ? memberBoxes.filter((b) => b.input.checked).map((b) => b.m.id) : null,
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

async function loadAll(errorBox) {
  try {
    const [catalogue, installed, members] = await Promise.all([
      api('GET', '/plugins'), api('GET', '/workbench/plugins'), api('GET', '/members'),
    ]);
    return { catalogue, installed, members };
  } catch (err) {
    showError(errorBox, err);
    return null;
  }
}

async function renderCatalogue(section, ctx) {
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
        const view = await installDialog(entry, inst, data.members);
        if (view) {
          await load();
          showMessage(status, t('admin.installed', { name: view.name, version: view.version }));
        }
      });
      list.append(h('article', { class: 'card', 'data-testid': `catalogue-${entry.id}`, 'aria-labelledby': `cat-${entry.id}` },
        h('div', { class: 'card-head' },
          h('h3', { class: 'card-title', id: `cat-${entry.id}` }, entry.name, ' ', h('code', { class: 'muted small' }, entry.id)),
          inst ? badge(t('admin.installedBadge', { version: inst.version }), 'ok') : badge(t('admin.notInstalled'), 'neutral')),
        h('p', {}, entry.description),
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

async function renderInstalled(section, ctx) {
  const status = statusBox('installed-status');
  const error = alertBox('installed-error');
  const list = h('div', { class: 'card-list', 'data-testid': 'installations' });
  section.append(h('p', { class: 'muted' }, t('admin.installedLead')), status, error, list);

  async function load() {
    const data = await loadAll(error);
    if (!data || !ctx.alive()) return;
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
        const view = await installDialog(entry, inst, data.members);
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
          h('dt', {}, t('admin.range')), h('dd', {}, visibleText(inst.visible_to))),
        h('div', { class: 'form-actions' }, upgrade, toggle, remove),
        cardError,
        h('details', { class: 'preview' }, h('summary', {}, t('admin.previewSummary')), h('p', { class: 'hint' }, t('admin.previewHint')), previewForm, previewError, previewOut)));
    }
    keepFocus();
  }
  await load();
}

const PROFILE_FIELDS = ['name', 'nickname', 'department', 'title', 'email', 'phone', 'region'];

async function renderMembers(section, ctx) {
  const status = statusBox('members-status');
  const error = alertBox('members-error');

  // Add a member.
  const idInput = h('input', { type: 'text', required: true, autocomplete: 'off', spellcheck: 'false', 'data-testid': 'member-id' });
  const nameInput = h('input', { type: 'text', required: true, autocomplete: 'off', 'data-testid': 'member-name' });
  const deptInput = h('input', { type: 'text', autocomplete: 'off' });
  const titleInput = h('input', { type: 'text', autocomplete: 'off' });
  const addButton = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'member-add' }, t('members.add'));
  const addError = alertBox('member-add-error');
  const addForm = h('form', { class: 'form card', 'aria-labelledby': 'member-add-title' },
    h('h3', { class: 'card-title', id: 'member-add-title' }, t('members.addTitle')),
    h('div', { class: 'form-grid' },
      field(t('members.id'), idInput, t('members.idHint')), field(t('members.name'), nameInput),
      field(t('members.department'), deptInput), field(t('members.jobTitle'), titleInput)),
    h('div', { class: 'form-actions' }, addButton), addError);
  const holder = h('div');
  section.append(status, addForm, h('h3', { class: 'sub-title' }, t('members.list')), error, holder);

  addForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearBox(addError);
    const profile = { name: nameInput.value.trim() };
    if (deptInput.value.trim()) profile.department = deptInput.value.trim();
    if (titleInput.value.trim()) profile.title = titleInput.value.trim();
    busy(addButton, true);
    try {
      const m = await api('POST', '/members', { json: { id: idInput.value.trim(), profile } });
      showMessage(status, t('members.added', { id: m.id }));
      addForm.reset();
      await load();
    } catch (err) {
      showError(addError, err);
    } finally {
      busy(addButton, false);
    }
  });

  function editDialog(m) {
    return openDialog({
      title: t('members.editTitle', { id: m.id }),
      testid: 'member-dialog',
      build(body, close) {
        const inputs = {};
        const dlgError = alertBox('member-edit-error');
        const grid = h('div', { class: 'form-grid' });
        for (const f of PROFILE_FIELDS) {
          inputs[f] = h('input', { type: f === 'email' ? 'email' : 'text', value: m.profile[f] || '', autocomplete: 'off' });
          grid.append(field(t(`profile.${f}`), inputs[f]));
        }
        const form = h('form', { class: 'form' }, h('p', { class: 'hint' }, t('members.editHint')), grid, dlgError);
        const cancel = h('button', { type: 'button', class: 'btn' }, t('common.cancel'));
        cancel.addEventListener('click', () => close(null));
        const save = h('button', { type: 'submit', class: 'btn btn-primary' }, t('common.save'));
        form.append(dialogActions(cancel, save));
        form.addEventListener('submit', async (e) => {
          e.preventDefault();
          clearBox(dlgError);
          const patch = {};
          for (const f of PROFILE_FIELDS) {
            const v = inputs[f].value.trim();
            const old = m.profile[f] || '';
            if (v !== old) patch[f] = v === '' ? null : v;
          }
          if (!Object.keys(patch).length) {
            close(null);
            return;
          }
          busy(save, true);
          try {
            const updated = await api('PATCH', `/members/${enc(m.id)}`, { body: JSON.stringify(patch), headers: { 'content-type': 'application/merge-patch+json' } });
            close(updated);
          } catch (err) {
            busy(save, false);
            showError(dlgError, err);
          }
        });
        body.append(form);
      },
    }).done;
  }

  async function load() {
    let members;
    try {
      members = await api('GET', '/members');
    } catch (err) {
      showError(error, err);
      return;
    }
    if (!ctx.alive()) return;
    clearBox(error);
    const rows = members.map((m) => {
      const rowError = alertBox();
      const edit = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': t('members.editNamed', { id: m.id }), 'data-testid': `edit-${m.id}` }, t('members.edit'));
      const remove = h('button', { type: 'button', class: 'btn btn-small btn-danger', 'aria-label': t('members.removeNamed', { id: m.id }), 'data-testid': `remove-${m.id}` }, t('members.remove'));
      edit.addEventListener('click', async () => {
        const updated = await editDialog(m);
        if (updated) {
          await load();
          showMessage(status, t('members.updated', { id: updated.id }));
        }
      });
      remove.addEventListener('click', async () => {
        const ok = await confirmDialog({ title: t('members.removeTitle', { id: m.id }), message: t('members.removeMessage', { id: m.id, name: m.profile.name || m.id }), confirmLabel: t('members.remove'), danger: true });
        if (!ok) return;
        clearBox(rowError);
        try {
          const receipt = await api('DELETE', `/members/${enc(m.id)}`);
          await load();
          status.replaceChildren(receiptView(receipt));
        } catch (err) {
          showError(rowError, err);
        }
      });
      return h('tr', { 'data-member': m.id },
        h('td', {}, h('code', {}, m.id)), h('td', {}, m.profile.name || '—'), h('td', {}, m.profile.nickname || '—'),
        h('td', {}, m.profile.department || '—'), h('td', {}, m.profile.title || '—'),
        h('td', {}, (m.profile.roles || []).join(', ') || '—'),
        h('td', { class: 'actions-cell' }, edit, ' ', remove, rowError));
    });
    holder.replaceChildren(table({
      caption: t('members.list'), testid: 'members-table',
      columns: [t('members.id'), t('members.name'), t('profile.nickname'), t('members.department'), t('members.jobTitle'), t('members.roles'), t('col.actions')],
      rows, empty: t('members.none'),
    }));
    keepFocus();
  }
  await load();
}

// The server's audit actions, in its order (a test of the host holds this
// list to the server's).
const ACTIONS = ['read', 'invoke', 'invoke.refused', 'consent.grant', 'consent.withdraw', 'plugin.publish', 'plugin.install', 'plugin.upgrade', 'plugin.grant',
  'plugin.enable', 'plugin.disable', 'plugin.uninstall', 'admin.preview', 'member.add', 'member.update', 'member.remove', 'storage.get', 'storage.set',
  'storage.delete', 'storage.list', 'log.write', 'settings.retention'];

function toMs(value) {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : null;
}

async function renderAudit(section, ctx) {
  const verify = h('div', { class: 'verify', role: 'status', 'data-testid': 'verify-badge' }, t('audit.verifying'));
  const error = alertBox('audit-error');
  const exportError = alertBox('audit-export-error');

  const subject = h('input', { type: 'text', list: 'audit-members', autocomplete: 'off', 'data-testid': 'filter-subject' });
  const plugin = h('input', { type: 'text', list: 'audit-plugins', autocomplete: 'off', 'data-testid': 'filter-plugin' });
  const actor = h('input', { type: 'text', autocomplete: 'off', spellcheck: 'false', placeholder: 'member:wang.fang', 'data-testid': 'filter-actor' });
  const action = h('select', { 'data-testid': 'filter-action' }, h('option', { value: '' }, t('audit.any')), ACTIONS.map((a) => h('option', { value: a }, `${actionLabel(a)} (${a})`)));
  const outcome = h('select', { 'data-testid': 'filter-outcome' }, h('option', { value: '' }, t('audit.any')), ['allowed', 'denied', 'failed', 'trapped'].map((o) => h('option', { value: o }, outcomeLabel(o))));
  const from = h('input', { type: 'datetime-local', step: '1', 'data-testid': 'filter-from' });
  const to = h('input', { type: 'datetime-local', step: '1', 'data-testid': 'filter-to' });
  const memberList = h('datalist', { id: 'audit-members' });
  const pluginList = h('datalist', { id: 'audit-plugins' });
  const apply = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'filter-apply' }, t('audit.apply'));
  const reset = h('button', { type: 'button', class: 'btn' }, t('audit.reset'));
  const exportButton = h('button', { type: 'button', class: 'btn', 'data-testid': 'audit-export' }, t('audit.export'));
  const form = h('form', { class: 'filters card', 'aria-label': t('audit.filters') },
    h('div', { class: 'form-grid' },
      field(t('audit.subject'), subject), field(t('audit.plugin'), plugin), field(t('audit.actor'), actor),
      field(t('audit.action'), action), field(t('audit.outcome'), outcome),
      field(t('audit.from'), from), field(t('audit.to'), to)),
    memberList, pluginList,
    h('div', { class: 'form-actions' }, apply, reset, exportButton), exportError);
  const summary = h('p', { class: 'muted', 'aria-live': 'polite', 'data-testid': 'audit-summary' });
  const holder = h('div');
  const first = h('button', { type: 'button', class: 'btn', 'data-testid': 'audit-first' }, t('audit.first'));
  const nextButton = h('button', { type: 'button', class: 'btn', 'data-testid': 'audit-next' }, t('audit.next'));
  section.append(h('p', { class: 'muted' }, t('audit.lead')), verify, form, error, summary, holder, h('div', { class: 'pager' }, first, nextButton));

  const PAGE = 50;
  let filters = {};
  let cursor = null;
  let next = null;
  let pageNo = 1;

  function currentFilters() {
    return {
      subject: subject.value.trim(), plugin: plugin.value.trim(), actor: actor.value.trim(), action: action.value, outcome: outcome.value,
      from: toMs(from.value), to: toMs(to.value),
    };
  }

  async function load() {
    clearBox(error);
    summary.dataset.loaded = 'false';
    let page;
    try {
      page = await api('GET', `/audit${query({ ...filters, after: cursor, limit: PAGE })}`);
    } catch (err) {
      showError(error, err);
      summary.dataset.loaded = 'true';
      return;
    }
    if (!ctx.alive()) return;
    next = page.next || null;
    nextButton.disabled = !next;
    first.disabled = pageNo === 1;
    summary.textContent = t('audit.summary', { page: pageNo, n: page.records.length });
    holder.replaceChildren(table({
      caption: t('audit.table'), testid: 'audit-table',
      columns: [t('col.seq'), t('col.time'), t('col.actor'), t('col.subject'), t('col.action'), t('col.scope'), t('col.outcome'), t('col.detail'), t('col.invocation')],
      rows: page.records.map((r) => h('tr', { 'data-seq': String(r.seq), 'data-action': r.action, 'data-outcome': r.outcome, 'data-subject': r.subject || '', 'data-actor': r.actor },
        h('td', {}, String(r.seq)), h('td', { class: 'nowrap' }, fmtTime(r.ts_ms)), h('td', { class: 'nowrap' }, h('code', {}, r.actor)), h('td', {}, r.subject || '—'),
        h('td', { class: 'nowrap' }, actionLabel(r.action), h('br'), h('code', { class: 'muted small' }, r.action)),
        h('td', {}, r.scope ? h('code', {}, r.scope) : '—'),
        h('td', {}, badge(outcomeLabel(r.outcome), r.outcome === 'allowed' ? 'ok' : 'danger')),
        h('td', { class: 'detail' }, r.purpose ? h('div', {}, h('span', { class: 'muted' }, t('consent.purpose')), r.purpose) : null, r.reason ? h('div', {}, r.reason) : null),
        h('td', {}, r.invocation ? h('code', { class: 'hash' }, r.invocation) : '—'))),
      empty: t('audit.empty'),
    }));
    summary.dataset.loaded = 'true';
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    filters = currentFilters();
    cursor = null;
    pageNo = 1;
    busy(apply, true);
    await load();
    busy(apply, false);
  });
  reset.addEventListener('click', async () => {
    form.reset();
    filters = {};
    cursor = null;
    pageNo = 1;
    await load();
  });
  nextButton.addEventListener('click', async () => {
    if (!next) return;
    cursor = next;
    pageNo += 1;
    await load();
    if (nextButton.disabled) first.focus();
  });
  first.addEventListener('click', async () => {
    cursor = null;
    pageNo = 1;
    await load();
    nextButton.focus();
  });
  exportButton.addEventListener('click', async () => {
    clearBox(exportError);
    busy(exportButton, true);
    try {
      await download(`/audit/export${query(filters)}`, 'workbench-audit.ndjson');
    } catch (err) {
      showError(exportError, err);
    } finally {
      busy(exportButton, false);
    }
  });

  async function loadVerify() {
    try {
      const v = await api('GET', '/audit/verify');
      verify.className = `verify ${v.ok ? 'verify-ok' : 'verify-bad'}`;
      verify.dataset.ok = String(v.ok);
      verify.replaceChildren(
        h('strong', {}, v.ok ? t('audit.verifyOk') : t('audit.verifyBad')), ' ',
        t('audit.verifyDetail', { records: v.records, seq: v.checkpointed_seq }),
        h('div', { hidden: !v.error }, v.error || ''),
        h('details', {}, h('summary', {}, t('audit.publicKey')), h('code', { class: 'hash' }, v.public_key)));
    } catch (err) {
      verify.className = 'verify verify-bad';
      verify.dataset.ok = 'error';
      verify.replaceChildren(h('strong', {}, t('audit.verifyFailed')), ' ', err.message, ' ', h('code', {}, err.code));
    }
  }

  // Suggestions for the filters.
  Promise.all([api('GET', '/members'), api('GET', '/plugins')]).then(([members, plugins]) => {
    memberList.replaceChildren(...members.map((m) => h('option', { value: m.id }, m.profile.name || m.id)));
    pluginList.replaceChildren(...plugins.map((p) => h('option', { value: p.id }, p.name)));
  }, () => {});

  await Promise.all([loadVerify(), load()]);
}

async function renderRetention(section, ctx) {
  const status = statusBox('retention-status');
  const error = alertBox('retention-error');
  const auditDays = h('input', { type: 'number', inputmode: 'numeric', step: '1', 'data-testid': 'retention-audit' });
  const storageDays = h('input', { type: 'number', inputmode: 'numeric', step: '1', 'data-testid': 'retention-storage' });
  const save = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'retention-save' }, t('common.save'));
  const form = h('form', { class: 'form card', 'aria-label': t('admin.tab.retention') },
    h('div', { class: 'form-grid' },
      field(t('retention.audit'), auditDays, t('retention.auditHint')),
      field(t('retention.storage'), storageDays, t('retention.storageHint'))),
    h('div', { class: 'form-actions' }, save), error, status);
  section.append(h('p', { class: 'muted' }, t('retention.lead')), form);
  let current = {};
  const fill = (r) => {
    current = r || {};
    auditDays.value = current.audit_days ?? '';
    storageDays.value = current.plugin_storage_days ?? '';
  };
  // Nothing can be typed or saved before the current settings are in the
  // form: a late answer would otherwise overwrite what the admin typed.
  for (const control of [auditDays, storageDays, save]) control.disabled = true;
  try {
    fill(await api('GET', '/settings/retention'));
    for (const control of [auditDays, storageDays, save]) control.disabled = false;
  } catch (err) {
    showError(error, err);
  }
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearBox(error);
    clearBox(status);
    const body = { ...current };
    body.audit_days = auditDays.value === '' ? null : Number(auditDays.value);
    body.plugin_storage_days = storageDays.value === '' ? null : Number(storageDays.value);
    busy(save, true);
    try {
      fill(await api('PUT', '/settings/retention', { json: body }));
      showMessage(status, t('retention.saved'));
    } catch (err) {
      showError(error, err);
    } finally {
      busy(save, false);
    }
  });
}
