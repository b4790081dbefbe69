//! The one store implementation, on SQLite or PostgreSQL through sqlx's
//! `Any` driver. Every statement is written once, with `$n` placeholders
//! that both engines accept, so the two backends cannot drift apart. What
//! differs is isolated in [`Backend`] and here: how a write transaction starts,
//! how concurrent writers of one audit chain or storage bucket are
//! serialised, and the migrations. Each aggregate's statements are in its
//! own file beside this one.
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

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyPool, ConnectOptions, Executor, Transaction};

use super::contexts::ContextCache;
use super::dialect::Backend;
use super::generations::GenerationReader;
use super::{ChangeRecord, StoreError, StoreResult};
use crate::model::audit::AuditRecord;
use crate::model::installation::Deleted;

/// The store: a connection pool and the backend behind it.
#[derive(Debug, Clone)]
pub struct SqlStore {
    pub(super) pool: AnyPool,
    pub(super) backend: Backend,
    pub(super) contexts: Arc<ContextCache>,
    /// PostgreSQL: reads the tenants' generations (see [`GenerationReader`]).
    pub(super) generations: Option<GenerationReader>,
    /// The connection audit batches are written on, kept between batches
    /// (see `append_audit`).
    pub(super) audit_connection: Arc<tokio::sync::Mutex<Option<sqlx::AnyConnection>>>,
}

/// Ends a change to a tenant's directory, installations or consents: counts
/// it when dropped, which is when the changing method returns or its future
/// is dropped (see [`ContextCache`]). On SQLite that count is the tenant's
/// generation; PostgreSQL's triggers bump the generation in the transaction,
/// and the count tells this process's running calls at once.
pub(super) struct Changing<'a> {
    store: &'a SqlStore,
    tenant: &'a str,
}

impl Drop for Changing<'_> {
    fn drop(&mut self) {
        self.store.contexts.changed(self.tenant);
    }
}

/// What a write needs that is gone (see [`SqlStore::missing_installation_or_member`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Missing {
    /// The plugin is no longer installed.
    Installation,
    /// The person is no longer a member.
    Member,
}

pub(super) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

pub(super) fn json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(corrupt)
}

pub(super) fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(corrupt)
}

pub(super) fn count(done: &sqlx::any::AnyQueryResult) -> u64 {
    done.rows_affected()
}

impl SqlStore {
    /// Opens (creating if needed) the SQLite file at `path` and migrates it.
    pub async fn open_sqlite(path: &Path) -> StoreResult<Self> {
        let url = SqliteConnectOptions::new().filename(path).create_if_missing(true).to_url_lossy();
        Self::connect(url.as_str()).await
    }

    /// Connects to `sqlite:…` or `postgres://…` and migrates the database.
    /// PostgreSQL speaks TLS when the URL asks for it (`sslmode=require`,
    /// `verify-ca` or `verify-full`, with `sslrootcert=CA.pem` for a CA of
    /// one's own; or `PGSSLMODE`); a URL without it connects without TLS.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let explicit;
        let asks = url.contains("sslmode=") || url.contains("ssl-mode=") || std::env::var_os("PGSSLMODE").is_some();
        let url = if backend == Backend::Postgres && !asks {
            explicit = format!("{url}{}sslmode=disable", if url.contains('?') { '&' } else { '?' });
            explicit.as_str()
        } else {
            url
        };
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
    pub(super) fn changing<'a>(&'a self, tenant: &'a str) -> Changing<'a> {
        Changing { store: self, tenant }
    }

    /// The tenant's generation (see [`ContextCache`]).
    pub(super) async fn generation(&self, tenant: &str) -> StoreResult<u64> {
        match &self.generations {
            None => Ok(self.contexts.changes(tenant)),
            Some(reader) => {
                let generation = reader.read(tenant).await?;
                self.contexts.observed(tenant, generation);
                Ok(generation)
            }
        }
    }

