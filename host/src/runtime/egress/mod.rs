//! Outbound HTTP (`wasi:http/outgoing-handler`) behind the gate.
//!
//! Each request a plugin makes is checked before anything leaves the host:
//! the call's request count, a destination its manifest declares, the
//! admin's approval of that destination, plain `http` only where the
//! operator allows it. The host then resolves the name itself, refuses any
//! address that is not public (unless the operator allows its range), and
//! connects to exactly the address it checked, so a name cannot be
//! re-pointed between the check and the connection. Redirects are never
//! followed here: the plugin gets the 3xx, and a request to wherever it
//! points is checked like any other. Bodies are counted and capped both
//! ways; connect, first-byte and between-bytes timeouts hold, all inside
//! the call's deadline.
//!
//! Every request, allowed or refused, becomes one audit record
//! ([`crate::model::egress::EgressDetail`]): destination, method, path
//! without query, status, bytes each way, duration, why it was refused or
//! failed, and the personal scopes the call had read before the request's
//! last byte left (what could have left with it: a body streamed after the
//! request started may carry a field read after that). A request's record
//! joins the call's events when the request ends (its response read to the
//! end, failed, refused or dropped), after every event the call made before
//! it, and is handed to the audit writer then, while the call goes on
//! ([`crate::runtime::journal`]). A request still under way when the call
//! ends is recorded with the call's other records, cut off; the call's
//! [`Ledger`] keeps every request so that none is missed.

pub mod address;
pub mod config;
mod get;
mod send;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use config::{EgressConfig, Pinned};
pub use get::Fetched;
use wasmtime_wasi_http::{RequestOptions, WasiBody, WasiHttpHooks};

use super::journal::Journal;
use crate::model::audit::{AuditEvent, Outcome};
use crate::model::egress::{Destination, EgressDetail, Scheme, normal_host};
use crate::model::manifest::Manifest;
use crate::scope::SharedScopes;

/// What every call's outbound requests share: the operator's rules and the
/// TLS client (system roots plus any configured ones).
pub struct Egress {
    pub(crate) config: EgressConfig,
    tls: tokio_rustls::TlsConnector,
}

impl std::fmt::Debug for Egress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Egress").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Egress {
    /// The shared outbound client. Fails when a configured CA file cannot
    /// be read or holds no certificate.
    pub fn new(config: &EgressConfig) -> anyhow::Result<Self> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        for error in &native.errors {
            tracing::warn!(%error, "a system CA certificate could not be loaded");
        }
        let (added, _) = roots.add_parsable_certificates(native.certs);
        for path in &config.extra_roots {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<_, _>>())
                .map_err(|e| anyhow::anyhow!("egress.extra_roots: {}: {e}", path.display()))?;
            if certs.is_empty() {
                anyhow::bail!("egress.extra_roots: {} holds no certificate", path.display());
            }
            for cert in certs {
                roots.add(cert).map_err(|e| anyhow::anyhow!("egress.extra_roots: {}: {e}", path.display()))?;
            }
        }
        if added == 0 && config.extra_roots.is_empty() {
            tracing::warn!("no system CA certificates were found: plugins' https requests will fail verification");
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| anyhow::anyhow!("TLS versions: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self { config: config.clone(), tls: tokio_rustls::TlsConnector::from(Arc::new(tls)) })
    }
}

/// Who a call's outbound requests are made for, and where they may go.
#[derive(Debug, Clone)]
pub struct EgressCall {
    /// The plugin version's manifest (its declared destinations).
    pub manifest: Arc<Manifest>,
    /// The destinations the tenant's admin approved, as the manifest writes them.
    pub approved: Arc<[String]>,
}

/// How one outbound request ended, once known.
#[derive(Debug, Default)]
struct End {
    status: Option<u16>,
    /// Set once: later ends (a drop after an error) do not overwrite it.
    outcome: Option<(Outcome, Option<String>, Duration)>,
}

/// One outbound request as it goes: what its record will say.
#[derive(Debug)]
pub(crate) struct Trace {
    ts_ms: i64,
    started: Instant,
    destination: String,
    /// The declared destination it matched (the metrics label), if any.
    declared: Option<String>,
    /// That destination's purpose, in the primary language.
    purpose: Option<String>,
    method: String,
    path: String,
    /// What the call has read, as it grows.
    read: SharedScopes,
    /// What the call had read when each byte of the request left (the
    /// request's start counts as its first).
    carried: SharedScopes,
    /// Set when the call ended by a trap or its deadline.
    call_cut: Arc<AtomicBool>,
    /// Where its record goes when it ends, and the record's template (the
    /// call's; absent only if the request came some other way than the view).
    journal: Option<(Arc<Journal>, Arc<AuditEvent>)>,
    /// Its record was made (at its end); the call's end makes the others.
    recorded: AtomicBool,
    bytes_out: AtomicU64,
    bytes_in: AtomicU64,
    end: Mutex<End>,
}

