//! Use cases: publish, install, consent, withdraw, invoke, verify. No HTTP,
//! no SQL: the API layer and the CLI call these.

pub mod keys;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

use crate::audit::verify::{self, VerifyReport};
use crate::audit::writer::AuditError;
use crate::audit::{AuditEvent, AuditRecord, AuditWriter, Outcome};
use crate::config::Config;
use crate::gate::{self, Consent, Denial, PurposeDigest};
use crate::manifest::{Manifest, ManifestError};
use crate::openid::OpenIdKey;
use crate::runtime::{
    CallContext, CallError, HostServices, LogLine, PrepareError, Request, Response, Runtime, RuntimeConfig,
};
use crate::scope::{Scope, ScopeSet};
use crate::store::sqlite::SqliteStore;
use crate::store::{Installation, InstallationState, PluginVersion, Store, StoreError};

/// Why a use case failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input is wrong; the message says how.
    #[error("{0}")]
    BadRequest(String),
    /// The manifest is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The component is invalid or breaks the contract.
    #[error(transparent)]
    Component(#[from] PrepareError),
    /// No such plugin, installation or member, or not visible to the caller.
    #[error("{0}")]
    NotFound(String),
    /// Conflicts with what is stored.
    #[error("{0}")]
    Conflict(String),
    /// Required scopes are not consented.
    #[error("consent required for {}", .missing.iter().map(|(s, d)| format!("{s} ({d})")).collect::<Vec<_>>().join(", "))]
    ConsentRequired {
        /// The required scopes the gate refuses, and why.
        missing: Vec<(Scope, Denial)>,
    },
    /// The plugin trapped or reported an error.
    #[error("invocation {invocation} failed: {error}")]
    Plugin {
        /// Invocation id, for support.
        invocation: String,
        /// What happened.
        error: CallError,
    },
    /// The audit records could not be made durable; nothing is released.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// The database failed.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(message) => ServiceError::Conflict(message),
            StoreError::NotFound(message) => ServiceError::NotFound(message),
            other => ServiceError::Store(other),
        }
    }
}

/// Result of use cases.
pub type ServiceResult<T> = Result<T, ServiceError>;

/// A published version, as stored.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Published {
    /// Plugin id.
    pub id: String,
    /// Version.
    pub version: String,
    /// SHA-256 of the component.
    pub digest: String,
    /// Declared scopes.
    pub scopes: Vec<Scope>,
}

/// A successful invocation: the response (released only after `audit` is durable).
#[derive(Debug)]
pub struct Invoked {
    /// Invocation id.
    pub invocation: String,
    /// The plugin's response.
    pub response: Response,
    /// The durable audit records of the call.
    pub audit: Vec<AuditRecord>,
    /// Log lines the plugin wrote.
    pub logs: Vec<LogLine>,
}

/// A plugin version ready to run.
struct LoadedVersion {
    manifest: Arc<Manifest>,
    /// `plugin:ID@VERSION`, the actor of its audit records.
    actor: String,
    pre: Arc<crate::runtime::cache::PluginPreHandle>,
}

/// The host: store, runtime, audit writer and keys.
pub struct Workbench {
    store: Arc<dyn Store>,
    runtime: Arc<Runtime>,
    audit: AuditWriter,
    services: HostServices,
    verifying_key: VerifyingKey,
    versions: RwLock<HashMap<(String, String), Arc<LoadedVersion>>>,
}

impl std::fmt::Debug for Workbench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workbench").field("store", &self.store).field("runtime", &self.runtime).finish_non_exhaustive()
    }
}

