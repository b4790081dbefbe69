//! `workbench:plugin@0.3.0`, bound from `wit/`: `types`, one interface per
//! personal scope (`user-id` … `perm-approval`), `storage`, `log` and
//! `notify`, and the exports `handler` and `events`. This is where the host
//! functions are implemented; older versions forward here.

pub mod log;
mod notify;
mod permissions;
mod profile;
pub mod storage;

wasmtime::component::bindgen!({
    world: "plugin-with-events",
    path: "../wit",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use exports::workbench::plugin::events::{Event, Subject};
pub use exports::workbench::plugin::handler::{PluginError, Request, Response};
pub use workbench::plugin::types::AccessError;

use super::super::gatekeeper::Gatekeeper;
use crate::gate::Denial;

impl From<Denial> for AccessError {
    fn from(denial: Denial) -> Self {
        match denial {
            Denial::NotDeclared => AccessError::NotDeclared,
            Denial::NotGranted => AccessError::NotGranted,
            Denial::NotConsented => AccessError::NotConsented,
            Denial::ConsentWithdrawn => AccessError::ConsentWithdrawn,
            Denial::ConsentExpired => AccessError::ConsentExpired,
            Denial::PurposeChanged => AccessError::PurposeChanged,
            Denial::QuotaExceeded => AccessError::QuotaExceeded,
        }
    }
}

/// `types` has no functions: only the shared types above.
impl workbench::plugin::types::Host for Gatekeeper {}
