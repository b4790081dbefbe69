//! The gate: the one place that decides whether plugin P may read scope S of
//! person U now. Every host import asks [`decide`]; nothing else re-implements
//! the rules of `docs/ARCHITECTURE.md` ("The gate").
//!
//! It is a pure function of the manifest declaration, the tenant admin's
//! grant and the person's consent (with expiry and withdrawal): no I/O, no
//! clock of its own, no allocation.

use crate::model::consent::{ConsentSet, PluginPolicy};
use crate::scope::Scope;
/// Why the gate refused. Mirrors the WIT `access-error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Denial {
    /// The manifest does not declare the scope.
    #[error("not_declared")]
    NotDeclared,
    /// The tenant admin did not grant it.
    #[error("not_granted")]
    NotGranted,
    /// No consent, a declined one, or a bundled consent to a sensitive scope.
    #[error("not_consented")]
    NotConsented,
    /// The person withdrew consent.
    #[error("consent_withdrawn")]
    ConsentWithdrawn,
    /// The consent expired.
    #[error("consent_expired")]
    ConsentExpired,
    /// The purpose changed since the person consented.
    #[error("purpose_changed")]
    PurposeChanged,
    /// A quota was exhausted (decided by the runtime, not here).
    #[error("quota_exceeded")]
    QuotaExceeded,
}

impl Denial {
    /// The stable code used in audit records and API errors.
    pub fn code(self) -> &'static str {
        match self {
            Denial::NotDeclared => "not_declared",
            Denial::NotGranted => "not_granted",
            Denial::NotConsented => "not_consented",
            Denial::ConsentWithdrawn => "consent_withdrawn",
            Denial::ConsentExpired => "consent_expired",
            Denial::PurposeChanged => "purpose_changed",
            Denial::QuotaExceeded => "quota_exceeded",
        }
    }
}

/// May the plugin described by `policy` read `scope` of the person whose
/// consents are `consents`, at `now_ms`?
///
/// The checks run in this order, and the first that fails names the denial:
/// declared, granted, (capabilities stop here), consented, not withdrawn, not
/// expired, separate consent for sensitive scopes, same purpose.
pub fn decide(scope: Scope, policy: &PluginPolicy, consents: &ConsentSet, now_ms: i64) -> Result<(), Denial> {
    if !policy.declared.contains(scope) {
        return Err(Denial::NotDeclared);
    }
    if !policy.granted.contains(scope) {
        return Err(Denial::NotGranted);
    }
    if !scope.is_personal() {
        return Ok(());
    }
    let consent = consents.get(scope).ok_or(Denial::NotConsented)?;
    // Any recorded withdrawal counts, whatever the clocks of the replicas
    // that recorded and judge it say: withdrawals are never future-dated.
    if consent.withdrawn_at_ms.is_some() {
        return Err(Denial::ConsentWithdrawn);
    }
    if consent.expires_at_ms.is_some_and(|at| at <= now_ms) {
        return Err(Denial::ConsentExpired);
    }
    if scope.is_sensitive() && !consent.separate {
        return Err(Denial::NotConsented);
    }
    if consent.purpose != policy.purposes[scope.index()] {
        return Err(Denial::PurposeChanged);
    }
    Ok(())
}

