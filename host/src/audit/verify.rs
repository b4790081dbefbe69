//! Walks a tenant's chain and its signed checkpoints and names the first
//! record that does not hold.

use serde::Serialize;

use super::chain;
use super::keyring::KeyRing;
use crate::model::audit::{Anchor, AuditRecord, Checkpoint, Head};
use crate::pace::Pacer;
use crate::store::{AuditLog, StoreError};

/// Records read per page.
const PAGE: u32 = 10_000;
/// Records per page of a paced walk: a step short enough to rest after.
const PACED_PAGE: u32 = 1_000;

/// The first thing wrong with a chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChainBreak {
    /// A sequence number is missing: the record was deleted.
    #[error("record {seq} is missing (the next record is {found})")]
    Missing {
        /// The first missing seq.
        seq: i64,
        /// The seq found in its place.
        found: i64,
    },
    /// The record's content does not match its hash: it was altered.
    #[error("record {seq} was altered: its content does not match its hash")]
    Altered {
        /// The altered record.
        seq: i64,
    },
    /// The record does not link to its predecessor: records were reordered or replaced.
    #[error("record {seq} does not link to record {prev}", prev = seq - 1)]
    Unlinked {
        /// The record whose prev_hash is wrong.
        seq: i64,
    },
    /// A signed checkpoint vouches for a different record at its seq.
    #[error("record {seq} differs from the signed checkpoint at that position")]
    CheckpointMismatch {
        /// The seq.
        seq: i64,
    },
    /// The chain ends before a signed checkpoint: records were truncated.
    #[error("the chain ends at record {last} but a signed checkpoint vouches for record {checkpoint}: records {first_missing}.. were truncated", first_missing = last + 1)]
    Truncated {
        /// Last record present.
        last: i64,
        /// Seq of the checkpoint.
        checkpoint: i64,
    },
    /// A checkpoint's signature is invalid, or no trusted key made it.
    #[error("{0}")]
    BadCheckpoint(String),
    /// A purge's anchor is forged, altered or signed by an unknown key.
    #[error("{0}")]
    BadAnchor(String),
    /// An export carries no signed checkpoint of the tenant, so nothing
    /// vouches for it: anyone could have rewritten the whole chain.
    #[error("no signed checkpoint of this tenant: the export cannot be verified (export it without filters)")]
    NoCheckpoint,
}

impl ChainBreak {
    /// The seq of the first bad record.
    pub fn seq(&self) -> Option<i64> {
        match self {
            Self::Missing { seq, .. }
            | Self::Altered { seq }
            | Self::Unlinked { seq }
            | Self::CheckpointMismatch { seq } => Some(*seq),
            Self::Truncated { last, .. } => Some(last + 1),
            Self::BadCheckpoint(_) | Self::BadAnchor(_) | Self::NoCheckpoint => None,
        }
    }
}

/// What verification found for one tenant.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// Tenant.
    pub tenant: String,
    /// Where verification started: the seq of the latest purge's anchor
    /// (the records up to it were deleted by retention), 0 without one.
    pub anchored_seq: i64,
    /// Records that verified.
    pub records: i64,
    /// Checkpoints checked.
    pub checkpoints: usize,
    /// The highest seq vouched for by a valid checkpoint.
    pub checkpointed_seq: i64,
    /// The first break, if any.
    pub error: Option<ChainBreak>,
}

impl VerifyReport {
    /// True when nothing is wrong.
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }
}

/// Walks one tenant's records in order against its verified checkpoints.
struct ChainWalker<'a> {
    report: VerifyReport,
    vouched: std::iter::Peekable<std::slice::Iter<'a, Head>>,
    last_seq: i64,
    last_hash: [u8; 32],
    /// The highest seq where a signed checkpoint matched the record walked.
    matched: i64,
}

impl<'a> ChainWalker<'a> {
    /// From `start`: the anchor's head, or the empty chain's. A checkpoint
    /// at the anchor's own seq must name the anchor's hash.
    fn new(mut report: VerifyReport, vouched: &'a [Head], start: Head) -> Self {
        let mut heads = vouched.iter().peekable();
        while let Some(head) = heads.next_if(|h| h.seq <= start.seq) {
            if head.seq == start.seq && head.hash != start.hash && report.error.is_none() {
                report.error = Some(ChainBreak::CheckpointMismatch { seq: start.seq });
            }
        }
        Self { report, vouched: heads, last_seq: start.seq, last_hash: start.hash, matched: 0 }
    }

