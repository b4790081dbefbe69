//! `[admission]`: the shares, the queue and the rates, with per-tenant overrides.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Shares, queue and rates. Defaults suit interactive workbench pages on
/// the default runtime limits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdmissionConfig {
    /// The most the linear memories of the calls in flight may add up to,
    /// each counted at its limit (`runtime.memory_bytes`), bytes. With the
    /// slots it bounds how many calls run at once:
    /// `min(max_concurrent_instances, memory_budget_bytes / memory_bytes)`.
    pub memory_budget_bytes: u64,
    /// The share of those slots one tenant may hold, percent.
    pub tenant_share_percent: u32,
    /// Calls of one plugin in one tenant that may run at once.
    pub per_plugin: u32,
    /// Calls of one member that may run at once.
    pub per_member: u32,
    /// How long a call that does not fit may wait for a slot, ms.
    pub queue_ms: u64,
    /// Calls that may wait at once, in all.
    pub queue_total: u32,
    /// Calls of one member that may wait at once.
    pub queue_per_member: u32,
    /// Invocations per second one member may start (token bucket).
    pub member_rate_per_sec: u32,
    /// The member bucket's size: calls in a burst.
    pub member_burst: u32,
    /// Invocations per second one tenant may start.
    pub tenant_rate_per_sec: u32,
    /// The tenant bucket's size.
    pub tenant_burst: u32,
    /// Refusals of one member are audited once per window, with a count, s.
    pub refusal_window_secs: u64,
    /// Per-tenant overrides, by tenant id.
    pub tenants: BTreeMap<String, TenantAdmission>,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        Self {
            memory_budget_bytes: 8 << 30,
            tenant_share_percent: 50,
            per_plugin: 32,
            per_member: 8,
            queue_ms: 250,
            queue_total: 1_024,
            queue_per_member: 32,
            member_rate_per_sec: 50,
            member_burst: 100,
            tenant_rate_per_sec: 2_000,
            tenant_burst: 4_000,
            refusal_window_secs: 10,
            tenants: BTreeMap::new(),
        }
    }
}

/// What one tenant gets instead of the defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantAdmission {
    /// Slots the tenant may hold at once (instead of its share).
    pub max_instances: Option<u32>,
    /// Instead of [`AdmissionConfig::per_plugin`].
    pub per_plugin: Option<u32>,
    /// Instead of [`AdmissionConfig::per_member`].
    pub per_member: Option<u32>,
    /// Instead of [`AdmissionConfig::member_rate_per_sec`].
    pub member_rate_per_sec: Option<u32>,
    /// Instead of [`AdmissionConfig::member_burst`].
    pub member_burst: Option<u32>,
    /// Instead of [`AdmissionConfig::tenant_rate_per_sec`].
    pub tenant_rate_per_sec: Option<u32>,
    /// Instead of [`AdmissionConfig::tenant_burst`].
    pub tenant_burst: Option<u32>,
}
