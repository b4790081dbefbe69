//! Retention: the purge's statements. A tenant's oldest audit records go
//! as a prefix of its chain, after a signed anchor says where the kept
//! history starts; person buckets untouched for longer than the tenant's
//! period go with the purge's own record (a departed member's consents,
//! storage, openings and requests went at their removal); on PostgreSQL one replica purges
//! at a time (a session advisory lock on a connection of its own).

use async_trait::async_trait;
use sqlx::{Connection, Row};

use super::audit::hash32;
use super::backend::{SqlStore, count, from_json};
use super::dialect::Backend;
use super::{ChangeRecord, StoreError, StoreResult};
use crate::model::audit::{Anchor, AuditRecord, Head};
use crate::model::settings::Retention;

/// What a purge of one tenant deleted with its record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Swept {
    /// Person-bucket storage entries.
    pub storage_entries: u64,
}

/// The right to purge, held until released or dropped (PostgreSQL: a
/// session advisory lock, per schema, on a connection of its own; SQLite
/// needs none: one server serves a file, and its writers are serialised).
pub struct PurgeLock {
    connection: Option<sqlx::AnyConnection>,
}

impl std::fmt::Debug for PurgeLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PurgeLock").field("session", &self.connection.is_some()).finish()
    }
}

impl PurgeLock {
    /// Gives the lock back (PostgreSQL); closing the connection would too.
    pub async fn release(mut self) {
        if let Some(mut connection) = self.connection.take() {
            let _ = sqlx::query(
                "SELECT pg_advisory_unlock(hashtextextended('workbench.retention.purge:' || current_schema(), 0))",
            )
            .execute(&mut connection)
            .await;
            let _ = connection.close().await;
        }
    }
}

/// The purge's reads and deletions.
#[async_trait]
pub trait Purges: Send + Sync + std::fmt::Debug {
    /// Whether every writer of the database takes one lock (SQLite): then
    /// the purge's deletions take turns with the audit writer's batches.
    fn one_writer(&self) -> bool;
    /// Every tenant with its retention (the defaults when never set).
    async fn retention_tenants(&self) -> StoreResult<Vec<(String, Retention)>>;
    /// The purge lock, or `None` while another runner holds it.
    async fn try_purge_lock(&self) -> StoreResult<Option<PurgeLock>>;
    /// The head of the longest prefix of `tenant`'s chain after `after`
    /// whose records are all older than `cutoff_ms`; `None` when the first
    /// record after `after` is not (or there is none).
    async fn purge_boundary(&self, tenant: &str, after: i64, cutoff_ms: i64) -> StoreResult<Option<Head>>;
    /// In one transaction: deletes the person buckets of `tenant` untouched
    /// since `storage_cutoff_ms` (if given), writes `anchor` (when given; the record at
    /// its seq must still have its hash) and `record` (the purge's own,
    /// its reason ending with the counts). `None`, with nothing written,
    /// when there was nothing to delete and no anchor.
    async fn sweep(
        &self,
        tenant: &str,
        storage_cutoff_ms: Option<i64>,
        anchor: Option<&Anchor>,
        record: ChangeRecord<'_>,
    ) -> StoreResult<Option<(Swept, AuditRecord)>>;
    /// Deletes at most `limit` of `tenant`'s records with `seq <= through`
    /// (and its checkpoints before `through`); how many records went. Short
    /// transactions, so calls being audited meanwhile barely wait.
    async fn delete_audit_through(&self, tenant: &str, through: i64, limit: u32) -> StoreResult<u64>;
}

#[async_trait]
impl Purges for SqlStore {
    fn one_writer(&self) -> bool {
        self.backend == Backend::Sqlite
    }

