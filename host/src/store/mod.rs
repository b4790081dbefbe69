//! Persistence: one [`Store`] trait; [`sqlite::SqliteStore`] is the embedded
//! backend. No SQL lives outside this module.

pub mod sqlite;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::audit::chain::Checkpoint;
use crate::audit::{AuditEvent, AuditRecord};
use crate::gate::{Consent, ConsentSet};
use crate::manifest::Manifest;
use crate::scope::{Scope, ScopeSet};

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
}

/// Result of store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// Gender as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    /// Male.
    Male,
    /// Female.
    Female,
    /// Not disclosed.
    #[default]
    Undisclosed,
}

/// Level of access to a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerAccess {
    /// View.
    View,
    /// Edit.
    Edit,
    /// Manage.
    Manage,
}

/// A member's permission on a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerPermission {
    /// Customer id.
    pub customer_id: String,
    /// Customer name.
    pub customer_name: String,
    /// Access level.
    pub access: CustomerAccess,
}

/// A member's permission on an approval process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalPermission {
    /// Process id.
    pub process_id: String,
    /// Process name.
    pub process_name: String,
    /// May approve.
    pub can_approve: bool,
    /// May initiate.
    pub can_initiate: bool,
    /// Approval limit in cents.
    #[serde(default)]
    pub max_amount_cents: Option<u64>,
}

/// A member's profile: the personal fields plugins may be given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MemberProfile {
    /// Real name.
    pub name: String,
    /// Nickname.
    #[serde(default)]
    pub nickname: Option<String>,
    /// Avatar URL.
    #[serde(default)]
    pub avatar: Option<String>,
    /// Gender.
    #[serde(default)]
    pub gender: Gender,
    /// Birthday, `YYYY-MM-DD`.
    #[serde(default)]
    pub birthday: Option<String>,
    /// Work region.
    #[serde(default)]
    pub region: Option<String>,
    /// Enterprise email.
    #[serde(default)]
    pub email: Option<String>,
    /// Mobile number.
    #[serde(default)]
    pub phone: Option<String>,
    /// Department.
    #[serde(default)]
    pub department: Option<String>,
    /// Job title.
    #[serde(default)]
    pub title: Option<String>,
    /// Roles in the tenant: admin, member, developer.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Customer permissions.
    #[serde(default)]
    pub customers: Vec<CustomerPermission>,
    /// Approval permissions.
    #[serde(default)]
    pub approvals: Vec<ApprovalPermission>,
}

/// A published plugin version.
#[derive(Debug, Clone)]
pub struct PluginVersion {
    /// Its manifest.
    pub manifest: Manifest,
    /// SHA-256 of the component, hex.
    pub digest: String,
    /// The component bytes.
    pub component: Vec<u8>,
    /// Who published it.
    pub publisher: String,
}

/// Whether an installation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InstallationState {
    /// Runs for members in its visible range.
    Enabled,
    /// Stopped by the admin; nothing runs.
    Disabled,
}

impl InstallationState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
        }
    }
}

/// A plugin installed in a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installation {
    /// Tenant.
    pub tenant: String,
    /// Plugin id.
    pub plugin: String,
    /// Installed version.
    pub version: String,
    /// Scopes the admin granted.
    pub granted: ScopeSet,
    /// Members who see it; `None` = everyone.
    pub visible_to: Option<Vec<String>>,
    /// Enabled or disabled.
    pub state: InstallationState,
}

/// Which key-value bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvBucket<'a> {
    /// Tenant.
    pub tenant: &'a str,
    /// Plugin id.
    pub plugin: &'a str,
    /// The person for a person bucket; `None` for the plugin-wide bucket.
    pub person: Option<&'a str>,
}

/// A write that would exceed the bucket's quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaExceeded {
    /// The bucket's limit.
    pub limit_bytes: u64,
    /// What it holds now.
    pub used_bytes: u64,
}

/// Signs a checkpoint for a tenant's head (given to [`Store::append_audit`]).
pub type CheckpointSigner = dyn for<'t> Fn(&'t str, crate::audit::chain::Head) -> Checkpoint + Send + Sync;

/// Everything the host persists.
#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// Creates or renames a tenant.
    async fn upsert_tenant(&self, id: &str, name: &str) -> StoreResult<()>;
    /// Creates or replaces a member's profile.
    async fn upsert_member(&self, tenant: &str, id: &str, profile: &MemberProfile) -> StoreResult<()>;
    /// A member's profile.
    async fn member(&self, tenant: &str, id: &str) -> StoreResult<Option<MemberProfile>>;

    /// Stores a plugin version; the same version with other bytes is a conflict.
    async fn put_plugin_version(&self, version: &PluginVersion) -> StoreResult<()>;
    /// A plugin version.
    async fn plugin_version(&self, plugin: &str, version: &str) -> StoreResult<Option<PluginVersion>>;

    /// Creates or replaces an installation.
    async fn put_installation(&self, installation: &Installation) -> StoreResult<()>;
    /// A tenant's installation of a plugin.
    async fn installation(&self, tenant: &str, plugin: &str) -> StoreResult<Option<Installation>>;

    /// Records consents (replacing earlier ones for the same scopes).
    async fn put_consents(
        &self,
        tenant: &str,
        member: &str,
        plugin: &str,
        consents: &[(Scope, Consent)],
    ) -> StoreResult<()>;
    /// Marks consents withdrawn at `now_ms` and deletes the person's bucket
    /// of that plugin, in one transaction.
    async fn withdraw_consents(
        &self,
        tenant: &str,
        member: &str,
        plugin: &str,
        scopes: &[Scope],
        now_ms: i64,
    ) -> StoreResult<()>;
    /// The member's latest consents for a plugin.
    async fn consents(&self, tenant: &str, member: &str, plugin: &str) -> StoreResult<ConsentSet>;

    /// Reads a key.
    async fn kv_get(&self, bucket: KvBucket<'_>, key: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Writes a key unless the bucket would exceed `quota_bytes` (keys plus values).
    async fn kv_set(
        &self,
        bucket: KvBucket<'_>,
        key: &str,
        value: &[u8],
        quota_bytes: u64,
        now_ms: i64,
    ) -> StoreResult<Result<(), QuotaExceeded>>;
    /// Deletes a key; true when it existed.
    async fn kv_delete(&self, bucket: KvBucket<'_>, key: &str) -> StoreResult<bool>;
    /// Keys starting with `prefix`, in byte order, at most `limit`.
    async fn kv_list(&self, bucket: KvBucket<'_>, prefix: &str, limit: u32) -> StoreResult<Vec<String>>;

    /// Appends `events` to their tenants' chains in one transaction, with a
    /// signed checkpoint per tenant; returns the durable records in order.
    async fn append_audit(&self, events: Vec<AuditEvent>, sign: &CheckpointSigner) -> StoreResult<Vec<AuditRecord>>;
    /// Tenants that have audit records or checkpoints.
    async fn audit_tenants(&self) -> StoreResult<Vec<String>>;
    /// A tenant's records with `seq > after`, in order, at most `limit`.
    async fn audit_records(&self, tenant: &str, after: i64, limit: u32) -> StoreResult<Vec<AuditRecord>>;
    /// A tenant's checkpoints in seq order.
    async fn audit_checkpoints(&self, tenant: &str) -> StoreResult<Vec<Checkpoint>>;
}
