//! Events: what plugins may be told of (`[[events]]` subscriptions and
//! `[[schedules]]` ticks in the manifest), the platform's events as `POST
//! /api/v1/events` accepts them with their payload schemas, and a
//! delivery's state. Deliveries are at least once, on [`BACKOFF_SECS`].

use serde::{Deserialize, Serialize};

use crate::model::text::Text;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventKind {
    /// An approval request was routed to an approver (the subject).
    #[serde(rename = "approval.submitted")]
    ApprovalSubmitted,
    /// An approval request was decided; the subject is who submitted it.
    #[serde(rename = "approval.decided")]
    ApprovalDecided,
    /// A customer was assigned to the subject.
    #[serde(rename = "customer.assigned")]
    CustomerAssigned,
    /// The subject joined the tenant.
    #[serde(rename = "member.joined")]
    MemberJoined,
    /// The subject left the tenant (delivered about nobody: they are gone).
    #[serde(rename = "member.left")]
    MemberLeft,
    /// This plugin was installed in the tenant (by the host).
    #[serde(rename = "plugin.installed")]
    PluginInstalled,
    /// This plugin was upgraded in the tenant (by the host).
    #[serde(rename = "plugin.upgraded")]
    PluginUpgraded,
    /// A tick of one of the plugin's schedules (by the host).
    #[serde(rename = "schedule")]
    Schedule,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 8] = [
        EventKind::ApprovalSubmitted,
        EventKind::ApprovalDecided,
        EventKind::CustomerAssigned,
        EventKind::MemberJoined,
        EventKind::MemberLeft,
        EventKind::PluginInstalled,
        EventKind::PluginUpgraded,
        EventKind::Schedule,
    ];

    /// The kind's name, as plugins and the API see it.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::ApprovalSubmitted => "approval.submitted",
            EventKind::ApprovalDecided => "approval.decided",
            EventKind::CustomerAssigned => "customer.assigned",
            EventKind::MemberJoined => "member.joined",
            EventKind::MemberLeft => "member.left",
            EventKind::PluginInstalled => "plugin.installed",
            EventKind::PluginUpgraded => "plugin.upgraded",
            EventKind::Schedule => "schedule",
        }
    }

    /// The kind named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Whether the platform sends it (`POST /api/v1/events`); the others the host makes.
    pub const fn from_platform(self) -> bool {
        matches!(
            self,
            EventKind::ApprovalSubmitted
                | EventKind::ApprovalDecided
                | EventKind::CustomerAssigned
                | EventKind::MemberJoined
                | EventKind::MemberLeft
        )
    }

    /// Which plugins are told: those subscribed in the tenant (`None`), or
    /// only the one the host event is about.
    pub const fn subscribable(self) -> bool {
        !matches!(self, EventKind::Schedule)
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `approval.submitted`: a request waits for the subject's decision.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSubmitted {
    /// The request's id in the platform.
    pub approval_id: String,
    /// Its process, as `perm-approval` names processes (e.g. `expense`).
    pub process_id: String,
    /// Its title, e.g. "差旅报销 · 上海".
    pub title: String,
    /// The amount asked, in cents (0 when the process has none).
    pub amount_cents: u64,
}

/// `approval.decided`: the subject's request was decided.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApprovalDecided {
    /// The request's id in the platform.
    pub approval_id: String,
    /// Its process.
    pub process_id: String,
    /// `approved` or `rejected`.
    pub decision: Decision,
}

/// How an approval request was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    /// Approved.
    Approved,
    /// Rejected.
    Rejected,
}

/// `customer.assigned`: a customer was assigned to the subject.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerAssigned {
    /// The customer's id in the tenant, as `perm-customer` names customers.
    pub customer_id: String,
    /// `view`, `edit` or `manage`.
    pub access: String,
}

/// `member.joined` and `member.left`: no details (the subject is the member).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberChanged {}

/// The most events one `POST /api/v1/events` may carry.
pub const MAX_BATCH: usize = 500;
/// The largest payload, bytes of JSON.
pub const MAX_PAYLOAD_BYTES: usize = 16 * 1024;

/// Whether `id` may be an event id: 1 to 128 characters of letters, digits and `._:-`.
pub fn valid_event_id(id: &str) -> bool {
    (1..=128).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
}

