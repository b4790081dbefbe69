//! `0.2.0` onto `0.3.0`: each old function calls the new one and converts
//! the types, which have the same shapes in both versions (0.3.0 only adds
//! `notify` and the `events` export).

use super::super::v0_3::{self, workbench::plugin as new};
use super::workbench::plugin::{
    log, org_department, perm_approval, perm_customer, storage, types, user_avatar, user_birthday, user_email,
    user_gender, user_id, user_name, user_nickname, user_phone, user_region,
};
use super::{AccessError, PluginError, Request, Response};
use crate::runtime::gatekeeper::Gatekeeper;

type Field<T> = wasmtime::Result<Result<T, AccessError>>;

impl From<v0_3::AccessError> for AccessError {
    fn from(error: v0_3::AccessError) -> Self {
        use v0_3::AccessError as New;
        match error {
            New::NotDeclared => Self::NotDeclared,
            New::NotGranted => Self::NotGranted,
            New::NotConsented => Self::NotConsented,
            New::ConsentWithdrawn => Self::ConsentWithdrawn,
            New::ConsentExpired => Self::ConsentExpired,
            New::PurposeChanged => Self::PurposeChanged,
            New::QuotaExceeded => Self::QuotaExceeded,
        }
    }
}

/// An answer of the new interface as the old one's.
fn old<N, O>(answer: wasmtime::Result<Result<N, v0_3::AccessError>>, convert: impl FnOnce(N) -> O) -> Field<O> {
    Ok(answer?.map(convert).map_err(AccessError::from))
}

impl types::Host for Gatekeeper {}

/// A scope whose value has the same type in both versions.
macro_rules! same {
    ($($scope:ident: $ty:ty),* $(,)?) => {$(
        impl $scope::Host for Gatekeeper {
            async fn get(&mut self) -> Field<$ty> {
                old(new::$scope::Host::get(self).await, |v| v)
            }
        }
    )*};
}

same!(
    user_id: String,
    user_avatar: Option<String>,
    user_nickname: Option<String>,
    user_name: String,
    user_region: Option<String>,
    user_email: Option<String>,
    user_phone: Option<String>,
);

impl user_gender::Host for Gatekeeper {
    async fn get(&mut self) -> Field<types::GenderKind> {
        old(new::user_gender::Host::get(self).await, |gender| match gender {
            new::types::GenderKind::Male => types::GenderKind::Male,
            new::types::GenderKind::Female => types::GenderKind::Female,
            new::types::GenderKind::Undisclosed => types::GenderKind::Undisclosed,
        })
    }
}

impl user_birthday::Host for Gatekeeper {
    async fn get(&mut self) -> Field<Option<types::Date>> {
        old(new::user_birthday::Host::get(self).await, |date| {
            date.map(|d| types::Date { year: d.year, month: d.month, day: d.day })
        })
    }
}

impl org_department::Host for Gatekeeper {
    async fn get(&mut self) -> Field<Option<types::Position>> {
        old(new::org_department::Host::get(self).await, |position| {
            position.map(|p| types::Position { name: p.name, title: p.title })
        })
    }
}

impl perm_customer::Host for Gatekeeper {
    async fn get(&mut self) -> Field<Vec<types::CustomerPermission>> {
        old(new::perm_customer::Host::get(self).await, |list| {
            list.into_iter()
                .map(|c| types::CustomerPermission {
                    customer_id: c.customer_id,
                    customer_name: c.customer_name,
                    access: match c.access {
                        new::types::CustomerAccess::View => types::CustomerAccess::View,
                        new::types::CustomerAccess::Edit => types::CustomerAccess::Edit,
                        new::types::CustomerAccess::Manage => types::CustomerAccess::Manage,
                    },
                })
                .collect()
        })
    }
}

impl perm_approval::Host for Gatekeeper {
    async fn get(&mut self) -> Field<Vec<types::ApprovalPermission>> {
        old(new::perm_approval::Host::get(self).await, |list| {
            list.into_iter()
                .map(|a| types::ApprovalPermission {
                    process_id: a.process_id,
                    process_name: a.process_name,
                    can_approve: a.can_approve,
                    can_initiate: a.can_initiate,
                    max_amount_cents: a.max_amount_cents,
                })
                .collect()
        })
    }
}

type StorageResult<T> = wasmtime::Result<Result<T, storage::StorageError>>;

fn bucket(bucket: storage::Bucket) -> new::storage::Bucket {
    match bucket {
        storage::Bucket::Plugin => new::storage::Bucket::Plugin,
        storage::Bucket::Person => new::storage::Bucket::Person,
    }
}

fn stored<T>(answer: wasmtime::Result<Result<T, new::storage::StorageError>>) -> StorageResult<T> {
    use new::storage::StorageError as New;
    Ok(answer?.map_err(|error| match error {
        New::Denied(denial) => storage::StorageError::Denied(denial.into()),
        New::InvalidKey(problem) => storage::StorageError::InvalidKey(problem),
        New::ValueTooLarge(max) => storage::StorageError::ValueTooLarge(max),
        New::QuotaExceeded(q) => storage::StorageError::QuotaExceeded(storage::Quota {
            limit_bytes: q.limit_bytes,
            used_bytes: q.used_bytes,
        }),
    }))
}

impl storage::Host for v0_3::storage::StorageHost<'_> {
    async fn get(&mut self, at: storage::Bucket, key: String) -> StorageResult<Option<Vec<u8>>> {
        stored(new::storage::Host::get(self, bucket(at), key).await)
    }

    async fn set(&mut self, at: storage::Bucket, key: String, value: Vec<u8>) -> StorageResult<()> {
        stored(new::storage::Host::set(self, bucket(at), key, value).await)
    }

    async fn delete(&mut self, at: storage::Bucket, key: String) -> StorageResult<bool> {
        stored(new::storage::Host::delete(self, bucket(at), key).await)
    }

    async fn list_keys(&mut self, at: storage::Bucket, prefix: String) -> StorageResult<Vec<String>> {
        stored(new::storage::Host::list_keys(self, bucket(at), prefix).await)
    }
}

impl log::Host for v0_3::log::LogHost<'_> {
    async fn write(&mut self, level: log::Level, message: String) -> wasmtime::Result<()> {
        let level = match level {
            log::Level::Trace => new::log::Level::Trace,
            log::Level::Debug => new::log::Level::Debug,
            log::Level::Info => new::log::Level::Info,
            log::Level::Warn => new::log::Level::Warn,
            log::Level::Error => new::log::Level::Error,
        };
        new::log::Host::write(self, level, message).await
    }
}

impl From<&v0_3::Request> for Request {
    fn from(request: &v0_3::Request) -> Self {
        Self {
            method: request.method.clone(),
            path: request.path.clone(),
            query: request.query.clone(),
            headers: request.headers.clone(),
            body: request.body.clone(),
        }
    }
}

impl From<Response> for v0_3::Response {
    fn from(response: Response) -> Self {
        Self { status: response.status, headers: response.headers, body: response.body }
    }
}

impl From<PluginError> for v0_3::PluginError {
    fn from(error: PluginError) -> Self {
        match error {
            PluginError::BadRequest(m) => Self::BadRequest(m),
            PluginError::NotFound(m) => Self::NotFound(m),
            PluginError::Internal(m) => Self::Internal(m),
        }
    }
}
