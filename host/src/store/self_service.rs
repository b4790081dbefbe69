//! Members opening plugins themselves: the tenant's rule per plugin, the
//! openings (each one a name in the installation's visible range, added
//! and removed in the same transaction), and members' requests.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::backend::{SqlStore, corrupt, count, from_json, json};
use super::installations::range_from_column;
use super::{ChangeRecord, StoreError, StoreResult};
use crate::model::audit::AuditRecord;
use crate::model::departments::VisibleRange;
use crate::model::installation::Installation;
use crate::model::self_service::{Opening, PluginRequest, RequestState, SelfServiceMode, SelfServicePolicy};

/// Self-service rules, openings and requests.
#[async_trait]
pub trait SelfService: Send + Sync + std::fmt::Debug {
    /// Sets the tenant's rule for a plugin, with `record`.
    async fn put_self_service(
        &self,
        tenant: &str,
        plugin: &str,
        policy: &SelfServicePolicy,
        record: ChangeRecord<'_>,
    ) -> StoreResult<AuditRecord>;
    /// The tenant's rules, by plugin.
    async fn self_service(&self, tenant: &str) -> StoreResult<Vec<(String, SelfServicePolicy)>>;
    /// Opens `plugin` for `member`: adds them to the installation's visible
    /// range (installing `fresh` when the plugin is not installed) and
    /// records the opening, with `record`, in one transaction (the record
    /// says "already in range" when the member was named by it already).
    async fn open_for(
        &self,
        fresh: &Installation,
        member: &str,
        via: &str,
        record: ChangeRecord<'_>,
    ) -> StoreResult<AuditRecord>;
    /// Ends an opening: takes the member out of the range's members and
    /// forgets the opening, with `record`, in one transaction; `None` (and
    /// no record) when there was none.
    async fn end_opening(
        &self,
        tenant: &str,
        plugin: &str,
        member: &str,
        record: ChangeRecord<'_>,
    ) -> StoreResult<Option<AuditRecord>>;
    /// The tenant's openings, by plugin then member.
    async fn openings(&self, tenant: &str) -> StoreResult<Vec<Opening>>;
    /// Records a pending request; a conflict when the member has one
    /// pending for the plugin. With `record`, in one transaction.
    async fn add_request(
        &self,
        tenant: &str,
        plugin: &str,
        member: &str,
        reason: &str,
        record: ChangeRecord<'_>,
    ) -> StoreResult<PluginRequest>;
    /// The tenant's requests (one member's when `member` is given), newest first.
    async fn requests(&self, tenant: &str, member: Option<&str>) -> StoreResult<Vec<PluginRequest>>;
    /// A request.
    async fn request(&self, tenant: &str, id: i64) -> StoreResult<Option<PluginRequest>>;
    /// Decides a pending request, with `record`; a conflict when it was
    /// decided already.
    async fn decide_request(
        &self,
        tenant: &str,
        id: i64,
        state: RequestState,
        by: &str,
        decision: Option<&str>,
        record: ChangeRecord<'_>,
    ) -> StoreResult<AuditRecord>;
}

fn request_from_row(r: &AnyRow) -> StoreResult<PluginRequest> {
    let state: String = r.try_get(4)?;
    Ok(PluginRequest {
        id: r.try_get(0)?,
        plugin: r.try_get(1)?,
        member: r.try_get(2)?,
        reason: r.try_get(3)?,
        state: RequestState::parse(&state).ok_or_else(|| corrupt(format!("request state {state:?}")))?,
        decided_by: r.try_get(5)?,
        decision: r.try_get(6)?,
        created_at_ms: r.try_get(7)?,
        decided_at_ms: r.try_get(8)?,
    })
}

type Tx<'a> = sqlx::Transaction<'a, sqlx::Any>;

/// An installation's visible range inside `tx`; `None` when not installed.
async fn read_range(tx: &mut Tx<'_>, tenant: &str, plugin: &str) -> StoreResult<Option<VisibleRange>> {
    let row = sqlx::query("SELECT visible_to FROM installations WHERE tenant = $1 AND plugin = $2")
        .bind(tenant)
        .bind(plugin)
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| range_from_column(r.get::<Option<String>, _>(0).as_deref())).transpose()
}

