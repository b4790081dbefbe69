//! Members opening plugins themselves (the privacy guide §5.3's second
//! path, "若您通过工作台自主选择开通第三方服务"): what a tenant lets its members do
//! with a catalogue plugin, within which bounds, and the requests and
//! openings that follow.

use serde::{Deserialize, Serialize};

use crate::scope::Scope;

/// What members may do with a catalogue plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SelfServiceMode {
    /// Nothing: only an app admin installs it (the default).
    #[default]
    None,
    /// Members may ask for it; an app admin approves or declines.
    Request,
    /// Members may open it themselves, within the bounds.
    Open,
}

impl SelfServiceMode {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Request => "request",
            Self::Open => "open",
        }
    }

    /// From the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::None, Self::Request, Self::Open].into_iter().find(|m| m.as_str() == text)
    }
}

/// A tenant's rule for one catalogue plugin: the mode, and the scopes and
/// destinations a plugin opened by a member may be granted (an opening
/// never grants a sensitive scope: that takes an admin's approval).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelfServicePolicy {
    /// What members may do.
    pub mode: SelfServiceMode,
    /// The scopes an opening may grant (of those the plugin declares).
    #[serde(default)]
    pub scopes: Vec<Scope>,
    /// The destinations an opening may approve (of those declared).
    #[serde(default)]
    pub egress: Vec<String>,
}

/// Where a member's request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Waiting for an app admin.
    Pending,
    /// Approved: the plugin was opened for the member.
    Approved,
    /// Declined, with the reason the member sees.
    Declined,
}

impl RequestState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Approved => "approved",
            Self::Declined => "declined",
        }
    }

    /// From the stored name.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Pending, Self::Approved, Self::Declined].into_iter().find(|s| s.as_str() == text)
    }
}

/// A member's request for a plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct PluginRequest {
    /// Request id.
    pub id: i64,
    /// The plugin asked for.
    pub plugin: String,
    /// Who asked.
    pub member: String,
    /// Why they asked.
    pub reason: String,
    /// Where it stands.
    pub state: RequestState,
    /// The app admin who decided.
    pub decided_by: Option<String>,
    /// The reason given with the decision (always with a decline).
    pub decision: Option<String>,
    /// When asked, ms since the epoch.
    pub created_at_ms: i64,
    /// When decided.
    pub decided_at_ms: Option<i64>,
}

/// A member for whom a plugin was opened by self-service (by themselves,
/// or by an approved request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Opening {
    /// The plugin.
    pub plugin: String,
    /// The member it was opened for.
    pub member: String,
    /// `opened` (by the member) or `approved` (a request an app admin approved).
    pub via: String,
    /// When, ms since the epoch.
    pub opened_at_ms: i64,
}
