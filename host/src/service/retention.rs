//! Retention enforced: the purge. For each tenant it deletes the audit
//! records older than the tenant's period (never under the operator's
//! floor) as a prefix of the chain, after a signed anchor that says where
//! the kept history starts; the person buckets of plugin storage untouched
//! for longer than the tenant's storage period (a departed member's
//! consents, storage, openings and requests go at their removal; the records
//! about them stay for the audit period). The anchor, those deletions and the
//! purge's own record (`retention.purge`, with its counts) commit together;
//! the records themselves then go in short transactions, so invocations
//! audited meanwhile barely wait, and a purge that stops half-way is
//! finished by the next. So do the event deliveries settled `[events]
//! keep_days` ago and the events no delivery needs any more. The
//! verification walk and the deletions are paced
//! (`[retention] purge_share_percent`, see [`Pacer`]): the purge works a
//! twentieth of the time by default and the calls beside it keep their
//! latency. One runner per deployment: on PostgreSQL the
//! purge holds an advisory lock, and a replica that finds it held skips.

use std::sync::Arc;

use serde::Serialize;

use super::{Actor, ServiceError, ServiceResult, Workbench};
use crate::model::audit::{Action, AuditEvent, Outcome};
use crate::model::settings::Retention;
use crate::pace::Pacer;
use crate::store::{Store, StoreResult};

/// A batch of deletions, run where [`Workbench::in_turn`] puts it.
type BoxFuture<T> = std::pin::Pin<Box<dyn Future<Output = T> + Send>>;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// What a purge did in one tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PurgeReport {
    /// Tenant.
    pub tenant: String,
    /// The days its audit records are kept (its setting, at least the floor).
    pub audit_days: u32,
    /// Where its kept history starts now: the seq of its latest anchor (0: none).
    pub anchored_seq: i64,
    /// Audit records deleted by this run (also those an interrupted run left).
    pub audit_records_deleted: u64,
    /// Plugin storage entries deleted.
    pub storage_entries_deleted: u64,
    /// Settled event deliveries deleted (`[events] keep_days` after they
    /// settled).
    pub deliveries_deleted: u64,
    /// Events deleted (accepted `keep_days` ago, no delivery left).
    pub events_deleted: u64,
    /// The purge's own audit record; absent when there was nothing to purge.
    pub audit_seq: Option<i64>,
    /// Why nothing was purged in this tenant (its chain does not verify up
    /// to the boundary, or the store failed); the other tenants go on.
    pub error: Option<String>,
}

impl Workbench {
    /// Purges every tenant as of `now_ms`; `None` when another runner is
    /// purging (PostgreSQL), else what it did per tenant.
    pub async fn purge(&self, now_ms: i64) -> ServiceResult<Option<Vec<PurgeReport>>> {
        let Some(lock) = self.store.try_purge_lock().await? else {
            tracing::debug!("another replica is purging");
            return Ok(None);
        };
        let mut reports = Vec::new();
        let tenants = self.store.retention_tenants().await;
        for (tenant, retention) in tenants.as_deref().unwrap_or_default() {
            match self.purge_tenant(tenant, *retention, now_ms).await {
                Ok(report) => reports.push(report),
                Err(error) => {
                    tracing::error!(%tenant, %error, "retention purge failed; the other tenants go on");
                    metrics::counter!("workbench_retention_purge_failures_total").increment(1);
                    reports.push(PurgeReport {
                        tenant: tenant.clone(),
                        error: Some(error.to_string()),
                        ..PurgeReport::default()
                    });
                }
            }
        }
        lock.release().await;
        tenants?;
        Ok(Some(reports))
    }

