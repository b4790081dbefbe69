//! Persistence: one [`Store`] trait and one implementation,
//! [`sql::SqlStore`], that runs the same statements on SQLite (embedded, the
//! default) and PostgreSQL (replicas). No SQL lives outside this module.

mod contexts;
mod generations;
pub mod sql;

use std::sync::Arc;

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
    /// The configuration names something this build cannot use.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// The task running a store call ended without an answer.
    #[error("store task failed: {0}")]
    Task(String),
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

/// Who published a plugin: a developer of a tenant. The first publisher of
/// an id owns it; later versions must come from them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Publisher {
    /// The developer's tenant.
    pub tenant: String,
    /// The developer's member id.
    pub member: String,
}

/// A published plugin version without its component bytes.
#[derive(Debug, Clone)]
pub struct PluginRelease {
    /// Its manifest.
    pub manifest: Manifest,
    /// SHA-256 of the component, hex.
    pub digest: String,
    /// Who published it.
    pub publisher: Publisher,
    /// Fingerprint of the Ed25519 key that signed the component, if signed.
    pub signed_by: Option<String>,
    /// Component size in bytes.
    pub size_bytes: u64,
    /// When it was published, ms since the epoch.
    pub published_at_ms: i64,
}

/// A published plugin version with its component.
#[derive(Debug, Clone)]
pub struct PluginVersion {
    /// What is known about it.
    pub release: PluginRelease,
    /// The component bytes.
    pub component: Vec<u8>,
}

/// What a deletion removed (an uninstall or a member's removal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Deleted {
    /// Consent rows deleted.
    pub consents: u64,
    /// Plugin storage entries deleted.
    pub storage_entries: u64,
}

/// A member's consent to one scope of one plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRow {
    /// Plugin id.
    pub plugin: String,
    /// Scope.
    pub scope: Scope,
    /// The consent.
    pub consent: Consent,
}

/// Which audit records to return.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Whose data.
    pub subject: Option<String>,
    /// Exactly this actor (`admin:ID`, `member:ID`, `plugin:ID@VERSION`).
    pub actor: Option<String>,
    /// Any version of this plugin.
    pub plugin: Option<String>,
    /// This action.
    pub action: Option<String>,
    /// This outcome.
    pub outcome: Option<crate::audit::Outcome>,
    /// Only records that name a scope (field reads and storage).
    pub with_scope: bool,
    /// At or after, ms since the epoch.
    pub from_ms: Option<i64>,
    /// Before, ms since the epoch.
    pub to_ms: Option<i64>,
}

/// See [`Store::invocation_context`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvocationContext {
    /// The member's profile; `None` when they are not in the tenant's directory.
    pub profile: Option<Arc<MemberProfile>>,
    /// The plugin's installation in the tenant, if any, with its visible
    /// range narrowed to the member (`[member]`, `[]`, or `None` for all).
    pub installation: Option<Arc<Installation>>,
    /// The member's latest consents to the plugin.
    pub consents: Arc<ConsentSet>,
}

/// Tenant settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Days audit records are kept (at least the floor, 3 years by default).
    pub audit_days: u32,
    /// Days plugin storage of a person is kept after their last write.
    pub plugin_storage_days: Option<u32>,
}

impl Default for Retention {
    fn default() -> Self {
        Self { audit_days: Retention::AUDIT_FLOOR_DAYS, plugin_storage_days: None }
    }
}

impl Retention {
    /// Audit records are kept at least this long (3 years).
    pub const AUDIT_FLOOR_DAYS: u32 = 1095;
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
    /// The stored name.
    pub fn as_str(self) -> &'static str {
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

/// One stored entry of a person's plugin storage (for their data export).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvEntry {
    /// Plugin id.
    pub plugin: String,
    /// Key.
    pub key: String,
    /// Value.
    pub value: Vec<u8>,
    /// Last write, ms since the epoch.
    pub updated_at_ms: i64,
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
    /// A tenant's name.
    async fn tenant(&self, id: &str) -> StoreResult<Option<String>>;
    /// Is the database reachable?
    async fn ping(&self) -> StoreResult<()>;

