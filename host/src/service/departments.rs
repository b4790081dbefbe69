//! The tenant's department tree (kept by the member admin) and visible
//! ranges as rules over it: checking an installation's rules, previewing
//! who they reach, and a member's departments with the ones above them.

use serde::Serialize;

use super::directory::valid_member_id;
use super::{Actor, ServiceError, ServiceResult, Workbench};
use crate::model::audit::Action;
use crate::model::departments::{Department, MAX_DEPTH, VisibleRange};
use crate::model::directory::MemberProfile;

/// Who a visible range reaches now.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RangePreview {
    /// How many members are in range.
    pub count: usize,
    /// The first 200 of them, in id order.
    pub members: Vec<RangeMember>,
}

/// A member in range.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RangeMember {
    /// Member id.
    pub id: String,
    /// Their name.
    pub name: String,
}

/// How many members a preview lists by name.
const PREVIEW_NAMES: usize = 200;

fn check_department(department: &Department) -> ServiceResult<()> {
    let bad = |message: String| Err(ServiceError::BadRequest(message));
    if !valid_member_id(&department.id) {
        return bad(format!(
            "department id {:?} must be 1 to 64 characters of a-z, 0-9, '.', '_' and '-'",
            department.id
        ));
    }
    let name = department.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return bad("a department's name must be 1 to 100 characters, no control characters".into());
    }
    if department.parent.as_deref() == Some(department.id.as_str()) {
        return bad(format!("department {} cannot be its own parent", department.id));
    }
    Ok(())
}

fn unique(list: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    list.into_iter().filter(|x| seen.insert(x.clone())).collect()
}

impl Workbench {
    /// The tenant's departments in id order.
    pub async fn departments(&self, tenant: &str) -> ServiceResult<Vec<Department>> {
        Ok(self.store.departments(tenant).await?)
    }

    /// Creates or changes a department (name, parent); true when created.
    /// The parent must exist, and the department may not end up under
    /// itself. Audited (`department.put`).
    pub async fn put_department(&self, tenant: &str, admin: &str, department: Department) -> ServiceResult<bool> {
        check_department(&department)?;
        let department = Department { name: department.name.trim().to_owned(), ..department };
        if let Some(parent) = &department.parent {
            let tree = self.store.department_tree(tenant).await?;
            if !tree.contains(parent) {
                return Err(ServiceError::BadRequest(format!(
                    "parent {parent:?} is not a department of this workbench"
                )));
            }
            let chain = tree.chain_from(parent);
            if chain.contains(&department.id) {
                return Err(ServiceError::BadRequest(format!(
                    "department {} cannot be under {parent}: {parent} is already under it",
                    department.id
                )));
            }
            if chain.len() >= MAX_DEPTH {
                return Err(ServiceError::BadRequest(format!("departments nest at most {MAX_DEPTH} deep")));
            }
        }
        self.ensure_tenant(tenant).await?;
        let reason = match &department.parent {
            Some(parent) => format!("{} {:?} under {parent}", department.id, department.name),
            None => format!("{} {:?} at the top", department.id, department.name),
        };
        let record = self.record(tenant, Actor::Admin(admin), None, Action::DepartmentPut, reason);
        let (created, _) = self.store.put_department(tenant, &department, record).await?;
        Ok(created)
    }

    /// Removes a department no department is under, no member belongs to
    /// and no installation's visible range names. Audited.
    pub async fn remove_department(&self, tenant: &str, admin: &str, id: &str) -> ServiceResult<()> {
        let members: Vec<String> = self
            .store
            .members(tenant)
            .await?
            .into_iter()
            .filter(|(_, profile)| profile.departments.iter().any(|d| d == id))
            .map(|(member, _)| member)
            .collect();
        if !members.is_empty() {
            return Err(ServiceError::Conflict(format!(
                "department {id} has members ({}): move them first",
                members.join(", ")
            )));
        }
        let naming: Vec<String> = self
            .store
            .installations(tenant)
            .await?
            .into_iter()
            .filter(|i| i.range.departments.iter().chain(&i.range.deny_departments).any(|d| d == id))
            .map(|i| i.plugin)
            .collect();
        if !naming.is_empty() {
            return Err(ServiceError::Conflict(format!(
                "the visible range of {} names department {id}: change it first",
                naming.join(", ")
            )));
        }
        let record = self.record(tenant, Actor::Admin(admin), None, Action::DepartmentRemove, id.to_owned());
        self.store.delete_department(tenant, id, record).await?;
        Ok(())
    }

