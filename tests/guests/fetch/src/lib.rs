//! One outbound request per call: GETs the URL configured as `upstream`
//! (through the gate, the address checks and the audit log) and answers
//! with the upstream's status and body. Used by the benchmarks to measure
//! what an outbound call costs per invocation.

use workbench_sdk::http::Outgoing;
use workbench_sdk::{Plugin, PluginError, Request, Response, config};

struct Fetch;

impl Plugin for Fetch {
    fn handle(_request: Request) -> Result<Response, PluginError> {
        let reply = Outgoing::get(config::require("upstream")?)
            .send()
            .map_err(|error| PluginError::Internal(format!("upstream: {error}")))?;
        Ok(Response::text(reply.status, reply.text()))
    }
}

workbench_sdk::export!(Fetch);
