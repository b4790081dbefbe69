//! `/members`: the tenant's member directory, kept by the member admin
//! (read by the app admin too, for visible ranges). Removing a member (除名)
//! deletes their consents and everything plugins stored about them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::callers::{DirectoryReader, MemberAdmin};
use super::error::{ApiJson, ApiPath, ApiResult, ErrorBody};
use super::{AppState, detached};
use crate::service::DeletionReceipt;
use crate::service::directory::Member;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list, add)).routes(routes!(get, patch, remove))
}

/// The directory.
#[utoipa::path(get, path = "/members", tag = "members", responses((status = 200, body = Vec<Member>), (status = 403, body = ErrorBody)))]
async fn list(State(state): State<AppState>, DirectoryReader(caller): DirectoryReader) -> ApiResult<Json<Vec<Member>>> {
    Ok(Json(state.workbench.members(&caller.tenant).await?))
}

/// Add a member.
#[utoipa::path(post, path = "/members", tag = "members", request_body = Member, responses((status = 201, body = Member), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn add(
    State(state): State<AppState>,
    MemberAdmin(Caller { tenant, member: admin, roles, .. }): MemberAdmin,
    ApiJson(member): ApiJson<Member>,
) -> ApiResult<(StatusCode, Json<Member>)> {
    let added = detached(&state, move |wb| async move { wb.add_member(&tenant, &admin, &roles, member).await }).await?;
    Ok((StatusCode::CREATED, Json(added)))
}

/// One member.
#[utoipa::path(get, path = "/members/{id}", tag = "members", params(("id" = String, Path, description = "Member id", example = "zhang.wei")), responses((status = 200, body = Member), (status = 404, body = ErrorBody)))]
async fn get(
    State(state): State<AppState>,
    DirectoryReader(caller): DirectoryReader,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Member>> {
    Ok(Json(state.workbench.member(&caller.tenant, &id).await?))
}

/// Change profile fields (JSON merge patch: a field set to null is cleared).
#[utoipa::path(patch, path = "/members/{id}", tag = "members", params(("id" = String, Path, description = "Member id", example = "zhang.wei")), request_body(content = Object, content_type = "application/merge-patch+json"), responses((status = 200, body = Member), (status = 404, body = ErrorBody), (status = 409, description = "conflict: the change would leave the workbench without an admin", body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn patch(
    State(state): State<AppState>,
    MemberAdmin(Caller { tenant, member: admin, roles, .. }): MemberAdmin,
    ApiPath(id): ApiPath<String>,
    ApiJson(patch): ApiJson<serde_json::Value>,
) -> ApiResult<Json<Member>> {
    Ok(Json(
        detached(&state, move |wb| async move { wb.patch_member(&tenant, &admin, &roles, &id, patch).await }).await?,
    ))
}

/// Remove a member (除名) with their plugin data.
#[utoipa::path(delete, path = "/members/{id}", tag = "members", params(("id" = String, Path, description = "Member id", example = "wang.fang")), responses((status = 200, description = "Deletion receipt", body = DeletionReceipt), (status = 404, body = ErrorBody), (status = 409, description = "conflict: the member is the workbench's last admin", body = ErrorBody)))]
async fn remove(
    State(state): State<AppState>,
    MemberAdmin(Caller { tenant, member: admin, roles, .. }): MemberAdmin,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<DeletionReceipt>> {
    Ok(Json(detached(&state, move |wb| async move { wb.remove_member(&tenant, &admin, &roles, &id).await }).await?))
}
