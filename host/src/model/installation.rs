//! A plugin installed in a tenant, and what removing one (or a member)
//! deletes with it.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::departments::VisibleRange;
use crate::scope::ScopeSet;

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
    /// Who sees it: rules evaluated at each call.
    pub range: VisibleRange,
    /// The destinations the admin approved (as the manifest writes them:
    /// `https://api.acme.example`).
    pub egress: Vec<String>,
    /// The configuration values the admin set, by key (keys left unset
    /// read their default).
    /// Shared, so each invocation takes it without copying.
    pub config: Arc<BTreeMap<String, String>>,
    /// Enabled or disabled.
    pub state: InstallationState,
    /// The events and schedules the admin approved (`approval.submitted`,
    /// `schedule:evening`; see `Manifest::subscriptions`). Read with the
    /// installation itself; the invocation context leaves it empty.
    pub subscriptions: Vec<String>,
}

impl Installation {
    /// Whether `member`, of `departments` (each with its ancestors), may
    /// run it now: enabled, and in its visible range.
    pub fn usable_by(&self, member: &str, departments: &[String]) -> bool {
        self.state == InstallationState::Enabled && self.range.admits(member, departments)
    }
}

/// What a deletion removed (an uninstall or a member's removal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Deleted {
    /// Consent rows deleted.
    pub consents: u64,
    /// Plugin storage entries deleted.
    pub storage_entries: u64,
}

impl Deleted {
    /// What was deleted, as the audit record says it.
    pub fn describe(&self) -> String {
        format!("{} consents and {} storage entries deleted", self.consents, self.storage_entries)
    }
}
