//! The demo company of `API.md`: tenant `demo` (红圈示范工程有限公司), its
//! members, the three example plugins published by `acme`, and the
//! stand-in for Acme's visit service that 客户拜访 sends visits to.

pub mod visits;

use std::path::Path;

use crate::model::directory::Role;
use crate::model::directory::{ApprovalPermission, CustomerAccess, CustomerPermission, Gender, MemberProfile};
use crate::model::text::Languages;
use crate::scope::Scope;
use crate::service::installations::InstallRequest;
use crate::service::{ServiceResult, Workbench};

/// The demo tenant.
pub const TENANT: &str = "demo";
/// The demo tenant's name.
pub const TENANT_NAME: &str = "红圈示范工程有限公司";
/// The demo admin.
pub const ADMIN: &str = "admin";
/// The demo auditor: reads the audit log, changes nothing.
pub const AUDITOR: &str = "zhou.min";
/// The developer who publishes the example plugins.
pub const DEVELOPER: &str = "acme";
/// The example plugins, in the order the demo shows them.
pub const PLUGINS: [&str; 3] = ["site-daily-report", "approval-helper", "customer-visit"];

/// How long a demo token lasts (the printed ones and the page's sign-in).
pub const SESSION: std::time::Duration = std::time::Duration::from_secs(8 * 3600);

/// Who one can be in the demo: member id, roles, and who that is.
pub const IDENTITIES: [(&str, &[Role], &str); 6] = [
    (ADMIN, &[Role::Admin, Role::Member], "admin (陈静)"),
    (AUDITOR, &[Role::Auditor, Role::Member], "auditor zhou.min (周敏)"),
    ("zhang.wei", &[Role::Member], "member zhang.wei (张伟)"),
    ("li.na", &[Role::Member], "member li.na (李娜)"),
    ("wang.fang", &[Role::Member], "member wang.fang (王芳)"),
    (DEVELOPER, &[Role::Developer], "developer acme"),
];

fn customer(id: &str, name: &str, access: CustomerAccess) -> CustomerPermission {
    CustomerPermission { customer_id: id.into(), customer_name: name.into(), access }
}

fn approval(id: &str, name: &str, approve: bool, initiate: bool, max_yuan: Option<u64>) -> ApprovalPermission {
    ApprovalPermission {
        process_id: id.into(),
        process_name: name.into(),
        can_approve: approve,
        can_initiate: initiate,
        max_amount_cents: max_yuan.map(|y| y * 100),
    }
}

/// The demo members: id and profile.
pub fn members() -> Vec<(&'static str, MemberProfile)> {
    let base = |name: &str, nickname: &str, roles: &[Role]| MemberProfile {
        name: name.into(),
        nickname: Some(nickname.into()),
        roles: roles.to_vec(),
        ..MemberProfile::default()
    };
    vec![
        (
            "admin",
            MemberProfile {
                department: Some("信息部".into()),
                title: Some("系统管理员".into()),
                ..base("陈静", "阿静", &[Role::Admin, Role::Member])
            },
        ),
        (
            "zhang.wei",
            MemberProfile {
                avatar: Some("https://avatars.example/zhang.wei.png".into()),
                gender: Gender::Male,
                birthday: Some("1988-04-12".into()),
                region: Some("上海".into()),
                email: Some("zhang.wei@hongquan-demo.example".into()),
                phone: Some("13800138001".into()),
                department: Some("工程部".into()),
                title: Some("项目经理".into()),
                customers: vec![
                    customer("c-1001", "上海建工三局", CustomerAccess::Manage),
                    customer("c-1002", "浦东新区城投", CustomerAccess::Edit),
                    customer("c-1003", "申通地铁集团", CustomerAccess::View),
                ],
                approvals: vec![
                    approval("expense", "费用报销", true, true, Some(50_000)),
                    approval("purchase", "材料采购", true, true, Some(200_000)),
                    approval("leave", "请假", true, true, None),
                    approval("contract", "合同审批", false, true, None),
                ],
                ..base("张伟", "小张", &[Role::Member])
            },
        ),
        (
            "li.na",
            MemberProfile {
                avatar: Some("https://avatars.example/li.na.png".into()),
                gender: Gender::Female,
                region: Some("杭州".into()),
                phone: Some("13900139002".into()),
                department: Some("安全部".into()),
                title: Some("安全员".into()),
                customers: vec![customer("c-1002", "浦东新区城投", CustomerAccess::View)],
                approvals: vec![
                    approval("leave", "请假", false, true, None),
                    approval("expense", "费用报销", false, true, None),
                ],
                ..base("李娜", "娜娜", &[Role::Member])
            },
        ),
        (
            "wang.fang",
            MemberProfile {
                gender: Gender::Female,
                region: Some("苏州".into()),
                department: Some("财务部".into()),
                title: Some("会计".into()),
                approvals: vec![approval("expense", "费用报销", true, false, Some(5_000))],
                ..base("王芳", "芳芳", &[Role::Member])
            },
        ),
        (
            AUDITOR,
            MemberProfile {
                gender: Gender::Female,
                department: Some("审计部".into()),
                title: Some("内审专员".into()),
                ..base("周敏", "敏敏", &[Role::Auditor, Role::Member])
            },
        ),
        ("acme", MemberProfile { ..base("Acme 开发者", "acme", &[Role::Developer]) }),
    ]
}

