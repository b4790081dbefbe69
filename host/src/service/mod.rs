//! Use cases: publish, install, consent, invoke, privacy. No HTTP, no SQL:
//! the API layer and the CLI call these. One file per group of use cases:
//! [`registry`] (developers), [`admin`] (tenant admins), [`consent`] and
//! [`invoke`] (members), [`privacy`] (audit log, access log, export).

pub mod audit;
pub mod avatar;
pub mod consent;
pub mod departments;
pub mod directory;
pub mod events;
pub mod installations;
pub mod invoke;
pub mod keys;
pub mod notifications;
pub mod privacy;
pub mod privacy_report;
pub mod receipts;
pub mod refusals;
pub mod registry;
pub mod retention;
pub mod runs;
pub mod schedules;
pub mod self_service;
pub mod sessions;
pub mod settings;
pub mod stats;
pub mod upgrades;
pub mod usage;

use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use ed25519_dalek::VerifyingKey;
use tokio::task::JoinHandle;

use crate::audit::AuditError;
use crate::audit::AuditWriter;
use crate::audit::chain::ChainSigner;
use crate::config::Config;
use crate::gate::Denial;
use crate::model::audit::{Action, AuditEvent, AuditRecord, Outcome};
use crate::model::installation::{Deleted, Installation};
use crate::model::manifest::{Manifest, ManifestError};
use crate::model::registry::PluginVersion;
use crate::openid::OpenIdKey;
use crate::runtime::admission::Admission;
use crate::runtime::{HostServices, PrepareError, Runtime, RuntimeConfig};
use crate::scope::Scope;
use crate::store::SqlStore;
use crate::store::{ChangeRecord, Store, StoreError};

pub use consent::Disclosure;
pub use invoke::Invoked;
pub use registry::Published;

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
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The caller's token was issued before their sessions were ended
    /// ("sign out everywhere"): sign in again.
    #[error("this session was ended (signed out everywhere); sign in again")]
    SessionEnded,
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
        /// What the person is asked to consent to.
        disclosure: Box<Disclosure>,
    },
    /// A rate or concurrency limit refused the call before the plugin ran.
    #[error("{0}")]
    Refused(crate::runtime::admission::Refusal),
    /// The plugin trapped or reported an error.
    #[error("invocation {invocation} failed: {error}")]
    Plugin {
        /// Invocation id, for support.
        invocation: String,
        /// What happened.
        error: crate::runtime::CallError,
    },
    /// The audit records could not be made durable; nothing is released.
    #[error(transparent)]
    Audit(#[from] AuditError),
    /// Something elsewhere the answer needs did not answer (an avatar's host).
    #[error("{0}")]
    Unavailable(String),
    /// The database failed.
    #[error(transparent)]
    Store(StoreError),
    /// The host failed (a task panicked, a stored component no longer loads).
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    /// The caller's token names a member the tenant's directory does not have.
    pub fn not_a_member() -> Self {
        ServiceError::Forbidden("you are not a member of this workbench".into())
    }

    /// The error with the plugin's texts it carries (a disclosure) shown in
    /// the language of `prefs`.
    pub fn shown_in(mut self, prefs: &crate::model::text::Languages) -> Self {
        use crate::model::text::ShowIn;
        if let ServiceError::ConsentRequired { disclosure, .. } = &mut self {
            disclosure.show_in(prefs);
        }
        self
    }
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

/// A plugin version ready to run.
pub(crate) struct LoadedVersion {
    manifest: Arc<Manifest>,
    /// `plugin:ID@VERSION`, the actor of its audit records.
    actor: String,
    pre: Arc<crate::runtime::cache::Prepared>,
}

/// Who is acting, as the audit log names them.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    /// A tenant admin.
    Admin(&'a str),
    /// A member acting on their own data.
    Member(&'a str),
    /// A developer.
    Developer(&'a str),
    /// The workbench itself, doing what a tenant asked it to do by rule
    /// (`workbench:auto-upgrade`).
    Host(&'a str),
}

impl std::fmt::Display for Actor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actor::Admin(id) => write!(f, "admin:{id}"),
            Actor::Member(id) => write!(f, "member:{id}"),
            Actor::Developer(id) => write!(f, "developer:{id}"),
            Actor::Host(job) => write!(f, "workbench:{job}"),
        }
    }
}

/// The host: store, runtime, audit writer and keys.
pub struct Workbench {
    store: Arc<dyn Store>,
    runtime: Arc<Runtime>,
    admission: Arc<Admission>,
    refusals: Arc<refusals::RefusalLog>,
    audit: AuditWriter,
    /// How long past its deadline an invocation waits for its records.
    audit_grace: std::time::Duration,
    services: HostServices,
    verifying_key: VerifyingKey,
    /// Links and signs the records that admin and member changes commit with.
    chain: ChainSigner,
    /// The operator's bounds on retention.
    retention: crate::config::RetentionConfig,
    max_component_bytes: usize,
    versions: RwLock<HashMap<(String, String), Arc<LoadedVersion>>>,
    /// How events are delivered.
    events: crate::config::EventsConfig,
    /// Wakes the delivery worker when deliveries were accepted here.
    deliveries_due: Arc<tokio::sync::Notify>,
    /// This process, as its claims on deliveries name it.
    replica: String,
    /// This replica's plugin calls counted since they were last written.
    runs: runs::RunTally,
}

impl std::fmt::Debug for Workbench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Workbench").field("store", &self.store).field("runtime", &self.runtime).finish_non_exhaustive()
    }
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

