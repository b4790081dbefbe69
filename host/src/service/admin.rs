//! Tenant admins: install, upgrade, disable, enable and uninstall plugins;
//! preview what a plugin would receive; the member directory; retention.

use serde::{Deserialize, Serialize};

use super::{Actor, ServiceError, ServiceResult, Workbench, scope_list};
use crate::audit::{AuditEvent, Outcome};
use crate::gate;
use crate::scope::{Scope, ScopeSet};
use crate::store::{Deleted, Installation, InstallationState, MemberProfile, Retention};

/// An installation as the admin sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InstallationView {
    /// Plugin id.
    pub plugin: String,
    /// Display name of the installed version.
    pub name: String,
    /// Installed version.
    pub version: String,
    /// Scopes the admin granted.
    pub granted_scopes: Vec<Scope>,
    /// Scopes the version declares.
    pub declared_scopes: Vec<Scope>,
    /// Members who see it; absent = everyone.
    pub visible_to: Option<Vec<String>>,
    /// enabled or disabled.
    #[schema(value_type = String)]
    pub state: InstallationState,
}

/// What an uninstall or a member's removal deleted.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeletionReceipt {
    /// `plugin:ID` or `member:ID`.
    pub removed: String,
    /// Consent rows deleted.
    pub consents_deleted: u64,
    /// Plugin storage entries deleted.
    pub storage_entries_deleted: u64,
    /// When, ms since the epoch.
    pub deleted_at_ms: i64,
    /// The audit record of the deletion.
    pub audit_seq: i64,
}

/// One scope in a preview.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PreviewScope {
    /// The scope.
    pub scope: Scope,
    /// Required by the plugin.
    pub required: bool,
    /// Granted by the admin.
    pub granted: bool,
    /// `allowed` or the denial code the plugin would get.
    pub decision: &'static str,
    /// The value the plugin would receive, when allowed and personal.
    #[schema(value_type = Object)]
    pub value: Option<serde_json::Value>,
}

/// What a plugin would receive for a member now.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Preview {
    /// Plugin id.
    pub plugin: String,
    /// Installed version.
    pub version: String,
    /// The member.
    pub member: String,
    /// Whether the member may use it (in range, enabled, required scopes consented).
    pub usable: bool,
    /// Per declared scope.
    pub scopes: Vec<PreviewScope>,
}

/// A member as the directory shows them.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Member id (1 to 64 of a-z, 0-9, `.`, `_`, `-`).
    pub id: String,
    /// Profile fields.
    #[schema(value_type = Object)]
    pub profile: MemberProfile,
}

/// What an install or upgrade asks for.
#[derive(Debug, Clone)]
pub struct InstallRequest {
    /// Version to run.
    pub version: String,
    /// Scopes the admin grants (a subset of the declared ones, including every required one).
    pub granted: Vec<Scope>,
    /// Members who see it; `None` = everyone.
    pub visible_to: Option<Vec<String>>,
}

const ROLES: [&str; 4] = ["admin", "member", "developer", "operator"];

/// Checks a member id.
pub fn valid_member_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
}

