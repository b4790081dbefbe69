//! Consent receipts: each consent and withdrawal gives the member a signed
//! document of what they agreed to (or took back), in their language,
//! written in the change's own transaction with its audit record, listed and
//! downloaded from 我的数据, verifiable offline against the deployment's
//! audit keys (`workbench receipt verify`).

use super::{ServiceError, ServiceResult, Workbench};
use crate::audit::chain::ChainSigner;
use crate::model::audit::AuditRecord;
use crate::model::receipts::{ConsentReceipt, SignedReceipt};
use crate::store::{IssuedReceipt, ReceiptEntry, Receipting};

/// A receipt waiting for its record's seq and time, then signed.
pub(super) struct ReceiptDraft<'a> {
    receipt: ConsentReceipt,
    signer: &'a ChainSigner,
}

impl Receipting for ReceiptDraft<'_> {
    fn receipt(&self, record: &AuditRecord) -> IssuedReceipt {
        let receipt =
            ConsentReceipt { audit_seq: record.seq, issued_at_ms: record.event.ts_ms, ..self.receipt.clone() };
        let (member, plugin, action) = (receipt.member.clone(), receipt.plugin.clone(), receipt.action.clone());
        let signed = self.signer.sign_receipt(receipt);
        IssuedReceipt { member, plugin, action, document: serde_json::to_string(&signed).unwrap_or_default() }
    }
}

impl<'a> ReceiptDraft<'a> {
    /// `receipt` (its seq and time still to come), to be signed by `signer`.
    pub(super) fn new(signer: &'a ChainSigner, receipt: ConsentReceipt) -> Self {
        Self { receipt, signer }
    }
}

impl Workbench {
    /// `member`'s receipts, newest first.
    pub async fn my_receipts(&self, tenant: &str, member: &str) -> ServiceResult<Vec<ReceiptEntry>> {
        Ok(self.store.receipts(tenant, member).await?)
    }

    /// One of `member`'s receipts, as the signed JSON document they keep.
    pub async fn my_receipt(&self, tenant: &str, member: &str, audit_seq: i64) -> ServiceResult<String> {
        self.store
            .receipt(tenant, member, audit_seq)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("you have no receipt of audit record {audit_seq}")))
    }
}

/// Reads a receipt file.
pub fn parse_receipt(text: &str) -> Result<SignedReceipt, String> {
    serde_json::from_str(text).map_err(|e| format!("not a consent receipt: {e}"))
}

/// Checks the receipt `text` against the public keys `keys` (hex): whether
/// it holds, and what to tell the person (what it says, or why it fails).
/// An error only for keys that are not keys.
pub fn verify_receipt(text: &str, keys: &[String]) -> anyhow::Result<(bool, String)> {
    use crate::audit::keyring::{KeyRing, public_key};
    let mut ring: Option<KeyRing> = None;
    for key in keys {
        let key = public_key(key.trim())
            .map_err(|_| anyhow::anyhow!("{key:?} is not an Ed25519 public key (64 hex digits)"))?;
        ring.get_or_insert_with(|| KeyRing::of(key)).trust(key);
    }
    let ring = ring.ok_or_else(|| anyhow::anyhow!("give the tenant's public key"))?;
    let signed = match parse_receipt(text) {
        Ok(signed) => signed,
        Err(error) => return Ok((false, format!("INVALID: {error}"))),
    };
    if let Err(error) = ring.receipt(&signed) {
        return Ok((false, format!("INVALID: {error}")));
    }
    let r = &signed.receipt;
    let scopes: Vec<&str> = r.scopes.iter().map(|s| s.scope.as_str()).collect();
    Ok((
        true,
        format!(
            "valid: {} by {} of {} for {}@{} [{}], audit record {}, signed by key {}",
            r.action,
            r.member,
            r.tenant,
            r.plugin,
            r.plugin_version,
            scopes.join(", "),
            r.audit_seq,
            signed.key_id
        ),
    ))
}
