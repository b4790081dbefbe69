//! `workbench:plugin@0.1.0`, bound from `wit/v0.1.0/` (frozen): the
//! interfaces `types`, `profile`, `permissions`, `storage` and `log`, and the
//! `handler` export. Every host function forwards to its
//! counterpart in the current contract (`0.3.0`), which asks the gate and writes the audit record, so a `0.1.0`
//! component gets exactly the same answers and records; only the types are
//! converted.

mod forward;

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit/v0.1.0",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use exports::workbench::plugin::handler::{PluginError, Request, Response};
pub use workbench::plugin::types::AccessError;
