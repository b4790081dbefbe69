//! The wasmtime side: one engine, components prepared once per digest, and a
//! fresh, limited store per call. A guest can trap; it cannot panic the host.

pub mod admission;
pub mod avatar;
pub mod cache;
pub mod config;
pub mod egress;
pub mod engine;
pub mod gatekeeper;
pub mod journal;
pub mod limits;
pub mod state;
pub mod wit;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::Linker;
use wasmtime::{Engine, Store as WasmStore, Trap, UpdateDeadline};

pub use cache::PrepareError;
pub use gatekeeper::{CallContext, HostServices, PendingEffect};
pub use limits::{GuestLimit, RuntimeLimits};
pub use wit::v0_3::log::LogLine;
pub use wit::v0_3::{PluginError, Request, Response};

use crate::model::audit::{Action, AuditEvent, Outcome};
use cache::Prepared;
use state::CallState;

/// How a trapped call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrapKind {
    /// Ran past the deadline.
    Deadline,
    /// Grew memory past the limit.
    Memory,
    /// Overflowed the wasm stack.
    Stack,
    /// Made too many host calls.
    Hostcalls,
    /// Returned a response over the cap.
    ResponseTooLarge,
    /// Returned a malformed response (bad status or headers).
    BadResponse,
    /// Panicked or aborted (`unreachable`).
    Panic,
    /// Any other trap (out-of-bounds access, …).
    Other,
    /// The host failed while serving the call (e.g. the database).
    Host,
}

impl TrapKind {
    /// Stable code for audit records and API errors.
    pub fn code(self) -> &'static str {
        match self {
            TrapKind::Deadline => "deadline",
            TrapKind::Memory => "memory",
            TrapKind::Stack => "stack",
            TrapKind::Hostcalls => "hostcalls",
            TrapKind::ResponseTooLarge => "response_too_large",
            TrapKind::BadResponse => "bad_response",
            TrapKind::Panic => "panic",
            TrapKind::Other => "trap",
            TrapKind::Host => "host_failure",
        }
    }
}

/// A plugin's own error as people read it: `bad request: …`, `not found:
/// …`, `internal: …`.
pub fn describe(error: &PluginError) -> String {
    match error {
        PluginError::BadRequest(message) => format!("bad request: {message}"),
        PluginError::NotFound(message) => format!("not found: {message}"),
        PluginError::Internal(message) => format!("internal: {message}"),
    }
}

/// Why a call produced no response.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// The plugin returned its own error.
    #[error("the plugin reported an error: {}", describe(.0))]
    Plugin(PluginError),
    /// The plugin trapped or broke a limit.
    #[error("the plugin trapped ({kind:?}): {message}")]
    Trap {
        /// What kind.
        kind: TrapKind,
        /// Detail for logs and the audit record.
        message: String,
    },
}

/// What a call produced: its result, the audit events of every access
/// attempt (to be made durable before the result is released) and its logs.
#[derive(Debug)]
pub struct CallOutcome {
    /// The response or why there is none.
    pub result: Result<Response, CallError>,
    /// One event per access attempt, plus one for a trap.
    pub audit: Vec<AuditEvent>,
    /// Log lines kept.
    pub logs: Vec<LogLine>,
    /// Log lines dropped past the limit.
    pub dropped_logs: u32,
    /// Records handed to the audit writer before the call ended whose fate
    /// the call has not seen: storage changes it was cut off waiting for,
    /// and outbound requests' records handed over as each request ended
    /// (each with the records the call had made before it). They are
    /// written, or not, with their batch; [`CallOutcome::settle`] learns
    /// which. `audit` holds only what came after them.
    pub pending: Vec<PendingEffect>,
    /// The call's records already durable, written with its storage changes.
    pub written: Vec<crate::model::audit::AuditRecord>,
    /// Why records handed over with a change were not written, if so.
    pub unwritten: Option<crate::audit::AuditError>,
}

