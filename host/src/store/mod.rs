//! Persistence, one file per aggregate: [`directory`] (tenants, members),
//! [`registry`] (published versions), [`installations`], [`consents`] (and
//! the invocation context), [`kv`] (plugin storage), [`settings`],
//! [`events`] (the outbox), [`notifications`] (members' inboxes) and
//! [`audit`] (chained records and checkpoints) with [`stats`] (their rollup). Each has its own small trait;
//! [`Store`] is all of them, and a layer that needs less takes less (the
//! runtime takes [`CallStore`]). The one implementation, [`SqlStore`] in
//! [`backend`], runs the same statements on SQLite (embedded, the default)
//! and PostgreSQL (replicas). No SQL lives outside this module.

pub mod audit;
pub mod backend;
pub mod consents;
mod contexts;
pub mod departments;
mod dialect;
pub mod directory;
pub mod events;
mod generations;
pub mod installations;
pub mod keys;
pub mod kv;
pub mod notifications;
pub mod receipts;
pub mod registry;
pub mod retention;
pub mod runs;
pub mod self_service;
pub mod settings;
pub mod stats;
pub mod upgrades;

use std::sync::Arc;

pub use audit::{AuditEntry, AuditLog, ChangeEntry, ChangeRecord, EntryWritten};
pub use backend::SqlStore;
pub use consents::Consents;
pub use departments::Departments;
pub use dialect::Backend;
pub use directory::{Directory, Profiles};
pub use events::{Accepted, Claimed, DeliveryView, Events, Finish, NewEvent, StoredEvent, subscription_name};
pub use installations::Installations;
pub use keys::AuditKeys;
pub use kv::{Kv, KvBucket, KvEntry, QuotaExceeded, StorageChange, StorageOp, StorageOutcome};
pub use notifications::Notifications;
pub use receipts::{IssuedReceipt, ReceiptEntry, Receipting, Receipts};
pub use registry::Registry;
pub use retention::{PurgeLock, Purges, Swept};
pub use runs::Runs;
pub use self_service::SelfService;
pub use settings::Settings;
pub use stats::{AuditStats, Backfill};
pub use upgrades::Upgrades;

use crate::model::consent::ConsentSet;
use crate::model::directory::MemberProfile;
use crate::model::installation::Installation;

/// A storage failure. Messages are for logs; clients only see a generic error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed or is unreachable.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    /// A stored value could not be decoded (a bug or a tampered row).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The row that should exist does not.
    #[error("not found: {0}")]
    NotFound(String),
    /// The write conflicts with an existing row.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The configuration names something this build cannot use.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The task running a store call ended without an answer.
    #[error("store task failed: {0}")]
    Task(String),
}

/// Result of store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// What an invocation is judged in (see [`Consents::invocation_context`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvocationContext {
    /// The member's profile; `None` when they are not in the tenant's directory.
    pub profile: Option<Arc<MemberProfile>>,
    /// The plugin's installation in the tenant, if any, with its visible
    /// range decided for the member and narrowed to them (only them, or
    /// nobody).
    pub installation: Option<Arc<Installation>>,
    /// The member's latest consents to the plugin.
    pub consents: Arc<ConsentSet>,
    /// When the member's sessions were last ended (ms; 0 for never): a
    /// token issued at or before it no longer speaks for them.
    pub sessions_ended_at_ms: i64,
}

/// Everything the host persists.
pub trait Store:
    Directory
    + Departments
    + Registry
    + Installations
    + SelfService
    + Upgrades
    + Consents
    + Settings
    + Kv
    + AuditLog
    + AuditStats
    + AuditKeys
    + Purges
    + Runs
    + Receipts
    + Events
    + Notifications
    + CallStore
{
}

impl<T> Store for T where
    T: Directory
        + Departments
        + Registry
        + Installations
        + SelfService
        + Upgrades
        + Consents
        + Settings
        + Kv
        + AuditLog
        + AuditStats
        + AuditKeys
        + Purges
        + Runs
        + Receipts
        + Events
        + Notifications
{
}

/// What a running plugin's host calls use: its storage, the caller's
/// profile, and the invocation context read again when the tenant changed.
pub trait CallStore: Kv + Profiles + Consents + Installations {}

impl<T: Kv + Profiles + Consents + Installations> CallStore for T {}
