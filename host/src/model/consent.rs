//! Consent: what a person agreed to, per scope and purpose, and what a
//! plugin version may ask for in a tenant (the gate's inputs).

use crate::model::text::Text;
use crate::scope::{Scope, ScopeSet};

/// A short digest of the purpose text a scope was declared with: consent is
/// given to a purpose, so a changed purpose needs consent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PurposeDigest(pub [u8; 16]);

impl PurposeDigest {
    /// The digest of `purpose` (SHA-256, domain-separated, truncated).
    pub fn of(purpose: &str) -> Self {
        use sha2::{Digest, Sha256};
        let hash = Sha256::new().chain_update(b"workbench.purpose.v1\0").chain_update(purpose.as_bytes()).finalize();
        let mut digest = [0; 16];
        digest.copy_from_slice(&hash[..16]);
        Self(digest)
    }

    /// The digest of a purpose given once or per language. A purpose given
    /// once digests as [`PurposeDigest::of`] its text; one given per language
    /// digests every language and text (in the order of the tags), so a
    /// changed translation is a changed purpose too.
    pub fn of_text(purpose: &Text) -> Self {
        if purpose.is_plain() {
            return Self::of(purpose.primary());
        }
        use sha2::{Digest, Sha256};
        let mut texts: Vec<(String, &str)> = purpose.texts().map(|(l, t)| (l.to_ascii_lowercase(), t)).collect();
        texts.sort_unstable();
        let mut hasher = Sha256::new().chain_update(b"workbench.purpose.v2\0");
        for (language, text) in texts {
            hasher.update(language.as_bytes());
            hasher.update(b"\0");
            hasher.update(text.as_bytes());
            hasher.update(b"\0");
        }
        let mut digest = [0; 16];
        digest.copy_from_slice(&hasher.finalize()[..16]);
        Self(digest)
    }

    /// This purpose with the places the data may be sent to (the manifest's
    /// destinations, sorted): a plugin that sends nowhere keeps the digest
    /// of its purpose alone, and a new destination changes it.
    pub fn sent_to(self, destinations: impl IntoIterator<Item = String>) -> Self {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new().chain_update(b"workbench.purpose.egress.v1\0").chain_update(self.0);
        for destination in destinations {
            hasher.update(destination.as_bytes());
            hasher.update(b"\0");
        }
        let mut digest = [0; 16];
        digest.copy_from_slice(&hasher.finalize()[..16]);
        Self(digest)
    }

    /// Lower-case hex, as stored.
    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    /// Parses [`PurposeDigest::to_hex`] output.
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut digest = [0; 16];
        hex::decode_to_slice(text, &mut digest).ok()?;
        Some(Self(digest))
    }
}

/// What one plugin version may ask for in one tenant: the manifest's
/// declarations and the admin's grant.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PluginPolicy {
    /// Scopes the manifest declares.
    pub declared: ScopeSet,
    /// Scopes the manifest marks required.
    pub required: ScopeSet,
    /// Purpose digest per declared scope, indexed by [`Scope::index`].
    pub purposes: [PurposeDigest; Scope::ALL.len()],
    /// Scopes the tenant admin granted (a subset of `declared`).
    pub granted: ScopeSet,
}

/// The person's consent to one scope of one plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consent {
    /// The purpose the person consented to.
    pub purpose: PurposeDigest,
    /// Given on its own (required for sensitive scopes), not as part of a bundle.
    pub separate: bool,
    /// When it was given, ms since the epoch.
    pub granted_at_ms: i64,
    /// When it lapses, if ever.
    pub expires_at_ms: Option<i64>,
    /// When it was withdrawn, if it was.
    pub withdrawn_at_ms: Option<i64>,
}

/// The person's latest consent per scope for one plugin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConsentSet {
    by_scope: [Option<Consent>; Scope::ALL.len()],
}

impl ConsentSet {
    /// Records `consent` as the latest for `scope`.
    pub fn set(&mut self, scope: Scope, consent: Consent) {
        self.by_scope[scope.index()] = Some(consent);
    }

    /// The latest consent for `scope`.
    pub fn get(&self, scope: Scope) -> Option<&Consent> {
        self.by_scope[scope.index()].as_ref()
    }
}

/// A member's consent to one scope of one plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRow {
    /// Plugin id.
    pub plugin: String,
    /// Scope.
    pub scope: Scope,
    /// The consent.
    pub consent: Consent,
}
