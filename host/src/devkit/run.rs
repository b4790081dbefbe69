//! `workbench plugin run`: the component on this machine, against a fixture
//! person, with no server. It runs on the host's own services (the gate, the
//! consent rules, storage, the audit writer) over a throwaway SQLite
//! database, so the fields, refusals and audit records are the ones a real
//! server makes for the same person and consents.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::Serialize;

use crate::config::Config;
use crate::demo;
use crate::model::audit::{AuditFilter, AuditRecord};
use crate::scope::Scope;
use crate::service::installations::InstallRequest;
use crate::service::{ServiceError, Workbench};

/// What the run calls: the handler with a request, or the events export
/// with one event.
#[derive(Debug)]
pub enum Call {
    /// A request to the handler.
    Request(crate::runtime::Request),
    /// One event, as `--event FILE` describes it.
    Event(EventFile),
}

/// `--event FILE`: a platform event as `POST /api/v1/events` takes one
/// (`kind`, `payload`, optionally `id` and `subject`, default the calling
/// fixture person), or a tick of one of the plugin's schedules
/// (`{"kind": "schedule", "schedule": "NAME"}`).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventFile {
    /// The platform's id (default: one made up for the run).
    #[serde(default)]
    pub id: Option<String>,
    /// `approval.submitted`, …, or `schedule`.
    pub kind: String,
    /// The member it is about: `--member` (whose consents the run records).
    #[serde(default)]
    pub subject: Option<String>,
    /// When it happened, ms since the epoch (default: now).
    #[serde(default)]
    pub time_ms: Option<i64>,
    /// The payload, for a platform kind.
    #[serde(default)]
    pub payload: Option<serde_json::Value>,
    /// The schedule's name, for `schedule`.
    #[serde(default)]
    pub schedule: Option<String>,
}

/// Reads `--event FILE` (`-` for standard input).
pub fn event_file(path: &str) -> anyhow::Result<EventFile> {
    let source = if path == "-" { "-".to_owned() } else { format!("@{path}") };
    let text = String::from_utf8(body(Some(&source))?).with_context(|| format!("{path} is not UTF-8"))?;
    serde_json::from_str(&text).with_context(|| {
        format!(
            "{path} is not an event: write {{\"kind\": \"approval.submitted\", \"payload\": {{…}}}} \
             or {{\"kind\": \"schedule\", \"schedule\": \"NAME\"}}"
        )
    })
}

/// What to run and as whom.
#[derive(Debug)]
pub struct RunRequest {
    /// The plugin's folder (its plugin.toml).
    pub project: PathBuf,
    /// The component (default: what `build` made).
    pub component: PathBuf,
    /// The request or the event.
    pub call: Call,
    /// A fixture person of the demo company.
    pub member: String,
    /// The scopes the admin grants (default: every declared one).
    pub grant: Option<Vec<Scope>>,
    /// The scopes the person consents to (default: every declared personal scope).
    pub consent: Option<Vec<Scope>>,
    /// Configuration values the admin sets.
    pub config: std::collections::BTreeMap<String, String>,
    /// Where compiled code is kept between runs.
    pub code_cache: PathBuf,
}

/// One audit record, as `run` shows it.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Access {
    /// `read`, `storage.get`, …
    pub action: String,
    /// The scope, if any.
    pub scope: Option<String>,
    /// `allowed`, `denied`, `failed`, `trapped`.
    pub outcome: String,
    /// Why it was refused or failed.
    pub reason: Option<String>,
    /// An outbound request: where, what, and what it could carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<crate::model::egress::EgressDetail>,
}

impl From<&AuditRecord> for Access {
    fn from(record: &AuditRecord) -> Self {
        Self {
            action: record.event.action.clone(),
            scope: record.event.scope.clone(),
            outcome: record.event.outcome.as_str().to_owned(),
            reason: record.event.reason.clone(),
            request: record.event.egress.clone(),
        }
    }
}

