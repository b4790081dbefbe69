//! Grants trimmed to real use: which of an installation's granted scopes
//! its plugin has not used, and which approved destinations it has not
//! contacted, in the last days (read off the audit statistics); and the app
//! admin's narrowing of the grant to what it uses, which withdraws every
//! member's consent to the scopes taken away in the same transaction.

use serde::{Deserialize, Serialize};

use super::installations::InstallationView;
use super::{Actor, ServiceError, ServiceResult, Workbench, scope_list};
use crate::model::audit::{Action, Outcome};
use crate::model::egress::{Destination, HostPattern};
use crate::model::installation::Installation;
use crate::model::stats::HOUR_MS;
use crate::scope::{Scope, ScopeSet};

/// The longest look back, days.
pub const MAX_USAGE_DAYS: u32 = 366;

/// How a granted scope was used.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ScopeUse {
    /// The scope.
    pub scope: Scope,
    /// The plugin cannot run without it: it cannot be taken away.
    pub required: bool,
    /// Accesses allowed (the plugin got the field or used the capability).
    pub used: i64,
    /// Accesses refused (no consent, withdrawn, …).
    pub refused: i64,
    /// The last allowed access, ms.
    pub last_used: Option<i64>,
    /// Not used at all in the period.
    pub unused: bool,
}

/// How an approved destination was contacted.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DestinationUse {
    /// The destination.
    pub destination: String,
    /// Requests sent to it (failed ones included; refused ones not).
    pub requests: i64,
    /// Request body bytes sent.
    pub bytes_out: i64,
    /// Response body bytes received.
    pub bytes_in: i64,
    /// The last request, ms.
    pub last_contacted: Option<i64>,
    /// Not contacted at all in the period.
    pub unused: bool,
}

/// What an installation's grant was used for in the last `days`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GrantUsage {
    /// The plugin.
    pub plugin: String,
    /// The installed version.
    pub version: String,
    /// The period, days.
    pub days: u32,
    /// Its start, ms (on an hour).
    pub since: i64,
    /// `false` while older records are still being counted: "unused" may
    /// then be wrong.
    pub complete: bool,
    /// Each granted scope.
    pub scopes: Vec<ScopeUse>,
    /// Each approved destination.
    pub destinations: Vec<DestinationUse>,
}

/// What to take away from a grant.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Narrowing {
    /// Granted scopes to take away (not a required one).
    #[serde(default)]
    pub scopes: Vec<Scope>,
    /// Approved destinations to stop.
    #[serde(default)]
    pub destinations: Vec<String>,
}

/// A grant narrowed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Narrowed {
    /// The installation as it is now.
    pub installation: InstallationView,
    /// Members' consents to the scopes taken away, now withdrawn.
    pub consents_withdrawn: u64,
}

/// Whether the approved `destination` (`https://*.acme.example`) is where
/// a request recorded as going to `address` (`https://eu.acme.example`) went.
fn covers(destination: &str, address: &str) -> bool {
    match (destination.parse::<Destination>(), address.parse::<Destination>()) {
        (Ok(approved), Ok(Destination { scheme, host: HostPattern::Exact(host), port })) => {
            approved.matches(scheme, &host, port)
        }
        _ => destination == address,
    }
}

impl Workbench {
    /// The installed `plugin`'s use of its grant in `tenant` over the last `days`.
    pub async fn grant_usage(&self, tenant: &str, plugin: &str, days: u32) -> ServiceResult<GrantUsage> {
        if days == 0 || days > MAX_USAGE_DAYS {
            return Err(ServiceError::BadRequest(format!("days must be 1 to {MAX_USAGE_DAYS}")));
        }
        let installation = self.installed(tenant, plugin).await?;
        let required = self.required_scopes(&installation).await?;
        let now = crate::now_ms();
        let to = now.div_euclid(HOUR_MS) * HOUR_MS + HOUR_MS;
        let since = to - i64::from(days) * 24 * HOUR_MS;
        let hours = self.store.audit_stats(tenant, "", Some(plugin), None, since, to, Some(0)).await?;
        let complete = self.store.stats_backfill(tenant).await?.is_none();
        let scopes = installation
            .granted
            .iter()
            .map(|scope| {
                let of = || hours.iter().filter(|(k, _)| k.scope == scope.as_str());
                let allowed = || of().filter(|(k, _)| k.outcome == Outcome::Allowed.as_str());
                let used: i64 = allowed().map(|(_, c)| c.records).sum();
                ScopeUse {
                    scope,
                    required: required.contains(scope),
                    used,
                    refused: of().filter(|(k, _)| k.outcome == Outcome::Denied.as_str()).map(|(_, c)| c.records).sum(),
                    last_used: allowed().map(|(_, c)| c.last_ms).max(),
                    unused: used == 0,
                }
            })
            .collect();
        let request = Action::HttpRequest.as_str();
        let destinations = installation
            .egress
            .iter()
            .map(|destination| {
                let sent = || {
                    hours.iter().filter(|(k, _)| {
                        k.action == request
                            && covers(destination, &k.destination)
                            && k.outcome != Outcome::Denied.as_str()
                    })
                };
                let requests: i64 = sent().map(|(_, c)| c.records).sum();
                DestinationUse {
                    destination: destination.clone(),
                    requests,
                    bytes_out: sent().map(|(_, c)| c.bytes_out).sum(),
                    bytes_in: sent().map(|(_, c)| c.bytes_in).sum(),
                    last_contacted: sent().map(|(_, c)| c.last_ms).max(),
                    unused: requests == 0,
                }
            })
            .collect();
        Ok(GrantUsage {
            plugin: plugin.to_owned(),
            version: installation.version.clone(),
            days,
            since,
            complete,
            scopes,
            destinations,
        })
    }