fn check_profile(profile: &MemberProfile) -> ServiceResult<()> {
    let bad = |message: String| Err(ServiceError::BadRequest(message));
    if profile.name.trim().is_empty() || profile.name.chars().count() > 100 {
        return bad("name must be 1 to 100 characters".into());
    }
    let texts = [
        ("nickname", &profile.nickname),
        ("avatar", &profile.avatar),
        ("region", &profile.region),
        ("email", &profile.email),
        ("phone", &profile.phone),
        ("department", &profile.department),
        ("title", &profile.title),
    ];
    for (field, value) in texts.into_iter().chain([("name", &Some(profile.name.clone()))]) {
        if value.as_ref().is_some_and(|v| v.chars().count() > 200) {
            return bad(format!("{field} must be at most 200 characters"));
        }
        if value.as_ref().is_some_and(|v| v.chars().any(char::is_control)) {
            return bad(format!("{field} must not contain control characters"));
        }
    }
    if let Some(birthday) = &profile.birthday
        && !valid_date(birthday)
    {
        return bad(format!("birthday {birthday:?} must be a date YYYY-MM-DD"));
    }
    if let Some(email) = &profile.email
        && !email.split_once('@').is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'))
    {
        return bad(format!("email {email:?} is not an email address"));
    }
    if let Some(phone) = &profile.phone
        && !(phone.len() >= 5 && phone.len() <= 20 && phone.trim_start_matches('+').bytes().all(|b| b.is_ascii_digit()))
    {
        return bad(format!("phone {phone:?} must be 5 to 20 digits, optionally after +"));
    }
    if let Some(avatar) = &profile.avatar
        && !(avatar.starts_with("https://") || avatar.starts_with("http://"))
    {
        return bad("avatar must be an http(s) URL".into());
    }
    if let Some(role) = profile.roles.iter().find(|r| !ROLES.contains(&r.as_str())) {
        return bad(format!("unknown role {role:?}; roles are admin, member, developer, operator"));
    }
    Ok(())
}

fn valid_date(text: &str) -> bool {
    let parts: Vec<_> = text.split('-').collect();
    let [y, m, d] = parts.as_slice() else { return false };
    let num = |s: &str, len: usize| {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<u32>().ok()).flatten()
    };
    matches!((num(y, 4), num(m, 2), num(d, 2)), (Some(_), Some(1..=12), Some(1..=31)))
}

/// The JSON value a plugin would receive for `scope` (personal scopes).
fn field_value(profile: &MemberProfile, scope: Scope, open_id: &str) -> Option<serde_json::Value> {
    use serde_json::json;
    Some(match scope {
        Scope::UserId => json!(open_id),
        Scope::UserAvatar => json!(profile.avatar),
        Scope::UserNickname => json!(profile.nickname),
        Scope::UserName => json!(profile.name),
        Scope::UserGender => json!(profile.gender),
        Scope::UserBirthday => json!(profile.birthday),
        Scope::UserRegion => json!(profile.region),
        Scope::UserEmail => json!(profile.email),
        Scope::UserPhone => json!(profile.phone),
        Scope::OrgDepartment => json!({ "department": profile.department, "title": profile.title }),
        Scope::PermCustomer => json!(profile.customers),
        Scope::PermApproval => json!(profile.approvals),
        Scope::Storage | Scope::Log => return None,
    })
}

impl Workbench {
    /// The tenant's installations.
    pub async fn installations(&self, tenant: &str) -> ServiceResult<Vec<InstallationView>> {
        let mut views = Vec::new();
        for installation in self.store.installations(tenant).await? {
            views.push(self.installation_view(installation).await?);
        }
        Ok(views)
    }

