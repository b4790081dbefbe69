//! The tenant's directory: a member's profile (the personal fields plugins
//! may be given) and the roles a member or token may hold.

use serde::{Deserialize, Serialize};

/// Gender as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Gender {
    /// Male.
    Male,
    /// Female.
    Female,
    /// Not disclosed.
    #[default]
    Undisclosed,
}

/// Level of access to a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerAccess {
    /// View.
    View,
    /// Edit.
    Edit,
    /// Manage.
    Manage,
}

/// A member's permission on a customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerPermission {
    /// Customer id.
    pub customer_id: String,
    /// Customer name.
    pub customer_name: String,
    /// Access level.
    pub access: CustomerAccess,
}

/// A member's permission on an approval process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalPermission {
    /// Process id.
    pub process_id: String,
    /// Process name.
    pub process_name: String,
    /// May approve.
    pub can_approve: bool,
    /// May initiate.
    pub can_initiate: bool,
    /// Approval limit in cents.
    #[serde(default)]
    pub max_amount_cents: Option<u64>,
}

/// A member's profile: the personal fields plugins may be given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MemberProfile {
    /// Real name.
    pub name: String,
    /// Nickname.
    #[serde(default)]
    pub nickname: Option<String>,
    /// Avatar URL.
    #[serde(default)]
    pub avatar: Option<String>,
    /// Gender.
    #[serde(default)]
    pub gender: Gender,
    /// Birthday, `YYYY-MM-DD`.
    #[serde(default)]
    pub birthday: Option<String>,
    /// Work region.
    #[serde(default)]
    pub region: Option<String>,
    /// Enterprise email.
    #[serde(default)]
    pub email: Option<String>,
    /// Mobile number.
    #[serde(default)]
    pub phone: Option<String>,
    /// Department.
    #[serde(default)]
    pub department: Option<String>,
    /// Job title.
    #[serde(default)]
    pub title: Option<String>,
    /// Roles in the tenant.
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Customer permissions.
    #[serde(default)]
    pub customers: Vec<CustomerPermission>,
    /// Approval permissions.
    #[serde(default)]
    pub approvals: Vec<ApprovalPermission>,
}

/// A role a member holds in the directory, or a token carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Tenant admin.
    Admin,
    /// Member (end user).
    Member,
    /// Plugin developer.
    Developer,
    /// Platform operator.
    Operator,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 4] = [Role::Admin, Role::Member, Role::Developer, Role::Operator];

    /// Its name in tokens and profiles.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Developer => "developer",
            Role::Operator => "operator",
        }
    }

    /// Parses a role name.
    pub fn parse(name: &str) -> Option<Self> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}; roles are admin, member, developer, operator")]
pub struct UnknownRole(pub String);

impl std::str::FromStr for Role {
    type Err = UnknownRole;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Role::parse(name).ok_or_else(|| UnknownRole(name.to_owned()))
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_with_an_unknown_role_is_refused_with_the_roles_named() {
        let error = serde_json::from_str::<MemberProfile>(r#"{"name": "张伟", "roles": ["member", "root"]}"#)
            .expect_err("root is not a role");
        assert!(
            error.to_string().contains("unknown role \"root\"; roles are admin, member, developer, operator"),
            "{error}"
        );
        let profile: MemberProfile =
            serde_json::from_str(r#"{"name": "张伟", "roles": ["admin", "member"]}"#).expect("a profile");
        assert_eq!(profile.roles, [Role::Admin, Role::Member]);
        assert_eq!(serde_json::to_value(&profile.roles).expect("json"), serde_json::json!(["admin", "member"]));
    }
}
