//! Hash chaining and signed checkpoints.
//!
//! Record hash = SHA-256(`"workbench.audit.record.v1\0"` ‖ each field as a
//! 4-byte big-endian length and its bytes ‖ previous hash). A checkpoint is an
//! Ed25519 signature over (`"workbench.audit.checkpoint.v1\0"`, tenant, seq,
//! head hash); the writer signs one for every tenant in every batch, so no
//! committed record sits past the latest signed checkpoint.

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::model::audit::{AuditEvent, AuditRecord, Chaining, Checkpoint, Head};

fn field(hasher: &mut Sha256, bytes: &[u8]) {
    hasher.update((bytes.len() as u32).to_be_bytes());
    hasher.update(bytes);
}

fn optional(hasher: &mut Sha256, value: Option<&str>) {
    match value {
        None => hasher.update([0]),
        Some(text) => {
            hasher.update([1]);
            field(hasher, text.as_bytes());
        }
    }
}

/// The hash of `event` at `seq` after `prev_hash`.
pub fn record_hash(event: &AuditEvent, seq: i64, prev_hash: &[u8; 32]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(b"workbench.audit.record.v1\0");
    field(&mut hasher, event.tenant.as_bytes());
    hasher.update(seq.to_be_bytes());
    hasher.update(event.ts_ms.to_be_bytes());
    field(&mut hasher, event.actor.as_bytes());
    optional(&mut hasher, event.subject.as_deref());
    field(&mut hasher, event.action.as_bytes());
    optional(&mut hasher, event.scope.as_deref());
    optional(&mut hasher, event.purpose.as_deref());
    field(&mut hasher, event.outcome.as_str().as_bytes());
    optional(&mut hasher, event.reason.as_deref());
    optional(&mut hasher, event.invocation.as_deref());
    // Records without an outbound request hash exactly as before the
    // field existed, so chains written then still verify.
    if let Some(egress) = &event.egress {
        hasher.update([2]);
        field(&mut hasher, egress.to_json().as_bytes());
    }
    hasher.update(prev_hash);
    hasher.finalize().into()
}

/// PostgreSQL text cannot hold NUL; a plugin's error text (or any other
/// text) with one must not fail the batch it shares with other tenants.
/// Replaced before hashing, on both backends alike.
fn without_nul(mut event: AuditEvent) -> AuditEvent {
    fn clean(text: &mut String) {
        if text.contains('\0') {
            *text = text.replace('\0', "\u{FFFD}");
        }
    }
    clean(&mut event.actor);
    clean(&mut event.action);
    for text in [&mut event.subject, &mut event.scope, &mut event.purpose, &mut event.reason, &mut event.invocation]
        .into_iter()
        .flatten()
    {
        clean(text);
    }
    if let Some(egress) = &mut event.egress {
        clean(&mut egress.destination);
        clean(&mut egress.method);
        clean(&mut egress.path);
    }
    event
}

/// Appends `event` after `head` (any NUL in its text replaced by U+FFFD),
/// returning the record and moving `head`.
pub fn link(head: &mut Head, event: AuditEvent) -> AuditRecord {
    let event = without_nul(event);
    let seq = head.seq + 1;
    let hash = record_hash(&event, seq, &head.hash);
    let record = AuditRecord { event, seq, prev_hash: head.hash, hash };
    *head = Head { seq, hash };
    record
}

/// The [`Chaining`] the audit writer hands the store: records linked by
/// [`link`], checkpoints signed with the host's key at the time of the batch.
pub struct ChainSigner {
    key: SigningKey,
}

impl std::fmt::Debug for ChainSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainSigner").field("key_id", &key_id(&self.key.verifying_key())).finish()
    }
}

impl ChainSigner {
    /// Chaining that signs with `key`.
    pub fn new(key: SigningKey) -> Self {
        Self { key }
    }
}

impl ChainSigner {
    /// The signing key (for the statements `keyring` signs with it).
    pub(super) fn key(&self) -> &SigningKey {
        &self.key
    }

