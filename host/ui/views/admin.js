// 应用管理: catalogue, installations, self-service, event deliveries,
// members, audit log and retention. Each administrative job sees its own
// tabs (app_admin: catalogue, installed, self-service and deliveries;
// member_admin: members; auditor: audit; admin: all, and retention). Each tab
// is a module of views/admin/.
import { t } from '../i18n.js';
import { h } from '../dom.js';
import { hasRole } from '../session.js';
import { renderCatalogue } from './admin/catalogue.js';
import { renderInstalled } from './admin/installed.js';
import { renderMembers } from './admin/members.js';
import { renderAudit } from './admin/audit.js';
import { renderRetention } from './admin/retention.js';
import { renderSelfService } from './admin/self-service.js';
import { renderDeliveries } from './admin/deliveries.js';

const TABS = [
  { name: 'catalogue', role: 'app_admin', label: 'admin.tab.catalogue', render: renderCatalogue },
  { name: 'installed', role: 'app_admin', label: 'admin.tab.installed', render: renderInstalled },
  { name: 'self-service', role: 'app_admin', label: 'admin.tab.selfService', render: renderSelfService },
  { name: 'deliveries', role: 'app_admin', label: 'admin.tab.deliveries', render: renderDeliveries },
  { name: 'members', role: 'member_admin', label: 'admin.tab.members', render: renderMembers },
  { name: 'audit', role: 'auditor', label: 'admin.tab.audit', render: renderAudit },
  { name: 'retention', role: 'admin', label: 'admin.tab.retention', render: renderRetention },
];

export async function renderAdmin(main, ctx) {
  const tabs = TABS.filter((x) => hasRole(ctx.session, x.role));
  const tab = tabs.find((x) => x.name === ctx.sub) || tabs[0];
  main.append(
    h('h1', { class: 'page-title', tabindex: '-1' }, t('admin.title')),
    h('nav', { class: 'subnav', 'aria-label': t('admin.subnav') },
      h('ul', {}, tabs.map((x) => h('li', {}, h('a', {
        href: `#/admin/${x.name}`, class: 'subnav-link', 'aria-current': x === tab ? 'page' : null, 'data-testid': `tab-${x.name}`,
      }, t(x.label)))))),
  );
  const section = h('section', { class: 'section', 'aria-labelledby': 'admin-section-title' },
    h('h2', { id: 'admin-section-title', class: 'section-title' }, t(tab.label)));
  main.append(section);
  await tab.render(section, ctx);
}
