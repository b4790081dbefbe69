//! The keys audit statements are verified with: a trusted key (the host's
//! own, or the one an auditor was given), the keys it took over from and
//! the keys that took over from it, each link a handover both keys signed. A checkpoint or anchor verifies with
//! the key that signed it, so old ones still verify after a rotation, and a
//! key someone merely wrote into the database vouches for nothing.
//!
//! Anchor = Ed25519 over (`"workbench.audit.anchor.v1\0"`, tenant, seq, hash);
//! handover = Ed25519, by both keys, over (`"workbench.audit.handover.v1\0"`,
//! previous public key, new public key, time).

use std::collections::HashMap;

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

use super::chain::{self, key_id};
use crate::model::audit::{Anchor, AuditKey, Checkpoint, Handover, Head};
use crate::model::receipts::{ConsentReceipt, SignedReceipt};

/// Keys by id, each trusted.
#[derive(Debug, Clone)]
pub struct KeyRing {
    trusted: HashMap<String, VerifyingKey>,
}

/// Why a statement does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    /// The hash, key or signature is not valid hex of the right length.
    #[error("{0} is malformed")]
    Malformed(String),
    /// Signed by a key no trusted key vouches for.
    #[error("{what} was signed by key {key_id}, which no trusted key vouches for")]
    UnknownKey {
        /// The statement.
        what: String,
        /// Its key id.
        key_id: String,
    },
    /// The signature does not match.
    #[error("{0} has an invalid signature")]
    BadSignature(String),
}

fn decode<const N: usize>(hex_text: &str, what: &str) -> Result<[u8; N], StatementError> {
    let mut bytes = [0; N];
    hex::decode_to_slice(hex_text, &mut bytes).map_err(|_| StatementError::Malformed(what.to_owned()))?;
    Ok(bytes)
}

/// A public key from hex.
pub fn public_key(hex_text: &str) -> Result<VerifyingKey, StatementError> {
    VerifyingKey::from_bytes(&decode(hex_text, "public key")?)
        .map_err(|_| StatementError::Malformed("public key".to_owned()))
}

fn anchor_message(tenant: &str, seq: i64, hash: &[u8; 32]) -> Vec<u8> {
    let mut message = Vec::with_capacity(64 + tenant.len());
    message.extend_from_slice(b"workbench.audit.anchor.v1\0");
    message.extend_from_slice(&(tenant.len() as u32).to_be_bytes());
    message.extend_from_slice(tenant.as_bytes());
    message.extend_from_slice(&seq.to_be_bytes());
    message.extend_from_slice(hash);
    message
}

fn handover_message(previous: &VerifyingKey, next: &VerifyingKey, at_ms: i64) -> Vec<u8> {
    let mut message = Vec::with_capacity(100);
    message.extend_from_slice(b"workbench.audit.handover.v1\0");
    message.extend_from_slice(previous.as_bytes());
    message.extend_from_slice(next.as_bytes());
    message.extend_from_slice(&at_ms.to_be_bytes());
    message
}

/// Signs the anchor of a purge of `tenant`'s records up to `head`.
pub fn sign_anchor(key: &SigningKey, tenant: &str, head: Head, now_ms: i64) -> Anchor {
    Anchor {
        tenant: tenant.to_owned(),
        seq: head.seq,
        hash: hex::encode(head.hash),
        anchored_at_ms: now_ms,
        key_id: key_id(&key.verifying_key()),
        signature: hex::encode(key.sign(&anchor_message(tenant, head.seq, &head.hash)).to_bytes()),
    }
}

/// Signs a member's consent receipt.
pub fn sign_receipt(key: &SigningKey, receipt: ConsentReceipt) -> SignedReceipt {
    let signature = hex::encode(key.sign(&receipt.signed_bytes()).to_bytes());
    SignedReceipt { receipt, key_id: key_id(&key.verifying_key()), signature }
}

