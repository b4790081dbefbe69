//! Reads two consented fields (`user.id`, `user.name`) and echoes them: the
//! benchmarks' "realistic" plugin, two audit records per call. With the
//! query `reads=N` it reads `user.name` N times more, for the benchmark of
//! one field read through the host import.

use workbench_sdk::{Plugin, PluginError, Request, Response, profile};

struct TwoFields;

impl Plugin for TwoFields {
    fn handle(request: Request) -> Result<Response, PluginError> {
        let id = profile::user_id().map_err(|e| PluginError::Internal(e.to_string()))?;
        let name = profile::name().map_err(|e| PluginError::Internal(e.to_string()))?;
        let more: u32 = request.query.strip_prefix("reads=").and_then(|n| n.parse().ok()).unwrap_or(0);
        for _ in 0..more {
            profile::name().map_err(|e| PluginError::Internal(e.to_string()))?;
        }
        Ok(Response::text(200, format!("{id} {name}")))
    }
}

workbench_sdk::export!(TwoFields);
