//! The typed refusal every host function may return.

use std::fmt;

/// Why the host refused to hand over a field or capability. The same reason is
/// written to the tenant's audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccessError {
    /// The plugin's manifest does not declare the scope.
    NotDeclared,
    /// The tenant admin did not grant the scope to this plugin.
    NotGranted,
    /// The person has not consented to the scope (sensitive scopes need their
    /// own consent).
    NotConsented,
    /// The person withdrew consent.
    ConsentWithdrawn,
    /// The person's consent expired.
    ConsentExpired,
    /// The plugin's stated purpose changed since the person consented.
    PurposeChanged,
    /// A quota of the host was exhausted.
    QuotaExceeded,
}

impl AccessError {
    /// A stable snake_case code, the same the host uses in audit records.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotDeclared => "not_declared",
            Self::NotGranted => "not_granted",
            Self::NotConsented => "not_consented",
            Self::ConsentWithdrawn => "consent_withdrawn",
            Self::ConsentExpired => "consent_expired",
            Self::PurposeChanged => "purpose_changed",
            Self::QuotaExceeded => "quota_exceeded",
        }
    }
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl std::error::Error for AccessError {}
