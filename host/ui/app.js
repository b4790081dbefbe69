// Workbench browser UI: header, role-based navigation and hash routing.
import { t, currentLang, setLang, roleLabel } from './i18n.js';
import { getSession, clearSession, hasRole, hasAnyJob } from './session.js';
import { onUnauthorized } from './api.js';
import { h } from './dom.js';
import { renderSignIn } from './views/signin.js';
import { renderWorkbench } from './views/workbench.js';
import { renderMyData } from './views/mydata.js';
import { renderAdmin } from './views/admin.js';
import { renderDeveloper } from './views/developer.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const langSelect = document.getElementById('lang');
const signOutButton = document.getElementById('signout');

// The header's height, for what stays in view below it (a plugin's name above its page).
const topbar = document.querySelector('[data-testid="topbar"]');
if (topbar && typeof ResizeObserver === 'function') {
  new ResizeObserver(() => document.documentElement.style.setProperty('--topbar-height', `${topbar.offsetHeight}px`)).observe(topbar);
}

const ROUTES = [
  { name: 'workbench', role: 'member', label: 'nav.workbench', render: renderWorkbench },
  { name: 'mydata', role: 'member', label: 'nav.mydata', render: renderMyData },
  { name: 'admin', role: 'jobs', label: 'nav.admin', render: renderAdmin },
  { name: 'developer', role: 'developer', label: 'nav.developer', render: renderDeveloper },
];

let notice = null;
let generation = 0;
// What the shown view asked to run when it is left (closing a plugin frame's bridge).
let leaving = [];

function parseHash() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean);
  return { name: parts[0] || '', sub: parts[1] || '', rest: parts.slice(2).join('/') };
}

function allowedRoutes(session) {
  return ROUTES.filter((r) => (r.role === 'jobs' ? hasAnyJob(session) : hasRole(session, r.role)));
}

export function go(hash) {
  if (location.hash === hash) render();
  else location.hash = hash;
}

function renderHeader(session) {
  document.documentElement.lang = currentLang() === 'zh' ? 'zh-CN' : 'en';
  document.title = t('app.title');
  document.getElementById('product-name').textContent = t('app.product');
  document.getElementById('lang-label').textContent = t('lang.label');
  langSelect.value = currentLang();
  nav.setAttribute('aria-label', t('nav.label'));
  const who = document.getElementById('who');
  const company = document.getElementById('company');
  if (session) {
    company.textContent = t('header.tenant', { tenant: session.tenantName || session.tenant || '—' });
    const roles = (session.roles || []).map(roleLabel).join(' · ');
    who.replaceChildren(
      h('span', { class: 'avatar', 'aria-hidden': 'true' }, (session.name || session.member || '?').slice(0, 1)),
      h('span', { class: 'who-text' },
        h('span', { class: 'who-name', 'data-testid': 'who-name' }, session.name || session.member),
        h('span', { class: 'who-roles' }, `${session.member} · ${roles}`)),
    );
    signOutButton.hidden = false;
    signOutButton.textContent = t('header.signOut');
  } else {
    company.textContent = t('header.tagline');
    who.replaceChildren();
    signOutButton.hidden = true;
  }
}

function renderNav(session, active) {
  if (!session) {
    nav.hidden = true;
    nav.replaceChildren();
    return;
  }
  nav.hidden = false;
  const list = h('ul', { class: 'nav-list' }, allowedRoutes(session).map((r) => h('li', {},
    h('a', { href: `#/${r.name}`, class: 'nav-link', 'aria-current': r.name === active ? 'page' : null, 'data-testid': `nav-${r.name}` }, t(r.label)))));
  nav.replaceChildren(list);
}

async function render(opts = {}) {
  const focusTitle = opts.focusTitle !== false;
  generation += 1;
  const gen = generation;
  const session = getSession();
  const { name, sub, rest } = parseHash();
  for (const leave of leaving.splice(0)) leave();
  renderHeader(session);
  if (!session) {
    renderNav(null);
    if (name !== 'signin') {
      history.replaceState(null, '', '#/signin');
    }
    main.replaceChildren();
    const n = notice;
    notice = null;
    await renderSignIn(main, { go, notice: n, rerender: render });
    return;
  }
  const routes = allowedRoutes(session);
  let route = routes.find((r) => r.name === name);
  if (!route) {
    route = routes[0];
    if (!route) {
      renderNav(session, '');
      main.replaceChildren(h('h1', { class: 'page-title', tabindex: '-1' }, t('app.noRole')));
      return;
    }
    history.replaceState(null, '', `#/${route.name}`);
  }
  renderNav(session, route.name);
  main.replaceChildren();
  const ctx = { session, sub, rest, go, rerender: render, alive: () => gen === generation, onLeave: (f) => leaving.push(f) };
  try {
    await route.render(main, ctx);
    if (focusTitle && gen === generation) {
      const title = main.querySelector('h1');
      if (title && !document.querySelector('dialog[open]')) title.focus({ preventScroll: true });
    }
  } catch (err) {
    if (gen !== generation) return;
    main.append(h('div', { role: 'alert', class: 'alert' }, h('strong', { class: 'alert-title' }, t('error.title')), ' ', String(err && err.message ? err.message : err)));
  }
}

signOutButton.addEventListener('click', () => {
  clearSession();
  notice = t('signin.signedOut');
  go('#/signin');
});

langSelect.addEventListener('change', () => {
  setLang(langSelect.value);
  render({ focusTitle: false });
  langSelect.focus();
});

onUnauthorized((err) => {
  clearSession();
  notice = err.code === 'session_ended' ? t('signin.ended') : t('signin.expired', { message: err.message });
  go('#/signin');
});

window.addEventListener('hashchange', () => render());
render({ focusTitle: false });
