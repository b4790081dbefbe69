//! `workbench:plugin/log`: log lines attached to the invocation.
//!
//! Lines are not audit records (they carry no personal data the host hands
//! out); a plugin without the `log` grant gets one denied record per call and
//! its lines are dropped. Lines past the per-call limit are counted, not kept.

use super::bindings::workbench::plugin::log::{self, Level};
use super::state::{CallState, LogLine};
use crate::model::audit::{Action, Outcome};
use crate::scope::Scope;

impl log::Host for CallState {
    async fn write(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        self.count_hostcall()?;
        if let Err(denial) = crate::gate::decide(Scope::Log, &self.call.policy, &self.call.consents, self.call.now_ms) {
            if !self.log_denial_audited {
                self.log_denial_audited = true;
                self.record(Action::LogWrite, Some(Scope::Log), Outcome::Denied, Some(denial.code().to_owned()));
            }
            return Ok(());
        }
        if self.logs.len() >= self.services.limits.log_lines as usize {
            self.dropped_logs += 1;
            return Ok(());
        }
        let mut message = message;
        let max = self.services.limits.log_line_bytes;
        if message.len() > max {
            let mut end = max;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            message.truncate(end);
        }
        let level = match level {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        };
        tracing::debug!(target: "plugin", invocation = %self.call.invocation, plugin = %self.call.manifest.id, level, %message);
        self.logs.push(LogLine { level, message });
        Ok(())
    }
}
