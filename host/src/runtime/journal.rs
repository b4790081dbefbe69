//! A call's audit events on their way to the writer, in the order the call
//! made them. The gatekeeper adds each event as it happens. A storage
//! change takes every event so far into its own submission (applied in the
//! transaction of its record), and so does an outbound request when it
//! ends: its record is handed to the writer then, after every event of the
//! call before it, without waiting for the call to end, so a request that
//! reached another service is on record even if the call never ends (a
//! crash). What is left is written when the call ends.

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::audit::{AuditError, AuditWriter, QueuePlace, Receipt};
use crate::model::audit::AuditEvent;
use crate::store::ChangeEntry;

/// One call's events not yet handed over, and the receipts of those handed
/// over while it ran.
#[derive(Debug)]
pub struct Journal {
    writer: AuditWriter,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    events: Vec<AuditEvent>,
    handed: Vec<Receipt>,
    /// The call has ended: what comes now is written with its end.
    closed: bool,
}

impl Journal {
    /// The journal of a call whose records go to `writer`.
    pub fn new(writer: AuditWriter) -> Self {
        Self { writer, inner: Mutex::default() }
    }

    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds an event after every one before it.
    pub fn push(&self, event: AuditEvent) {
        self.inner().events.push(event);
    }

    /// Hands every event so far, then `change` with its record, to the
    /// writer at `place`; the receipt says when they are durable.
    pub fn send_change(&self, place: QueuePlace<'_>, change: ChangeEntry) -> Receipt {
        let mut inner = self.inner();
        let events = std::mem::take(&mut inner.events);
        place.send(events, Some(change))
    }

    /// Hands every event so far and the one `make` builds to the writer
    /// now, without waiting; once the call has ended, nothing (`make` is not
    /// called: the call's end writes it). With the writer's queue full the
    /// events stay here, in order, for the call's end.
    pub fn write_now(&self, make: impl FnOnce() -> AuditEvent) {
        let mut inner = self.inner();
        if inner.closed {
            return;
        }
        let event = make();
        inner.events.push(event);
        if let Some(place) = self.writer.try_place() {
            let events = std::mem::take(&mut inner.events);
            let receipt = place.send(events, None);
            inner.handed.push(receipt);
        }
    }

    /// The call has ended: from now on [`Journal::write_now`] leaves its
    /// event to the call's end.
    pub fn close(&self) {
        self.inner().closed = true;
    }

    /// The events not handed over yet, and the receipts of those that were.
    pub fn take(&self) -> (Vec<AuditEvent>, Vec<Receipt>) {
        let mut inner = self.inner();
        (std::mem::take(&mut inner.events), std::mem::take(&mut inner.handed))
    }

    /// The writer's place for a change, waiting while its queue is full.
    pub async fn place(&self) -> Result<QueuePlace<'_>, AuditError> {
        self.writer.place().await
    }
}
