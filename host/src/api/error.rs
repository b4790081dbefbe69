//! One error type for every route: a stable code, a human message and the
//! right status. Internals (SQL, paths, panics) are logged, never sent.

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};

use crate::runtime::admission::Refusal;
use crate::runtime::{CallError, PluginError, describe};
use crate::service::ServiceError;

/// The JSON body of every error.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable code scripts can match on.
    pub error: String,
    /// What went wrong, for people.
    pub message: String,
}

/// An API error.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    extra: Option<Value>,
    retry_after: Option<u64>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into(), extra: None, retry_after: None }
    }

    /// 401: no or bad credentials.
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    /// 403: authenticated, not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    /// 422: well-formed but wrong.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_input", message)
    }

    /// 404 for an unknown route or resource.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    fn with(mut self, extra: Value) -> Self {
        self.extra = Some(extra);
        self
    }

    /// Adds a `Retry-After` of `after` (whole seconds, at least one).
    pub fn retry_after(mut self, after: std::time::Duration) -> Self {
        self.retry_after = Some(after.as_secs_f64().ceil().max(1.0) as u64);
        self
    }

    /// 429: the caller's share or rate is used up.
    pub fn too_many_requests(message: impl Into<String>, after: std::time::Duration) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message).retry_after(after)
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// A 500 that hides `detail` from the client and logs it.
    pub(super) fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; the details are in the server log")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({ "error": self.code, "message": self.message });
        if let (Some(Value::Object(extra)), Some(object)) = (self.extra, body.as_object_mut()) {
            object.extend(extra);
        }
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> Self {
        match error {
            ServiceError::BadRequest(message) => ApiError::invalid(message),
            ServiceError::Manifest(e) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_manifest", e.to_string())
            }
            ServiceError::Component(e @ crate::runtime::PrepareError::Unsupported { .. }) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unsupported_contract", e.to_string())
            }
            ServiceError::Component(e) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_component", e.to_string())
            }
            ServiceError::Forbidden(message) => ApiError::forbidden(message),
            e @ ServiceError::SessionEnded => ApiError::new(StatusCode::UNAUTHORIZED, "session_ended", e.to_string()),
            ServiceError::NotFound(message) => ApiError::not_found(message),
            ServiceError::Conflict(message) => ApiError::new(StatusCode::CONFLICT, "conflict", message),
            ServiceError::ConsentRequired { missing, disclosure } => {
                let scopes: Vec<_> =
                    missing.iter().map(|(scope, denial)| json!({ "scope": scope, "reason": denial.code() })).collect();
                let names: Vec<_> = missing.iter().map(|(s, _)| s.as_str()).collect();
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    "consent_required",
                    format!("{} needs your consent to {} before it can run", disclosure.plugin, names.join(", ")),
                )
                .with(json!({ "missing": scopes, "disclosure": disclosure }))
            }
            ServiceError::Refused(refusal) => match refusal {
                Refusal::Caller { limit, retry_after } => {
                    ApiError::too_many_requests(format!("too many requests: {limit}; try again later"), retry_after)
                }
                Refusal::Host { limit, retry_after } => ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "overloaded",
                    format!("the host is overloaded: {limit}; try again later"),
                )
                .retry_after(retry_after),
            },
            ServiceError::Plugin { invocation, error } => {
                let kind = match &error {
                    CallError::Plugin(_) => "plugin_error",
                    CallError::Trap { kind, .. } => kind.code(),
                };
                let message = match &error {
                    // An internal failure's message is for the audit log
                    // (the contract says so), not for the person.
                    CallError::Plugin(PluginError::Internal(_)) => {
                        "the plugin failed; its message is in the audit log under this invocation".to_owned()
                    }
                    CallError::Plugin(e) => format!("the plugin reported an error: {}", describe(e)),
                    CallError::Trap { kind, .. } => format!("the plugin was stopped: {}", kind.code()),
                };
                ApiError::new(StatusCode::BAD_GATEWAY, "plugin_failed", message)
                    .with(json!({ "invocation": invocation, "kind": kind }))
            }
            ServiceError::Audit(e) => {
                tracing::error!(error = %e, "audit log unavailable");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "audit_unavailable",
                    "the audit log cannot be written; try again later",
                )
            }
            ServiceError::Unavailable(message) => ApiError::new(StatusCode::BAD_GATEWAY, "unavailable", message),
            ServiceError::Store(e) => ApiError::internal(e),
            ServiceError::Internal(detail) => ApiError::internal(detail),
        }
    }
}

fn rejection(status: StatusCode, what: &str, body_text: String) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::new(status, "payload_too_large", format!("the {what} is larger than this route accepts"))
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::new(status, "unsupported_media_type", body_text),
        StatusCode::UNPROCESSABLE_ENTITY => ApiError::invalid(body_text),
        _ => ApiError::new(StatusCode::BAD_REQUEST, "bad_request", body_text),
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        rejection(r.status(), "body", r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", r.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", r.body_text())
    }
}

impl From<MultipartRejection> for ApiError {
    fn from(r: MultipartRejection) -> Self {
        rejection(r.status(), "upload", r.body_text())
    }
}

impl From<axum::extract::multipart::MultipartError> for ApiError {
    fn from(e: axum::extract::multipart::MultipartError) -> Self {
        rejection(e.status(), "upload", e.body_text())
    }
}

/// `Json` whose rejections are [`ApiError`]s.
#[derive(Debug, FromRequest)]
#[from_request(via(Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// `Query` whose rejections are [`ApiError`]s.
#[derive(Debug, FromRequestParts)]
#[from_request(via(Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// `Path` whose rejections are [`ApiError`]s.
#[derive(Debug, FromRequestParts)]
#[from_request(via(Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// Result of handlers.
pub type ApiResult<T> = Result<T, ApiError>;

/// Why a token's validation failed, as the caller is told.
pub(super) fn token_rejection(error: jsonwebtoken::errors::Error) -> ApiError {
    use jsonwebtoken::errors::ErrorKind;
    ApiError::unauthorized(match error.kind() {
        ErrorKind::ExpiredSignature => "the token has expired",
        ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)",
        ErrorKind::InvalidIssuer => "the token's issuer is not accepted",
        ErrorKind::InvalidAudience => "the token is not for this audience",
        ErrorKind::InvalidSignature => "the token's signature does not verify",
        ErrorKind::MissingRequiredClaim(_) => "the token lacks a required claim (exp, nbf, iss, aud, sub)",
        _ => "the token is not valid",
    })
}
