// 成员: the directory (add, edit, remove with the receipt of what went with
// them, end a member's sessions).
import { t } from '../../i18n.js';
import { api, enc } from '../../api.js';
import { h, alertBox, showError, showMessage, statusBox, clearBox, table, confirmDialog, openDialog, dialogActions, field, busy } from '../../dom.js';
import { keepFocus, receiptView } from './common.js';
import { renderDepartments } from './departments.js';
import { treeOrder } from './range-editor.js';

const PROFILE_FIELDS = ['name', 'nickname', 'department', 'title', 'email', 'phone', 'region'];

export async function renderMembers(section, ctx) {
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
  const departmentsCard = h('div');
  section.append(status, addForm, departmentsCard, h('h3', { class: 'sub-title' }, t('members.list')), error, holder);
  const departments = await renderDepartments(departmentsCard, ctx, () => load());

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
        const mine = new Set(m.profile.departments || []);
        const deptBoxes = treeOrder(departments()).map(({ d, depth }) => {
          const id = `dept-${d.id}`;
          const input = h('input', { type: 'checkbox', id, value: d.id, checked: mine.has(d.id), 'data-testid': `member-department-${d.id}` });
          return { input, row: h('li', { class: 'check-row', style: depth ? `padding-inline-start: ${depth * 1.25}rem` : null }, input, h('label', { for: id }, d.name)) };
        });
        const deptGroup = deptBoxes.length
          ? h('fieldset', { class: 'scope-group' }, h('legend', {}, t('members.departments')), h('ul', { class: 'check-list' }, deptBoxes.map((b) => b.row)))
          : null;
        const form = h('form', { class: 'form' }, h('p', { class: 'hint' }, t('members.editHint')), grid, deptGroup, dlgError);
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
          const chosen = deptBoxes.filter((b) => b.input.checked).map((b) => b.input.value);
          if ([...chosen].sort().join() !== [...mine].sort().join()) patch.departments = chosen;
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
      const endSessions = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': t('members.endSessionsNamed', { id: m.id }), 'data-testid': `end-sessions-${m.id}` }, t('members.endSessions'));
      endSessions.addEventListener('click', async () => {
        const ok = await confirmDialog({ title: t('members.endSessionsTitle', { id: m.id }), message: t('members.endSessionsMessage', { name: m.profile.name || m.id }), confirmLabel: t('members.endSessions'), danger: true });
        if (!ok) return;
        clearBox(rowError);
        try {
          await api('POST', `/members/${enc(m.id)}/sessions/end`);
          showMessage(status, t('members.sessionsEnded', { id: m.id }));
        } catch (err) {
          showError(rowError, err);
        }
      });
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
        h('td', { class: 'actions-cell' }, edit, ' ', endSessions, ' ', remove, rowError));
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
