//! The embedded backend: SQLite in WAL mode with `synchronous=FULL`, so a
//! committed audit batch survives a crash or power loss.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, SqlitePool};

use super::{
    CheckpointSigner, Installation, InstallationState, KvBucket, MemberProfile, PluginVersion, QuotaExceeded, Store,
    StoreError, StoreResult,
};
use crate::audit::chain::{self, Checkpoint, Head};
use crate::audit::{AuditEvent, AuditRecord, Outcome};
use crate::gate::{Consent, ConsentSet, PurposeDigest};
use crate::scope::{Scope, ScopeSet};

/// SQLite binds at most 32 766 parameters; an audit row takes 13.
const AUDIT_ROWS_PER_INSERT: usize = 2_000;

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
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

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and migrates it.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        Self::connect(options).await
    }

    /// Opens a database from an `sqlite:` URL (e.g. `sqlite::memory:`).
    pub async fn open_url(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        Self::connect(options).await
    }

    async fn connect(options: SqliteConnectOptions) -> StoreResult<Self> {
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }
}

fn person_key<'a>(bucket: &KvBucket<'a>) -> &'a str {
    bucket.person.unwrap_or("")
}

#[async_trait]
impl Store for SqliteStore {
    async fn upsert_tenant(&self, id: &str, name: &str) -> StoreResult<()> {
        sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name")
            .bind(id)
            .bind(name)
            .bind(crate::now_ms())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn upsert_member(&self, tenant: &str, id: &str, profile: &MemberProfile) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO members (tenant, id, profile, created_at) VALUES (?, ?, ?, ?) \
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

    async fn member(&self, tenant: &str, id: &str) -> StoreResult<Option<MemberProfile>> {
        let row = sqlx::query("SELECT profile FROM members WHERE tenant = ? AND id = ?")
            .bind(tenant)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| from_json(r.get::<&str, _>(0))).transpose()
    }

    async fn put_plugin_version(&self, version: &PluginVersion) -> StoreResult<()> {
        let manifest = &version.manifest;
        let existing = sqlx::query("SELECT digest FROM plugin_versions WHERE plugin = ? AND version = ?")
            .bind(&manifest.id)
            .bind(manifest.version.to_string())
            .fetch_optional(&self.pool)
            .await?;
        match existing {
            Some(row) if row.get::<&str, _>(0) == version.digest => Ok(()),
            Some(_) => {
                Err(StoreError::Conflict(format!("{} is already published with other content", manifest.reference())))
            }
            None => {
                sqlx::query(
                    "INSERT INTO plugin_versions (plugin, version, manifest, digest, component, publisher, published_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?)",
                )
                .bind(&manifest.id)
                .bind(manifest.version.to_string())
                .bind(json(manifest)?)
                .bind(&version.digest)
                .bind(&version.component)
                .bind(&version.publisher)
                .bind(crate::now_ms())
                .execute(&self.pool)
                .await?;
                Ok(())
            }
        }
    }

