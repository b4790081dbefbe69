//! The host side of the WIT contract, one module per version of the
//! `workbench:plugin` package. The newest (`v0_3`, bound from `wit/`) holds
//! the implementation: one file per interface group, each keeping its own
//! state and reaching the caller, the gate and the audit buffer through the
//! call's [`Gatekeeper`](super::gatekeeper::Gatekeeper). The older versions
//! (`v0_1` and `v0_2`, bound from `wit/v0.1.0/` and `wit/v0.2.0/`) forward
//! every function to it.
//! `runtime/state.rs` links every version's interfaces side by side, so a
//! component built against any of them runs; `runtime/cache.rs` reads which
//! version a component was built against from its handler export.

pub mod v0_1;
pub mod v0_2;
pub mod v0_3;

/// The contract versions this host links, oldest first.
pub const SUPPORTED: [&str; 3] = ["0.1.0", "0.2.0", "0.3.0"];

/// The newest contract version, the one `wit/` holds.
pub const CURRENT: &str = "0.3.0";
