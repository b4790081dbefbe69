//! The upgrade review queue: a newer published version of a plugin a
//! tenant runs waits in 应用管理 with its diff (scopes, destinations,
//! configuration keys, purposes, per language) until an app admin approves
//! it (what it newly asks for is granted with the approval) or declines it
//! (the installed version keeps running). A tenant may let versions that
//! widen nothing apply themselves when they are published (off by default).
//! Members are asked again only for what changed, as for any upgrade. A
//! developer sees, per version, how many tenants run it and how many have
//! it pending: counts only.

use std::collections::BTreeMap;

use serde::Serialize;

use super::installations::{InstallRequest, InstallationView};
use super::{Actor, ServiceError, ServiceResult, Workbench};
use crate::model::audit::Action;
use crate::model::installation::Installation;
use crate::model::manifest::Manifest;
use crate::model::registry::PluginRelease;
use crate::model::text::{Languages, ShowIn, Shown, choose};
use crate::model::upgrades::UpgradeDiff;
use crate::scope::{Scope, ScopeSet};
use crate::store::upgrades::Decline;

/// A purpose in other words, in the response's language.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PurposeChangeView {
    /// The scope or destination.
    pub what: String,
    /// The installed version's words.
    #[schema(value_type = String)]
    pub before: Shown,
    /// The newer version's words.
    #[schema(value_type = String)]
    pub after: Shown,
}

/// What a newer version changes.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DiffView {
    /// Scopes it newly declares (granted when the upgrade is approved).
    pub added_scopes: Vec<Scope>,
    /// Scopes it no longer declares.
    pub removed_scopes: Vec<Scope>,
    /// Scopes it now requires.
    pub newly_required: Vec<Scope>,
    /// Destinations it newly declares (approved with the upgrade).
    pub added_destinations: Vec<String>,
    /// Destinations it no longer declares.
    pub removed_destinations: Vec<String>,
    /// Configuration keys it newly declares.
    pub added_config: Vec<String>,
    /// Configuration keys it no longer declares.
    pub removed_config: Vec<String>,
    /// Events and schedules it newly subscribes to (approved with the upgrade).
    pub added_subscriptions: Vec<String>,
    /// Events and schedules it no longer subscribes to.
    pub removed_subscriptions: Vec<String>,
    /// Purposes in other words.
    pub purposes: Vec<PurposeChangeView>,
}

/// A newer version waiting for the tenant's review.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PendingUpgrade {
    /// Plugin id.
    pub plugin: String,
    /// Its name.
    #[schema(value_type = String)]
    pub name: Shown,
    /// The languages its texts are given in, primary first.
    pub languages: Vec<String>,
    /// The language texts are shown in.
    pub lang: Option<String>,
    /// The version running now.
    pub installed: String,
    /// The newest published version.
    pub version: String,
    /// Whether it asks for anything the installed one did not.
    pub widens: bool,
    /// What it changes.
    pub diff: DiffView,
    /// The app admin's decline of this version, if they declined it.
    pub declined: Option<DeclineView>,
}

/// A declined version.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeclineView {
    /// The app admin.
    pub by: String,
    /// Why.
    pub reason: String,
    /// When, ms since the epoch.
    pub at_ms: i64,
}

/// The tenant's upgrade review.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UpgradeReview {
    /// Whether versions that widen nothing apply themselves.
    pub auto_apply: bool,
    /// Newer versions of installed plugins, waiting or declined.
    pub pending: Vec<PendingUpgrade>,
}

impl ShowIn for UpgradeReview {
    fn show_in(&mut self, prefs: &Languages) {
        for pending in &mut self.pending {
            let lang = choose(&pending.languages, prefs);
            pending.name.show(lang);
            for change in &mut pending.diff.purposes {
                change.before.show(lang);
                change.after.show(lang);
            }
            pending.lang = lang.map(str::to_owned);
        }
    }
}

/// How many tenants run a version, and how many have it waiting.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VersionAdoption {
    /// The version.
    pub version: String,
    /// Tenants running it.
    pub running: usize,
    /// Tenants running an older version that have not declined this one.
    pub pending: usize,
}

fn diff_view(diff: UpgradeDiff) -> DiffView {
    DiffView {
        added_scopes: diff.added_scopes,
        removed_scopes: diff.removed_scopes,
        newly_required: diff.newly_required,
        added_destinations: diff.added_destinations,
        removed_destinations: diff.removed_destinations,
        added_config: diff.added_config,
        removed_config: diff.removed_config,
        added_subscriptions: diff.added_subscriptions,
        removed_subscriptions: diff.removed_subscriptions,
        purposes: diff
            .purposes
            .into_iter()
            .map(|c| PurposeChangeView { what: c.what, before: Shown::new(&c.before), after: Shown::new(&c.after) })
            .collect(),
    }
}

