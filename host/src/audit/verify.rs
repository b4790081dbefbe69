//! Walks a tenant's chain and its signed checkpoints and names the first
//! record that does not hold.

use ed25519_dalek::VerifyingKey;
use serde::Serialize;

use super::chain;
use crate::model::audit::{AuditRecord, Checkpoint, GENESIS, Head};
use crate::store::{AuditLog, StoreError};

/// Records read per page.
const PAGE: u32 = 10_000;

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
    /// A checkpoint's signature is invalid.
    #[error("{0}")]
    BadCheckpoint(String),
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
            Self::BadCheckpoint(_) | Self::NoCheckpoint => None,
        }
    }
}

/// What verification found for one tenant.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// Tenant.
    pub tenant: String,
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
}

impl<'a> ChainWalker<'a> {
    fn new(report: VerifyReport, vouched: &'a [Head]) -> Self {
        Self { report, vouched: vouched.iter().peekable(), last_seq: 0, last_hash: GENESIS }
    }

    /// Checks the next record; false (with the report's error set) at the first break.
    fn push(&mut self, record: &AuditRecord) -> bool {
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

/// Verifies the checkpoints' signatures; the report (with its error set on
/// a bad signature) and the vouched heads in seq order.
fn check_checkpoints(tenant: &str, key: &VerifyingKey, mut checkpoints: Vec<Checkpoint>) -> (VerifyReport, Vec<Head>) {
    checkpoints.sort_by_key(|c| c.seq);
    let mut report = VerifyReport {
        tenant: tenant.to_owned(),
        records: 0,
        checkpoints: checkpoints.len(),
        checkpointed_seq: 0,
        error: None,
    };
    let mut vouched = Vec::with_capacity(checkpoints.len());
    for checkpoint in &checkpoints {
        match chain::verify_checkpoint(key, checkpoint) {
            Ok(head) => vouched.push(head),
            Err(error) => {
                report.error = Some(ChainBreak::BadCheckpoint(error.to_string()));
                return (report, vouched);
            }
        }
    }
    report.checkpointed_seq = vouched.last().map_or(0, |h| h.seq);
    (report, vouched)
}

/// Verifies `tenant`'s chain against its stored checkpoints plus `extra`
/// (e.g. exported earlier and kept elsewhere), all signed by `key`.
pub async fn verify_tenant(
    store: &dyn AuditLog,
    tenant: &str,
    key: &VerifyingKey,
    extra: &[Checkpoint],
) -> Result<VerifyReport, StoreError> {
    let mut checkpoints = store.audit_checkpoints(tenant).await?;
    checkpoints.extend(extra.iter().filter(|c| c.tenant == tenant).cloned());
    let (report, vouched) = check_checkpoints(tenant, key, checkpoints);
    if report.error.is_some() {
        return Ok(report);
    }
    let mut walker = ChainWalker::new(report, &vouched);
    let mut after = 0;
    loop {
        let page = store.audit_records(tenant, after, PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for record in &page {
            if !walker.push(record) {
                return Ok(walker.report);
            }
        }
    }
    Ok(walker.finish())
}

/// Verifies an exported chain (records in seq order, as `GET /audit/export`
/// streams them) against `checkpoints`, with only the public key: no
/// database, no host. At least one checkpoint must be of `tenant`.
pub fn verify_export(
    tenant: &str,
    key: &VerifyingKey,
    records: &[AuditRecord],
    checkpoints: Vec<Checkpoint>,
) -> VerifyReport {
    let checkpoints: Vec<_> = checkpoints.into_iter().filter(|c| c.tenant == tenant).collect();
    let unvouched = checkpoints.is_empty();
    let (mut report, vouched) = check_checkpoints(tenant, key, checkpoints);
    if unvouched {
        report.error = Some(ChainBreak::NoCheckpoint);
    }
    if report.error.is_some() {
        return report;
    }
    let mut walker = ChainWalker::new(report, &vouched);
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
    /// A `{"checkpoint": …}` line is not a checkpoint.
    #[error("line {line}: bad checkpoint: {message}")]
    BadCheckpoint {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

/// Reads an NDJSON export (`GET /audit/export`): one record per line, and
/// `{"checkpoint": …}` lines with the signed checkpoints. Blank lines are
/// skipped.
pub fn parse_export(text: &str) -> Result<(Vec<AuditRecord>, Vec<Checkpoint>), ExportError> {
    let (mut records, mut checkpoints) = (Vec::new(), Vec::new());
    for (index, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let line_number = index + 1;
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| ExportError::NotJson { line: line_number, message: e.to_string() })?;
        match value.get("checkpoint") {
            Some(checkpoint) => checkpoints.push(
                serde_json::from_value(checkpoint.clone())
                    .map_err(|e| ExportError::BadCheckpoint { line: line_number, message: e.to_string() })?,
            ),
            None => records.push(
                serde_json::from_value(value)
                    .map_err(|e| ExportError::BadRecord { line: line_number, message: e.to_string() })?,
            ),
        }
    }
    Ok((records, checkpoints))
}
