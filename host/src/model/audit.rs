//! The audit log's nouns: what one record says ([`AuditEvent`], [`Action`],
//! [`Outcome`]), its place in a tenant's chain ([`AuditRecord`], [`Head`],
//! [`Checkpoint`]), which records to read ([`AuditFilter`]), and the step a
//! store is handed to append a batch ([`Chaining`]).

use serde::{Deserialize, Serialize};

pub use super::actions::Action;

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The access was allowed and the data handed over.
    Allowed,
    /// The gate (or a quota) refused; `reason` says why.
    Denied,
    /// The call was well-formed but failed (e.g. an invalid storage key).
    Failed,
    /// The plugin trapped (deadline, memory, stack, output cap, …).
    Trapped,
}

impl Outcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "allowed",
            Outcome::Denied => "denied",
            Outcome::Failed => "failed",
            Outcome::Trapped => "trapped",
        }
    }

    /// Parses [`Outcome::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        [Outcome::Allowed, Outcome::Denied, Outcome::Failed, Outcome::Trapped].into_iter().find(|o| o.as_str() == text)
    }
}

/// An audit event before it is sequenced and chained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEvent {
    /// Tenant whose log it belongs to.
    pub tenant: String,
    /// When it happened, ms since the epoch.
    pub ts_ms: i64,
    /// Who acted: `plugin:ID@VERSION`, `member:ID` or `admin:ID`.
    pub actor: String,
    /// Whose data (internal member id; never shown to plugins).
    pub subject: Option<String>,
    /// What was attempted: the name of an audit action (`read`, `storage.get`, …).
    pub action: String,
    /// The scope involved, if any.
    pub scope: Option<String>,
    /// The purpose the plugin declared for the scope.
    pub purpose: Option<String>,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it was denied, failed or trapped.
    pub reason: Option<String>,
    /// The invocation it belongs to.
    pub invocation: Option<String>,
    /// An outbound request's destination, method, path, status, bytes,
    /// duration and the fields that could have left with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<crate::model::egress::EgressDetail>,
}

impl AuditEvent {
    /// An event stamped now, with no subject, scope, purpose, reason or
    /// invocation; set those that apply.
    pub fn new(tenant: &str, actor: String, action: Action, outcome: Outcome) -> Self {
        Self {
            tenant: tenant.to_owned(),
            ts_ms: crate::now_ms(),
            actor,
            subject: None,
            action: action.as_str().to_owned(),
            scope: None,
            purpose: None,
            outcome,
            reason: None,
            invocation: None,
            egress: None,
        }
    }
}

/// The most bytes each text of a record holds. Most of a record's text
/// comes from a plugin (a reason, an outbound request's destination and
/// path), and one record the database refuses would fail every other call's
/// records in its batch, so every event is cut to these bounds before it is
/// queued ([`AuditEvent::bounded`]). A cut text ends with `…[N bytes]`,
/// N its length before the cut.
pub mod bounds {
    /// `actor`.
    pub const ACTOR: usize = 256;
    /// `subject`.
    pub const SUBJECT: usize = 256;
    /// `scope` and each of an outbound request's `could_include`.
    pub const SCOPE: usize = 64;
    /// `purpose` (a manifest's purposes are at most 500 characters).
    pub const PURPOSE: usize = 2_048;
    /// `reason`.
    pub const REASON: usize = 1_024;
    /// `invocation`.
    pub const INVOCATION: usize = 64;
    /// An outbound request's `destination` (indexed: PostgreSQL's index
    /// rows hold at most about 2,700 bytes).
    pub const DESTINATION: usize = 512;
    /// An outbound request's `method`.
    pub const METHOD: usize = 32;
    /// An outbound request's `path`.
    pub const PATH: usize = 1_024;
    /// How many `could_include` scopes an outbound request's record lists.
    pub const COULD_INCLUDE: usize = 64;
}

/// `text` cut to at most `max` bytes (see [`bounds`]).
fn cut(text: &mut String, max: usize) {
    if text.len() <= max {
        return;
    }
    let marker = format!("…[{} bytes]", text.len());
    let keep = text.floor_char_boundary(max.saturating_sub(marker.len()));
    text.truncate(keep);
    text.push_str(&marker);
}