    /// The key's entry in the deployment's key history, first used now.
    pub fn key_entry(&self) -> crate::model::audit::AuditKey {
        let public = self.key.verifying_key();
        crate::model::audit::AuditKey {
            key_id: key_id(&public),
            public_key: hex::encode(public.as_bytes()),
            first_used_at_ms: crate::now_ms(),
            handover: None,
        }
    }
}

impl Chaining for ChainSigner {
    fn link(&self, head: &mut Head, event: AuditEvent) -> AuditRecord {
        link(head, event)
    }

    fn checkpoint(&self, tenant: &str, head: Head) -> Checkpoint {
        sign_checkpoint(&self.key, tenant, head, crate::now_ms())
    }
}

fn checkpoint_message(tenant: &str, seq: i64, hash: &[u8; 32]) -> Vec<u8> {
    let mut message = Vec::with_capacity(64 + tenant.len());
    message.extend_from_slice(b"workbench.audit.checkpoint.v1\0");
    message.extend_from_slice(&(tenant.len() as u32).to_be_bytes());
    message.extend_from_slice(tenant.as_bytes());
    message.extend_from_slice(&seq.to_be_bytes());
    message.extend_from_slice(hash);
    message
}

/// A short, stable id of a verifying key: hex of the first 8 bytes of its SHA-256.
pub fn key_id(key: &VerifyingKey) -> String {
    hex::encode(&Sha256::digest(key.as_bytes())[..8])
}

/// Signs the head of `tenant`'s chain.
pub fn sign_checkpoint(key: &SigningKey, tenant: &str, head: Head, now_ms: i64) -> Checkpoint {
    let signature = key.sign(&checkpoint_message(tenant, head.seq, &head.hash));
    Checkpoint {
        tenant: tenant.to_owned(),
        seq: head.seq,
        hash: hex::encode(head.hash),
        signed_at_ms: now_ms,
        key_id: key_id(&key.verifying_key()),
        signature: hex::encode(signature.to_bytes()),
    }
}

/// Why a checkpoint does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The hash or signature is not valid hex of the right length.
    #[error("checkpoint at seq {0} is malformed")]
    Malformed(i64),
    /// Signed by another key than the one given.
    #[error("checkpoint at seq {seq} was signed by key {found}, expected {expected}")]
    WrongKey {
        /// Seq of the checkpoint.
        seq: i64,
        /// Key id in the checkpoint.
        found: String,
        /// Key id of the verifying key.
        expected: String,
    },
    /// The signature does not match.
    #[error("checkpoint at seq {0} has an invalid signature")]
    BadSignature(i64),
}

