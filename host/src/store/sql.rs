//! The one [`Store`] implementation, on SQLite or PostgreSQL through sqlx's
//! `Any` driver. Every statement is written once, with `$n` placeholders
//! that both engines accept, so the two backends cannot drift apart. What
//! differs is isolated in [`Backend`]: how a write transaction starts, how
//! concurrent writers of one audit chain or storage bucket are serialised,
//! and the migrations.
//!
//! - SQLite runs in WAL mode with `synchronous=FULL`, so a committed audit
//!   batch survives a crash or power loss; write transactions are
//!   `BEGIN IMMEDIATE`, which serialises all writers of the file.
//! - PostgreSQL serves many replicas; writers of one tenant's audit chain
//!   (or one storage bucket) take a transaction-scoped advisory lock.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyRow};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyPool, ConnectOptions, Connection, Executor, Row, Transaction};

use super::contexts::ContextCache;
use super::generations::GenerationReader;
use super::{
    AuditFilter, CheckpointSigner, ConsentRow, Deleted, Installation, InstallationState, InvocationContext, KvBucket,
    KvEntry, MemberProfile, PluginRelease, PluginVersion, Publisher, QuotaExceeded, Retention, Store, StoreError,
    StoreResult,
};
use crate::audit::chain::{self, Checkpoint, Head};
use crate::audit::{AuditEvent, AuditRecord, Outcome};
use crate::gate::{Consent, ConsentSet, PurposeDigest};
use crate::scope::{Scope, ScopeSet};

/// Rows per multi-row audit insert (13 parameters each; SQLite binds at
/// most 32 766, PostgreSQL 65 535).
const AUDIT_ROWS_PER_INSERT: usize = 2_000;

/// Which engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    /// The backend a database URL names.
    pub fn of_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::Unsupported("the database URL must start with sqlite: or postgres:".to_owned()))
        }
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// The store: a connection pool and the backend behind it.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pool: AnyPool,
    backend: Backend,
    contexts: Arc<ContextCache>,
    /// PostgreSQL: reads the tenants' generations (see [`GenerationReader`]).
    generations: Option<GenerationReader>,
    /// The connection audit batches are written on, kept between batches
    /// (see `append_audit`).
    audit_connection: Arc<tokio::sync::Mutex<Option<sqlx::AnyConnection>>>,
}

/// Ends a change to a tenant's directory, installations or consents: on
/// SQLite, bumps the tenant's generation when dropped, which is when the
/// changing method returns or its future is dropped (see [`ContextCache`]).
/// PostgreSQL's triggers do it in the transaction.
struct Changing<'a> {
    store: &'a SqlStore,
    tenant: &'a str,
}

impl Drop for Changing<'_> {
    fn drop(&mut self) {
        if self.store.backend == Backend::Sqlite {
            self.store.contexts.bump_local(self.tenant);
        }
    }
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(corrupt)
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(corrupt)
}

fn scopes_json(set: ScopeSet) -> StoreResult<String> {
    json(&set.iter().collect::<Vec<_>>())
}

fn hash32(bytes: &[u8]) -> StoreResult<[u8; 32]> {
    bytes.try_into().map_err(|_| corrupt("audit hash is not 32 bytes"))
}

fn person_key<'a>(bucket: &KvBucket<'a>) -> &'a str {
    bucket.person.unwrap_or("")
}

fn count(done: &sqlx::any::AnyQueryResult) -> u64 {
    done.rows_affected()
}

/// PostgreSQL text cannot hold NUL; a plugin's error text (or any other
/// text) with one must not fail the batch it shares with other tenants.
/// Replaced before hashing, on both backends alike.
fn without_nul(mut event: AuditEvent) -> AuditEvent {
    fn clean(text: &mut String) {
        if text.contains('\0') {
            *text = text.replace('\0', "\u{FFFD}");
        }
    }
    clean(&mut event.actor);
    clean(&mut event.action);
    for text in [&mut event.subject, &mut event.scope, &mut event.purpose, &mut event.reason, &mut event.invocation]
        .into_iter()
        .flatten()
    {
        clean(text);
    }
    event
}

/// `$first, $first+1, …` for `n` parameters on PostgreSQL; plain `?` on
/// SQLite. Numbered or named parameters make SQLite keep a name list that
/// binding searches linearly per parameter, so a multi-row insert with
/// thousands of them would bind in quadratic time; plain `?` bind in order.
pub(super) fn placeholders(backend: Backend, first: usize, n: usize) -> String {
    match backend {
        Backend::Sqlite => vec!["?"; n].join(", "),
        Backend::Postgres => (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", "),
    }
}

