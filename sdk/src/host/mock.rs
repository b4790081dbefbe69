//! Native stand-in for the host: every call reads the [`MockHost`] installed on
//! this thread by [`MockHost::call`].

use crate::AccessError;
use crate::log::Level;
use crate::permissions::{ApprovalPermission, CustomerPermission};
use crate::profile::{Date, Department, Gender};
use crate::storage::{Bucket, StorageError};
use crate::testing::{MockHost, MockState};

fn with_state<R>(f: impl FnOnce(&mut MockState) -> R) -> R {
    MockHost::with_current(f)
}

/// Reads the field of `scope`, recording the attempt.
fn field<T: Clone>(scope: &'static str, pick: impl FnOnce(&MockState) -> Option<T>) -> Result<T, AccessError> {
    with_state(|state| {
        let outcome = match state.denials.get(scope) {
            Some(denial) => Err(*denial),
            None => pick(state).ok_or(AccessError::NotConsented),
        };
        state.accesses.push((scope.to_owned(), outcome.as_ref().map(|_| ()).map_err(|e| *e)));
        outcome
    })
}

pub(crate) fn user_id() -> Result<String, AccessError> {
    field("user.id", |s| s.user_id.clone())
}
pub(crate) fn avatar() -> Result<Option<String>, AccessError> {
    field("user.avatar", |s| s.avatar.clone())
}
pub(crate) fn nickname() -> Result<Option<String>, AccessError> {
    field("user.nickname", |s| s.nickname.clone())
}
pub(crate) fn name() -> Result<String, AccessError> {
    field("user.name", |s| s.name.clone())
}
pub(crate) fn gender() -> Result<Gender, AccessError> {
    field("user.gender", |s| s.gender)
}
pub(crate) fn birthday() -> Result<Option<Date>, AccessError> {
    field("user.birthday", |s| s.birthday)
}
pub(crate) fn region() -> Result<Option<String>, AccessError> {
    field("user.region", |s| s.region.clone())
}
pub(crate) fn email() -> Result<Option<String>, AccessError> {
    field("user.email", |s| s.email.clone())
}
pub(crate) fn phone() -> Result<Option<String>, AccessError> {
    field("user.phone", |s| s.phone.clone())
}
pub(crate) fn department() -> Result<Option<Department>, AccessError> {
    field("org.department", |s| s.department.clone())
}
pub(crate) fn customers() -> Result<Vec<CustomerPermission>, AccessError> {
    field("perm.customer", |s| s.customers.clone())
}
pub(crate) fn approvals() -> Result<Vec<ApprovalPermission>, AccessError> {
    field("perm.approval", |s| s.approvals.clone())
}

fn storage<T>(op: impl FnOnce(&mut MockState) -> Result<T, StorageError>) -> Result<T, StorageError> {
    with_state(|state| {
        let outcome = match state.denials.get("storage") {
            Some(denial) => Err(StorageError::Denied(*denial)),
            None if !state.storage_granted => Err(StorageError::Denied(AccessError::NotGranted)),
            None => op(state),
        };
        let recorded = match &outcome {
            Ok(_) => Ok(()),
            Err(StorageError::Denied(reason)) => Err(*reason),
            Err(_) => Ok(()),
        };
        state.accesses.push(("storage".to_owned(), recorded));
        outcome
    })
}

fn check_key(key: &str) -> Result<(), StorageError> {
    if key.is_empty() || key.len() > 256 {
        return Err(StorageError::InvalidKey(format!("keys are 1 to 256 bytes, this one is {}", key.len())));
    }
    if key.chars().any(char::is_control) {
        return Err(StorageError::InvalidKey("keys may not contain control characters".into()));
    }
    Ok(())
}

pub(crate) fn storage_get(bucket: Bucket, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
    storage(|s| {
        check_key(key)?;
        Ok(s.storage.get(&(bucket, key.to_owned())).cloned())
    })
}

pub(crate) fn storage_set(bucket: Bucket, key: &str, value: &[u8]) -> Result<(), StorageError> {
    storage(|s| {
        check_key(key)?;
        let used: usize =
            s.storage.iter().filter(|((b, k), _)| *b == bucket && k != key).map(|((_, k), v)| k.len() + v.len()).sum();
        if (used + key.len() + value.len()) as u64 > s.quota_bytes {
            return Err(StorageError::QuotaExceeded { limit_bytes: s.quota_bytes, used_bytes: used as u64 });
        }
        s.storage.insert((bucket, key.to_owned()), value.to_vec());
        Ok(())
    })
}

pub(crate) fn storage_delete(bucket: Bucket, key: &str) -> Result<bool, StorageError> {
    storage(|s| {
        check_key(key)?;
        Ok(s.storage.remove(&(bucket, key.to_owned())).is_some())
    })
}

pub(crate) fn storage_list_keys(bucket: Bucket, prefix: &str) -> Result<Vec<String>, StorageError> {
    storage(|s| {
        Ok(s.storage
            .keys()
            .filter(|(b, k)| *b == bucket && k.starts_with(prefix))
            .map(|(_, k)| k.clone())
            .take(1000)
            .collect())
    })
}

pub(crate) fn config_get(key: &str) -> Option<String> {
    with_state(|state| state.config.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
}

pub(crate) fn config_all() -> Vec<(String, String)> {
    with_state(|state| state.config.clone())
}

pub(crate) fn log(level: Level, message: &str) {
    with_state(|state| state.logs.push((level, message.to_owned())));
}

/// Answers a request from the stubs set with `MockHost::with_destination`,
/// recording it; a URL no stub covers is refused, as the host refuses an
/// undeclared destination.
pub(crate) fn send_http(
    request: &crate::http::Outgoing,
    _target: &crate::http::Target,
) -> Result<crate::http::Reply, crate::http::HttpError> {
    with_state(|state| {
        state.requests.push(request.clone());
        // The latest stub that covers the URL answers.
        let stub = state.destinations.iter().rev().find(|(prefix, _)| {
            request
                .url
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']))
        });
        match stub {
            Some((_, answer)) => answer.clone(),
            None => Err(crate::http::HttpError::Refused),
        }
    })
}

pub(crate) fn notify(title: &str, text: &str, route: &str) -> Result<String, crate::notify::NotifyError> {
    use crate::notify::NotifyError;
    with_state(|state| {
        let outcome = match state.denials.get("notify") {
            Some(denial) => Err(NotifyError::Denied(*denial)),
            None if !state.notify_granted => Err(NotifyError::Denied(AccessError::NotConsented)),
            None if title.trim().is_empty() || title.chars().count() > 100 => {
                Err(NotifyError::Invalid("the title must be 1 to 100 characters".into()))
            }
            None if text.chars().count() > 1000 => {
                Err(NotifyError::Invalid("the text must be at most 1000 characters".into()))
            }
            None if !route.starts_with('/') || route.starts_with("//") => {
                Err(NotifyError::Invalid(format!("the route {route:?} must be a path inside the plugin")))
            }
            None => {
                state.notifications.push((title.to_owned(), text.to_owned(), route.to_owned()));
                Ok(format!("mock-{}", state.notifications.len()))
            }
        };
        let recorded = match &outcome {
            Err(NotifyError::Denied(reason)) => Err(*reason),
            _ => Ok(()),
        };
        state.accesses.push(("notify".to_owned(), recorded));
        outcome
    })
}
