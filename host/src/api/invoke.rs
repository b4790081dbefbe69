//! `POST /me/plugins/{id}/invoke`: run a plugin's handler for the signed-in
//! member.

use axum::Json;
use axum::extract::State;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::callers::{AcceptLanguage, CallerLanguages, Member, PluginId};
use super::error::{ApiError, ApiJson, ApiResult, ErrorBody};
use crate::runtime::{LogLine, Request};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(invoke))
}

/// The request handed to the plugin.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct InvokeBody {
    /// HTTP method (default GET).
    #[serde(default)]
    method: Option<String>,
    /// Path inside the plugin, starting with `/` (default `/`).
    #[serde(default)]
    path: Option<String>,
    /// Query string without `?`.
    #[serde(default)]
    query: Option<String>,
    /// Headers as `[name, value]` pairs.
    #[serde(default)]
    #[schema(value_type = Vec<Vec<String>>)]
    headers: Vec<(String, String)>,
    /// Body as text.
    #[serde(default)]
    body: Option<String>,
    /// Body as base64 (instead of `body`).
    #[serde(default)]
    body_base64: Option<String>,
}

/// The plugin's answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct InvokeResult {
    /// Invocation id (in the audit log).
    invocation: String,
    /// The plugin's HTTP status.
    status: u16,
    /// The plugin's headers, as `[name, value]` pairs.
    #[schema(value_type = Vec<Vec<String>>)]
    headers: Vec<(String, String)>,
    /// Body, when it is UTF-8.
    body: Option<String>,
    /// Body as base64, when it is not UTF-8.
    body_base64: Option<String>,
    /// Log lines the plugin wrote.
    #[schema(value_type = Vec<Object>)]
    logs: Vec<LogLine>,
}

/// Decodes an invoke request body exactly as `POST /me/plugins/{id}/invoke`
/// does (JSON, unknown fields refused, then checked): the request handed to
/// the plugin, or the 4xx the caller gets.
pub fn decode_invoke_body(bytes: &[u8]) -> ApiResult<Request> {
    let Json(body) = Json::<InvokeBody>::from_bytes(bytes)?;
    body.into_request()
}

impl InvokeBody {
    fn into_request(self) -> ApiResult<Request> {
        let method = self.method.unwrap_or_else(|| "GET".into());
        if method.is_empty() || method.len() > 16 || !method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ApiError::invalid("method must be 1 to 16 upper-case letters, e.g. GET or POST"));
        }
        let path = self.path.unwrap_or_else(|| "/".into());
        if !path.starts_with('/') || path.len() > 2048 || path.contains('?') {
            return Err(ApiError::invalid("path must start with / and be at most 2048 bytes, without ?query"));
        }
        if self.headers.len() > 64 {
            return Err(ApiError::invalid("at most 64 headers"));
        }
        let body = match (self.body, self.body_base64) {
            (Some(_), Some(_)) => return Err(ApiError::invalid("give body or body_base64, not both")),
            (Some(text), None) => text.into_bytes(),
            (None, Some(b64)) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|_| ApiError::invalid("body_base64 is not valid base64"))?,
            (None, None) => Vec::new(),
        };
        let headers = self.headers.into_iter().map(|(name, value)| (name.to_ascii_lowercase(), value)).collect();
        Ok(Request { method, path, query: self.query.unwrap_or_default(), headers, body })
    }
}

/// Run the plugin's handler for me. 403 `consent_required` with the
/// disclosure when a required scope is not consented; 502 `plugin_failed`
/// with the invocation id when the plugin traps.
#[utoipa::path(
    post,
    path = "/me/plugins/{id}/invoke",
    tag = "me",
    params(("id" = String, Path, description = "Plugin id", example = "site-daily-report"), AcceptLanguage),
    request_body = InvokeBody,
    responses(
        (status = 200, body = InvokeResult),
        (status = 403, description = "consent_required, with `missing` and `disclosure`", body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 429, description = "too_many_requests: the member's or the workbench's rate or concurrent \
                                     calls are used up; `Retry-After` says when to try again", body = ErrorBody,
         headers(("Retry-After" = u64, description = "seconds"))),
        (status = 502, description = "plugin_failed, with `invocation` and `kind` (`deadline`, `memory`, …)", body = ErrorBody),
        (status = 503, description = "overloaded (the host runs as many calls as it may; `Retry-After`) or \
                                     audit_unavailable", body = ErrorBody),
    )
)]
async fn invoke(
    State(state): State<AppState>,
    Member(caller): Member,
    PluginId(id): PluginId,
    CallerLanguages(prefs): CallerLanguages,
    ApiJson(body): ApiJson<InvokeBody>,
) -> ApiResult<Json<InvokeResult>> {
    // The directory is checked with the installation and the consents, in one query.
    let request = body.into_request()?;
    let done = state
        .workbench
        .invoke_signed_in(&caller.tenant, &caller.member, Some(caller.issued_at), &id, request)
        .await
        .map_err(|e| e.shown_in(&prefs))?;
    let (body, body_base64) = match String::from_utf8(done.response.body) {
        Ok(text) => (Some(text), None),
        Err(e) => (None, Some(base64::engine::general_purpose::STANDARD.encode(e.into_bytes()))),
    };
    Ok(Json(InvokeResult {
        invocation: done.invocation,
        status: done.response.status,
        headers: done.response.headers,
        body,
        body_base64,
        logs: done.logs,
    }))
}