impl SqlStore {
    /// Opens (creating if needed) the SQLite file at `path` and migrates it.
    pub async fn open_sqlite(path: &Path) -> StoreResult<Self> {
        let url = SqliteConnectOptions::new().filename(path).create_if_missing(true).to_url_lossy();
        Self::connect(url.as_str()).await
    }

    /// Connects to `sqlite:…` or `postgres://…` and migrates the database.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let options = AnyConnectOptions::from_str(url)?;
        let generations = (backend == Backend::Postgres).then(|| GenerationReader::start(options.clone()));
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                             PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                        )
                        .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        let mut conn = pool.acquire().await?;
        match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&mut *conn).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&mut *conn).await?,
        }
        drop(conn);
        Ok(Self { pool, backend, contexts: Arc::default(), generations, audit_connection: Arc::default() })
    }

    /// Marks the start of a change to `tenant` (see [`Changing`]).
    fn changing<'a>(&'a self, tenant: &'a str) -> Changing<'a> {
        Changing { store: self, tenant }
    }

    /// The tenant's generation (see [`ContextCache`]).
    async fn generation(&self, tenant: &str) -> StoreResult<u64> {
        match &self.generations {
            None => Ok(self.contexts.local_generation(tenant)),
            Some(reader) => reader.read(tenant).await,
        }
    }

    /// [`Store::invocation_context`] from the database. The installation's
    /// visible range is narrowed to the caller (`[member]` or `[]`), which is
    /// all an invocation asks of it, so a cached context stays small.
    async fn read_invocation_context(
        &self,
        tenant: &str,
        member: &str,
        plugin: &str,
    ) -> StoreResult<InvocationContext> {
        let rows = sqlx::query(
            "SELECT i.plugin, i.version, i.granted, i.visible_to, i.state, \
                    (SELECT m.profile FROM members m WHERE m.tenant = $1 AND m.id = $2), \
                    c.scope, c.purpose, c.separate, c.granted_at, c.expires_at, c.withdrawn_at \
             FROM installations i \
             LEFT JOIN consents c ON c.tenant = i.tenant AND c.plugin = i.plugin AND c.member = $2 \
             WHERE i.tenant = $1 AND i.plugin = $3",
        )
        .bind(tenant)
        .bind(member)
        .bind(plugin)
        .fetch_all(&self.pool)
        .await?;
        let Some(first) = rows.first() else {
            // Not installed: the directory alone decides the caller's answer.
            let profile = self.member(tenant, member).await?.map(Arc::new);
            return Ok(InvocationContext { profile, installation: None, consents: Arc::default() });
        };
        let profile: Option<MemberProfile> =
            first.try_get::<Option<String>, _>(5)?.map(|text| from_json(&text)).transpose()?;
        let mut installation = installation_from_row(tenant, first)?;
        if let Some(range) = &mut installation.visible_to {
            range.retain(|m| m == member);
            range.truncate(1);
        }
        let mut consents = ConsentSet::default();
        for row in &rows {
            if row.try_get::<Option<String>, _>(6)?.is_some() {
                let (scope, consent) = consent_from_row(row, 6)?;
                consents.set(scope, consent);
            }
        }
        Ok(InvocationContext {
            profile: profile.map(Arc::new),
            installation: Some(Arc::new(installation)),
            consents: Arc::new(consents),
        })
    }

    /// The engine behind the store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// What starts a write transaction: on SQLite `BEGIN IMMEDIATE`, which
    /// takes the write lock at once rather than at the first write.
    fn begin_statement(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }

    /// Starts a write transaction on a connection from the pool.
    async fn begin(&self) -> StoreResult<Transaction<'static, Any>> {
        Ok(self.pool.begin_with(self.begin_statement()).await?)
    }

    /// [`Store::append_audit`] on `conn`. When BEGIN fails nothing is
    /// written, and the events come back with the error.
    async fn append_audit_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        events: Vec<AuditEvent>,
        sign: &CheckpointSigner,
    ) -> Result<StoreResult<Vec<AuditRecord>>, (StoreError, Vec<AuditEvent>)> {
        match conn.begin_with(self.begin_statement()).await {
            Ok(tx) => Ok(self.append_audit_in(tx, events, sign).await),
            Err(error) => Err((error.into(), events)),
        }
    }

    /// [`Store::append_audit`] in the begun `tx`.
    async fn append_audit_in(
        &self,
        mut tx: Transaction<'_, Any>,
        events: Vec<AuditEvent>,
        sign: &CheckpointSigner,
    ) -> StoreResult<Vec<AuditRecord>> {
        let mut tenants: Vec<&str> = events.iter().map(|e| e.tenant.as_str()).collect();
        tenants.sort_unstable();
        tenants.dedup();
        // Sorted, so two replicas locking overlapping tenant sets cannot deadlock.
        for tenant in &tenants {
            self.lock(&mut tx, &format!("audit:{tenant}")).await?;
        }
        let mut heads: Vec<(String, Head)> = Vec::with_capacity(tenants.len());
        for tenant in tenants {
            let row = sqlx::query("SELECT seq, hash FROM audit_records WHERE tenant = $1 ORDER BY seq DESC LIMIT 1")
                .bind(tenant)
                .fetch_optional(&mut *tx)
                .await?;
            let head = match row {
                Some(r) => Head { seq: r.get(0), hash: hash32(r.get::<&[u8], _>(1))? },
                None => Head::EMPTY,
            };
            heads.push((tenant.to_owned(), head));
        }
        let mut records = Vec::with_capacity(events.len());
        for event in events {
            let event = without_nul(event);
            let position = heads.iter().position(|(t, _)| *t == event.tenant).ok_or_else(|| corrupt("tenant head"))?;
            records.push(chain::link(&mut heads[position].1, event));
        }
        for chunk in records.chunks(AUDIT_ROWS_PER_INSERT) {
            let rows: Vec<String> =
                (0..chunk.len()).map(|i| format!("({})", placeholders(self.backend, i * 13 + 1, 13))).collect();
            let sql = format!(
                "INSERT INTO audit_records (tenant, seq, ts, actor, subject, action, scope, purpose, outcome, reason, \
                 invocation, prev_hash, hash) VALUES {}",
                rows.join(", ")
            );
            let mut insert = sqlx::query(&sql);
            for record in chunk {
                let e = &record.event;
                insert = insert
                    .bind(&e.tenant)
                    .bind(record.seq)
                    .bind(e.ts_ms)
                    .bind(&e.actor)
                    .bind(&e.subject)
                    .bind(&e.action)
                    .bind(&e.scope)
                    .bind(&e.purpose)
                    .bind(e.outcome.as_str())
                    .bind(&e.reason)
                    .bind(&e.invocation)
                    .bind(&record.prev_hash[..])
                    .bind(&record.hash[..]);
            }
            insert.execute(&mut *tx).await?;
        }
        for (tenant, head) in &heads {
            let checkpoint = sign(tenant, *head);
            sqlx::query(
                "INSERT INTO audit_checkpoints (tenant, seq, hash, signed_at, key_id, signature) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&checkpoint.tenant)
            .bind(checkpoint.seq)
            .bind(&checkpoint.hash)
            .bind(checkpoint.signed_at_ms)
            .bind(&checkpoint.key_id)
            .bind(&checkpoint.signature)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(records)
    }

    /// Fails with not found unless `plugin` is installed in `tenant` (and
    /// `member`, if given, is a member), reading the rows that allow the
    /// write inside the transaction (share-locked on PostgreSQL), so an
    /// uninstall or removal that commits first is never undone.
    async fn require_installed_member(
        &self,
        tx: &mut Transaction<'static, Any>,
        tenant: &str,
        plugin: &str,
        member: Option<&str>,
    ) -> StoreResult<()> {
        let share = match self.backend {
            Backend::Sqlite => "",
            Backend::Postgres => " FOR SHARE",
        };
        let installed =
            sqlx::query(&format!("SELECT state FROM installations WHERE tenant = $1 AND plugin = $2{share}"))
                .bind(tenant)
                .bind(plugin)
                .fetch_optional(&mut **tx)
                .await?;
        if installed.is_none() {
            return Err(StoreError::NotFound(format!("plugin {plugin} is not installed")));
        }
        if let Some(member) = member {
            let found = sqlx::query(&format!("SELECT 1 FROM members WHERE tenant = $1 AND id = $2{share}"))
                .bind(tenant)
                .bind(member)
                .fetch_optional(&mut **tx)
                .await?;
            if found.is_none() {
                return Err(StoreError::NotFound(format!("no member {member}")));
            }
        }
        Ok(())
    }

    /// Serialises writers of `key` until the transaction ends (PostgreSQL;
    /// on SQLite `BEGIN IMMEDIATE` already serialises every writer).
    async fn lock(&self, tx: &mut Transaction<'_, Any>, key: &str) -> StoreResult<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))").bind(key).execute(&mut **tx).await?;
        }
        Ok(())
    }
}

