//! The plugin manifest (`plugin.toml`): who built the plugin and which scopes
//! it asks for, each with the purpose shown to the person.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::model::consent::{PluginPolicy, PurposeDigest};
use crate::model::egress::{Destination, EgressDeclaration};
use crate::model::events::{EventSubscription, ScheduleDeclaration};
use crate::model::plugin_config::{self, ConfigDeclaration};
use crate::model::text::Text;
use crate::scope::{Scope, ScopeSet};

/// A plugin version's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Plugin id: lower-case letters, digits and `-`, 2 to 63 characters, starting with a letter.
    pub id: String,
    /// Display name: one string, or one per language (`{ zh = "…", en = "…" }`).
    pub name: Text,
    /// Semantic version of this release.
    pub version: semver::Version,
    /// What the plugin does, shown in the catalogue; one string or one per language.
    #[serde(default)]
    pub description: Text,
    /// Who receives the data.
    pub developer: Developer,
    /// The scopes the plugin asks for.
    #[serde(default)]
    pub scopes: Vec<ScopeDeclaration>,
    /// Where the plugin sends requests (its developer's own services).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egress: Vec<EgressDeclaration>,
    /// What the tenant's admin configures at install (a base URL, a
    /// region), read by the plugin through `wasi:config/store`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config: Vec<ConfigDeclaration>,
    /// The workbench events the plugin is told of (its component exports
    /// `events`); the admin approves them at install.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventSubscription>,
    /// When the plugin is called on a schedule; approved like events.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub schedules: Vec<ScheduleDeclaration>,
}

/// The most destinations one manifest may declare.
pub const MAX_DESTINATIONS: usize = 16;

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
    /// Why the plugin needs it, in words the person understands; one
    /// string or one per language.
    pub purpose: Text,
    /// Without it the plugin cannot run for the person.
    #[serde(default)]
    pub required: bool,
    /// How many days a person's consent lasts before they are asked again
    /// (personal scopes only; 1 to 3650). Without it a consent lasts until
    /// it is withdrawn or its purpose changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent_days: Option<u32>,
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
    /// A consent period on a capability, or out of range.
    #[error("consent_days of scope {0} must be 1 to 3650, on a personal scope (a capability takes no consent)")]
    BadConsentDays(Scope),
    /// A purpose is too short to tell the person anything, or too long.
    #[error("the purpose of scope {0} must be 4 to 500 characters")]
    BadPurpose(Scope),
    /// A destination is declared twice.
    #[error("destination {0} is declared more than once")]
    DuplicateDestination(String),
    /// A destination's purpose is too short or too long.
    #[error("the purpose of destination {0} must be 4 to 500 characters")]
    BadDestinationPurpose(String),
    /// More destinations than a manifest may declare.
    #[error("{0} destinations are declared; at most {MAX_DESTINATIONS}")]
    TooManyDestinations(usize),
    /// A configuration key breaks the naming rule.
    #[error("config key {0:?} must be 1 to 64 characters of a-z, 0-9 and '_', starting with a letter")]
    BadConfigKey(String),
    /// A configuration key is declared twice.
    #[error("config key {0} is declared more than once")]
    DuplicateConfigKey(String),
    /// More configuration keys than a manifest may declare.
    #[error("{0} config keys are declared; at most {max}", max = plugin_config::MAX_KEYS)]
    TooManyConfigKeys(usize),
    /// A configuration key's description is empty or too long.
    #[error("the description of config key {0} must be 1 to 500 characters")]
    BadConfigDescription(String),
    /// A configuration key's default cannot be a value.
    #[error("the default of config key {key} {problem}")]
    BadConfigDefault {
        /// The key.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
    /// An `[[events]]` or `[[schedules]]` entry is wrong.
    #[error("{0}")]
    Subscription(String),
    /// Texts given per language do not all give the same languages, so a
    /// person would read part of the disclosure in another language.
    #[error(
        "{field} is {given} but the manifest's other texts are given in {expected}: give every text in the same \
         languages (only the name may stay one string, the same in every language)"
    )]
    Languages {
        /// Which text.
        field: String,
        /// How it is given: `given in zh` or `one string`.
        given: String,
        /// The languages of the first text given per language.
        expected: String,
    },
}

