//! `workbench:plugin/log`: log lines attached to the invocation.
//!
//! Lines are not audit records (they carry no personal data the host hands
//! out); a plugin without the `log` grant gets one denied record per call and
//! its lines are dropped. Lines past the per-call limit are counted, not kept.

use wasmtime::component::HasData;

use super::workbench::plugin::log::{self, Level};
use crate::model::audit::{Action, Outcome};
use crate::runtime::gatekeeper::Gatekeeper;
use crate::scope::Scope;

/// A log line written by the plugin.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LogLine {
    /// Level name.
    pub level: &'static str,
    /// Message (truncated to the limit).
    pub message: String,
}

/// What `log` keeps for one call.
#[derive(Debug, Default)]
pub struct LogState {
    /// The lines kept, in order.
    pub lines: Vec<LogLine>,
    /// Lines past the limit, counted.
    pub dropped: u32,
    /// Whether the refusal of a plugin without the grant is audited yet.
    denial_audited: bool,
}

/// The interface's view of a call: the gatekeeper and its own state.
#[derive(Debug)]
pub struct LogHost<'a> {
    /// The call's gatekeeper.
    pub keeper: &'a mut Gatekeeper,
    /// The interface's state.
    pub state: &'a mut LogState,
}

/// Links `log` to [`LogHost`] (see `runtime/state.rs`).
#[derive(Debug)]
pub struct Log;

impl HasData for Log {
    type Data<'a> = LogHost<'a>;
}

impl log::Host for LogHost<'_> {
    async fn write(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        let keeper = &mut *self.keeper;
        keeper.count_hostcall()?;
        if let Err(denial) =
            crate::gate::decide(Scope::Log, &keeper.call.policy, &keeper.call.consents, keeper.call.now_ms)
        {
            if !self.state.denial_audited {
                self.state.denial_audited = true;
                keeper.record(Action::LogWrite, Some(Scope::Log), Outcome::Denied, Some(denial.code().to_owned()));
            }
            return Ok(());
        }
        if self.state.lines.len() >= keeper.services.limits.log_lines as usize {
            self.state.dropped += 1;
            return Ok(());
        }
        let mut message = message;
        let max = keeper.services.limits.log_line_bytes;
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
        tracing::debug!(target: "plugin", invocation = %keeper.call.invocation, plugin = %keeper.call.manifest.id, level, %message);
        self.state.lines.push(LogLine { level, message });
        Ok(())
    }
}