fn installation_from_row(tenant: &str, r: &AnyRow) -> StoreResult<Installation> {
    let granted: Vec<Scope> = from_json(r.get::<&str, _>(2))?;
    let visible: Option<String> = r.get(3);
    Ok(Installation {
        tenant: tenant.to_owned(),
        plugin: r.get(0),
        version: r.get(1),
        granted: granted.into_iter().collect(),
        visible_to: visible.as_deref().map(from_json).transpose()?,
        state: match r.get::<&str, _>(4) {
            "enabled" => InstallationState::Enabled,
            "disabled" => InstallationState::Disabled,
            other => return Err(corrupt(format!("installation state {other:?}"))),
        },
    })
}

fn consent_from_row(r: &AnyRow, first: usize) -> StoreResult<(Scope, Consent)> {
    let scope: Scope = r.get::<&str, _>(first).parse().map_err(corrupt)?;
    let purpose = PurposeDigest::from_hex(r.get(first + 1)).ok_or_else(|| corrupt("purpose digest"))?;
    let consent = Consent {
        purpose,
        separate: r.get::<i64, _>(first + 2) != 0,
        granted_at_ms: r.get(first + 3),
        expires_at_ms: r.get(first + 4),
        withdrawn_at_ms: r.get(first + 5),
    };
    Ok((scope, consent))
}

