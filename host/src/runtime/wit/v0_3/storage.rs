//! `workbench:plugin/storage`: key-value buckets per (tenant, plugin) and
//! per (tenant, plugin, person), with key, value and quota limits. Every call
//! is one audit record. Its own state: what the call has written.

use wasmtime::component::HasData;

use super::workbench::plugin::storage::{self, Bucket, Quota, StorageError};
use crate::model::audit::{Action, Outcome};
use crate::runtime::gatekeeper::Gatekeeper;
use crate::scope::Scope;
use crate::store::{KvBucket, StorageChange, StorageOp, StorageOutcome};

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
    async fn storage_check(
        &mut self,
        action: Action,
        bucket: Bucket,
        key: &str,
        check_key: bool,
    ) -> wasmtime::Result<Result<(), StorageError>> {
        if let Err(denial) = self.keeper.gate(action, Scope::Storage).await? {
            return Ok(Err(StorageError::Denied(denial.into())));
        }
        if bucket == Bucket::Person && self.keeper.call.nobody {
            // A call about nobody has no person whose bucket it could be.
            let reason = Some("not_consented: the call is about nobody".to_owned());
            self.keeper.record(action, Some(Scope::Storage), Outcome::Denied, reason);
            return Ok(Err(StorageError::Denied(crate::gate::Denial::NotConsented.into())));
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

/// A backend failure traps the call: the host failed, not the plugin.
fn storage_failed(error: impl std::fmt::Display) -> wasmtime::Error {
    wasmtime::format_err!("storage backend failed: {error}")
}

impl StorageHost<'_> {
    /// The change of `key` in `bucket`, to be applied with its record.
    fn change(&self, bucket: Bucket, key: String, op: StorageOp) -> StorageChange {
        let target = self.bucket(bucket);
        StorageChange {
            tenant: target.tenant.to_owned(),
            plugin: target.plugin.to_owned(),
            person: target.person.map(str::to_owned),
            key,
            op,
            consents_seen: std::sync::Arc::clone(&self.keeper.consents_at_start),
        }
    }
}

/// What the guest is told of a change that was not applied.
fn not_applied(outcome: StorageOutcome) -> Option<StorageError> {
    match outcome {
        StorageOutcome::Set | StorageOutcome::Deleted(_) => None,
        StorageOutcome::OverQuota(exceeded) => Some(StorageError::QuotaExceeded(Quota {
            limit_bytes: exceeded.limit_bytes,
            used_bytes: exceeded.used_bytes,
        })),
        StorageOutcome::Refused(denial) => Some(StorageError::Denied(denial.into())),
        StorageOutcome::RateLimited(_) => Some(StorageError::Denied(crate::gate::Denial::QuotaExceeded.into())),
    }
}

impl storage::Host for StorageHost<'_> {
    async fn get(&mut self, bucket: Bucket, key: String) -> StorageResult<Option<Vec<u8>>> {
        if let Err(e) = self.storage_check(Action::StorageGet, bucket, &key, true).await? {
            return Ok(Err(e));
        }
        let value = self.keeper.services.store.kv_get(self.bucket(bucket), &key).await.map_err(storage_failed)?;
        self.keeper.record(Action::StorageGet, Some(Scope::Storage), Outcome::Allowed, None);
        Ok(Ok(value))
    }

    async fn set(&mut self, bucket: Bucket, key: String, value: Vec<u8>) -> StorageResult<()> {
        if let Err(e) = self.storage_check(Action::StorageSet, bucket, &key, true).await? {
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
        let op = StorageOp::Set {
            value,
            quota_bytes: self.keeper.services.limits.storage_bucket_bytes,
            now_ms: crate::now_ms(),
        };
        let change = self.change(bucket, key, op);
        let outcome = self.keeper.effect(Action::StorageSet, Scope::Storage, change).await.map_err(storage_failed)?;
        Ok(not_applied(outcome).map_or(Ok(()), Err))
    }

    async fn delete(&mut self, bucket: Bucket, key: String) -> StorageResult<bool> {
        if let Err(e) = self.storage_check(Action::StorageDelete, bucket, &key, true).await? {
            return Ok(Err(e));
        }
        let change = self.change(bucket, key, StorageOp::Delete);
        let outcome =
            self.keeper.effect(Action::StorageDelete, Scope::Storage, change).await.map_err(storage_failed)?;
        Ok(match outcome {
            StorageOutcome::Deleted(existed) => Ok(existed),
            other => not_applied(other).map_or(Ok(false), Err),
        })
    }

    async fn list_keys(&mut self, bucket: Bucket, prefix: String) -> StorageResult<Vec<String>> {
        if let Err(e) = self.storage_check(Action::StorageList, bucket, &prefix, false).await? {
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
