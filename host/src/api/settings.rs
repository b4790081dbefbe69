//! `/settings`: the tenant's retention settings, for its admin.

use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::callers::{Administrator, TenantAdmin};
use super::error::{ApiJson, ApiResult, ErrorBody};
use super::{AppState, detached};
use crate::model::settings::Retention;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_retention, put_retention))
}

/// The tenant's retention settings.
#[utoipa::path(get, path = "/settings/retention", tag = "settings", responses((status = 200, body = Object)))]
async fn get_retention(
    State(state): State<AppState>,
    Administrator(caller): Administrator,
) -> ApiResult<Json<Retention>> {
    Ok(Json(state.workbench.retention(&caller.tenant).await?))
}

/// Set retention periods (audit records: at least 1095 days).
#[utoipa::path(put, path = "/settings/retention", tag = "settings", request_body = Object, responses((status = 200, body = Object), (status = 422, body = ErrorBody)))]
async fn put_retention(
    State(state): State<AppState>,
    TenantAdmin(Caller { tenant, member: admin, .. }): TenantAdmin,
    ApiJson(retention): ApiJson<Retention>,
) -> ApiResult<Json<Retention>> {
    Ok(Json(detached(&state, move |wb| async move { wb.set_retention(&tenant, &admin, retention).await }).await?))
}
