//! The host side of the WIT contract, one module per version of the
//! `workbench:plugin` package. The newest (`v0_3`, bound from `wit/`) holds
//! the implementation: one file per interface group, each keeping its own
//! state and reaching the caller, the gate and the audit buffer through the
//! call's [`Gatekeeper`](super::gatekeeper::Gatekeeper). The older versions
//! (`v0_1` and `v0_2`, bound from `wit/v0.1.0/` and `wit/v0.2.0/`) forward
//! every function to it.
//! `runtime/state.rs` links every version's interfaces side by side, so a
//! component built against any of them runs; `runtime/cache.rs` reads which
//! version a component was built against from its handler export.

/// What every older version's `forward.rs` converts the same way: access
/// errors, storage, log, and the handler's request, response and error. It
/// expands in the forwarding module, whose `storage`, `log`, `types`,
/// `AccessError`, `Request`, `Response`, `PluginError`, `v0_3` and `new`
/// (the current contract's `workbench::plugin`) it uses.
macro_rules! forward_common {
    () => {
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
    };
}

pub mod v0_1;
pub mod v0_2;
pub mod v0_3;

/// The contract versions this host links, oldest first.
pub const SUPPORTED: [&str; 3] = ["0.1.0", "0.2.0", "0.3.0"];

/// The newest contract version, the one `wit/` holds.
pub const CURRENT: &str = "0.3.0";
