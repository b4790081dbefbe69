//! `/me/access-log` and `/me/export`: what the signed-in member can see of
//! their own data: who read which of their fields, and everything held
//! about them.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::callers::DirectoryMember;
use super::error::{ApiQuery, ApiResult};
use crate::service::privacy::{AccessPage, MemberExport};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(access_log)).routes(routes!(export))
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
    DirectoryMember(caller): DirectoryMember,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> ApiResult<Json<AccessPage>> {
    let after = super::audit::cursor(query.after.as_deref())?;
    Ok(Json(state.workbench.access_log(&caller.tenant, &caller.member, after, query.limit.unwrap_or(100)).await?))
}

/// Everything held about me: profile, consents, access log, plugin storage.
#[utoipa::path(get, path = "/me/export", tag = "me", responses((status = 200, body = MemberExport)))]
async fn export(
    State(state): State<AppState>,
    DirectoryMember(caller): DirectoryMember,
) -> ApiResult<Json<MemberExport>> {
    Ok(Json(state.workbench.export(&caller.tenant, &caller.member).await?))
}
