//! A tenant's settings.

use serde::{Deserialize, Serialize};

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
