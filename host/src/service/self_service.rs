//! Members opening plugins themselves (§5.3's second path): the app admin
//! sets, per catalogue plugin, whether members may open it, may ask for it,
//! or neither, and the scopes and destinations an opening may grant (never
//! a sensitive scope without an admin's approval). An opening adds the
//! member to the installation's visible range (installing the latest
//! version within the bounds, visible to them alone, when it was not
//! installed); the member then consents as for any plugin. Requests wait
//! for an app admin, who approves or declines with a reason the member
//! sees; the app admin sees who opened what and can end it. All audited.

use serde::Serialize;

use super::{Actor, ServiceError, ServiceResult, Workbench};
use crate::model::audit::Action;
use crate::model::departments::VisibleRange;
use crate::model::installation::{Installation, InstallationState};
use crate::model::manifest::Manifest;
use crate::model::self_service::{Opening, PluginRequest, RequestState, SelfServiceMode, SelfServicePolicy};
use crate::model::text::{Languages, ShowIn, Shown, choose};
use crate::scope::Scope;

/// A plugin a member may open or ask for, and where they stand with it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Offer {
    /// Plugin id.
    pub plugin: String,
    /// Its name.
    #[schema(value_type = String)]
    pub name: Shown,
    /// What it does.
    #[schema(value_type = String)]
    pub description: Shown,
    /// The language `name` and `description` are shown in.
    pub lang: Option<String>,
    /// The languages the plugin's texts are given in, primary first.
    pub languages: Vec<String>,
    /// `open` (open it yourself) or `request` (ask an app admin).
    pub mode: SelfServiceMode,
    /// The scopes it would be granted (what the consent dialog then asks about).
    pub scopes: Vec<Scope>,
    /// `available`, `opened` (it is on your workbench), `pending` (asked,
    /// not decided) or `declined` (see `decision`).
    pub state: String,
    /// The app admin's reason, when the last request was declined.
    pub decision: Option<String>,
}

impl ShowIn for Offer {
    fn show_in(&mut self, prefs: &Languages) {
        let lang = choose(&self.languages, prefs);
        self.name.show(lang);
        self.description.show(lang);
        self.lang = lang.map(str::to_owned);
    }
}

/// What the app admin sees: the rules, who opened what, the requests.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SelfServiceOverview {
    /// The rule per plugin (plugins without one: members can do nothing).
    pub policies: Vec<PluginPolicyView>,
    /// Plugins opened by self-service, per member.
    pub openings: Vec<Opening>,
    /// Requests, newest first (pending and decided).
    pub requests: Vec<PluginRequest>,
}

/// A plugin's self-service rule.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PluginPolicyView {
    /// Plugin id.
    pub plugin: String,
    /// What members may do.
    pub mode: SelfServiceMode,
    /// The scopes an opening may grant.
    pub scopes: Vec<Scope>,
    /// The destinations an opening may approve.
    pub egress: Vec<String>,
}

/// The installation an opening makes when the plugin is not installed:
/// the latest version, the bounds' scopes and destinations, visible to
/// `member` alone.
fn fresh_installation(
    tenant: &str,
    manifest: &Manifest,
    policy: &SelfServicePolicy,
    member: &str,
) -> ServiceResult<Installation> {
    let granted: crate::scope::ScopeSet =
        policy.scopes.iter().copied().filter(|s| manifest.declared().contains(*s)).collect();
    let missing: Vec<&str> =
        manifest.scopes.iter().filter(|d| d.required && !granted.contains(d.scope)).map(|d| d.scope.as_str()).collect();
    if !missing.is_empty() {
        return Err(ServiceError::Conflict(format!(
            "{} requires {} beyond what this workbench lets members open it with; ask an app admin",
            manifest.id,
            missing.join(", ")
        )));
    }
    let declared = manifest.destinations();
    Ok(Installation {
        tenant: tenant.to_owned(),
        plugin: manifest.id.clone(),
        version: manifest.version.to_string(),
        granted,
        range: VisibleRange::only(vec![member.to_owned()]),
        egress: policy.egress.iter().filter(|d| declared.contains(d)).cloned().collect(),
        config: Default::default(),
        state: InstallationState::Enabled,
        // Events and schedules wait for an app admin's approval.
        subscriptions: Vec::new(),
    })
}

impl Workbench {
    async fn latest_manifest(&self, plugin: &str) -> ServiceResult<Manifest> {
        super::upgrades::newest(self.store.plugin_releases(Some(plugin)).await?)
            .map(|r| r.manifest)
            .ok_or_else(|| ServiceError::NotFound(format!("plugin {plugin} is not published")))
    }

