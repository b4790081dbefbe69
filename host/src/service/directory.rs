//! The tenant's member directory: list, read, add, change and remove
//! members (a removal takes their consents and plugin storage with it).

use serde::{Deserialize, Serialize};

use super::{Actor, DeletionReceipt, ServiceError, ServiceResult, Workbench};
use crate::model::audit::Action;
use crate::model::directory::{MemberProfile, Role};

/// A member as the directory shows them.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// Member id (1 to 64 of a-z, 0-9, `.`, `_`, `-`).
    pub id: String,
    /// Profile fields.
    #[schema(value_type = Object)]
    pub profile: MemberProfile,
}

/// Checks a member id.
pub fn valid_member_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
}

fn check_profile(profile: &MemberProfile) -> ServiceResult<()> {
    let bad = |message: String| Err(ServiceError::BadRequest(message));
    if profile.name.trim().is_empty() || profile.name.chars().count() > 100 {
        return bad("name must be 1 to 100 characters".into());
    }
    let texts = [
        ("nickname", &profile.nickname),
        ("avatar", &profile.avatar),
        ("region", &profile.region),
        ("email", &profile.email),
        ("phone", &profile.phone),
        ("department", &profile.department),
        ("title", &profile.title),
    ];
    for (field, value) in texts.into_iter().chain([("name", &Some(profile.name.clone()))]) {
        if value.as_ref().is_some_and(|v| v.chars().count() > 200) {
            return bad(format!("{field} must be at most 200 characters"));
        }
        if value.as_ref().is_some_and(|v| v.chars().any(char::is_control)) {
            return bad(format!("{field} must not contain control characters"));
        }
    }
    if profile.departments.len() > 20 {
        return bad("a member belongs to at most 20 departments".into());
    }
    if let Some(bad_id) = profile.departments.iter().find(|d| !valid_member_id(d)) {
        return bad(format!("departments: {bad_id:?} is not a department id"));
    }
    if let Some(birthday) = &profile.birthday
        && !valid_date(birthday)
    {
        return bad(format!("birthday {birthday:?} must be a date YYYY-MM-DD"));
    }
    if let Some(email) = &profile.email
        && !email.split_once('@').is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'))
    {
        return bad(format!("email {email:?} is not an email address"));
    }
    if let Some(phone) = &profile.phone
        && !(phone.len() >= 5 && phone.len() <= 20 && phone.trim_start_matches('+').bytes().all(|b| b.is_ascii_digit()))
    {
        return bad(format!("phone {phone:?} must be 5 to 20 digits, optionally after +"));
    }
    if let Some(avatar) = &profile.avatar
        && !(avatar.starts_with("https://") || avatar.starts_with("http://"))
    {
        return bad("avatar must be an http(s) URL".into());
    }
    Ok(())
}

fn valid_date(text: &str) -> bool {
    let parts: Vec<_> = text.split('-').collect();
    let [y, m, d] = parts.as_slice() else { return false };
    let num = |s: &str, len: usize| {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<u32>().ok()).flatten()
    };
    matches!((num(y, 4), num(m, 2), num(d, 2)), (Some(_), Some(1..=12), Some(1..=31)))
}

/// Whether a member admin acting with `acting` may change a member who
/// holds `before` into one who holds `after` (`None`: the member is added
/// or removed). An admin may give and take every role; a member admin
/// below them manages the roles below their own (member, developer):
/// they neither give nor take an administrative role, nor change or remove
/// a member who holds one.
fn within_reach(acting: &[Role], before: Option<&[Role]>, after: Option<&[Role]>) -> ServiceResult<()> {
    if acting.contains(&Role::Admin) {
        return Ok(());
    }
    let administrative = |roles: Option<&[Role]>| roles.unwrap_or_default().iter().any(|r| r.is_administrative());
    if administrative(before) {
        return Err(ServiceError::Forbidden(
            "this member holds an administrative role: only an admin may change or remove them".into(),
        ));
    }
    if administrative(after) {
        return Err(ServiceError::Forbidden(
            "only an admin may give the admin, app_admin, member_admin or auditor role".into(),
        ));
    }
    Ok(())
}

impl Workbench {
    /// Refuses a change that would leave the tenant's directory, which
    /// names an admin now, with none (`removing` the member `id` who holds
    /// `before`, or giving them `after`): nobody could administer it again
    /// but by minting tokens.
    async fn keeps_an_admin(
        &self,
        tenant: &str,
        id: &str,
        before: &[Role],
        after: Option<&[Role]>,
    ) -> ServiceResult<()> {
        let losing = before.contains(&Role::Admin) && !after.is_some_and(|roles| roles.contains(&Role::Admin));
        if !losing {
            return Ok(());
        }
        let others = self
            .store
            .members(tenant)
            .await?
            .iter()
            .any(|(other, profile)| other != id && profile.roles.contains(&Role::Admin));
        if others {
            return Ok(());
        }
        Err(ServiceError::Conflict(format!(
            "{id} is this workbench's last admin: give another member the admin role first"
        )))
    }

    /// A tenant's name; `None` when there is no such tenant.
    pub async fn tenant_name(&self, tenant: &str) -> ServiceResult<Option<String>> {
        Ok(self.store.tenant(tenant).await?)
    }

    /// Takes a tenant and its directory as the enterprise's directory has
    /// them (creating or renaming the tenant, creating or replacing each
    /// member's profile). A directory import, not an admin's change: it is
    /// not audited.
    pub async fn sync_directory(
        &self,
        tenant: &str,
        name: &str,
        members: &[(&str, MemberProfile)],
    ) -> ServiceResult<()> {
        self.store.upsert_tenant(tenant, name).await?;
        for (id, profile) in members {
            check_profile(profile)?;
            self.store.upsert_member(tenant, id, profile).await?;
        }
        Ok(())
    }

