//! Refused invocations (rate and concurrency limits) in the audit log,
//! without letting a flood flood the log: the first refusal of a member in a
//! window is recorded at once, the rest of that window are counted and
//! recorded as one record with the count when the window ends (or when the
//! host stops). No refusal is answered without its record: the first of a
//! window only once its record is durable (when it cannot be written the
//! caller is answered `audit_unavailable`, and the window stays closed, so
//! the next refusal is written on its own); a window's count is kept until
//! its summary is durable (a failed write puts it back for the next flush).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use crate::model::audit::{Action, AuditEvent, Outcome};

use crate::audit::{AuditError, AuditWriter};
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
    /// Whether the window's first record became durable (`None` while it
    /// is being written).
    recorded: tokio::sync::watch::Sender<Option<bool>>,
}

/// A refusal counted in an open window, or the first of a new one.
enum Opened {
    /// Counted; the window's first record is being (or was) written.
    Counted(tokio::sync::watch::Receiver<Option<bool>>),
    /// The first: its record (after the summary of the window it closed).
    First { events: Vec<AuditEvent>, recorded: tokio::sync::watch::Sender<Option<bool>>, closed: Option<Window> },
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
                log.flush_due(|w| w.started.elapsed() >= log.window).await;
                if let Some(admission) = admission.upgrade() {
                    admission.forget_idle();
                }
            }
        });
        log
    }

    /// Writes the summaries of every open window now (at shutdown, before
    /// the writer stops); a summary that cannot be written is logged.
    pub async fn flush(&self) {
        self.flush_due(|_| true).await;
    }

    /// Writes the summaries of the windows `due` picks; those whose write
    /// fails go back into their windows' counts.
    async fn flush_due(&self, due: impl Fn(&Window) -> bool) {
        let windows = self.take_windows(due);
        if windows.is_empty() {
            return;
        }
        let summaries = windows.iter().map(|(key, window)| self.summary(key, window)).collect();
        if let Err(error) = self.writer.append(summaries).await {
            tracing::warn!(%error, "the counts of refused invocations could not be audited yet; kept for the next try");
            let mut open = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
            for (key, window) in windows {
                match open.get_mut(&key) {
                    Some(newer) => newer.more += window.more,
                    None => {
                        open.insert(key, window);
                    }
                }
            }
        }
    }

    /// Notes that `member`'s call of `plugin` was refused by `limit`, and
    /// returns once the window's first record is durable; when it cannot be
    /// written, the error says so (the refusal must then not be answered as
    /// one: its record is missing).
    pub async fn refused(
        self: &Arc<Self>,
        tenant: &str,
        member: &str,
        plugin: &str,
        limit: &str,
    ) -> Result<(), AuditError> {
        let key = (tenant.to_owned(), member.to_owned());
        let mut recorded = match self.open_window(&key, tenant, member, plugin, limit) {
            Opened::Counted(recorded) => recorded,
            Opened::First { events, recorded, closed } => {
                let answer = recorded.subscribe();
                // Written in a task of its own: a caller that goes away
                // cannot leave its window waiting for a write never made.
                let log = Arc::clone(self);
                tokio::spawn(async move { log.write_first(key, events, recorded, closed).await });
                answer
            }
        };
        match recorded.wait_for(Option::is_some).await.map(|written| *written) {
            Ok(Some(true)) => Ok(()),
            _ => Err(AuditError::Write("the refusal's record could not be written".into())),
        }
    }

    /// Writes a window's first record (after the summary of the window it
    /// closed) and says how that went to every refusal waiting on it.
    async fn write_first(
        &self,
        key: (String, String),
        events: Vec<AuditEvent>,
        recorded: tokio::sync::watch::Sender<Option<bool>>,
        closed: Option<Window>,
    ) {
        let written = self.writer.append(events).await;
        if let Err(error) = &written {
            tracing::warn!(tenant = key.0, member = key.1, %error, "a refused invocation could not be audited");
            // Not recorded, so no window: the next refusal is written on its
            // own. A closed window's count that went with it is kept.
            let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
            windows.remove(&key);
            if let Some(closed) = closed {
                windows.insert(key, closed);
            }
        }
        recorded.send_replace(Some(written.is_ok()));
    }

    /// Counts the refusal in `key`'s open window, or opens one (closing an
    /// elapsed one) with the records to write.
    fn open_window(&self, key: &(String, String), tenant: &str, member: &str, plugin: &str, limit: &str) -> Opened {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let mut closed = None;
        if let Some(open) = windows.get_mut(key) {
            if open.started.elapsed() < self.window {
                open.more += 1;
                limit.clone_into(&mut open.limit);
                plugin.clone_into(&mut open.plugin);
                return Opened::Counted(open.recorded.subscribe());
            }
            closed = windows.remove(key).filter(|w| w.more > 0);
        }
        let (recorded, _) = tokio::sync::watch::channel(None);
        let window = Window {
            started: Instant::now(),
            started_ms: crate::now_ms(),
            more: 0,
            limit: limit.to_owned(),
            plugin: plugin.to_owned(),
            recorded: recorded.clone(),
        };
        windows.insert(key.to_owned(), window);
        let event = AuditEvent {
            subject: Some(member.to_owned()),
            reason: Some(format!("too_many_requests: {}: {limit}", short(plugin))),
            ..AuditEvent::new(tenant, format!("member:{member}"), ACTION, Outcome::Denied)
        };
        let summary = closed.as_ref().map(|w| self.summary(key, w));
        Opened::First { events: summary.into_iter().chain([event]).collect(), recorded, closed }
    }

    /// Takes out the windows `due` picks that counted refusals after their first.
    fn take_windows(&self, due: impl Fn(&Window) -> bool) -> Vec<((String, String), Window)> {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let keys: Vec<_> = windows.iter().filter(|(_, w)| due(w)).map(|(k, _)| k.clone()).collect();
        keys.into_iter().filter_map(|key| windows.remove(&key).filter(|w| w.more > 0).map(|w| (key, w))).collect()
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
        // After `flush`, nothing is left here; this catches a log dropped
        // without one.
        let left: Vec<_> = self.take_windows(|_| true).iter().map(|(key, w)| self.summary(key, w)).collect();
        if !left.is_empty() && !self.writer.submit(left) {
            tracing::warn!("the counts of refused invocations could not be audited at shutdown");
        }
    }
}

/// A plugin id as the caller sent it, cut to what an id can be.
fn short(plugin: &str) -> &str {
    &plugin[..plugin.floor_char_boundary(64)]
}
