//! The host side of the WIT contract, one module per version of the
//! `workbench:plugin` package. Each module binds its version's world and has
//! one file per interface; each interface keeps its own state and reaches
//! the caller, the gate and the audit buffer through the call's
//! [`Gatekeeper`](super::gatekeeper::Gatekeeper). `runtime/state.rs` links
//! every version's interfaces, so a component built against any of them runs.

pub mod v0_1;