    /// Checks the next record; false (with the report's error set) at the
    /// first break. A record up to the anchor (one a purge that stopped
    /// half-way left) is past retention and skipped.
    fn push(&mut self, record: &AuditRecord) -> bool {
        if self.report.error.is_some() {
            return false;
        }
        if record.seq <= self.report.anchored_seq {
            return true;
        }
        let expected = self.last_seq + 1;
        let error = if record.seq != expected {
            Some(ChainBreak::Missing { seq: expected, found: record.seq })
        } else if chain::record_hash(&record.event, record.seq, &record.prev_hash) != record.hash {
            Some(ChainBreak::Altered { seq: record.seq })
        } else if record.prev_hash != self.last_hash {
            Some(ChainBreak::Unlinked { seq: record.seq })
        } else {
            None
        };
        if let Some(error) = error {
            self.report.error = Some(error);
            return false;
        }
        while let Some(head) = self.vouched.next_if(|h| h.seq <= record.seq) {
            if head.seq == record.seq && head.hash != record.hash {
                self.report.error = Some(ChainBreak::CheckpointMismatch { seq: record.seq });
                return false;
            }
            if head.seq == record.seq {
                self.matched = record.seq;
            }
        }
        self.last_seq = record.seq;
        self.last_hash = record.hash;
        self.report.records += 1;
        true
    }

    fn finish(mut self) -> VerifyReport {
        if self.report.error.is_none() && self.report.checkpointed_seq > self.last_seq {
            self.report.error =
                Some(ChainBreak::Truncated { last: self.last_seq, checkpoint: self.report.checkpointed_seq });
        }
        self.report
    }
}

/// Verifies the anchors' and checkpoints' signatures; the report (with its
/// error set on a bad signature), the vouched heads in seq order, and where
/// the walk starts (the latest anchor).
fn check_statements(
    tenant: &str,
    ring: &KeyRing,
    anchors: &[Anchor],
    mut checkpoints: Vec<Checkpoint>,
) -> (VerifyReport, Vec<Head>, Head) {
    checkpoints.sort_by_key(|c| c.seq);
    let mut report = VerifyReport {
        tenant: tenant.to_owned(),
        anchored_seq: 0,
        records: 0,
        checkpoints: checkpoints.len(),
        checkpointed_seq: 0,
        error: None,
    };
    let mut start = Head::EMPTY;
    for anchor in anchors.iter().filter(|a| a.tenant == tenant) {
        match ring.anchor(anchor) {
            Ok(head) if head.seq > start.seq => start = head,
            Ok(_) => {}
            Err(error) => {
                report.error = Some(ChainBreak::BadAnchor(error.to_string()));
                return (report, Vec::new(), start);
            }
        }
    }
    report.anchored_seq = start.seq;
    let mut vouched: Vec<Head> = Vec::with_capacity(checkpoints.len());
    for checkpoint in &checkpoints {
        match ring.checkpoint(checkpoint) {
            Ok(head) => vouched.push(head),
            Err(error) => {
                report.error = Some(ChainBreak::BadCheckpoint(error.to_string()));
                return (report, vouched, start);
            }
        }
    }
    // What vouches for the kept records is a checkpoint after the anchor.
    report.checkpointed_seq = vouched.last().map_or(0, |h| h.seq).max(start.seq);
    (report, vouched, start)
}

/// Verifies `tenant`'s chain from its latest anchor against its stored
/// checkpoints plus `extra` (e.g. exported earlier and kept elsewhere), each
/// signed by a key of `ring`. A purge that commits its anchor while the
/// walk reads would look like deleted records: the walk then runs once
/// more from the new anchor.
pub async fn verify_tenant(
    store: &dyn AuditLog,
    tenant: &str,
    ring: &KeyRing,
    extra: &[Checkpoint],
) -> Result<VerifyReport, StoreError> {
    let anchors = store.audit_anchors(tenant).await?;
    let report = walk(store, tenant, ring, extra, &anchors, None, None).await?;
    if report.error.is_none() {
        return Ok(report);
    }
    let now = store.audit_anchors(tenant).await?;
    if now == anchors { Ok(report) } else { walk(store, tenant, ring, extra, &now, None, None).await }
}

/// Verifies `tenant`'s chain from its latest anchor up to a signed
/// checkpoint at or after `through` (what a purge checks before it signs an
/// anchor at `through`: the records it deletes, and the links after them up
/// to a checkpoint, are the ones that were signed).
pub async fn verify_through(
    store: &dyn AuditLog,
    tenant: &str,
    ring: &KeyRing,
    through: i64,
    pacer: &mut Pacer,
) -> Result<VerifyReport, StoreError> {
    let anchors = store.audit_anchors(tenant).await?;
    walk(store, tenant, ring, &[], &anchors, Some(through), Some(pacer)).await
}

