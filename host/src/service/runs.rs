//! Plugin runs for their developers: every call of a plugin (a request or
//! an event) is tallied in memory by version, tenant, hour, how it ended
//! and how long it took; the tally is written every few seconds (on SQLite
//! in turn with the audit writer) and before a developer's view is read.
//! The view shows counts only: per version, across tenants, each tenant by
//! a rank and a tenant smaller than k members folded into `other`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{ServiceError, ServiceResult, Workbench};
use crate::model::audit::{Action, AuditEvent, Outcome};
use crate::model::runs::{DEFAULT_K, RunCount, RunKey, RunKind, RunsView, duration_bucket, view};
use crate::model::stats::HOUR_MS;
use crate::runtime::{CallError, TrapKind};

/// The calls counted since the last write.
#[derive(Debug, Default)]
pub struct RunTally {
    rows: Mutex<BTreeMap<RunKey, RunCount>>,
}

impl RunTally {
    fn take(&self) -> BTreeMap<RunKey, RunCount> {
        std::mem::take(&mut *self.rows.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    fn put_back(&self, rows: BTreeMap<RunKey, RunCount>) {
        let mut kept = self.rows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for (key, count) in rows {
            kept.entry(key).or_default().add(count);
        }
    }
}

/// How a call that ran ended, as the runs count it.
pub(super) fn run_kind<T>(result: &Result<T, CallError>) -> RunKind {
    match result {
        Ok(_) => RunKind::Ok,
        Err(CallError::Plugin(_)) => RunKind::PluginError,
        Err(CallError::Trap { kind: TrapKind::Deadline, .. }) => RunKind::Deadline,
        Err(CallError::Trap { .. }) => RunKind::Trap,
    }
}

/// How many of a call's records are outbound requests that failed or were refused.
pub(super) fn egress_failures<'a>(events: impl IntoIterator<Item = &'a AuditEvent>) -> usize {
    let request = Action::HttpRequest.as_str();
    events.into_iter().filter(|e| e.action == request && e.outcome != Outcome::Allowed).count()
}

/// One call, as the tally counts it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Run<'a> {
    pub tenant: &'a str,
    pub plugin: &'a str,
    /// `""` when refused before a version was chosen.
    pub version: &'a str,
    pub kind: RunKind,
    pub took: Duration,
    pub egress_failures: usize,
}

impl Workbench {
    /// Counts one call.
    pub(super) fn count_run(&self, run: Run<'_>) {
        let now = crate::now_ms();
        let key = RunKey {
            plugin: run.plugin.to_owned(),
            version: run.version.to_owned(),
            tenant: run.tenant.to_owned(),
            hour_ms: now.div_euclid(HOUR_MS) * HOUR_MS,
            kind: run.kind,
            bucket: if run.kind == RunKind::Refused {
                0
            } else {
                duration_bucket(u64::try_from(run.took.as_millis()).unwrap_or(u64::MAX))
            },
        };
        let count = RunCount { calls: 1, egress_failures: i64::try_from(run.egress_failures).unwrap_or(i64::MAX) };
        self.runs.rows.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).entry(key).or_default().add(count);
    }

    /// Writes the calls counted so far (kept for the next write if it fails).
    pub async fn flush_runs(&self) -> ServiceResult<()> {
        let rows = self.runs.take();
        if rows.is_empty() {
            return Ok(());
        }
        let written = Arc::new(rows);
        let batch = Arc::clone(&written);
        match self.in_turn(move |store| Box::pin(async move { store.add_runs(&batch).await })).await {
            Ok(_) => Ok(()),
            Err(error) => {
                self.runs.put_back(Arc::try_unwrap(written).unwrap_or_else(|shared| (*shared).clone()));
                Err(error)
            }
        }
    }

    /// Writes the tally every `every` until the workbench is dropped.
    pub fn spawn_run_flushes(self: &Arc<Self>, every: Duration) -> tokio::task::JoinHandle<()> {
        let workbench = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(workbench) = workbench.upgrade() else { return };
                if let Err(error) = workbench.flush_runs().await {
                    tracing::warn!(%error, "writing the plugin runs' counts failed; they are kept for the next try");
                }
            }
        })
    }

    /// What `developer` (of `tenant`) sees of the calls of their `plugin`
    /// between `from_ms` and `to_ms` (on hours).
    pub async fn plugin_runs(
        &self,
        tenant: &str,
        developer: &str,
        plugin: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> ServiceResult<RunsView> {
        // Its developer: who published its first version (a later publisher
        // of the same id does not see the calls of everyone's versions).
        let releases = self.store.plugin_releases(Some(plugin)).await?;
        let owner = releases.iter().min_by_key(|r| r.published_at_ms).map(|r| &r.publisher);
        if !owner.is_some_and(|p| p.tenant == tenant && p.member == developer) {
            return Err(ServiceError::NotFound(format!("no plugin {plugin} of yours")));
        }
        // This replica's latest calls too.
        self.flush_runs().await?;
        let rows = self.store.plugin_runs(plugin, from_ms, to_ms).await?;
        let mut tenants: Vec<String> = rows.keys().map(|key| key.tenant.clone()).collect();
        tenants.sort_unstable();
        tenants.dedup();
        let sizes = self.store.tenant_sizes(&tenants).await?;
        let members = |tenant: &str| sizes.get(tenant).copied().unwrap_or(0);
        Ok(view(plugin, from_ms, to_ms, DEFAULT_K, &rows, &members))
    }
}