fn text(field: &'static str, value: &str, max: usize) -> Result<(), ManifestError> {
    let len = value.trim().chars().count();
    if len == 0 || value.chars().count() > max {
        return Err(ManifestError::BadText { field, max });
    }
    Ok(())
}

fn listed(languages: &[&str]) -> String {
    languages.join(", ")
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
        for (_, name) in self.name.texts() {
            text("name", name, 64)?;
        }
        if self.description.texts().any(|(_, d)| d.chars().count() > 2000) {
            return Err(ManifestError::BadText { field: "description", max: 2000 });
        }
        text("developer.name", &self.developer.name, 128)?;
        text("developer.contact", &self.developer.contact, 256)?;
        let mut seen = HashSet::new();
        for declaration in &self.scopes {
            if !seen.insert(declaration.scope) {
                return Err(ManifestError::DuplicateScope(declaration.scope));
            }
            if let Some(days) = declaration.consent_days
                && (!declaration.scope.is_personal() || !(1..=3650).contains(&days))
            {
                return Err(ManifestError::BadConsentDays(declaration.scope));
            }
            for (_, purpose) in declaration.purpose.texts() {
                if !(4..=500).contains(&purpose.trim().chars().count()) {
                    return Err(ManifestError::BadPurpose(declaration.scope));
                }
            }
        }
        if self.egress.len() > MAX_DESTINATIONS {
            return Err(ManifestError::TooManyDestinations(self.egress.len()));
        }
        let mut destinations = HashSet::new();
        for declaration in &self.egress {
            let name = declaration.destination.to_string();
            if !destinations.insert(declaration.destination.clone()) {
                return Err(ManifestError::DuplicateDestination(name));
            }
            for (_, purpose) in declaration.purpose.texts() {
                if !(4..=500).contains(&purpose.trim().chars().count()) {
                    return Err(ManifestError::BadDestinationPurpose(name));
                }
            }
        }
        if self.config.len() > plugin_config::MAX_KEYS {
            return Err(ManifestError::TooManyConfigKeys(self.config.len()));
        }
        let mut keys = HashSet::new();
        for declaration in &self.config {
            if !plugin_config::valid_key(&declaration.key) {
                return Err(ManifestError::BadConfigKey(declaration.key.clone()));
            }
            if !keys.insert(declaration.key.as_str()) {
                return Err(ManifestError::DuplicateConfigKey(declaration.key.clone()));
            }
            for (_, description) in declaration.description.texts() {
                if !(1..=500).contains(&description.trim().chars().count()) {
                    return Err(ManifestError::BadConfigDescription(declaration.key.clone()));
                }
            }
            if let Some(problem) = declaration.default.as_deref().and_then(plugin_config::value_problem) {
                return Err(ManifestError::BadConfigDefault { key: declaration.key.clone(), problem });
            }
        }
        crate::model::events::check_subscriptions(&self.events, &self.schedules)
            .map_err(ManifestError::Subscription)?;
        let expected = self.languages();
        let mut sorted_expected = expected.clone();
        sorted_expected.sort_unstable();
        for (field, text) in self.readable_texts() {
            let mut languages: Vec<&str> = text.languages().collect();
            languages.sort_unstable();
            let given = if text.is_plain() {
                // One string is fine for a name (a brand reads the same
                // everywhere) and for an empty description; not for what
                // people must understand before they consent.
                let exempt = expected.is_empty() || field == "name" || text.primary().is_empty();
                (!exempt).then(|| "one string".to_owned())
            } else {
                (languages != sorted_expected)
                    .then(|| format!("given in {}", listed(&text.languages().collect::<Vec<_>>())))
            };
            if let Some(given) = given {
                return Err(ManifestError::Languages { field, given, expected: listed(&expected) });
            }
        }
        Ok(())
    }

    /// Every text people read, with its field's name in the manifest.
    fn readable_texts(&self) -> impl Iterator<Item = (String, &Text)> {
        [("name".to_owned(), &self.name), ("description".to_owned(), &self.description)]
            .into_iter()
            .chain(self.scopes.iter().map(|d| (format!("the purpose of {}", d.scope), &d.purpose)))
            .chain(self.egress.iter().map(|d| (format!("the purpose of destination {}", d.destination), &d.purpose)))
            .chain(self.config.iter().map(|d| (format!("the description of config key {}", d.key), &d.description)))
            .chain(self.events.iter().map(|d| (format!("the purpose of event {}", d.kind), &d.purpose)))
            .chain(self.schedules.iter().map(|d| (format!("the purpose of schedule {}", d.name), &d.purpose)))
    }

    /// Every subscription it declares, as an installation approves them:
    /// `approval.submitted`, `schedule:evening`.
    pub fn subscriptions(&self) -> Vec<String> {
        self.events
            .iter()
            .map(|e| e.kind.as_str().to_owned())
            .chain(self.schedules.iter().map(|s| format!("schedule:{}", s.name)))
            .collect()
    }

    /// The declaration of configuration `key`, if any.
    pub fn config_key(&self, key: &str) -> Option<&ConfigDeclaration> {
        self.config.iter().find(|d| d.key == key)
    }

    /// The destination a request to `scheme://host:port` goes to, if declared.
    pub fn destination_for(
        &self,
        scheme: crate::model::egress::Scheme,
        host: &str,
        port: u16,
    ) -> Option<&EgressDeclaration> {
        self.egress.iter().find(|d| d.destination.matches(scheme, host, port))
    }

    /// The destinations declared, as written (`https://api.acme.example`).
    pub fn destinations(&self) -> Vec<String> {
        self.egress.iter().map(|d| d.destination.to_string()).collect()
    }

    /// The languages the manifest's texts are given in, primary first (those
    /// of the first text given per language); empty when every text is one string.
    pub fn languages(&self) -> Vec<&str> {
        self.readable_texts().find(|(_, t)| !t.is_plain()).map(|(_, t)| t.languages().collect()).unwrap_or_default()
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
    /// (anything granted but not declared is dropped) and `approved`
    /// destinations. Where the data may go is part of what a person
    /// consents to: each personal scope's purpose digest covers the
    /// approved destinations, so approving a new one asks people again.
    pub fn policy(&self, granted: ScopeSet, approved: &[String]) -> PluginPolicy {
        let declared = self.declared();
        let mut policy = PluginPolicy {
            declared,
            required: self.scopes.iter().filter(|d| d.required).map(|d| d.scope).collect(),
            granted: granted.iter().filter(|s| declared.contains(*s)).collect(),
            ..PluginPolicy::default()
        };
        let mut destinations: Vec<&Destination> = self
            .egress
            .iter()
            .map(|d| &d.destination)
            .filter(|d| approved.iter().any(|a| *a == d.to_string()))
            .collect();
        destinations.sort_unstable();
        destinations.dedup();
        for declaration in &self.scopes {
            let purpose = PurposeDigest::of_text(&declaration.purpose);
            policy.purposes[declaration.scope.index()] = if declaration.scope.is_personal() && !destinations.is_empty()
            {
                purpose.sent_to(destinations.iter().map(|d| d.to_string()))
            } else {
                purpose
            };
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
        let policy = manifest.policy([Scope::UserId, Scope::Storage].into_iter().collect(), &[]);
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

    #[test]
    fn texts_per_language_give_the_same_languages_and_digest_every_one() {
        let both = GOOD
            .replacen("name = \"工程日报\"", "name = { zh = \"工程日报\", en = \"Site daily report\" }", 1)
            .replacen("purpose = \"call back\"", "purpose = { zh = \"回电给你\", en = \"call back\" }", 1);
        let error = Manifest::from_toml(&both).expect_err("the other purpose is English only").to_string();
        assert!(
            error.contains("the purpose of user.id is one string but the manifest's other texts are given in zh, en"),
            "{error}"
        );
        let both = both.replacen(
            "purpose = \"identify the reporter\"",
            "purpose = { en = \"identify the reporter\", zh = \"识别填报人\" }",
            1,
        );
        let manifest = Manifest::from_toml(&both).expect("every table gives zh and en, in any order");
        assert_eq!(manifest.languages(), ["zh", "en"], "the first table's order");
        assert_eq!(manifest.declaration(Scope::UserId).expect("declared").purpose.primary(), "identify the reporter");
        let plain = Manifest::from_toml(GOOD).expect("valid");
        assert!(plain.languages().is_empty());

        // A purpose given once keeps the digest it always had; given per
        // language, every translation counts and the order does not.
        let digest = |m: &Manifest, s: Scope| m.policy(ScopeSet::default(), &[]).purposes[s.index()];
        assert_eq!(digest(&plain, Scope::UserPhone), PurposeDigest::of("call back"));
        assert_ne!(digest(&manifest, Scope::UserPhone), digest(&plain, Scope::UserPhone));
        let reordered =
            both.replacen("{ zh = \"回电给你\", en = \"call back\" }", "{ en = \"call back\", zh = \"回电给你\" }", 1);
        let reordered = Manifest::from_toml(&reordered).expect("valid");
        assert_eq!(digest(&reordered, Scope::UserPhone), digest(&manifest, Scope::UserPhone));
        let retranslated = both.replacen("zh = \"回电给你\"", "zh = \"给你回电话\"", 1);
        let retranslated = Manifest::from_toml(&retranslated).expect("valid");
        assert_ne!(digest(&retranslated, Scope::UserPhone), digest(&manifest, Scope::UserPhone));
    }

    #[test]
    fn configuration_keys_are_checked() {
        let config = |entries: &str| format!("{GOOD}{entries}");
        let good = config(
            "[[config]]\nkey = \"visits_url\"\ndescription = \"the service's base URL\"\ndefault = \"https://visits.acme.example\"\n\
             [[config]]\nkey = \"region\"\ndescription = \"where the tenant's data is kept\"\nrequired = true\n",
        );
        let manifest = Manifest::from_toml(&good).expect("valid");
        assert_eq!(manifest.config_key("region").map(|d| d.required), Some(true));
        assert!(manifest.config_key("other").is_none());
        let entry = |key: &str, rest: &str| format!("[[config]]\nkey = {key:?}\ndescription = \"what it is\"\n{rest}");
        let cases = [
            (entry("Visits", ""), "config key \"Visits\" must be 1 to 64 characters"),
            (entry("visits-url", ""), "config key \"visits-url\""),
            (format!("{}{}", entry("region", ""), entry("region", "")), "config key region is declared more than once"),
            (entry("region", "").replace("what it is", " "), "the description of config key region must be"),
            (entry("region", "default = \"a\\nb\""), "the default of config key region contains a control character"),
            (entry("region", &format!("default = \"{}\"", "x".repeat(2049))), "is longer than 2048 characters"),
            (entry("region", "secret = true"), "unknown field `secret`"),
            ((0..33).map(|i| entry(&format!("k{i}"), "")).collect(), "33 config keys are declared; at most 32"),
        ];
        for (entries, want) in cases {
            let error = Manifest::from_toml(&config(&entries)).expect_err(want).to_string();
            assert!(error.contains(want), "{want}: {error}");
        }
        // Its description is read by the admin, in the manifest's languages.
        let languages = GOOD
            .replacen(
                "purpose = \"identify the reporter\"",
                "purpose = { zh = \"识别填报人\", en = \"identify the reporter\" }",
                1,
            )
            .replacen("purpose = \"call back\"", "purpose = { zh = \"回电给你\", en = \"call back\" }", 1);
        let error = Manifest::from_toml(&format!("{languages}{}", entry("region", ""))).expect_err("one string");
        assert!(
            error.to_string().contains(
                "the description of config key region is one string but the manifest's other texts are given in zh, en"
            ),
            "{error}"
        );
    }
}
