//! The component side: generated bindings and conversions to the SDK's types.

use crate::log::Level;
use crate::permissions::{ApprovalPermission, CustomerAccess, CustomerPermission};
use crate::profile::{Date, Department, Gender};
use crate::storage::{Bucket, StorageError};
use crate::{AccessError, Plugin, PluginError, Request, Response};

#[doc(hidden)]
#[allow(missing_docs, unsafe_code, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "plugin-with-events",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "__export_handler",
        default_bindings_module: "workbench_sdk::__private::bindings",
    });
}

/// `wasi:config/store`, the standard interface the host serves the
/// plugin's configuration through (not part of the `workbench:plugin`
/// contract; the same text as the host's).
#[allow(missing_docs, unsafe_code, clippy::all)]
mod config_bindings {
    wit_bindgen::generate!({
        inline: "
            package wasi:config@0.2.0-draft;
            interface store {
                variant error { upstream(string), io(string) }
                get: func(key: string) -> result<option<string>, error>;
                get-all: func() -> result<list<tuple<string, string>>, error>;
            }
            world imports { import store; }
        ",
        world: "imports",
    });
}

use bindings::exports::workbench::plugin::handler as wit_handler;
use bindings::workbench::plugin::{log as wit_log, storage as wit_storage, types as wit_types};
use bindings::workbench::plugin::{
    org_department, perm_approval, perm_customer, user_avatar, user_birthday, user_email, user_gender, user_id,
    user_name, user_nickname, user_phone, user_region,
};

impl From<wit_types::AccessError> for AccessError {
    fn from(error: wit_types::AccessError) -> Self {
        use wit_types::AccessError as W;
        match error {
            W::NotDeclared => Self::NotDeclared,
            W::NotGranted => Self::NotGranted,
            W::NotConsented => Self::NotConsented,
            W::ConsentWithdrawn => Self::ConsentWithdrawn,
            W::ConsentExpired => Self::ConsentExpired,
            W::PurposeChanged => Self::PurposeChanged,
            W::QuotaExceeded => Self::QuotaExceeded,
        }
    }
}

fn access<T>(result: Result<T, wit_types::AccessError>) -> Result<T, AccessError> {
    result.map_err(AccessError::from)
}

pub(crate) fn user_id() -> Result<String, AccessError> {
    access(user_id::get())
}
pub(crate) fn avatar() -> Result<Option<String>, AccessError> {
    access(user_avatar::get())
}
pub(crate) fn nickname() -> Result<Option<String>, AccessError> {
    access(user_nickname::get())
}
pub(crate) fn name() -> Result<String, AccessError> {
    access(user_name::get())
}
pub(crate) fn gender() -> Result<Gender, AccessError> {
    access(user_gender::get()).map(|gender| match gender {
        wit_types::GenderKind::Male => Gender::Male,
        wit_types::GenderKind::Female => Gender::Female,
        wit_types::GenderKind::Undisclosed => Gender::Undisclosed,
    })
}
pub(crate) fn birthday() -> Result<Option<Date>, AccessError> {
    access(user_birthday::get()).map(|date| date.map(|d| Date { year: d.year, month: d.month, day: d.day }))
}
pub(crate) fn region() -> Result<Option<String>, AccessError> {
    access(user_region::get())
}
pub(crate) fn email() -> Result<Option<String>, AccessError> {
    access(user_email::get())
}
pub(crate) fn phone() -> Result<Option<String>, AccessError> {
    access(user_phone::get())
}
pub(crate) fn department() -> Result<Option<Department>, AccessError> {
    access(org_department::get()).map(|dept| dept.map(|d| Department { name: d.name, title: d.title }))
}

pub(crate) fn customers() -> Result<Vec<CustomerPermission>, AccessError> {
    access(perm_customer::get()).map(|list| {
        list.into_iter()
            .map(|c| CustomerPermission {
                customer_id: c.customer_id,
                customer_name: c.customer_name,
                access: match c.access {
                    wit_types::CustomerAccess::View => CustomerAccess::View,
                    wit_types::CustomerAccess::Edit => CustomerAccess::Edit,
                    wit_types::CustomerAccess::Manage => CustomerAccess::Manage,
                },
            })
            .collect()
    })
}

