// 保留期限: how long audit records and plugin storage are kept.
import { t } from '../../i18n.js';
import { api } from '../../api.js';
import { h, alertBox, showError, showMessage, statusBox, clearBox, field, busy } from '../../dom.js';

export async function renderRetention(section, ctx) {
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
