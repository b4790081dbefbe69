//! `0.1.0` onto `0.3.0`: each old function calls the new one and converts
//! the types, which have the same shapes in both versions.

use super::super::v0_3::{self, workbench::plugin as new};
use super::workbench::plugin::{log, permissions, profile, storage, types};
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

impl profile::Host for Gatekeeper {
    async fn user_id(&mut self) -> Field<String> {
        old(new::user_id::Host::get(self).await, |v| v)
    }

    async fn avatar(&mut self) -> Field<Option<String>> {
        old(new::user_avatar::Host::get(self).await, |v| v)
    }

    async fn nickname(&mut self) -> Field<Option<String>> {
        old(new::user_nickname::Host::get(self).await, |v| v)
    }

    async fn name(&mut self) -> Field<String> {
        old(new::user_name::Host::get(self).await, |v| v)
    }

    async fn gender(&mut self) -> Field<profile::GenderKind> {
        old(new::user_gender::Host::get(self).await, |gender| match gender {
            new::types::GenderKind::Male => profile::GenderKind::Male,
            new::types::GenderKind::Female => profile::GenderKind::Female,
            new::types::GenderKind::Undisclosed => profile::GenderKind::Undisclosed,
        })
    }

    async fn birthday(&mut self) -> Field<Option<profile::Date>> {
        old(new::user_birthday::Host::get(self).await, |date| {
            date.map(|d| profile::Date { year: d.year, month: d.month, day: d.day })
        })
    }

    async fn region(&mut self) -> Field<Option<String>> {
        old(new::user_region::Host::get(self).await, |v| v)
    }

    async fn email(&mut self) -> Field<Option<String>> {
        old(new::user_email::Host::get(self).await, |v| v)
    }

    async fn phone(&mut self) -> Field<Option<String>> {
        old(new::user_phone::Host::get(self).await, |v| v)
    }

    async fn department(&mut self) -> Field<Option<profile::Position>> {
        old(new::org_department::Host::get(self).await, |position| {
            position.map(|p| profile::Position { name: p.name, title: p.title })
        })
    }
}

impl permissions::Host for Gatekeeper {
    async fn customers(&mut self) -> Field<Vec<permissions::CustomerPermission>> {
        old(new::perm_customer::Host::get(self).await, |list| {
            list.into_iter()
                .map(|c| permissions::CustomerPermission {
                    customer_id: c.customer_id,
                    customer_name: c.customer_name,
                    access: match c.access {
                        new::types::CustomerAccess::View => permissions::CustomerAccess::View,
                        new::types::CustomerAccess::Edit => permissions::CustomerAccess::Edit,
                        new::types::CustomerAccess::Manage => permissions::CustomerAccess::Manage,
                    },
                })
                .collect()
        })
    }

    async fn approvals(&mut self) -> Field<Vec<permissions::ApprovalPermission>> {
        old(new::perm_approval::Host::get(self).await, |list| {
            list.into_iter()
                .map(|a| permissions::ApprovalPermission {
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