/// The required scopes that [`decide`] would refuse now: if any, the plugin
/// must not run for this person and the workbench asks for consent instead.
pub fn missing_required(policy: &PluginPolicy, consents: &ConsentSet, now_ms: i64) -> Vec<(Scope, Denial)> {
    policy
        .required
        .iter()
        .filter_map(|scope| decide(scope, policy, consents, now_ms).err().map(|denial| (scope, denial)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::consent::{Consent, PurposeDigest};
    use crate::scope::ScopeSet;
    use proptest::prelude::*;

    const NOW: i64 = 1_000_000;

    fn policy(declared: &[Scope], granted: &[Scope]) -> PluginPolicy {
        let mut policy = PluginPolicy {
            declared: declared.iter().copied().collect(),
            granted: granted.iter().copied().collect(),
            ..PluginPolicy::default()
        };
        for scope in declared {
            policy.purposes[scope.index()] = PurposeDigest::of(&format!("purpose of {scope}"));
        }
        policy
    }

    fn consent(scope: Scope) -> Consent {
        Consent {
            purpose: PurposeDigest::of(&format!("purpose of {scope}")),
            separate: scope.is_sensitive(),
            granted_at_ms: NOW - 10,
            expires_at_ms: None,
            withdrawn_at_ms: None,
        }
    }

    fn consents(list: &[(Scope, Consent)]) -> ConsentSet {
        let mut set = ConsentSet::default();
        for (scope, consent) in list {
            set.set(*scope, *consent);
        }
        set
    }

    #[test]
    fn each_denial_in_its_place() {
        let p = policy(&[Scope::UserName, Scope::UserPhone, Scope::Storage], &[Scope::UserName, Scope::UserPhone]);
        let none = ConsentSet::default();
        assert_eq!(decide(Scope::UserEmail, &p, &none, NOW), Err(Denial::NotDeclared));
        assert_eq!(decide(Scope::Storage, &p, &none, NOW), Err(Denial::NotGranted));
        assert_eq!(decide(Scope::UserName, &p, &none, NOW), Err(Denial::NotConsented));

        let ok = consents(&[(Scope::UserName, consent(Scope::UserName))]);
        assert_eq!(decide(Scope::UserName, &p, &ok, NOW), Ok(()));

        let withdrawn = Consent { withdrawn_at_ms: Some(NOW), ..consent(Scope::UserName) };
        assert_eq!(
            decide(Scope::UserName, &p, &consents(&[(Scope::UserName, withdrawn)]), NOW),
            Err(Denial::ConsentWithdrawn)
        );
        // Recorded by a replica whose clock runs ahead: still withdrawn.
        let ahead = Consent { withdrawn_at_ms: Some(NOW + 5_000), ..consent(Scope::UserName) };
        assert_eq!(
            decide(Scope::UserName, &p, &consents(&[(Scope::UserName, ahead)]), NOW),
            Err(Denial::ConsentWithdrawn)
        );

        let expired = Consent { expires_at_ms: Some(NOW - 1), ..consent(Scope::UserName) };
        assert_eq!(
            decide(Scope::UserName, &p, &consents(&[(Scope::UserName, expired)]), NOW),
            Err(Denial::ConsentExpired)
        );
        let not_yet = Consent { expires_at_ms: Some(NOW + 1), ..consent(Scope::UserName) };
        assert_eq!(decide(Scope::UserName, &p, &consents(&[(Scope::UserName, not_yet)]), NOW), Ok(()));

        let bundled = Consent { separate: false, ..consent(Scope::UserPhone) };
        assert_eq!(
            decide(Scope::UserPhone, &p, &consents(&[(Scope::UserPhone, bundled)]), NOW),
            Err(Denial::NotConsented)
        );

        let other_purpose = Consent { purpose: PurposeDigest::of("something else"), ..consent(Scope::UserName) };
        assert_eq!(
            decide(Scope::UserName, &p, &consents(&[(Scope::UserName, other_purpose)]), NOW),
            Err(Denial::PurposeChanged)
        );
    }

    #[test]
    fn capabilities_need_the_grant_but_no_consent() {
        let p = policy(&[Scope::Storage, Scope::Log], &[Scope::Storage]);
        assert_eq!(decide(Scope::Storage, &p, &ConsentSet::default(), NOW), Ok(()));
        assert_eq!(decide(Scope::Log, &p, &ConsentSet::default(), NOW), Err(Denial::NotGranted));
    }

    #[test]
    fn missing_required_lists_only_required_refusals() {
        let mut p = policy(&[Scope::UserId, Scope::UserPhone], &[Scope::UserId, Scope::UserPhone]);
        p.required.insert(Scope::UserId);
        let none = ConsentSet::default();
        assert_eq!(missing_required(&p, &none, NOW), [(Scope::UserId, Denial::NotConsented)]);
        let ok = consents(&[(Scope::UserId, consent(Scope::UserId))]);
        assert!(missing_required(&p, &ok, NOW).is_empty());
    }

    fn arb_scope_set() -> impl Strategy<Value = ScopeSet> {
        proptest::collection::vec(any::<bool>(), Scope::ALL.len())
            .prop_map(|bits| Scope::ALL.into_iter().zip(bits).filter(|(_, b)| *b).map(|(s, _)| s).collect())
    }

    /// Flags of one consent: (withdrawn, expired, separate, same purpose, unused).
    type ConsentFlags = (bool, bool, bool, bool, bool);

    /// A consent state per scope: absent, or present with flags.
    fn arb_consents() -> impl Strategy<Value = Vec<Option<ConsentFlags>>> {
        proptest::collection::vec(
            proptest::option::of((any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>(), any::<bool>())),
            Scope::ALL.len(),
        )
    }

    proptest! {
        /// Over random (declared, granted, consented, withdrawn, expired,
        /// separate, purpose) states, the gate allows exactly when every rule
        /// holds, and names the first rule that fails.
        #[test]
        fn allows_exactly_the_permitted_set(declared in arb_scope_set(), granted in arb_scope_set(), states in arb_consents()) {
            let declared_list: Vec<Scope> = declared.iter().collect();
            let granted_list: Vec<Scope> = granted.iter().collect();
            let p = policy(&declared_list, &granted_list);
            let mut set = ConsentSet::default();
            for (scope, state) in Scope::ALL.into_iter().zip(&states) {
                if let Some((withdrawn, expired, separate, same_purpose, _)) = *state {
                    set.set(scope, Consent {
                        purpose: if same_purpose { PurposeDigest::of(&format!("purpose of {scope}")) } else { PurposeDigest::of("old") },
                        separate,
                        granted_at_ms: NOW - 100,
                        expires_at_ms: expired.then_some(NOW - 1),
                        withdrawn_at_ms: withdrawn.then_some(NOW - 2),
                    });
                }
            }
            for (scope, state) in Scope::ALL.into_iter().zip(&states) {
                let expected = if !declared.contains(scope) {
                    Err(Denial::NotDeclared)
                } else if !granted.contains(scope) {
                    Err(Denial::NotGranted)
                } else if !scope.is_personal() {
                    Ok(())
                } else {
                    match *state {
                        None => Err(Denial::NotConsented),
                        Some((true, _, _, _, _)) => Err(Denial::ConsentWithdrawn),
                        Some((_, true, _, _, _)) => Err(Denial::ConsentExpired),
                        Some((_, _, false, _, _)) if scope.is_sensitive() => Err(Denial::NotConsented),
                        Some((_, _, _, false, _)) => Err(Denial::PurposeChanged),
                        Some(_) => Ok(()),
                    }
                };
                prop_assert_eq!(decide(scope, &p, &set, NOW), expected, "scope {}", scope);
                // Never allowed without declaration and grant, whatever the consent says.
                if decide(scope, &p, &set, NOW).is_ok() {
                    prop_assert!(declared.contains(scope) && granted.contains(scope));
                }
            }
        }
    }
}
