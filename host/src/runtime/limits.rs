//! Per-call limits, from config, and the resource limiter that enforces the
//! memory limit with a typed error.

use serde::Deserialize;
use wasmtime::ResourceLimiter;

/// Limits every call runs under. Defaults suit interactive workbench pages.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RuntimeLimits {
    /// Linear memory per instance, bytes.
    pub memory_bytes: usize,
    /// Wall-clock deadline per call, ms (epoch interruption).
    pub deadline_ms: u64,
    /// Epoch tick, ms: the deadline's granularity and the longest a guest
    /// runs before it yields to other calls.
    pub epoch_tick_ms: u64,
    /// Compute a call may use at full speed, ms (counted in ticks the guest
    /// was running). Past it, the call is throttled until its deadline.
    pub cpu_budget_ms: u64,
    /// Once over budget, ticks a call sleeps after each tick it runs (so it
    /// gets at most 1/(1+N) of a core); 0 never throttles.
    pub throttle_ticks: u64,
    /// Maximum wasm stack, bytes.
    pub max_wasm_stack: usize,
    /// Largest response body, bytes.
    pub response_bytes: usize,
    /// Host calls per invocation; one more traps.
    pub hostcalls: u32,
    /// Log lines kept per invocation; the rest are counted and dropped.
    pub log_lines: u32,
    /// Longest log line kept, bytes (longer lines are truncated).
    pub log_line_bytes: usize,
    /// Longest storage key, bytes.
    pub storage_key_bytes: usize,
    /// Largest storage value, bytes.
    pub storage_value_bytes: usize,
    /// Quota per storage bucket (keys plus values), bytes.
    pub storage_bucket_bytes: u64,
    /// Bytes of keys and values one call may write in all; a write past it
    /// is refused with `denied(quota-exceeded)`.
    pub storage_call_write_bytes: u64,
    /// Instances that may run at once (pooling allocator slots).
    pub max_concurrent_instances: u32,
    /// Notifications one person may receive in an hour, from every plugin.
    pub notify_per_person_hour: u32,
    /// Notifications one plugin may send in an hour in a tenant.
    pub notify_per_plugin_hour: u32,
}

impl Default for RuntimeLimits {
    fn default() -> Self {
        Self {
            memory_bytes: 128 << 20,
            deadline_ms: 1_000,
            epoch_tick_ms: 5,
            cpu_budget_ms: 50,
            throttle_ticks: 3,
            max_wasm_stack: 512 << 10,
            response_bytes: 1 << 20,
            hostcalls: 1_000,
            log_lines: 100,
            log_line_bytes: 4 << 10,
            storage_key_bytes: 256,
            storage_value_bytes: 64 << 10,
            storage_bucket_bytes: 1 << 20,
            storage_call_write_bytes: 4 << 20,
            max_concurrent_instances: 256,
            notify_per_person_hour: 30,
            notify_per_plugin_hour: 1_000,
        }
    }
}

/// A limit a guest ran into; carried inside the trap so the host can name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GuestLimit {
    /// The call ran past its deadline.
    #[error("deadline of {0} ms exceeded")]
    Deadline(u64),
    /// The guest tried to grow memory past the limit.
    #[error("memory limit of {0} bytes exceeded")]
    Memory(usize),
    /// The guest made more host calls than allowed.
    #[error("host call limit of {0} exceeded")]
    Hostcalls(u32),
    /// The response body is larger than the cap.
    #[error("response of {size} bytes exceeds the cap of {cap} bytes")]
    Response {
        /// Actual size.
        size: usize,
        /// The cap.
        cap: usize,
    },
}

/// Enforces the memory limit per store, failing growth with [`GuestLimit::Memory`].
#[derive(Debug)]
pub(crate) struct CallLimiter {
    pub(crate) memory_bytes: usize,
}

impl ResourceLimiter for CallLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            return Err(GuestLimit::Memory(self.memory_bytes).into());
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}
