//! The audit-chain verifier, offline, as `workbench audit verify --offline`
//! runs it.
//!
//! Two modes, chosen by the first byte:
//! - raw: the input is an export file; reading and verifying it never panics;
//! - tamper: a valid chain of records built from the input is exported,
//!   signed, and one byte of the export is changed (or a line removed). The
//!   verifier passes it exactly when what it reads is still the same chain
//!   and the same signed checkpoint; any real change is caught.
#![no_main]

use arbitrary::Arbitrary;
use ed25519_dalek::{SigningKey, VerifyingKey};
use libfuzzer_sys::fuzz_target;
use workbench_host::audit::chain;
use workbench_host::audit::verify::{parse_export, verify_export};
use workbench_host::model::audit::{Action, AuditEvent, AuditRecord, Checkpoint, Head, Outcome};

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

fn export(records: &[AuditRecord], checkpoint: &Checkpoint) -> String {
    let mut text = String::new();
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
    let Some((&mode, rest)) = data.split_first() else { return };
    if mode % 2 == 0 {
        let Ok(text) = std::str::from_utf8(rest) else { return };
        if let Ok((records, checkpoints)) = parse_export(text) {
            let _ = verify_export(TENANT, &public, &records, checkpoints);
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
    let original = export(&records, &checkpoint);
    let (parsed, checkpoints) = parse_export(&original).expect("an export reads back");
    assert_eq!(parsed, records);
    let report = verify_export(TENANT, &public, &parsed, checkpoints);
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
    let Ok((records_read, checkpoints_read)) = parse_export(&tampered) else { return };
    let same_records = records_read.iter().filter(|r| r.event.tenant == TENANT).eq(records.iter());
    let original_vouch = vouched(&public, &checkpoint);
    let same_checkpoint = checkpoints_read.len() == 1
        && checkpoints_read.iter().all(|c| c.tenant == TENANT && vouched(&public, c) == original_vouch);
    let report = verify_export(TENANT, &public, &records_read, checkpoints_read);
    if same_records && same_checkpoint {
        assert!(report.ok(), "the same chain must verify: {:?}", report.error);
    } else {
        assert!(!report.ok(), "a changed export verified:\n{tampered}");
    }
});
