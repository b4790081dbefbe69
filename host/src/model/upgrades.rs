//! What a newer version of an installed plugin changes, as the upgrade
//! review shows it, and whether it widens anything (asks for a scope, a
//! destination or a configuration key the installed version does not
//! have, or words a purpose differently): a version that widens nothing
//! may apply itself where the tenant allows it.

use super::manifest::Manifest;
use super::text::Text;
use crate::scope::Scope;

/// A purpose worded differently in the newer version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurposeChange {
    /// The scope (or the destination, for a destination's purpose).
    pub what: String,
    /// The installed version's words.
    pub before: Text,
    /// The newer version's words.
    pub after: Text,
}

/// The difference between an installed version and a newer one.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpgradeDiff {
    /// Scopes the newer version declares and the installed one does not.
    pub added_scopes: Vec<Scope>,
    /// Scopes it no longer declares.
    pub removed_scopes: Vec<Scope>,
    /// Scopes it now requires that were optional.
    pub newly_required: Vec<Scope>,
    /// Destinations it declares that the installed one does not.
    pub added_destinations: Vec<String>,
    /// Destinations it no longer declares.
    pub removed_destinations: Vec<String>,
    /// Configuration keys it declares that the installed one does not.
    pub added_config: Vec<String>,
    /// Configuration keys it no longer declares.
    pub removed_config: Vec<String>,
    /// Events and schedules it subscribes to that the installed one did not
    /// (`approval.submitted`, `schedule:evening`), or whose schedule changed.
    pub added_subscriptions: Vec<String>,
    /// Events and schedules it no longer subscribes to.
    pub removed_subscriptions: Vec<String>,
    /// Purposes (of scopes and destinations) worded differently, in any language.
    pub purposes: Vec<PurposeChange>,
}

impl UpgradeDiff {
    /// The difference from `installed` to `newer`.
    pub fn between(installed: &Manifest, newer: &Manifest) -> Self {
        let mut diff = Self::default();
        for declared in &newer.scopes {
            match installed.declaration(declared.scope) {
                None => diff.added_scopes.push(declared.scope),
                Some(before) => {
                    if declared.required && !before.required {
                        diff.newly_required.push(declared.scope);
                    }
                    if before.purpose != declared.purpose {
                        diff.purposes.push(PurposeChange {
                            what: declared.scope.as_str().to_owned(),
                            before: before.purpose.clone(),
                            after: declared.purpose.clone(),
                        });
                    }
                }
            }
        }
        diff.removed_scopes =
            installed.scopes.iter().map(|d| d.scope).filter(|s| newer.declaration(*s).is_none()).collect();
        for declared in &newer.egress {
            let text = declared.destination.to_string();
            match installed.egress.iter().find(|d| d.destination == declared.destination) {
                None => diff.added_destinations.push(text),
                Some(before) if before.purpose != declared.purpose => diff.purposes.push(PurposeChange {
                    what: text,
                    before: before.purpose.clone(),
                    after: declared.purpose.clone(),
                }),
                Some(_) => {}
            }
        }
        diff.removed_destinations = installed
            .egress
            .iter()
            .filter(|d| !newer.egress.iter().any(|n| n.destination == d.destination))
            .map(|d| d.destination.to_string())
            .collect();
        let keys = |m: &Manifest| m.config.iter().map(|c| c.key.clone()).collect::<Vec<_>>();
        let (before, after) = (keys(installed), keys(newer));
        diff.added_config = after.iter().filter(|k| !before.contains(k)).cloned().collect();
        diff.removed_config = before.iter().filter(|k| !after.contains(k)).cloned().collect();
        // A schedule with another cron, zone or audience counts as new.
        let schedule =
            |m: &Manifest, name: &str| m.schedules.iter().find(|s| format!("schedule:{}", s.name) == name).cloned();
        let (before, after) = (installed.subscriptions(), newer.subscriptions());
        diff.added_subscriptions = after
            .iter()
            .filter(|s| {
                !before.contains(s)
                    || schedule(installed, s).map(|d| (d.cron, d.timezone, d.per))
                        != schedule(newer, s).map(|d| (d.cron, d.timezone, d.per))
            })
            .cloned()
            .collect();
        diff.removed_subscriptions = before.iter().filter(|s| !after.contains(s)).cloned().collect();
        diff
    }

    /// Whether the newer version asks for anything the installed one did
    /// not: a scope, a requirement, a destination, a configuration key, an
    /// event or schedule, or a purpose in other words (members would be
    /// asked again).
    pub fn widens(&self) -> bool {
        !(self.added_scopes.is_empty()
            && self.newly_required.is_empty()
            && self.added_destinations.is_empty()
            && self.added_config.is_empty()
            && self.added_subscriptions.is_empty()
            && self.purposes.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
id = "notes"
name = "笔记"
version = "0.1.0"
description = "Notes."

[developer]
name = "Acme"
contact = "a@acme.example"

[[scopes]]
scope = "user.name"
purpose = "Sign your notes."
required = true

[[scopes]]
scope = "user.nickname"
purpose = "Greet you."

[[egress]]
destination = "https://api.acme.example"
purpose = "Keep your notes."
"#;

    fn manifest(text: &str) -> Manifest {
        Manifest::from_toml(text).expect("a manifest")
    }

    #[test]
    fn a_version_that_only_narrows_widens_nothing() {
        let installed = manifest(BASE);
        let narrower = manifest(
            &BASE
                .replace("0.1.0", "0.1.1")
                .replace("[[scopes]]\nscope = \"user.nickname\"\npurpose = \"Greet you.\"\n", ""),
        );
        let diff = UpgradeDiff::between(&installed, &narrower);
        assert_eq!(diff.removed_scopes, [Scope::UserNickname]);
        assert!(!diff.widens(), "{diff:?}");
        assert!(!UpgradeDiff::between(&installed, &manifest(&BASE.replace("0.1.0", "0.1.2"))).widens());
    }

    #[test]
    fn every_kind_of_widening_is_named() {
        let installed = manifest(BASE);
        let cases = [
            (BASE.replace("scope = \"user.nickname\"", "scope = \"user.phone\""), "a new scope"),
            (BASE.replace("purpose = \"Greet you.\"", "purpose = \"Greet you.\"\nrequired = true"), "newly required"),
            (BASE.replace("https://api.acme.example", "https://api2.acme.example"), "a new destination"),
            (BASE.replace("Sign your notes.", "Sign and share your notes."), "a purpose in other words"),
            (format!("{BASE}\n[[config]]\nkey = \"base_url\"\ndescription = \"Where.\"\n"), "a configuration key"),
        ];
        for (text, case) in cases {
            let diff = UpgradeDiff::between(&installed, &manifest(&text.replace("0.1.0", "0.2.0")));
            assert!(diff.widens(), "{case}: {diff:?}");
        }
    }
}