impl Trace {
    fn end(&self) -> std::sync::MutexGuard<'_, End> {
        self.end.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Ends the request (the first end counts) and hands its record on.
    pub(crate) fn finish(&self, outcome: Outcome, reason: Option<String>) {
        {
            let mut end = self.end();
            if end.outcome.is_some() {
                return;
            }
            end.outcome = Some((outcome, reason, self.started.elapsed()));
        }
        if let Some((journal, template)) = &self.journal {
            journal.write_now(|| {
                self.recorded.store(true, Ordering::Release);
                self.event(template)
            });
        }
    }

    pub(crate) fn set_status(&self, status: u16) {
        self.end().status = Some(status);
    }

    /// Counts `bytes` of the request leaving now, with what the call has read by now.
    pub(crate) fn add_out(&self, bytes: u64) -> u64 {
        self.carried.extend(self.read.get());
        self.bytes_out.fetch_add(bytes, Ordering::Relaxed) + bytes
    }

    /// Whether the call ended (a trap, its deadline) while this was under way.
    pub(crate) fn call_cut(&self) -> bool {
        self.call_cut.load(Ordering::Acquire)
    }

    pub(crate) fn add_in(&self, bytes: u64) -> u64 {
        self.bytes_in.fetch_add(bytes, Ordering::Relaxed) + bytes
    }

    /// The audit event it makes now: a request the call outlived is cut off.
    fn event(&self, template: &AuditEvent) -> AuditEvent {
        let end = self.end();
        let (outcome, reason, duration) = end.outcome.clone().unwrap_or_else(|| {
            (Outcome::Failed, Some("cut_off: the call ended before the request did".to_owned()), self.started.elapsed())
        });
        let detail = EgressDetail {
            destination: self.destination.clone(),
            method: self.method.clone(),
            path: self.path.clone(),
            status: end.status,
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            could_include: self
                .carried
                .get()
                .iter()
                .filter(|s| s.is_personal())
                .map(|s| s.as_str().to_owned())
                .collect(),
        };
        let label = self.declared.clone().unwrap_or_else(|| "undeclared".to_owned());
        metrics::counter!("workbench_egress_requests_total", "destination" => label.clone(), "outcome" => outcome.as_str())
            .increment(1);
        metrics::counter!("workbench_egress_bytes_total", "destination" => label.clone(), "direction" => "out")
            .increment(detail.bytes_out);
        metrics::counter!("workbench_egress_bytes_total", "destination" => label.clone(), "direction" => "in")
            .increment(detail.bytes_in);
        metrics::histogram!("workbench_egress_request_seconds", "destination" => label).record(duration.as_secs_f64());
        AuditEvent {
            ts_ms: self.ts_ms,
            outcome,
            reason,
            egress: Some(detail),
            purpose: self.purpose.clone(),
            ..template.clone()
        }
    }
}

/// A call's outbound requests, in the order they were made.
#[derive(Debug, Default)]
pub struct Ledger {
    traces: Mutex<Vec<Arc<Trace>>>,
    cut: Arc<AtomicBool>,
}

impl Ledger {
    fn push(&self, trace: Arc<Trace>) {
        self.traces.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(trace);
    }

    /// The call ended by a trap or its deadline: a response still arriving
    /// is recorded cut off, not unread. Before the call's store is dropped.
    pub fn cut_off(&self) {
        self.cut.store(true, Ordering::Release);
    }

    /// Whether the call made no request.
    pub fn is_empty(&self) -> bool {
        self.traces.lock().unwrap_or_else(std::sync::PoisonError::into_inner).is_empty()
    }

    /// The audit events of every request not recorded at its end (one
    /// each), as they stand now: those still under way when the call ended.
    pub fn events(&self, template: &AuditEvent) -> Vec<AuditEvent> {
        let traces = std::mem::take(&mut *self.traces.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
        traces.iter().filter(|t| !t.recorded.load(Ordering::Acquire)).map(|t| t.event(template)).collect()
    }
}

/// The `wasi:http` hooks of one call: the gate for outbound requests.
pub struct CallHooks {
    shared: Arc<Egress>,
    call: EgressCall,
    ledger: Arc<Ledger>,
    /// The personal scopes the call has read so far (the gatekeeper's, shared).
    pub(crate) read: SharedScopes,
    /// The call's journal, where each request's record goes when it ends.
    pub(crate) journal: Option<Arc<Journal>>,
    /// The template of the call's request records (made on first use).
    pub(crate) template: Option<Arc<AuditEvent>>,
    sent: u32,
}

impl std::fmt::Debug for CallHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallHooks").field("sent", &self.sent).finish_non_exhaustive()
    }
}