    async fn installation_view(&self, installation: Installation) -> ServiceResult<InstallationView> {
        let release = self
            .store
            .plugin_version(&installation.plugin, &installation.version)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("plugin {} is not published", installation.plugin)))?
            .release;
        Ok(InstallationView {
            plugin: installation.plugin,
            name: release.manifest.name.clone(),
            version: installation.version,
            granted_scopes: installation.granted.iter().collect(),
            declared_scopes: release.manifest.declared().iter().collect(),
            visible_to: installation.visible_to,
            state: installation.state,
        })
    }

    /// Installs, upgrades or changes the grant of `plugin` in the tenant.
    /// The grant must cover every required scope and nothing undeclared,
    /// and the visible range must name members of the tenant. An existing
    /// installation keeps its enabled/disabled state.
    pub async fn install(
        &self,
        tenant: &str,
        admin: &str,
        plugin: &str,
        request: InstallRequest,
    ) -> ServiceResult<InstallationView> {
        if semver::Version::parse(&request.version).is_err() {
            return Err(ServiceError::BadRequest(format!("version {:?} is not a semantic version", request.version)));
        }
        if let Some(bad) = request.visible_to.iter().flatten().find(|m| !valid_member_id(m)) {
            return Err(ServiceError::BadRequest(format!("visible_to: {bad:?} is not a member id")));
        }
        let release = self
            .store
            .plugin_version(plugin, &request.version)
            .await?
            .ok_or_else(|| {
                ServiceError::BadRequest(format!("plugin {plugin} has no published version {}", request.version))
            })?
            .release;
        let manifest = &release.manifest;
        let granted: ScopeSet = request.granted.iter().copied().collect();
        let undeclared = granted.difference(manifest.declared());
        if !undeclared.is_empty() {
            return Err(ServiceError::BadRequest(format!(
                "cannot grant scopes {} does not declare: {}",
                manifest.reference(),
                scope_list(undeclared.iter())
            )));
        }
        let required: ScopeSet = manifest.scopes.iter().filter(|d| d.required).map(|d| d.scope).collect();
        let ungranted = required.difference(granted);
        if !ungranted.is_empty() {
            return Err(ServiceError::BadRequest(format!(
                "{} cannot run without its required scopes; grant {} too, or do not install it",
                manifest.reference(),
                scope_list(ungranted.iter())
            )));
        }
        if let Some(list) = &request.visible_to {
            let mut unknown = Vec::new();
            for member in list {
                if self.store.member(tenant, member).await?.is_none() {
                    unknown.push(member.as_str());
                }
            }
            if !unknown.is_empty() {
                return Err(ServiceError::BadRequest(format!(
                    "visible_to names people who are not members: {}",
                    unknown.join(", ")
                )));
            }
        }
        self.ensure_tenant(tenant).await?;
        let previous = self.store.installation(tenant, plugin).await?;
        let installation = Installation {
            tenant: tenant.to_owned(),
            plugin: plugin.to_owned(),
            version: request.version.clone(),
            granted,
            visible_to: request.visible_to.clone(),
            state: previous.as_ref().map_or(InstallationState::Enabled, |p| p.state),
        };
        self.store.put_installation(&installation).await?;
        let installation = self.store.installation(tenant, plugin).await?.unwrap_or(installation);
        let action = match &previous {
            None => "plugin.install",
            Some(p) if p.version != installation.version => "plugin.upgrade",
            Some(_) => "plugin.grant",
        };
        let range = match &installation.visible_to {
            None => "everyone".to_owned(),
            Some(list) => list.join(", "),
        };
        let reason =
            format!("{}@{} granted [{}] visible to {range}", plugin, request.version, scope_list(granted.iter()));
        self.audit_change(tenant, Actor::Admin(admin), None, action, reason).await?;
        self.installation_view(installation).await
    }

    /// Stops (`enabled = false`) or resumes a plugin at once.
    pub async fn set_enabled(
        &self,
        tenant: &str,
        admin: &str,
        plugin: &str,
        enabled: bool,
    ) -> ServiceResult<InstallationView> {
        let state = if enabled { InstallationState::Enabled } else { InstallationState::Disabled };
        if !self.store.set_installation_state(tenant, plugin, state).await? {
            return Err(ServiceError::NotFound(format!("plugin {plugin} is not installed")));
        }
        let installation = self
            .store
            .installation(tenant, plugin)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("plugin {plugin} is not installed")))?;
        let action = if enabled { "plugin.enable" } else { "plugin.disable" };
        self.audit_change(tenant, Actor::Admin(admin), None, action, plugin.to_owned()).await?;
        self.installation_view(installation).await
    }

    /// Uninstalls a plugin: it stops at once, and every consent to it and
    /// everything it stored in the tenant are deleted.
    pub async fn uninstall(&self, tenant: &str, admin: &str, plugin: &str) -> ServiceResult<DeletionReceipt> {
        let deleted = self
            .store
            .delete_installation(tenant, plugin)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("plugin {plugin} is not installed")))?;
        self.receipt(tenant, Actor::Admin(admin), None, "plugin.uninstall", format!("plugin:{plugin}"), deleted).await
    }

    async fn receipt(
        &self,
        tenant: &str,
        actor: Actor<'_>,
        subject: Option<&str>,
        action: &str,
        removed: String,
        deleted: Deleted,
    ) -> ServiceResult<DeletionReceipt> {
        let reason =
            format!("{removed}: {} consents and {} storage entries deleted", deleted.consents, deleted.storage_entries);
        let record = self.audit_change(tenant, actor, subject, action, reason).await?;
        Ok(DeletionReceipt {
            removed,
            consents_deleted: deleted.consents,
            storage_entries_deleted: deleted.storage_entries,
            deleted_at_ms: record.event.ts_ms,
            audit_seq: record.seq,
        })
    }

    /// What `plugin` would receive for `member` if the member used it now.
    /// The admin reading the values is itself audited.
    pub async fn preview(&self, tenant: &str, admin: &str, plugin: &str, member: &str) -> ServiceResult<Preview> {
        let installation = self
            .store
            .installation(tenant, plugin)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("plugin {plugin} is not installed")))?;
        let profile = self
            .store
            .member(tenant, member)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no member {member}")))?;
        let loaded = self.load_version(plugin, &installation.version).await?;
        let manifest = &loaded.manifest;
        let policy = manifest.policy(installation.granted);
        let consents = self.store.consents(tenant, member, plugin).await?;
        let now = crate::now_ms();
        let open_id = self.services.open_ids.derive(tenant, plugin, member);
        let usable = installation.state == InstallationState::Enabled
            && super::visible_to(&installation, member)
            && gate::missing_required(&policy, &consents, now).is_empty();
        let scopes: Vec<PreviewScope> = manifest
            .scopes
            .iter()
            .map(|d| {
                let decision = gate::decide(d.scope, &policy, &consents, now);
                PreviewScope {
                    scope: d.scope,
                    required: d.required,
                    granted: installation.granted.contains(d.scope),
                    decision: decision.err().map_or("allowed", |denial| denial.code()),
                    value: decision.ok().and_then(|()| field_value(&profile, d.scope, &open_id)),
                }
            })
            .collect();
        // The admin sees the values: one record per revealed field, so the
        // member's access log shows it.
        let events: Vec<AuditEvent> = scopes
            .iter()
            .filter(|s: &&PreviewScope| s.value.is_some())
            .map(|s| AuditEvent {
                subject: Some(member.to_owned()),
                scope: Some(s.scope.as_str().to_owned()),
                purpose: Some(format!("preview of what {plugin} receives")),
                ..AuditEvent::new(tenant, Actor::Admin(admin).to_string(), "admin.preview", Outcome::Allowed)
            })
            .collect();
        if !events.is_empty() {
            self.audit.append(events).await?;
        }
        Ok(Preview {
            plugin: plugin.to_owned(),
            version: installation.version,
            member: member.to_owned(),
            usable,
            scopes,
        })
    }

    /// The member directory.
    pub async fn members(&self, tenant: &str) -> ServiceResult<Vec<Member>> {
        Ok(self.store.members(tenant).await?.into_iter().map(|(id, profile)| Member { id, profile }).collect())
    }

    /// One member.
    pub async fn member(&self, tenant: &str, id: &str) -> ServiceResult<Member> {
        let profile =
            self.store.member(tenant, id).await?.ok_or_else(|| ServiceError::NotFound(format!("no member {id}")))?;
        Ok(Member { id: id.to_owned(), profile })
    }

    /// Adds a member.
    pub async fn add_member(&self, tenant: &str, admin: &str, member: Member) -> ServiceResult<Member> {
        if !valid_member_id(&member.id) {
            return Err(ServiceError::BadRequest(format!(
                "member id {:?} must be 1 to 64 characters of a-z, 0-9, '.', '_' and '-'",
                member.id
            )));
        }
        check_profile(&member.profile)?;
        self.ensure_tenant(tenant).await?;
        self.store.insert_member(tenant, &member.id, &member.profile).await?;
        self.audit_change(tenant, Actor::Admin(admin), Some(&member.id), "member.add", member.id.clone()).await?;
        Ok(member)
    }

    /// Changes a member's profile by a JSON merge patch (RFC 7396).
    pub async fn patch_member(
        &self,
        tenant: &str,
        admin: &str,
        id: &str,
        patch: serde_json::Value,
    ) -> ServiceResult<Member> {
        let current = self.member(tenant, id).await?;
        let mut value = serde_json::to_value(&current.profile)
            .map_err(|e| ServiceError::BadRequest(format!("profile cannot be patched: {e}")))?;
        if !patch.is_object() {
            return Err(ServiceError::BadRequest("the patch must be a JSON object of profile fields".into()));
        }
        merge(&mut value, &patch);
        let profile: MemberProfile =
            serde_json::from_value(value).map_err(|e| ServiceError::BadRequest(format!("invalid profile: {e}")))?;
        check_profile(&profile)?;
        self.store.update_member(tenant, id, &profile).await?;
        let fields: Vec<_> = patch.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        self.audit_change(tenant, Actor::Admin(admin), Some(id), "member.update", fields.join(", ")).await?;
        Ok(Member { id: id.to_owned(), profile })
    }

    /// Removes a member (除名): their consents and everything plugins stored
    /// about them are deleted.
    pub async fn remove_member(&self, tenant: &str, admin: &str, id: &str) -> ServiceResult<DeletionReceipt> {
        let deleted = self
            .store
            .delete_member(tenant, id)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no member {id}")))?;
        self.receipt(tenant, Actor::Admin(admin), Some(id), "member.remove", format!("member:{id}"), deleted).await
    }

    /// The tenant's retention settings.
    pub async fn retention(&self, tenant: &str) -> ServiceResult<Retention> {
        Ok(self.store.retention(tenant).await?)
    }

    /// Sets the tenant's retention; audit records are kept at least the floor.
    pub async fn set_retention(&self, tenant: &str, admin: &str, retention: Retention) -> ServiceResult<Retention> {
        if retention.audit_days < Retention::AUDIT_FLOOR_DAYS {
            return Err(ServiceError::BadRequest(format!(
                "audit_days must be at least {} (3 years)",
                Retention::AUDIT_FLOOR_DAYS
            )));
        }
        if retention.plugin_storage_days == Some(0) {
            return Err(ServiceError::BadRequest("plugin_storage_days must be at least 1, or absent".into()));
        }
        self.ensure_tenant(tenant).await?;
        self.store.put_retention(tenant, &retention).await?;
        let reason =
            format!("audit {} days, plugin storage {:?} days", retention.audit_days, retention.plugin_storage_days);
        self.audit_change(tenant, Actor::Admin(admin), None, "settings.retention", reason).await?;
        Ok(retention)
    }
}