pub(crate) fn approvals() -> Result<Vec<ApprovalPermission>, AccessError> {
    access(perm_approval::get()).map(|list| {
        list.into_iter()
            .map(|a| ApprovalPermission {
                process_id: a.process_id,
                process_name: a.process_name,
                can_approve: a.can_approve,
                can_initiate: a.can_initiate,
                max_amount_cents: a.max_amount_cents,
            })
            .collect()
    })
}

fn bucket(bucket: Bucket) -> wit_storage::Bucket {
    match bucket {
        Bucket::Plugin => wit_storage::Bucket::Plugin,
        Bucket::Person => wit_storage::Bucket::Person,
    }
}

fn storage<T>(result: Result<T, wit_storage::StorageError>) -> Result<T, StorageError> {
    result.map_err(|error| match error {
        wit_storage::StorageError::Denied(reason) => StorageError::Denied(reason.into()),
        wit_storage::StorageError::InvalidKey(why) => StorageError::InvalidKey(why),
        wit_storage::StorageError::ValueTooLarge(limit) => StorageError::ValueTooLarge(limit),
        wit_storage::StorageError::QuotaExceeded(q) => {
            StorageError::QuotaExceeded { limit_bytes: q.limit_bytes, used_bytes: q.used_bytes }
        }
    })
}

pub(crate) fn storage_get(b: Bucket, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
    storage(wit_storage::get(bucket(b), key))
}
pub(crate) fn storage_set(b: Bucket, key: &str, value: &[u8]) -> Result<(), StorageError> {
    storage(wit_storage::set(bucket(b), key, value))
}
pub(crate) fn storage_delete(b: Bucket, key: &str) -> Result<bool, StorageError> {
    storage(wit_storage::delete(bucket(b), key))
}
pub(crate) fn storage_list_keys(b: Bucket, prefix: &str) -> Result<Vec<String>, StorageError> {
    storage(wit_storage::list_keys(bucket(b), prefix))
}

pub(crate) fn log(level: Level, message: &str) {
    let level = match level {
        Level::Trace => wit_log::Level::Trace,
        Level::Debug => wit_log::Level::Debug,
        Level::Info => wit_log::Level::Info,
        Level::Warn => wit_log::Level::Warn,
        Level::Error => wit_log::Level::Error,
    };
    wit_log::write(level, message);
}

pub(crate) fn config_get(key: &str) -> Option<String> {
    // The host's errors are for configuration sources it does not have;
    // a value that cannot be read is a value the plugin does not get.
    config_bindings::wasi::config::store::get(key).ok().flatten()
}

pub(crate) fn config_all() -> Vec<(String, String)> {
    config_bindings::wasi::config::store::get_all().unwrap_or_default()
}

pub(crate) fn notify(title: &str, text: &str, route: &str) -> Result<String, crate::notify::NotifyError> {
    use bindings::workbench::plugin::notify as wit_notify;
    let notification =
        wit_notify::Notification { title: title.to_owned(), text: text.to_owned(), route: route.to_owned() };
    wit_notify::send(&notification).map_err(|error| match error {
        wit_notify::NotifyError::Denied(reason) => crate::notify::NotifyError::Denied(reason.into()),
        wit_notify::NotifyError::Invalid(why) => crate::notify::NotifyError::Invalid(why),
        wit_notify::NotifyError::RateLimited(seconds) => crate::notify::NotifyError::RateLimited(seconds),
    })
}

fn plugin_error(error: PluginError) -> wit_handler::PluginError {
    match error {
        PluginError::BadRequest(m) => wit_handler::PluginError::BadRequest(m),
        PluginError::NotFound(m) => wit_handler::PluginError::NotFound(m),
        PluginError::Internal(m) => wit_handler::PluginError::Internal(m),
    }
}

/// Runs plugin `P` on an event from the host.
pub fn dispatch_event<P: Plugin>(
    event: bindings::exports::workbench::plugin::events::Event,
) -> Result<(), wit_handler::PluginError> {
    use bindings::exports::workbench::plugin::events::Subject;
    let event = crate::events::Event {
        id: event.id,
        kind: event.kind,
        time_ms: event.time_ms,
        subject: match event.subject {
            Subject::Nobody => crate::events::Subject::Nobody,
            Subject::Person => crate::events::Subject::Person,
        },
        payload: event.payload,
    };
    P::on_event(event).map_err(plugin_error)
}