impl CallHooks {
    /// The hooks of a call.
    pub fn new(shared: Arc<Egress>, call: EgressCall) -> Self {
        Self {
            shared,
            call,
            ledger: Arc::default(),
            read: SharedScopes::default(),
            journal: None,
            template: None,
            sent: 0,
        }
    }

    /// The call's ledger (its records are collected when the call ends).
    pub fn ledger(&self) -> Arc<Ledger> {
        Arc::clone(&self.ledger)
    }

    /// Checks a request against the call's rules; `Ok` carries the trace
    /// and what to connect to, `Err` the refused trace and the guest's error.
    fn admit(
        &mut self,
        request: &http::Request<WasiBody>,
    ) -> Result<(Arc<Trace>, send::Target), (Arc<Trace>, wasmtime_wasi_http::Error)> {
        use wasmtime_wasi_http::Error;
        let uri = request.uri();
        let scheme = match uri.scheme_str() {
            Some("https") => Some(Scheme::Https),
            Some("http") => Some(Scheme::Http),
            _ => None,
        };
        let host = normal_host(uri.host().unwrap_or_default());
        let port = uri.port_u16().or(scheme.map(Scheme::default_port)).unwrap_or(0);
        let destination = match scheme {
            Some(scheme) => Destination::address(scheme, &host, port),
            None => format!("{}://{host}:{port}", uri.scheme_str().unwrap_or("?")),
        };
        let declared = scheme.and_then(|s| self.call.manifest.destination_for(s, &host, port));
        let trace = Arc::new(Trace {
            ts_ms: crate::now_ms(),
            started: Instant::now(),
            destination,
            declared: declared.map(|d| d.destination.to_string()),
            purpose: declared.map(|d| d.purpose.primary().to_owned()),
            method: request.method().as_str().to_owned(),
            path: uri.path().chars().take(1024).collect(),
            read: self.read.clone(),
            carried: SharedScopes::default(),
            call_cut: Arc::clone(&self.ledger.cut),
            journal: self.journal.clone().zip(self.template.clone()),
            recorded: AtomicBool::new(false),
            bytes_out: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            end: Mutex::default(),
        });
        trace.carried.extend(self.read.get());
        self.ledger.push(Arc::clone(&trace));
        let refuse = |trace: Arc<Trace>, reason: String| {
            trace.finish(Outcome::Denied, Some(reason));
            Err((trace, Error::HttpRequestDenied))
        };
        self.sent += 1;
        let limit = self.shared.config.max_requests_per_call;
        if self.sent > limit {
            return refuse(trace, format!("too_many_requests: a call may make {limit}"));
        }
        let Some(scheme) = scheme else {
            return refuse(trace, "unsupported_scheme: only http and https".to_owned());
        };
        // A tunnel: whatever went through it would leave no trace here.
        if request.method() == http::Method::CONNECT {
            return refuse(trace, "unsupported_method: CONNECT".to_owned());
        }
        let Some(declared) = declared else {
            return refuse(trace, "not_declared: the manifest declares no destination for it".to_owned());
        };
        let name = declared.destination.to_string();
        let approved = self.call.approved.contains(&name);
        if !approved {
            return refuse(trace, format!("not_approved: the admin has not approved {name}"));
        }
        if scheme == Scheme::Http && !self.shared.config.plain_http_allowed(&host) {
            return refuse(
                trace,
                format!("plain_http: this host allows plain http only to {:?}", self.shared.config.plain_http_hosts),
            );
        }
        Ok((Arc::clone(&trace), send::Target { scheme, host, port }))
    }
}

impl WasiHttpHooks for CallHooks {
    /// Every scheme reaches [`CallHooks::admit`], which refuses all but http
    /// and https with a record (wasmtime would refuse them unrecorded).
    fn is_supported_scheme(&mut self, _scheme: &http::uri::Scheme) -> bool {
        true
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>,
    ) -> Box<
        dyn Future<
                Output = Result<
                    (http::Response<WasiBody>, Box<dyn Future<Output = Result<(), wasmtime_wasi_http::Error>> + Send>),
                    wasmtime_wasi_http::Error,
                >,
            > + Send,
    > {
        match self.admit(&request) {
            Err((_, error)) => Box::new(async move { Err(error) }),
            Ok((trace, target)) => {
                let shared = Arc::clone(&self.shared);
                Box::new(async move { send::send(shared, target, request, options, trace).await })
            }
        }
    }
}

/// Puts a call's outbound-request events among its other events by time
/// (a trailing trap record stays last).
pub fn merge(audit: &mut Vec<AuditEvent>, egress: Vec<AuditEvent>, trapped: bool) {
    if egress.is_empty() {
        return;
    }
    let trap = if trapped { audit.pop() } else { None };
    for event in egress {
        let at = audit.iter().rposition(|e| e.ts_ms <= event.ts_ms).map_or(0, |i| i + 1);
        audit.insert(at, event);
    }
    audit.extend(trap);
}
