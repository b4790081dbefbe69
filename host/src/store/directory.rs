//! The tenant and its directory: tenants, members and their profiles.

use async_trait::async_trait;
use sqlx::Row;

use super::backend::{Cascade, SqlStore, count, from_json, json};
use super::{ChangeRecord, StoreError, StoreResult};
use crate::model::audit::AuditRecord;
use crate::model::directory::{MemberProfile, Standing};
use crate::model::installation::Deleted;

/// Reading a member's profile (all a running plugin needs of the directory).
#[async_trait]
pub trait Profiles: Send + Sync + std::fmt::Debug {
    /// A member's profile.
    async fn member(&self, tenant: &str, id: &str) -> StoreResult<Option<MemberProfile>>;
}

/// Tenants and their members.
#[async_trait]
pub trait Directory: Profiles {
    /// Creates or renames a tenant.
    async fn upsert_tenant(&self, id: &str, name: &str) -> StoreResult<()>;
    /// A tenant's name.
    async fn tenant(&self, id: &str) -> StoreResult<Option<String>>;
    /// Is the database reachable?
    async fn ping(&self) -> StoreResult<()>;
    /// Creates or replaces a member's profile.
    async fn upsert_member(&self, tenant: &str, id: &str, profile: &MemberProfile) -> StoreResult<()>;
    /// Replaces an existing member's profile; not found when there is none
    /// (a removed member is never re-created by a late update).
    /// With `record`, in one transaction.
    async fn update_member(
        &self,
        tenant: &str,
        id: &str,
        profile: &MemberProfile,
        record: ChangeRecord<'_>,
    ) -> StoreResult<AuditRecord>;
    /// Creates a member, with `record`; a conflict when the id is taken.
    async fn insert_member(
        &self,
        tenant: &str,
        id: &str,
        profile: &MemberProfile,
        record: ChangeRecord<'_>,
    ) -> StoreResult<AuditRecord>;
    /// A tenant's members in id order.
    async fn members(&self, tenant: &str) -> StoreResult<Vec<(String, MemberProfile)>>;
    /// A member's profile and when their sessions were last ended.
    async fn standing(&self, tenant: &str, id: &str) -> StoreResult<Option<Standing>>;
    /// Ends every session of a member issued up to `at_ms`, with `record`;
    /// not found when there is no such member.
    async fn end_sessions(
        &self,
        tenant: &str,
        id: &str,
        at_ms: i64,
        record: ChangeRecord<'_>,
    ) -> StoreResult<AuditRecord>;
    /// Whether any member of the tenant holds an administrative role.
    async fn has_administration(&self, tenant: &str) -> StoreResult<bool>;
    /// Removes a member with their consents and plugin storage in every
    /// plugin, and `record` (its reason ending with what was deleted), in
    /// one transaction; `None` when there is no such member.
    async fn delete_member(
        &self,
        tenant: &str,
        id: &str,
        record: ChangeRecord<'_>,
    ) -> StoreResult<Option<(Deleted, AuditRecord)>>;
}

#[async_trait]
impl Profiles for SqlStore {
    async fn member(&self, tenant: &str, id: &str) -> StoreResult<Option<MemberProfile>> {
        let row = sqlx::query("SELECT profile FROM members WHERE tenant = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| from_json(r.get::<&str, _>(0))).transpose()
    }
}

#[async_trait]
impl Directory for SqlStore {
    async fn upsert_tenant(&self, id: &str, name: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name",
        )
        .bind(id)
        .bind(name)
        .bind(crate::now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn tenant(&self, id: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query("SELECT name FROM tenants WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn upsert_member(&self, tenant: &str, id: &str, profile: &MemberProfile) -> StoreResult<()> {
        let _changing = self.changing(tenant);
        sqlx::query(
            "INSERT INTO members (tenant, id, profile, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant, id) DO UPDATE SET profile = excluded.profile",
        )
        .bind(tenant)
        .bind(id)
        .bind(json(profile)?)
        .bind(crate::now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn update_member(
        &self,
        tenant: &str,
        id: &str,
        profile: &MemberProfile,
        record: ChangeRecord<'_>,
    ) -> StoreResult<AuditRecord> {
        let _changing = self.changing(tenant);
        let mut tx = self.begin_recorded(&record).await?;
        let done = sqlx::query("UPDATE members SET profile = $1 WHERE tenant = $2 AND id = $3")
            .bind(json(profile)?)
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if count(&done) == 0 {
            return Err(StoreError::NotFound(format!("no member {id}")));
        }
        self.commit_recorded(tx, record).await
    }

    async fn insert_member(
        &self,
        tenant: &str,
        id: &str,
        profile: &MemberProfile,
        record: ChangeRecord<'_>,
    ) -> StoreResult<AuditRecord> {
        let _changing = self.changing(tenant);
        let mut tx = self.begin_recorded(&record).await?;
        let done = sqlx::query(
            "INSERT INTO members (tenant, id, profile, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant, id) DO NOTHING",
        )
        .bind(tenant)
        .bind(id)
        .bind(json(profile)?)
        .bind(crate::now_ms())
        .execute(&mut *tx)
        .await?;
        if count(&done) == 0 {
            return Err(StoreError::Conflict(format!("member {id} already exists")));
        }
        self.commit_recorded(tx, record).await
    }

    async fn members(&self, tenant: &str) -> StoreResult<Vec<(String, MemberProfile)>> {
        let rows = sqlx::query("SELECT id, profile FROM members WHERE tenant = $1 ORDER BY id")
            .bind(tenant)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok((r.get(0), from_json(r.get::<&str, _>(1))?))).collect()
    }

    async fn standing(&self, tenant: &str, id: &str) -> StoreResult<Option<Standing>> {
        let row = sqlx::query("SELECT profile, sessions_ended_at FROM members WHERE tenant = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(Standing { profile: from_json(r.get::<&str, _>(0))?, sessions_ended_at_ms: r.get(1) }))
            .transpose()
    }

    async fn end_sessions(
        &self,
        tenant: &str,
        id: &str,
        at_ms: i64,
        record: ChangeRecord<'_>,
    ) -> StoreResult<AuditRecord> {
        let _changing = self.changing(tenant);
        let mut tx = self.begin_recorded(&record).await?;
        let done = sqlx::query(
            "UPDATE members SET sessions_ended_at = CASE WHEN sessions_ended_at > $1 THEN sessions_ended_at ELSE $1 END \
             WHERE tenant = $2 AND id = $3",
        )
        .bind(at_ms)
        .bind(tenant)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if count(&done) == 0 {
            return Err(StoreError::NotFound(format!("no member {id}")));
        }
        self.commit_recorded(tx, record).await
    }

    async fn has_administration(&self, tenant: &str) -> StoreResult<bool> {
        // Only profiles that mention an administrative role's name are read
        // (admin, app_admin, member_admin end in admin"), and each is checked.
        let rows = sqlx::query(
            "SELECT profile FROM members WHERE tenant = $1 \
             AND (profile LIKE '%admin\"%' OR profile LIKE '%\"auditor\"%')",
        )
        .bind(tenant)
        .fetch_all(&self.pool)
        .await?;
        for row in &rows {
            let profile: MemberProfile = from_json(row.get::<&str, _>(0))?;
            if profile.roles.iter().any(|r| r.is_administrative()) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn delete_member(
        &self,
        tenant: &str,
        id: &str,
        record: ChangeRecord<'_>,
    ) -> StoreResult<Option<(Deleted, AuditRecord)>> {
        self.delete_cascading(tenant, id, Cascade::Member, record).await
    }
}