/// The highest version of a plugin's releases.
pub(super) fn newest(releases: Vec<PluginRelease>) -> Option<PluginRelease> {
    releases.into_iter().max_by(|a, b| a.manifest.version.cmp(&b.manifest.version))
}

fn newer(version: &str, than: &str) -> bool {
    match (semver::Version::parse(version), semver::Version::parse(than)) {
        (Ok(a), Ok(b)) => a > b,
        _ => false,
    }
}

/// What an approved upgrade installs: the grant, destinations and values
/// kept where the newer version still declares them, with what it newly
/// declares granted by the approval; the visible range as it is.
fn upgrade_request(installation: &Installation, installed: &Manifest, newer: &Manifest) -> InstallRequest {
    let declared = newer.declared();
    let was = installed.declared();
    let granted: ScopeSet =
        declared.iter().filter(|s| installation.granted.contains(*s) || !was.contains(*s)).collect();
    let before = installed.destinations();
    let egress =
        newer.destinations().into_iter().filter(|d| installation.egress.contains(d) || !before.contains(d)).collect();
    let keys: Vec<&str> = newer.config.iter().map(|c| c.key.as_str()).collect();
    let config: BTreeMap<String, String> = installation
        .config
        .iter()
        .filter(|(k, _)| keys.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // Events and schedules as destinations: what was approved stays
    // approved, what the newer version newly declares comes with it.
    let subscribed = installed.subscriptions();
    let subscriptions = newer
        .subscriptions()
        .into_iter()
        .filter(|s| installation.subscriptions.contains(s) || !subscribed.contains(s))
        .collect();
    InstallRequest {
        version: newer.version.to_string(),
        granted: granted.iter().collect(),
        visible_to: Some(installation.range.clone()),
        egress,
        config,
        subscriptions: Some(subscriptions),
    }
}

impl Workbench {
    /// Newer versions of the tenant's plugins, with their diffs.
    pub async fn upgrade_review(&self, tenant: &str) -> ServiceResult<UpgradeReview> {
        let declines = self.store.declines(tenant).await?;
        let mut pending = Vec::new();
        for installation in self.store.installations(tenant).await? {
            let Some(latest) = newest(self.store.plugin_releases(Some(&installation.plugin)).await?) else { continue };
            let version = latest.manifest.version.to_string();
            if !newer(&version, &installation.version) {
                continue;
            }
            let installed = self.load_version(&installation.plugin, &installation.version).await?;
            let diff = UpgradeDiff::between(&installed.manifest, &latest.manifest);
            let declined = declines
                .iter()
                .find(|d| d.plugin == installation.plugin && d.version == version)
                .map(|d| DeclineView { by: d.decided_by.clone(), reason: d.reason.clone(), at_ms: d.decided_at_ms });
            let languages = super::registry::languages(&latest.manifest);
            pending.push(PendingUpgrade {
                plugin: installation.plugin.clone(),
                name: Shown::new(&latest.manifest.name),
                lang: languages.first().cloned(),
                languages,
                installed: installation.version.clone(),
                version,
                widens: diff.widens(),
                diff: diff_view(diff),
                declined,
            });
        }
        Ok(UpgradeReview { auto_apply: self.store.auto_upgrade(tenant).await?, pending })
    }

    /// The installation, its manifest and `version`'s manifest, when
    /// `version` is published and newer than the installed one.
    async fn upgrade_parts(
        &self,
        tenant: &str,
        plugin: &str,
        version: &str,
    ) -> ServiceResult<(Installation, std::sync::Arc<Manifest>, Manifest)> {
        let installation = self
            .store
            .installation(tenant, plugin)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("plugin {plugin} is not installed")))?;
        let release = self
            .store
            .plugin_version(plugin, version)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("{plugin}@{version} is not published")))?
            .release;
        if !newer(version, &installation.version) {
            return Err(ServiceError::Conflict(format!(
                "{plugin}@{version} is not newer than the installed {}",
                installation.version
            )));
        }
        let installed = self.load_version(plugin, &installation.version).await?;
        Ok((installation, std::sync::Arc::clone(&installed.manifest), release.manifest))
    }

    /// [`upgrade_request`] with a range that names only members and
    /// departments the tenant still has.
    async fn kept_request(
        &self,
        tenant: &str,
        installation: &Installation,
        installed: &Manifest,
        newer: &Manifest,
    ) -> ServiceResult<InstallRequest> {
        let mut request = upgrade_request(installation, installed, newer);
        request.visible_to = Some(self.live_range(tenant, installation.range.clone()).await?);
        Ok(request)
    }

    /// An app admin approves `version`: it runs from the next call, with
    /// what it newly declares granted; members are asked for what changed.
    pub async fn approve_upgrade(
        &self,
        tenant: &str,
        admin: &str,
        plugin: &str,
        version: &str,
    ) -> ServiceResult<InstallationView> {
        let (installation, installed, newer) = self.upgrade_parts(tenant, plugin, version).await?;
        let request = self.kept_request(tenant, &installation, &installed, &newer).await?;
        self.install_as(tenant, Actor::Admin(admin), plugin, request).await
    }

    /// An app admin declines `version` with a reason: the installed version
    /// keeps running, and the version no longer waits. Audited.
    pub async fn decline_upgrade(
        &self,
        tenant: &str,
        admin: &str,
        plugin: &str,
        version: &str,
        reason: &str,
    ) -> ServiceResult<()> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(ServiceError::BadRequest("a decline needs a reason of 1 to 500 characters".into()));
        }
        self.upgrade_parts(tenant, plugin, version).await?;
        let decline = Decline {
            plugin: plugin.to_owned(),
            version: version.to_owned(),
            decided_by: admin.to_owned(),
            reason: reason.to_owned(),
            decided_at_ms: crate::now_ms(),
        };
        let text = format!("{plugin}@{version} declined: {reason}");
        let record = self.record(tenant, Actor::Admin(admin), None, Action::UpgradeDecline, text);
        self.store.decline_upgrade(tenant, &decline, record).await?;
        Ok(())
    }

    /// Whether versions that widen nothing apply themselves. Audited.
    pub async fn set_auto_upgrade(&self, tenant: &str, admin: &str, on: bool) -> ServiceResult<bool> {
        self.ensure_tenant(tenant).await?;
        let text = if on { "versions that widen nothing apply themselves" } else { "every version waits for review" };
        let record = self.record(tenant, Actor::Admin(admin), None, Action::UpgradeSettings, text.to_owned());
        self.store.set_auto_upgrade(tenant, on, record).await?;
        Ok(on)
    }

    /// After `plugin@version` is published: in every tenant that runs an
    /// older version and lets versions that widen nothing apply themselves,
    /// a version that widens nothing is installed (audited as the
    /// workbench's upgrade). A tenant where it cannot apply keeps it
    /// waiting; the publish itself never fails for it.
    pub(super) async fn apply_narrowing_upgrades(&self, plugin: &str, version: &str) {
        let tenants = match self.store.installed_versions(plugin).await {
            Ok(tenants) => tenants,
            Err(error) => {
                tracing::warn!(%plugin, %version, %error, "upgrades not applied");
                return;
            }
        };
        for (tenant, installed) in tenants {
            if !newer(version, &installed) || !matches!(self.store.auto_upgrade(&tenant).await, Ok(true)) {
                continue;
            }
            let applied = async {
                let (installation, was, newer) = self.upgrade_parts(&tenant, plugin, version).await?;
                if UpgradeDiff::between(&was, &newer).widens() {
                    return Ok(false);
                }
                let request = self.kept_request(&tenant, &installation, &was, &newer).await?;
                self.install_as(&tenant, Actor::Host("auto-upgrade"), plugin, request).await.map(|_| true)
            }
            .await;
            match applied {
                Ok(true) => tracing::info!(%tenant, %plugin, %version, "a version that widens nothing applied itself"),
                Ok(false) => {}
                Err(error) => tracing::warn!(%tenant, %plugin, %version, %error, "upgrade not applied; it waits"),
            }
        }
    }

    /// Per version of `plugin`, how many tenants run it and how many have
    /// it waiting; only for the developer who published the plugin (for
    /// anyone else, as if it did not exist).
    pub async fn adoption(&self, tenant: &str, developer: &str, plugin: &str) -> ServiceResult<Vec<VersionAdoption>> {
        let releases = self.store.plugin_releases(Some(plugin)).await?;
        let mine = releases.iter().any(|r| r.publisher.tenant == tenant && r.publisher.member == developer);
        if !mine {
            return Err(ServiceError::NotFound(format!("no plugin {plugin} of yours")));
        }
        let running = self.store.installed_versions(plugin).await?;
        let declines = self.store.declines_of(plugin).await?;
        let mut versions: Vec<String> = releases.iter().map(|r| r.manifest.version.to_string()).collect();
        versions.sort_by(|a, b| semver::Version::parse(b).ok().cmp(&semver::Version::parse(a).ok()));
        Ok(versions
            .into_iter()
            .map(|version| VersionAdoption {
                running: running.iter().filter(|(_, v)| *v == version).count(),
                pending: running
                    .iter()
                    .filter(|(t, v)| newer(&version, v) && !declines.iter().any(|(dt, dv)| dt == t && *dv == version))
                    .count(),
                version,
            })
            .collect())
    }
}
