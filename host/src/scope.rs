//! The scope catalogue: every field group and capability a plugin may ask for.

use std::fmt;
use std::str::FromStr;

/// One scope of the catalogue (`docs/ARCHITECTURE.md`, "Scopes").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// `user.id`: the plugin-scoped open id.
    UserId,
    /// `user.avatar`.
    UserAvatar,
    /// `user.nickname`.
    UserNickname,
    /// `user.name`: real name.
    UserName,
    /// `user.gender`.
    UserGender,
    /// `user.birthday` (sensitive).
    UserBirthday,
    /// `user.region`.
    UserRegion,
    /// `user.email` (sensitive).
    UserEmail,
    /// `user.phone` (sensitive).
    UserPhone,
    /// `org.department`: department and title.
    OrgDepartment,
    /// `perm.customer`: enterprise-customer permissions.
    PermCustomer,
    /// `perm.approval`: approval-interface permissions.
    PermApproval,
    /// `storage`: key-value storage (admin grant only).
    Storage,
    /// `log`: log lines (admin grant only).
    Log,
    /// `notify`: notifications in the inbox of the person a call is about
    /// (the admin's grant and the person's consent).
    Notify,
}

impl Scope {
    /// Every scope, in catalogue order.
    pub const ALL: [Scope; 15] = [
        Scope::UserId,
        Scope::UserAvatar,
        Scope::UserNickname,
        Scope::UserName,
        Scope::UserGender,
        Scope::UserBirthday,
        Scope::UserRegion,
        Scope::UserEmail,
        Scope::UserPhone,
        Scope::OrgDepartment,
        Scope::PermCustomer,
        Scope::PermApproval,
        Scope::Storage,
        Scope::Log,
        Scope::Notify,
    ];

