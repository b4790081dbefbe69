//! Plugin runs: how each version's calls ended and how long they took, per
//! tenant and hour (see [`crate::model::runs`]), added to in batches by the
//! service's tally, read for the plugin's developer with the tenants' sizes.

use std::collections::BTreeMap;

use async_trait::async_trait;
use sqlx::Row;

use super::StoreResult;
use super::backend::{SqlStore, corrupt};
use super::dialect::placeholders;
use crate::model::runs::{RunCount, RunKey, RunKind};

/// Parameters per row: the key's six and the count's two.
const ROW_PARAMETERS: usize = 8;

/// Rows per statement.
const ROWS_PER_STATEMENT: usize = 1_000;

/// The runs' rows.
#[async_trait]
pub trait Runs: Send + Sync + std::fmt::Debug {
    /// Adds `rows` to the counts, in one transaction.
    async fn add_runs(&self, rows: &BTreeMap<RunKey, RunCount>) -> StoreResult<()>;
    /// `plugin`'s rows with `from_ms <= hour < to_ms`.
    async fn plugin_runs(&self, plugin: &str, from_ms: i64, to_ms: i64) -> StoreResult<BTreeMap<RunKey, RunCount>>;
    /// How many members each of `tenants` has (a tenant with none is absent).
    async fn tenant_sizes(&self, tenants: &[String]) -> StoreResult<BTreeMap<String, u64>>;
}

#[async_trait]
impl Runs for SqlStore {
    async fn add_runs(&self, rows: &BTreeMap<RunKey, RunCount>) -> StoreResult<()> {
        let rows: Vec<(&RunKey, &RunCount)> = rows.iter().collect();
        let mut tx = self.begin().await?;
        for chunk in rows.chunks(ROWS_PER_STATEMENT) {
            let values: Vec<String> = (0..chunk.len())
                .map(|i| format!("({})", placeholders(self.backend, i * ROW_PARAMETERS + 1, ROW_PARAMETERS)))
                .collect();
            let sql = format!(
                "INSERT INTO plugin_runs (plugin, version, tenant, hour, kind, bucket, calls, egress_failures) \
                 VALUES {} ON CONFLICT (plugin, version, tenant, hour, kind, bucket) DO UPDATE SET \
                 calls = plugin_runs.calls + excluded.calls, \
                 egress_failures = plugin_runs.egress_failures + excluded.egress_failures",
                values.join(", ")
            );
            let mut insert = sqlx::query(&sql);
            for (key, count) in chunk {
                insert = insert
                    .bind(key.plugin.as_str())
                    .bind(key.version.as_str())
                    .bind(key.tenant.as_str())
                    .bind(key.hour_ms)
                    .bind(key.kind.as_str())
                    .bind(i64::from(key.bucket))
                    .bind(count.calls)
                    .bind(count.egress_failures);
            }
            insert.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn plugin_runs(&self, plugin: &str, from_ms: i64, to_ms: i64) -> StoreResult<BTreeMap<RunKey, RunCount>> {
        let rows = sqlx::query(
            "SELECT version, tenant, hour, kind, bucket, calls, egress_failures FROM plugin_runs \
             WHERE plugin = $1 AND hour >= $2 AND hour < $3",
        )
        .bind(plugin)
        .bind(from_ms)
        .bind(to_ms)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let kind: &str = r.get(3);
                let key = RunKey {
                    plugin: plugin.to_owned(),
                    version: r.get(0),
                    tenant: r.get(1),
                    hour_ms: r.get(2),
                    kind: RunKind::parse(kind).ok_or_else(|| corrupt(format!("run kind {kind:?}")))?,
                    bucket: u8::try_from(r.get::<i64, _>(4)).map_err(|_| corrupt("run bucket"))?,
                };
                Ok((key, RunCount { calls: r.get(5), egress_failures: r.get(6) }))
            })
            .collect()
    }

    async fn tenant_sizes(&self, tenants: &[String]) -> StoreResult<BTreeMap<String, u64>> {
        let mut sizes = BTreeMap::new();
        for tenant in tenants {
            let n: i64 = sqlx::query("SELECT COUNT(*) FROM members WHERE tenant = $1")
                .bind(tenant)
                .fetch_one(&self.pool)
                .await?
                .get(0);
            if n > 0 {
                sizes.insert(tenant.clone(), u64::try_from(n).unwrap_or(0));
            }
        }
        Ok(sizes)
    }
}