async fn walk(
    store: &dyn AuditLog,
    tenant: &str,
    ring: &KeyRing,
    extra: &[Checkpoint],
    anchors: &[Anchor],
    through: Option<i64>,
    mut pacer: Option<&mut Pacer>,
) -> Result<VerifyReport, StoreError> {
    let mut checkpoints = store.audit_checkpoints(tenant).await?;
    checkpoints.extend(extra.iter().filter(|c| c.tenant == tenant).cloned());
    let (report, vouched, start) = check_statements(tenant, ring, anchors, checkpoints);
    if report.error.is_some() {
        return Ok(report);
    }
    let mut walker = ChainWalker::new(report, &vouched, start);
    let mut after = start.seq;
    let size = if pacer.is_some() { PACED_PAGE } else { PAGE };
    loop {
        let page = store.audit_records(tenant, after, size).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for record in &page {
            if !walker.push(record) {
                return Ok(walker.report);
            }
            if through.is_some_and(|through| walker.matched >= through) {
                return Ok(walker.report);
            }
        }
        if let Some(pacer) = pacer.as_deref_mut() {
            pacer.pause().await;
        }
    }
    if through.is_some() && walker.report.error.is_none() {
        walker.report.error = Some(ChainBreak::NoCheckpoint);
        return Ok(walker.report);
    }
    Ok(walker.finish())
}

/// Verifies an exported chain (records in seq order, as `GET /audit/export`
/// streams them) from its latest anchor against its checkpoints, with only
/// the public keys: no database, no host. At least one checkpoint must be
/// of `tenant`.
pub fn verify_export(tenant: &str, ring: &KeyRing, export: &Export) -> VerifyReport {
    let checkpoints: Vec<_> = export.checkpoints.iter().filter(|c| c.tenant == tenant).cloned().collect();
    let (mut report, vouched, start) = check_statements(tenant, ring, &export.anchors, checkpoints);
    // Something must vouch for the records kept after the anchor.
    let unvouched = !vouched.iter().any(|h| h.seq > start.seq);
    if unvouched && report.error.is_none() {
        report.error = Some(ChainBreak::NoCheckpoint);
    }
    if report.error.is_some() {
        return report;
    }
    let records = &export.records;
    let mut walker = ChainWalker::new(report, &vouched, start);
    for record in records.iter().filter(|r| r.event.tenant == tenant) {
        if !walker.push(record) {
            return walker.report;
        }
    }
    walker.finish()
}

/// Why an export file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExportError {
    /// A line is not JSON.
    #[error("line {line} is not JSON: {message}")]
    NotJson {
        /// 1-based line number.
        line: usize,
        /// What the JSON parser said.
        message: String,
    },
    /// A line is JSON but not a record.
    #[error("line {line}: bad record: {message}")]
    BadRecord {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A `{"checkpoint": …}`, `{"anchor": …}` or `{"key": …}` line is not one.
    #[error("line {line}: bad {what}: {message}")]
    BadStatement {
        /// 1-based line number.
        line: usize,
        /// checkpoint, anchor or key.
        what: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// What an export file holds.
#[derive(Debug, Clone, Default)]
pub struct Export {
    /// The records, in the file's order.
    pub records: Vec<AuditRecord>,
    /// Signed checkpoints.
    pub checkpoints: Vec<Checkpoint>,
    /// Purges' anchors.
    pub anchors: Vec<Anchor>,
    /// The deployment's audit keys and their handovers.
    pub keys: Vec<crate::model::audit::AuditKey>,
}

/// Reads an NDJSON export (`GET /audit/export`): `{"key": …}` and
/// `{"anchor": …}` lines first, one record per line, and `{"checkpoint": …}`
/// lines with the signed checkpoints. Blank lines are skipped.
pub fn parse_export(text: &str) -> Result<Export, ExportError> {
    fn statement<T: serde::de::DeserializeOwned>(
        value: &serde_json::Value,
        line: usize,
        what: &'static str,
    ) -> Result<T, ExportError> {
        serde_json::from_value(value.clone()).map_err(|e| ExportError::BadStatement {
            line,
            what,
            message: e.to_string(),
        })
    }
    let mut export = Export::default();
    for (index, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let line_number = index + 1;
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| ExportError::NotJson { line: line_number, message: e.to_string() })?;
        if let Some(checkpoint) = value.get("checkpoint") {
            export.checkpoints.push(statement(checkpoint, line_number, "checkpoint")?);
        } else if let Some(anchor) = value.get("anchor") {
            export.anchors.push(statement(anchor, line_number, "anchor")?);
        } else if let Some(key) = value.get("key") {
            export.keys.push(statement(key, line_number, "key")?);
        } else {
            export.records.push(
                serde_json::from_value(value)
                    .map_err(|e| ExportError::BadRecord { line: line_number, message: e.to_string() })?,
            );
        }
    }
    Ok(export)
}