    /// The scope's name in manifests, the API and audit records.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::UserId => "user.id",
            Scope::UserAvatar => "user.avatar",
            Scope::UserNickname => "user.nickname",
            Scope::UserName => "user.name",
            Scope::UserGender => "user.gender",
            Scope::UserBirthday => "user.birthday",
            Scope::UserRegion => "user.region",
            Scope::UserEmail => "user.email",
            Scope::UserPhone => "user.phone",
            Scope::OrgDepartment => "org.department",
            Scope::PermCustomer => "perm.customer",
            Scope::PermApproval => "perm.approval",
            Scope::Storage => "storage",
            Scope::Log => "log",
            Scope::Notify => "notify",
        }
    }

    /// Sensitive scopes need their own, separate consent and are never pre-ticked.
    pub const fn is_sensitive(self) -> bool {
        matches!(self, Scope::UserBirthday | Scope::UserEmail | Scope::UserPhone)
    }

    /// Personal scopes need the person's consent; capabilities only the
    /// admin's grant. `notify` needs both, though it reads nothing.
    pub const fn is_personal(self) -> bool {
        !matches!(self, Scope::Storage | Scope::Log)
    }

    /// The field category shown in the consent disclosure.
    pub const fn category(self) -> &'static str {
        match self {
            Scope::PermCustomer | Scope::PermApproval => "basic_permissions",
            Scope::Storage | Scope::Log => "capability",
            Scope::Notify => "notification",
            _ => "basic_info",
        }
    }

    /// What the person is told the scope gives, in the disclosure.
    pub const fn field(self) -> &'static str {
        match self {
            Scope::UserId => "an id for you that only this plugin sees",
            Scope::UserAvatar => "avatar",
            Scope::UserNickname => "nickname",
            Scope::UserName => "real name",
            Scope::UserGender => "gender",
            Scope::UserBirthday => "birthday",
            Scope::UserRegion => "work region",
            Scope::UserEmail => "enterprise email",
            Scope::UserPhone => "mobile number",
            Scope::OrgDepartment => "department and title",
            Scope::PermCustomer => "your enterprise-customer permissions",
            Scope::PermApproval => "your approval-interface permissions",
            Scope::Storage => "key-value storage",
            Scope::Log => "log lines",
            Scope::Notify => "notifications in your workbench inbox",
        }
    }

    /// The WIT interface of `workbench:plugin` (0.2.0 on) that this scope guards,
    /// named after it: `user.name` is `user-name`.
    pub fn interface(self) -> &'static str {
        match self {
            Scope::UserId => "user-id",
            Scope::UserAvatar => "user-avatar",
            Scope::UserNickname => "user-nickname",
            Scope::UserName => "user-name",
            Scope::UserGender => "user-gender",
            Scope::UserBirthday => "user-birthday",
            Scope::UserRegion => "user-region",
            Scope::UserEmail => "user-email",
            Scope::UserPhone => "user-phone",
            Scope::OrgDepartment => "org-department",
            Scope::PermCustomer => "perm-customer",
            Scope::PermApproval => "perm-approval",
            Scope::Storage => "storage",
            Scope::Log => "log",
            Scope::Notify => "notify",
        }
    }

    /// The scope a WIT import needs: `interface` is the imported instance's
    /// name (`workbench:plugin/user-name@0.2.0`, or
    /// `workbench:plugin/profile@0.1.0`), `function` one function of it. From
    /// `0.2.0` on, an interface is one scope; in `0.1.0`, `profile` and
    /// `permissions` had a function per scope. `None` for imports no scope
    /// guards (WASI, the shared types).
    pub fn for_import(interface: &str, function: &str) -> Option<Scope> {
        let interface = interface.split_once('@').map_or(interface, |(name, _)| name);
        let name = interface.strip_prefix("workbench:plugin/")?;
        if let Some(scope) = Scope::ALL.into_iter().find(|s| s.interface() == name) {
            return Some(scope);
        }
        match (interface, function) {
            ("workbench:plugin/profile", "user-id") => Some(Scope::UserId),
            ("workbench:plugin/profile", "avatar") => Some(Scope::UserAvatar),
            ("workbench:plugin/profile", "nickname") => Some(Scope::UserNickname),
            ("workbench:plugin/profile", "name") => Some(Scope::UserName),
            ("workbench:plugin/profile", "gender") => Some(Scope::UserGender),
            ("workbench:plugin/profile", "birthday") => Some(Scope::UserBirthday),
            ("workbench:plugin/profile", "region") => Some(Scope::UserRegion),
            ("workbench:plugin/profile", "email") => Some(Scope::UserEmail),
            ("workbench:plugin/profile", "phone") => Some(Scope::UserPhone),
            ("workbench:plugin/profile", "department") => Some(Scope::OrgDepartment),
            ("workbench:plugin/permissions", "customers") => Some(Scope::PermCustomer),
            ("workbench:plugin/permissions", "approvals") => Some(Scope::PermApproval),
            ("workbench:plugin/storage", _) => Some(Scope::Storage),
            ("workbench:plugin/log", _) => Some(Scope::Log),
            _ => None,
        }
    }

    /// Position in [`Scope::ALL`], for bit sets.
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown scope {0:?}; known scopes: user.id, user.avatar, user.nickname, user.name, user.gender, user.birthday, user.region, user.email, user.phone, org.department, perm.customer, perm.approval, storage, log"
)]
pub struct UnknownScope(pub String);

impl FromStr for Scope {
    type Err = UnknownScope;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Scope::ALL.into_iter().find(|s| s.as_str() == name).ok_or_else(|| UnknownScope(name.to_owned()))
    }
}

impl serde::Serialize for Scope {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Scope {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

impl utoipa::PartialSchema for Scope {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(Scope::ALL.iter().map(|s| s.as_str())))
            .description(Some("A scope of the catalogue (SCOPES)."))
            .into()
    }
}

impl utoipa::ToSchema for Scope {}

/// A set of scopes as a bit set: copying and testing are one instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ScopeSet(u16);

