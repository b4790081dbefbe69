//! # workbench-host
//!
//! Runs third-party workbench plugins as sandboxed WebAssembly components:
//! every personal field a plugin reads passes [`gate`], and every attempt is
//! written to the tamper-evident [`audit`] log before the plugin's answer is
//! released. See `docs/ARCHITECTURE.md`.

pub mod api;
pub mod audit;
pub mod config;
pub mod demo;
pub mod devkit;
pub mod gate;
pub mod model;
pub mod openid;
pub mod pace;
pub mod runtime;
pub mod scope;
pub mod service;
pub mod store;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}
