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
    /// Department, as people read it (what `org.department` gives).
    #[serde(default)]
    pub department: Option<String>,
    /// The departments of the tenant's tree the member belongs to, by id
    /// (what visible ranges are evaluated against).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub departments: Vec<String>,
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
///
/// The administrative roles split a tenant admin's work by job:
/// [`Role::AppAdmin`] runs the plugins, [`Role::MemberAdmin`] the directory,
/// [`Role::Auditor`] reads the audit log; [`Role::Admin`] is all three.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Tenant admin: app_admin, member_admin and auditor in one.
    Admin,
    /// The tenant's plugins: catalogue, install, upgrade, configuration,
    /// visible range.
    AppAdmin,
    /// The tenant's directory: members, and their roles below one's own.
    MemberAdmin,
    /// The tenant's audit log: read, verify, export. Changes nothing.
    Auditor,
    /// Member (end user).
    Member,
    /// Plugin developer.
    Developer,
    /// The deployment's operator: its own status, no tenant's data.
    Operator,
    /// The workbench platform sending its events (`POST /api/v1/events`);
    /// nothing else. Minted by this host, never taken from a provider.
    Platform,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 8] = [
        Role::Admin,
        Role::AppAdmin,
        Role::MemberAdmin,
        Role::Auditor,
        Role::Member,
        Role::Developer,
        Role::Operator,
        Role::Platform,
    ];

    /// The roles that act on a tenant as its administration (checked against
    /// the directory on every call).
    pub const ADMINISTRATIVE: [Role; 4] = [Role::Admin, Role::AppAdmin, Role::MemberAdmin, Role::Auditor];

    /// Its name in tokens and profiles.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::AppAdmin => "app_admin",
            Role::MemberAdmin => "member_admin",
            Role::Auditor => "auditor",
            Role::Member => "member",
            Role::Developer => "developer",
            Role::Operator => "operator",
            Role::Platform => "platform",
        }
    }

    /// Parses a role name.
    pub fn parse(name: &str) -> Option<Self> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// Whether holding this role gives `needed` (admin gives each
    /// administrative role; every role gives itself).
    pub fn gives(self, needed: Role) -> bool {
        self == needed || (self == Role::Admin && Role::ADMINISTRATIVE.contains(&needed))
    }

    /// Whether this is one of the [`Role::ADMINISTRATIVE`] roles.
    pub fn is_administrative(self) -> bool {
        Role::ADMINISTRATIVE.contains(&self)
    }
}

/// A member as a call's authorization sees them: the profile (with the
/// roles the directory gives) and when their sessions were last ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Standing {
    /// The member's profile.
    pub profile: MemberProfile,
    /// Tokens issued at or before this instant (ms since the epoch; 0 for
    /// never) no longer speak for the member.
    pub sessions_ended_at_ms: i64,
}

impl Standing {
    /// Whether a token issued at `issued_at_secs` (its `iat`) was issued
    /// after the member's sessions were last ended. `iat` counts whole
    /// seconds, so a token issued in the same second as the end is refused
    /// with the earlier ones.
    pub fn accepts_token_issued_at(&self, issued_at_secs: u64) -> bool {
        session_open(self.sessions_ended_at_ms, issued_at_secs)
    }
}

/// Whether a token issued at `issued_at_secs` outlives sessions ended at
/// `ended_at_ms` (see [`Standing::accepts_token_issued_at`]).
pub fn session_open(ended_at_ms: i64, issued_at_secs: u64) -> bool {
    ended_at_ms <= 0 || i64::try_from(issued_at_secs).unwrap_or(i64::MAX) > ended_at_ms.div_euclid(1000)
}

/// Whether any of `roles` gives `needed`.
pub fn any_gives(roles: &[Role], needed: Role) -> bool {
    roles.iter().any(|r| r.gives(needed))
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not a role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role {0:?}; roles are admin, app_admin, member_admin, auditor, member, developer, operator")]
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
            error.to_string().contains(
                "unknown role \"root\"; roles are admin, app_admin, member_admin, auditor, member, developer"
            ),
            "{error}"
        );
        let profile: MemberProfile =
            serde_json::from_str(r#"{"name": "张伟", "roles": ["admin", "member"]}"#).expect("a profile");
        assert_eq!(profile.roles, [Role::Admin, Role::Member]);
        assert_eq!(serde_json::to_value(&profile.roles).expect("json"), serde_json::json!(["admin", "member"]));
    }
}