impl ScopeSet {
    /// The empty set.
    pub const EMPTY: ScopeSet = ScopeSet(0);

    /// Whether `scope` is in the set.
    pub const fn contains(self, scope: Scope) -> bool {
        self.0 & (1 << scope.index()) != 0
    }

    /// Adds `scope`.
    pub fn insert(&mut self, scope: Scope) {
        self.0 |= 1 << scope.index();
    }

    /// Whether every scope of `self` is in `other`.
    pub const fn is_subset(self, other: ScopeSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// The scopes in catalogue order.
    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |s| self.contains(*s))
    }

    /// The scopes in `self` but not in `other`.
    pub const fn difference(self, other: ScopeSet) -> ScopeSet {
        ScopeSet(self.0 & !other.0)
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// A [`ScopeSet`] shared between threads: what a call has read so far, as
/// its outbound requests see it while their bodies are sent.
#[derive(Debug, Clone, Default)]
pub struct SharedScopes(std::sync::Arc<std::sync::atomic::AtomicU16>);

impl SharedScopes {
    /// Adds `scope`.
    pub fn insert(&self, scope: Scope) {
        self.0.fetch_or(1 << scope.index(), std::sync::atomic::Ordering::AcqRel);
    }

    /// Adds every scope of `set`.
    pub fn extend(&self, set: ScopeSet) {
        self.0.fetch_or(set.0, std::sync::atomic::Ordering::AcqRel);
    }

    /// The scopes now.
    pub fn get(&self) -> ScopeSet {
        ScopeSet(self.0.load(std::sync::atomic::Ordering::Acquire))
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut set = ScopeSet::EMPTY;
        for scope in iter {
            set.insert(scope);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_refused() {
        for scope in Scope::ALL {
            assert_eq!(scope.as_str().parse::<Scope>(), Ok(scope));
        }
        assert!("user.password".parse::<Scope>().is_err());
        assert!("USER.ID".parse::<Scope>().is_err());
    }

    #[test]
    fn exactly_birthday_email_and_phone_are_sensitive() {
        let sensitive: Vec<_> = Scope::ALL.into_iter().filter(|s| s.is_sensitive()).map(Scope::as_str).collect();
        assert_eq!(sensitive, ["user.birthday", "user.email", "user.phone"]);
    }

    #[test]
    fn imports_map_to_the_scope_that_guards_them() {
        assert_eq!(Scope::for_import("workbench:plugin/profile@0.1.0", "phone"), Some(Scope::UserPhone));
        assert_eq!(Scope::for_import("workbench:plugin/permissions@0.1.0", "approvals"), Some(Scope::PermApproval));
        assert_eq!(Scope::for_import("workbench:plugin/storage@0.1.0", "list-keys"), Some(Scope::Storage));
        assert_eq!(Scope::for_import("wasi:cli/environment@0.2.6", "get-environment"), None);
        assert_eq!(Scope::for_import("workbench:plugin/profile@0.1.0", "password"), None);
        for scope in Scope::ALL {
            let interface = format!("workbench:plugin/{}@0.2.0", scope.interface());
            assert_eq!(Scope::for_import(&interface, "get"), Some(scope), "{interface}");
            assert_eq!(scope.interface().replace('-', "."), scope.as_str(), "named after the scope");
        }
        assert_eq!(Scope::for_import("workbench:plugin/types@0.2.0", "get"), None);
        assert_eq!(Scope::for_import("other:plugin/user-name@0.2.0", "get"), None);
    }

    #[test]
    fn set_operations() {
        let a: ScopeSet = [Scope::UserId, Scope::UserPhone].into_iter().collect();
        let b: ScopeSet = [Scope::UserId].into_iter().collect();
        assert!(b.is_subset(a));
        assert!(!a.is_subset(b));
        assert_eq!(a.difference(b).iter().collect::<Vec<_>>(), [Scope::UserPhone]);
    }
}
