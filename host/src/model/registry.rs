//! Published plugin versions and who published them.

use serde::Serialize;

use super::manifest::Manifest;

/// Who published a plugin: a developer of a tenant. The first publisher of
/// an id owns it; later versions must come from them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Publisher {
    /// The developer's tenant.
    pub tenant: String,
    /// The developer's member id.
    pub member: String,
}

/// A published plugin version without its component bytes.
#[derive(Debug, Clone)]
pub struct PluginRelease {
    /// Its manifest.
    pub manifest: Manifest,
    /// SHA-256 of the component, hex.
    pub digest: String,
    /// Who published it.
    pub publisher: Publisher,
    /// Fingerprint of the Ed25519 key that signed the component, if signed.
    pub signed_by: Option<String>,
    /// Component size in bytes.
    pub size_bytes: u64,
    /// When it was published, ms since the epoch.
    pub published_at_ms: i64,
}

/// A published plugin version with its component.
#[derive(Debug, Clone)]
pub struct PluginVersion {
    /// What is known about it.
    pub release: PluginRelease,
    /// The component bytes.
    pub component: Vec<u8>,
}
