//! Members: what a plugin asks for and why (the disclosure), consent,
//! withdrawal, and the plugins a member sees.

use serde::Serialize;

use super::receipts::ReceiptDraft;
use super::registry::{DeclaredDestination, DeclaredScope, declared_destinations, languages};
use super::{Actor, LoadedVersion, ServiceError, ServiceResult, Workbench, scope_list};
use crate::gate::{self, Denial};
use crate::model::audit::{Action, Outcome};
use crate::model::consent::{Consent, ConsentSet, PluginPolicy};
use crate::model::installation::Installation;
use crate::model::manifest::Developer;
use crate::model::manifest::Manifest;
use crate::model::receipts::{ConsentReceipt, RECEIPT_FORMAT, ReceiptDestination, ReceiptScope};
use crate::model::text::{Languages, ShowIn, Shown, choose};
use crate::scope::{Scope, ScopeSet};
use crate::store::ChangeRecord;
use crate::store::StoreError;
use sha2::{Digest, Sha256};

/// Where a member stands on one scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScopeState {
    /// Consented to the current purpose; the plugin gets it.
    Consented,
    /// Not consented (or a sensitive scope without its separate consent).
    NotConsented,
    /// Consent withdrawn.
    Withdrawn,
    /// Consent expired.
    Expired,
    /// Consented to an earlier purpose; asked again.
    PurposeChanged,
    /// The admin did not grant it; the plugin never gets it here.
    NotGranted,
    /// A capability (storage, log): the admin's grant is enough.
    AdminGranted,
}

/// One scope of a disclosure: what the version declares, and where the
/// member stands.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DisclosedScope {
    /// The declaration.
    #[serde(flatten)]
    pub declared: DeclaredScope,
    /// Where the member stands.
    pub state: ScopeState,
}

/// What a member is shown before consenting: who receives which field for
/// what, which are sensitive, which required, and what is still to decide.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Disclosure {
    /// Plugin id.
    pub plugin: String,
    /// Display name.
    #[schema(value_type = String)]
    pub name: Shown,
    /// Installed version.
    pub version: String,
    /// What it does.
    #[schema(value_type = String)]
    pub description: Shown,
    /// The languages the plugin's texts are given in, primary first (empty:
    /// one text for every language).
    pub languages: Vec<String>,
    /// The language the name, description and purposes are shown in: the
    /// caller's (`Accept-Language`) when the plugin gives it, else the
    /// plugin's primary; `null` when its texts are one for every language.
    pub lang: Option<String>,
    /// Who receives the data.
    #[schema(value_type = Object)]
    pub recipient: Developer,
    /// Every scope the plugin declares.
    pub scopes: Vec<DisclosedScope>,
    /// Where the plugin may send the member's data: the recipient's
    /// servers the admin approved, each with its purpose. A new one asks
    /// again for every personal scope.
    pub destinations: Vec<DeclaredDestination>,
    /// The scopes the member is asked about now: granted by the admin, not
    /// (or no longer) consented. After an upgrade, only what changed.
    pub asking: Vec<Scope>,
    /// Required scopes still missing; the plugin does not run until they are consented.
    pub missing_required: Vec<Scope>,
    /// Whether the plugin runs for the member now.
    pub usable: bool,
}

/// A plugin in a member's workbench.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MyPlugin {
    /// Plugin id.
    pub plugin: String,
    /// Display name.
    #[schema(value_type = String)]
    pub name: Shown,
    /// Installed version.
    pub version: String,
    /// What it does.
    #[schema(value_type = String)]
    pub description: Shown,
    /// The languages the plugin's texts are given in, primary first.
    pub languages: Vec<String>,
    /// The language `name` and `description` are shown in (as in [`Disclosure`]).
    pub lang: Option<String>,
    /// Whether it runs for the member now.
    pub usable: bool,
    /// What the member is asked about.
    pub asking: Vec<Scope>,
}

impl ShowIn for Disclosure {
    fn show_in(&mut self, prefs: &Languages) {
        let lang = choose(&self.languages, prefs);
        self.name.show(lang);
        self.description.show(lang);
        for scope in &mut self.scopes {
            scope.declared.purpose.show(lang);
        }
        for destination in &mut self.destinations {
            destination.purpose.show(lang);
        }
        self.lang = lang.map(str::to_owned);
    }
}