    /// Ok when every department a profile names is one of the tenant's.
    pub(super) async fn check_member_departments(&self, tenant: &str, profile: &MemberProfile) -> ServiceResult<()> {
        if profile.departments.is_empty() {
            return Ok(());
        }
        let tree = self.store.department_tree(tenant).await?;
        let unknown: Vec<&str> = profile.departments.iter().filter(|d| !tree.contains(d)).map(String::as_str).collect();
        if !unknown.is_empty() {
            return Err(ServiceError::BadRequest(format!(
                "departments: {} is not a department of this workbench",
                unknown.join(", ")
            )));
        }
        Ok(())
    }

    /// The departments `profile` belongs to, each with the ones above it.
    pub(super) async fn departments_of(&self, tenant: &str, profile: &MemberProfile) -> ServiceResult<Vec<String>> {
        if profile.departments.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.store.department_tree(tenant).await?.with_ancestors(&profile.departments))
    }

    /// A visible range checked against the tenant: every department is one
    /// of its departments and every member one of its members (each named
    /// once). A range that admits nobody is allowed (a plugin kept
    /// installed but shown to no one).
    pub(super) async fn checked_range(&self, tenant: &str, range: VisibleRange) -> ServiceResult<VisibleRange> {
        let range = VisibleRange {
            everyone: range.everyone,
            departments: unique(range.departments),
            members: unique(range.members),
            deny_departments: unique(range.deny_departments),
            deny_members: unique(range.deny_members),
        };
        let members = range.members.iter().chain(&range.deny_members);
        if let Some(bad) = members.clone().find(|m| !valid_member_id(m)) {
            return Err(ServiceError::BadRequest(format!("visible range: {bad:?} is not a member id")));
        }
        let mut unknown = Vec::new();
        for member in members {
            if self.store.member(tenant, member).await?.is_none() {
                unknown.push(member.as_str());
            }
        }
        if !unknown.is_empty() {
            return Err(ServiceError::BadRequest(format!(
                "the visible range names people who are not members: {}",
                unknown.join(", ")
            )));
        }
        if range.uses_departments() {
            let tree = self.store.department_tree(tenant).await?;
            let unknown: Vec<&str> = range
                .departments
                .iter()
                .chain(&range.deny_departments)
                .filter(|d| !tree.contains(d))
                .map(String::as_str)
                .collect();
            if !unknown.is_empty() {
                return Err(ServiceError::BadRequest(format!(
                    "the visible range names departments this workbench does not have: {}",
                    unknown.join(", ")
                )));
            }
        }
        Ok(range)
    }

    /// `range` without the members and departments the tenant no longer
    /// has (a member removed, a department deleted since the rules were
    /// set): what an upgrade keeps, so that it never fails on them.
    pub(super) async fn live_range(&self, tenant: &str, range: VisibleRange) -> ServiceResult<VisibleRange> {
        let members: std::collections::BTreeSet<String> =
            self.store.members(tenant).await?.into_iter().map(|(id, _)| id).collect();
        let tree = self.store.department_tree(tenant).await?;
        let keep = |list: Vec<String>, known: &dyn Fn(&str) -> bool| list.into_iter().filter(|x| known(x)).collect();
        let member = |m: &str| members.contains(m);
        let department = |d: &str| tree.contains(d);
        Ok(VisibleRange {
            everyone: range.everyone,
            departments: keep(range.departments, &department),
            members: keep(range.members, &member),
            deny_departments: keep(range.deny_departments, &department),
            deny_members: keep(range.deny_members, &member),
        })
    }

    /// Who `range` reaches in the tenant now: the count and the first
    /// names, as the install dialog previews it.
    pub async fn range_preview(&self, tenant: &str, range: VisibleRange) -> ServiceResult<RangePreview> {
        let range = self.checked_range(tenant, range).await?;
        let tree = self.store.department_tree(tenant).await?;
        let mut count = 0;
        let mut members = Vec::new();
        for (id, profile) in self.store.members(tenant).await? {
            if range.admits(&id, &tree.with_ancestors(&profile.departments)) {
                count += 1;
                if members.len() < PREVIEW_NAMES {
                    members.push(RangeMember { id, name: profile.name });
                }
            }
        }
        Ok(RangePreview { count, members })
    }

    /// Every member `range` reaches in the tenant now.
    pub(super) async fn members_in_range(&self, tenant: &str, range: &VisibleRange) -> ServiceResult<Vec<String>> {
        let tree = self.store.department_tree(tenant).await?;
        let members = self.store.members(tenant).await?;
        Ok(members
            .into_iter()
            .filter(|(id, profile)| range.admits(id, &tree.with_ancestors(&profile.departments)))
            .map(|(id, _)| id)
            .collect())
    }
}
