//! A tenant's departments (the tree visible ranges are evaluated over).

use async_trait::async_trait;
use sqlx::Row;

use super::backend::{SqlStore, count};
use super::{ChangeRecord, StoreError, StoreResult};
use crate::model::audit::AuditRecord;
use crate::model::departments::{Department, DepartmentTree};

/// A tenant's department tree.
#[async_trait]
pub trait Departments: Send + Sync + std::fmt::Debug {
    /// The tenant's departments in id order.
    async fn departments(&self, tenant: &str) -> StoreResult<Vec<Department>>;
    /// The tenant's departments as a tree (ids and parents only).
    async fn department_tree(&self, tenant: &str) -> StoreResult<DepartmentTree>;
    /// Creates or changes a department, with `record`; true when it was created.
    async fn put_department(
        &self,
        tenant: &str,
        department: &Department,
        record: ChangeRecord<'_>,
    ) -> StoreResult<(bool, AuditRecord)>;
    /// Removes a department, with `record`; not found when there is none, a
    /// conflict when departments are under it.
    async fn delete_department(&self, tenant: &str, id: &str, record: ChangeRecord<'_>) -> StoreResult<AuditRecord>;
}

#[async_trait]
impl Departments for SqlStore {
    async fn departments(&self, tenant: &str) -> StoreResult<Vec<Department>> {
        let rows = sqlx::query("SELECT id, name, parent FROM departments WHERE tenant = $1 ORDER BY id")
            .bind(tenant)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.iter().map(|r| Department { id: r.get(0), name: r.get(1), parent: r.get(2) }).collect())
    }

    async fn department_tree(&self, tenant: &str) -> StoreResult<DepartmentTree> {
        let rows = sqlx::query("SELECT id, parent FROM departments WHERE tenant = $1")
            .bind(tenant)
            .fetch_all(&self.pool)
            .await?;
        Ok(DepartmentTree::new(rows.iter().map(|r| (r.get(0), r.get(1)))))
    }

    async fn put_department(
        &self,
        tenant: &str,
        department: &Department,
        record: ChangeRecord<'_>,
    ) -> StoreResult<(bool, AuditRecord)> {
        let _changing = self.changing(tenant);
        let mut tx = self.begin_recorded(&record).await?;
        let updated = sqlx::query("UPDATE departments SET name = $1, parent = $2 WHERE tenant = $3 AND id = $4")
            .bind(&department.name)
            .bind(&department.parent)
            .bind(tenant)
            .bind(&department.id)
            .execute(&mut *tx)
            .await?;
        if count(&updated) > 0 {
            return Ok((false, self.commit_recorded(tx, record).await?));
        }
        let inserted = sqlx::query(
            "INSERT INTO departments (tenant, id, name, parent, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (tenant, id) DO NOTHING",
        )
        .bind(tenant)
        .bind(&department.id)
        .bind(&department.name)
        .bind(&department.parent)
        .bind(crate::now_ms())
        .execute(&mut *tx)
        .await?;
        Ok((count(&inserted) > 0, self.commit_recorded(tx, record).await?))
    }

    async fn delete_department(&self, tenant: &str, id: &str, record: ChangeRecord<'_>) -> StoreResult<AuditRecord> {
        let _changing = self.changing(tenant);
        let mut tx = self.begin_recorded(&record).await?;
        let children = sqlx::query("SELECT COUNT(*) FROM departments WHERE tenant = $1 AND parent = $2")
            .bind(tenant)
            .bind(id)
            .fetch_one(&mut *tx)
            .await?
            .get::<i64, _>(0);
        if children > 0 {
            return Err(StoreError::Conflict(format!(
                "department {id} has {children} department(s) under it: move or remove them first"
            )));
        }
        let done = sqlx::query("DELETE FROM departments WHERE tenant = $1 AND id = $2")
            .bind(tenant)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if count(&done) == 0 {
            return Err(StoreError::NotFound(format!("no department {id}")));
        }
        self.commit_recorded(tx, record).await
    }
}