/// Checks a platform event's payload against its kind's schema; the
/// payload as stored (compact JSON), or what is wrong with it.
pub fn check_payload(kind: EventKind, payload: &serde_json::Value) -> Result<String, String> {
    fn typed<T: serde::de::DeserializeOwned>(payload: &serde_json::Value) -> Result<(), String> {
        serde_json::from_value::<T>(payload.clone()).map(|_| ()).map_err(|e| e.to_string())
    }
    if !payload.is_object() {
        return Err("the payload must be a JSON object".into());
    }
    match kind {
        EventKind::ApprovalSubmitted => typed::<ApprovalSubmitted>(payload)?,
        EventKind::ApprovalDecided => typed::<ApprovalDecided>(payload)?,
        EventKind::CustomerAssigned => {
            typed::<CustomerAssigned>(payload)?;
            let access = payload["access"].as_str().unwrap_or_default();
            if !["view", "edit", "manage"].contains(&access) {
                return Err(format!("access {access:?} is not one of view, edit, manage"));
            }
        }
        EventKind::MemberJoined | EventKind::MemberLeft => typed::<MemberChanged>(payload)?,
        other => return Err(format!("{other} events are made by the host, not sent to it")),
    }
    let text = payload.to_string();
    if text.len() > MAX_PAYLOAD_BYTES {
        return Err(format!("the payload is {} bytes; at most {MAX_PAYLOAD_BYTES}", text.len()));
    }
    Ok(text)
}

/// One `[[events]]` subscription of a manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSubscription {
    /// What the plugin wants to be told of (not `schedule`: see `[[schedules]]`).
    pub kind: EventKind,
    /// Why, in the manifest's languages; shown to the admin who approves it.
    pub purpose: Text,
}

/// One `[[schedules]]` entry of a manifest: the plugin is called on each tick.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleDeclaration {
    /// Its name, given to the plugin with each tick: 1 to 64 characters of a-z, 0-9, `-` and `_`.
    pub name: String,
    /// When: a cron expression of five fields (minute hour day month weekday), e.g. `0 18 * * 1-5`.
    pub cron: String,
    /// The time zone the expression is read in (IANA name).
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// Each tick is one event about nobody (`plugin`, the default), or one
    /// about each member in the plugin's range (`member`), who each run
    /// with their own consents.
    #[serde(default)]
    pub per: SchedulePer,
    /// Why, in the manifest's languages; shown to the admin who approves it.
    pub purpose: Text,
}

/// Whom a schedule's tick is about.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SchedulePer {
    /// One event about nobody.
    #[default]
    Plugin,
    /// One event about each member in the plugin's visible range.
    Member,
}

fn default_timezone() -> String {
    "Asia/Shanghai".into()
}

/// Whether `name` may name a schedule.
pub fn valid_schedule_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// When a failed delivery is tried again, seconds after each failure; after
/// the last, the delivery is a dead letter (`[events] retry_secs` overrides).
pub const BACKOFF_SECS: [u64; 5] = [15, 60, 300, 3600, 21600];

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt (or running one, under a lease).
    Pending,
    /// The plugin handled it.
    Done,
    /// It failed every attempt; an app admin may replay it.
    Dead,
}

impl DeliveryState {
    /// Its name in the store and the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Done => "done",
            DeliveryState::Dead => "dead",
        }
    }

    /// The state named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Pending, Self::Done, Self::Dead].into_iter().find(|s| s.as_str() == name)
    }
}

/// The most `[[events]]` plus `[[schedules]]` one manifest may declare.
pub const MAX_SUBSCRIPTIONS: usize = 16;

/// Checks a manifest's `[[events]]` and `[[schedules]]`: no kind twice, no
/// host-only kind the plugin cannot subscribe to, schedules with a valid
/// name, a five-field cron expression, a known time zone, and a purpose.
pub fn check_subscriptions(events: &[EventSubscription], schedules: &[ScheduleDeclaration]) -> Result<(), String> {
    if events.len() + schedules.len() > MAX_SUBSCRIPTIONS {
        return Err(format!(
            "{} events and schedules are declared; at most {MAX_SUBSCRIPTIONS}",
            events.len() + schedules.len()
        ));
    }
    let mut kinds = std::collections::HashSet::new();
    for event in events {
        if !event.kind.subscribable() {
            return Err("`schedule` is not an event to subscribe to: declare a [[schedules]] entry".into());
        }
        if !kinds.insert(event.kind) {
            return Err(format!("event {} is declared more than once", event.kind));
        }
        purpose(&format!("event {}", event.kind), &event.purpose)?;
    }
    let mut names = std::collections::HashSet::new();
    for schedule in schedules {
        if !valid_schedule_name(&schedule.name) {
            return Err(format!(
                "schedule name {:?} must be 1 to 64 characters of a-z, 0-9, '-' and '_'",
                schedule.name
            ));
        }
        if !names.insert(schedule.name.as_str()) {
            return Err(format!("schedule {} is declared more than once", schedule.name));
        }
        crate::model::schedules::Cron::parse(&schedule.cron, &schedule.timezone)
            .map_err(|problem| format!("schedule {}: {problem}", schedule.name))?;
        purpose(&format!("schedule {}", schedule.name), &schedule.purpose)?;
    }
    Ok(())
}

fn purpose(what: &str, text: &Text) -> Result<(), String> {
    for (_, purpose) in text.texts() {
        if !(4..=500).contains(&purpose.trim().chars().count()) {
            return Err(format!("the purpose of {what} must be 4 to 500 characters"));
        }
    }
    Ok(())
}
