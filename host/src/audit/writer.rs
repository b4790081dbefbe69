//! The audit writer: one task that appends the records of all concurrent
//! calls in as few transactions as possible (group commit). While one batch
//! is being committed, new submissions queue; the next transaction takes them
//! all. A submitter's future resolves only once its records are durable.
//!
//! A submission may end with a storage change ([`ChangeEntry`]): it is
//! applied in the batch's transaction, before its record is linked, so a
//! change and its record are committed together or not at all.
//!
//! Every event is cut to the record bounds before it is queued
//! ([`AuditEvent::bounded`]); should the store still refuse a batch, its
//! submissions are written again one by one, so that only the one the store
//! refuses fails and its neighbours do not.

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::chain;
use crate::model::audit::{AuditEvent, AuditRecord};
use crate::store::{AuditEntry, AuditLog, ChangeEntry, EntryWritten};

/// Writer settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditWriterConfig {
    /// The most records committed in one transaction.
    pub max_batch_records: usize,
    /// How many submissions may wait before submitters are slowed down.
    pub queue_depth: usize,
    /// How long, after a call has ended (at the latest its deadline), its
    /// answer waits for its records to be durable, in ms. Past it the
    /// answer is 503 `audit_unavailable`, and the records' fate is still
    /// logged when it is known. `server.request_timeout_secs` must leave
    /// room for the deadline and this.
    pub durable_within_ms: u64,
}

impl Default for AuditWriterConfig {
    fn default() -> Self {
        Self { max_batch_records: 8_192, queue_depth: 16_384, durable_within_ms: 10_000 }
    }
}

/// Why records could not be made durable. The call they belong to must fail.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuditError {
    /// The transaction failed; nothing of the submission was written.
    #[error("audit records could not be written: {0}")]
    Write(String),
    /// The writer has shut down.
    #[error("the audit writer has stopped")]
    Stopped,
}

/// What a submission becomes, once its batch has committed or failed.
pub type Receipt = oneshot::Receiver<Result<EntryWritten, AuditError>>;

struct Submission {
    entry: AuditEntry,
    done: oneshot::Sender<Result<EntryWritten, AuditError>>,
}

/// Work run by the writer between its batches (see [`AuditWriter::run_between`]).
pub type Job = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// What the writer is handed: a submission, or a job to run between batches.
// Submissions are nearly all of it: boxing them would cost each an allocation.
#[allow(clippy::large_enum_variant)]
enum Queued {
    Submission(Submission),
    Job(Job),
}

/// Handle to the writer task; cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditWriter {
    queue: mpsc::Sender<Queued>,
}

impl std::fmt::Debug for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Queued::Submission(s) => s.fmt(f),
            Queued::Job(_) => f.write_str("Job"),
        }
    }
}

impl std::fmt::Debug for Submission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submission").field("events", &self.entry.events.len()).finish_non_exhaustive()
    }
}

/// A place in the writer's queue, held before anything is handed over: a
/// submitter cut off while waiting for one has given nothing away.
#[derive(Debug)]
pub struct QueuePlace<'a> {
    permit: mpsc::Permit<'a, Queued>,
}

impl QueuePlace<'_> {
    /// Queues `events`, then `change` (if any) with its record; never waits.
    pub fn send(self, events: Vec<AuditEvent>, change: Option<ChangeEntry>) -> Receipt {
        let (done, receipt) = oneshot::channel();
        self.permit.send(Queued::Submission(Submission { entry: bounded(events, change), done }));
        receipt
    }
}

fn bounded(events: Vec<AuditEvent>, change: Option<ChangeEntry>) -> AuditEntry {
    AuditEntry {
        events: events.into_iter().map(AuditEvent::bounded).collect(),
        change: change.map(|c| ChangeEntry { event: c.event.bounded(), ..c }),
    }
}

impl AuditWriter {
    /// Starts the writer task. It stops once every handle is dropped and the
    /// queue is drained; await the returned handle to know it flushed.
    pub fn spawn(store: Arc<dyn AuditLog>, key: SigningKey, config: AuditWriterConfig) -> (Self, JoinHandle<()>) {
        let (queue, receiver) = mpsc::channel(config.queue_depth.max(1));
        let task = tokio::spawn(run(store, key, config, receiver));
        (Self { queue }, task)
    }

