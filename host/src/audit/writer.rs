//! The audit writer: one task that appends the records of all concurrent
//! calls in as few transactions as possible (group commit). While one batch
//! is being committed, new submissions queue; the next transaction takes them
//! all. A submitter's future resolves only once its records are durable.

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::chain;
use crate::model::audit::{AuditEvent, AuditRecord};
use crate::store::AuditLog;

/// Writer settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditWriterConfig {
    /// The most records committed in one transaction.
    pub max_batch_records: usize,
    /// How many submissions may wait before submitters are slowed down.
    pub queue_depth: usize,
}

impl Default for AuditWriterConfig {
    fn default() -> Self {
        Self { max_batch_records: 8_192, queue_depth: 16_384 }
    }
}

/// Why records could not be made durable. The call they belong to must fail.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AuditError {
    /// The transaction failed; nothing of the batch was written.
    #[error("audit records could not be written: {0}")]
    Write(String),
    /// The writer has shut down.
    #[error("the audit writer has stopped")]
    Stopped,
}

struct Submission {
    events: Vec<AuditEvent>,
    done: oneshot::Sender<Result<Vec<AuditRecord>, AuditError>>,
}

/// Handle to the writer task; cheap to clone.
#[derive(Debug, Clone)]
pub struct AuditWriter {
    queue: mpsc::Sender<Submission>,
}

impl std::fmt::Debug for Submission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submission").field("events", &self.events.len()).finish()
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
        let (done, receipt) = oneshot::channel();
        self.queue.send(Submission { events, done }).await.map_err(|_| AuditError::Stopped)?;
        receipt.await.map_err(|_| AuditError::Stopped)?
    }

    /// Queues `events` without waiting for them (for code that cannot wait,
    /// such as a `Drop`); false when the queue is full or the writer stopped.
    pub fn submit(&self, events: Vec<AuditEvent>) -> bool {
        let (done, _) = oneshot::channel();
        self.queue.try_send(Submission { events, done }).is_ok()
    }
}

async fn run(
    store: Arc<dyn AuditLog>,
    key: SigningKey,
    config: AuditWriterConfig,
    mut receiver: mpsc::Receiver<Submission>,
) {
    let signer = chain::ChainSigner::new(key);
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        let mut records = batch[0].events.len();
        while records < config.max_batch_records {
            match receiver.try_recv() {
                Ok(next) => {
                    records += next.events.len();
                    batch.push(next);
                }
                Err(_) => break,
            }
        }
        let sizes: Vec<usize> = batch.iter().map(|s| s.events.len()).collect();
        let (events, senders): (Vec<_>, Vec<_>) = batch.into_iter().map(|s| (s.events, s.done)).unzip();
        let events: Vec<AuditEvent> = events.into_iter().flatten().collect();
        tracing::trace!(records = events.len(), submissions = sizes.len(), "audit batch");
        metrics::histogram!("workbench_audit_batch_records").record(events.len() as f64);
        match store.append_audit(events, &signer).await {
            Ok(written) => {
                let mut written = written.into_iter();
                for (size, sender) in sizes.into_iter().zip(senders) {
                    let _ = sender.send(Ok(written.by_ref().take(size).collect()));
                }
            }
            Err(error) => {
                tracing::error!(%error, "audit batch failed");
                for sender in senders {
                    let _ = sender.send(Err(AuditError::Write(error.to_string())));
                }
            }
        }
    }
}
