//! Members opening plugins themselves: the member's catalogue (`/me/catalogue`:
//! open, request) and the app admin's rules, openings and request queue
//! (`/workbench/self-service`, `/workbench/requests`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::callers::{AcceptLanguage, AppAdmin, CallerLanguages, DirectoryMember, PluginId};
use super::error::{ApiError, ApiJson, ApiPath, ApiResult, ErrorBody};
use super::{AppState, detached};
use crate::model::self_service::{Opening, PluginRequest, SelfServicePolicy};
use crate::model::text::ShowIn;
use crate::service::self_service::{Offer, SelfServiceOverview};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(catalogue))
        .routes(routes!(open))
        .routes(routes!(request))
        .routes(routes!(overview))
        .routes(routes!(set_policy))
        .routes(routes!(decide))
        .routes(routes!(end_opening))
}

/// Why a member asks for a plugin.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RequestBody {
    /// What they need it for (at most 500 characters; the app admin reads it).
    #[serde(default)]
    reason: String,
}

/// An app admin's decision on a request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct DecideBody {
    /// Approve (the plugin is opened for the member) or decline.
    approve: bool,
    /// The reason the member sees; required to decline.
    #[serde(default)]
    reason: Option<String>,
}

/// The plugins I may open myself or ask for, with where I stand.
#[utoipa::path(get, path = "/me/catalogue", tag = "me", params(AcceptLanguage), responses((status = 200, body = Vec<Offer>), (status = 403, body = ErrorBody)))]
async fn catalogue(
    State(state): State<AppState>,
    DirectoryMember(caller): DirectoryMember,
    CallerLanguages(prefs): CallerLanguages,
) -> ApiResult<Json<Vec<Offer>>> {
    let mut entries = state.workbench.member_catalogue(&caller.tenant, &caller.member).await?;
    entries.show_in(&prefs);
    Ok(Json(entries))
}

/// Open a plugin myself (it then asks for my consent like any other).
#[utoipa::path(post, path = "/me/catalogue/{id}/open", tag = "me", params(("id" = String, Path, description = "Plugin id", example = "approval-helper")), responses((status = 200, body = Opening), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn open(
    State(state): State<AppState>,
    DirectoryMember(Caller { tenant, member, .. }): DirectoryMember,
    PluginId(id): PluginId,
) -> ApiResult<Json<Opening>> {
    Ok(Json(detached(&state, move |wb| async move { wb.open_plugin(&tenant, &member, &id).await }).await?))
}

/// Ask an app admin for a plugin.
#[utoipa::path(post, path = "/me/catalogue/{id}/request", tag = "me", params(("id" = String, Path, description = "Plugin id", example = "approval-helper")), request_body = RequestBody, responses((status = 201, body = PluginRequest), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn request(
    State(state): State<AppState>,
    DirectoryMember(Caller { tenant, member, .. }): DirectoryMember,
    PluginId(id): PluginId,
    ApiJson(body): ApiJson<RequestBody>,
) -> ApiResult<(StatusCode, Json<PluginRequest>)> {
    let asked =
        detached(&state, move |wb| async move { wb.request_plugin(&tenant, &member, &id, &body.reason).await }).await?;
    Ok((StatusCode::CREATED, Json(asked)))
}

/// What members may open or ask for, who opened what, and the requests.
#[utoipa::path(get, path = "/workbench/self-service", tag = "workbench", responses((status = 200, body = SelfServiceOverview), (status = 403, body = ErrorBody)))]
async fn overview(State(state): State<AppState>, AppAdmin(caller): AppAdmin) -> ApiResult<Json<SelfServiceOverview>> {
    Ok(Json(state.workbench.self_service_overview(&caller.tenant).await?))
}

/// Set what members may do with a plugin, and within which bounds.
#[utoipa::path(put, path = "/workbench/self-service/{id}", tag = "workbench", params(("id" = String, Path, description = "Plugin id", example = "approval-helper")), request_body = SelfServicePolicy, responses((status = 200, body = SelfServicePolicy), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn set_policy(
    State(state): State<AppState>,
    AppAdmin(Caller { tenant, member: admin, .. }): AppAdmin,
    PluginId(id): PluginId,
    ApiJson(policy): ApiJson<SelfServicePolicy>,
) -> ApiResult<Json<SelfServicePolicy>> {
    Ok(Json(detached(&state, move |wb| async move { wb.set_self_service(&tenant, &admin, &id, policy).await }).await?))
}

/// Approve or decline a member's request.
#[utoipa::path(post, path = "/workbench/requests/{request}/decide", tag = "workbench", params(("request" = i64, Path, description = "Request id", example = 1)), request_body = DecideBody, responses((status = 200, body = PluginRequest), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn decide(
    State(state): State<AppState>,
    AppAdmin(Caller { tenant, member: admin, .. }): AppAdmin,
    ApiPath(request): ApiPath<String>,
    ApiJson(body): ApiJson<DecideBody>,
) -> ApiResult<Json<PluginRequest>> {
    let id: i64 = request
        .parse()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::not_found(format!("no request {request:?}: request ids are positive numbers")))?;
    let decided =
        detached(
            &state,
            move |wb| async move { wb.decide_request(&tenant, &admin, id, body.approve, body.reason).await },
        )
        .await?;
    Ok(Json(decided))
}

/// End a plugin opened for a member (their next call is 404).
#[utoipa::path(delete, path = "/workbench/self-service/{id}/openings/{member}", tag = "workbench", params(("id" = String, Path, description = "Plugin id", example = "approval-helper"), ("member" = String, Path, description = "Member id", example = "wang.fang")), responses((status = 204, description = "ended"), (status = 404, body = ErrorBody)))]
async fn end_opening(
    State(state): State<AppState>,
    AppAdmin(Caller { tenant, member: admin, .. }): AppAdmin,
    ApiPath((id, member)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    detached(&state, move |wb| async move { wb.end_opening(&tenant, &admin, &id, &member).await }).await?;
    Ok(StatusCode::NO_CONTENT)
}