impl Workbench {
    /// Opens the store (`database_url`, else SQLite under the data dir),
    /// loads (or creates) the keys and starts the runtime and the audit
    /// writer. Await the returned handle after dropping the `Workbench` to
    /// flush the audit log.
    pub async fn open(config: &Config) -> anyhow::Result<(Self, JoinHandle<()>)> {
        let store = Self::open_store(config).await?;
        Self::with_store(config, store)
    }

    /// The store `config` names (migrated; the data directory created).
    pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
        std::fs::create_dir_all(&config.data_dir)?;
        Ok(match &config.database_url {
            Some(url) => Arc::new(SqlStore::connect(url).await?),
            None => Arc::new(SqlStore::open_sqlite(&config.database_path()).await?),
        })
    }

    /// Like [`Workbench::open`] with a store of the caller's choosing.
    pub fn with_store(config: &Config, store: Arc<dyn Store>) -> anyhow::Result<(Self, JoinHandle<()>)> {
        let signing = keys::audit_signing_key(config)?;
        let open_ids = OpenIdKey::new(keys::Secret::OpenId.load(config)?);
        let runtime = Runtime::new(&RuntimeConfig {
            limits: config.runtime.clone(),
            cache_dir: Some(config.cache_dir()),
            egress: config.egress.clone(),
        })
        .map_err(|e| anyhow::anyhow!("starting the runtime: {e:#}"))?;
        let verifying_key = signing.verifying_key();
        let chain = ChainSigner::new(signing.clone());
        // The key joins the deployment's key history (a row there vouches
        // for nothing by itself; see `audit/keyring.rs`).
        let (history, entry) = (store.clone(), chain.key_entry());
        tokio::spawn(async move {
            if let Err(error) = history.add_audit_key(&entry).await {
                tracing::warn!(%error, "the audit key could not be recorded in the key history");
            }
        });
        let (audit, writer) = AuditWriter::spawn(store.clone(), signing, config.audit.clone());
        let services =
            HostServices { store: store.clone(), open_ids, limits: Arc::clone(runtime.limits()), audit: audit.clone() };
        let admission = Admission::new(config.admission.clone(), &config.runtime);
        let window = std::time::Duration::from_secs(config.admission.refusal_window_secs);
        let refusals = refusals::RefusalLog::start(audit.clone(), window, &admission);
        let workbench = Self {
            store,
            runtime: Arc::new(runtime),
            admission,
            refusals,
            audit,
            audit_grace: std::time::Duration::from_millis(config.audit.durable_within_ms),
            services,
            verifying_key,
            chain,
            retention: config.retention.clone(),
            max_component_bytes: config.registry.max_component_bytes,
            versions: RwLock::new(HashMap::new()),
            events: config.events.clone(),
            deliveries_due: Arc::default(),
            replica: format!("{}:{}", std::process::id(), uuid::Uuid::now_v7()),
            runs: runs::RunTally::default(),
        };
        Ok((workbench, writer))
    }

    /// Starts the host's own work beside requests: the retention purge (when
    /// `[retention] purge_every_secs` is not 0), event deliveries, the
    /// schedules' ticks, the count of audit records older than the
    /// statistics, and the plugin runs' counts written every 10 s. Each task holds the workbench weakly and ends soon
    /// after it is dropped.
    pub fn start_background(self: &Arc<Self>, config: &Config) -> Vec<JoinHandle<()>> {
        let mut tasks = vec![
            self.spawn_deliveries(),
            self.spawn_stats_backfill(),
            self.spawn_run_flushes(std::time::Duration::from_secs(10)),
        ];
        if config.events.schedule_tick_secs > 0 {
            tasks.push(self.spawn_schedules(std::time::Duration::from_secs(config.events.schedule_tick_secs)));
        }
        if config.retention.purge_every_secs > 0 {
            tasks.push(self.spawn_purges(std::time::Duration::from_secs(config.retention.purge_every_secs)));
        }
        tasks
    }

    /// Before the host stops: writes what is still held back for the audit
    /// log (the counts of refused invocations).
    pub async fn stop(&self) {
        self.refusals.flush().await;
    }

    /// Is the database reachable?
    pub async fn ping(&self) -> ServiceResult<()> {
        Ok(self.store.ping().await?)
    }

    /// How many plugin versions this process holds compiled and loaded
    /// (no tenant's data: the deployment's own state).
    pub fn loaded_versions(&self) -> usize {
        self.versions.read().map_or(0, |versions| versions.len())
    }

    /// Admission control (shares, queue, rates).
    pub fn admission(&self) -> &Arc<Admission> {
        &self.admission
    }

    /// The key that verifies audit checkpoints.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.verifying_key
    }

    /// The audit writer.
    pub fn audit_writer(&self) -> &AuditWriter {
        &self.audit
    }

    /// The receipt of a deletion committed with `record`.
    fn receipt(removed: String, (deleted, record): (Deleted, AuditRecord)) -> DeletionReceipt {
        DeletionReceipt {
            removed,
            consents_deleted: deleted.consents,
            storage_entries_deleted: deleted.storage_entries,
            deleted_at_ms: record.event.ts_ms,
            audit_seq: record.seq,
        }
    }

    /// The record an admin or member change commits with, in the change's
    /// own transaction (see [`ChangeRecord`]).
    fn record(
        &self,
        tenant: &str,
        actor: Actor<'_>,
        subject: Option<&str>,
        action: Action,
        reason: String,
    ) -> ChangeRecord<'_> {
        let event = AuditEvent {
            subject: subject.map(str::to_owned),
            reason: Some(reason),
            ..AuditEvent::new(tenant, actor.to_string(), action, Outcome::Allowed)
        };
        ChangeRecord { event, chaining: &self.chain, receipt: None }
    }

    /// Records a change that failed (its own record: nothing of the change
    /// was committed).
    async fn audit_failure(
        &self,
        tenant: &str,
        actor: Actor<'_>,
        subject: Option<&str>,
        action: Action,
        outcome: Outcome,
        reason: String,
    ) -> ServiceResult<AuditRecord> {
        let event = AuditEvent {
            subject: subject.map(str::to_owned),
            reason: Some(reason),
            ..AuditEvent::new(tenant, actor.to_string(), action, outcome)
        };
        let mut records = self.audit.append(vec![event]).await?;
        records.pop().ok_or_else(|| ServiceError::Audit(AuditError::Stopped))
    }

    /// Makes sure the tenant exists (tokens may name a tenant before its
    /// first admin change).
    async fn ensure_tenant(&self, tenant: &str) -> ServiceResult<()> {
        if self.store.tenant(tenant).await?.is_none() {
            self.store.upsert_tenant(tenant, tenant).await?;
        }
        Ok(())
    }

    /// The enabled installation of `plugin` in `tenant` that `member` may
    /// see, and its version ready to run. Anything else is indistinguishable
    /// from "not installed".
    async fn visible(
        &self,
        tenant: &str,
        member: &str,
        plugin: &str,
    ) -> ServiceResult<(Arc<LoadedVersion>, Installation)> {
        let installation = usable(self.store.installation(tenant, plugin).await?, member, plugin)?;
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
        let PluginVersion { release, component } = stored;
        // It passed validation when published: failing now is the host's fault.
        let pre = self
            .runtime
            .prepare(&release.digest, move || component)
            .await
            .map_err(|e| ServiceError::Internal(format!("{plugin}@{version} does not load: {e}")))?;
        let actor = format!("plugin:{}", release.manifest.reference());
        let loaded = Arc::new(LoadedVersion { manifest: Arc::new(release.manifest), actor, pre });
        self.versions.write().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key, Arc::clone(&loaded));
        Ok(loaded)
    }
}

/// The installation when it is enabled and `member` is in its visible range;
/// otherwise the plugin is not found, as if it were not installed.
fn usable<I: std::borrow::Borrow<Installation>>(
    installation: Option<I>,
    member: &str,
    plugin: &str,
) -> ServiceResult<I> {
    match installation {
        Some(i) if i.borrow().usable_by(member, &[]) => Ok(i),
        _ => Err(ServiceError::NotFound(format!("plugin {plugin} is not installed in this workbench"))),
    }
}

/// Joins scope names for messages and audit reasons.
fn scope_list(scopes: impl IntoIterator<Item = Scope>) -> String {
    scopes.into_iter().map(Scope::as_str).collect::<Vec<_>>().join(", ")
}
