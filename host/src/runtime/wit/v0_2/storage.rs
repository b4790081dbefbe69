//! `workbench:plugin/storage`: key-value buckets per (tenant, plugin) and
//! per (tenant, plugin, person), with key, value and quota limits. Every call
//! is one audit record. Its own state: what the call has written.

use wasmtime::component::HasData;

use super::workbench::plugin::storage::{self, Bucket, Quota, StorageError};
use crate::model::audit::{Action, Outcome};
use crate::runtime::gatekeeper::Gatekeeper;
use crate::scope::Scope;
use crate::store::KvBucket;

type StorageResult<T> = wasmtime::Result<Result<T, StorageError>>;

/// What storage keeps for one call.
#[derive(Debug, Default)]
pub struct StorageState {
    /// Bytes of keys and values this call has asked storage to write.
    written_bytes: u64,
}

/// The interface's view of a call: the gatekeeper and its own state.
#[derive(Debug)]
pub struct StorageHost<'a> {
    /// The call's gatekeeper.
    pub keeper: &'a mut Gatekeeper,
    /// The interface's state.
    pub state: &'a mut StorageState,
}

/// Links `storage` to [`StorageHost`] (see `runtime/state.rs`).
#[derive(Debug)]
pub struct Storage;

impl HasData for Storage {
    type Data<'a> = StorageHost<'a>;
}

/// Most keys `list-keys` returns.
const LIST_LIMIT: u32 = 1_000;

impl StorageHost<'_> {
    /// Gate and key checks shared by every storage call. A refusal is audited
    /// here; the caller audits the outcome of the operation.
    fn storage_check(
        &mut self,
        action: Action,
        key: &str,
        check_key: bool,
    ) -> wasmtime::Result<Result<(), StorageError>> {
        if let Err(denial) = self.keeper.gate(action, Scope::Storage)? {
            return Ok(Err(StorageError::Denied(denial.into())));
        }
        if check_key {
            let max = self.keeper.services.limits.storage_key_bytes;
            let problem = if key.is_empty() {
                Some("keys may not be empty".to_owned())
            } else if key.len() > max {
                Some(format!("keys are at most {max} bytes, this one is {}", key.len()))
            } else if key.chars().any(char::is_control) {
                Some("keys may not contain control characters".to_owned())
            } else {
                None
            };
            if let Some(problem) = problem {
                self.keeper.record(action, Some(Scope::Storage), Outcome::Failed, Some("invalid_key".into()));
                return Ok(Err(StorageError::InvalidKey(problem)));
            }
        }
        Ok(Ok(()))
    }

    fn bucket(&self, bucket: Bucket) -> KvBucket<'_> {
        let call = &self.keeper.call;
        KvBucket {
            tenant: &call.tenant,
            plugin: &call.manifest.id,
            person: match bucket {
                Bucket::Plugin => None,
                Bucket::Person => Some(&call.member),
            },
        }
    }
}

/// A bucket's address owned, for a write that runs in a task of its own.
struct OwnedBucket {
    tenant: String,
    plugin: String,
    person: Option<String>,
}

impl OwnedBucket {
    fn of(host: &StorageHost<'_>, bucket: Bucket) -> Self {
        let borrowed = host.bucket(bucket);
        Self {
            tenant: borrowed.tenant.to_owned(),
            plugin: borrowed.plugin.to_owned(),
            person: borrowed.person.map(str::to_owned),
        }
    }

    fn borrow(&self) -> KvBucket<'_> {
        KvBucket { tenant: &self.tenant, plugin: &self.plugin, person: self.person.as_deref() }
    }
}

/// A backend failure traps the call: the host failed, not the plugin.
fn storage_failed(error: crate::store::StoreError) -> wasmtime::Error {
    wasmtime::format_err!("storage backend failed: {error}")
}