/// What a run shows: the response (or the refusal), log lines and records.
#[derive(Debug, Serialize)]
pub struct Ran {
    /// HTTP status of the plugin's response, when it answered.
    pub status: Option<u16>,
    /// Its headers.
    pub headers: Vec<(String, String)>,
    /// Its body, as UTF-8 text (lossily).
    pub body: String,
    /// Why there is no response: the host's refusal or the plugin's error.
    pub error: Option<String>,
    /// Log lines, `(level, message)`.
    pub logs: Vec<(String, String)>,
    /// The audit records the call made, in order.
    pub audit: Vec<Access>,
    /// For an event: where its delivery stands (`done`; `pending`, to be
    /// retried; `dead`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivery: Option<String>,
    /// For an event: the notifications the plugin sent, `(title, text, route)`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notifications: Vec<(String, String, String)>,
}

/// Splits `PATH?QUERY`.
pub fn request(
    method: &str,
    target: &str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
) -> anyhow::Result<crate::runtime::Request> {
    let method = method.to_ascii_uppercase();
    if !["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"].contains(&method.as_str()) {
        bail!("{method} is not a method a plugin is called with (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS)");
    }
    if !target.starts_with('/') {
        bail!("the path must start with / (got {target:?}), e.g. / or /visitors.json?date=2026-12-02");
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    Ok(crate::runtime::Request { method, path: path.to_owned(), query: query.to_owned(), headers, body })
}

/// Runs the request.
pub async fn run(run: RunRequest) -> anyhow::Result<Ran> {
    let manifest_toml = std::fs::read_to_string(run.project.join("plugin.toml"))
        .with_context(|| format!("reading {}", run.project.join("plugin.toml").display()))?;
    let manifest = super::read_manifest(&run.project)?;
    let component = std::fs::read(&run.component)
        .with_context(|| format!("reading {} (build it first: `workbench plugin build`)", run.component.display()))?;
    let fixtures = demo::members();
    if !fixtures.iter().any(|(id, _)| *id == run.member) {
        let known: Vec<_> = fixtures.iter().map(|(id, _)| *id).collect();
        bail!("no fixture person {:?}; the fixtures are {}", run.member, known.join(", "));
    }
    let declared: Vec<Scope> = manifest.scopes.iter().map(|d| d.scope).collect();
    let grant = run.grant.unwrap_or_else(|| declared.clone());
    let consent = run.consent.unwrap_or_else(|| declared.iter().copied().filter(|s| s.is_personal()).collect());
    if let Some(other) = consent.iter().chain(&grant).find(|s| !declared.contains(s)) {
        bail!("{other} is not declared in plugin.toml; --grant and --consent name declared scopes");
    }
    if let Some(capability) = consent.iter().find(|s| !s.is_personal()) {
        bail!("{capability} is a capability the admin grants (--grant); people consent to personal fields only");
    }

    let data = tempfile::tempdir().context("a scratch folder")?;
    let config = Config {
        data_dir: data.path().to_owned(),
        code_cache_dir: Some(run.code_cache),
        egress: super::local_egress(),
        ..Config::default()
    };
    let (workbench, writer) = Workbench::open(&config).await?;
    let tenant = demo::TENANT;
    workbench.sync_directory(tenant, demo::TENANT_NAME, &fixtures).await?;
    let published = workbench.publish(tenant, demo::DEVELOPER, &manifest_toml, component, None).await?;
    let install = InstallRequest {
        version: published.version,
        granted: grant,
        visible_to: None,
        egress: published.destinations,
        config: run.config,
        subscriptions: None,
    };
    workbench.install(tenant, demo::ADMIN, &manifest.id, install).await?;
    if !consent.is_empty() {
        let sensitive: Vec<Scope> = consent.iter().copied().filter(|s| s.is_sensitive()).collect();
        workbench.consent(tenant, &run.member, &manifest.id, &consent, &sensitive, &Default::default()).await?;
    }
    let request = match run.call {
        Call::Request(request) => request,
        Call::Event(event) => {
            let workbench = std::sync::Arc::new(workbench);
            let ran = deliver(&workbench, &manifest.id, &run.member, event).await;
            drop(workbench);
            writer.await.context("the audit writer")?;
            return ran;
        }
    };
    let ran = match workbench.invoke(tenant, &run.member, &manifest.id, request).await {
        Ok(invoked) => Ran {
            status: Some(invoked.response.status),
            headers: invoked.response.headers.clone(),
            body: String::from_utf8_lossy(&invoked.response.body).into_owned(),
            error: None,
            logs: invoked.logs.iter().map(|l| (l.level.to_owned(), l.message.clone())).collect(),
            audit: invoked.audit.iter().map(Access::from).collect(),
            delivery: None,
            notifications: Vec::new(),
        },
        Err(error) => {
            let audit = match &error {
                ServiceError::Plugin { invocation, .. } => {
                    records_of(&workbench, tenant, &manifest.id, invocation).await?
                }
                _ => Vec::new(),
            };
            let hint = match &error {
                ServiceError::ConsentRequired { .. } => " (pass --consent with the required scopes)",
                _ => "",
            };
            Ran {
                status: None,
                headers: Vec::new(),
                body: String::new(),
                error: Some(format!("{error}{hint}")),
                logs: Vec::new(),
                audit,
                delivery: None,
                notifications: Vec::new(),
            }
        }
    };
    drop(workbench);
    writer.await.context("the audit writer")?;
    Ok(ran)
}

/// Accepts `event` for the plugin and delivers it once, as a server would.
async fn deliver(
    workbench: &std::sync::Arc<Workbench>,
    plugin: &str,
    member: &str,
    event: EventFile,
) -> anyhow::Result<Ran> {
    let tenant = demo::TENANT;
    let subject = member.to_owned();
    if let Some(other) = event.subject.as_deref().filter(|s| *s != member) {
        bail!(
            "the event is about {other} but the run is as {member}: pass --member {other} (its consents are the run's)"
        );
    }
    let filter = AuditFilter { plugin: Some(plugin.to_owned()), ..AuditFilter::default() };
    let before = workbench.audit_page(tenant, &filter, 0, 1000).await?.records.iter().map(|r| r.seq).max();
    let event_id = if event.kind == "schedule" {
        let Some(name) = event.schedule else { bail!("a schedule event names its schedule: \"schedule\": \"NAME\"") };
        workbench.fire_schedule(tenant, plugin, &name, &subject, crate::now_ms()).await?
    } else {
        let id = event.id.unwrap_or_else(|| format!("run-{}", uuid::Uuid::now_v7()));
        let sent = crate::service::events::PlatformEvent {
            id: id.clone(),
            kind: event.kind,
            subject: subject.clone(),
            time_ms: event.time_ms,
            payload: event.payload.unwrap_or_else(|| serde_json::json!({})),
        };
        let accepted = workbench.accept_events(tenant, vec![sent]).await?;
        if accepted.iter().all(|a| a.deliveries == 0) {
            bail!("plugin.toml does not subscribe to this kind: add it under [[events]]");
        }
        id
    };
    workbench.deliver_due().await?;
    let delivery = workbench
        .deliveries(tenant, None)
        .await?
        .into_iter()
        .find(|d| d.event_id == event_id && d.plugin == plugin)
        .context("the event was accepted but has no delivery")?;
    // What this delivery recorded: its call's records and its own, under
    // the call's invocation (not a host event's delivery beside it).
    let page = workbench.audit_page(tenant, &filter, 0, 1000).await?;
    let mut audit: Vec<&AuditRecord> = page.records.iter().filter(|r| Some(r.seq) > before).collect();
    audit.sort_by_key(|r| r.seq);
    let marker = format!("event {event_id} (");
    let invocation = audit
        .iter()
        .find(|r| r.event.action == "event.deliver" && r.event.reason.as_deref().is_some_and(|w| w.contains(&marker)))
        .and_then(|r| r.event.invocation.clone());
    let audit = audit
        .into_iter()
        .filter(|r| invocation.is_none() || r.event.invocation == invocation)
        .map(Access::from)
        .collect();
    let inbox = workbench.inbox(tenant, &subject).await?;
    Ok(Ran {
        status: None,
        headers: Vec::new(),
        body: String::new(),
        error: delivery.last_error.clone().filter(|_| delivery.state != crate::model::events::DeliveryState::Done),
        logs: Vec::new(),
        audit,
        delivery: Some(delivery.state.as_str().to_owned()),
        notifications: inbox.notifications.into_iter().map(|n| (n.title, n.text, n.route)).collect(),
    })
}

/// The records of one failed invocation.
async fn records_of(
    workbench: &Workbench,
    tenant: &str,
    plugin: &str,
    invocation: &str,
) -> anyhow::Result<Vec<Access>> {
    let filter = AuditFilter { plugin: Some(plugin.to_owned()), ..AuditFilter::default() };
    let page = workbench.audit_page(tenant, &filter, 0, 1000).await?;
    Ok(page.records.iter().filter(|r| r.event.invocation.as_deref() == Some(invocation)).map(Access::from).collect())
}

/// Prints a run for people.
pub fn print(ran: &Ran, member: &str) {
    match (ran.status, &ran.error) {
        (Some(status), _) => {
            let kind = ran.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case("content-type")).map_or("", |(_, v)| v);
            println!("{status} {kind} ({} bytes) for {member}", ran.body.len());
            for (name, value) in &ran.headers {
                if !name.eq_ignore_ascii_case("content-type") {
                    println!("{name}: {value}");
                }
            }
            println!("\n{}\n", ran.body);
        }
        (None, Some(error)) if ran.delivery.is_some() => println!("the event failed: {error}\n"),
        (None, Some(error)) => println!("no response: {error}\n"),
        (None, None) => {}
    }
    if let Some(state) = &ran.delivery {
        println!("delivery: {state}");
        for (title, text, route) in &ran.notifications {
            println!("  notified {member}: {title} — {text} (opens {route})");
        }
        println!();
    }
    if !ran.logs.is_empty() {
        println!("log:");
        for (level, message) in &ran.logs {
            println!("  {level:<5} {message}");
        }
    }
    println!("audit ({} records):", ran.audit.len());
    for access in &ran.audit {
        let reason = access.reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
        match &access.request {
            Some(sent) => {
                let status = sent.status.map_or_else(|| "no answer".to_owned(), |s| s.to_string());
                let fields = match sent.could_include.as_slice() {
                    [] => "no personal field read before it".to_owned(),
                    read => format!("could include {}", read.join(", ")),
                };
                println!(
                    "  {:<12} {} {}{} -> {status}, {} B out, {} B in, {} ms; {fields}; {}{reason}",
                    access.action,
                    sent.method,
                    sent.destination,
                    sent.path,
                    sent.bytes_out,
                    sent.bytes_in,
                    sent.duration_ms,
                    access.outcome,
                );
            }
            None => println!(
                "  {:<12} {:<15} {}{reason}",
                access.action,
                access.scope.as_deref().unwrap_or("-"),
                access.outcome,
            ),
        }
    }
}

/// `--header 'name: value'`.
pub fn header(text: &str) -> anyhow::Result<(String, String)> {
    let (name, value) = text.split_once(':').with_context(|| format!("--header {text:?} must be `name: value`"))?;
    Ok((name.trim().to_ascii_lowercase(), value.trim().to_owned()))
}

/// `--body TEXT`, `--body @FILE` or `--body -` (standard input).
pub fn body(text: Option<&str>) -> anyhow::Result<Vec<u8>> {
    Ok(match text {
        None => Vec::new(),
        Some("-") => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)?;
            bytes
        }
        Some(file) if file.starts_with('@') => {
            std::fs::read(Path::new(&file[1..])).with_context(|| format!("reading {}", &file[1..]))?
        }
        Some(text) => text.as_bytes().to_vec(),
    })
}
