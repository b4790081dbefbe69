//! Members' consents, and the context an invocation is judged in.

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::backend::{SqlStore, corrupt, from_json};
use super::contexts::ContextCache;
use super::departments::Departments;
use super::directory::Directory;
use super::installations::installation_from_row;
use super::{ChangeRecord, InvocationContext, StoreResult};
use crate::model::audit::AuditRecord;
use crate::model::consent::{Consent, ConsentRow, ConsentSet, PurposeDigest};
use crate::model::departments::VisibleRange;
use crate::model::directory::MemberProfile;
use crate::scope::Scope;

/// Members' consents to plugins.
#[async_trait]
pub trait Consents: Send + Sync + std::fmt::Debug {
    /// Records consents (replacing earlier ones for the same scopes), with
    /// `record`, in one transaction. Not found when the plugin is no longer
    /// installed or the member removed.
    async fn put_consents(
        &self,
        tenant: &str,
        member: &str,
        plugin: &str,
        consents: &[(Scope, Consent)],
        record: ChangeRecord<'_>,
    ) -> StoreResult<AuditRecord>;
    /// Marks consents to `scopes` (every active consent to the plugin when
    /// `None`) withdrawn at `now_ms` and deletes the person's bucket of that
    /// plugin, with `record`, in one transaction.
    async fn withdraw_consents(
        &self,
        tenant: &str,
        member: &str,
        plugin: &str,
        scopes: Option<&[Scope]>,
        now_ms: i64,
        record: ChangeRecord<'_>,
    ) -> StoreResult<AuditRecord>;
    /// The member's latest consents for a plugin.
    async fn consents(&self, tenant: &str, member: &str, plugin: &str) -> StoreResult<ConsentSet>;
    /// What an invocation needs: the installation, the member's profile (if
    /// they are in the directory), and their consents to it. Cached while the
    /// tenant's generation is unchanged (one cheap read per call on
    /// PostgreSQL, none on SQLite); read in one round trip otherwise.
    async fn invocation_context(&self, tenant: &str, member: &str, plugin: &str) -> StoreResult<InvocationContext>;
    /// How many changes to `tenant`'s directory, installations or consents
    /// this process has seen end (its own, and on PostgreSQL those of other
    /// replicas that a later read of the tenant's generation revealed). A
    /// running call compares it with the count at its start and reads its
    /// invocation context again when it moved (see `runtime/gatekeeper.rs`).
    /// No I/O.
    fn tenant_changes(&self, tenant: &str) -> u64;
    /// All of a member's consent rows, by plugin then scope.
    async fn member_consents(&self, tenant: &str, member: &str) -> StoreResult<Vec<ConsentRow>>;
}

fn consent_from_row(r: &AnyRow, first: usize) -> StoreResult<(Scope, Consent)> {
    let scope: Scope = r.get::<&str, _>(first).parse().map_err(corrupt)?;
    let purpose = PurposeDigest::from_hex(r.get(first + 1)).ok_or_else(|| corrupt("purpose digest"))?;
    let consent = Consent {
        purpose,
        separate: r.get::<i64, _>(first + 2) != 0,
        granted_at_ms: r.get(first + 3),
        expires_at_ms: r.get(first + 4),
        withdrawn_at_ms: r.get(first + 5),
    };
    Ok((scope, consent))
}

impl SqlStore {
    /// [`Store::invocation_context`] from the database. The installation's
    /// visible range is decided for the caller and narrowed to them (only
    /// them, or nobody), which is all an invocation asks of it, so a cached
    /// context stays small; a change to the directory, the tree or the
    /// installation moves the tenant's generation and the next call reads
    /// it again.
    async fn read_invocation_context(
        &self,
        tenant: &str,
        member: &str,
        plugin: &str,
    ) -> StoreResult<InvocationContext> {
        let rows = sqlx::query(
            "SELECT i.plugin, i.version, i.granted, i.visible_to, i.state, i.egress, i.config, \
                    (SELECT m.profile FROM members m WHERE m.tenant = $1 AND m.id = $2), \
                    (SELECT m.sessions_ended_at FROM members m WHERE m.tenant = $1 AND m.id = $2), \
                    c.scope, c.purpose, c.separate, c.granted_at, c.expires_at, c.withdrawn_at \
             FROM installations i \
             LEFT JOIN consents c ON c.tenant = i.tenant AND c.plugin = i.plugin AND c.member = $2 \
             WHERE i.tenant = $1 AND i.plugin = $3",
        )
        .bind(tenant)
        .bind(member)
        .bind(plugin)
        .fetch_all(&self.pool)
        .await?;
        let Some(first) = rows.first() else {
            // Not installed: the directory alone decides the caller's answer.
            let standing = self.standing(tenant, member).await?;
            return Ok(InvocationContext {
                sessions_ended_at_ms: standing.as_ref().map_or(0, |s| s.sessions_ended_at_ms),
                profile: standing.map(|s| Arc::new(s.profile)),
                installation: None,
                consents: Arc::default(),
            });
        };
        let profile: Option<MemberProfile> =
            first.try_get::<Option<String>, _>(7)?.map(|text| from_json(&text)).transpose()?;
        let sessions_ended_at_ms = first.try_get::<Option<i64>, _>(8)?.unwrap_or(0);
        let mut installation = installation_from_row(tenant, first)?;
        // The range's rules decided now, against the member's departments
        // and the ones above them (the tree read only when a rule names a
        // department and the member is in one).
        let admitted = match &profile {
            None => false,
            Some(profile) if installation.range.uses_departments() && !profile.departments.is_empty() => {
                let tree = self.department_tree(tenant).await?;
                installation.range.admits(member, &tree.with_ancestors(&profile.departments))
            }
            Some(_) => installation.range.admits(member, &[]),
        };
        installation.range =
            if admitted { VisibleRange::only(vec![member.to_owned()]) } else { VisibleRange::default() };
        let mut consents = ConsentSet::default();
        for row in &rows {
            if row.try_get::<Option<String>, _>(9)?.is_some() {
                let (scope, consent) = consent_from_row(row, 9)?;
                consents.set(scope, consent);
            }
        }
        Ok(InvocationContext {
            profile: profile.map(Arc::new),
            installation: Some(Arc::new(installation)),
            consents: Arc::new(consents),
            sessions_ended_at_ms,
        })
    }
}

