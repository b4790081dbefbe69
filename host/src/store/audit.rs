//! The audit log's rows: chained records and signed checkpoints. The store
//! reads each tenant's head and writes the rows; linking (hashing) and
//! signing are the [`Chaining`] it is handed.

use async_trait::async_trait;
use sqlx::any::AnyRow;
use sqlx::{Any, Connection, Row, Transaction};

use super::backend::{SqlStore, corrupt};
use super::dialect::placeholders;
use super::kv::{StorageChange, StorageOutcome};
use super::{StoreError, StoreResult};
use crate::model::audit::{Anchor, AuditEvent, AuditFilter, AuditRecord, Chaining, Checkpoint, Head, Outcome};
use crate::model::egress::EgressDetail;

/// One submission to an audit batch: events, and possibly the storage change
/// they end with, applied in the same transaction as its record.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    /// Events to append, in order.
    pub events: Vec<AuditEvent>,
    /// A change whose record comes after `events`.
    pub change: Option<ChangeEntry>,
}

/// A storage change and the record that will say how it ended.
#[derive(Debug, Clone)]
pub struct ChangeEntry {
    /// The change.
    pub change: StorageChange,
    /// Its record, outcome and reason still to be decided by the change.
    pub event: AuditEvent,
}

impl ChangeEntry {
    /// The change's record for `outcome`.
    fn event(&self, outcome: StorageOutcome) -> AuditEvent {
        let (outcome, reason) = match outcome {
            StorageOutcome::Set | StorageOutcome::Deleted(_) => (Outcome::Allowed, None),
            StorageOutcome::OverQuota(_) => (Outcome::Denied, Some("quota_exceeded".to_owned())),
            StorageOutcome::RateLimited(seconds) => (Outcome::Denied, Some(format!("rate_limited: {seconds} s"))),
            StorageOutcome::Refused(denial) => (Outcome::Denied, Some(denial.code().to_owned())),
        };
        AuditEvent { outcome, reason, ..self.event.clone() }
    }
}

/// The audit record of an admin or member change, linked and committed in
/// the change's own transaction: a crash leaves both or neither.
pub struct ChangeRecord<'a> {
    /// The record (its outcome is the change's: it is written only when the change is).
    pub event: AuditEvent,
    /// Links it and signs the checkpoint.
    pub chaining: &'a dyn Chaining,
    /// Makes the member's receipt of the change, stored with it.
    pub receipt: Option<&'a dyn super::Receipting>,
}

impl std::fmt::Debug for ChangeRecord<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeRecord").field("event", &self.event).finish_non_exhaustive()
    }
}

/// What one [`AuditEntry`] became: its durable records and how its change ended.
#[derive(Debug, Clone)]
pub struct EntryWritten {
    /// The records, in order (the change's last).
    pub records: Vec<AuditRecord>,
    /// How the change ended, if there was one.
    pub change: Option<StorageOutcome>,
}

/// Parameters per audit row.
const AUDIT_ROW_PARAMETERS: usize = 15;

/// Rows per multi-row audit insert (15 parameters each; SQLite binds at
/// most 32 766, PostgreSQL 65 535).
const AUDIT_ROWS_PER_INSERT: usize = 2_000;

