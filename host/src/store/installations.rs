//! Plugins installed in tenants.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::backend::{Cascade, SqlStore, corrupt, count, from_json, json};
use super::{ChangeRecord, StoreError, StoreResult};
use crate::model::audit::AuditRecord;
use crate::model::departments::VisibleRange;
use crate::model::installation::{Deleted, Installation, InstallationState};
use crate::scope::{Scope, ScopeSet};

/// A tenant's installations.
#[async_trait]
pub trait Installations: Send + Sync + std::fmt::Debug {
    /// Creates an installation, or changes an existing one's version, grant
    /// and visible range (its enabled/disabled state stays as it is), with
    /// `record`, in one transaction.
    async fn put_installation(&self, installation: &Installation, record: ChangeRecord<'_>)
    -> StoreResult<AuditRecord>;
    /// Narrows `before` (the installation as read) to `after`'s grant and
    /// destinations, and withdraws at `now_ms` every member's consent to the
    /// `withdrawn` scopes of it, with `record` (its reason ending with how
    /// many), in one transaction; how many consents were withdrawn.
    /// Conflict, with nothing written, when the installation is no longer
    /// `before` (upgraded, regranted or uninstalled meanwhile).
    async fn narrow_installation(
        &self,
        before: &Installation,
        after: &Installation,
        withdrawn: ScopeSet,
        now_ms: i64,
        record: ChangeRecord<'_>,
    ) -> StoreResult<(u64, AuditRecord)>;
    /// Enables or disables an installation, with `record`; `None` (and no
    /// record) when there is none.
    async fn set_installation_state(
        &self,
        tenant: &str,
        plugin: &str,
        state: InstallationState,
        record: ChangeRecord<'_>,
    ) -> StoreResult<Option<AuditRecord>>;
    /// A tenant's installation of a plugin.
    async fn installation(&self, tenant: &str, plugin: &str) -> StoreResult<Option<Installation>>;
    /// A tenant's installations in plugin order.
    async fn installations(&self, tenant: &str) -> StoreResult<Vec<Installation>>;
    /// Removes an installation with every consent to it and all its storage
    /// in the tenant, and `record` (its reason ending with what was
    /// deleted), in one transaction; `None` when it is not installed.
    async fn delete_installation(
        &self,
        tenant: &str,
        plugin: &str,
        record: ChangeRecord<'_>,
    ) -> StoreResult<Option<(Deleted, AuditRecord)>>;
}

/// Inserts or updates `installation` in `tx` (its state stays as stored).
async fn upsert_installation(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    installation: &Installation,
) -> StoreResult<()> {
    let visible = json(&installation.range)?;
    sqlx::query(
        "INSERT INTO installations (tenant, plugin, version, granted, visible_to, state, updated_at, egress, config, \
             subscriptions) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (tenant, plugin) DO UPDATE SET version = excluded.version, granted = excluded.granted, \
             visible_to = excluded.visible_to, updated_at = excluded.updated_at, egress = excluded.egress, \
             config = excluded.config, subscriptions = excluded.subscriptions",
    )
    .bind(&installation.tenant)
    .bind(&installation.plugin)
    .bind(&installation.version)
    .bind(scopes_json(installation.granted)?)
    .bind(visible)
    .bind(installation.state.as_str())
    .bind(crate::now_ms())
    .bind(json(&installation.egress)?)
    .bind(json(&*installation.config)?)
    .bind(json(&installation.subscriptions)?)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn scopes_json(set: ScopeSet) -> StoreResult<String> {
    json(&set.iter().collect::<Vec<_>>())
}

/// The visible range as stored: a rules object; a JSON array of member ids
/// or NULL (everyone) as installations made before rules were.
pub(super) fn range_from_column(text: Option<&str>) -> StoreResult<VisibleRange> {
    match text {
        None => Ok(VisibleRange::everyone()),
        Some(text) if text.trim_start().starts_with('[') => Ok(VisibleRange::only(from_json(text)?)),
        Some(text) => from_json(text),
    }
}

pub(super) fn installation_from_row(tenant: &str, r: &AnyRow) -> StoreResult<Installation> {
    let granted: Vec<Scope> = from_json(r.get::<&str, _>(2))?;
    let visible: Option<String> = r.get(3);
    Ok(Installation {
        tenant: tenant.to_owned(),
        plugin: r.get(0),
        version: r.get(1),
        granted: granted.into_iter().collect(),
        range: range_from_column(visible.as_deref())?,
        egress: from_json(r.get::<&str, _>(5))?,
        config: std::sync::Arc::new(from_json(r.get::<&str, _>(6))?),
        state: match r.get::<&str, _>(4) {
            "enabled" => InstallationState::Enabled,
            "disabled" => InstallationState::Disabled,
            other => return Err(corrupt(format!("installation state {other:?}"))),
        },
        subscriptions: match r.try_get::<&str, _>("subscriptions") {
            Ok(text) => from_json(text)?,
            Err(_) => Vec::new(),
        },
    })
}

#[async_trait]
impl Installations for SqlStore {
    async fn put_installation(
        &self,
        installation: &Installation,
        record: ChangeRecord<'_>,
    ) -> StoreResult<AuditRecord> {
        let _changing = self.changing(&installation.tenant);
        let mut tx = self.begin_recorded(&record).await?;
        upsert_installation(&mut tx, installation).await?;
        self.commit_recorded(tx, record).await
    }

    async fn narrow_installation(
        &self,
        before: &Installation,
        after: &Installation,
        withdrawn: ScopeSet,
        now_ms: i64,
        mut record: ChangeRecord<'_>,
    ) -> StoreResult<(u64, AuditRecord)> {
        let installation = after;
        let _changing = self.changing(&installation.tenant);
        let mut tx = self.begin_recorded(&record).await?;
        // Only the grant and the destinations change, and only on the row as read.
        let done = sqlx::query(
            "UPDATE installations SET granted = $1, egress = $2, updated_at = $3 \
             WHERE tenant = $4 AND plugin = $5 AND version = $6 AND granted = $7 AND egress = $8",
        )
        .bind(scopes_json(after.granted)?)
        .bind(json(&after.egress)?)
        .bind(now_ms)
        .bind(&before.tenant)
        .bind(&before.plugin)
        .bind(&before.version)
        .bind(scopes_json(before.granted)?)
        .bind(json(&before.egress)?)
        .execute(&mut *tx)
        .await?;
        if count(&done) == 0 {
            return Err(StoreError::Conflict(format!(
                "{} changed in {} meanwhile (upgraded, granted again or uninstalled); look at it again",
                before.plugin, before.tenant
            )));
        }
        let mut consents = 0;
        for scope in withdrawn.iter() {
            let done = sqlx::query(
                "UPDATE consents SET withdrawn_at = $1 \
                 WHERE tenant = $2 AND plugin = $3 AND scope = $4 AND withdrawn_at IS NULL",
            )
            .bind(now_ms)
            .bind(&installation.tenant)
            .bind(&installation.plugin)
            .bind(scope.as_str())
            .execute(&mut *tx)
            .await?;
            consents += count(&done);
        }
        let reason = record.event.reason.take().unwrap_or_default();
        record.event.reason = Some(format!("{reason}; {consents} members' consents withdrawn"));
        Ok((consents, self.commit_recorded(tx, record).await?))
    }

    async fn set_installation_state(
        &self,
        tenant: &str,
        plugin: &str,
        state: InstallationState,
        record: ChangeRecord<'_>,
    ) -> StoreResult<Option<AuditRecord>> {
        let _changing = self.changing(tenant);
        let mut tx = self.begin_recorded(&record).await?;
        let done =
            sqlx::query("UPDATE installations SET state = $1, updated_at = $2 WHERE tenant = $3 AND plugin = $4")
                .bind(state.as_str())
                .bind(crate::now_ms())
                .bind(tenant)
                .bind(plugin)
                .execute(&mut *tx)
                .await?;
        if count(&done) == 0 {
            return Ok(None);
        }
        Ok(Some(self.commit_recorded(tx, record).await?))
    }

    async fn installation(&self, tenant: &str, plugin: &str) -> StoreResult<Option<Installation>> {
        let row = sqlx::query(
            "SELECT plugin, version, granted, visible_to, state, egress, config, subscriptions FROM installations \
             WHERE tenant = $1 AND plugin = $2",
        )
        .bind(tenant)
        .bind(plugin)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| installation_from_row(tenant, &r)).transpose()
    }

    async fn installations(&self, tenant: &str) -> StoreResult<Vec<Installation>> {
        let rows = sqlx::query(
            "SELECT plugin, version, granted, visible_to, state, egress, config, subscriptions FROM installations \
             WHERE tenant = $1 ORDER BY plugin",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| installation_from_row(tenant, r)).collect()
    }

    async fn delete_installation(
        &self,
        tenant: &str,
        plugin: &str,
        record: ChangeRecord<'_>,
    ) -> StoreResult<Option<(Deleted, AuditRecord)>> {
        self.delete_cascading(tenant, plugin, Cascade::Installation, record).await
    }
}