impl AuditEvent {
    /// The event with every text cut to its bound (see [`bounds`]).
    pub fn bounded(mut self) -> Self {
        let optional = |text: &mut Option<String>, max| {
            if let Some(text) = text {
                cut(text, max);
            }
        };
        cut(&mut self.actor, bounds::ACTOR);
        cut(&mut self.action, bounds::SCOPE);
        optional(&mut self.subject, bounds::SUBJECT);
        optional(&mut self.scope, bounds::SCOPE);
        optional(&mut self.purpose, bounds::PURPOSE);
        optional(&mut self.reason, bounds::REASON);
        optional(&mut self.invocation, bounds::INVOCATION);
        if let Some(detail) = &mut self.egress {
            cut(&mut detail.destination, bounds::DESTINATION);
            cut(&mut detail.method, bounds::METHOD);
            cut(&mut detail.path, bounds::PATH);
            detail.could_include.truncate(bounds::COULD_INCLUDE);
            for scope in &mut detail.could_include {
                cut(scope, bounds::SCOPE);
            }
        }
        self
    }
}

/// A durable record: an event with its place in the tenant's chain. Its
/// JSON form (one per line) is what `GET /audit/export` streams and
/// `workbench audit verify --offline` reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditRecord {
    /// The event.
    #[serde(flatten)]
    pub event: AuditEvent,
    /// Position in the tenant's chain, from 1 without gaps.
    pub seq: i64,
    /// Hash of the previous record (zeros for the first), hex.
    #[serde(with = "hex_bytes")]
    #[schema(value_type = String)]
    pub prev_hash: [u8; 32],
    /// This record's hash, hex.
    #[serde(with = "hex_bytes")]
    #[schema(value_type = String)]
    pub hash: [u8; 32],
}

mod hex_bytes {
    pub fn serialize<S: serde::Serializer>(bytes: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex::encode(bytes))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<[u8; 32], D::Error> {
        let text = <String as serde::Deserialize>::deserialize(deserializer)?;
        let mut bytes = [0; 32];
        hex::decode_to_slice(&text, &mut bytes).map_err(serde::de::Error::custom)?;
        Ok(bytes)
    }
}

/// The hash before a tenant's first record.
pub const GENESIS: [u8; 32] = [0; 32];

/// The head of a tenant's chain: its last sequence number and hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Last seq (0 before the first record).
    pub seq: i64,
    /// Last hash ([`GENESIS`] before the first record).
    pub hash: [u8; 32],
}

impl Head {
    /// The head of an empty chain.
    pub const EMPTY: Head = Head { seq: 0, hash: GENESIS };
}

/// A signed statement that `tenant`'s chain had head `hash` at `seq`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Tenant.
    pub tenant: String,
    /// Sequence number of the head.
    pub seq: i64,
    /// Hash of the record at `seq`, hex.
    pub hash: String,
    /// When it was signed, ms since the epoch.
    pub signed_at_ms: i64,
    /// Which key signed it (see `audit::chain::key_id`).
    pub key_id: String,
    /// Ed25519 signature, hex.
    pub signature: String,
}

/// A signed statement that `tenant`'s history before a purge ended at
/// `seq` with `hash`: the kept records start at `seq + 1`, linked to
/// `hash`. Verification starts from the latest anchor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Anchor {
    /// Tenant.
    pub tenant: String,
    /// The last record the purge deleted.
    pub seq: i64,
    /// That record's hash, hex (the `prev_hash` of the first kept record).
    pub hash: String,
    /// When it was signed, ms since the epoch.
    pub anchored_at_ms: i64,
    /// Which key signed it.
    pub key_id: String,
    /// Ed25519 signature, hex.
    pub signature: String,
}

/// A key that has signed audit checkpoints and anchors, and how it took over
/// from the key before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditKey {
    /// Short id (hex of the first 8 bytes of the public key's SHA-256).
    pub key_id: String,
    /// Ed25519 public key, hex.
    pub public_key: String,
    /// When the deployment first used it, ms since the epoch.
    pub first_used_at_ms: i64,
    /// How it took over from the key before it; absent for the first key.
    pub handover: Option<Handover>,
}

