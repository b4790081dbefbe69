//! `/me/notifications`: the inbox plugins write to (`workbench:plugin/notify`),
//! read and marked read by its member.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::callers::DirectoryMember;
use super::error::{ApiResult, ErrorBody};
use crate::model::notifications::Inbox;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(inbox)).routes(routes!(read_one)).routes(routes!(read_all))
}

/// How many notifications a read marked.
#[derive(Debug, Serialize, utoipa::ToSchema)]
struct Marked {
    /// Notifications that were unread.
    marked: u64,
}

/// My inbox: the newest 100 notifications and how many are unread.
#[utoipa::path(get, path = "/me/notifications", tag = "me", responses((status = 200, body = Inbox)))]
async fn inbox(State(state): State<AppState>, DirectoryMember(caller): DirectoryMember) -> ApiResult<Json<Inbox>> {
    Ok(Json(state.workbench.inbox(&caller.tenant, &caller.member).await?))
}

/// Mark one of my notifications read.
#[utoipa::path(post, path = "/me/notifications/{id}/read", tag = "me",
    params(("id" = String, Path, description = "The notification's id")),
    responses((status = 200, body = Marked), (status = 404, body = ErrorBody)))]
async fn read_one(
    State(state): State<AppState>,
    DirectoryMember(caller): DirectoryMember,
    Path(id): Path<String>,
) -> ApiResult<Json<Marked>> {
    let marked = state.workbench.mark_read(&caller.tenant, &caller.member, Some(&id)).await?;
    Ok(Json(Marked { marked }))
}

/// Mark all my notifications read.
#[utoipa::path(post, path = "/me/notifications/read", tag = "me", responses((status = 200, body = Marked)))]
async fn read_all(State(state): State<AppState>, DirectoryMember(caller): DirectoryMember) -> ApiResult<Json<Marked>> {
    let marked = state.workbench.mark_read(&caller.tenant, &caller.member, None).await?;
    Ok(Json(Marked { marked }))
}