    async fn policy_for(&self, tenant: &str, plugin: &str) -> ServiceResult<SelfServicePolicy> {
        Ok(self
            .store
            .self_service(tenant)
            .await?
            .into_iter()
            .find(|(p, _)| p == plugin)
            .map(|(_, policy)| policy)
            .unwrap_or_default())
    }

    /// Sets what members may do with `plugin` and within which bounds.
    /// Audited (`selfservice.set`).
    pub async fn set_self_service(
        &self,
        tenant: &str,
        admin: &str,
        plugin: &str,
        policy: SelfServicePolicy,
    ) -> ServiceResult<SelfServicePolicy> {
        let manifest = self.latest_manifest(plugin).await?;
        let undeclared: Vec<&str> =
            policy.scopes.iter().filter(|s| !manifest.declared().contains(**s)).map(|s| s.as_str()).collect();
        if !undeclared.is_empty() {
            return Err(ServiceError::BadRequest(format!(
                "{plugin} does not declare {}: the bounds are a subset of its scopes",
                undeclared.join(", ")
            )));
        }
        if policy.mode == SelfServiceMode::Open
            && let Some(sensitive) = policy.scopes.iter().find(|s| s.is_sensitive())
        {
            return Err(ServiceError::BadRequest(format!(
                "{sensitive} is sensitive: members cannot open a plugin with it themselves; let them ask for it (mode request)"
            )));
        }
        let declared = manifest.destinations();
        if let Some(bad) = policy.egress.iter().find(|d| !declared.contains(d)) {
            return Err(ServiceError::BadRequest(format!("{plugin} does not declare the destination {bad:?}")));
        }
        let mut scopes = policy.scopes.clone();
        scopes.sort_by_key(|s| s.as_str());
        scopes.dedup();
        let policy = SelfServicePolicy { scopes, ..policy };
        self.ensure_tenant(tenant).await?;
        let reason = format!(
            "{plugin}: {} within [{}] sending to [{}]",
            policy.mode.as_str(),
            super::scope_list(policy.scopes.iter().copied()),
            policy.egress.join(", ")
        );
        let record = self.record(tenant, Actor::Admin(admin), None, Action::SelfServiceSet, reason);
        self.store.put_self_service(tenant, plugin, &policy, record).await?;
        Ok(policy)
    }

    /// The rules, openings and requests of the tenant.
    pub async fn self_service_overview(&self, tenant: &str) -> ServiceResult<SelfServiceOverview> {
        Ok(SelfServiceOverview {
            policies: self
                .store
                .self_service(tenant)
                .await?
                .into_iter()
                .map(|(plugin, policy)| PluginPolicyView {
                    plugin,
                    mode: policy.mode,
                    scopes: policy.scopes,
                    egress: policy.egress,
                })
                .collect(),
            openings: self.store.openings(tenant).await?,
            requests: self.store.requests(tenant, None).await?,
        })
    }

    /// The plugins `member` may open or ask for, with where they stand.
    pub async fn member_catalogue(&self, tenant: &str, member: &str) -> ServiceResult<Vec<Offer>> {
        let mine = self.my_plugins(tenant, member).await?;
        let requests = self.store.requests(tenant, Some(member)).await?;
        let mut entries = Vec::new();
        for (plugin, policy) in self.store.self_service(tenant).await? {
            if policy.mode == SelfServiceMode::None {
                continue;
            }
            let Ok(manifest) = self.latest_manifest(&plugin).await else { continue };
            let last = requests.iter().find(|r| r.plugin == plugin);
            let (state, decision) = if mine.iter().any(|p| p.plugin == plugin) {
                ("opened", None)
            } else {
                match last.map(|r| r.state) {
                    Some(RequestState::Pending) => ("pending", None),
                    Some(RequestState::Declined) => ("declined", last.and_then(|r| r.decision.clone())),
                    _ => ("available", None),
                }
            };
            let languages = super::registry::languages(&manifest);
            entries.push(Offer {
                plugin,
                name: Shown::new(&manifest.name),
                description: Shown::new(&manifest.description),
                lang: languages.first().cloned(),
                languages,
                mode: policy.mode,
                scopes: policy.scopes.iter().copied().filter(|s| manifest.declared().contains(*s)).collect(),
                state: state.to_owned(),
                decision,
            });
        }
        Ok(entries)
    }