    /// The member directory.
    pub async fn members(&self, tenant: &str) -> ServiceResult<Vec<Member>> {
        Ok(self.store.members(tenant).await?.into_iter().map(|(id, profile)| Member { id, profile }).collect())
    }

    /// One member.
    pub async fn member(&self, tenant: &str, id: &str) -> ServiceResult<Member> {
        let profile =
            self.store.member(tenant, id).await?.ok_or_else(|| ServiceError::NotFound(format!("no member {id}")))?;
        Ok(Member { id: id.to_owned(), profile })
    }

    /// Adds a member, by a member admin acting with the roles `acting`.
    pub async fn add_member(
        &self,
        tenant: &str,
        admin: &str,
        acting: &[Role],
        member: Member,
    ) -> ServiceResult<Member> {
        if !valid_member_id(&member.id) {
            return Err(ServiceError::BadRequest(format!(
                "member id {:?} must be 1 to 64 characters of a-z, 0-9, '.', '_' and '-'",
                member.id
            )));
        }
        check_profile(&member.profile)?;
        within_reach(acting, None, Some(&member.profile.roles))?;
        self.check_member_departments(tenant, &member.profile).await?;
        self.ensure_tenant(tenant).await?;
        let record = self.record(tenant, Actor::Admin(admin), Some(&member.id), Action::MemberAdd, member.id.clone());
        self.store.insert_member(tenant, &member.id, &member.profile, record).await?;
        Ok(member)
    }

    /// Changes a member's profile by a JSON merge patch (RFC 7396), by a
    /// member admin acting with the roles `acting`.
    pub async fn patch_member(
        &self,
        tenant: &str,
        admin: &str,
        acting: &[Role],
        id: &str,
        patch: serde_json::Value,
    ) -> ServiceResult<Member> {
        let current = self.member(tenant, id).await?;
        let mut value = serde_json::to_value(&current.profile)
            .map_err(|e| ServiceError::BadRequest(format!("profile cannot be patched: {e}")))?;
        if !patch.is_object() {
            return Err(ServiceError::BadRequest("the patch must be a JSON object of profile fields".into()));
        }
        merge(&mut value, &patch);
        let profile: MemberProfile =
            serde_json::from_value(value).map_err(|e| ServiceError::BadRequest(format!("invalid profile: {e}")))?;
        check_profile(&profile)?;
        within_reach(acting, Some(&current.profile.roles), Some(&profile.roles))?;
        self.keeps_an_admin(tenant, id, &current.profile.roles, Some(&profile.roles)).await?;
        self.check_member_departments(tenant, &profile).await?;
        let fields: Vec<_> = patch.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        let record = self.record(tenant, Actor::Admin(admin), Some(id), Action::MemberUpdate, fields.join(", "));
        self.store.update_member(tenant, id, &profile, record).await?;
        Ok(Member { id: id.to_owned(), profile })
    }

    /// Removes a member (除名): their consents and everything plugins stored
    /// about them are deleted.
    pub async fn remove_member(
        &self,
        tenant: &str,
        admin: &str,
        acting: &[Role],
        id: &str,
    ) -> ServiceResult<DeletionReceipt> {
        let roles = self.member(tenant, id).await?.profile.roles;
        within_reach(acting, Some(&roles), None)?;
        self.keeps_an_admin(tenant, id, &roles, None).await?;
        let removed = format!("member:{id}");
        let record = self.record(tenant, Actor::Admin(admin), Some(id), Action::MemberRemove, removed.clone());
        let deleted = self
            .store
            .delete_member(tenant, id, record)
            .await?
            .ok_or_else(|| ServiceError::NotFound(format!("no member {id}")))?;
        Ok(Self::receipt(removed, deleted))
    }
}

/// RFC 7396 JSON merge patch.
fn merge(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(target), serde_json::Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    target.remove(key);
                } else {
                    merge(target.entry(key.clone()).or_insert(serde_json::Value::Null), value);
                }
            }
        }
        (target, patch) => *target = patch.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_sets_replaces_and_removes() {
        let mut target = serde_json::json!({"name": "a", "phone": "1", "roles": ["member"]});
        merge(&mut target, &serde_json::json!({"phone": null, "name": "b", "roles": ["admin"]}));
        assert_eq!(target, serde_json::json!({"name": "b", "roles": ["admin"]}));
    }

    #[test]
    fn profile_checks_name_the_field() {
        let ok = MemberProfile { name: "张伟".into(), ..MemberProfile::default() };
        assert!(check_profile(&ok).is_ok());
        let cases = [
            (MemberProfile { name: " ".into(), ..ok.clone() }, "name"),
            (MemberProfile { birthday: Some("1988-13-01".into()), ..ok.clone() }, "birthday"),
            (MemberProfile { email: Some("nobody".into()), ..ok.clone() }, "email"),
            (MemberProfile { phone: Some("12ab".into()), ..ok.clone() }, "phone"),
            (MemberProfile { avatar: Some("javascript:alert(1)".into()), ..ok.clone() }, "avatar"),
        ];
        for (profile, field) in cases {
            let error = check_profile(&profile).expect_err(field).to_string();
            assert!(error.contains(field), "{error}");
        }
        assert!(valid_member_id("zhang.wei") && !valid_member_id("Zhang") && !valid_member_id(""));
    }
}