    async fn plugin_version(&self, plugin: &str, version: &str) -> StoreResult<Option<PluginVersion>> {
        let row = sqlx::query(
            "SELECT manifest, digest, component, publisher FROM plugin_versions WHERE plugin = ? AND version = ?",
        )
        .bind(plugin)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(PluginVersion {
                manifest: from_json(r.get::<&str, _>(0))?,
                digest: r.get(1),
                component: r.get(2),
                publisher: r.get(3),
            })
        })
        .transpose()
    }

    async fn put_installation(&self, installation: &Installation) -> StoreResult<()> {
        let visible = installation.visible_to.as_ref().map(json).transpose()?;
        sqlx::query(
            "INSERT INTO installations (tenant, plugin, version, granted, visible_to, state, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) \
             ON CONFLICT (tenant, plugin) DO UPDATE SET version = excluded.version, granted = excluded.granted, \
             visible_to = excluded.visible_to, state = excluded.state, updated_at = excluded.updated_at",
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

    async fn installation(&self, tenant: &str, plugin: &str) -> StoreResult<Option<Installation>> {
        let row = sqlx::query(
            "SELECT version, granted, visible_to, state FROM installations WHERE tenant = ? AND plugin = ?",
        )
        .bind(tenant)
        .bind(plugin)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let granted: Vec<Scope> = from_json(r.get::<&str, _>(1))?;
            let visible: Option<String> = r.get(2);
            Ok(Installation {
                tenant: tenant.to_owned(),
                plugin: plugin.to_owned(),
                version: r.get(0),
                granted: granted.into_iter().collect(),
                visible_to: visible.as_deref().map(from_json).transpose()?,
                state: match r.get::<&str, _>(3) {
                    "enabled" => InstallationState::Enabled,
                    "disabled" => InstallationState::Disabled,
                    other => return Err(corrupt(format!("installation state {other:?}"))),
                },
            })
        })
        .transpose()
    }

    async fn put_consents(
        &self,
        tenant: &str,
        member: &str,
        plugin: &str,
        consents: &[(Scope, Consent)],
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for (scope, consent) in consents {
            sqlx::query(
                "INSERT INTO consents (tenant, member, plugin, scope, purpose, separate, granted_at, expires_at, withdrawn_at) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (tenant, member, plugin, scope) DO UPDATE SET \
                 purpose = excluded.purpose, separate = excluded.separate, granted_at = excluded.granted_at, \
                 expires_at = excluded.expires_at, withdrawn_at = excluded.withdrawn_at",
            )
            .bind(tenant)
            .bind(member)
            .bind(plugin)
            .bind(scope.as_str())
            .bind(consent.purpose.to_hex())
            .bind(consent.separate)
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
        scopes: &[Scope],
        now_ms: i64,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for scope in scopes {
            sqlx::query(
                "UPDATE consents SET withdrawn_at = ? WHERE tenant = ? AND member = ? AND plugin = ? AND scope = ? AND withdrawn_at IS NULL",
            )
            .bind(now_ms)
            .bind(tenant)
            .bind(member)
            .bind(plugin)
            .bind(scope.as_str())
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM plugin_kv WHERE tenant = ? AND plugin = ? AND person = ?")
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
             WHERE tenant = ? AND member = ? AND plugin = ?",
        )
        .bind(tenant)
        .bind(member)
        .bind(plugin)
        .fetch_all(&self.pool)
        .await?;
        let mut set = ConsentSet::default();
        for row in rows {
            let scope: Scope = row.get::<&str, _>(0).parse().map_err(corrupt)?;
            let purpose = PurposeDigest::from_hex(row.get(1)).ok_or_else(|| corrupt("purpose digest"))?;
            set.set(
                scope,
                Consent {
                    purpose,
                    separate: row.get(2),
                    granted_at_ms: row.get(3),
                    expires_at_ms: row.get(4),
                    withdrawn_at_ms: row.get(5),
                },
            );
        }
        Ok(set)
    }

    async fn kv_get(&self, bucket: KvBucket<'_>, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let row = sqlx::query("SELECT value FROM plugin_kv WHERE tenant = ? AND plugin = ? AND person = ? AND key = ?")
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
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let used: i64 = sqlx::query_scalar(
            "SELECT COALESCE(SUM(length(CAST(key AS BLOB)) + length(value)), 0) FROM plugin_kv \
             WHERE tenant = ? AND plugin = ? AND person = ? AND key <> ?",
        )
        .bind(bucket.tenant)
        .bind(bucket.plugin)
        .bind(person_key(&bucket))
        .bind(key)
        .fetch_one(&mut *tx)
        .await?;
        let used = used as u64;
        if used + (key.len() + value.len()) as u64 > quota_bytes {
            return Ok(Err(QuotaExceeded { limit_bytes: quota_bytes, used_bytes: used }));
        }
        sqlx::query(
            "INSERT INTO plugin_kv (tenant, plugin, person, key, value, updated_at) VALUES (?, ?, ?, ?, ?, ?) \
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
        let done = sqlx::query("DELETE FROM plugin_kv WHERE tenant = ? AND plugin = ? AND person = ? AND key = ?")
            .bind(bucket.tenant)
            .bind(bucket.plugin)
            .bind(person_key(&bucket))
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn kv_list(&self, bucket: KvBucket<'_>, prefix: &str, limit: u32) -> StoreResult<Vec<String>> {
        // Range scan on the primary key: [prefix, prefix + U+10FFFF) covers every key with the prefix.
        let upper = format!("{prefix}\u{10FFFF}");
        let rows = sqlx::query(
            "SELECT key FROM plugin_kv WHERE tenant = ? AND plugin = ? AND person = ? AND key >= ? AND key < ? ORDER BY key LIMIT ?",
        )
        .bind(bucket.tenant)
        .bind(bucket.plugin)
        .bind(person_key(&bucket))
        .bind(prefix)
        .bind(upper)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|r| r.get(0)).filter(|k: &String| k.starts_with(prefix)).collect())
    }

    async fn append_audit(&self, events: Vec<AuditEvent>, sign: &CheckpointSigner) -> StoreResult<Vec<AuditRecord>> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut heads: Vec<(String, Head)> = Vec::new();
        let mut records = Vec::with_capacity(events.len());
        for event in events {
            let position = match heads.iter().position(|(t, _)| *t == event.tenant) {
                Some(position) => position,
                None => {
                    let row =
                        sqlx::query("SELECT seq, hash FROM audit_records WHERE tenant = ? ORDER BY seq DESC LIMIT 1")
                            .bind(&event.tenant)
                            .fetch_optional(&mut *tx)
                            .await?;
                    let head = match row {
                        Some(r) => Head { seq: r.get(0), hash: hash32(r.get::<&[u8], _>(1))? },
                        None => Head::EMPTY,
                    };
                    heads.push((event.tenant.clone(), head));
                    heads.len() - 1
                }
            };
            records.push(chain::link(&mut heads[position].1, event));
        }
        for chunk in records.chunks(AUDIT_ROWS_PER_INSERT) {
            let mut insert = QueryBuilder::new(
                "INSERT INTO audit_records (tenant, seq, ts, actor, subject, action, scope, purpose, outcome, reason, invocation, prev_hash, hash) ",
            );
            insert.push_values(chunk, |mut row, record| {
                let e = &record.event;
                row.push_bind(&e.tenant)
                    .push_bind(record.seq)
                    .push_bind(e.ts_ms)
                    .push_bind(&e.actor)
                    .push_bind(&e.subject)
                    .push_bind(&e.action)
                    .push_bind(&e.scope)
                    .push_bind(&e.purpose)
                    .push_bind(e.outcome.as_str())
                    .push_bind(&e.reason)
                    .push_bind(&e.invocation)
                    .push_bind(&record.prev_hash[..])
                    .push_bind(&record.hash[..]);
            });
            insert.build().execute(&mut *tx).await?;
        }
        for (tenant, head) in &heads {
            let checkpoint = sign(tenant, *head);
            sqlx::query(
                "INSERT INTO audit_checkpoints (tenant, seq, hash, signed_at, key_id, signature) VALUES (?, ?, ?, ?, ?, ?)",
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

    async fn audit_tenants(&self) -> StoreResult<Vec<String>> {
        let rows =
            sqlx::query("SELECT tenant FROM audit_records UNION SELECT tenant FROM audit_checkpoints ORDER BY 1")
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.into_iter().map(|r| r.get(0)).collect())
    }

    async fn audit_records(&self, tenant: &str, after: i64, limit: u32) -> StoreResult<Vec<AuditRecord>> {
        let rows = sqlx::query(
            "SELECT seq, ts, actor, subject, action, scope, purpose, outcome, reason, invocation, prev_hash, hash \
             FROM audit_records WHERE tenant = ? AND seq > ? ORDER BY seq LIMIT ?",
        )
        .bind(tenant)
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|r| {
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
            })
            .collect()
    }

    async fn audit_checkpoints(&self, tenant: &str) -> StoreResult<Vec<Checkpoint>> {
        let rows = sqlx::query(
            "SELECT seq, hash, signed_at, key_id, signature FROM audit_checkpoints WHERE tenant = ? ORDER BY seq",
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
