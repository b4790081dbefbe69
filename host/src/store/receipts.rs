//! Consent receipts: written in the consent's (or withdrawal's) own
//! transaction, right after its record is linked (the receipt names the
//! record's seq), and read back by the member they belong to.

use async_trait::async_trait;
use sqlx::Row;

use super::StoreResult;
use super::backend::SqlStore;
use crate::model::audit::AuditRecord;

/// Makes the receipt of a change once its record is linked.
pub trait Receipting: Send + Sync {
    /// The receipt of the change `record` records.
    fn receipt(&self, record: &AuditRecord) -> IssuedReceipt;
}

/// A receipt as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedReceipt {
    /// Whose.
    pub member: String,
    /// Which plugin.
    pub plugin: String,
    /// `consent.grant` or `consent.withdraw`.
    pub action: String,
    /// The signed document, JSON.
    pub document: String,
}

/// One of a member's receipts, without its document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ReceiptEntry {
    /// The audit record it belongs to (its id in the member's list).
    pub audit_seq: i64,
    /// Which plugin.
    pub plugin: String,
    /// `consent.grant` or `consent.withdraw`.
    pub action: String,
    /// When, ms since the epoch.
    pub issued_at_ms: i64,
}

/// Members' consent receipts.
#[async_trait]
pub trait Receipts: Send + Sync + std::fmt::Debug {
    /// A member's receipts, newest first.
    async fn receipts(&self, tenant: &str, member: &str) -> StoreResult<Vec<ReceiptEntry>>;
    /// One of a member's receipts (the signed document).
    async fn receipt(&self, tenant: &str, member: &str, audit_seq: i64) -> StoreResult<Option<String>>;
}

impl SqlStore {
    /// Stores `receipt` of `record` inside the change's transaction.
    pub(super) async fn put_receipt(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        record: &AuditRecord,
        receipt: &IssuedReceipt,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO consent_receipts (tenant, audit_seq, member, plugin, action, issued_at, document) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&record.event.tenant)
        .bind(record.seq)
        .bind(&receipt.member)
        .bind(&receipt.plugin)
        .bind(&receipt.action)
        .bind(record.event.ts_ms)
        .bind(&receipt.document)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

#[async_trait]
impl Receipts for SqlStore {
    async fn receipts(&self, tenant: &str, member: &str) -> StoreResult<Vec<ReceiptEntry>> {
        let rows = sqlx::query(
            "SELECT audit_seq, plugin, action, issued_at FROM consent_receipts WHERE tenant = $1 AND member = $2 \
             ORDER BY audit_seq DESC LIMIT 1000",
        )
        .bind(tenant)
        .bind(member)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| ReceiptEntry { audit_seq: r.get(0), plugin: r.get(1), action: r.get(2), issued_at_ms: r.get(3) })
            .collect())
    }

    async fn receipt(&self, tenant: &str, member: &str, audit_seq: i64) -> StoreResult<Option<String>> {
        let row =
            sqlx::query("SELECT document FROM consent_receipts WHERE tenant = $1 AND member = $2 AND audit_seq = $3")
                .bind(tenant)
                .bind(member)
                .bind(audit_seq)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|r| r.get(0)))
    }
}