    /// Appends `events` and waits until they are durable.
    pub async fn append(&self, events: Vec<AuditEvent>) -> Result<Vec<AuditRecord>, AuditError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let receipt = self.place().await?.send(events, None);
        Ok(receipt.await.map_err(|_| AuditError::Stopped)??.records)
    }

    /// A place in the queue, waiting while it is full (cancel-safe).
    pub async fn place(&self) -> Result<QueuePlace<'_>, AuditError> {
        let permit = self.queue.reserve().await.map_err(|_| AuditError::Stopped)?;
        Ok(QueuePlace { permit })
    }

    /// A place in the queue now, or `None` when it is full or the writer stopped.
    pub fn try_place(&self) -> Option<QueuePlace<'_>> {
        self.queue.try_reserve().ok().map(|permit| QueuePlace { permit })
    }

    /// Runs `job` in the writer's task between two of its batches, and
    /// waits for it: on SQLite, where the writer is the one that holds the
    /// database's write lock, other writing work queued here (the retention
    /// purge's deletions) takes turns with the audit batches instead of
    /// contending for the lock with them.
    pub async fn run_between(&self, job: Job) -> Result<(), AuditError> {
        let (done, finished) = oneshot::channel::<()>();
        let job: Job = Box::pin(async move {
            job.await;
            let _ = done.send(());
        });
        self.queue.send(Queued::Job(job)).await.map_err(|_| AuditError::Stopped)?;
        finished.await.map_err(|_| AuditError::Stopped)
    }

    /// Queues `events` without waiting for them (for code that cannot wait,
    /// such as a `Drop`); false when the queue is full or the writer stopped.
    pub fn submit(&self, events: Vec<AuditEvent>) -> bool {
        match self.try_place() {
            Some(place) => {
                drop(place.send(events, None));
                true
            }
            None => false,
        }
    }
}

async fn run(
    store: Arc<dyn AuditLog>,
    key: SigningKey,
    config: AuditWriterConfig,
    mut receiver: mpsc::Receiver<Queued>,
) {
    let signer = chain::ChainSigner::new(key);
    let mut jobs: Vec<Job> = Vec::new();
    while let Some(first) = receiver.recv().await {
        let first = match first {
            Queued::Submission(first) => first,
            Queued::Job(job) => {
                job.await;
                continue;
            }
        };
        let mut records = first.entry.events.len() + usize::from(first.entry.change.is_some());
        let mut batch = vec![first];
        while records < config.max_batch_records {
            match receiver.try_recv() {
                Ok(Queued::Submission(next)) => {
                    records += next.entry.events.len() + usize::from(next.entry.change.is_some());
                    batch.push(next);
                }
                // A job waits for the batch it came in behind.
                Ok(Queued::Job(job)) => jobs.push(job),
                Err(_) => break,
            }
        }
        let (entries, senders): (Vec<_>, Vec<_>) = batch.into_iter().map(|s| (s.entry, s.done)).unzip();
        tracing::trace!(records, submissions = entries.len(), "audit batch");
        metrics::histogram!("workbench_audit_batch_records").record(records as f64);
        match store.append_entries(&entries, &signer).await {
            Ok(written) => {
                for (written, sender) in written.into_iter().zip(senders) {
                    let _ = sender.send(Ok(written));
                }
            }
            Err(error) if entries.len() > 1 => {
                // One submission the store refuses must not fail the others:
                // each is written again on its own (nothing of the batch was).
                tracing::warn!(%error, submissions = entries.len(), "audit batch failed; writing its submissions one by one");
                metrics::counter!("workbench_audit_batch_retries_total").increment(1);
                for (entry, sender) in entries.iter().zip(senders) {
                    let alone = store.append_entries(std::slice::from_ref(entry), &signer).await;
                    let _ = sender.send(alone.map_err(|error| failed(&error)).and_then(|written| {
                        written.into_iter().next().ok_or_else(|| AuditError::Write("no record came back".into()))
                    }));
                }
            }
            Err(error) => {
                let error = failed(&error);
                for sender in senders {
                    let _ = sender.send(Err(error.clone()));
                }
            }
        }
        for job in jobs.drain(..) {
            job.await;
        }
    }
}

fn failed(error: &crate::store::StoreError) -> AuditError {
    tracing::error!(%error, "audit records could not be written");
    metrics::counter!("workbench_audit_write_failures_total").increment(1);
    AuditError::Write(error.to_string())
}
