//! Host-side bindings generated from `wit/`.

wasmtime::component::bindgen!({
    world: "plugin",
    path: "../wit",
    imports: { default: async | trappable },
    exports: { default: async },
});

pub use exports::workbench::plugin::handler::{PluginError, Request, Response};
pub use workbench::plugin::types::AccessError;

impl From<crate::gate::Denial> for AccessError {
    fn from(denial: crate::gate::Denial) -> Self {
        use crate::gate::Denial;
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