/// The tenants' audit chains.
#[async_trait]
pub trait AuditLog: Send + Sync + std::fmt::Debug {
    /// Appends the entries' events to their tenants' chains in one
    /// transaction, applying each entry's storage change there too (its
    /// record then says how it ended), each record linked after its tenant's
    /// head by `chaining`, with a checkpoint per tenant it signs; returns
    /// what each entry became, in order. All or nothing.
    async fn append_entries(&self, entries: &[AuditEntry], chaining: &dyn Chaining) -> StoreResult<Vec<EntryWritten>>;
    /// [`AuditLog::append_entries`] for plain events; the records in order.
    async fn append_audit(&self, events: Vec<AuditEvent>, chaining: &dyn Chaining) -> StoreResult<Vec<AuditRecord>> {
        let written = self.append_entries(&[AuditEntry { events, change: None }], chaining).await?;
        Ok(written.into_iter().flat_map(|entry| entry.records).collect())
    }
    /// Tenants that have audit records or checkpoints.
    async fn audit_tenants(&self) -> StoreResult<Vec<String>>;
    /// A tenant's records with `seq > after`, in order, at most `limit`.
    async fn audit_records(&self, tenant: &str, after: i64, limit: u32) -> StoreResult<Vec<AuditRecord>>;
    /// A tenant's records matching `filter` with `seq > after`, in order, at most `limit`.
    async fn audit_query(
        &self,
        tenant: &str,
        filter: &AuditFilter,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<AuditRecord>>;
    /// A tenant's checkpoints in seq order.
    async fn audit_checkpoints(&self, tenant: &str) -> StoreResult<Vec<Checkpoint>>;
    /// A tenant's purge anchors in seq order.
    async fn audit_anchors(&self, tenant: &str) -> StoreResult<Vec<Anchor>>;
}

pub(super) fn hash32(bytes: &[u8]) -> StoreResult<[u8; 32]> {
    bytes.try_into().map_err(|_| corrupt("audit hash is not 32 bytes"))
}

pub(super) const AUDIT_COLUMNS: &str =
    "seq, ts, actor, subject, action, scope, purpose, outcome, reason, invocation, prev_hash, hash, egress";

pub(super) fn audit_from_row(tenant: &str, r: &AnyRow) -> StoreResult<AuditRecord> {
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
            egress: match r.get::<Option<&str>, _>(12) {
                None => None,
                Some(json) => Some(serde_json::from_str(json).map_err(|e| corrupt(format!("egress detail: {e}")))?),
            },
        },
        prev_hash: hash32(r.get::<&[u8], _>(10))?,
        hash: hash32(r.get::<&[u8], _>(11))?,
    })
}

impl SqlStore {
    /// [`AuditLog::append_entries`] on `conn`. When BEGIN fails nothing is
    /// written (the outer error).
    async fn append_audit_on(
        &self,
        conn: &mut sqlx::AnyConnection,
        entries: &[AuditEntry],
        chaining: &dyn Chaining,
    ) -> Result<StoreResult<Vec<EntryWritten>>, StoreError> {
        match conn.begin_with(self.begin_statement()).await {
            Ok(tx) => Ok(self.append_audit_in(tx, entries, chaining).await),
            Err(error) => Err(error.into()),
        }
    }

    /// [`AuditLog::append_entries`] in the begun `tx`, committing it.
    async fn append_audit_in(
        &self,
        mut tx: Transaction<'_, Any>,
        entries: &[AuditEntry],
        chaining: &dyn Chaining,
    ) -> StoreResult<Vec<EntryWritten>> {
        let written = self.append_in(&mut tx, entries, chaining).await?;
        tx.commit().await?;
        Ok(written)
    }

