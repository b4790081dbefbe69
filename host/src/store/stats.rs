//! The audit statistics' rows: the rollup of the audit records (see
//! [`crate::model::stats`]). The audit writer adds a batch's counts in the
//! batch's own transaction ([`SqlStore::add_stats`]), the purge takes a
//! deleted prefix's counts away in the deletion's
//! ([`SqlStore::remove_stats_through`]), and records written before the
//! rollup existed are counted once, in the background ([`AuditStats::backfill_stats`]).
//! So the rollup always equals the records, and a question is answered from
//! it, never from a scan of the log.

use std::collections::BTreeMap;

use async_trait::async_trait;
use sqlx::{Any, Row, Transaction};

use super::StoreResult;
use super::audit::{AUDIT_COLUMNS, audit_from_row};
use super::backend::SqlStore;
use super::dialect::{Backend, placeholders};
use crate::model::audit::AuditRecord;
use crate::model::stats::{StatsCount, StatsKey, rollup};

/// Parameters per upserted row: the key's nine and the count's four.
const UPSERT_PARAMETERS: usize = 13;

/// Parameters per key.
const KEY_PARAMETERS: usize = 9;

/// Rows per statement (well under both engines' parameter limits).
const ROWS_PER_STATEMENT: usize = 1_000;

const KEY_COLUMNS: &str = "tenant, subject, hour, plugin, action, scope, outcome, reason, destination";

/// Where a tenant's counting of its older records stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backfill {
    /// Records up to this seq are counted.
    pub done: i64,
    /// The last record written before the rollup existed.
    pub through: i64,
}

/// The rollup's reads, and the counting of records older than it.
#[async_trait]
pub trait AuditStats: Send + Sync + std::fmt::Debug {
    /// The rollup's hourly rows of `tenant` with `from_ms <= hour < to_ms`,
    /// for everyone (`subject` `""`) or about one member, optionally only
    /// one plugin's and one action's. With `day_offset` (a UTC offset, ms,
    /// constant over the range) the database sums them by local day, each
    /// row's `hour_ms` then noon of its day.
    #[allow(clippy::too_many_arguments, reason = "a query's filters, each optional")]
    async fn audit_stats(
        &self,
        tenant: &str,
        subject: &str,
        plugin: Option<&str>,
        action: Option<&str>,
        from_ms: i64,
        to_ms: i64,
        day_offset: Option<i64>,
    ) -> StoreResult<Vec<(StatsKey, StatsCount)>>;
    /// How far the counting of `tenant`'s older records is; `None` when
    /// all its records are counted.
    async fn stats_backfill(&self, tenant: &str) -> StoreResult<Option<Backfill>>;
    /// The tenants whose older records are still being counted.
    async fn stats_backfill_tenants(&self) -> StoreResult<Vec<String>>;
    /// Counts up to `limit` more of `tenant`'s older records, in one
    /// transaction; where it stands after (`None`: all counted).
    async fn backfill_stats(&self, tenant: &str, limit: u32) -> StoreResult<Option<Backfill>>;
}