impl CallOutcome {
    /// Learns the fate of the changes the call was cut off waiting for, by
    /// `until` at the latest. Records queued after them (the rest of the
    /// call's) are written in a later batch or the same one, so once those
    /// are durable this does not wait. An error when any of them was not
    /// written, or not known to be by `until`, or a change the call saw
    /// fail took records with it: then records of what the call did may be
    /// missing, and its answer must not leave. Their records join
    /// [`CallOutcome::written`].
    pub async fn settle(&mut self, until: tokio::time::Instant) -> Result<(), crate::audit::AuditError> {
        use crate::audit::AuditError;
        if let Some(error) = self.unwritten.take() {
            return Err(error);
        }
        for receipt in std::mem::take(&mut self.pending) {
            match tokio::time::timeout_at(until, receipt).await {
                Ok(Ok(Ok(entry))) => self.written.extend(entry.records),
                Ok(Ok(Err(error))) => return Err(error),
                Ok(Err(_)) => return Err(AuditError::Stopped),
                Err(_) => return Err(AuditError::Write("a storage change was not durable in time".into())),
            }
        }
        Ok(())
    }
}

/// What a call runs: a request from the workbench page, or an event.
#[derive(Debug, Clone)]
pub enum Entry {
    /// The handler's request.
    Request(Request),
    /// An event or a schedule's tick, for the `events` export.
    Event(EventCall),
}

/// An event as a plugin is told of it.
#[derive(Debug, Clone)]
pub struct EventCall {
    /// The event's id (the same on every delivery of it).
    pub id: String,
    /// Its kind's name.
    pub kind: String,
    /// When it happened, ms since the epoch.
    pub time_ms: u64,
    /// Whether it is about a person (the call's member).
    pub person: bool,
    /// Its payload, JSON.
    pub payload: String,
}

/// What an event's call answers when the plugin handled it: there is no
/// response to send anyone.
fn handled() -> Response {
    Response { status: 204, headers: Vec::new(), body: Vec::new() }
}

/// Runtime settings.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// Limits per call.
    pub limits: RuntimeLimits,
    /// Where compiled code is cached; `None` disables the disk cache.
    pub cache_dir: Option<PathBuf>,
    /// The operator's rules for outbound requests.
    pub egress: egress::EgressConfig,
}

/// The plugin runtime.
pub struct Runtime {
    engine: Engine,
    linker: Arc<Linker<CallState>>,
    cache: cache::ComponentCache,
    limits: Arc<RuntimeLimits>,
    egress: Arc<egress::Egress>,
    avatars: avatar::Avatars,
    _ticker: engine::EpochTicker,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("limits", &self.limits).field("cache", &self.cache).finish_non_exhaustive()
    }
}

impl Runtime {
    /// Builds the engine and the linker (minimal WASI plus the workbench imports).
    pub fn new(config: &RuntimeConfig) -> wasmtime::Result<Self> {
        let engine = engine::build_engine(&config.limits, config.cache_dir.as_deref())?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        CallState::add_to_linker(&mut linker)?;
        let egress = egress::Egress::new(&config.egress).map_err(|e| wasmtime::format_err!("{e:#}"))?;
        let egress = Arc::new(egress);
        let ticker = engine::EpochTicker::start(&engine, Duration::from_millis(config.limits.epoch_tick_ms.max(1)));
        Ok(Self {
            avatars: avatar::Avatars::new(Arc::clone(&egress)),
            engine,
            linker: Arc::new(linker),
            cache: cache::ComponentCache::default(),
            limits: Arc::new(config.limits.clone()),
            egress,
            _ticker: ticker,
        })
    }

    /// The operator's rules for outbound requests.
    pub fn egress_config(&self) -> &egress::EgressConfig {
        &self.egress.config
    }

    /// Members' avatars, fetched for plugins' pages.
    pub fn avatars(&self) -> &avatar::Avatars {
        &self.avatars
    }

    /// The limits calls run under.
    pub fn limits(&self) -> &Arc<RuntimeLimits> {
        &self.limits
    }

    /// Compiles and links a component without caching it (publish-time validation).
    pub fn check(&self, bytes: &[u8]) -> Result<cache::Checked, PrepareError> {
        cache::inspect(&self.engine, &self.linker, bytes)
    }

    /// The prepared component for `digest`, compiling `bytes()` on first use.
    pub async fn prepare(&self, digest: &str, bytes: impl FnOnce() -> Vec<u8>) -> Result<Arc<Prepared>, PrepareError> {
        self.cache.get_or_prepare(&self.engine, &self.linker, digest, bytes).await
    }