const RELEASE_COLUMNS: &str = "manifest, digest, publisher, publisher_tenant, signed_by, size_bytes, published_at";

fn release_from_row(r: &AnyRow) -> StoreResult<PluginRelease> {
    Ok(PluginRelease {
        manifest: from_json(r.get::<&str, _>(0))?,
        digest: r.get(1),
        publisher: Publisher { member: r.get(2), tenant: r.get(3) },
        signed_by: r.get(4),
        size_bytes: u64::try_from(r.get::<i64, _>(5)).map_err(corrupt)?,
        published_at_ms: r.get(6),
    })
}

const AUDIT_COLUMNS: &str =
    "seq, ts, actor, subject, action, scope, purpose, outcome, reason, invocation, prev_hash, hash";

fn audit_from_row(tenant: &str, r: &AnyRow) -> StoreResult<AuditRecord> {
    let outcome: &str = r.get(7);
    Ok(AuditRecord {
        seq: r.get(0),
        event: AuditEvent {
            tenant: tenant.to_owned(),
            ts_ms: r.get(1),
            actor: r.get(2),
            subject: r.get(3),
            action: r.get(4),
            scope: r.get(5),
            purpose: r.get(6),
            outcome: Outcome::parse(outcome).ok_or_else(|| corrupt(format!("outcome {outcome:?}")))?,
            reason: r.get(8),
            invocation: r.get(9),
        },
        prev_hash: hash32(r.get::<&[u8], _>(10))?,
        hash: hash32(r.get::<&[u8], _>(11))?,
    })
}

