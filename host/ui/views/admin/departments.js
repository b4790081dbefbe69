// 部门: the tenant's department tree, in the members tab (add, rename, move,
// remove). The server refuses a department under itself, and removing one
// that still has departments, members or a visible range naming it.
import { t } from '../../i18n.js';
import { api, enc } from '../../api.js';
import { h, alertBox, showError, showMessage, statusBox, clearBox, table, field, busy } from '../../dom.js';
import { treeOrder } from './range-editor.js';

// Renders the departments card; `changed()` runs after each change.
export async function renderDepartments(section, ctx, changed) {
  const status = statusBox('departments-status');
  const error = alertBox('departments-error');
  const idInput = h('input', { type: 'text', required: true, autocomplete: 'off', spellcheck: 'false', 'data-testid': 'department-id' });
  const nameInput = h('input', { type: 'text', required: true, autocomplete: 'off', 'data-testid': 'department-name' });
  const parentSelect = h('select', { 'data-testid': 'department-parent' });
  const save = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'department-save' }, t('departments.save'));
  const formError = alertBox('department-error');
  const form = h('form', { class: 'form card', 'aria-labelledby': 'departments-title' },
    h('h3', { class: 'card-title', id: 'departments-title' }, t('departments.title')),
    h('p', { class: 'hint' }, t('departments.lead')),
    h('div', { class: 'form-grid' },
      field(t('departments.id'), idInput, t('members.idHint')), field(t('departments.name'), nameInput),
      field(t('departments.parent'), parentSelect)),
    h('div', { class: 'form-actions' }, save), formError);
  const holder = h('div');
  section.append(form, status, error, holder);

  let departments = [];
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearBox(formError);
    busy(save, true);
    const id = idInput.value.trim();
    try {
      await api('PUT', `/departments/${enc(id)}`, { json: { name: nameInput.value.trim(), parent: parentSelect.value || null } });
      showMessage(status, t('departments.saved', { id }));
      form.reset();
      await load();
      await changed();
    } catch (err) {
      showError(formError, err);
    } finally {
      busy(save, false);
    }
  });

  async function load() {
    try {
      departments = await api('GET', '/departments');
    } catch (err) {
      showError(error, err);
      return;
    }
    if (!ctx.alive()) return;
    clearBox(error);
    const ordered = treeOrder(departments);
    parentSelect.replaceChildren(h('option', { value: '' }, t('departments.top')),
      ...ordered.map(({ d, depth }) => h('option', { value: d.id }, `${'\u3000'.repeat(depth)}${d.name} (${d.id})`)));
    const rows = ordered.map(({ d, depth }) => {
      const rowError = alertBox();
      const edit = h('button', { type: 'button', class: 'btn btn-small', 'aria-label': t('members.editNamed', { id: d.id }) }, t('members.edit'));
      edit.addEventListener('click', () => {
        idInput.value = d.id;
        nameInput.value = d.name;
        parentSelect.value = d.parent || '';
        nameInput.focus();
      });
      const remove = h('button', { type: 'button', class: 'btn btn-small btn-danger', 'aria-label': t('departments.removeNamed', { name: d.name }), 'data-testid': `remove-department-${d.id}` }, t('departments.remove'));
      remove.addEventListener('click', async () => {
        clearBox(rowError);
        try {
          await api('DELETE', `/departments/${enc(d.id)}`);
          showMessage(status, t('departments.removed', { id: d.id }));
          await load();
          await changed();
        } catch (err) {
          showError(rowError, err);
        }
      });
      return h('tr', { 'data-department': d.id },
        h('td', {}, h('span', { style: `padding-inline-start: ${depth * 1.25}rem` }, d.name)), h('td', {}, h('code', {}, d.id)),
        h('td', { class: 'actions-cell' }, edit, ' ', remove, rowError));
    });
    holder.replaceChildren(table({
      caption: t('departments.list'), testid: 'departments-table',
      columns: [t('departments.name'), t('departments.id'), t('col.actions')],
      rows, empty: t('departments.none'),
    }));
  }
  await load();
  return () => departments;
}