    /// Takes `narrowing`'s scopes and destinations away from the installed
    /// `plugin`'s grant in `tenant`, withdrawing every member's consent to
    /// those scopes with the change and its record (`plugin.grant`).
    pub async fn narrow_grant(
        &self,
        tenant: &str,
        admin: &str,
        plugin: &str,
        narrowing: &Narrowing,
    ) -> ServiceResult<Narrowed> {
        if narrowing.scopes.is_empty() && narrowing.destinations.is_empty() {
            return Err(ServiceError::BadRequest("name the scopes or destinations to take away".into()));
        }
        let installation = self.installed(tenant, plugin).await?;
        let required = self.required_scopes(&installation).await?;
        let taken: ScopeSet = narrowing.scopes.iter().copied().collect();
        let ungranted = taken.difference(installation.granted);
        if !ungranted.is_empty() {
            return Err(ServiceError::BadRequest(format!("not granted: {}", scope_list(ungranted.iter()))));
        }
        let needed: Vec<Scope> = taken.iter().filter(|s| required.contains(*s)).collect();
        if !needed.is_empty() {
            return Err(ServiceError::BadRequest(format!(
                "{plugin} cannot run without {}; uninstall it instead",
                scope_list(needed)
            )));
        }
        if let Some(stray) = narrowing.destinations.iter().find(|d| !installation.egress.contains(d)) {
            return Err(ServiceError::BadRequest(format!("destination {stray:?} is not approved for {plugin}")));
        }
        let narrowed = Installation {
            granted: installation.granted.difference(taken),
            egress: installation.egress.iter().filter(|d| !narrowing.destinations.contains(d)).cloned().collect(),
            ..installation.clone()
        };
        let mut reason = format!("{plugin}@{} narrowed to [{}]", narrowed.version, scope_list(narrowed.granted.iter()));
        if !taken.is_empty() {
            reason.push_str(&format!(" taking away [{}]", scope_list(taken.iter())));
        }
        if !narrowing.destinations.is_empty() {
            reason.push_str(&format!(" no longer sending to [{}]", narrowing.destinations.join(", ")));
        }
        let record = self.record(tenant, Actor::Admin(admin), None, Action::PluginGrant, reason);
        let (consents_withdrawn, _) =
            self.store.narrow_installation(&installation, &narrowed, taken, crate::now_ms(), record).await?;
        let now = self.installed(tenant, plugin).await?;
        Ok(Narrowed { installation: self.installation_view(now).await?, consents_withdrawn })
    }

    /// The tenant's installation of `plugin`, or not found.
    async fn installed(&self, tenant: &str, plugin: &str) -> ServiceResult<Installation> {
        self.store
            .installation(tenant, plugin)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("plugin {plugin} is not installed")))
    }

    /// The scopes the installed version cannot run without.
    async fn required_scopes(&self, installation: &Installation) -> ServiceResult<ScopeSet> {
        let release = self
            .store
            .plugin_version(&installation.plugin, &installation.version)
            .await?
            .ok_or_else(|| {
                ServiceError::NotFound(format!(
                    "plugin {} has no version {}",
                    installation.plugin, installation.version
                ))
            })?
            .release;
        Ok(release.manifest.scopes.iter().filter(|d| d.required).map(|d| d.scope).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::covers;

    #[test]
    fn an_approved_pattern_covers_the_addresses_it_names() {
        assert!(covers("https://*.acme.example", "https://eu.acme.example"));
        assert!(!covers("https://*.acme.example", "https://acme.example"));
        assert!(!covers("https://*.acme.example", "http://eu.acme.example"));
        assert!(covers("https://visits.acme.example", "https://visits.acme.example"));
        assert!(covers("http://127.0.0.1:8080", "http://127.0.0.1:8080"));
        assert!(!covers("http://127.0.0.1:8080", "http://127.0.0.1:9"));
    }
}
