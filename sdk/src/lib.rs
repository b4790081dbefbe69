//! # workbench-sdk
//!
//! Build workbench plugins in Rust. A plugin is a WebAssembly component that
//! exports one request handler and may read the calling person's data through
//! the host — but only the fields its manifest declares, the tenant admin
//! granted and the person consented to. Everything else comes back as a typed
//! [`AccessError`], never a panic.
//!
//! ```
//! use workbench_sdk::{profile, Plugin, PluginError, Request, Response};
//!
//! struct Hello;
//!
//! impl Plugin for Hello {
//!     fn handle(_request: Request) -> Result<Response, PluginError> {
//!         let greeting = match profile::name() {
//!             Ok(name) => format!("你好, {name}"),
//!             Err(denied) => format!("hello (name unavailable: {denied})"),
//!         };
//!         Ok(Response::text(200, greeting))
//!     }
//! }
//!
//! workbench_sdk::export!(Hello);
//! # // Natively the same code runs against the mock host:
//! # let host = workbench_sdk::testing::MockHost::new().with_name("张伟");
//! # let response = host.call::<Hello>(Request::get("/"));
//! # assert_eq!(response.unwrap().body_text(), "你好, 张伟");
//! ```
//!
//! Build the plugin with `cargo build --release --target wasm32-wasip2`; on
//! any other target the functions talk to [`testing::MockHost`], so a plugin's
//! logic is unit-tested with plain `cargo test`.
#![deny(missing_docs)]

pub mod config;
pub mod date;
mod error;
pub mod events;
mod host;
pub mod html;
pub mod http;
pub mod json;
pub mod log;
pub mod notify;
pub mod permissions;
pub mod profile;
pub mod storage;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;

pub use error::AccessError;
pub use http::{PluginError, Request, Response};

/// A plugin: the one type a plugin crate implements and names in [`export!`].
pub trait Plugin {
    /// Handles one request for the calling person. The host calls it once per
    /// invocation, in a fresh instance: keep state in [`storage`], not in
    /// statics.
    fn handle(request: Request) -> Result<Response, PluginError>;

    /// Handles one event or schedule tick the plugin subscribed to in
    /// `plugin.toml`, about [`events::Event::subject`]. An error is retried
    /// on the host's schedule, then kept as a dead letter for the admin.
    /// Plugins that subscribe to nothing keep this default.
    fn on_event(event: events::Event) -> Result<(), PluginError> {
        let _ = event;
        Ok(())
    }
}

/// Exports a [`Plugin`] as the component's `handler` and `events`.
///
/// ```
/// struct Nothing;
/// impl workbench_sdk::Plugin for Nothing {
///     fn handle(_: workbench_sdk::Request) -> Result<workbench_sdk::Response, workbench_sdk::PluginError> {
///         Ok(workbench_sdk::Response::text(204, ""))
///     }
/// }
/// workbench_sdk::export!(Nothing);
/// ```
#[macro_export]
macro_rules! export {
    ($plugin:ty) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct WorkbenchExport;
            impl $crate::__private::Guest for WorkbenchExport {
                fn handle(
                    request: $crate::__private::WitRequest,
                ) -> ::core::result::Result<$crate::__private::WitResponse, $crate::__private::WitPluginError> {
                    $crate::__private::dispatch::<$plugin>(request)
                }
            }
            impl $crate::__private::EventsGuest for WorkbenchExport {
                fn on_event(
                    event: $crate::__private::WitEvent,
                ) -> ::core::result::Result<(), $crate::__private::WitPluginError> {
                    $crate::__private::dispatch_event::<$plugin>(event)
                }
            }
    $crate::__private::bindings::__export_handler!(WorkbenchExport with_types_in $crate::__private::bindings);
        };
        // Natively there is nothing to export; name the handler so the plugin
        // type counts as used outside tests too.
        #[cfg(not(target_arch = "wasm32"))]
        const _: fn($crate::Request) -> ::core::result::Result<$crate::Response, $crate::PluginError> =
            <$plugin as $crate::Plugin>::handle;
    };
}

#[doc(hidden)]
#[cfg(target_arch = "wasm32")]
pub mod __private {
    pub use crate::host::wasm::bindings;
    pub use crate::host::wasm::bindings::exports::workbench::plugin::events::{
        Event as WitEvent, Guest as EventsGuest,
    };
    pub use crate::host::wasm::bindings::exports::workbench::plugin::handler::{
        Guest, PluginError as WitPluginError, Request as WitRequest, Response as WitResponse,
    };

    /// Converts the WIT request, runs the plugin, converts its answer.
    pub fn dispatch<P: crate::Plugin>(request: WitRequest) -> Result<WitResponse, WitPluginError> {
        crate::host::wasm::dispatch::<P>(request)
    }

    /// Converts the WIT event, runs the plugin's handler of events.
    pub fn dispatch_event<P: crate::Plugin>(event: WitEvent) -> Result<(), WitPluginError> {
        crate::host::wasm::dispatch_event::<P>(event)
    }
}
