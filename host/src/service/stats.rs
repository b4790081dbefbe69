//! Audit statistics: how many records of which plugin, scope, action,
//! outcome, reason and destination, per hour or per day, answered from the
//! rollup the audit writer keeps with the records (never from a scan of the
//! log), and the background counting of records written before the rollup
//! existed.

use std::sync::Arc;

use serde::Serialize;

use super::{ServiceResult, Workbench};
use crate::model::stats::{Bucket, StatsQuery, StatsRow, fold, offset_spans};
use crate::pace::Pacer;

/// The answer to a [`StatsQuery`].
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StatsAnswer {
    /// How wide each bucket is.
    pub bucket: Bucket,
    /// The zone days are counted in (IANA name).
    pub zone: String,
    /// From, ms since the epoch (on an hour).
    pub from: i64,
    /// To (exclusive), ms since the epoch (on an hour).
    pub to: i64,
    /// `false` while records written before this host kept statistics are
    /// still being counted: the counts are then lower than the log's.
    pub complete: bool,
    /// The counts, in order of bucket, plugin, action, scope, outcome,
    /// reason and destination; buckets with nothing have no rows.
    pub rows: Vec<StatsRow>,
}

impl Workbench {
    /// Counts of `tenant`'s records answering `query`.
    pub async fn audit_stats(&self, tenant: &str, query: &StatsQuery) -> ServiceResult<StatsAnswer> {
        // Days are summed by the database, one span of the zone's offset at a time.
        let spans = match query.bucket {
            Bucket::Hour => vec![(query.from_ms, query.to_ms, None)],
            Bucket::Day => offset_spans(query.zone, query.from_ms, query.to_ms)
                .into_iter()
                .map(|(from, to, offset)| (from, to, Some(offset)))
                .collect(),
        };
        let mut hours = Vec::new();
        for (from, to, day_offset) in spans {
            let subject = query.member.as_deref().unwrap_or_default();
            let (plugin, action) = (query.plugin.as_deref(), query.action.as_deref());
            hours.extend(self.store.audit_stats(tenant, subject, plugin, action, from, to, day_offset).await?);
        }
        let complete = self.store.stats_backfill(tenant).await?.is_none();
        Ok(StatsAnswer {
            bucket: query.bucket,
            zone: query.zone.name().to_owned(),
            from: query.from_ms,
            to: query.to_ms,
            complete,
            rows: fold(query, hours),
        })
    }

    /// Counts one batch of the records written before the statistics
    /// existed (the first tenant's with any left; on SQLite in turn with
    /// the audit writer); how long it worked, or `None` when all are counted.
    pub async fn backfill_stats_batch(&self) -> ServiceResult<Option<std::time::Duration>> {
        let Some(tenant) = self.store.stats_backfill_tenants().await?.into_iter().next() else { return Ok(None) };
        let batch = self.retention.purge_batch_records.max(1);
        let owned = tenant.clone();
        let (left, worked) =
            self.in_turn(move |store| Box::pin(async move { store.backfill_stats(&owned, batch).await })).await?;
        if left.is_none() {
            tracing::info!(%tenant, "audit statistics: the older records are counted");
        }
        Ok(Some(worked))
    }

    /// Counts the older records in the background, paced like the purge
    /// (`[retention] purge_share_percent`); ends when all are counted or
    /// the workbench is dropped.
    pub fn spawn_stats_backfill(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let workbench = Arc::downgrade(self);
        let mut pacer = Pacer::new(self.retention.purge_share_percent);
        tokio::spawn(async move {
            loop {
                let Some(current) = workbench.upgrade() else { return };
                let worked = match current.backfill_stats_batch().await {
                    Ok(Some(worked)) => worked,
                    Ok(None) => return,
                    Err(error) => {
                        tracing::error!(%error, "counting the older audit records for the statistics failed; it goes on at the next start");
                        return;
                    }
                };
                drop(current);
                pacer.rest_after(worked).await;
            }
        })
    }
}