    /// `member` opens `plugin` themselves, within the tenant's bounds.
    pub async fn open_plugin(&self, tenant: &str, member: &str, plugin: &str) -> ServiceResult<Opening> {
        let policy = self.policy_for(tenant, plugin).await?;
        match policy.mode {
            SelfServiceMode::Open => {}
            SelfServiceMode::Request => {
                return Err(ServiceError::Forbidden(format!(
                    "{plugin} is opened on request: ask for it and an app admin decides"
                )));
            }
            SelfServiceMode::None => {
                return Err(ServiceError::NotFound(format!("plugin {plugin} is not offered to members")));
            }
        }
        self.open_within(tenant, Actor::Member(member), member, plugin, &policy, "opened").await
    }

    async fn open_within(
        &self,
        tenant: &str,
        by: Actor<'_>,
        member: &str,
        plugin: &str,
        policy: &SelfServicePolicy,
        via: &str,
    ) -> ServiceResult<Opening> {
        let manifest = self.latest_manifest(plugin).await?;
        let fresh = fresh_installation(tenant, &manifest, policy, member)?;
        let reason = format!("{plugin} opened for {member} ({via})");
        self.store
            .open_for(&fresh, member, via, self.record(tenant, by, Some(member), Action::PluginOpen, reason))
            .await?;
        Ok(Opening {
            plugin: plugin.to_owned(),
            member: member.to_owned(),
            via: via.to_owned(),
            opened_at_ms: crate::now_ms(),
        })
    }

    /// `member` asks for `plugin`.
    pub async fn request_plugin(
        &self,
        tenant: &str,
        member: &str,
        plugin: &str,
        reason: &str,
    ) -> ServiceResult<PluginRequest> {
        let reason = reason.trim();
        if reason.chars().count() > 500 || reason.chars().any(|c| c.is_control() && c != '\n') {
            return Err(ServiceError::BadRequest("the reason must be at most 500 characters".into()));
        }
        match self.policy_for(tenant, plugin).await?.mode {
            SelfServiceMode::Request => {}
            SelfServiceMode::Open => {
                return Err(ServiceError::Conflict(format!("{plugin} is open to members: open it yourself")));
            }
            SelfServiceMode::None => {
                return Err(ServiceError::NotFound(format!("plugin {plugin} is not offered to members")));
            }
        }
        let text = format!("{plugin} asked for: {reason}");
        let record = self.record(tenant, Actor::Member(member), Some(member), Action::PluginRequest, text);
        let request = self.store.add_request(tenant, plugin, member, reason, record).await?;
        Ok(request)
    }

    /// An app admin approves (the plugin is opened for the member, within
    /// the bounds, sensitive scopes included) or declines (with a reason
    /// the member sees) a pending request.
    pub async fn decide_request(
        &self,
        tenant: &str,
        admin: &str,
        id: i64,
        approve: bool,
        reason: Option<String>,
    ) -> ServiceResult<PluginRequest> {
        let request =
            self.store.request(tenant, id).await?.ok_or_else(|| ServiceError::NotFound(format!("no request {id}")))?;
        let reason = reason.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty());
        if reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
            return Err(ServiceError::BadRequest("the reason must be at most 500 characters".into()));
        }
        if !approve && reason.is_none() {
            return Err(ServiceError::BadRequest("a decline needs a reason: the member reads it".into()));
        }
        if request.state != RequestState::Pending {
            return Err(ServiceError::Conflict(format!("request {id} was decided already")));
        }
        let state = if approve { RequestState::Approved } else { RequestState::Declined };
        if approve {
            let policy = self.policy_for(tenant, &request.plugin).await?;
            self.open_within(tenant, Actor::Admin(admin), &request.member, &request.plugin, &policy, "approved")
                .await?;
        }
        let text = format!(
            "request {id} for {} {}{}",
            request.plugin,
            state.as_str(),
            reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default()
        );
        let record = self.record(tenant, Actor::Admin(admin), Some(&request.member), Action::RequestDecide, text);
        self.store.decide_request(tenant, id, state, admin, reason.as_deref(), record).await?;
        self.store.request(tenant, id).await?.ok_or_else(|| ServiceError::NotFound(format!("no request {id}")))
    }

    /// An app admin ends a plugin opened for a member: the member's next
    /// call is 404. Their consents stay on record, as for any member who
    /// leaves a range.
    pub async fn end_opening(&self, tenant: &str, admin: &str, plugin: &str, member: &str) -> ServiceResult<()> {
        let text = format!("{plugin} closed for {member}");
        let record = self.record(tenant, Actor::Admin(admin), Some(member), Action::OpeningEnd, text);
        if self.store.end_opening(tenant, plugin, member, record).await?.is_none() {
            return Err(ServiceError::NotFound(format!("{plugin} was not opened for {member}")));
        }
        Ok(())
    }
}