    async fn purge_tenant(&self, tenant: &str, retention: Retention, now_ms: i64) -> ServiceResult<PurgeReport> {
        let audit_days = retention.audit_days.max(self.retention.audit_floor_days);
        let cutoff = now_ms - i64::from(audit_days) * DAY_MS;
        let anchored = self.store.audit_anchors(tenant).await?.last().map_or(0, |a| a.seq);
        let mut pacer = Pacer::new(self.retention.purge_share_percent);
        let boundary = self.store.purge_boundary(tenant, anchored, cutoff).await?;
        if let Some(head) = boundary {
            // Only records that verify, up to a signed checkpoint past them,
            // are anchored and deleted: a rewritten `ts` (or anything else)
            // stops the purge instead of being signed over.
            let ring = self.key_ring().await?;
            let checked =
                crate::audit::verify::verify_through(self.store.as_ref(), tenant, &ring, head.seq, &mut pacer).await?;
            if let Some(error) = checked.error {
                return Err(ServiceError::Conflict(format!(
                    "the audit chain of {tenant} does not verify up to record {} ({error}); nothing purged",
                    head.seq
                )));
            }
        }
        let storage_cutoff = retention.plugin_storage_days.map(|days| now_ms - i64::from(days) * DAY_MS);
        let anchor = boundary.map(|head| self.chain.anchor(tenant, head, crate::now_ms()));
        let reason = match boundary {
            Some(head) => format!("audit records {}..{} older than {audit_days} days", anchored + 1, head.seq),
            None => format!("no audit record older than {audit_days} days"),
        };
        let event = AuditEvent {
            reason: Some(reason),
            ..AuditEvent::new(tenant, Actor::Host("retention").to_string(), Action::RetentionPurge, Outcome::Allowed)
        };
        let record = crate::store::ChangeRecord { event, chaining: &self.chain, receipt: None };
        let swept = self.store.sweep(tenant, storage_cutoff, anchor.as_ref(), record).await?;
        let mut report = PurgeReport {
            tenant: tenant.to_owned(),
            audit_days,
            anchored_seq: anchor.as_ref().map_or(anchored, |a| a.seq),
            ..PurgeReport::default()
        };
        if let Some((swept, record)) = swept {
            report.storage_entries_deleted = swept.storage_entries;
            report.audit_seq = Some(record.seq);
        }
        let batch = self.retention.purge_batch_records.max(1);
        loop {
            let (owned, through) = (tenant.to_owned(), report.anchored_seq);
            let (deleted, worked) = self
                .in_turn(move |store| Box::pin(async move { store.delete_audit_through(&owned, through, batch).await }))
                .await?;
            report.audit_records_deleted += deleted;
            if deleted < u64::from(batch) {
                break;
            }
            pacer.rest_after(worked).await;
        }
        // Settled deliveries and their events, after `[events] keep_days`.
        let before = now_ms - i64::from(self.events.keep_days) * DAY_MS;
        loop {
            let owned = tenant.to_owned();
            let ((deliveries, events), worked) = self
                .in_turn(move |store| Box::pin(async move { store.purge_events(&owned, before, batch).await }))
                .await?;
            report.deliveries_deleted += deliveries;
            report.events_deleted += events;
            if deliveries < u64::from(batch) && events < u64::from(batch) {
                break;
            }
            pacer.rest_after(worked).await;
        }
        if report.audit_seq.is_some() {
            tracing::info!(?report, "retention purge");
        }
        Ok(report)
    }

    /// Runs one batch of deletions, `work`; what it returned and how long it
    /// took. On SQLite it runs in the audit writer's task between two of its
    /// batches, so it never contends with them for the one write lock (an
    /// audited call waits for at most one batch of deletions); on PostgreSQL
    /// the rows do not conflict and it runs beside them.
    pub(super) async fn in_turn<T, F>(&self, work: F) -> ServiceResult<(T, std::time::Duration)>
    where
        T: Send + 'static,
        F: FnOnce(Arc<dyn Store>) -> BoxFuture<StoreResult<T>> + Send + 'static,
    {
        let store = Arc::clone(&self.store);
        if !self.store.one_writer() {
            let started = std::time::Instant::now();
            let value = work(store).await?;
            return Ok((value, started.elapsed()));
        }
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let job: crate::audit::writer::Job = Box::pin(async move {
            let started = std::time::Instant::now();
            let value = work(store).await;
            let _ = sender.send((value, started.elapsed()));
        });
        self.audit.run_between(job).await?;
        let (value, worked) =
            receiver.await.map_err(|_| ServiceError::Internal("the purge's deletion was dropped".into()))?;
        Ok((value?, worked))
    }

    /// Purges every `every` until the process ends (the first run after one period).
    pub fn spawn_purges(self: &Arc<Self>, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        let workbench = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let Some(workbench) = workbench.upgrade() else { return };
                if let Err(error) = workbench.purge(crate::now_ms()).await {
                    tracing::error!(%error, "the scheduled retention purge failed; it runs again next period");
                }
            }
        })
    }
}