impl ShowIn for MyPlugin {
    fn show_in(&mut self, prefs: &Languages) {
        let lang = choose(&self.languages, prefs);
        self.name.show(lang);
        self.description.show(lang);
        self.lang = lang.map(str::to_owned);
    }
}

fn state(scope: Scope, policy: &PluginPolicy, consents: &ConsentSet, now: i64) -> ScopeState {
    match gate::decide(scope, policy, consents, now) {
        Ok(()) if !scope.is_personal() => ScopeState::AdminGranted,
        Ok(()) => ScopeState::Consented,
        Err(Denial::NotGranted | Denial::NotDeclared) => ScopeState::NotGranted,
        Err(Denial::ConsentWithdrawn) => ScopeState::Withdrawn,
        Err(Denial::ConsentExpired) => ScopeState::Expired,
        Err(Denial::PurposeChanged) => ScopeState::PurposeChanged,
        Err(Denial::NotConsented | Denial::QuotaExceeded) => ScopeState::NotConsented,
    }
}

/// The disclosure of `loaded` as installed, for a member with `consents`.
pub(crate) fn disclosure(
    loaded: &LoadedVersion,
    installation: &Installation,
    consents: &ConsentSet,
    now: i64,
) -> Disclosure {
    let manifest = &loaded.manifest;
    let policy = manifest.policy(installation.granted, &installation.egress);
    let scopes: Vec<DisclosedScope> = manifest
        .scopes
        .iter()
        .map(|d| DisclosedScope { declared: DeclaredScope::of(d), state: state(d.scope, &policy, consents, now) })
        .collect();
    let asking = scopes
        .iter()
        .filter(|s| {
            matches!(
                s.state,
                ScopeState::NotConsented | ScopeState::Withdrawn | ScopeState::Expired | ScopeState::PurposeChanged
            )
        })
        .map(|s| s.declared.scope)
        .collect();
    let missing_required: Vec<Scope> =
        gate::missing_required(&policy, consents, now).into_iter().map(|(scope, _)| scope).collect();
    let languages = languages(manifest);
    Disclosure {
        plugin: manifest.id.clone(),
        name: Shown::new(&manifest.name),
        version: manifest.version.to_string(),
        description: Shown::new(&manifest.description),
        lang: languages.first().cloned(),
        languages,
        recipient: manifest.developer.clone(),
        scopes,
        destinations: declared_destinations(manifest)
            .into_iter()
            .filter(|d| installation.egress.contains(&d.destination))
            .collect(),
        asking,
        usable: missing_required.is_empty(),
        missing_required,
    }
}

impl Workbench {
    /// The plugins `member` sees, with whether each runs for them.
    pub async fn my_plugins(&self, tenant: &str, member: &str) -> ServiceResult<Vec<MyPlugin>> {
        let mut plugins = Vec::new();
        let departments = match self.store.member(tenant, member).await? {
            Some(profile) => self.departments_of(tenant, &profile).await?,
            None => Vec::new(),
        };
        for installation in self.store.installations(tenant).await? {
            if !installation.usable_by(member, &departments) {
                continue;
            }
            let loaded = match self.load_version(&installation.plugin, &installation.version).await {
                Ok(loaded) => loaded,
                Err(error) => {
                    // One plugin that cannot load must not hide the rest of the workbench.
                    tracing::error!(plugin = %installation.plugin, %error, "plugin cannot be loaded");
                    continue;
                }
            };
            let consents = self.store.consents(tenant, member, &installation.plugin).await?;
            let d = disclosure(&loaded, &installation, &consents, crate::now_ms());
            plugins.push(MyPlugin {
                plugin: d.plugin,
                name: d.name,
                version: d.version,
                description: d.description,
                languages: d.languages,
                lang: d.lang,
                usable: d.usable,
                asking: d.asking,
            });
        }
        Ok(plugins)
    }

    /// What `plugin` asks `member` for, and where they stand.
    pub async fn disclosure(&self, tenant: &str, member: &str, plugin: &str) -> ServiceResult<Disclosure> {
        let (loaded, installation) = self.visible(tenant, member, plugin).await?;
        let consents = self.store.consents(tenant, member, plugin).await?;
        Ok(disclosure(&loaded, &installation, &consents, crate::now_ms()))
    }

