//! Installations: a tenant admin installs, upgrades, disables, enables and
//! uninstalls plugins, and previews what a plugin would receive.

use crate::model::departments::VisibleRange;
use std::collections::BTreeMap;

use serde::Serialize;

use super::{Actor, DeletionReceipt, ServiceError, ServiceResult, Workbench, scope_list};
use crate::gate;
use crate::model::audit::{Action, AuditEvent, Outcome};
use crate::model::directory::MemberProfile;
use crate::model::egress::Destination;
use crate::model::events::EventKind;
use crate::model::installation::{Installation, InstallationState};
use crate::model::plugin_config;
use crate::model::text::{Languages, ShowIn, Shown, choose};
use crate::scope::{Scope, ScopeSet};

/// An installation as the admin sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InstallationView {
    /// Plugin id.
    pub plugin: String,
    /// Display name of the installed version.
    #[schema(value_type = String)]
    pub name: Shown,
    /// The languages the installed version's texts are given in, primary first.
    pub languages: Vec<String>,
    /// The language `name` is shown in (`null`: one text for every language).
    pub lang: Option<String>,
    /// Installed version.
    pub version: String,
    /// Scopes the admin granted.
    pub granted_scopes: Vec<Scope>,
    /// Scopes the version declares.
    pub declared_scopes: Vec<Scope>,
    /// Destinations the admin approved.
    pub approved_egress: Vec<String>,
    /// Destinations the version declares, with their purposes.
    pub declared_egress: Vec<super::registry::DeclaredDestination>,
    /// The events and schedules the admin approved (`approval.submitted`,
    /// `schedule:evening`).
    pub approved_subscriptions: Vec<String>,
    /// The events and schedules the version declares, with their purposes.
    pub declared_subscriptions: Vec<super::events::DeclaredSubscription>,
    /// The configuration values the admin set, by key (keys absent read
    /// their default).
    pub config: BTreeMap<String, String>,
    /// The configuration keys the version declares.
    pub declared_config: Vec<super::registry::DeclaredConfig>,
    /// Who sees it: rules evaluated at each call.
    pub visible_range: VisibleRange,
    /// enabled or disabled.
    #[schema(value_type = String)]
    pub state: InstallationState,
}