    async fn retention_tenants(&self) -> StoreResult<Vec<(String, Retention)>> {
        let rows = sqlx::query(
            "SELECT t.id, s.retention FROM tenants t LEFT JOIN tenant_settings s ON s.tenant = t.id ORDER BY t.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let retention = match r.get::<Option<&str>, _>(1) {
                    Some(json) => from_json(json)?,
                    None => Retention::default(),
                };
                Ok((r.get(0), retention))
            })
            .collect()
    }

    async fn try_purge_lock(&self) -> StoreResult<Option<PurgeLock>> {
        if self.backend != Backend::Postgres {
            return Ok(Some(PurgeLock { connection: None }));
        }
        let mut connection = self.pool.acquire().await?.detach();
        let got: bool = sqlx::query(
            "SELECT pg_try_advisory_lock(hashtextextended('workbench.retention.purge:' || current_schema(), 0))",
        )
        .fetch_one(&mut connection)
        .await?
        .get(0);
        if !got {
            let _ = connection.close().await;
            return Ok(None);
        }
        Ok(Some(PurgeLock { connection: Some(connection) }))
    }

    async fn purge_boundary(&self, tenant: &str, after: i64, cutoff_ms: i64) -> StoreResult<Option<Head>> {
        // The first record at least as new as the cutoff ends the prefix;
        // the walk is in seq order (the primary key) and stops there.
        let first_kept: Option<i64> = sqlx::query(
            "SELECT seq FROM audit_records WHERE tenant = $1 AND seq > $2 AND ts >= $3 ORDER BY seq LIMIT 1",
        )
        .bind(tenant)
        .bind(after)
        .bind(cutoff_ms)
        .fetch_optional(&self.pool)
        .await?
        .map(|r| r.get(0));
        let last = match first_kept {
            Some(seq) => seq - 1,
            None => {
                let head = sqlx::query("SELECT MAX(seq) FROM audit_records WHERE tenant = $1")
                    .bind(tenant)
                    .fetch_one(&self.pool)
                    .await?;
                head.get::<Option<i64>, _>(0).unwrap_or(0)
            }
        };
        if last <= after {
            return Ok(None);
        }
        let row = sqlx::query("SELECT hash FROM audit_records WHERE tenant = $1 AND seq = $2")
            .bind(tenant)
            .bind(last)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("audit record {last} of {tenant}")))?;
        Ok(Some(Head { seq: last, hash: hash32(row.get::<&[u8], _>(0))? }))
    }

    async fn sweep(
        &self,
        tenant: &str,
        storage_cutoff_ms: Option<i64>,
        anchor: Option<&Anchor>,
        mut record: ChangeRecord<'_>,
    ) -> StoreResult<Option<(Swept, AuditRecord)>> {
        let _changing = self.changing(tenant);
        let mut tx = self.begin_recorded(&record).await?;
        let mut swept = Swept::default();
        if let Some(cutoff) = storage_cutoff_ms {
            // A bucket whose newest entry is older than the cutoff; an entry
            // written meanwhile is newer and stays.
            let done = sqlx::query(
                "DELETE FROM plugin_kv WHERE tenant = $1 AND person <> '' AND updated_at < $2 AND (plugin, person) IN \
                 (SELECT plugin, person FROM plugin_kv WHERE tenant = $1 AND person <> '' \
                  GROUP BY plugin, person HAVING MAX(updated_at) < $2)",
            )
            .bind(tenant)
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
            swept.storage_entries = count(&done);
        }
        if anchor.is_none() && swept == Swept::default() {
            return Ok(None);
        }
        if let Some(anchor) = anchor {
            let hash = sqlx::query("SELECT hash FROM audit_records WHERE tenant = $1 AND seq = $2")
                .bind(tenant)
                .bind(anchor.seq)
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| hex::encode(r.get::<&[u8], _>(0)));
            if hash.as_deref() != Some(anchor.hash.as_str()) {
                return Err(StoreError::Conflict(format!(
                    "audit record {} of {tenant} changed under the purge",
                    anchor.seq
                )));
            }
            sqlx::query(
                "INSERT INTO audit_anchors (tenant, seq, hash, anchored_at, key_id, signature) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(tenant)
            .bind(anchor.seq)
            .bind(&anchor.hash)
            .bind(anchor.anchored_at_ms)
            .bind(&anchor.key_id)
            .bind(&anchor.signature)
            .execute(&mut *tx)
            .await?;
        }
        let reason = record.event.reason.take().unwrap_or_default();
        record.event.reason = Some(format!("{reason}; {} storage entries deleted", swept.storage_entries));
        Ok(Some((swept, self.commit_recorded(tx, record).await?)))
    }

    async fn delete_audit_through(&self, tenant: &str, through: i64, limit: u32) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        // In turn with the tenant's audit batches: both change its statistics.
        self.lock(&mut tx, &format!("audit:{tenant}")).await?;
        let last: Option<i64> = sqlx::query(
            "SELECT MAX(seq) FROM (SELECT seq FROM audit_records WHERE tenant = $1 AND seq <= $2 \
             ORDER BY seq LIMIT $3) batch",
        )
        .bind(tenant)
        .bind(through)
        .bind(i64::from(limit))
        .fetch_one(&mut *tx)
        .await?
        .get(0);
        let mut deleted = 0;
        if let Some(last) = last {
            self.remove_stats_through(&mut tx, tenant, last).await?;
            let done = sqlx::query("DELETE FROM audit_records WHERE tenant = $1 AND seq <= $2")
                .bind(tenant)
                .bind(last)
                .execute(&mut *tx)
                .await?;
            deleted = count(&done);
        }
        if deleted < u64::from(limit) {
            sqlx::query("DELETE FROM audit_checkpoints WHERE tenant = $1 AND seq < $2")
                .bind(tenant)
                .bind(through)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(deleted)
    }
}
