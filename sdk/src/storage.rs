//! Key-value storage in a plugin-wide bucket and a per-person bucket.
//!
//! Needs the `storage` capability. Keys are 1 to 256 bytes; values and
//! buckets have size quotas set by the host, reported as
//! [`StorageError::QuotaExceeded`].

use crate::{AccessError, host};

/// Which bucket a key lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bucket {
    /// Shared by everyone in the tenant who uses the plugin.
    Plugin,
    /// Private to the calling person; deleted when they withdraw consent.
    Person,
}

/// Why a storage call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageError {
    /// The capability is not declared or not granted.
    Denied(AccessError),
    /// The key is empty, too long or has control characters.
    InvalidKey(String),
    /// The value exceeds the per-value limit (bytes).
    ValueTooLarge(u64),
    /// Writing would exceed the bucket's quota.
    QuotaExceeded {
        /// The bucket's limit in bytes.
        limit_bytes: u64,
        /// What it holds now.
        used_bytes: u64,
    },
}

impl std::fmt::Display for StorageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Denied(reason) => write!(f, "storage denied: {reason}"),
            Self::InvalidKey(why) => write!(f, "invalid key: {why}"),
            Self::ValueTooLarge(limit) => write!(f, "value larger than {limit} bytes"),
            Self::QuotaExceeded { limit_bytes, used_bytes } => {
                write!(f, "quota exceeded: {used_bytes} of {limit_bytes} bytes used")
            }
        }
    }
}

impl std::error::Error for StorageError {}

/// Reads a value; `None` when absent.
pub fn get(bucket: Bucket, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
    host::storage_get(bucket, key)
}

/// Reads a value as UTF-8 text (lossily).
pub fn get_string(bucket: Bucket, key: &str) -> Result<Option<String>, StorageError> {
    Ok(get(bucket, key)?.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
}

/// Writes a value, replacing any earlier one.
pub fn set(bucket: Bucket, key: &str, value: &[u8]) -> Result<(), StorageError> {
    host::storage_set(bucket, key, value)
}

/// Deletes a key; `true` when it existed.
pub fn delete(bucket: Bucket, key: &str) -> Result<bool, StorageError> {
    host::storage_delete(bucket, key)
}

/// Lists keys starting with `prefix`, in byte order, at most 1000.
pub fn list_keys(bucket: Bucket, prefix: &str) -> Result<Vec<String>, StorageError> {
    host::storage_list_keys(bucket, prefix)
}
