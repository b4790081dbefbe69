//! Ending sessions ("sign out everywhere"): a member ends their own, a
//! member admin any member's. Every token of that member issued until then
//! is refused from the next call on with 401 `session_ended`.

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::callers::{DirectoryMember, MemberAdmin};
use super::error::{ApiPath, ApiResult, ErrorBody};
use super::{AppState, detached};
use crate::service::Actor;
use crate::service::sessions::SessionsEnded;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(end_mine)).routes(routes!(end_members))
}

/// Sign out everywhere: every token of mine issued until now, this one
/// included, stops working.
#[utoipa::path(post, path = "/me/sessions/end", tag = "me", responses((status = 200, body = SessionsEnded), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn end_mine(
    State(state): State<AppState>,
    DirectoryMember(Caller { tenant, member, .. }): DirectoryMember,
) -> ApiResult<Json<SessionsEnded>> {
    let ended =
        detached(&state, move |wb| async move { wb.end_sessions(&tenant, Actor::Member(&member), &member).await })
            .await?;
    Ok(Json(ended))
}

/// End a member's sessions (a lost laptop): every token of theirs issued
/// until now stops working; they sign in again.
#[utoipa::path(post, path = "/members/{id}/sessions/end", tag = "members", params(("id" = String, Path, description = "Member id", example = "li.na")), responses((status = 200, body = SessionsEnded), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn end_members(
    State(state): State<AppState>,
    MemberAdmin(Caller { tenant, member: admin, .. }): MemberAdmin,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<SessionsEnded>> {
    let ended =
        detached(&state, move |wb| async move { wb.end_sessions(&tenant, Actor::Admin(&admin), &id).await }).await?;
    Ok(Json(ended))
}
