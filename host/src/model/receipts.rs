//! Consent receipts: what a member keeps of each consent and withdrawal (in
//! the spirit of the Kantara Consent Receipt and ISO/IEC TS 27560). A small
//! document saying who agreed to what, for whom, why and where the data may
//! go, in the member's language, tied to its audit record, signed with the
//! deployment's audit key so it verifies offline
//! (`workbench receipt verify FILE --public-key KEY`).

use serde::{Deserialize, Serialize};

/// The format's name and version; part of what is signed.
pub const RECEIPT_FORMAT: &str = "workbench.consent-receipt.v1";

/// What a receipt says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConsentReceipt {
    /// [`RECEIPT_FORMAT`].
    pub format: String,
    /// The tenant (company) the member belongs to.
    pub tenant: String,
    /// The member.
    pub member: String,
    /// `consent.grant` or `consent.withdraw`.
    pub action: String,
    /// Plugin id.
    pub plugin: String,
    /// Its name, in `language`.
    pub plugin_name: String,
    /// The installed version the member agreed with.
    pub plugin_version: String,
    /// Who receives the data (the developer).
    pub recipient: String,
    /// How the member reaches them.
    pub recipient_contact: String,
    /// The language the texts are in (`null`: the plugin's one text).
    pub language: Option<String>,
    /// The scopes consented to (or withdrawn), each with its purpose.
    pub scopes: Vec<ReceiptScope>,
    /// Where the data may be sent, each with its purpose.
    pub destinations: Vec<ReceiptDestination>,
    /// SHA-256 (hex) of the plugin version's manifest: every purpose in every
    /// language, exactly as declared.
    pub policy_digest: String,
    /// When, ms since the epoch (the audit record's time).
    pub issued_at_ms: i64,
    /// The audit record of the change, in the tenant's chain.
    pub audit_seq: i64,
}

/// One scope on a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptScope {
    /// The scope.
    pub scope: String,
    /// The personal field it gives.
    pub field: String,
    /// Why the plugin asks, in the receipt's language.
    pub purpose: String,
    /// Consented to separately (a sensitive field).
    pub sensitive: bool,
    /// When the consent lapses, ms since the epoch (the manifest's consent period).
    pub expires_at_ms: Option<i64>,
}

/// One destination on a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReceiptDestination {
    /// Scheme, host and port.
    pub destination: String,
    /// What is sent there and why, in the receipt's language.
    pub purpose: String,
}

/// A receipt and its signature: the file a member downloads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignedReceipt {
    /// What it says.
    pub receipt: ConsentReceipt,
    /// The audit key that signed it.
    pub key_id: String,
    /// Ed25519 over the format name and the receipt's JSON, hex.
    pub signature: String,
}

impl ConsentReceipt {
    /// The bytes the signature covers: the format's name, a NUL, and the
    /// receipt as compact JSON in field order.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut bytes = format!("{RECEIPT_FORMAT}\0").into_bytes();
        bytes.extend(serde_json::to_vec(self).unwrap_or_default());
        bytes
    }
}