/// An example plugin as read from disk, before anything is written.
struct Example {
    id: &'static str,
    manifest: String,
    component: Vec<u8>,
}

/// Reads every example plugin's `manifests/<id>/plugin.toml` and
/// `components/<id_with_underscores>.wasm`; the first file missing is the
/// error, naming the flag that points at it.
fn read_examples(manifests: &Path, components: &Path) -> anyhow::Result<Vec<Example>> {
    PLUGINS
        .iter()
        .map(|&id| {
            let manifest_path = manifests.join(id).join("plugin.toml");
            let component_path = components.join(format!("{}.wasm", id.replace('-', "_")));
            let manifest = std::fs::read_to_string(&manifest_path).map_err(|e| {
                anyhow::anyhow!(
                    "reading {}: {e}; --demo-manifests must name the example plugins' folder \
                     (plugins/ in the repository); nothing was written",
                    manifest_path.display()
                )
            })?;
            let component = std::fs::read(&component_path).map_err(|e| {
                anyhow::anyhow!(
                    "reading {}: {e}; build the plugins first (cargo xtask build-guests) or pass \
                     --demo-components; nothing was written",
                    component_path.display()
                )
            })?;
            Ok(Example { id, manifest, component })
        })
        .collect()
}

/// What [`seed`] did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Seeded {
    /// The tenant and its members were written (it did not exist).
    pub directory: bool,
    /// Example plugins installed now (publishing them where needed).
    pub installed: Vec<&'static str>,
}

/// Seeds what is missing of the demo company: the tenant and its members
/// when the tenant does not exist, then each example plugin not installed
/// yet (published by `acme` with every declared scope granted), then the
/// demo consents to the plugins installed now. Every file is read before
/// anything is written, so a wrong folder changes nothing; and a company
/// left half-seeded by an earlier start is completed, not skipped.
pub async fn seed(workbench: &Workbench, manifests: &Path, components: &Path) -> anyhow::Result<Seeded> {
    let examples = read_examples(manifests, components)?;
    let mut seeded = Seeded::default();
    if workbench.tenant_name(TENANT).await?.is_none() {
        workbench.sync_directory(TENANT, TENANT_NAME, &members()).await?;
        seeded.directory = true;
    }
    let installed: Vec<String> = workbench.installations(TENANT).await?.into_iter().map(|i| i.plugin).collect();
    for example in examples {
        if installed.iter().any(|id| id == example.id) {
            continue;
        }
        // Publishing the same manifest and component again is accepted as it is.
        let published = workbench.publish(TENANT, DEVELOPER, &example.manifest, example.component, None).await?;
        let request = InstallRequest {
            version: published.version,
            granted: published.scopes,
            visible_to: None,
            egress: published.destinations,
            config: Default::default(),
            subscriptions: None,
        };
        workbench.install(TENANT, ADMIN, example.id, request).await?;
        consent(workbench, example.id).await?;
        seeded.installed.push(example.id);
    }
    Ok(seeded)
}

/// The demo consents to example plugin `plugin`: zhang.wei's to every scope
/// of each (the sensitive phone separately), li.na's to the daily report.
async fn consent(workbench: &Workbench, plugin: &str) -> ServiceResult<()> {
    let scopes = match plugin {
        "site-daily-report" => vec![Scope::UserId, Scope::UserName],
        "approval-helper" => vec![Scope::PermApproval, Scope::UserNickname],
        _ => vec![Scope::UserNickname, Scope::UserAvatar, Scope::PermCustomer, Scope::UserPhone],
    };
    let sensitive: Vec<Scope> = scopes.iter().copied().filter(|s| s.is_sensitive()).collect();
    workbench.consent(TENANT, "zhang.wei", plugin, &scopes, &sensitive, &Languages::default()).await?;
    if plugin == "site-daily-report" {
        workbench
            .consent(TENANT, "li.na", plugin, &[Scope::UserId, Scope::UserName], &[], &Languages::default())
            .await?;
    }
    Ok(())
}