/// Runs plugin `P` on a request from the host.
pub fn dispatch<P: Plugin>(request: wit_handler::Request) -> Result<wit_handler::Response, wit_handler::PluginError> {
    let request = Request {
        method: request.method,
        path: request.path,
        query: request.query,
        headers: request.headers,
        body: request.body,
    };
    match P::handle(request) {
        Ok(Response { status, headers, body }) => Ok(wit_handler::Response { status, headers, body }),
        Err(error) => Err(plugin_error(error)),
    }
}

/// Sends one request through `wasi:http` and reads the whole answer.
pub(crate) fn send_http(
    request: &crate::http::Outgoing,
    target: &crate::http::Target,
) -> Result<crate::http::Reply, crate::http::HttpError> {
    use crate::http::{HttpError, Reply};
    use wasi::http::types::{
        ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, RequestOptions, Scheme,
    };
    use wasi::io::streams::StreamError;

    fn error(code: &ErrorCode) -> HttpError {
        match code {
            ErrorCode::HttpRequestDenied => HttpError::Refused,
            ErrorCode::DestinationIpProhibited => HttpError::AddressProhibited,
            ErrorCode::ConnectionTimeout | ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => {
                HttpError::Timeout
            }
            ErrorCode::HttpRequestBodySize(_) | ErrorCode::HttpResponseBodySize(_) => HttpError::TooLarge,
            other => HttpError::Failed(format!("{other:?}")),
        }
    }
    let failed = |what: &str| HttpError::Failed(what.to_owned());

    let mut entries = Vec::with_capacity(request.headers.len() + 1);
    for (name, value) in &request.headers {
        entries.push((name.clone(), value.as_bytes().to_vec()));
    }
    // A known length lets the body go in one piece instead of chunked.
    if !request.body.is_empty() && !request.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("content-length")) {
        entries.push(("content-length".to_owned(), request.body.len().to_string().into_bytes()));
    }
    let headers = Fields::from_list(&entries).map_err(|e| HttpError::Failed(format!("header: {e:?}")))?;
    let outgoing = OutgoingRequest::new(headers);
    let method = match request.method.as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "PATCH" => Method::Patch,
        "OPTIONS" => Method::Options,
        other => Method::Other(other.to_owned()),
    };
    outgoing.set_method(&method).map_err(|()| failed("method"))?;
    outgoing
        .set_scheme(Some(if target.https { &Scheme::Https } else { &Scheme::Http }))
        .map_err(|()| failed("scheme"))?;
    outgoing.set_authority(Some(&target.authority)).map_err(|()| HttpError::BadUrl(request.url.clone()))?;
    outgoing.set_path_with_query(Some(&target.path_and_query)).map_err(|()| HttpError::BadUrl(request.url.clone()))?;
    let options = request.timeout_ms.map(|ms| {
        let options = RequestOptions::new();
        let _ = options.set_first_byte_timeout(Some(ms.saturating_mul(1_000_000)));
        options
    });
    let body = outgoing.body().map_err(|()| failed("body"))?;
    let future = wasi::http::outgoing_handler::handle(outgoing, options).map_err(|e| error(&e))?;
    if !request.body.is_empty() {
        let stream = body.write().map_err(|()| failed("body stream"))?;
        for chunk in request.body.chunks(4096) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
    }
    let _ = OutgoingBody::finish(body, None);
    let response = loop {
        match future.get() {
            Some(result) => break result.map_err(|()| failed("response taken twice"))?.map_err(|e| error(&e))?,
            None => future.subscribe().block(),
        }
    };
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), String::from_utf8_lossy(&value).into_owned()))
        .collect();
    let incoming = response.consume().map_err(|()| failed("response body"))?;
    let stream = incoming.stream().map_err(|()| failed("response body stream"))?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                return Err(match wasi::http::types::http_error_code(&e) {
                    Some(code) => error(&code),
                    None if e.to_debug_string().contains("body size") => HttpError::TooLarge,
                    None => HttpError::Failed(e.to_debug_string()),
                });
            }
        }
    }
    drop(stream);
    let _ = IncomingBody::finish(incoming);
    Ok(Reply { status, headers, body })
}
