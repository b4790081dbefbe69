//! `/workbench/plugins/{id}/usage` and `/narrow`: the app admin's view of
//! what an installation's grant was used for, and its narrowing to that.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::callers::{AppAdmin, PluginId};
use super::error::{ApiJson, ApiQuery, ApiResult, ErrorBody};
use super::{AppState, detached};
use crate::service::usage::{GrantUsage, Narrowed, Narrowing};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(usage)).routes(routes!(narrow))
}

/// The period.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct UsageParams {
    /// Days back from now, 1 to 366 (default 30).
    days: Option<u32>,
}

/// What the installation's grant was used for in the last days: each
/// granted scope's allowed and refused accesses, each approved
/// destination's requests and bytes, and which of them went unused.
#[utoipa::path(get, path = "/workbench/plugins/{id}/usage", tag = "workbench", params(("id" = String, Path, description = "Plugin id", example = "site-daily-report"), UsageParams), responses((status = 200, body = GrantUsage), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn usage(
    State(state): State<AppState>,
    AppAdmin(caller): AppAdmin,
    PluginId(id): PluginId,
    ApiQuery(params): ApiQuery<UsageParams>,
) -> ApiResult<Json<GrantUsage>> {
    Ok(Json(state.workbench.grant_usage(&caller.tenant, &id, params.days.unwrap_or(30)).await?))
}

/// Takes scopes and destinations away from the installation's grant (not a
/// required scope): every member's consent to those scopes is withdrawn
/// with the change, in one audited transaction, and the plugin gets typed
/// denials from then on.
#[utoipa::path(post, path = "/workbench/plugins/{id}/narrow", tag = "workbench", params(("id" = String, Path, description = "Plugin id", example = "site-daily-report")), request_body = Narrowing, responses((status = 200, body = Narrowed), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn narrow(
    State(state): State<AppState>,
    AppAdmin(Caller { tenant, member: admin, .. }): AppAdmin,
    PluginId(id): PluginId,
    ApiJson(body): ApiJson<Narrowing>,
) -> ApiResult<Json<Narrowed>> {
    let narrowed =
        detached(&state, move |wb| async move { wb.narrow_grant(&tenant, &admin, &id, &body).await }).await?;
    Ok(Json(narrowed))
}
