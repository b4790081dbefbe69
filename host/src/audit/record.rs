//! What one audit record says.

use serde::{Deserialize, Serialize};

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Tenant whose log it belongs to.
    pub tenant: String,
    /// When it happened, ms since the epoch.
    pub ts_ms: i64,
    /// Who acted: `plugin:ID@VERSION`, `member:ID` or `admin:ID`.
    pub actor: String,
    /// Whose data (internal member id; never shown to plugins).
    pub subject: Option<String>,
    /// What was attempted: `read`, `storage.get`, `invoke`, `consent.grant`, …
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
}

impl AuditEvent {
    /// An event stamped now, with no subject, scope, purpose, reason or
    /// invocation; set those that apply.
    pub fn new(tenant: &str, actor: String, action: &str, outcome: Outcome) -> Self {
        Self {
            tenant: tenant.to_owned(),
            ts_ms: crate::now_ms(),
            actor,
            subject: None,
            action: action.to_owned(),
            scope: None,
            purpose: None,
            outcome,
            reason: None,
            invocation: None,
        }
    }
}

/// A durable record: an event with its place in the tenant's chain. Its
/// JSON form (one per line) is what `GET /audit/export` streams and
/// `workbench audit verify --offline` reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// The event.
    #[serde(flatten)]
    pub event: AuditEvent,
    /// Position in the tenant's chain, from 1 without gaps.
    pub seq: i64,
    /// Hash of the previous record (zeros for the first).
    #[serde(with = "hex_bytes")]
    pub prev_hash: [u8; 32],
    /// This record's hash.
    #[serde(with = "hex_bytes")]
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