/// The entry of `next`, handed over from `previous` at `at_ms` (both sign).
pub fn hand_over(previous: &SigningKey, next: &SigningKey, at_ms: i64) -> AuditKey {
    let message = handover_message(&previous.verifying_key(), &next.verifying_key(), at_ms);
    AuditKey {
        key_id: key_id(&next.verifying_key()),
        public_key: hex::encode(next.verifying_key().as_bytes()),
        first_used_at_ms: at_ms,
        handover: Some(Handover {
            previous: hex::encode(previous.verifying_key().as_bytes()),
            at_ms,
            signed_by_previous: hex::encode(previous.sign(&message).to_bytes()),
            signed_by_self: hex::encode(next.sign(&message).to_bytes()),
        }),
    }
}

/// Whether both signatures of `entry`'s handover hold; its two keys.
fn handover_keys(entry: &AuditKey) -> Option<(VerifyingKey, VerifyingKey)> {
    let handover = entry.handover.as_ref()?;
    let next = public_key(&entry.public_key).ok()?;
    let previous = public_key(&handover.previous).ok()?;
    if key_id(&next) != entry.key_id {
        return None;
    }
    let message = handover_message(&previous, &next, handover.at_ms);
    let by_previous = Signature::from_bytes(&decode(&handover.signed_by_previous, "handover").ok()?);
    let by_self = Signature::from_bytes(&decode(&handover.signed_by_self, "handover").ok()?);
    (previous.verify(&message, &by_previous).is_ok() && next.verify(&message, &by_self).is_ok())
        .then_some((previous, next))
}

impl chain::ChainSigner {
    /// The signed anchor of a purge of `tenant`'s records up to `head`.
    pub fn anchor(&self, tenant: &str, head: Head, now_ms: i64) -> Anchor {
        sign_anchor(self.key(), tenant, head, now_ms)
    }

    /// Signs a member's consent receipt.
    pub fn sign_receipt(&self, receipt: ConsentReceipt) -> SignedReceipt {
        sign_receipt(self.key(), receipt)
    }
}

impl KeyRing {
    /// Only `root`.
    pub fn of(root: VerifyingKey) -> Self {
        Self { trusted: HashMap::from([(key_id(&root), root)]) }
    }

    /// Trusts `key` as well.
    pub fn trust(&mut self, key: VerifyingKey) {
        self.trusted.insert(key_id(&key), key);
    }

    /// `root`, the keys it took over from (and those they took over from),
    /// and the keys that took over from it (and from those), each link a
    /// valid handover in `history`. Trust never turns around: a retired key
    /// reached backwards vouches for no key that claims to follow it, so a
    /// retired key that leaked cannot bring in a key of its own.
    pub fn with_history(root: VerifyingKey, history: &[AuditKey]) -> Self {
        let mut ring = Self::of(root);
        let links: Vec<(VerifyingKey, VerifyingKey)> = history.iter().filter_map(handover_keys).collect();
        for backwards in [true, false] {
            let mut frontier = vec![root];
            while let Some(key) = frontier.pop() {
                for (previous, next) in &links {
                    let (from, to) = if backwards { (next, previous) } else { (previous, next) };
                    if from == &key && !ring.trusted.contains_key(&key_id(to)) {
                        ring.trusted.insert(key_id(to), *to);
                        frontier.push(*to);
                    }
                }
            }
        }
        ring
    }