/// Checks `checkpoint`'s signature with `key`; returns the head it vouches for.
pub fn verify_checkpoint(key: &VerifyingKey, checkpoint: &Checkpoint) -> Result<Head, CheckpointError> {
    let seq = checkpoint.seq;
    let expected = key_id(key);
    if checkpoint.key_id != expected {
        return Err(CheckpointError::WrongKey { seq, found: checkpoint.key_id.clone(), expected });
    }
    let mut hash = [0; 32];
    hex::decode_to_slice(&checkpoint.hash, &mut hash).map_err(|_| CheckpointError::Malformed(seq))?;
    let mut signature = [0; 64];
    hex::decode_to_slice(&checkpoint.signature, &mut signature).map_err(|_| CheckpointError::Malformed(seq))?;
    key.verify(&checkpoint_message(&checkpoint.tenant, seq, &hash), &Signature::from_bytes(&signature))
        .map_err(|_| CheckpointError::BadSignature(seq))?;
    Ok(Head { seq, hash })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::audit::GENESIS;
    use crate::model::audit::Outcome;
    use crate::model::egress::EgressDetail;

    fn event(n: i64) -> AuditEvent {
        AuditEvent {
            tenant: "t".into(),
            ts_ms: n,
            actor: "plugin:p@1.0.0".into(),
            subject: Some("m".into()),
            action: "read".into(),
            scope: Some("user.id".into()),
            purpose: None,
            outcome: Outcome::Allowed,
            reason: None,
            invocation: None,
            egress: None,
        }
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = record_hash(&event(1), 1, &GENESIS);
        let mut variants = vec![record_hash(&event(1), 2, &GENESIS), record_hash(&event(1), 1, &[1; 32])];
        let edits: [fn(&mut AuditEvent); 11] = [
            |e| e.tenant.push('x'),
            |e| e.ts_ms += 1,
            |e| e.actor.push('x'),
            |e| e.subject = None,
            |e| e.action.push('x'),
            |e| e.scope = Some("user.name".into()),
            |e| e.purpose = Some(String::new()),
            |e| e.outcome = Outcome::Denied,
            |e| e.invocation = Some("i".into()),
            |e| e.egress = Some(egress(0)),
            |e| e.egress = Some(EgressDetail { could_include: vec!["user.name".into()], ..egress(0) }),
        ];
        for edit in edits {
            let mut e = event(1);
            edit(&mut e);
            variants.push(record_hash(&e, 1, &GENESIS));
        }
        for v in variants {
            assert_ne!(v, base);
        }
    }

    fn egress(bytes_in: u64) -> EgressDetail {
        EgressDetail {
            destination: "https://api.acme.example".into(),
            method: "POST".into(),
            path: "/visits".into(),
            status: Some(201),
            bytes_out: 10,
            bytes_in,
            duration_ms: 3,
            could_include: Vec::new(),
        }
    }

    #[test]
    fn records_without_a_request_hash_as_before_and_every_request_detail_counts() {
        // The hash of a record written before outbound requests existed (this
        // formula without the egress part) is unchanged.
        let mut old = Sha256::new();
        old.update(b"workbench.audit.record.v1\0");
        let e = event(1);
        field(&mut old, e.tenant.as_bytes());
        old.update(1i64.to_be_bytes());
        old.update(e.ts_ms.to_be_bytes());
        field(&mut old, e.actor.as_bytes());
        optional(&mut old, e.subject.as_deref());
        field(&mut old, e.action.as_bytes());
        optional(&mut old, e.scope.as_deref());
        optional(&mut old, e.purpose.as_deref());
        field(&mut old, e.outcome.as_str().as_bytes());
        optional(&mut old, e.reason.as_deref());
        optional(&mut old, e.invocation.as_deref());
        old.update(GENESIS);
        let old: [u8; 32] = old.finalize().into();
        assert_eq!(record_hash(&e, 1, &GENESIS), old);
        let with = |detail| AuditEvent { egress: Some(detail), ..event(1) };
        assert_ne!(record_hash(&with(egress(0)), 1, &GENESIS), record_hash(&with(egress(1)), 1, &GENESIS));
    }

    #[test]
    fn fields_do_not_run_into_each_other() {
        let mut a = event(1);
        a.actor = "ab".into();
        a.action = "c".into();
        let mut b = event(1);
        b.actor = "a".into();
        b.action = "bc".into();
        assert_ne!(record_hash(&a, 1, &GENESIS), record_hash(&b, 1, &GENESIS));
    }

    #[test]
    fn checkpoints_verify_only_with_their_key_and_content() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let mut head = Head::EMPTY;
        link(&mut head, event(1));
        let checkpoint = sign_checkpoint(&key, "t", head, 5);
        assert_eq!(verify_checkpoint(&key.verifying_key(), &checkpoint), Ok(head));
        let mut forged = checkpoint.clone();
        forged.seq = 2;
        assert_eq!(verify_checkpoint(&key.verifying_key(), &forged), Err(CheckpointError::BadSignature(2)));
        let other = SigningKey::from_bytes(&[8; 32]);
        assert!(matches!(
            verify_checkpoint(&other.verifying_key(), &checkpoint),
            Err(CheckpointError::WrongKey { .. })
        ));
    }
}
