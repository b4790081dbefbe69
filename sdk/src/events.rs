//! Events: the workbench events and schedule ticks a plugin subscribes to
//! in `plugin.toml` (`[[events]]`, `[[schedules]]`), handled by
//! [`crate::Plugin::on_event`].
//!
//! Delivery is at least once: the same event may come again with the same
//! [`Event::id`] (after a failure, or when a host stopped mid-delivery).
//! Keep what an id did in [`crate::storage`] and do it once.

/// Whom an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// Nobody: only capabilities (storage, log) answer.
    Nobody,
    /// A person: the call runs with their consents, as if they had opened
    /// the plugin; read [`crate::profile::user_id`] to learn who.
    Person,
}

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event's id at this plugin, the same on every delivery of it.
    pub id: String,
    /// What happened: `approval.submitted`, `approval.decided`,
    /// `customer.assigned`, `member.joined`, `member.left`,
    /// `plugin.installed`, `plugin.upgraded`, or `schedule` for a tick.
    pub kind: String,
    /// When it happened, ms since the Unix epoch.
    pub time_ms: u64,
    /// Whom it is about.
    pub subject: Subject,
    /// Its details, a JSON object (see the API documentation for each kind).
    pub payload: String,
}