    /// The trusted key ids, sorted.
    pub fn key_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.trusted.keys().cloned().collect();
        ids.sort();
        ids
    }

    fn key(&self, what: &str, id: &str) -> Result<&VerifyingKey, StatementError> {
        self.trusted.get(id).ok_or_else(|| StatementError::UnknownKey { what: what.to_owned(), key_id: id.to_owned() })
    }

    /// Checks `checkpoint`'s signature with the trusted key that made it.
    pub fn checkpoint(&self, checkpoint: &Checkpoint) -> Result<Head, StatementError> {
        let what = format!("checkpoint at seq {}", checkpoint.seq);
        let key = self.key(&what, &checkpoint.key_id)?;
        chain::verify_checkpoint(key, checkpoint).map_err(|error| match error {
            chain::CheckpointError::Malformed(_) => StatementError::Malformed(what),
            _ => StatementError::BadSignature(what),
        })
    }

    /// Checks a consent receipt's signature with the trusted key that made it.
    pub fn receipt(&self, signed: &SignedReceipt) -> Result<(), StatementError> {
        let what = format!("receipt of audit record {}", signed.receipt.audit_seq);
        let key = self.key(&what, &signed.key_id)?;
        let signature = Signature::from_bytes(&decode(&signed.signature, &what)?);
        key.verify(&signed.receipt.signed_bytes(), &signature).map_err(|_| StatementError::BadSignature(what))
    }

    /// Checks `anchor`'s signature with the trusted key that made it.
    pub fn anchor(&self, anchor: &Anchor) -> Result<Head, StatementError> {
        let what = format!("anchor at seq {}", anchor.seq);
        let key = self.key(&what, &anchor.key_id)?;
        let hash: [u8; 32] = decode(&anchor.hash, &what)?;
        let signature = Signature::from_bytes(&decode(&anchor.signature, &what)?);
        key.verify(&anchor_message(&anchor.tenant, anchor.seq, &hash), &signature)
            .map_err(|_| StatementError::BadSignature(what))?;
        Ok(Head { seq: anchor.seq, hash })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handovers_link_keys_both_ways_and_a_key_merely_listed_vouches_for_nothing() {
        let (a, b, c) =
            (SigningKey::from_bytes(&[1; 32]), SigningKey::from_bytes(&[2; 32]), SigningKey::from_bytes(&[3; 32]));
        let history = vec![hand_over(&a, &b, 10), hand_over(&b, &c, 20)];
        let id = |k: &SigningKey| key_id(&k.verifying_key());
        for root in [&a, &b, &c] {
            let ring = KeyRing::with_history(root.verifying_key(), &history);
            let mut expected = vec![id(&a), id(&b), id(&c)];
            expected.sort();
            assert_eq!(ring.key_ids(), expected);
        }
        // A leaked retired key signs a handover to a key of its own: reached
        // backwards from the current key, it vouches for nothing forwards.
        let thief = SigningKey::from_bytes(&[8; 32]);
        let leaked = [history.clone(), vec![hand_over(&a, &thief, 30)]].concat();
        assert!(!KeyRing::with_history(c.verifying_key(), &leaked).key_ids().contains(&id(&thief)));
        // A stranger's key written beside them, signing only itself.
        let stranger = SigningKey::from_bytes(&[9; 32]);
        let mut forged = hand_over(&stranger, &stranger, 30);
        forged.key_id = id(&c);
        let mut only_self = hand_over(&a, &stranger, 30);
        only_self.handover.as_mut().expect("handover").signed_by_previous = hex::encode([0u8; 64]);
        let ring = KeyRing::with_history(c.verifying_key(), &[forged, only_self]);
        assert_eq!(ring.key_ids(), vec![id(&c)]);
    }

    #[test]
    fn anchors_verify_with_their_key_and_content_only() {
        let key = SigningKey::from_bytes(&[4; 32]);
        let head = Head { seq: 41, hash: [7; 32] };
        let anchor = sign_anchor(&key, "t", head, 5);
        let ring = KeyRing::of(key.verifying_key());
        assert_eq!(ring.anchor(&anchor), Ok(head));
        let moved = Anchor { seq: 42, ..anchor.clone() };
        assert!(matches!(ring.anchor(&moved), Err(StatementError::BadSignature(_))));
        let other = KeyRing::of(SigningKey::from_bytes(&[5; 32]).verifying_key());
        assert!(matches!(other.anchor(&anchor), Err(StatementError::UnknownKey { .. })));
    }
}
