//! The upgrade review: declined versions, the tenant's choice to let
//! versions that widen nothing apply themselves, and which tenants run
//! which version of a plugin.

use async_trait::async_trait;
use sqlx::Row;

use super::backend::SqlStore;
use super::{ChangeRecord, StoreResult};
use crate::model::audit::AuditRecord;

/// A version an app admin declined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decline {
    /// Plugin.
    pub plugin: String,
    /// The version declined.
    pub version: String,
    /// The app admin.
    pub decided_by: String,
    /// Why.
    pub reason: String,
    /// When, ms since the epoch.
    pub decided_at_ms: i64,
}

/// Upgrade review state.
#[async_trait]
pub trait Upgrades: Send + Sync + std::fmt::Debug {
    /// Records that `version` of `plugin` is declined in the tenant.
    async fn decline_upgrade(
        &self,
        tenant: &str,
        decline: &Decline,
        record: ChangeRecord<'_>,
    ) -> StoreResult<AuditRecord>;
    /// The tenant's declined versions.
    async fn declines(&self, tenant: &str) -> StoreResult<Vec<Decline>>;
    /// Every tenant's declines of `plugin`: (tenant, version).
    async fn declines_of(&self, plugin: &str) -> StoreResult<Vec<(String, String)>>;
    /// Sets whether versions that widen nothing apply themselves.
    async fn set_auto_upgrade(&self, tenant: &str, on: bool, record: ChangeRecord<'_>) -> StoreResult<AuditRecord>;
    /// Whether versions that widen nothing apply themselves (off by default).
    async fn auto_upgrade(&self, tenant: &str) -> StoreResult<bool>;
    /// Which tenants run `plugin`, at which version.
    async fn installed_versions(&self, plugin: &str) -> StoreResult<Vec<(String, String)>>;
}

#[async_trait]
impl Upgrades for SqlStore {
    async fn decline_upgrade(
        &self,
        tenant: &str,
        decline: &Decline,
        record: ChangeRecord<'_>,
    ) -> StoreResult<AuditRecord> {
        let mut tx = self.begin_recorded(&record).await?;
        sqlx::query(
            "INSERT INTO upgrade_declines (tenant, plugin, version, decided_by, reason, decided_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant, plugin, version) DO UPDATE SET \
             decided_by = excluded.decided_by, reason = excluded.reason, decided_at = excluded.decided_at",
        )
        .bind(tenant)
        .bind(&decline.plugin)
        .bind(&decline.version)
        .bind(&decline.decided_by)
        .bind(&decline.reason)
        .bind(decline.decided_at_ms)
        .execute(&mut *tx)
        .await?;
        self.commit_recorded(tx, record).await
    }

    async fn declines(&self, tenant: &str) -> StoreResult<Vec<Decline>> {
        let rows = sqlx::query(
            "SELECT plugin, version, decided_by, reason, decided_at FROM upgrade_declines WHERE tenant = $1 \
             ORDER BY plugin, version",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Decline {
                plugin: r.get(0),
                version: r.get(1),
                decided_by: r.get(2),
                reason: r.get(3),
                decided_at_ms: r.get(4),
            })
            .collect())
    }

    async fn declines_of(&self, plugin: &str) -> StoreResult<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT tenant, version FROM upgrade_declines WHERE plugin = $1")
            .bind(plugin)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    async fn set_auto_upgrade(&self, tenant: &str, on: bool, record: ChangeRecord<'_>) -> StoreResult<AuditRecord> {
        let mut tx = self.begin_recorded(&record).await?;
        sqlx::query(
            "INSERT INTO upgrade_settings (tenant, auto_apply, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant) DO UPDATE SET auto_apply = excluded.auto_apply, updated_at = excluded.updated_at",
        )
        .bind(tenant)
        .bind(i64::from(on))
        .bind(crate::now_ms())
        .execute(&mut *tx)
        .await?;
        self.commit_recorded(tx, record).await
    }

    async fn auto_upgrade(&self, tenant: &str) -> StoreResult<bool> {
        let row = sqlx::query("SELECT auto_apply FROM upgrade_settings WHERE tenant = $1")
            .bind(tenant)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.is_some_and(|r| r.get::<i64, _>(0) != 0))
    }

    async fn installed_versions(&self, plugin: &str) -> StoreResult<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT tenant, version FROM installations WHERE plugin = $1 ORDER BY tenant")
            .bind(plugin)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }
}