    /// Runs one request or event through a prepared plugin in a fresh store
    /// (an event the plugin handled answers 204 without a body).
    pub async fn call(&self, pre: &Prepared, call: CallContext, services: HostServices, entry: Entry) -> CallOutcome {
        let outbound = egress::EgressCall { manifest: Arc::clone(&call.manifest), approved: Arc::clone(&call.egress) };
        let hooks = egress::CallHooks::new(Arc::clone(&self.egress), outbound);
        let ledger = hooks.ledger();
        let mut store = WasmStore::new(&self.engine, CallState::new(call, services, hooks));
        store.limiter(|state| &mut state.limiter);
        let tick_ms = self.limits.epoch_tick_ms.max(1);
        let deadline_ms = self.limits.deadline_ms;
        let deadline = Duration::from_millis(deadline_ms);
        let budget_ticks = self.limits.cpu_budget_ms.div_ceil(tick_ms);
        let pause = Duration::from_millis(tick_ms.saturating_mul(self.limits.throttle_ticks));
        let started = std::time::Instant::now();
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |mut context| {
            let state = context.data_mut();
            state.epoch_ticks += 1;
            let elapsed = started.elapsed();
            if elapsed >= deadline {
                return Err(GuestLimit::Deadline(deadline_ms).into());
            }
            if state.epoch_ticks > budget_ticks && !pause.is_zero() {
                // Over its compute budget: it may still finish before its
                // deadline, but on a fraction of a core, so that a runaway
                // cannot crowd out everyone else's calls until it is stopped.
                let nap = pause.min(deadline - elapsed);
                return Ok(UpdateDeadline::YieldCustom(1, Box::pin(tokio::time::sleep(nap))));
            }
            Ok(UpdateDeadline::Yield(1))
        });

        // The epoch deadline stops wasm code; this one also stops a guest
        // waiting in a host call (a WASI sleep or poll, storage), which runs
        // no wasm code for the epoch to interrupt. Dropping the future
        // unwinds the guest's fiber; the store, and with it the instance
        // slot, is freed when this function returns.
        let cutoff = tokio::time::Instant::from_std(started) + deadline;
        let result = match tokio::time::timeout_at(cutoff, run(&mut store, pre, &entry)).await {
            Ok(result) => result,
            Err(_) => Err(CallError::Trap {
                kind: TrapKind::Deadline,
                message: format!("{} (waiting in a host call)", GuestLimit::Deadline(deadline_ms)),
            }),
        };
        let result = result.and_then(|response| self.check_response(response));
        let state = store.data_mut();
        let keeper = &mut state.keeper;
        // From here a request that ends is recorded with the call's end.
        let journal = Arc::clone(&keeper.journal);
        journal.close();
        let mut ended = false;
        if let Err(error) = &result {
            match error {
                CallError::Trap { kind, message } => {
                    keeper.record(Action::Invoke, None, Outcome::Trapped, Some(format!("{}: {message}", kind.code())));
                    ended = true;
                }
                CallError::Plugin(PluginError::Internal(message)) => {
                    let mut message = message.clone();
                    message.truncate(message.floor_char_boundary(500));
                    keeper.record(Action::Invoke, None, Outcome::Failed, Some(format!("plugin_error: {message}")));
                    ended = true;
                }
                CallError::Plugin(_) => {}
            }
        }
        // Outbound requests still under way are recorded like the call's
        // other events, from the template the call's first request made.
        let template = state.egress.template.take();
        let mut pending = std::mem::take(&mut keeper.pending);
        let written = std::mem::take(&mut keeper.written);
        let unwritten = keeper.unwritten.take();
        let logs = std::mem::take(&mut state.log.lines);
        let dropped_logs = state.log.dropped;
        // The instance and its requests end here; each outbound request's
        // record is then final (one still under way when the call was cut
        // is recorded cut off).
        if matches!(result, Err(CallError::Trap { .. })) {
            ledger.cut_off();
        }
        drop(store);
        // The events not handed over yet, and the requests' records handed
        // over as they ended (the answer waits for those too).
        let (mut audit, handed) = journal.take();
        pending.extend(handed);
        if let Some(template) = template {
            egress::merge(&mut audit, ledger.events(&template), ended);
        }
        CallOutcome { result, audit, logs, dropped_logs, pending, written, unwritten }
    }

    fn check_response(&self, response: Response) -> Result<Response, CallError> {
        let cap = self.limits.response_bytes;
        if response.body.len() > cap {
            return Err(trap(GuestLimit::Response { size: response.body.len(), cap }.into()));
        }
        let bad = |message: String| CallError::Trap { kind: TrapKind::BadResponse, message };
        if !(100..=599).contains(&response.status) {
            return Err(bad(format!("status {} is not an HTTP status", response.status)));
        }
        if response.headers.len() > 64 {
            return Err(bad(format!("{} headers; at most 64", response.headers.len())));
        }
        for (name, value) in &response.headers {
            let name_ok =
                !name.is_empty() && name.len() <= 128 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
            let value_ok = value.len() <= 8192 && !value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0);
            if !name_ok || !value_ok {
                return Err(bad(format!("header {name:?} is not a valid header")));
            }
        }
        Ok(response)
    }
}

