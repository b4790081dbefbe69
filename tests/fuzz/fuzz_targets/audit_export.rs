//! The audit-chain verifier, offline, as `workbench audit verify --offline`
//! runs it.
//!
//! Two modes, chosen by the first byte:
//! - raw: the input is an export file; reading and verifying it never panics;
//! - tamper: a valid chain of records built from the input is exported,
//!   signed (a prefix of it purged behind a signed anchor, when the input
//!   says so), and one byte of the export is changed (or a line removed).
//!   The verifier passes it exactly when what it reads is still the same
//!   kept chain, the same anchor and the same signed checkpoint; any real
//!   change is caught.
#![no_main]

use arbitrary::Arbitrary;
use ed25519_dalek::{SigningKey, VerifyingKey};
use libfuzzer_sys::fuzz_target;
use workbench_host::audit::chain;
use workbench_host::audit::keyring::{self, KeyRing};
use workbench_host::audit::verify::{parse_export, verify_export};
use workbench_host::model::audit::{Action, Anchor, AuditEvent, AuditRecord, Checkpoint, Head, Outcome};

const TENANT: &str = "demo";

#[derive(Debug, Arbitrary)]
struct Event {
    actor: u8,
    subject: Option<String>,
    action: u8,
    scope: Option<u8>,
    outcome: u8,
    reason: Option<String>,
    ts_ms: u32,
}

#[derive(Debug, Arbitrary)]
enum Tamper {
    /// Replace the byte at `at` (modulo the length) with `with`.
    Byte { at: u32, with: u8 },
    /// Remove line `line` (modulo the line count).
    DropLine { line: u16 },
    /// Swap two lines.
    SwapLines { a: u16, b: u16 },
}

#[derive(Debug, Arbitrary)]
struct Case {
    events: Vec<Event>,
    /// How many of the oldest records a purge deleted (modulo the count).
    purged: u8,
    tamper: Tamper,
}

fn event(e: &Event) -> AuditEvent {
    const ACTORS: [&str; 3] = ["plugin:site-daily-report@0.1.0", "admin:admin", "member:zhang.wei"];
    const ACTIONS: [Action; 4] = [Action::Read, Action::StorageSet, Action::Invoke, Action::ConsentGrant];
    const SCOPES: [&str; 3] = ["user.name", "user.phone", "storage"];
    const OUTCOMES: [Outcome; 4] = [Outcome::Allowed, Outcome::Denied, Outcome::Failed, Outcome::Trapped];
    AuditEvent {
        subject: e.subject.clone(),
        scope: e.scope.map(|s| SCOPES[s as usize % SCOPES.len()].to_owned()),
        reason: e.reason.clone(),
        ts_ms: i64::from(e.ts_ms),
        ..AuditEvent::new(
            TENANT,
            ACTORS[e.actor as usize % ACTORS.len()].to_owned(),
            ACTIONS[e.action as usize % ACTIONS.len()],
            OUTCOMES[e.outcome as usize % OUTCOMES.len()],
        )
    }
}

/// What a checkpoint vouches for, whatever its spelling (hex case, signing time).
fn vouched(key: &VerifyingKey, checkpoint: &Checkpoint) -> Option<(String, Head, String)> {
    let head = chain::verify_checkpoint(key, checkpoint).ok()?;
    Some((checkpoint.tenant.clone(), head, checkpoint.signature.to_ascii_lowercase()))
}

/// What an anchor vouches for, whatever its spelling.
fn anchored(ring: &KeyRing, anchor: &Anchor) -> Option<(String, Head, String, String)> {
    let head = ring.anchor(anchor).ok()?;
    Some((anchor.tenant.clone(), head, anchor.key_id.clone(), anchor.signature.to_ascii_lowercase()))
}

fn export(anchor: Option<&Anchor>, records: &[AuditRecord], checkpoint: &Checkpoint) -> String {
    let mut text = String::new();
    if let Some(anchor) = anchor {
        text.push_str(&serde_json::json!({ "anchor": anchor }).to_string());
        text.push('\n');
    }
    for record in records {
        text.push_str(&serde_json::to_string(record).expect("record serialises"));
        text.push('\n');
    }
    text.push_str(&serde_json::json!({ "checkpoint": checkpoint }).to_string());
    text.push('\n');
    text
}

fuzz_target!(|data: &[u8]| {
    let key = SigningKey::from_bytes(&[42; 32]);
    let public = key.verifying_key();
    let ring = KeyRing::of(public);
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode % 2 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else { return };
        if let Ok(export) = parse_export(text) {
            let _ = verify_export(TENANT, &ring, &export);
        }
        return;
    }
    let Ok(case) = Case::arbitrary(&mut arbitrary::Unstructured::new(rest)) else { return };
    if case.events.is_empty() {
        return;
    }
    let mut head = Head::EMPTY;
    let records: Vec<AuditRecord> = case.events.iter().map(|e| chain::link(&mut head, event(e))).collect();
    let checkpoint = chain::sign_checkpoint(&key, TENANT, head, 1);
    let purged = usize::from(case.purged) % records.len();
    let anchor = (purged > 0).then(|| {
        let last = &records[purged - 1];
        keyring::sign_anchor(&key, TENANT, Head { seq: last.seq, hash: last.hash }, 1)
    });
    let kept = &records[purged..];
    let original = export(anchor.as_ref(), kept, &checkpoint);
    let parsed = parse_export(&original).expect("an export reads back");
    assert_eq!(parsed.records, kept);
    let report = verify_export(TENANT, &ring, &parsed);
    assert!(report.ok(), "an untouched chain verifies: {:?}", report.error);

    let tampered = match case.tamper {
        Tamper::Byte { at, with } => {
            let mut bytes = original.clone().into_bytes();
            let at = at as usize % bytes.len();
            bytes[at] = with;
            let Ok(text) = String::from_utf8(bytes) else { return };
            text
        }
        Tamper::DropLine { line } => {
            let mut lines: Vec<&str> = original.lines().collect();
            lines.remove(line as usize % lines.len());
            lines.join("\n")
        }
        Tamper::SwapLines { a, b } => {
            let mut lines: Vec<&str> = original.lines().collect();
            let len = lines.len();
            lines.swap(a as usize % len, b as usize % len);
            lines.join("\n")
        }
    };
    let Ok(read) = parse_export(&tampered) else { return };
    let original_anchor = anchor.as_ref().and_then(|a| anchored(&ring, a));
    let anchors_read: Vec<_> = read.anchors.iter().filter(|a| a.tenant == TENANT).collect();
    let same_anchor = match &original_anchor {
        None => anchors_read.is_empty(),
        Some(original) => anchors_read.len() == 1 && anchored(&ring, anchors_read[0]).as_ref() == Some(original),
    };
    let from = original_anchor.as_ref().map_or(0, |(_, head, _, _)| head.seq);
    let same_records =
        read.records.iter().filter(|r| r.event.tenant == TENANT && r.seq > from).eq(kept.iter());
    let original_vouch = vouched(&public, &checkpoint);
    let same_checkpoint = read.checkpoints.len() == 1
        && read.checkpoints.iter().all(|c| c.tenant == TENANT && vouched(&public, c) == original_vouch);
    let report = verify_export(TENANT, &ring, &read);
    if same_records && same_checkpoint && same_anchor {
        assert!(report.ok(), "the same chain must verify: {:?}", report.error);
    } else {
        assert!(!report.ok(), "a changed export verified:\n{tampered}");
    }
});
