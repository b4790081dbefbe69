//! The plugin manifest (`plugin.toml`): who built the plugin and which scopes
//! it asks for, each with the purpose shown to the person.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::model::consent::{PluginPolicy, PurposeDigest};
use crate::scope::{Scope, ScopeSet};

/// A plugin version's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Plugin id: lower-case letters, digits and `-`, 2 to 63 characters, starting with a letter.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Semantic version of this release.
    pub version: semver::Version,
    /// What the plugin does, shown in the catalogue.
    #[serde(default)]
    pub description: String,
    /// Who receives the data.
    pub developer: Developer,
    /// The scopes the plugin asks for.
    #[serde(default)]
    pub scopes: Vec<ScopeDeclaration>,
}

/// The recipient of the data, shown before a person consents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Developer {
    /// Legal or trading name.
    pub name: String,
    /// How a person reaches them (email, phone or URL).
    pub contact: String,
}

/// One scope the plugin asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeDeclaration {
    /// The scope, from the catalogue.
    pub scope: Scope,
    /// Why the plugin needs it, in words the person understands.
    pub purpose: String,
    /// Without it the plugin cannot run for the person.
    #[serde(default)]
    pub required: bool,
}

/// What is wrong with a manifest, precisely enough to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Not valid TOML, an unknown field, a wrong type or an unknown scope.
    #[error("manifest is not valid: {0}")]
    Syntax(String),
    /// The id breaks the naming rule.
    #[error("id {0:?} must be 2 to 63 characters of a-z, 0-9 and '-', starting with a letter")]
    BadId(String),
    /// A required text is empty or too long.
    #[error("{field} must be 1 to {max} characters")]
    BadText {
        /// Which field.
        field: &'static str,
        /// Its maximum length in characters.
        max: usize,
    },
    /// A scope is listed twice.
    #[error("scope {0} is declared more than once")]
    DuplicateScope(Scope),
    /// A purpose is too short to tell the person anything, or too long.
    #[error("the purpose of scope {0} must be 4 to 500 characters")]
    BadPurpose(Scope),
}

fn text(field: &'static str, value: &str, max: usize) -> Result<(), ManifestError> {
    let len = value.trim().chars().count();
    if len == 0 || value.chars().count() > max {
        return Err(ManifestError::BadText { field, max });
    }
    Ok(())
}

/// A plugin id: 2 to 63 characters of a-z, 0-9 and `-`, starting with a letter.
pub fn valid_plugin_id(id: &str) -> bool {
    (2..=63).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

impl Manifest {
    /// Parses and validates a `plugin.toml`.
    pub fn from_toml(source: &str) -> Result<Self, ManifestError> {
        let manifest: Manifest = toml::from_str(source).map_err(|e| ManifestError::Syntax(e.message().to_owned()))?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// Checks every rule that the types do not.
    pub fn validate(&self) -> Result<(), ManifestError> {
        if !valid_plugin_id(&self.id) {
            return Err(ManifestError::BadId(self.id.clone()));
        }
        text("name", &self.name, 64)?;
        if self.description.chars().count() > 2000 {
            return Err(ManifestError::BadText { field: "description", max: 2000 });
        }
        text("developer.name", &self.developer.name, 128)?;
        text("developer.contact", &self.developer.contact, 256)?;
        let mut seen = HashSet::new();
        for declaration in &self.scopes {
            if !seen.insert(declaration.scope) {
                return Err(ManifestError::DuplicateScope(declaration.scope));
            }
            let len = declaration.purpose.trim().chars().count();
            if !(4..=500).contains(&len) {
                return Err(ManifestError::BadPurpose(declaration.scope));
            }
        }
        Ok(())
    }

    /// The scopes declared.
    pub fn declared(&self) -> ScopeSet {
        self.scopes.iter().map(|d| d.scope).collect()
    }

    /// The declaration of `scope`, if any.
    pub fn declaration(&self, scope: Scope) -> Option<&ScopeDeclaration> {
        self.scopes.iter().find(|d| d.scope == scope)
    }

    /// The gate's view of this version with the admin's `granted` scopes
    /// (anything granted but not declared is dropped).
    pub fn policy(&self, granted: ScopeSet) -> PluginPolicy {
        let declared = self.declared();
        let mut policy = PluginPolicy {
            declared,
            required: self.scopes.iter().filter(|d| d.required).map(|d| d.scope).collect(),
            granted: granted.iter().filter(|s| declared.contains(*s)).collect(),
            ..PluginPolicy::default()
        };
        for declaration in &self.scopes {
            policy.purposes[declaration.scope.index()] = PurposeDigest::of(&declaration.purpose);
        }
        policy
    }

    /// `ID@VERSION`, as used in audit records.
    pub fn reference(&self) -> String {
        format!("{}@{}", self.id, self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
id = "site-daily-report"
name = "工程日报"
version = "1.2.0"
[developer]
name = "Acme"
contact = "dev@acme.example"
[[scopes]]
scope = "user.id"
purpose = "identify the reporter"
required = true
[[scopes]]
scope = "user.phone"
purpose = "call back"
"#;

    #[test]
    fn a_good_manifest_parses() {
        let manifest = Manifest::from_toml(GOOD).expect("valid");
        assert_eq!(manifest.reference(), "site-daily-report@1.2.0");
        let policy = manifest.policy([Scope::UserId, Scope::Storage].into_iter().collect());
        assert!(policy.required.contains(Scope::UserId));
        assert!(!policy.required.contains(Scope::UserPhone));
        assert!(!policy.granted.contains(Scope::Storage), "granted but undeclared is dropped");
    }

    #[test]
    fn each_mistake_is_named() {
        let cases: [(&str, &str); 7] = [
            ("id = \"site-daily-report\"", "id = \"Site\""),
            ("version = \"1.2.0\"", "version = \"1.2\""),
            ("scope = \"user.phone\"", "scope = \"user.password\""),
            ("scope = \"user.phone\"", "scope = \"user.id\""),
            ("purpose = \"call back\"", "purpose = \"x\""),
            ("name = \"Acme\"", "name = \"\""),
            ("required = true", "required = true\nsecret = 1"),
        ];
        let expected = [
            "id \"Site\" must be",
            "manifest is not valid",
            "unknown scope \"user.password\"",
            "scope user.id is declared more than once",
            "the purpose of scope user.phone",
            "developer.name must be",
            "unknown field `secret`",
        ];
        for ((from, to), want) in cases.iter().zip(expected) {
            let error = Manifest::from_toml(&GOOD.replacen(from, to, 1)).expect_err(to).to_string();
            assert!(error.contains(want), "{to}: {error}");
        }
    }
}
