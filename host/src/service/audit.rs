//! The tenant admin's audit log: pages of records, the NDJSON export (paged
//! here, streamed by the API), and verification of the chain.

use serde::Serialize;

use super::{ServiceResult, Workbench};
use crate::audit::keyring::KeyRing;
use crate::audit::verify::{self, VerifyReport};
use crate::model::audit::{AuditFilter, AuditKey, AuditRecord};

/// The keys that sign a deployment's audit checkpoints and anchors.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditKeyHistory {
    /// The id of the key signing now.
    pub current: String,
    /// Every trusted key, oldest first, each after the first with the
    /// handover both keys signed.
    pub keys: Vec<AuditKey>,
}

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
    /// log): for a complete export first a `{"key": …}` line per trusted
    /// audit key and an `{"anchor": …}` line per purge; then one record per
    /// line; then, for a complete export, a line `{"checkpoint": …}` with
    /// the latest signed checkpoint, read before the first page (every
    /// record it vouches for is already durable). A store failure ends the
    /// stream with an error; a reader that goes away stops it.
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
            if range.is_complete() {
                let head = match workbench.export_head(&tenant).await {
                    Ok(head) => head,
                    Err(error) => {
                        tracing::error!(%error, "audit export failed");
                        let _ = tx.send(Err(std::io::Error::other("audit export failed"))).await;
                        return;
                    }
                };
                if tx.send(Ok(head)).await.is_err() {
                    return;
                }
            }
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

    /// Verifies the audit chain of `tenant`, or of every tenant, from its
    /// latest anchor, each checkpoint with the key that signed it (this
    /// host's, or one a handover links to it).
    pub async fn verify_audit(&self, tenant: Option<&str>) -> ServiceResult<Vec<VerifyReport>> {
        let tenants = match tenant {
            Some(t) => vec![t.to_owned()],
            None => self.store.audit_tenants().await?,
        };
        let ring = self.key_ring().await?;
        let mut reports = Vec::with_capacity(tenants.len());
        for tenant in tenants {
            reports.push(verify::verify_tenant(self.store.as_ref(), &tenant, &ring, &[]).await?);
        }
        Ok(reports)
    }

    /// The keys this host trusts: its own and those handovers link to it.
    pub async fn key_ring(&self) -> ServiceResult<KeyRing> {
        Ok(KeyRing::with_history(self.verifying_key, &self.store.audit_keys().await?))
    }

    /// The audit key history: every key the deployment has used that this
    /// host trusts, oldest first, and the current one's id.
    pub async fn audit_keys(&self) -> ServiceResult<AuditKeyHistory> {
        let ring = self.key_ring().await?;
        let trusted = ring.key_ids();
        let mut keys: Vec<AuditKey> =
            self.store.audit_keys().await?.into_iter().filter(|k| trusted.contains(&k.key_id)).collect();
        let current = crate::audit::chain::key_id(&self.verifying_key);
        if !keys.iter().any(|k| k.key_id == current) {
            keys.push(self.chain.key_entry());
        }
        Ok(AuditKeyHistory { current, keys })
    }
}

impl Workbench {
    /// The lines a complete export starts with: the trusted keys, then the
    /// tenant's anchors.
    async fn export_head(&self, tenant: &str) -> ServiceResult<Vec<u8>> {
        let keys = self.audit_keys().await?.keys.into_iter().map(|key| serde_json::json!({ "key": key }));
        let anchors = self.store.audit_anchors(tenant).await?;
        let anchors = anchors.into_iter().map(|anchor| serde_json::json!({ "anchor": anchor }));
        let mut lines = Vec::new();
        for line in keys.chain(anchors) {
            lines.extend(serde_json::to_vec(&line).unwrap_or_default());
            lines.push(b'\n');
        }
        Ok(lines)
    }
}