/// Replaces an installation's visible range inside `tx`.
async fn write_range(tx: &mut Tx<'_>, tenant: &str, plugin: &str, range: &VisibleRange) -> StoreResult<()> {
    sqlx::query("UPDATE installations SET visible_to = $1, updated_at = $2 WHERE tenant = $3 AND plugin = $4")
        .bind(json(range)?)
        .bind(crate::now_ms())
        .bind(tenant)
        .bind(plugin)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

const REQUEST_COLUMNS: &str = "id, plugin, member, reason, state, decided_by, decision, created_at, decided_at";

#[async_trait]
impl SelfService for SqlStore {
    async fn put_self_service(
        &self,
        tenant: &str,
        plugin: &str,
        policy: &SelfServicePolicy,
        record: ChangeRecord<'_>,
    ) -> StoreResult<AuditRecord> {
        let mut tx = self.begin_recorded(&record).await?;
        sqlx::query(
            "INSERT INTO self_service (tenant, plugin, mode, scopes, egress, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (tenant, plugin) DO UPDATE SET mode = excluded.mode, scopes = excluded.scopes, \
             egress = excluded.egress, updated_at = excluded.updated_at",
        )
        .bind(tenant)
        .bind(plugin)
        .bind(policy.mode.as_str())
        .bind(json(&policy.scopes)?)
        .bind(json(&policy.egress)?)
        .bind(crate::now_ms())
        .execute(&mut *tx)
        .await?;
        self.commit_recorded(tx, record).await
    }

    async fn self_service(&self, tenant: &str) -> StoreResult<Vec<(String, SelfServicePolicy)>> {
        let rows =
            sqlx::query("SELECT plugin, mode, scopes, egress FROM self_service WHERE tenant = $1 ORDER BY plugin")
                .bind(tenant)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| {
                let mode: String = r.get(1);
                let policy = SelfServicePolicy {
                    mode: SelfServiceMode::parse(&mode)
                        .ok_or_else(|| corrupt(format!("self-service mode {mode:?}")))?,
                    scopes: from_json(r.get::<&str, _>(2))?,
                    egress: from_json(r.get::<&str, _>(3))?,
                };
                Ok((r.get(0), policy))
            })
            .collect()
    }

    async fn open_for(
        &self,
        fresh: &Installation,
        member: &str,
        via: &str,
        mut record: ChangeRecord<'_>,
    ) -> StoreResult<AuditRecord> {
        let tenant = fresh.tenant.as_str();
        let _changing = self.changing(tenant);
        let mut tx = self.begin_recorded(&record).await?;
        self.lock(&mut tx, &format!("range:{tenant}/{}", fresh.plugin)).await?;
        let added = match read_range(&mut tx, tenant, &fresh.plugin).await? {
            None => {
                self.insert_installation(&mut tx, fresh).await?;
                true
            }
            Some(mut range) => {
                let added = !range.members.iter().any(|m| m == member);
                if added {
                    range.members.push(member.to_owned());
                    write_range(&mut tx, tenant, &fresh.plugin, &range).await?;
                }
                added
            }
        };
        sqlx::query(
            "INSERT INTO self_openings (tenant, plugin, member, via, opened_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant, plugin, member) DO NOTHING",
        )
        .bind(tenant)
        .bind(&fresh.plugin)
        .bind(member)
        .bind(via)
        .bind(crate::now_ms())
        .execute(&mut *tx)
        .await?;
        if !added && let Some(reason) = &mut record.event.reason {
            reason.push_str("; already in range");
        }
        self.commit_recorded(tx, record).await
    }

    async fn end_opening(
        &self,
        tenant: &str,
        plugin: &str,
        member: &str,
        record: ChangeRecord<'_>,
    ) -> StoreResult<Option<AuditRecord>> {
        let _changing = self.changing(tenant);
        let mut tx = self.begin_recorded(&record).await?;
        self.lock(&mut tx, &format!("range:{tenant}/{plugin}")).await?;
        let done = sqlx::query("DELETE FROM self_openings WHERE tenant = $1 AND plugin = $2 AND member = $3")
            .bind(tenant)
            .bind(plugin)
            .bind(member)
            .execute(&mut *tx)
            .await?;
        if count(&done) == 0 {
            return Ok(None);
        }
        if let Some(mut range) = read_range(&mut tx, tenant, plugin).await? {
            range.members.retain(|m| m != member);
            write_range(&mut tx, tenant, plugin, &range).await?;
        }
        Ok(Some(self.commit_recorded(tx, record).await?))
    }

    async fn openings(&self, tenant: &str) -> StoreResult<Vec<Opening>> {
        let rows = sqlx::query(
            "SELECT plugin, member, via, opened_at FROM self_openings WHERE tenant = $1 ORDER BY plugin, member",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Opening { plugin: r.get(0), member: r.get(1), via: r.get(2), opened_at_ms: r.get(3) })
            .collect())
    }

    async fn add_request(
        &self,
        tenant: &str,
        plugin: &str,
        member: &str,
        reason: &str,
        record: ChangeRecord<'_>,
    ) -> StoreResult<PluginRequest> {
        let mut tx = self.begin_recorded(&record).await?;
        self.lock(&mut tx, &format!("request:{tenant}/{plugin}/{member}")).await?;
        let pending = sqlx::query(
            "SELECT COUNT(*) FROM plugin_requests WHERE tenant = $1 AND plugin = $2 AND member = $3 AND state = 'pending'",
        )
        .bind(tenant)
        .bind(plugin)
        .bind(member)
        .fetch_one(&mut *tx)
        .await?
        .get::<i64, _>(0);
        if pending > 0 {
            return Err(StoreError::Conflict(format!(
                "you already asked for {plugin}; an app admin has not decided yet"
            )));
        }
        let row = sqlx::query(&format!(
            "INSERT INTO plugin_requests (tenant, plugin, member, reason, state, created_at) \
             VALUES ($1, $2, $3, $4, 'pending', $5) RETURNING {REQUEST_COLUMNS}"
        ))
        .bind(tenant)
        .bind(plugin)
        .bind(member)
        .bind(reason)
        .bind(crate::now_ms())
        .fetch_one(&mut *tx)
        .await?;
        let request = request_from_row(&row)?;
        self.commit_recorded(tx, record).await?;
        Ok(request)
    }

    async fn requests(&self, tenant: &str, member: Option<&str>) -> StoreResult<Vec<PluginRequest>> {
        let rows = sqlx::query(&format!(
            "SELECT {REQUEST_COLUMNS} FROM plugin_requests WHERE tenant = $1 AND ($2 = '' OR member = $2) \
             ORDER BY id DESC LIMIT 500"
        ))
        .bind(tenant)
        .bind(member.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(request_from_row).collect()
    }

    async fn request(&self, tenant: &str, id: i64) -> StoreResult<Option<PluginRequest>> {
        let row = sqlx::query(&format!("SELECT {REQUEST_COLUMNS} FROM plugin_requests WHERE tenant = $1 AND id = $2"))
            .bind(tenant)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(request_from_row).transpose()
    }

    async fn decide_request(
        &self,
        tenant: &str,
        id: i64,
        state: RequestState,
        by: &str,
        decision: Option<&str>,
        record: ChangeRecord<'_>,
    ) -> StoreResult<AuditRecord> {
        let mut tx = self.begin_recorded(&record).await?;
        let done = sqlx::query(
            "UPDATE plugin_requests SET state = $1, decided_by = $2, decision = $3, decided_at = $4 \
             WHERE tenant = $5 AND id = $6 AND state = 'pending'",
        )
        .bind(state.as_str())
        .bind(by)
        .bind(decision)
        .bind(crate::now_ms())
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if count(&done) == 0 {
            return Err(StoreError::Conflict(format!("request {id} was decided already")));
        }
        self.commit_recorded(tx, record).await
    }
}

impl SqlStore {
    /// Inserts a new installation inside `tx` (the columns of
    /// `Installations::put_installation`).
    async fn insert_installation(&self, tx: &mut Tx<'_>, installation: &Installation) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO installations (tenant, plugin, version, granted, visible_to, state, updated_at, egress, config) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&installation.tenant)
        .bind(&installation.plugin)
        .bind(&installation.version)
        .bind(json(&installation.granted.iter().collect::<Vec<_>>())?)
        .bind(json(&installation.range)?)
        .bind(installation.state.as_str())
        .bind(crate::now_ms())
        .bind(json(&installation.egress)?)
        .bind(json(&*installation.config)?)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}
