//! Tenant settings.

use async_trait::async_trait;
use sqlx::Row;

use super::backend::{SqlStore, from_json, json};
use super::{ChangeRecord, StoreResult};
use crate::model::audit::AuditRecord;
use crate::model::settings::Retention;

/// A tenant's settings.
#[async_trait]
pub trait Settings: Send + Sync + std::fmt::Debug {
    /// A tenant's retention settings (the defaults until set).
    async fn retention(&self, tenant: &str) -> StoreResult<Retention>;
    /// Sets a tenant's retention settings.
    async fn put_retention(
        &self,
        tenant: &str,
        retention: &Retention,
        record: ChangeRecord<'_>,
    ) -> StoreResult<AuditRecord>;
}

#[async_trait]
impl Settings for SqlStore {
    async fn retention(&self, tenant: &str) -> StoreResult<Retention> {
        let row = sqlx::query("SELECT retention FROM tenant_settings WHERE tenant = $1")
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await?;
        row.map_or(Ok(Retention::default()), |r| from_json(r.get::<&str, _>(0)))
    }

    async fn put_retention(
        &self,
        tenant: &str,
        retention: &Retention,
        record: ChangeRecord<'_>,
    ) -> StoreResult<AuditRecord> {
        let mut tx = self.begin_recorded(&record).await?;
        sqlx::query(
            "INSERT INTO tenant_settings (tenant, retention, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant) DO UPDATE SET retention = excluded.retention, updated_at = excluded.updated_at",
        )
        .bind(tenant)
        .bind(json(retention)?)
        .bind(crate::now_ms())
        .execute(&mut *tx)
        .await?;
        self.commit_recorded(tx, record).await
    }
}