impl storage::Host for StorageHost<'_> {
    async fn get(&mut self, bucket: Bucket, key: String) -> StorageResult<Option<Vec<u8>>> {
        if let Err(e) = self.storage_check(Action::StorageGet, &key, true)? {
            return Ok(Err(e));
        }
        let value = self.keeper.services.store.kv_get(self.bucket(bucket), &key).await.map_err(storage_failed)?;
        self.keeper.record(Action::StorageGet, Some(Scope::Storage), Outcome::Allowed, None);
        Ok(Ok(value))
    }

    async fn set(&mut self, bucket: Bucket, key: String, value: Vec<u8>) -> StorageResult<()> {
        if let Err(e) = self.storage_check(Action::StorageSet, &key, true)? {
            return Ok(Err(e));
        }
        let max = self.keeper.services.limits.storage_value_bytes;
        if value.len() > max {
            self.keeper.record(
                Action::StorageSet,
                Some(Scope::Storage),
                Outcome::Failed,
                Some("value_too_large".into()),
            );
            return Ok(Err(StorageError::ValueTooLarge(max as u64)));
        }
        // What one call may write in all: a call cannot turn the shared
        // database into its own write queue, whatever its buckets' room.
        let size = (key.len() + value.len()) as u64;
        let budget = self.keeper.services.limits.storage_call_write_bytes;
        if self.state.written_bytes + size > budget {
            let reason = format!(
                "quota_exceeded: a call may write {budget} bytes, this one has written {}",
                self.state.written_bytes
            );
            self.keeper.record(Action::StorageSet, Some(Scope::Storage), Outcome::Denied, Some(reason));
            return Ok(Err(StorageError::Denied(crate::gate::Denial::QuotaExceeded.into())));
        }
        self.state.written_bytes += size;
        let quota = self.keeper.services.limits.storage_bucket_bytes;
        let (store, target) = (std::sync::Arc::clone(&self.keeper.services.store), OwnedBucket::of(self, bucket));
        let work = async move { store.kv_set(target.borrow(), &key, &value, quota, crate::now_ms()).await };
        let written = self
            .keeper
            .effect(Action::StorageSet, work, |written| match written {
                Ok(()) => (Outcome::Allowed, None),
                Err(_) => (Outcome::Denied, Some("quota_exceeded".into())),
            })
            .await
            .map_err(storage_failed)?;
        Ok(written.map_err(|exceeded| {
            StorageError::QuotaExceeded(Quota { limit_bytes: exceeded.limit_bytes, used_bytes: exceeded.used_bytes })
        }))
    }

    async fn delete(&mut self, bucket: Bucket, key: String) -> StorageResult<bool> {
        if let Err(e) = self.storage_check(Action::StorageDelete, &key, true)? {
            return Ok(Err(e));
        }
        let (store, target) = (std::sync::Arc::clone(&self.keeper.services.store), OwnedBucket::of(self, bucket));
        let work = async move { store.kv_delete(target.borrow(), &key).await };
        let existed = self
            .keeper
            .effect(Action::StorageDelete, work, |_| (Outcome::Allowed, None))
            .await
            .map_err(storage_failed)?;
        Ok(Ok(existed))
    }

    async fn list_keys(&mut self, bucket: Bucket, prefix: String) -> StorageResult<Vec<String>> {
        if let Err(e) = self.storage_check(Action::StorageList, &prefix, false)? {
            return Ok(Err(e));
        }
        if prefix.len() > self.keeper.services.limits.storage_key_bytes {
            self.keeper.record(Action::StorageList, Some(Scope::Storage), Outcome::Failed, Some("invalid_key".into()));
            return Ok(Err(StorageError::InvalidKey("the prefix is longer than any key can be".into())));
        }
        let keys = self
            .keeper
            .services
            .store
            .kv_list(self.bucket(bucket), &prefix, LIST_LIMIT)
            .await
            .map_err(storage_failed)?;
        self.keeper.record(Action::StorageList, Some(Scope::Storage), Outcome::Allowed, None);
        Ok(Ok(keys))
    }
}