    /// Creates or replaces a member's profile.
    async fn upsert_member(&self, tenant: &str, id: &str, profile: &MemberProfile) -> StoreResult<()>;
    /// Replaces an existing member's profile; not found when there is none
    /// (a removed member is never re-created by a late update).
    async fn update_member(&self, tenant: &str, id: &str, profile: &MemberProfile) -> StoreResult<()>;
    /// Creates a member; a conflict when the id is taken.
    async fn insert_member(&self, tenant: &str, id: &str, profile: &MemberProfile) -> StoreResult<()>;
    /// A member's profile.
    async fn member(&self, tenant: &str, id: &str) -> StoreResult<Option<MemberProfile>>;
    /// A tenant's members in id order.
    async fn members(&self, tenant: &str) -> StoreResult<Vec<(String, MemberProfile)>>;
    /// Removes a member with their consents and plugin storage in every
    /// plugin, in one transaction; `None` when there is no such member.
    async fn delete_member(&self, tenant: &str, id: &str) -> StoreResult<Option<Deleted>>;

    /// Stores a plugin version. The same version with other bytes, or a
    /// version of a plugin another developer owns, is a conflict.
    async fn put_plugin_version(&self, version: &PluginVersion) -> StoreResult<()>;
    /// A plugin version.
    async fn plugin_version(&self, plugin: &str, version: &str) -> StoreResult<Option<PluginVersion>>;
    /// Releases of one plugin, or of all, by plugin id then publication time.
    async fn plugin_releases(&self, plugin: Option<&str>) -> StoreResult<Vec<PluginRelease>>;

    /// Creates an installation, or changes an existing one's version, grant
    /// and visible range (its enabled/disabled state stays as it is).
    async fn put_installation(&self, installation: &Installation) -> StoreResult<()>;
    /// Enables or disables an installation; false when there is none.
    async fn set_installation_state(&self, tenant: &str, plugin: &str, state: InstallationState) -> StoreResult<bool>;
    /// A tenant's installation of a plugin.
    async fn installation(&self, tenant: &str, plugin: &str) -> StoreResult<Option<Installation>>;
    /// A tenant's installations in plugin order.
    async fn installations(&self, tenant: &str) -> StoreResult<Vec<Installation>>;
    /// Removes an installation with every consent to it and all its storage
    /// in the tenant, in one transaction; `None` when it is not installed.
    async fn delete_installation(&self, tenant: &str, plugin: &str) -> StoreResult<Option<Deleted>>;

    /// Records consents (replacing earlier ones for the same scopes). Not
    /// found when the plugin is no longer installed or the member removed.
    async fn put_consents(
        &self,
        tenant: &str,
        member: &str,
        plugin: &str,
        consents: &[(Scope, Consent)],
    ) -> StoreResult<()>;
    /// Marks consents to `scopes` (every active consent to the plugin when
    /// `None`) withdrawn at `now_ms` and deletes the person's bucket of that
    /// plugin, in one transaction.
    async fn withdraw_consents(
        &self,
        tenant: &str,
        member: &str,
        plugin: &str,
        scopes: Option<&[Scope]>,
        now_ms: i64,
    ) -> StoreResult<()>;
    /// The member's latest consents for a plugin.
    async fn consents(&self, tenant: &str, member: &str, plugin: &str) -> StoreResult<ConsentSet>;
    /// What an invocation needs: the installation, the member's profile (if
    /// they are in the directory), and their consents to it. Cached while the
    /// tenant's generation is unchanged (one cheap read per call on
    /// PostgreSQL, none on SQLite); read in one round trip otherwise.
    async fn invocation_context(&self, tenant: &str, member: &str, plugin: &str) -> StoreResult<InvocationContext>;
    /// All of a member's consent rows, by plugin then scope.
    async fn member_consents(&self, tenant: &str, member: &str) -> StoreResult<Vec<ConsentRow>>;

    /// A tenant's retention settings (the defaults until set).
    async fn retention(&self, tenant: &str) -> StoreResult<Retention>;
    /// Sets a tenant's retention settings.
    async fn put_retention(&self, tenant: &str, retention: &Retention) -> StoreResult<()>;

    /// Every entry plugins stored about `person`, by plugin then key.
    async fn kv_person_entries(&self, tenant: &str, person: &str) -> StoreResult<Vec<KvEntry>>;
    /// Reads a key.
    async fn kv_get(&self, bucket: KvBucket<'_>, key: &str) -> StoreResult<Option<Vec<u8>>>;
    /// Writes a key unless the bucket would exceed `quota_bytes` (keys plus
    /// values). Not found when the plugin is no longer installed or the
    /// person no longer a member.
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
    /// A tenant's records matching `filter` with `seq > after`, in order, at most `limit`.
    async fn audit_query(
        &self,
        tenant: &str,
        filter: &AuditFilter,
        after: i64,
        limit: u32,
    ) -> StoreResult<Vec<AuditRecord>>;
    /// A tenant's checkpoints in seq order.
    async fn audit_checkpoints(&self, tenant: &str) -> StoreResult<Vec<Checkpoint>>;
}