impl ShowIn for InstallationView {
    fn show_in(&mut self, prefs: &Languages) {
        let lang = choose(&self.languages, prefs);
        self.name.show(lang);
        for destination in &mut self.declared_egress {
            destination.purpose.show(lang);
        }
        for key in &mut self.declared_config {
            key.description.show(lang);
        }
        for subscription in &mut self.declared_subscriptions {
            subscription.purpose.show(lang);
        }
        self.lang = lang.map(str::to_owned);
    }
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
    /// The value the plugin would receive, when allowed and personal (a
    /// string, an object or a list, as the scope gives it).
    #[schema(value_type = Value)]
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

/// What an install or upgrade asks for.
#[derive(Debug, Clone, Default)]
pub struct InstallRequest {
    /// Version to run.
    pub version: String,
    /// Scopes the admin grants (a subset of the declared ones, including every required one).
    pub granted: Vec<Scope>,
    /// Who sees it (rules evaluated at each call); `None` = everyone.
    pub visible_to: Option<VisibleRange>,
    /// Destinations approved (as the manifest writes them); an upgrade
    /// approves them again, so a new one is never approved unasked.
    pub egress: Vec<String>,
    /// Configuration values by key (keys the version declares); a key
    /// absent or empty reads its default. Every upgrade gives them again.
    pub config: BTreeMap<String, String>,
    /// The events and schedules approved (`approval.submitted`,
    /// `schedule:evening`; a subset of what the version declares); `None`:
    /// all it declares.
    pub subscriptions: Option<Vec<String>>,
}

/// The subscriptions of `request` that `manifest` declares: those it names
/// (each declared); when it names none, what was approved before that the
/// version still declares, or for a first install everything it declares.
fn approved_subscriptions(
    manifest: &crate::model::manifest::Manifest,
    requested: Option<&[String]>,
    previous: Option<&Installation>,
) -> ServiceResult<Vec<String>> {
    let declared = manifest.subscriptions();
    let Some(requested) = requested else {
        return Ok(match previous {
            Some(previous) => declared.into_iter().filter(|s| previous.subscriptions.contains(s)).collect(),
            None => declared,
        });
    };
    let mut approved = Vec::new();
    for name in requested {
        if !declared.contains(name) {
            let list = if declared.is_empty() { "none".to_owned() } else { declared.join(", ") };
            return Err(ServiceError::BadRequest(format!(
                "cannot approve {name:?}: {} subscribes to {list}",
                manifest.reference()
            )));
        }
        if !approved.contains(name) {
            approved.push(name.clone());
        }
    }
    Ok(approved)
}

/// The values of `requested` to keep for `manifest`: every key declared,
/// every value one line of bounded length, every required key without a
/// default given a value. Values are trimmed; empty ones are dropped (the
/// default applies).
fn configuration(
    manifest: &crate::model::manifest::Manifest,
    requested: BTreeMap<String, String>,
) -> ServiceResult<BTreeMap<String, String>> {
    let declared = || match manifest.config.iter().map(|d| d.key.as_str()).collect::<Vec<_>>() {
        keys if keys.is_empty() => "none".to_owned(),
        keys => keys.join(", "),
    };
    let mut kept = BTreeMap::new();
    for (key, value) in requested {
        if manifest.config_key(&key).is_none() {
            return Err(ServiceError::BadRequest(format!(
                "config: {} declares no key {key:?}; it declares {}",
                manifest.reference(),
                declared()
            )));
        }
        if let Some(problem) = plugin_config::value_problem(&value) {
            return Err(ServiceError::BadRequest(format!("config: the value of {key} {problem}")));
        }
        // Kept as the plugin will read it: without surrounding blanks.
        let value = value.trim();
        if !value.is_empty() {
            kept.insert(key, value.to_owned());
        }
    }
    let missing: Vec<&str> = manifest
        .config
        .iter()
        .filter(|d| d.required && d.default.is_none() && !kept.contains_key(&d.key))
        .map(|d| d.key.as_str())
        .collect();
    if !missing.is_empty() {
        return Err(ServiceError::BadRequest(format!(
            "config: {} needs a value for {}",
            manifest.reference(),
            missing.join(", ")
        )));
    }
    Ok(kept)
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
        Scope::Storage | Scope::Log | Scope::Notify => return None,
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

    pub(super) async fn installation_view(&self, installation: Installation) -> ServiceResult<InstallationView> {
        let release = self
            .store
            .plugin_version(&installation.plugin, &installation.version)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("plugin {} is not published", installation.plugin)))?
            .release;
        let languages = super::registry::languages(&release.manifest);
        Ok(InstallationView {
            plugin: installation.plugin,
            name: Shown::new(&release.manifest.name),
            lang: languages.first().cloned(),
            languages,
            version: installation.version,
            granted_scopes: installation.granted.iter().collect(),
            declared_scopes: release.manifest.declared().iter().collect(),
            approved_egress: installation.egress,
            declared_egress: super::registry::declared_destinations(&release.manifest),
            approved_subscriptions: installation.subscriptions.clone(),
            declared_subscriptions: super::events::declared_subscriptions(&release.manifest),
            config: std::sync::Arc::unwrap_or_clone(installation.config),
            declared_config: super::registry::declared_config(&release.manifest),
            visible_range: installation.range,
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
        self.install_as(tenant, Actor::Admin(admin), plugin, request).await
    }

    /// [`Workbench::install`] by `actor` (an app admin, or the workbench
    /// applying a version that widens nothing).
    pub(super) async fn install_as(
        &self,
        tenant: &str,
        actor: Actor<'_>,
        plugin: &str,
        request: InstallRequest,
    ) -> ServiceResult<InstallationView> {
        if semver::Version::parse(&request.version).is_err() {
            return Err(ServiceError::BadRequest(format!("version {:?} is not a semantic version", request.version)));
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
        let mut approved = Vec::new();
        for text in &request.egress {
            let declared = text
                .parse::<Destination>()
                .ok()
                .and_then(|d| manifest.egress.iter().find(|e| e.destination == d))
                .map(|e| e.destination.to_string());
            match declared {
                Some(name) if !approved.contains(&name) => approved.push(name),
                Some(_) => {}
                None => {
                    return Err(ServiceError::BadRequest(format!(
                        "cannot approve destination {text:?}: {} declares {}",
                        manifest.reference(),
                        match manifest.destinations() {
                            list if list.is_empty() => "none".to_owned(),
                            list => list.join(", "),
                        }
                    )));
                }
            }
        }
        let config = configuration(manifest, request.config)?;
        let range =
            self.checked_range(tenant, request.visible_to.clone().unwrap_or_else(VisibleRange::everyone)).await?;
        self.ensure_tenant(tenant).await?;
        let previous = self.store.installation(tenant, plugin).await?;
        let subscriptions = approved_subscriptions(manifest, request.subscriptions.as_deref(), previous.as_ref())?;
        let installation = Installation {
            tenant: tenant.to_owned(),
            plugin: plugin.to_owned(),
            version: request.version.clone(),
            granted,
            range,
            egress: approved,
            config: config.into(),
            state: previous.as_ref().map_or(InstallationState::Enabled, |p| p.state),
            subscriptions,
        };
        let action = match &previous {
            None => Action::PluginInstall,
            Some(p) if p.version != installation.version => Action::PluginUpgrade,
            Some(_) => Action::PluginGrant,
        };
        let range = installation.range.describe();
        let mut reason =
            format!("{}@{} granted [{}] visible to {range}", plugin, request.version, scope_list(granted.iter()));
        if !installation.egress.is_empty() {
            reason.push_str(&format!(" sending to [{}]", installation.egress.join(", ")));
        }
        if !installation.config.is_empty() {
            let set: Vec<String> = installation.config.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            reason.push_str(&format!(" configured {}", set.join(" ")));
        }
        if !installation.subscriptions.is_empty() {
            reason.push_str(&format!(" told of [{}]", installation.subscriptions.join(", ")));
        }
        self.store.put_installation(&installation, self.record(tenant, actor, None, action, reason)).await?;
        // The plugin may want to know (when it subscribed).
        let lifecycle = match &previous {
            None => Some((EventKind::PluginInstalled, serde_json::json!({ "version": installation.version }))),
            Some(p) if p.version != installation.version => {
                Some((EventKind::PluginUpgraded, serde_json::json!({ "from": p.version, "to": installation.version })))
            }
            Some(_) => None,
        };
        if let Some((kind, payload)) = lifecycle {
            self.host_event(tenant, plugin, kind, payload).await;
        }
        let installation = self.store.installation(tenant, plugin).await?.unwrap_or(installation);
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
        let action = if enabled { Action::PluginEnable } else { Action::PluginDisable };
        let record = self.record(tenant, Actor::Admin(admin), None, action, plugin.to_owned());
        if self.store.set_installation_state(tenant, plugin, state, record).await?.is_none() {
            return Err(ServiceError::NotFound(format!("plugin {plugin} is not installed")));
        }
        let installation = self
            .store
            .installation(tenant, plugin)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("plugin {plugin} is not installed")))?;
        self.installation_view(installation).await
    }

    /// Uninstalls a plugin: it stops at once, and every consent to it and
    /// everything it stored in the tenant are deleted.
    pub async fn uninstall(&self, tenant: &str, admin: &str, plugin: &str) -> ServiceResult<DeletionReceipt> {
        let removed = format!("plugin:{plugin}");
        let record = self.record(tenant, Actor::Admin(admin), None, Action::PluginUninstall, removed.clone());
        let deleted = self
            .store
            .delete_installation(tenant, plugin, record)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("plugin {plugin} is not installed")))?;
        Ok(Self::receipt(removed, deleted))
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
        let policy = manifest.policy(installation.granted, &installation.egress);
        let consents = self.store.consents(tenant, member, plugin).await?;
        let now = crate::now_ms();
        let open_id = self.services.open_ids.derive(tenant, plugin, member);
        let departments = self.departments_of(tenant, &profile).await?;
        let usable =
            installation.usable_by(member, &departments) && gate::missing_required(&policy, &consents, now).is_empty();
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
                ..AuditEvent::new(tenant, Actor::Admin(admin).to_string(), Action::AdminPreview, Outcome::Allowed)
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
}
