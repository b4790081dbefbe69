//! The smallest plugin: answers every request with "ok" and reads nothing.
//! Used by the benchmarks to measure the host's own overhead per call.

use workbench_sdk::{Plugin, PluginError, Request, Response};

struct Noop;

impl Plugin for Noop {
    fn handle(_request: Request) -> Result<Response, PluginError> {
        Ok(Response::text(200, "ok"))
    }
}

workbench_sdk::export!(Noop);