    /// Begins the transaction of a change that commits with its record:
    /// its tenant's chain is held first, as the audit writer holds it before
    /// anything else, so the two cannot wait for each other.
    pub(super) async fn begin_recorded(&self, record: &ChangeRecord<'_>) -> StoreResult<Transaction<'static, Any>> {
        let mut tx = self.begin().await?;
        self.lock(&mut tx, &format!("audit:{}", record.event.tenant)).await?;
        Ok(tx)
    }

    /// Links `record` after its tenant's head in `tx` (with a signed
    /// checkpoint) and commits: the change and its record, or neither.
    pub(super) async fn commit_recorded(
        &self,
        mut tx: Transaction<'_, Any>,
        record: ChangeRecord<'_>,
    ) -> StoreResult<AuditRecord> {
        let entry = AuditEntry { events: vec![record.event.bounded()], change: None };
        let written = self.append_in(&mut tx, std::slice::from_ref(&entry), record.chaining).await?;
        let linked =
            written.into_iter().flat_map(|w| w.records).next().ok_or_else(|| corrupt("no record came back"))?;
        if let Some(receipting) = record.receipt {
            self.put_receipt(&mut tx, &linked, &receipting.receipt(&linked)).await?;
        }
        tx.commit().await?;
        Ok(linked)
    }

    /// Appends `entries` in `tx` without committing.
    async fn append_in(
        &self,
        tx: &mut Transaction<'_, Any>,
        entries: &[AuditEntry],
        chaining: &dyn Chaining,
    ) -> StoreResult<Vec<EntryWritten>> {
        let events = entries.iter().flat_map(|e| e.events.iter().chain(e.change.as_ref().map(|c| &c.event)));
        let mut tenants: Vec<&str> = events.map(|e| e.tenant.as_str()).collect();
        tenants.sort_unstable();
        tenants.dedup();
        // Sorted, so two replicas locking overlapping tenant sets cannot deadlock.
        for tenant in &tenants {
            self.lock(tx, &format!("audit:{tenant}")).await?;
        }
        let mut heads: Vec<(String, Head)> = Vec::with_capacity(tenants.len());
        for tenant in tenants {
            let row = sqlx::query("SELECT seq, hash FROM audit_records WHERE tenant = $1 ORDER BY seq DESC LIMIT 1")
                .bind(tenant)
                .fetch_optional(&mut **tx)
                .await?;
            let head = match row {
                Some(r) => Head { seq: r.get(0), hash: hash32(r.get::<&[u8], _>(1))? },
                None => Head::EMPTY,
            };
            heads.push((tenant.to_owned(), head));
        }
        // The changes first, each deciding its own record; then every
        // record is linked in entry order.
        let mut sizes = Vec::with_capacity(entries.len());
        let mut outcomes = Vec::with_capacity(entries.len());
        let mut events = Vec::with_capacity(entries.iter().map(|e| e.events.len() + 1).sum());
        for entry in entries {
            let outcome = match &entry.change {
                Some(change) => Some(self.apply_storage_change(tx, &change.change).await?),
                None => None,
            };
            sizes.push(entry.events.len() + usize::from(outcome.is_some()));
            events.extend(entry.events.iter().cloned());
            if let (Some(change), Some(outcome)) = (&entry.change, outcome) {
                events.push(change.event(outcome));
            }
            outcomes.push(outcome);
        }
        let mut records = Vec::with_capacity(events.len());
        for event in events {
            let position = heads.iter().position(|(t, _)| *t == event.tenant).ok_or_else(|| corrupt("tenant head"))?;
            records.push(chaining.link(&mut heads[position].1, event));
        }
        for chunk in records.chunks(AUDIT_ROWS_PER_INSERT) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|i| {
                    format!("({})", placeholders(self.backend, i * AUDIT_ROW_PARAMETERS + 1, AUDIT_ROW_PARAMETERS))
                })
                .collect();
            let sql = format!(
                "INSERT INTO audit_records (tenant, seq, ts, actor, subject, action, scope, purpose, outcome, reason, \
                 invocation, prev_hash, hash, destination, egress) VALUES {}",
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
                    .bind(&record.hash[..])
                    .bind(e.egress.as_ref().map(|d| d.destination.clone()))
                    .bind(e.egress.as_ref().map(EgressDetail::to_json));
            }
            insert.execute(&mut **tx).await?;
        }
        // The statistics count the records in their own transaction.
        self.add_stats(tx, &crate::model::stats::rollup(records.iter().map(|r| &r.event))).await?;
        for (tenant, head) in &heads {
            let checkpoint = chaining.checkpoint(tenant, *head);
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
            .execute(&mut **tx)
            .await?;
        }
        let mut records = records.into_iter();
        Ok(sizes
            .into_iter()
            .zip(outcomes)
            .map(|(size, change)| EntryWritten { records: records.by_ref().take(size).collect(), change })
            .collect())
    }
}

#[async_trait]
impl AuditLog for SqlStore {
    async fn append_entries(&self, entries: &[AuditEntry], chaining: &dyn Chaining) -> StoreResult<Vec<EntryWritten>> {
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
        let written = match self.append_audit_on(&mut conn, entries, chaining).await {
            Ok(written) => written,
            Err(error) if reused => {
                tracing::info!(%error, "the kept audit connection failed at BEGIN; taking another");
                conn = self.pool.acquire().await?.detach();
                self.append_audit_on(&mut conn, entries, chaining).await.unwrap_or_else(Err)
            }
            Err(error) => Err(error),
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
            and("action =", Param::Text(action.as_str()));
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
        if let Some(destination) = &filter.destination {
            and("destination =", Param::Text(destination));
        }
        if filter.with_scope {
            sql.push_str(" AND (scope IS NOT NULL OR destination IS NOT NULL)");
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

    async fn audit_anchors(&self, tenant: &str) -> StoreResult<Vec<Anchor>> {
        let rows = sqlx::query(
            "SELECT seq, hash, anchored_at, key_id, signature FROM audit_anchors WHERE tenant = $1 ORDER BY seq",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Anchor {
                tenant: tenant.to_owned(),
                seq: r.get(0),
                hash: r.get(1),
                anchored_at_ms: r.get(2),
                key_id: r.get(3),
                signature: r.get(4),
            })
            .collect())
    }
}
