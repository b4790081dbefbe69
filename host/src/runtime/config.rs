//! `wasi:config/store`: a plugin reads its installation's configuration.
//!
//! The values are the tenant admin's for the keys the version's manifest
//! declares (`[[config]]`), else their defaults; an undeclared key has no
//! value. They come from the call's own installation, so a plugin never
//! sees another tenant's or another plugin's configuration. Configuration
//! is not personal data: reading it needs no scope and writes no audit
//! record (setting it is the admin's install, which is audited). Every read
//! counts against the call's host-call limit.

use super::gatekeeper::Gatekeeper;
use crate::model::plugin_config;

#[allow(missing_docs, clippy::all)]
mod bindings {
    wasmtime::component::bindgen!({
        world: "imports",
        path: "src/devkit/wasi/config.wit",
        imports: { default: async | trappable },
    });
}

pub use bindings::wasi::config::store::add_to_linker;
use bindings::wasi::config::store::{Error, Host};

/// The interface name a component imports.
pub const INTERFACE: &str = "wasi:config/store@0.2.0-draft";

impl Host for Gatekeeper {
    async fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, Error>> {
        self.count_hostcall()?;
        let call = &self.call;
        let value = call
            .manifest
            .config_key(&key)
            .and_then(|declared| call.config.get(&declared.key).or(declared.default.as_ref()))
            .cloned();
        Ok(Ok(value))
    }

    async fn get_all(&mut self) -> wasmtime::Result<Result<Vec<(String, String)>, Error>> {
        self.count_hostcall()?;
        Ok(Ok(plugin_config::effective(&self.call.manifest.config, &self.call.config)))
    }
}