/// A rotation: the key before and the new key both sign that the new one
/// takes over, so either one vouches for the other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Handover {
    /// The previous key's public key, hex.
    pub previous: String,
    /// When, ms since the epoch.
    pub at_ms: i64,
    /// The previous key's signature, hex.
    pub signed_by_previous: String,
    /// The new key's signature, hex.
    pub signed_by_self: String,
}

/// What a store is handed to append a batch: how an event is linked after
/// its chain's head (hashing), and how the new head is signed. The store
/// reads the heads and writes the rows; it neither hashes nor signs.
pub trait Chaining: Send + Sync {
    /// Appends `event` after `head`, returning the record and moving `head`.
    fn link(&self, head: &mut Head, event: AuditEvent) -> AuditRecord;
    /// A signed checkpoint of `tenant`'s chain at `head`.
    fn checkpoint(&self, tenant: &str, head: Head) -> Checkpoint;
}

/// Which audit records to return.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Whose data.
    pub subject: Option<String>,
    /// Exactly this actor (`admin:ID`, `member:ID`, `plugin:ID@VERSION`).
    pub actor: Option<String>,
    /// Any version of this plugin.
    pub plugin: Option<String>,
    /// This action.
    pub action: Option<Action>,
    /// This outcome.
    pub outcome: Option<Outcome>,
    /// Only records that name a scope (field reads and storage) or a
    /// destination (outbound requests).
    pub with_scope: bool,
    /// Outbound requests to exactly this destination (`https://api.acme.example`).
    pub destination: Option<String>,
    /// At or after, ms since the epoch.
    pub from_ms: Option<i64>,
    /// Before, ms since the epoch.
    pub to_ms: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_name_parses_back_and_serialises_as_stored() {
        let mut names = std::collections::HashSet::new();
        for action in Action::ALL {
            assert!(names.insert(action.as_str()), "{action} twice");
            assert_eq!(Action::parse(action.as_str()), Some(action));
            assert_eq!(serde_json::to_value(action).expect("json"), serde_json::json!(action.as_str()));
        }
        assert_eq!(Action::parse("plugin.steal"), None);
    }

    #[test]
    fn every_text_of_an_event_is_cut_to_its_bound() {
        let long = "主".repeat(20_000);
        let event = AuditEvent {
            subject: Some(long.clone()),
            purpose: Some(long.clone()),
            reason: Some(long.clone()),
            invocation: Some(long.clone()),
            egress: Some(crate::model::egress::EgressDetail {
                destination: format!("https://{}.example", "a".repeat(60_000)),
                method: long.clone(),
                path: format!("/{long}"),
                status: None,
                bytes_out: 0,
                bytes_in: 0,
                duration_ms: 0,
                could_include: vec![long.clone(); 500],
            }),
            ..AuditEvent::new("t", long.clone(), Action::HttpRequest, Outcome::Denied)
        }
        .bounded();
        let detail = event.egress.as_ref().expect("detail kept");
        for (text, max) in [
            (event.actor.as_str(), bounds::ACTOR),
            (event.subject.as_deref().unwrap_or_default(), bounds::SUBJECT),
            (event.purpose.as_deref().unwrap_or_default(), bounds::PURPOSE),
            (event.reason.as_deref().unwrap_or_default(), bounds::REASON),
            (event.invocation.as_deref().unwrap_or_default(), bounds::INVOCATION),
            (detail.destination.as_str(), bounds::DESTINATION),
            (detail.method.as_str(), bounds::METHOD),
            (detail.path.as_str(), bounds::PATH),
        ] {
            assert!(text.len() <= max, "{} bytes past {max}", text.len());
            assert!(text.ends_with(" bytes]"), "a cut text says so: {text}");
        }
        assert!(detail.destination.starts_with("https://aaaa"), "the start is kept: {}", detail.destination);
        assert!(detail.destination.ends_with("…[60016 bytes]"), "{}", detail.destination);
        assert_eq!(detail.could_include.len(), bounds::COULD_INCLUDE);
        // Within its bounds an event is left as it is.
        let short = AuditEvent {
            reason: Some("not_declared".into()),
            ..AuditEvent::new("t", "a".into(), Action::Read, Outcome::Denied)
        };
        assert_eq!(short.clone().bounded(), short);
    }
}
