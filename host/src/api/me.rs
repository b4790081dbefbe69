//! `/me`: the signed-in member's workbench: their plugins, consent and
//! withdrawal, invocation, access log and data export.

use axum::Json;
use axum::extract::State;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::error::{ApiError, ApiJson, ApiPath, ApiQuery, ApiResult, ErrorBody};
use super::{AppState, detached, require_member};
use crate::runtime::{LogLine, Request};
use crate::scope::Scope;
use crate::service::Disclosure;
use crate::service::consent::MyPlugin;
use crate::service::privacy::{AccessPage, MemberExport};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(my_plugins))
        .routes(routes!(disclosure, consent, withdraw))
        .routes(routes!(invoke))
        .routes(routes!(access_log))
        .routes(routes!(export))
}

/// The plugins I see, and whether each runs for me.
#[utoipa::path(get, path = "/me/plugins", tag = "me", responses((status = 200, body = Vec<MyPlugin>), (status = 403, body = ErrorBody)))]
async fn my_plugins(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<MyPlugin>>> {
    require_member(&state, &caller).await?;
    Ok(Json(state.workbench.my_plugins(&caller.tenant, &caller.member).await?))
}

/// The disclosure: who receives which of my fields, for what, and what I am asked now.
#[utoipa::path(get, path = "/me/plugins/{id}/consent", tag = "me", params(("id" = String, Path, description = "Plugin id", example = "site-daily-report")), responses((status = 200, body = Disclosure), (status = 404, body = ErrorBody)))]
async fn disclosure(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Disclosure>> {
    require_member(&state, &caller).await?;
    Ok(Json(state.workbench.disclosure(&caller.tenant, &caller.member, &id).await?))
}

/// Consent to scopes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ConsentBody {
    /// The scopes I consent to (for their current purposes).
    scopes: Vec<Scope>,
    /// Sensitive scopes of `scopes`, listed again: their consent is separate.
    #[serde(default)]
    sensitive: Vec<Scope>,
}

/// Consent to some of a plugin's scopes.
#[utoipa::path(put, path = "/me/plugins/{id}/consent", tag = "me", params(("id" = String, Path, description = "Plugin id", example = "site-daily-report")), request_body = ConsentBody, responses((status = 200, body = Disclosure), (status = 422, body = ErrorBody)))]
async fn consent(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<ConsentBody>,
) -> ApiResult<Json<Disclosure>> {
    require_member(&state, &caller).await?;
    let Caller { tenant, member, .. } = caller;
    let consent = move |wb: std::sync::Arc<crate::service::Workbench>| async move {
        wb.consent(&tenant, &member, &id, &body.scopes, &body.sensitive).await
    };
    Ok(Json(detached(&state, consent).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct WithdrawQuery {
    /// Comma-separated scopes; absent = all.
    scopes: Option<String>,
}

/// Withdraw consent (all, or the listed scopes); what the plugin stored about me is deleted.
#[utoipa::path(delete, path = "/me/plugins/{id}/consent", tag = "me", params(("id" = String, Path, description = "Plugin id", example = "site-daily-report"), WithdrawQuery), responses((status = 200, body = Disclosure), (status = 422, body = ErrorBody)))]
async fn withdraw(
    State(state): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(query): ApiQuery<WithdrawQuery>,
) -> ApiResult<Json<Disclosure>> {
    require_member(&state, &caller).await?;
    let scopes = query
        .scopes
        .as_deref()
        .map(|list| {
            list.split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.trim().parse::<Scope>().map_err(|e| ApiError::invalid(e.to_string())))
                .collect::<ApiResult<Vec<_>>>()
        })
        .transpose()?;
    let Caller { tenant, member, .. } = caller;
    let withdraw = move |wb: std::sync::Arc<crate::service::Workbench>| async move {
        wb.withdraw(&tenant, &member, &id, scopes.as_deref()).await
    };
    Ok(Json(detached(&state, withdraw).await?))
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
    /// The plugin's headers.
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
    params(("id" = String, Path, description = "Plugin id", example = "site-daily-report")),
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
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<InvokeBody>,
) -> ApiResult<Json<InvokeResult>> {
    // The directory is checked with the installation and the consents, in one query.
    caller.require(crate::model::directory::Role::Member)?;
    let request = body.into_request()?;
    let done = state.workbench.invoke(&caller.tenant, &caller.member, &id, request).await?;
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

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct PageQuery {
    /// Cursor: the `next` of the previous page.
    after: Option<String>,
    /// Page size, 1 to 1000 (default 100).
    limit: Option<u32>,
}

/// Who read which of my fields, when, for what purpose.
#[utoipa::path(get, path = "/me/access-log", tag = "me", params(PageQuery), responses((status = 200, body = AccessPage)))]
async fn access_log(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<AccessPage>> {
    require_member(&state, &caller).await?;
    let after = super::privacy::cursor(query.after.as_deref())?;
    Ok(Json(state.workbench.access_log(&caller.tenant, &caller.member, after, query.limit.unwrap_or(100)).await?))
}

/// Everything held about me: profile, consents, access log, plugin storage.
#[utoipa::path(get, path = "/me/export", tag = "me", responses((status = 200, body = MemberExport)))]
async fn export(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<MemberExport>> {
    require_member(&state, &caller).await?;
    Ok(Json(state.workbench.export(&caller.tenant, &caller.member).await?))
}