async fn run(store: &mut WasmStore<CallState>, pre: &Prepared, entry: &Entry) -> Result<Response, CallError> {
    let answer = match (pre, entry) {
        (Prepared::V0_3(current), Entry::Request(request)) => {
            let instance = current.pre.instantiate_async(&mut *store).await.map_err(trap)?;
            let handler = current.handler.load(&mut *store, &instance).map_err(trap)?;
            handler.call_handle(&mut *store, request).await
        }
        (Prepared::V0_3(current), Entry::Event(event)) => {
            let Some(events) = &current.events else { return Err(no_events()) };
            let instance = current.pre.instantiate_async(&mut *store).await.map_err(trap)?;
            let guest = events.load(&mut *store, &instance).map_err(trap)?;
            let event = wit::v0_3::Event {
                id: event.id.clone(),
                kind: event.kind.clone(),
                time_ms: event.time_ms,
                subject: if event.person { wit::v0_3::Subject::Person } else { wit::v0_3::Subject::Nobody },
                payload: event.payload.clone(),
            };
            guest.call_on_event(&mut *store, &event).await.map(|done| done.map(|()| handled()))
        }
        (Prepared::V0_2(pre), Entry::Request(request)) => {
            let plugin = pre.instantiate_async(&mut *store).await.map_err(trap)?;
            let request = wit::v0_2::Request::from(request);
            let answer = plugin.workbench_plugin_handler().call_handle(&mut *store, &request).await;
            answer.map(|result| result.map(Response::from).map_err(PluginError::from))
        }
        (Prepared::V0_1(pre), Entry::Request(request)) => {
            let plugin = pre.instantiate_async(&mut *store).await.map_err(trap)?;
            let request = wit::v0_1::Request::from(request);
            let answer = plugin.workbench_plugin_handler().call_handle(&mut *store, &request).await;
            answer.map(|result| result.map(Response::from).map_err(PluginError::from))
        }
        (Prepared::V0_1(_) | Prepared::V0_2(_), Entry::Event(_)) => return Err(no_events()),
    };
    match answer {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(error)) => Err(CallError::Plugin(error)),
        Err(error) => Err(trap(error)),
    }
}

/// An event for a component that does not export `events`.
fn no_events() -> CallError {
    CallError::Trap {
        kind: TrapKind::Other,
        message: format!("the component does not export workbench:plugin/events@{}", wit::CURRENT),
    }
}

/// Classifies an error out of wasmtime.
fn trap(error: wasmtime::Error) -> CallError {
    let message = format!("{error:#}");
    let kind = if let Some(limit) = error.downcast_ref::<GuestLimit>() {
        match limit {
            GuestLimit::Deadline(_) => TrapKind::Deadline,
            GuestLimit::Memory(_) => TrapKind::Memory,
            GuestLimit::Hostcalls(_) => TrapKind::Hostcalls,
            GuestLimit::Response { .. } => TrapKind::ResponseTooLarge,
        }
    } else if let Some(trap) = error.downcast_ref::<Trap>() {
        match trap {
            Trap::StackOverflow => TrapKind::Stack,
            Trap::Interrupt => TrapKind::Deadline,
            Trap::UnreachableCodeReached => TrapKind::Panic,
            _ => TrapKind::Other,
        }
    } else {
        TrapKind::Host
    };
    let message = match kind {
        TrapKind::Deadline | TrapKind::Memory | TrapKind::Hostcalls | TrapKind::ResponseTooLarge => {
            error.downcast_ref::<GuestLimit>().map_or(message, ToString::to_string)
        }
        _ => message.lines().next().unwrap_or_default().to_owned(),
    };
    CallError::Trap { kind, message }
}