    /// Records `member`'s consent to `scopes` for their current purposes.
    /// A sensitive scope must also be listed in `sensitive`: its consent is
    /// separate, never bundled. Only personal scopes the admin granted can
    /// be consented to.
    pub async fn consent(
        &self,
        tenant: &str,
        member: &str,
        plugin: &str,
        scopes: &[Scope],
        sensitive: &[Scope],
        prefs: &Languages,
    ) -> ServiceResult<Disclosure> {
        let (loaded, installation) = self.visible(tenant, member, plugin).await?;
        let manifest = &loaded.manifest;
        if scopes.is_empty() {
            return Err(ServiceError::BadRequest("list the scopes you consent to in `scopes`".into()));
        }
        let listed: ScopeSet = scopes.iter().copied().collect();
        if let Some(stray) = sensitive.iter().find(|s| !listed.contains(**s) || !s.is_sensitive()) {
            return Err(ServiceError::BadRequest(format!(
                "`sensitive` may only repeat sensitive scopes listed in `scopes`; {stray} is not one"
            )));
        }
        let now = crate::now_ms();
        let policy = manifest.policy(installation.granted, &installation.egress);
        let mut consents = Vec::with_capacity(scopes.len());
        for scope in listed.iter() {
            let declaration = manifest
                .declaration(scope)
                .ok_or_else(|| ServiceError::BadRequest(format!("{plugin} does not ask for {scope}")))?;
            if !scope.is_personal() {
                return Err(ServiceError::BadRequest(format!(
                    "{scope} is a capability the admin grants; it takes no personal consent"
                )));
            }
            if !installation.granted.contains(scope) {
                return Err(ServiceError::BadRequest(format!(
                    "your admin has not allowed {plugin} to use {scope}; it cannot be consented to here"
                )));
            }
            if scope.is_sensitive() && !sensitive.contains(&scope) {
                return Err(ServiceError::BadRequest(format!(
                    "{scope} is sensitive and needs its own consent: list it in `sensitive` as well"
                )));
            }
            let consent = Consent {
                // The purpose as the gate judges it: its text and where the data may go.
                purpose: policy.purposes[declaration.scope.index()],
                separate: scope.is_sensitive(),
                granted_at_ms: now,
                // The manifest's consent period: asked again when it lapses.
                expires_at_ms: declaration.consent_days.map(|days| now + i64::from(days) * 86_400_000),
                withdrawn_at_ms: None,
            };
            consents.push((scope, consent));
        }
        let reason = format!("{plugin}: {}", scope_list(listed.iter()));
        let mut shown = disclosure(&loaded, &installation, &ConsentSet::default(), now);
        shown.show_in(prefs);
        let lapses = |scope: Scope| consents.iter().find(|(s, _)| *s == scope).and_then(|(_, c)| c.expires_at_ms);
        let listed: Vec<Scope> = listed.iter().collect();
        let who = (tenant, member);
        let receipt = receipt_of(who, Action::ConsentGrant, (manifest, &shown), &listed, lapses);
        let receipt = ReceiptDraft::new(&self.chain, receipt);
        let mut record = ChangeRecord {
            receipt: Some(&receipt),
            ..self.record(tenant, Actor::Member(member), Some(member), Action::ConsentGrant, reason)
        };
        // The record, the receipt and the consents tell one time.
        record.event.ts_ms = now;
        self.store.put_consents(tenant, member, plugin, &consents, record).await?;
        let stored = self.store.consents(tenant, member, plugin).await?;
        Ok(disclosure(&loaded, &installation, &stored, crate::now_ms()))
    }

