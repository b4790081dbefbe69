//! Reads two consented fields (`user.id`, `user.name`) and echoes them: the
//! benchmarks' "realistic" plugin, two audit records per call.

use workbench_sdk::{Plugin, PluginError, Request, Response, profile};

struct TwoFields;

impl Plugin for TwoFields {
    fn handle(_request: Request) -> Result<Response, PluginError> {
        let id = profile::user_id().map_err(|e| PluginError::Internal(e.to_string()))?;
        let name = profile::name().map_err(|e| PluginError::Internal(e.to_string()))?;
        Ok(Response::text(200, format!("{id} {name}")))
    }
}

workbench_sdk::export!(TwoFields);
