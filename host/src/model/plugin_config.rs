//! A plugin's configuration: the keys its manifest declares (`[[config]]`),
//! the values a tenant's admin sets at install, and what the plugin reads
//! through `wasi:config/store`.
//!
//! Configuration is the installation's, not a person's: a base URL, a
//! region, a feature switch. It is never personal data, so reading it needs
//! no scope and no consent; setting it is an admin's change, audited with
//! the install.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::text::Text;

/// The most keys one manifest may declare.
pub const MAX_KEYS: usize = 32;

/// The longest value (a default or an admin's value), in characters.
pub const MAX_VALUE_CHARS: usize = 2048;

/// One configuration key a plugin declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigDeclaration {
    /// The key the plugin reads: 1 to 64 characters of a-z, 0-9 and `_`,
    /// starting with a letter (`visits_url`).
    pub key: String,
    /// What the value is, for the admin who sets it; one string or one per language.
    pub description: Text,
    /// The value when the admin sets none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// The admin must set a value (unless there is a default).
    #[serde(default)]
    pub required: bool,
}

/// Whether `key` is a valid configuration key.
pub fn valid_key(key: &str) -> bool {
    (1..=64).contains(&key.len())
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// Why a value cannot be stored, if it cannot: too long, or with control
/// characters (a value is one line of text).
pub fn value_problem(value: &str) -> Option<String> {
    if value.chars().count() > MAX_VALUE_CHARS {
        return Some(format!("is longer than {MAX_VALUE_CHARS} characters"));
    }
    value.chars().any(char::is_control).then(|| "contains a control character (a value is one line)".to_owned())
}

/// The values a plugin reads: for each declared key, in the manifest's
/// order, the admin's value or else the default; keys with neither are
/// absent.
pub fn effective(declared: &[ConfigDeclaration], set: &BTreeMap<String, String>) -> Vec<(String, String)> {
    declared
        .iter()
        .filter_map(|d| set.get(&d.key).or(d.default.as_ref()).map(|value| (d.key.clone(), value.clone())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declaration(key: &str, default: Option<&str>) -> ConfigDeclaration {
        ConfigDeclaration {
            key: key.to_owned(),
            description: "the service's base URL".into(),
            default: default.map(str::to_owned),
            required: false,
        }
    }

    #[test]
    fn keys_follow_the_naming_rule() {
        for good in ["a", "visits_url", "region2", &"k".repeat(64)] {
            assert!(valid_key(good), "{good}");
        }
        for bad in ["", "Visits", "2fa", "_x", "visits-url", "visits.url", "访问", &"k".repeat(65)] {
            assert!(!valid_key(bad), "{bad}");
        }
    }

    #[test]
    fn values_are_one_line_of_bounded_length() {
        assert_eq!(value_problem("https://visits.acme.example"), None);
        assert_eq!(value_problem(&"é".repeat(MAX_VALUE_CHARS)), None, "counted in characters");
        assert!(value_problem(&"x".repeat(MAX_VALUE_CHARS + 1)).expect("refused").contains("longer"));
        assert!(value_problem("a\nb").expect("refused").contains("control"));
        assert!(value_problem("a\u{0}b").expect("refused").contains("control"));
    }

    #[test]
    fn the_admins_value_wins_over_the_default_and_order_is_the_manifests() {
        let declared = [
            declaration("visits_url", Some("https://visits.acme.example")),
            declaration("region", None),
            declaration("team", Some("north")),
        ];
        let mut set = BTreeMap::new();
        assert_eq!(
            effective(&declared, &set),
            [
                ("visits_url".to_owned(), "https://visits.acme.example".to_owned()),
                ("team".to_owned(), "north".to_owned())
            ]
        );
        set.insert("team".to_owned(), "south".to_owned());
        set.insert("region".to_owned(), "cn-east".to_owned());
        set.insert("undeclared".to_owned(), "ignored".to_owned());
        assert_eq!(
            effective(&declared, &set),
            [
                ("visits_url".to_owned(), "https://visits.acme.example".to_owned()),
                ("region".to_owned(), "cn-east".to_owned()),
                ("team".to_owned(), "south".to_owned()),
            ]
        );
    }
}
