//! Open ids: the user id a plugin sees. Derived with HMAC-SHA-256 from a host
//! secret, the tenant, the plugin and the member, so it is stable for one
//! plugin, different for every other, and reveals nothing of the internal id.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The secret open ids are derived from.
#[derive(Clone)]
pub struct OpenIdKey([u8; 32]);

impl std::fmt::Debug for OpenIdKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpenIdKey(..)")
    }
}

impl OpenIdKey {
    /// A key from 32 secret bytes.
    pub fn new(secret: [u8; 32]) -> Self {
        Self(secret)
    }

    /// The open id of `member` for `plugin` in `tenant`: `ou_` and 32 hex digits.
    pub fn derive(&self, tenant: &str, plugin: &str, member: &str) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).expect("HMAC takes any key length");
        for part in [b"workbench.open-id.v1".as_slice(), tenant.as_bytes(), plugin.as_bytes(), member.as_bytes()] {
            mac.update(&(part.len() as u32).to_be_bytes());
            mac.update(part);
        }
        let tag = mac.finalize().into_bytes();
        format!("ou_{}", hex::encode(&tag[..16]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_per_plugin_distinct_across_plugins_tenants_and_keys() {
        let key = OpenIdKey::new([1; 32]);
        let a = key.derive("demo", "site-daily-report", "zhang.wei");
        assert_eq!(a, key.derive("demo", "site-daily-report", "zhang.wei"));
        assert_ne!(a, key.derive("demo", "customer-visit", "zhang.wei"));
        assert_ne!(a, key.derive("other", "site-daily-report", "zhang.wei"));
        assert_ne!(a, OpenIdKey::new([2; 32]).derive("demo", "site-daily-report", "zhang.wei"));
        assert!(!a.contains("zhang"));
        assert_eq!(a.len(), 35);
    }
}
