//! The tenant admin's audit log: pages of records, the NDJSON export (paged
//! here, streamed by the API), and verification of the chain.

use serde::Serialize;

use super::{ServiceResult, Workbench};
use crate::audit::verify::{self, VerifyReport};
use crate::model::audit::{AuditFilter, AuditRecord};

/// One page of records and the cursor of the next.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditPage {
    /// The records, oldest first, each with its place in the chain.
    pub records: Vec<AuditRecord>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// Largest page the API returns.
pub const MAX_PAGE: u32 = 1_000;

/// The cursor of the page after `records`, when the page was full.
pub(super) fn next_cursor(records: &[AuditRecord], limit: u32) -> Option<String> {
    (records.len() == limit as usize).then(|| records.last().map(|r| r.seq.to_string())).flatten()
}

/// What an audit export covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportRange {
    /// Which records.
    pub filter: AuditFilter,
    /// Records with `seq` after this.
    pub after: i64,
    /// At most this many records; `None` for every matching one.
    pub limit: Option<usize>,
}

impl ExportRange {
    /// The whole log: then the export ends with the latest checkpoint.
    pub fn is_complete(&self) -> bool {
        self.filter == AuditFilter::default() && self.after == 0 && self.limit.is_none()
    }
}

impl Workbench {
    /// A page of the tenant's audit records matching `filter` after `after`.
    pub async fn audit_page(
        &self,
        tenant: &str,
        filter: &AuditFilter,
        after: i64,
        limit: u32,
    ) -> ServiceResult<AuditPage> {
        let limit = limit.clamp(1, MAX_PAGE);
        let records = self.store.audit_query(tenant, filter, after, limit).await?;
        Ok(AuditPage { next: next_cursor(&records, limit), records })
    }

    /// The NDJSON export of `range`, as chunks of lines, produced by a task
    /// of its own page by page (a page at a time in memory, however long the
    /// log): one record per line, then, for a complete export, a line
    /// `{"checkpoint": …}` with the latest signed checkpoint, read before the
    /// first page (every record it vouches for is already durable). A store
    /// failure ends the stream with an error; a reader that goes away stops it.
    pub fn audit_export(
        self: &std::sync::Arc<Self>,
        tenant: &str,
        range: ExportRange,
    ) -> tokio::sync::mpsc::Receiver<Result<Vec<u8>, std::io::Error>> {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
        let workbench = std::sync::Arc::clone(self);
        let tenant = tenant.to_owned();
        tokio::spawn(async move {
            let failed = |error: crate::store::StoreError| {
                tracing::error!(%error, "audit export failed");
                Err(std::io::Error::other("audit export failed"))
            };
            let store = &workbench.store;
            let checkpoint = if range.is_complete() {
                store.audit_checkpoints(&tenant).await.map(|mut c| c.pop())
            } else {
                Ok(None)
            };
            let (mut after, mut remaining) = (range.after, range.limit);
            loop {
                let want = remaining.map_or(MAX_PAGE, |r| r.min(MAX_PAGE as usize) as u32);
                let page = match store.audit_query(&tenant, &range.filter, after, want).await {
                    Ok(page) => page,
                    Err(error) => {
                        let _ = tx.send(failed(error)).await;
                        return;
                    }
                };
                let mut chunk = Vec::new();
                for record in &page {
                    if serde_json::to_writer(&mut chunk, record).is_ok() {
                        chunk.push(b'\n');
                    }
                }
                if tx.send(Ok(chunk)).await.is_err() {
                    return;
                }
                if let Some(r) = remaining.as_mut() {
                    *r -= page.len().min(*r);
                }
                match page.last() {
                    Some(last) if page.len() == want as usize && remaining != Some(0) => after = last.seq,
                    _ => break,
                }
            }
            match checkpoint {
                Ok(Some(checkpoint)) => {
                    let mut line =
                        serde_json::to_vec(&serde_json::json!({ "checkpoint": checkpoint })).unwrap_or_default();
                    line.push(b'\n');
                    let _ = tx.send(Ok(line)).await;
                }
                Ok(None) => {}
                Err(error) => {
                    let _ = tx.send(failed(error)).await;
                }
            }
        });
        rx
    }

    /// Verifies the audit chain of `tenant`, or of every tenant.
    pub async fn verify_audit(&self, tenant: Option<&str>) -> ServiceResult<Vec<VerifyReport>> {
        let tenants = match tenant {
            Some(t) => vec![t.to_owned()],
            None => self.store.audit_tenants().await?,
        };
        let mut reports = Vec::with_capacity(tenants.len());
        for tenant in tenants {
            reports.push(verify::verify_tenant(self.store.as_ref(), &tenant, &self.verifying_key, &[]).await?);
        }
        Ok(reports)
    }
}
