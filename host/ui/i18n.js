// The page's language: every string comes from i18n/zh.js (the default) or
// i18n/en.js, which have the same keys.
import zh from './i18n/zh.js';
import en from './i18n/en.js';

const KEY = 'workbench.lang';

const DICTS = { zh, en };

function stored() {
  try {
    const v = localStorage.getItem(KEY);
    return v === 'en' || v === 'zh' ? v : null;
  } catch {
    return null;
  }
}

let lang = stored() || 'zh';

export function currentLang() {
  return lang;
}

export function setLang(value) {
  lang = value === 'en' ? 'en' : 'zh';
  try {
    localStorage.setItem(KEY, lang);
  } catch { /* private mode: the choice lasts for this page */ }
}

export function t(key, params) {
  let s = DICTS[lang][key] ?? zh[key] ?? key;
  if (params) s = s.replace(/\{(\w+)\}/g, (m, name) => (params[name] !== undefined && params[name] !== null ? String(params[name]) : m));
  return s;
}

const known = (prefix, value) => (DICTS[lang][`${prefix}.${value}`] !== undefined ? t(`${prefix}.${value}`) : value);
export const roleLabel = (r) => known('role', r);
export const stateLabel = (s) => known('state', s);
// A scope's field in the page's language; the server's wording for a scope the page does not know.
export const fieldLabel = (scope) => (DICTS[lang][`field.${scope.scope}`] !== undefined ? t(`field.${scope.scope}`) : scope.field);
export const outcomeLabel = (o) => known('outcome', o);
export const actionLabel = (a) => known('action', a);