#[async_trait]
impl Store for SqlStore {
    async fn upsert_tenant(&self, id: &str, name: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name",
        )
        .bind(id)
        .bind(name)
        .bind(crate::now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn tenant(&self, id: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT name FROM tenants WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn upsert_member(&self, tenant: &str, id: &str, profile: &MemberProfile) -> StoreResult<()> {
        let _changing = self.changing(tenant);
        sqlx::query(
            "INSERT INTO members (tenant, id, profile, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant, id) DO UPDATE SET profile = excluded.profile",
        )
        .bind(tenant)
        .bind(id)
        .bind(json(profile)?)
        .bind(crate::now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn update_member(&self, tenant: &str, id: &str, profile: &MemberProfile) -> StoreResult<()> {
        let _changing = self.changing(tenant);
        let done = sqlx::query("UPDATE members SET profile = $1 WHERE tenant = $2 AND id = $3")
            .bind(json(profile)?)
            .bind(tenant)
            .bind(id)
            .execute(&self.pool)
            .await?;
        if count(&done) == 0 {
            return Err(StoreError::NotFound(format!("no member {id}")));
        }
        Ok(())
    }

    async fn insert_member(&self, tenant: &str, id: &str, profile: &MemberProfile) -> StoreResult<()> {
        let _changing = self.changing(tenant);
        let done = sqlx::query(
            "INSERT INTO members (tenant, id, profile, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant, id) DO NOTHING",
        )
        .bind(tenant)
        .bind(id)
        .bind(json(profile)?)
        .bind(crate::now_ms())
        .execute(&self.pool)
        .await?;
        if count(&done) == 0 {
            return Err(StoreError::Conflict(format!("member {id} already exists")));
        }
        Ok(())
    }

    async fn member(&self, tenant: &str, id: &str) -> StoreResult<Option<MemberProfile>> {
        let row = sqlx::query("SELECT profile FROM members WHERE tenant = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| from_json(r.get::<&str, _>(0))).transpose()
    }

    async fn members(&self, tenant: &str) -> StoreResult<Vec<(String, MemberProfile)>> {
        let rows = sqlx::query("SELECT id, profile FROM members WHERE tenant = $1 ORDER BY id")
            .bind(tenant)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.get(0), from_json(r.get::<&str, _>(1))?))).collect()
    }

    async fn delete_member(&self, tenant: &str, id: &str) -> StoreResult<Option<Deleted>> {
        let _changing = self.changing(tenant);
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM members WHERE tenant = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if count(&done) == 0 {
            return Ok(None);
        }
        let consents = sqlx::query("DELETE FROM consents WHERE tenant = $1 AND member = $2")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let storage = sqlx::query("DELETE FROM plugin_kv WHERE tenant = $1 AND person = $2")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(Deleted { consents: count(&consents), storage_entries: count(&storage) }))
    }

    async fn put_plugin_version(&self, version: &PluginVersion) -> StoreResult<()> {
        let release = &version.release;
        let manifest = &release.manifest;
        let mut tx = self.begin().await?;
        self.lock(&mut tx, &format!("plugin:{}", manifest.id)).await?;
        let owner = sqlx::query("SELECT publisher, publisher_tenant FROM plugin_versions WHERE plugin = $1 LIMIT 1")
            .bind(&manifest.id)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = owner {
            let owner = Publisher { member: row.get(0), tenant: row.get(1) };
            if owner != release.publisher {
                return Err(StoreError::Conflict(format!(
                    "plugin id {} belongs to another developer; choose another id",
                    manifest.id
                )));
            }
        }
        let existing = sqlx::query("SELECT digest, manifest FROM plugin_versions WHERE plugin = $1 AND version = $2")
            .bind(&manifest.id)
            .bind(manifest.version.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        match existing {
            Some(row) if row.get::<&str, _>(0) == release.digest => {
                // The service names the differences; this catches a publish
                // of another manifest that raced it.
                let stored: crate::manifest::Manifest = serde_json::from_str(row.get::<&str, _>(1)).map_err(corrupt)?;
                if &stored != manifest {
                    return Err(StoreError::Conflict(format!(
                        "{} is already published with this component and another manifest; publish a new version",
                        manifest.reference()
                    )));
                }
                return Ok(());
            }
            Some(_) => {
                return Err(StoreError::Conflict(format!(
                    "{} is already published with other content; publish a new version",
                    manifest.reference()
                )));
            }
            None => {}
        }
        sqlx::query(
            "INSERT INTO plugin_versions (plugin, version, manifest, digest, component, publisher, published_at, \
             publisher_tenant, signed_by, size_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&manifest.id)
        .bind(manifest.version.to_string())
        .bind(json(manifest)?)
        .bind(&release.digest)
        .bind(&version.component)
        .bind(&release.publisher.member)
        .bind(release.published_at_ms)
        .bind(&release.publisher.tenant)
        .bind(&release.signed_by)
        .bind(i64::try_from(version.component.len()).map_err(corrupt)?)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn plugin_version(&self, plugin: &str, version: &str) -> StoreResult<Option<PluginVersion>> {
        let row = sqlx::query(&format!(
            "SELECT {RELEASE_COLUMNS}, component FROM plugin_versions WHERE plugin = $1 AND version = $2"
        ))
        .bind(plugin)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok(PluginVersion { release: release_from_row(&r)?, component: r.get(7) })).transpose()
    }

    async fn plugin_releases(&self, plugin: Option<&str>) -> StoreResult<Vec<PluginRelease>> {
        let rows = sqlx::query(&format!(
            "SELECT {RELEASE_COLUMNS} FROM plugin_versions WHERE ($1 IS NULL OR plugin = $1) \
             ORDER BY plugin, published_at, version"
        ))
        .bind(plugin)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(release_from_row).collect()
    }

    async fn put_installation(&self, installation: &Installation) -> StoreResult<()> {
        let _changing = self.changing(&installation.tenant);
        let visible = installation.visible_to.as_ref().map(json).transpose()?;
        sqlx::query(
            "INSERT INTO installations (tenant, plugin, version, granted, visible_to, state, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (tenant, plugin) DO UPDATE SET version = excluded.version, granted = excluded.granted, \
             visible_to = excluded.visible_to, updated_at = excluded.updated_at",
        )
        .bind(&installation.tenant)
        .bind(&installation.plugin)
        .bind(&installation.version)
        .bind(scopes_json(installation.granted)?)
        .bind(visible)
        .bind(installation.state.as_str())
        .bind(crate::now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn set_installation_state(&self, tenant: &str, plugin: &str, state: InstallationState) -> StoreResult<bool> {
        let _changing = self.changing(tenant);
        let done =
            sqlx::query("UPDATE installations SET state = $1, updated_at = $2 WHERE tenant = $3 AND plugin = $4")
                .bind(state.as_str())
                .bind(crate::now_ms())
                .bind(tenant)
                .bind(plugin)
                .execute(&self.pool)
                .await?;
        Ok(count(&done) > 0)
    }

    async fn installation(&self, tenant: &str, plugin: &str) -> StoreResult<Option<Installation>> {
        let row = sqlx::query(
            "SELECT plugin, version, granted, visible_to, state FROM installations WHERE tenant = $1 AND plugin = $2",
        )
        .bind(tenant)
        .bind(plugin)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| installation_from_row(tenant, &r)).transpose()
    }

    async fn installations(&self, tenant: &str) -> StoreResult<Vec<Installation>> {
        let rows = sqlx::query(
            "SELECT plugin, version, granted, visible_to, state FROM installations WHERE tenant = $1 ORDER BY plugin",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| installation_from_row(tenant, r)).collect()
    }

    async fn delete_installation(&self, tenant: &str, plugin: &str) -> StoreResult<Option<Deleted>> {
        let _changing = self.changing(tenant);
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM installations WHERE tenant = $1 AND plugin = $2")
            .bind(tenant)
            .bind(plugin)
            .execute(&mut *tx)
            .await?;
        if count(&done) == 0 {
            return Ok(None);
        }
        let consents = sqlx::query("DELETE FROM consents WHERE tenant = $1 AND plugin = $2")
            .bind(tenant)
            .bind(plugin)
            .execute(&mut *tx)
            .await?;
        let storage = sqlx::query("DELETE FROM plugin_kv WHERE tenant = $1 AND plugin = $2")
            .bind(tenant)
            .bind(plugin)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(Deleted { consents: count(&consents), storage_entries: count(&storage) }))
    }

    async fn put_consents(
        &self,
        tenant: &str,
        member: &str,
        plugin: &str,
        consents: &[(Scope, Consent)],
    ) -> StoreResult<()> {
        let _changing = self.changing(tenant);
        let mut tx = self.begin().await?;
        self.require_installed_member(&mut tx, tenant, plugin, Some(member)).await?;
        for (scope, consent) in consents {
            sqlx::query(
                "INSERT INTO consents (tenant, member, plugin, scope, purpose, separate, granted_at, expires_at, withdrawn_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (tenant, member, plugin, scope) DO UPDATE SET \
                 purpose = excluded.purpose, separate = excluded.separate, granted_at = excluded.granted_at, \
                 expires_at = excluded.expires_at, withdrawn_at = excluded.withdrawn_at",
            )
            .bind(tenant)
            .bind(member)
            .bind(plugin)
            .bind(scope.as_str())
            .bind(consent.purpose.to_hex())
            .bind(i64::from(consent.separate))
            .bind(consent.granted_at_ms)
            .bind(consent.expires_at_ms)
            .bind(consent.withdrawn_at_ms)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn withdraw_consents(
        &self,
        tenant: &str,
        member: &str,
        plugin: &str,
        scopes: Option<&[Scope]>,
        now_ms: i64,
    ) -> StoreResult<()> {
        let _changing = self.changing(tenant);
        let mut tx = self.begin().await?;
        // The same lock storage writes to this bucket take.
        self.lock(&mut tx, &format!("kv:{tenant}/{plugin}/{member}")).await?;
        let update = "UPDATE consents SET withdrawn_at = $1 \
                      WHERE tenant = $2 AND member = $3 AND plugin = $4 AND withdrawn_at IS NULL";
        match scopes {
            None => {
                sqlx::query(update).bind(now_ms).bind(tenant).bind(member).bind(plugin).execute(&mut *tx).await?;
            }
            Some(scopes) => {
                for scope in scopes {
                    sqlx::query(&format!("{update} AND scope = $5"))
                        .bind(now_ms)
                        .bind(tenant)
                        .bind(member)
                        .bind(plugin)
                        .bind(scope.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        sqlx::query("DELETE FROM plugin_kv WHERE tenant = $1 AND plugin = $2 AND person = $3")
            .bind(tenant)
            .bind(plugin)
            .bind(member)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn consents(&self, tenant: &str, member: &str, plugin: &str) -> StoreResult<ConsentSet> {
        let rows = sqlx::query(
            "SELECT scope, purpose, separate, granted_at, expires_at, withdrawn_at FROM consents \
             WHERE tenant = $1 AND member = $2 AND plugin = $3",
        )
        .bind(tenant)
        .bind(member)
        .bind(plugin)
        .fetch_all(&self.pool)
        .await?;
        let mut set = ConsentSet::default();
        for row in &rows {
            let (scope, consent) = consent_from_row(row, 0)?;
            set.set(scope, consent);
        }
        Ok(set)
    }

    async fn invocation_context(&self, tenant: &str, member: &str, plugin: &str) -> StoreResult<InvocationContext> {
        let generation = self.generation(tenant).await?;
        let key = ContextCache::key(tenant, member, plugin);
        if let Some(context) = self.contexts.get(&key, generation) {
            return Ok(context);
        }
        let context = self.read_invocation_context(tenant, member, plugin).await?;
        self.contexts.put(key, generation, context.clone());
        Ok(context)
    }

    async fn member_consents(&self, tenant: &str, member: &str) -> StoreResult<Vec<ConsentRow>> {
        let rows = sqlx::query(
            "SELECT plugin, scope, purpose, separate, granted_at, expires_at, withdrawn_at FROM consents \
             WHERE tenant = $1 AND member = $2 ORDER BY plugin, scope",
        )
        .bind(tenant)
        .bind(member)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let (scope, consent) = consent_from_row(r, 1)?;
                Ok(ConsentRow { plugin: r.get(0), scope, consent })
            })
            .collect()
    }

    async fn retention(&self, tenant: &str) -> StoreResult<Retention> {
        let row = sqlx::query("SELECT retention FROM tenant_settings WHERE tenant = $1")
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await?;
        row.map_or(Ok(Retention::default()), |r| from_json(r.get::<&str, _>(0)))
    }

    async fn put_retention(&self, tenant: &str, retention: &Retention) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO tenant_settings (tenant, retention, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant) DO UPDATE SET retention = excluded.retention, updated_at = excluded.updated_at",
        )
        .bind(tenant)
        .bind(json(retention)?)
        .bind(crate::now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn kv_person_entries(&self, tenant: &str, person: &str) -> StoreResult<Vec<KvEntry>> {
        let rows = sqlx::query(
            "SELECT plugin, key, value, updated_at FROM plugin_kv WHERE tenant = $1 AND person = $2 ORDER BY plugin, key",
        )
        .bind(tenant)
        .bind(person)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| KvEntry { plugin: r.get(0), key: r.get(1), value: r.get(2), updated_at_ms: r.get(3) })
            .collect())
    }

    async fn kv_get(&self, bucket: KvBucket<'_>, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let row =
            sqlx::query("SELECT value FROM plugin_kv WHERE tenant = $1 AND plugin = $2 AND person = $3 AND key = $4")
                .bind(bucket.tenant)
                .bind(bucket.plugin)
                .bind(person_key(&bucket))
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn kv_set(
        &self,
        bucket: KvBucket<'_>,
        key: &str,
        value: &[u8],
        quota_bytes: u64,
        now_ms: i64,
    ) -> StoreResult<Result<(), QuotaExceeded>> {
        let mut tx = self.begin().await?;
        self.lock(&mut tx, &format!("kv:{}/{}/{}", bucket.tenant, bucket.plugin, person_key(&bucket))).await?;
        // An uninstall or a member's removal that commits while a call runs
        // must not be undone by the call's later writes.
        self.require_installed_member(&mut tx, bucket.tenant, bucket.plugin, bucket.person).await?;
        let used: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(octet_length(key) + octet_length(value)), 0) AS BIGINT) FROM plugin_kv \
             WHERE tenant = $1 AND plugin = $2 AND person = $3 AND key <> $4",
        )
        .bind(bucket.tenant)
        .bind(bucket.plugin)
        .bind(person_key(&bucket))
        .bind(key)
        .fetch_one(&mut *tx)
        .await?;
        let used = u64::try_from(used).map_err(corrupt)?;
        if used + (key.len() + value.len()) as u64 > quota_bytes {
            return Ok(Err(QuotaExceeded { limit_bytes: quota_bytes, used_bytes: used }));
        }
        sqlx::query(
            "INSERT INTO plugin_kv (tenant, plugin, person, key, value, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (tenant, plugin, person, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(bucket.tenant)
        .bind(bucket.plugin)
        .bind(person_key(&bucket))
        .bind(key)
        .bind(value)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(Ok(()))
    }

    async fn kv_delete(&self, bucket: KvBucket<'_>, key: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM plugin_kv WHERE tenant = $1 AND plugin = $2 AND person = $3 AND key = $4")
            .bind(bucket.tenant)
            .bind(bucket.plugin)
            .bind(person_key(&bucket))
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(count(&done) > 0)
    }

    async fn kv_list(&self, bucket: KvBucket<'_>, prefix: &str, limit: u32) -> StoreResult<Vec<String>> {
        // Range scan on the primary key: [prefix, prefix + U+10FFFF) covers
        // every key with the prefix (keys compare bytewise on both engines).
        let upper = format!("{prefix}\u{10FFFF}");
        let rows = sqlx::query(
            "SELECT key FROM plugin_kv WHERE tenant = $1 AND plugin = $2 AND person = $3 AND key >= $4 AND key < $5 \
             ORDER BY key LIMIT $6",
        )
        .bind(bucket.tenant)
        .bind(bucket.plugin)
        .bind(person_key(&bucket))
        .bind(prefix)
        .bind(upper)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.get(0)).filter(|k: &String| k.starts_with(prefix)).collect())
    }

    async fn append_audit(&self, events: Vec<AuditEvent>, sign: &CheckpointSigner) -> StoreResult<Vec<AuditRecord>> {
        // The audit writer appends one batch after another. Through the pool
        // each batch would pay a health ping before it starts and another
        // after it ends (round trips on PostgreSQL), so the connection is
        // kept between batches, out of the pool. A kept connection the server
        // has closed (a restart) fails at BEGIN, before anything is written:
        // the batch then starts again on a new one. After a failed batch the
        // connection is dropped.
        let mut kept = self.audit_connection.lock().await;
        let (mut conn, reused) = match kept.take() {
            Some(conn) => (conn, true),
            None => (self.pool.acquire().await?.detach(), false),
        };
        let written = match self.append_audit_on(&mut conn, events, sign).await {
            Ok(written) => written,
            Err((error, events)) if reused => {
                tracing::info!(%error, "the kept audit connection failed at BEGIN; taking another");
                conn = self.pool.acquire().await?.detach();
                self.append_audit_on(&mut conn, events, sign).await.unwrap_or_else(|(error, _)| Err(error))
            }
            Err((error, _)) => Err(error),
        };
        if written.is_ok() {
            *kept = Some(conn);
        }
        written
    }

    async fn audit_tenants(&self) -> StoreResult<Vec<String>> {
        let rows =
            sqlx::query("SELECT tenant FROM audit_records UNION SELECT tenant FROM audit_checkpoints ORDER BY 1")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    async fn audit_records(&self, tenant: &str, after: i64, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        self.audit_query(tenant, &AuditFilter::default(), after, limit).await
    }

    async fn audit_query(
        &self,
        tenant: &str,
        filter: &AuditFilter,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<AuditRecord>> {
        // Only the filters that are set become conditions: a fixed
        // `($n IS NULL OR col = $n)` form hides from the planner which index
        // applies, and a subject's few records in a large tenant would be
        // found by walking every record of the tenant.
        enum Param<'a> {
            Text(&'a str),
            Int(i64),
        }
        let plugin_actor = filter.plugin.as_ref().map(|p| format!("plugin:{p}@"));
        let mut sql = format!("SELECT {AUDIT_COLUMNS} FROM audit_records WHERE tenant = $1 AND seq > $2");
        let mut params: Vec<Param<'_>> = Vec::new();
        // `condition` ends where its one parameter goes.
        let mut and = |condition: &str, param| {
            params.push(param);
            sql.push_str(&format!(" AND {condition} ${}", params.len() + 2));
        };
        if let Some(subject) = &filter.subject {
            and("subject =", Param::Text(subject));
        }
        if let Some(actor) = &filter.actor {
            and("actor =", Param::Text(actor));
        }
        if let Some(prefix) = &plugin_actor {
            and(&format!("substr(actor, 1, {}) =", prefix.chars().count()), Param::Text(prefix));
        }
        if let Some(action) = &filter.action {
            and("action =", Param::Text(action));
        }
        if let Some(outcome) = filter.outcome {
            and("outcome =", Param::Text(outcome.as_str()));
        }
        if let Some(from) = filter.from_ms {
            and("ts >=", Param::Int(from));
        }
        if let Some(to) = filter.to_ms {
            and("ts <", Param::Int(to));
        }
        if filter.with_scope {
            sql.push_str(" AND scope IS NOT NULL");
        }
        sql.push_str(&format!(" ORDER BY seq LIMIT ${}", params.len() + 3));
        let mut query = sqlx::query(&sql).bind(tenant).bind(after);
        for param in params {
            query = match param {
                Param::Text(text) => query.bind(text),
                Param::Int(n) => query.bind(n),
            };
        }
        let rows = query.bind(i64::from(limit)).fetch_all(&self.pool).await?;
        rows.iter().map(|r| audit_from_row(tenant, r)).collect()
    }

    async fn audit_checkpoints(&self, tenant: &str) -> StoreResult<Vec<Checkpoint>> {
        let rows = sqlx::query(
            "SELECT seq, hash, signed_at, key_id, signature FROM audit_checkpoints WHERE tenant = $1 ORDER BY seq",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Checkpoint {
                tenant: tenant.to_owned(),
                seq: r.get(0),
                hash: r.get(1),
                signed_at_ms: r.get(2),
                key_id: r.get(3),
                signature: r.get(4),
            })
            .collect())
    }
}