#[async_trait]
impl Consents for SqlStore {
    async fn put_consents(
        &self,
        tenant: &str,
        member: &str,
        plugin: &str,
        consents: &[(Scope, Consent)],
        record: ChangeRecord<'_>,
    ) -> StoreResult<AuditRecord> {
        let _changing = self.changing(tenant);
        let mut tx = self.begin_recorded(&record).await?;
        self.require_installed_member(&mut tx, tenant, plugin, Some(member)).await?;
        for (scope, consent) in consents {
            sqlx::query(
                "INSERT INTO consents (tenant, member, plugin, scope, purpose, separate, granted_at, expires_at, withdrawn_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (tenant, member, plugin, scope) DO UPDATE SET \
                 purpose = excluded.purpose, separate = excluded.separate, granted_at = excluded.granted_at, \
                 expires_at = excluded.expires_at, withdrawn_at = excluded.withdrawn_at",
            )
            .bind(tenant)
            .bind(member)
            .bind(plugin)
            .bind(scope.as_str())
            .bind(consent.purpose.to_hex())
            .bind(i64::from(consent.separate))
            .bind(consent.granted_at_ms)
            .bind(consent.expires_at_ms)
            .bind(consent.withdrawn_at_ms)
            .execute(&mut *tx)
            .await?;
        }
        self.commit_recorded(tx, record).await
    }

    async fn withdraw_consents(
        &self,
        tenant: &str,
        member: &str,
        plugin: &str,
        scopes: Option<&[Scope]>,
        now_ms: i64,
        record: ChangeRecord<'_>,
    ) -> StoreResult<AuditRecord> {
        let _changing = self.changing(tenant);
        let mut tx = self.begin_recorded(&record).await?;
        // The same lock storage writes to this bucket take.
        self.lock(&mut tx, &format!("kv:{tenant}/{plugin}/{member}")).await?;
        let update = "UPDATE consents SET withdrawn_at = $1 \
                      WHERE tenant = $2 AND member = $3 AND plugin = $4 AND withdrawn_at IS NULL";
        match scopes {
            None => {
                sqlx::query(update).bind(now_ms).bind(tenant).bind(member).bind(plugin).execute(&mut *tx).await?;
            }
            Some(scopes) => {
                for scope in scopes {
                    sqlx::query(&format!("{update} AND scope = $5"))
                        .bind(now_ms)
                        .bind(tenant)
                        .bind(member)
                        .bind(plugin)
                        .bind(scope.as_str())
                        .execute(&mut *tx)
                        .await?;
                }
            }
        }
        sqlx::query("DELETE FROM plugin_kv WHERE tenant = $1 AND plugin = $2 AND person = $3")
            .bind(tenant)
            .bind(plugin)
            .bind(member)
            .execute(&mut *tx)
            .await?;
        self.commit_recorded(tx, record).await
    }

    async fn consents(&self, tenant: &str, member: &str, plugin: &str) -> StoreResult<ConsentSet> {
        let rows = sqlx::query(
            "SELECT scope, purpose, separate, granted_at, expires_at, withdrawn_at FROM consents \
             WHERE tenant = $1 AND member = $2 AND plugin = $3",
        )
        .bind(tenant)
        .bind(member)
        .bind(plugin)
        .fetch_all(&self.pool)
        .await?;
        let mut set = ConsentSet::default();
        for row in &rows {
            let (scope, consent) = consent_from_row(row, 0)?;
            set.set(scope, consent);
        }
        Ok(set)
    }

    async fn invocation_context(&self, tenant: &str, member: &str, plugin: &str) -> StoreResult<InvocationContext> {
        let generation = self.generation(tenant).await?;
        let key = ContextCache::key(tenant, member, plugin);
        if let Some(context) = self.contexts.get(&key, generation) {
            return Ok(context);
        }
        let context = self.read_invocation_context(tenant, member, plugin).await?;
        self.contexts.put(key, generation, context.clone());
        Ok(context)
    }

    fn tenant_changes(&self, tenant: &str) -> u64 {
        self.contexts.changes(tenant)
    }

    async fn member_consents(&self, tenant: &str, member: &str) -> StoreResult<Vec<ConsentRow>> {
        let rows = sqlx::query(
            "SELECT plugin, scope, purpose, separate, granted_at, expires_at, withdrawn_at FROM consents \
             WHERE tenant = $1 AND member = $2 ORDER BY plugin, scope",
        )
        .bind(tenant)
        .bind(member)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let (scope, consent) = consent_from_row(r, 1)?;
                Ok(ConsentRow { plugin: r.get(0), scope, consent })
            })
            .collect()
    }
}