/// RFC 7396 JSON merge patch.
fn merge(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(target), serde_json::Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge(target.entry(key.clone()).or_insert(serde_json::Value::Null), value);
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_sets_replaces_and_removes() {
        let mut target = serde_json::json!({"name": "a", "phone": "1", "roles": ["member"]});
        merge(&mut target, &serde_json::json!({"phone": null, "name": "b", "roles": ["admin"]}));
        assert_eq!(target, serde_json::json!({"name": "b", "roles": ["admin"]}));
    }

    #[test]
    fn profile_checks_name_the_field() {
        let ok = MemberProfile { name: "张伟".into(), ..MemberProfile::default() };
        assert!(check_profile(&ok).is_ok());
        let cases = [
            (MemberProfile { name: " ".into(), ..ok.clone() }, "name"),
            (MemberProfile { birthday: Some("1988-13-01".into()), ..ok.clone() }, "birthday"),
            (MemberProfile { email: Some("nobody".into()), ..ok.clone() }, "email"),
            (MemberProfile { phone: Some("12ab".into()), ..ok.clone() }, "phone"),
            (MemberProfile { avatar: Some("javascript:alert(1)".into()), ..ok.clone() }, "avatar"),
            (MemberProfile { roles: vec!["root".into()], ..ok.clone() }, "role"),
        ];
        for (profile, field) in cases {
            let error = check_profile(&profile).expect_err(field).to_string();
            assert!(error.contains(field), "{error}");
        }
        assert!(valid_member_id("zhang.wei") && !valid_member_id("Zhang") && !valid_member_id(""));
    }
}
