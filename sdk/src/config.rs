//! The plugin's configuration: the values the tenant's admin set at install
//! for the keys `plugin.toml` declares under `[[config]]`, else their
//! defaults (read through `wasi:config/store`).
//!
//! ```toml
//! [[config]]
//! key = "visits_url"
//! description = { zh = "拜访服务的地址", en = "The visit service's base URL" }
//! default = "https://visits.acme.example"
//! ```
//!
//! ```
//! use workbench_sdk::testing::MockHost;
//! use workbench_sdk::{config, Plugin, PluginError, Request, Response};
//!
//! struct ShowBase;
//! impl Plugin for ShowBase {
//!     fn handle(_: Request) -> Result<Response, PluginError> {
//!         Ok(Response::text(200, config::require("visits_url")?))
//!     }
//! }
//!
//! let host = MockHost::new().with_config("visits_url", "https://visits.acme.example");
//! assert_eq!(host.call::<ShowBase>(Request::get("/")).unwrap().body_text(), "https://visits.acme.example");
//! assert!(MockHost::new().call::<ShowBase>(Request::get("/")).is_err(), "no value: the plugin says so");
//! ```
//!
//! A key the manifest does not declare has no value. Configuration is the
//! installation's, not a person's: reading it needs no scope.

use crate::host;

/// The value of `key`, if the admin set one or the manifest gives a default.
pub fn get(key: &str) -> Option<String> {
    host::config_get(key)
}

/// The value of `key`, or an error naming the key for the person to pass on
/// to their admin.
pub fn require(key: &str) -> Result<String, crate::PluginError> {
    get(key).ok_or_else(|| {
        crate::PluginError::Internal(format!("the plugin's configuration has no value for {key}; ask your admin"))
    })
}

/// Every key with a value, in the manifest's order.
pub fn all() -> Vec<(String, String)> {
    host::config_all()
}