impl SqlStore {
    /// Adds `rows` (counts, or negated counts) to the rollup in `tx`; rows
    /// whose count falls to zero go.
    pub(super) async fn add_stats(
        &self,
        tx: &mut Transaction<'_, Any>,
        rows: &BTreeMap<StatsKey, StatsCount>,
    ) -> StoreResult<()> {
        let rows: Vec<(&StatsKey, &StatsCount)> = rows.iter().filter(|(_, c)| **c != StatsCount::default()).collect();
        let later = match self.backend {
            Backend::Sqlite => "MAX",
            Backend::Postgres => "GREATEST",
        };
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("({})", placeholders(self.backend, i * UPSERT_PARAMETERS + 1, UPSERT_PARAMETERS)))
                .collect();
            let sql = format!(
                "INSERT INTO audit_stats ({KEY_COLUMNS}, records, bytes_out, bytes_in, last_ts) VALUES {} \
                 ON CONFLICT ({KEY_COLUMNS}) DO UPDATE SET records = audit_stats.records + excluded.records, \
                 bytes_out = audit_stats.bytes_out + excluded.bytes_out, \
                 bytes_in = audit_stats.bytes_in + excluded.bytes_in, \
                 last_ts = {later}(audit_stats.last_ts, excluded.last_ts)",
                values.join(", ")
            );
            let mut upsert = sqlx::query(&sql);
            for (key, count) in chunk {
                upsert = bind_key(upsert, key)
                    .bind(count.records)
                    .bind(count.bytes_out)
                    .bind(count.bytes_in)
                    .bind(count.last_ms);
            }
            upsert.execute(&mut **tx).await?;
        }
        let emptied: Vec<&StatsKey> = rows.iter().filter(|(_, c)| c.records < 0).map(|(k, _)| *k).collect();
        for chunk in emptied.chunks(ROWS_PER_STATEMENT) {
            let keys: Vec<String> = (0..chunk.len())
                .map(|i| format!("({})", placeholders(self.backend, i * KEY_PARAMETERS + 1, KEY_PARAMETERS)))
                .collect();
            let sql = format!(
                "DELETE FROM audit_stats WHERE records <= 0 AND ({KEY_COLUMNS}) IN (VALUES {})",
                keys.join(", ")
            );
            let mut delete = sqlx::query(&sql);
            for key in chunk {
                delete = bind_key(delete, key);
            }
            delete.execute(&mut **tx).await?;
        }
        Ok(())
    }

    /// Takes the counts of `tenant`'s records with `seq <= through` out of
    /// the rollup in `tx`, before the caller deletes them: all but those
    /// the background counting has not reached (it then starts after them).
    pub(super) async fn remove_stats_through(
        &self,
        tx: &mut Transaction<'_, Any>,
        tenant: &str,
        through: i64,
    ) -> StoreResult<()> {
        let backfill = backfill_in(tx, tenant).await?;
        let records = records_in(tx, tenant, 0, through, None).await?;
        let counted = records.iter().filter(|r| backfill.is_none_or(|b| r.seq <= b.done || r.seq > b.through));
        let rows = rollup(counted.map(|r| &r.event)).into_iter().map(|(k, c)| (k, c.negated())).collect();
        self.add_stats(tx, &rows).await?;
        if let Some(backfill) = backfill.filter(|b| through > b.done) {
            set_backfill(tx, tenant, Backfill { done: through.min(backfill.through), ..backfill }).await?;
        }
        Ok(())
    }
}

fn bind_key<'q>(
    query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    key: &'q StatsKey,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    query
        .bind(key.tenant.as_str())
        .bind(key.subject.as_str())
        .bind(key.hour_ms)
        .bind(key.plugin.as_str())
        .bind(key.action.as_str())
        .bind(key.scope.as_str())
        .bind(key.outcome.as_str())
        .bind(key.reason.as_str())
        .bind(key.destination.as_str())
}

async fn backfill_in(conn: &mut sqlx::AnyConnection, tenant: &str) -> StoreResult<Option<Backfill>> {
    let row = sqlx::query("SELECT done, through FROM audit_stats_backfill WHERE tenant = $1")
        .bind(tenant)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|r| Backfill { done: r.get(0), through: r.get(1) }))
}

/// Records where it stands; all counted ends the tenant's counting.
async fn set_backfill(tx: &mut Transaction<'_, Any>, tenant: &str, backfill: Backfill) -> StoreResult<()> {
    let statement = if backfill.done >= backfill.through {
        sqlx::query("DELETE FROM audit_stats_backfill WHERE tenant = $1").bind(tenant)
    } else {
        sqlx::query("UPDATE audit_stats_backfill SET done = $2 WHERE tenant = $1").bind(tenant).bind(backfill.done)
    };
    statement.execute(&mut **tx).await?;
    Ok(())
}

/// `tenant`'s records with `after < seq <= through` in order, at most `limit`.
async fn records_in(
    tx: &mut Transaction<'_, Any>,
    tenant: &str,
    after: i64,
    through: i64,
    limit: Option<u32>,
) -> StoreResult<Vec<AuditRecord>> {
    let rows = sqlx::query(&format!(
        "SELECT {AUDIT_COLUMNS} FROM audit_records WHERE tenant = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4"
    ))
    .bind(tenant)
    .bind(after)
    .bind(through)
    .bind(limit.map_or(i64::MAX, i64::from))
    .fetch_all(&mut **tx)
    .await?;
    rows.iter().map(|r| audit_from_row(tenant, r)).collect()
}