    /// Withdraws `member`'s consent to `scopes` (every active consent to the
    /// plugin when `None`), effective for the next call, and deletes what
    /// the plugin stored about them. Works whatever the installation's state
    /// or visible range: withdrawal is never harder than consent.
    pub async fn withdraw(
        &self,
        tenant: &str,
        member: &str,
        plugin: &str,
        scopes: Option<&[Scope]>,
        prefs: &Languages,
    ) -> ServiceResult<Disclosure> {
        let installation = self
            .store
            .installation(tenant, plugin)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("plugin {plugin} is not installed in this workbench")))?;
        let loaded = self.load_version(plugin, &installation.version).await?;
        if let Some(stray) = scopes.and_then(|list| list.iter().find(|s| !s.is_personal())) {
            return Err(ServiceError::BadRequest(format!("{stray} is a capability; it takes no personal consent")));
        }
        let reason = match scopes {
            Some(list) => format!("{plugin}: {}", scope_list(list.iter().copied())),
            None => format!("{plugin}: all"),
        };
        // Recorded in the withdrawal's transaction, so that in the audit
        // order every refusal it causes comes after it; a failure is
        // recorded on its own. The receipt names what was consented and
        // is now withdrawn.
        let now = crate::now_ms();
        let held = self.store.consents(tenant, member, plugin).await?;
        let mut shown = disclosure(&loaded, &installation, &held, now);
        shown.show_in(prefs);
        let withdrawn: Vec<Scope> = shown
            .scopes
            .iter()
            .map(|s| s.declared.scope)
            .filter(|s| s.is_personal() && scopes.is_none_or(|list| list.contains(s)))
            .filter(|s| held.get(*s).is_some_and(|c| c.withdrawn_at_ms.is_none()))
            .collect();
        let who = (tenant, member);
        let manifest = &loaded.manifest;
        let receipt = receipt_of(who, Action::ConsentWithdraw, (manifest, &shown), &withdrawn, |_| None);
        let receipt = ReceiptDraft::new(&self.chain, receipt);
        let record = ChangeRecord {
            receipt: Some(&receipt),
            ..self.record(tenant, Actor::Member(member), Some(member), Action::ConsentWithdraw, reason.clone())
        };
        if let Err(error) = self.store.withdraw_consents(tenant, member, plugin, scopes, crate::now_ms(), record).await
        {
            let failed = format!("{reason} not applied: {}", failure_code(&error));
            let actor = Actor::Member(member);
            self.audit_failure(tenant, actor, Some(member), Action::ConsentWithdraw, Outcome::Failed, failed).await?;
            return Err(error.into());
        }
        let stored = self.store.consents(tenant, member, plugin).await?;
        Ok(disclosure(&loaded, &installation, &stored, crate::now_ms()))
    }
}

/// The receipt of `member`'s `action` on `scopes`, as `shown` (a
/// disclosure shown in the member's language) describes them;
/// `expires_at` gives each consent's lapse.
fn receipt_of(
    (tenant, member): (&str, &str),
    action: Action,
    (manifest, shown): (&Manifest, &Disclosure),
    scopes: &[Scope],
    expires_at: impl Fn(Scope) -> Option<i64>,
) -> ConsentReceipt {
    ConsentReceipt {
        format: RECEIPT_FORMAT.to_owned(),
        tenant: tenant.to_owned(),
        member: member.to_owned(),
        action: action.as_str().to_owned(),
        plugin: shown.plugin.clone(),
        plugin_name: shown.name.as_str().to_owned(),
        plugin_version: shown.version.clone(),
        recipient: shown.recipient.name.clone(),
        recipient_contact: shown.recipient.contact.clone(),
        language: shown.lang.clone(),
        scopes: shown
            .scopes
            .iter()
            .filter(|s| scopes.contains(&s.declared.scope))
            .map(|s| ReceiptScope {
                scope: s.declared.scope.as_str().to_owned(),
                field: s.declared.field.to_owned(),
                purpose: s.declared.purpose.as_str().to_owned(),
                sensitive: s.declared.sensitive,
                expires_at_ms: expires_at(s.declared.scope),
            })
            .collect(),
        destinations: shown
            .destinations
            .iter()
            .map(|d| ReceiptDestination { destination: d.destination.clone(), purpose: d.purpose.as_str().to_owned() })
            .collect(),
        policy_digest: hex::encode(Sha256::digest(serde_json::to_vec(manifest).unwrap_or_default())),
        issued_at_ms: 0,
        audit_seq: 0,
    }
}

/// A short, internals-free name for why a store change failed, for the audit text.
fn failure_code(error: &StoreError) -> &'static str {
    match error {
        StoreError::NotFound(_) => "not_found",
        StoreError::Conflict(_) => "conflict",
        _ => "store_error",
    }
}
