//! Published plugin versions.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::backend::{SqlStore, corrupt, from_json, json};
use super::{ChangeRecord, StoreError, StoreResult};
use crate::model::audit::AuditRecord;
use crate::model::registry::{PluginRelease, PluginVersion, Publisher};

/// The registry of published plugin versions.
#[async_trait]
pub trait Registry: Send + Sync + std::fmt::Debug {
    /// Stores a plugin version. The same version with other bytes, or a
    /// version of a plugin another developer owns, is a conflict.
    /// With `record`, in one transaction.
    async fn put_plugin_version(&self, version: &PluginVersion, record: ChangeRecord<'_>) -> StoreResult<AuditRecord>;
    /// A plugin version.
    async fn plugin_version(&self, plugin: &str, version: &str) -> StoreResult<Option<PluginVersion>>;
    /// Releases of one plugin, or of all, by plugin id then publication time.
    async fn plugin_releases(&self, plugin: Option<&str>) -> StoreResult<Vec<PluginRelease>>;
}

const RELEASE_COLUMNS: &str = "manifest, digest, publisher, publisher_tenant, signed_by, size_bytes, published_at";

fn release_from_row(r: &AnyRow) -> StoreResult<PluginRelease> {
    Ok(PluginRelease {
        manifest: from_json(r.get::<&str, _>(0))?,
        digest: r.get(1),
        publisher: Publisher { member: r.get(2), tenant: r.get(3) },
        signed_by: r.get(4),
        size_bytes: u64::try_from(r.get::<i64, _>(5)).map_err(corrupt)?,
        published_at_ms: r.get(6),
    })
}

#[async_trait]
impl Registry for SqlStore {
    async fn put_plugin_version(&self, version: &PluginVersion, record: ChangeRecord<'_>) -> StoreResult<AuditRecord> {
        let release = &version.release;
        let manifest = &release.manifest;
        let mut tx = self.begin_recorded(&record).await?;
        self.lock(&mut tx, &format!("plugin:{}", manifest.id)).await?;
        let owner = sqlx::query("SELECT publisher, publisher_tenant FROM plugin_versions WHERE plugin = $1 LIMIT 1")
            .bind(&manifest.id)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = owner {
            let owner = Publisher { member: row.get(0), tenant: row.get(1) };
            if owner != release.publisher {
                return Err(StoreError::Conflict(format!(
                    "plugin id {} belongs to another developer; choose another id",
                    manifest.id
                )));
            }
        }
        let existing = sqlx::query("SELECT digest, manifest FROM plugin_versions WHERE plugin = $1 AND version = $2")
            .bind(&manifest.id)
            .bind(manifest.version.to_string())
            .fetch_optional(&mut *tx)
            .await?;
        match existing {
            Some(row) if row.get::<&str, _>(0) == release.digest => {
                // The service names the differences; this catches a publish
                // of another manifest that raced it.
                let stored: crate::model::manifest::Manifest =
                    serde_json::from_str(row.get::<&str, _>(1)).map_err(corrupt)?;
                if &stored != manifest {
                    return Err(StoreError::Conflict(format!(
                        "{} is already published with this component and another manifest; publish a new version",
                        manifest.reference()
                    )));
                }
                return self.commit_recorded(tx, record).await;
            }
            Some(_) => {
                return Err(StoreError::Conflict(format!(
                    "{} is already published with other content; publish a new version",
                    manifest.reference()
                )));
            }
            None => {}
        }
        sqlx::query(
            "INSERT INTO plugin_versions (plugin, version, manifest, digest, component, publisher, published_at, \
             publisher_tenant, signed_by, size_bytes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&manifest.id)
        .bind(manifest.version.to_string())
        .bind(json(manifest)?)
        .bind(&release.digest)
        .bind(&version.component)
        .bind(&release.publisher.member)
        .bind(release.published_at_ms)
        .bind(&release.publisher.tenant)
        .bind(&release.signed_by)
        .bind(i64::try_from(version.component.len()).map_err(corrupt)?)
        .execute(&mut *tx)
        .await?;
        self.commit_recorded(tx, record).await
    }

    async fn plugin_version(&self, plugin: &str, version: &str) -> StoreResult<Option<PluginVersion>> {
        let row = sqlx::query(&format!(
            "SELECT {RELEASE_COLUMNS}, component FROM plugin_versions WHERE plugin = $1 AND version = $2"
        ))
        .bind(plugin)
        .bind(version)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| Ok(PluginVersion { release: release_from_row(&r)?, component: r.get(7) })).transpose()
    }

    async fn plugin_releases(&self, plugin: Option<&str>) -> StoreResult<Vec<PluginRelease>> {
        let rows = sqlx::query(&format!(
            "SELECT {RELEASE_COLUMNS} FROM plugin_versions WHERE ($1 IS NULL OR plugin = $1) \
             ORDER BY plugin, published_at, version"
        ))
        .bind(plugin)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(release_from_row).collect()
    }
}