    /// The engine behind the store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// What starts a write transaction: on SQLite `BEGIN IMMEDIATE`, which
    /// takes the write lock at once rather than at the first write.
    pub(super) fn begin_statement(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        }
    }

    /// Starts a write transaction on a connection from the pool.
    pub(super) async fn begin(&self) -> StoreResult<Transaction<'static, Any>> {
        Ok(self.pool.begin_with(self.begin_statement()).await?)
    }

    /// Fails with not found unless `plugin` is installed in `tenant` (and
    /// `member`, if given, is a member); see [`SqlStore::missing_installation_or_member`].
    pub(super) async fn require_installed_member(
        &self,
        tx: &mut Transaction<'_, Any>,
        tenant: &str,
        plugin: &str,
        member: Option<&str>,
    ) -> StoreResult<()> {
        match self.missing_installation_or_member(tx, tenant, plugin, member).await? {
            None => Ok(()),
            Some(Missing::Installation) => Err(StoreError::NotFound(format!("plugin {plugin} is not installed"))),
            Some(Missing::Member) => Err(StoreError::NotFound(format!("no member {}", member.unwrap_or_default()))),
        }
    }

    /// Which of `plugin`'s installation in `tenant` and `member` (if given)
    /// is gone, reading the rows that allow a write inside its transaction
    /// (share-locked on PostgreSQL), so an uninstall or removal that
    /// commits first is never undone.
    pub(super) async fn missing_installation_or_member(
        &self,
        tx: &mut Transaction<'_, Any>,
        tenant: &str,
        plugin: &str,
        member: Option<&str>,
    ) -> StoreResult<Option<Missing>> {
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
            return Ok(Some(Missing::Installation));
        }
        if let Some(member) = member {
            let found = sqlx::query(&format!("SELECT 1 FROM members WHERE tenant = $1 AND id = $2{share}"))
                .bind(tenant)
                .bind(member)
                .fetch_optional(&mut **tx)
                .await?;
            if found.is_none() {
                return Ok(Some(Missing::Member));
            }
        }
        Ok(None)
    }

    /// Serialises writers of `key` until the transaction ends (PostgreSQL;
    /// on SQLite `BEGIN IMMEDIATE` already serialises every writer).
    pub(super) async fn lock(&self, tx: &mut Transaction<'_, Any>, key: &str) -> StoreResult<()> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))").bind(key).execute(&mut **tx).await?;
        }
        Ok(())
    }
}

/// What goes with a member's removal or an uninstall, in one transaction:
/// the row itself, and every consent and storage entry of that member (or
/// of that plugin) in the tenant.
#[derive(Debug, Clone, Copy)]
pub(super) enum Cascade {
    /// A member: `members`, then their consents and their person buckets.
    Member,
    /// An installation: `installations`, then every consent to the plugin
    /// and all its storage.
    Installation,
}

impl SqlStore {
    /// Deletes `id` of `tenant` with what goes with it; `None` when there is
    /// no such row (and nothing is deleted).
    pub(super) async fn delete_cascading(
        &self,
        tenant: &str,
        id: &str,
        cascade: Cascade,
        mut record: ChangeRecord<'_>,
    ) -> StoreResult<Option<(Deleted, AuditRecord)>> {
        // The row's table and key column, then the consents' and storage's column naming it.
        let (table, key, consents_by, storage_by) = match cascade {
            Cascade::Member => ("members", "id", "member", "person"),
            Cascade::Installation => ("installations", "plugin", "plugin", "plugin"),
        };
        let _changing = self.changing(tenant);
        let mut tx = self.begin_recorded(&record).await?;
        let done = sqlx::query(&format!("DELETE FROM {table} WHERE tenant = $1 AND {key} = $2"))
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if count(&done) == 0 {
            return Ok(None);
        }
        let consents = sqlx::query(&format!("DELETE FROM consents WHERE tenant = $1 AND {consents_by} = $2"))
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let storage = sqlx::query(&format!("DELETE FROM plugin_kv WHERE tenant = $1 AND {storage_by} = $2"))
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if let Cascade::Member = cascade {
            // The member's receipts are theirs: they go with them.
            sqlx::query("DELETE FROM consent_receipts WHERE tenant = $1 AND member = $2")
                .bind(tenant)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        // Their inbox (a member), or what the plugin sent (an installation).
        sqlx::query(&format!("DELETE FROM notifications WHERE tenant = $1 AND {consents_by} = $2"))
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        // Events about the member and their deliveries, or the plugin's deliveries.
        let (deliveries, events) = match cascade {
            Cascade::Member => (
                "DELETE FROM deliveries WHERE tenant = $1 AND event_id IN \
                 (SELECT id FROM events WHERE tenant = $1 AND subject = $2 AND kind <> 'member.left')",
                Some("DELETE FROM events WHERE tenant = $1 AND subject = $2 AND kind <> 'member.left'"),
            ),
            Cascade::Installation => ("DELETE FROM deliveries WHERE tenant = $1 AND plugin = $2", None),
        };
        sqlx::query(deliveries).bind(tenant).bind(id).execute(&mut *tx).await?;
        if let Some(events) = events {
            sqlx::query(events).bind(tenant).bind(id).execute(&mut *tx).await?;
        }
        let deleted = Deleted { consents: count(&consents), storage_entries: count(&storage) };
        let reason = record.event.reason.take().unwrap_or_default();
        record.event.reason = Some(format!("{reason}: {}", deleted.describe()));
        Ok(Some((deleted, self.commit_recorded(tx, record).await?)))
    }
}
