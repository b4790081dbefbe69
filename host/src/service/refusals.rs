//! Refused invocations (rate and concurrency limits) in the audit log,
//! without letting a flood flood the log: the first refusal of a member in a
//! window is recorded at once, the rest of that window are counted and
//! recorded as one record with the count when the window ends (or when the
//! host stops).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use crate::model::audit::{Action, AuditEvent, Outcome};

use crate::audit::AuditWriter;
use crate::runtime::admission::Admission;

/// Audit action of a refused invocation.
pub const ACTION: Action = Action::InvokeRefused;

#[derive(Debug)]
struct Window {
    started: Instant,
    started_ms: i64,
    /// Refusals after the first one, not yet recorded.
    more: u64,
    /// The limit of the latest of them.
    limit: String,
    plugin: String,
}

/// The refusal log of one host.
#[derive(Debug)]
pub struct RefusalLog {
    writer: AuditWriter,
    window: Duration,
    windows: Mutex<HashMap<(String, String), Window>>,
}

impl RefusalLog {
    /// Starts the log and its flusher, which also lets the rate limiter
    /// forget idle members; both stop when the log is dropped.
    pub fn start(writer: AuditWriter, window: Duration, admission: &Arc<Admission>) -> Arc<Self> {
        let window = window.max(Duration::from_secs(1));
        let log = Arc::new(Self { writer, window, windows: Mutex::new(HashMap::new()) });
        let weak: Weak<Self> = Arc::downgrade(&log);
        let admission = Arc::downgrade(admission);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(window);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(log) = weak.upgrade() else { break };
                let due = log.take(|w| w.started.elapsed() >= log.window);
                if !due.is_empty() && log.writer.append(due).await.is_err() {
                    tracing::warn!("the counts of refused invocations could not be audited");
                }
                if let Some(admission) = admission.upgrade() {
                    admission.forget_idle();
                }
            }
        });
        log
    }

    /// Notes that `member`'s call of `plugin` was refused by `limit`; the
    /// first refusal of a window is made durable before this returns.
    pub async fn refused(&self, tenant: &str, member: &str, plugin: &str, limit: &str) {
        let key = (tenant.to_owned(), member.to_owned());
        let first = {
            let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
            let mut closed = None;
            if let Some(open) = windows.get_mut(&key) {
                if open.started.elapsed() < self.window {
                    open.more += 1;
                    limit.clone_into(&mut open.limit);
                    plugin.clone_into(&mut open.plugin);
                    return;
                }
                closed = windows.remove(&key).filter(|w| w.more > 0).map(|w| self.summary(&key, &w));
            }
            windows.insert(
                key.clone(),
                Window {
                    started: Instant::now(),
                    started_ms: crate::now_ms(),
                    more: 0,
                    limit: limit.to_owned(),
                    plugin: plugin.to_owned(),
                },
            );
            let event = AuditEvent {
                subject: Some(member.to_owned()),
                reason: Some(format!("too_many_requests: {}: {limit}", short(plugin))),
                ..AuditEvent::new(tenant, format!("member:{member}"), ACTION, Outcome::Denied)
            };
            closed.into_iter().chain([event]).collect::<Vec<_>>()
        };
        if self.writer.append(first).await.is_err() {
            tracing::warn!(tenant, member, "a refused invocation could not be audited");
        }
    }

    fn take(&self, due: impl Fn(&Window) -> bool) -> Vec<AuditEvent> {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let keys: Vec<_> = windows.iter().filter(|(_, w)| due(w)).map(|(k, _)| k.clone()).collect();
        keys.into_iter()
            .filter_map(|key| windows.remove(&key).filter(|w| w.more > 0).map(|w| self.summary(&key, &w)))
            .collect()
    }

    fn summary(&self, (tenant, member): &(String, String), window: &Window) -> AuditEvent {
        let seconds = (crate::now_ms() - window.started_ms).max(0) / 1000;
        AuditEvent {
            subject: Some(member.clone()),
            reason: Some(format!(
                "too_many_requests: {} more refused in the {seconds} s after the first (latest: {}: {})",
                window.more,
                short(&window.plugin),
                window.limit
            )),
            ..AuditEvent::new(tenant, format!("member:{member}"), ACTION, Outcome::Denied)
        }
    }
}

impl Drop for RefusalLog {
    fn drop(&mut self) {
        let left = self.take(|_| true);
        if !left.is_empty() && !self.writer.submit(left) {
            tracing::warn!("the counts of refused invocations could not be audited at shutdown");
        }
    }
}

/// A plugin id as the caller sent it, cut to what an id can be.
fn short(plugin: &str) -> &str {
    &plugin[..plugin.floor_char_boundary(64)]
}