#[async_trait]
impl AuditStats for SqlStore {
    async fn audit_stats(
        &self,
        tenant: &str,
        subject: &str,
        plugin: Option<&str>,
        action: Option<&str>,
        from_ms: i64,
        to_ms: i64,
        day_offset: Option<i64>,
    ) -> StoreResult<Vec<(StatsKey, StatsCount)>> {
        let mut sql = match day_offset {
            None => "SELECT hour, plugin, action, scope, outcome, reason, destination, records, bytes_out, bytes_in, \
                     last_ts"
                .to_owned(),
            // The local day's noon (in UTC): within the day whatever the
            // zone's offset at its start.
            Some(_) => "SELECT (hour + $5) / 86400000 * 86400000 + 43200000 - $5, plugin, action, scope, outcome, \
                        reason, destination, CAST(SUM(records) AS BIGINT), CAST(SUM(bytes_out) AS BIGINT), \
                        CAST(SUM(bytes_in) AS BIGINT), MAX(last_ts)"
                .to_owned(),
        };
        sql.push_str(" FROM audit_stats WHERE tenant = $1 AND subject = $2 AND hour >= $3 AND hour < $4");
        let mut next = if day_offset.is_some() { 6 } else { 5 };
        for (column, value) in [("plugin", plugin), ("action", action)] {
            if value.is_some() {
                sql.push_str(&format!(" AND {column} = ${next}"));
                next += 1;
            }
        }
        if day_offset.is_some() {
            sql.push_str(" GROUP BY 1, plugin, action, scope, outcome, reason, destination");
        }
        let mut query = sqlx::query(&sql).bind(tenant).bind(subject).bind(from_ms).bind(to_ms);
        if let Some(offset) = day_offset {
            query = query.bind(offset);
        }
        for value in [plugin, action].into_iter().flatten() {
            query = query.bind(value);
        }
        let rows = query.fetch_all(&self.pool).await?;
        Ok(rows
            .iter()
            .map(|r| {
                let key = StatsKey {
                    tenant: tenant.to_owned(),
                    subject: subject.to_owned(),
                    hour_ms: r.get(0),
                    plugin: r.get(1),
                    action: r.get(2),
                    scope: r.get(3),
                    outcome: r.get(4),
                    reason: r.get(5),
                    destination: r.get(6),
                };
                let count =
                    StatsCount { records: r.get(7), bytes_out: r.get(8), bytes_in: r.get(9), last_ms: r.get(10) };
                (key, count)
            })
            .collect())
    }

    async fn stats_backfill(&self, tenant: &str) -> StoreResult<Option<Backfill>> {
        let mut conn = self.pool.acquire().await?;
        backfill_in(&mut conn, tenant).await
    }

    async fn stats_backfill_tenants(&self) -> StoreResult<Vec<String>> {
        let rows = sqlx::query("SELECT tenant FROM audit_stats_backfill ORDER BY tenant").fetch_all(&self.pool).await?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn backfill_stats(&self, tenant: &str, limit: u32) -> StoreResult<Option<Backfill>> {
        let mut tx = self.begin().await?;
        // In turn with the tenant's audit batches and purge deletions.
        self.lock(&mut tx, &format!("audit:{tenant}")).await?;
        let Some(backfill) = backfill_in(&mut tx, tenant).await? else { return Ok(None) };
        let records = records_in(&mut tx, tenant, backfill.done, backfill.through, Some(limit.max(1))).await?;
        self.add_stats(&mut tx, &rollup(records.iter().map(|r| &r.event))).await?;
        let done = match records.last() {
            Some(last) if records.len() >= limit.max(1) as usize => last.seq,
            _ => backfill.through,
        };
        let now = Backfill { done, ..backfill };
        set_backfill(&mut tx, tenant, now).await?;
        tx.commit().await?;
        Ok(Some(now).filter(|b| b.done < b.through))
    }
}