fn digest(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Workbench {
    /// Opens the SQLite store under the data dir, loads (or creates) the
    /// keys and starts the runtime and the audit writer. Await the returned
    /// handle after dropping the `Workbench` to flush the audit log.
    pub async fn open(config: &Config) -> anyhow::Result<(Self, JoinHandle<()>)> {
        std::fs::create_dir_all(&config.data_dir)?;
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&config.database_path()).await?);
        Self::with_store(config, store)
    }

    /// Like [`Workbench::open`] with a store of the caller's choosing.
    pub fn with_store(config: &Config, store: Arc<dyn Store>) -> anyhow::Result<(Self, JoinHandle<()>)> {
        let signing = keys::signing_key(&config.keys_dir())?;
        let open_ids = OpenIdKey::new(keys::open_id_secret(&config.keys_dir())?);
        let runtime =
            Runtime::new(&RuntimeConfig { limits: config.runtime.clone(), cache_dir: Some(config.cache_dir()) })
                .map_err(|e| anyhow::anyhow!("starting the runtime: {e:#}"))?;
        let verifying_key = signing.verifying_key();
        let (audit, writer) = AuditWriter::spawn(Arc::clone(&store), signing, config.audit.clone());
        let services = HostServices { store: Arc::clone(&store), open_ids, limits: Arc::clone(runtime.limits()) };
        let workbench = Self {
            store,
            runtime: Arc::new(runtime),
            audit,
            services,
            verifying_key,
            versions: RwLock::new(HashMap::new()),
        };
        Ok((workbench, writer))
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The key that verifies audit checkpoints.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.verifying_key
    }

    /// The audit writer.
    pub fn audit_writer(&self) -> &AuditWriter {
        &self.audit
    }

    /// Validates and stores a plugin version.
    pub async fn publish(&self, publisher: &str, manifest_toml: &str, component: Vec<u8>) -> ServiceResult<Published> {
        let manifest = Manifest::from_toml(manifest_toml)?;
        let runtime = Arc::clone(&self.runtime);
        let (checked, component) = tokio::task::spawn_blocking(move || (runtime.check(&component), component))
            .await
            .map_err(|e| ServiceError::BadRequest(format!("validation failed: {e}")))?;
        checked?;
        let version =
            PluginVersion { digest: digest(&component), manifest, component, publisher: publisher.to_owned() };
        self.store.put_plugin_version(&version).await?;
        Ok(Published {
            id: version.manifest.id.clone(),
            version: version.manifest.version.to_string(),
            digest: version.digest,
            scopes: version.manifest.scopes.iter().map(|d| d.scope).collect(),
        })
    }

    /// Makes one admin or member change durable in the tenant's audit log.
    async fn audit_change(
        &self,
        tenant: &str,
        actor: String,
        subject: Option<&str>,
        action: &str,
        reason: String,
    ) -> ServiceResult<()> {
        let event = AuditEvent {
            subject: subject.map(str::to_owned),
            reason: Some(reason),
            ..AuditEvent::new(tenant, actor, action, Outcome::Allowed)
        };
        self.audit.append(vec![event]).await?;
        Ok(())
    }

    /// Audits a member's consent change for `scopes` of `plugin`.
    async fn audit_consent(
        &self,
        tenant: &str,
        member: &str,
        action: &str,
        plugin: &str,
        scopes: &[Scope],
    ) -> ServiceResult<()> {
        let names: Vec<_> = scopes.iter().map(|s| s.as_str()).collect();
        let reason = format!("{plugin}: {}", names.join(", "));
        self.audit_change(tenant, format!("member:{member}"), Some(member), action, reason).await
    }

    /// Installs (or upgrades, or changes the grant of) a plugin in a tenant.
    /// `granted` must be a subset of what the version declares.
    pub async fn install(
        &self,
        admin: &str,
        tenant: &str,
        plugin: &str,
        version: &str,
        granted: ScopeSet,
        visible_to: Option<Vec<String>>,
    ) -> ServiceResult<()> {
        let stored = self
            .store
            .plugin_version(plugin, version)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("plugin {plugin}@{version} is not published")))?;
        let undeclared = granted.difference(stored.manifest.declared());
        if !undeclared.is_empty() {
            let names: Vec<_> = undeclared.iter().map(Scope::as_str).collect();
            return Err(ServiceError::BadRequest(format!(
                "cannot grant scopes the plugin does not declare: {}",
                names.join(", ")
            )));
        }
        let installation = Installation {
            tenant: tenant.to_owned(),
            plugin: plugin.to_owned(),
            version: version.to_owned(),
            granted,
            visible_to,
            state: InstallationState::Enabled,
        };
        self.store.put_installation(&installation).await?;
        let scopes: Vec<_> = granted.iter().map(Scope::as_str).collect();
        self.audit_change(
            tenant,
            format!("admin:{admin}"),
            None,
            "plugin.install",
            format!("{plugin}@{version} granted [{}]", scopes.join(", ")),
        )
        .await
    }

    /// Records a member's consent to `scopes` of the installed version. Each
    /// scope is consented to its current purpose; sensitive scopes count as
    /// separately consented only when listed in `separate`.
    pub async fn consent(
        &self,
        tenant: &str,
        member: &str,
        plugin: &str,
        scopes: &[Scope],
        separate: &[Scope],
    ) -> ServiceResult<()> {
        let (loaded, _) = self.installed(tenant, plugin).await?;
        let manifest = &loaded.manifest;
        let now = crate::now_ms();
        let mut consents = Vec::with_capacity(scopes.len());
        for scope in scopes {
            let declaration = manifest
                .declaration(*scope)
                .ok_or_else(|| ServiceError::BadRequest(format!("{plugin} does not ask for {scope}")))?;
            let consent = Consent {
                purpose: PurposeDigest::of(&declaration.purpose),
                separate: !scope.is_sensitive() || separate.contains(scope),
                granted_at_ms: now,
                expires_at_ms: None,
                withdrawn_at_ms: None,
            };
            consents.push((*scope, consent));
        }
        self.store.put_consents(tenant, member, plugin, &consents).await?;
        self.audit_consent(tenant, member, "consent.grant", plugin, scopes).await
    }

    /// Withdraws a member's consent to `scopes` (effective for the next host
    /// call) and deletes what the plugin stored about them.
    pub async fn withdraw(&self, tenant: &str, member: &str, plugin: &str, scopes: &[Scope]) -> ServiceResult<()> {
        self.store.withdraw_consents(tenant, member, plugin, scopes, crate::now_ms()).await?;
        self.audit_consent(tenant, member, "consent.withdraw", plugin, scopes).await
    }

    /// The enabled installation of `plugin` in `tenant` and its version, ready to run.
    async fn installed(&self, tenant: &str, plugin: &str) -> ServiceResult<(Arc<LoadedVersion>, Installation)> {
        let not_found = || ServiceError::NotFound(format!("plugin {plugin} is not installed in this workbench"));
        let installation = self.store.installation(tenant, plugin).await?.ok_or_else(not_found)?;
        if installation.state != InstallationState::Enabled {
            return Err(not_found());
        }
        let loaded = self.load_version(plugin, &installation.version).await?;
        Ok((loaded, installation))
    }

    async fn load_version(&self, plugin: &str, version: &str) -> ServiceResult<Arc<LoadedVersion>> {
        let key = (plugin.to_owned(), version.to_owned());
        if let Some(loaded) = self.versions.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key) {
            return Ok(Arc::clone(loaded));
        }
        let stored = self
            .store
            .plugin_version(plugin, version)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("plugin {plugin}@{version} is not published")))?;
        let PluginVersion { manifest, digest, component, .. } = stored;
        let pre = self.runtime.prepare(&digest, move || component).await?;
        let actor = format!("plugin:{}", manifest.reference());
        let loaded = Arc::new(LoadedVersion { manifest: Arc::new(manifest), actor, pre });
        self.versions.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key, Arc::clone(&loaded));
        Ok(loaded)
    }

    /// Runs `plugin` for `member`. The response is returned only after the
    /// call's audit records are durable.
    pub async fn invoke(&self, tenant: &str, member: &str, plugin: &str, request: Request) -> ServiceResult<Invoked> {
        let (loaded, installation) = self.installed(tenant, plugin).await?;
        if installation.visible_to.as_ref().is_some_and(|list| !list.iter().any(|m| m == member)) {
            // Invisible is indistinguishable from not installed.
            return Err(ServiceError::NotFound(format!("plugin {plugin} is not installed in this workbench")));
        }
        let consents = self.store.consents(tenant, member, plugin).await?;
        let policy = loaded.manifest.policy(installation.granted);
        let now = crate::now_ms();
        let invocation = uuid::Uuid::now_v7().to_string();
        let missing = gate::missing_required(&policy, &consents, now);
        if !missing.is_empty() {
            let names: Vec<_> = missing.iter().map(|(s, d)| format!("{s}:{}", d.code())).collect();
            let event = AuditEvent {
                subject: Some(member.to_owned()),
                reason: Some(format!("consent_required: {}", names.join(", "))),
                invocation: Some(invocation),
                ..AuditEvent::new(tenant, loaded.actor.clone(), "invoke", Outcome::Denied)
            };
            self.audit.append(vec![event]).await?;
            return Err(ServiceError::ConsentRequired { missing });
        }
        let call = CallContext {
            tenant: tenant.to_owned(),
            member: member.to_owned(),
            manifest: Arc::clone(&loaded.manifest),
            actor: loaded.actor.clone(),
            policy: Arc::new(policy),
            consents: Arc::new(consents),
            invocation: invocation.clone(),
            now_ms: now,
        };
        let outcome = self.runtime.call(&loaded.pre, call, self.services.clone(), request).await;
        let audit = self.audit.append(outcome.audit).await?;
        match outcome.result {
            Ok(response) => Ok(Invoked { invocation, response, audit, logs: outcome.logs }),
            Err(error) => Err(ServiceError::Plugin { invocation, error }),
        }
    }

    /// Verifies the audit chain of `tenant`, or of every tenant.
    pub async fn verify_audit(&self, tenant: Option<&str>) -> ServiceResult<Vec<VerifyReport>> {
        let tenants = match tenant {
            Some(t) => vec![t.to_owned()],
            None => self.store.audit_tenants().await?,
        };
        let mut reports = Vec::with_capacity(tenants.len());
        for tenant in tenants {
            reports.push(verify::verify_tenant(self.store.as_ref(), &tenant, &self.verifying_key, &[]).await?);
        }
        Ok(reports)
    }
}
