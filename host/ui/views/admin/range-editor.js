// A plugin's visible range as rules: everyone, departments (with their
// sub-departments), members, and exceptions that win. The server decides
// the rules at each call; the editor previews who they reach now.
import { t } from '../../i18n.js';
import { api } from '../../api.js';
import { h, nextId } from '../../dom.js';

// Departments in tree order, each with its depth.
export function treeOrder(departments) {
  const children = new Map();
  const ids = new Set(departments.map((d) => d.id));
  for (const d of departments) {
    const parent = d.parent && ids.has(d.parent) ? d.parent : '';
    if (!children.has(parent)) children.set(parent, []);
    children.get(parent).push(d);
  }
  const out = [];
  const walk = (parent, depth) => {
    for (const d of children.get(parent) || []) {
      if (out.some((x) => x.d.id === d.id)) continue;
      out.push({ d, depth });
      walk(d.id, depth + 1);
    }
  };
  walk('', 0);
  return out;
}

// The rules in words.
export function rangeText(range, departments, members) {
  if (!range) return t('admin.everyone');
  const deptName = (id) => (departments.find((d) => d.id === id) || { name: id }).name;
  const memberName = (id) => {
    const m = members.find((x) => x.id === id);
    return m ? `${m.profile.name || id} (${id})` : id;
  };
  const parts = [];
  if (range.everyone) parts.push(t('admin.everyone'));
  if (range.departments && range.departments.length) parts.push(t('range.textDepartments', { list: range.departments.map(deptName).join(t('range.separator')) }));
  if (range.members && range.members.length) parts.push(t('admin.visibleList', { list: range.members.map(memberName).join(t('range.separator')) }));
  const except = [...(range.deny_departments || []).map(deptName), ...(range.deny_members || []).map(memberName)];
  if (!parts.length) return t('admin.nobody');
  if (except.length) parts.push(t('range.textExcept', { list: except.join(t('range.separator')) }));
  return parts.join(t('range.joiner'));
}

function checkList(label, testid, items) {
  const boxes = [];
  const list = h('ul', { class: 'check-list', 'aria-label': label, 'data-testid': testid }, items.map((item) => {
    const id = nextId('rule');
    const input = h('input', { type: 'checkbox', id, value: item.value, checked: item.checked, 'data-testid': `${testid}-${item.value}` });
    boxes.push(input);
    return h('li', { class: 'check-row', style: item.depth ? `padding-inline-start: ${item.depth * 1.25}rem` : null }, input, h('label', { for: id }, item.label));
  }));
  return { list, chosen: () => boxes.filter((b) => b.checked).map((b) => b.value), boxes };
}

// The editor: { element, value() }. `range` is the installation's rules
// (absent for a new install: everyone).
export function rangeEditor(range, members, departments) {
  const current = range || { everyone: true, departments: [], members: [], deny_departments: [], deny_members: [] };
  const ordered = treeOrder(departments);
  const deptItems = (chosen) => ordered.map(({ d, depth }) => ({ value: d.id, label: d.name, depth, checked: chosen.includes(d.id) }));
  const memberItems = (chosen) => members.map((m) => ({
    value: m.id, checked: chosen.includes(m.id),
    label: h('span', {}, `${m.profile.name || m.id} (${m.id})`, m.profile.department ? h('span', { class: 'muted' }, ` · ${m.profile.department}`) : null),
  }));
  const everyoneId = nextId('everyone');
  const everyone = h('input', { type: 'checkbox', id: everyoneId, checked: Boolean(current.everyone), 'data-testid': 'range-everyone' });
  const depts = checkList(t('range.departments'), 'range-departments', deptItems(current.departments || []));
  const people = checkList(t('range.members'), 'range-members', memberItems(current.members || []));
  const denyDepts = checkList(t('range.denyDepartments'), 'range-deny-departments', deptItems(current.deny_departments || []));
  const denyPeople = checkList(t('range.denyMembers'), 'range-deny-members', memberItems(current.deny_members || []));
  const preview = h('div', { class: 'range-preview', role: 'status', 'aria-live': 'polite', 'data-testid': 'range-preview' });
  const includes = h('div', { class: 'range-includes' },
    departments.length ? h('fieldset', { class: 'scope-group' }, h('legend', {}, t('range.departments')), h('p', { class: 'hint' }, t('range.departmentsHint')), depts.list) : null,
    h('fieldset', { class: 'scope-group' }, h('legend', {}, t('range.members')), people.list));
  const hasExceptions = (current.deny_departments || []).length + (current.deny_members || []).length > 0;
  const excepts = h('details', { class: 'range-except', open: hasExceptions || null },
    h('summary', { 'data-testid': 'range-except' }, t('range.except')),
    h('p', { class: 'hint' }, t('range.exceptHint')),
    departments.length ? h('fieldset', { class: 'scope-group' }, h('legend', {}, t('range.denyDepartments')), denyDepts.list) : null,
    h('fieldset', { class: 'scope-group' }, h('legend', {}, t('range.denyMembers')), denyPeople.list));

  const value = () => ({
    everyone: everyone.checked,
    departments: everyone.checked ? [] : depts.chosen(),
    members: everyone.checked ? [] : people.chosen(),
    deny_departments: denyDepts.chosen(),
    deny_members: denyPeople.chosen(),
  });

  let asked = 0;
  let timer = null;
  const refresh = () => {
    includes.hidden = everyone.checked;
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const mine = ++asked;
      try {
        const seen = await api('POST', '/workbench/range-preview', { json: value() });
        if (mine !== asked) return;
        const names = seen.members.map((m) => m.name).join(t('range.separator'));
        preview.replaceChildren(
          h('strong', { 'data-testid': 'range-count' }, t('range.count', { count: seen.count })),
          seen.count ? h('span', { class: 'muted', 'data-testid': 'range-names' }, ` ${names}${seen.count > seen.members.length ? t('range.more') : ''}`) : null);
      } catch (err) {
        if (mine === asked) preview.textContent = err.message;
      }
    }, 150);
  };
  for (const box of [everyone, ...depts.boxes, ...people.boxes, ...denyDepts.boxes, ...denyPeople.boxes]) box.addEventListener('change', refresh);
  refresh();

  const element = h('fieldset', { class: 'scope-group', 'data-testid': 'range-editor' }, h('legend', {}, t('install.range')),
    h('p', { class: 'hint' }, t('range.hint')),
    h('div', { class: 'check-row' }, everyone, h('label', { for: everyoneId }, t('admin.everyone'))),
    includes, excepts, preview);
  return { element, value };
}
