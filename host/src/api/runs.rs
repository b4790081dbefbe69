//! `/plugins/{id}/runs`: the developer's failure view of their plugin:
//! calls, errors by kind, durations and failed outbound requests per
//! version, across tenants, counts only.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::callers::{Developer, PluginId};
use super::error::{ApiError, ApiQuery, ApiResult, ErrorBody};
use crate::model::runs::RunsView;
use crate::model::stats::HOUR_MS;

const DAY_MS: i64 = 24 * HOUR_MS;

/// The longest range one view covers, days.
const MAX_DAYS: i64 = 92;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(runs))
}

/// Which calls.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct RunsParams {
    /// From, ms since the epoch, rounded down to its hour (default: `to` less 7 days).
    from: Option<i64>,
    /// To (exclusive), ms since the epoch, rounded up to an hour (default: now). At most 92 days after `from`.
    to: Option<i64>,
}

/// My plugin's calls per version: how many, how they ended (ok,
/// plugin_error, deadline, trap, refused), p50/p99 duration and failed
/// outbound requests, in total and per tenant by rank (a tenant of fewer
/// than k members folded into `other`). No tenant or member is named.
#[utoipa::path(get, path = "/plugins/{id}/runs", tag = "plugins", params(("id" = String, Path, description = "Plugin id", example = "site-daily-report"), RunsParams), responses((status = 200, body = RunsView), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn runs(
    State(state): State<AppState>,
    Developer(caller): Developer,
    PluginId(id): PluginId,
    ApiQuery(params): ApiQuery<RunsParams>,
) -> ApiResult<Json<RunsView>> {
    let (from, to) = super::stats::hour_range(params.from, params.to, crate::now_ms(), 7 * DAY_MS)?;
    if to - from > MAX_DAYS * DAY_MS {
        return Err(ApiError::invalid(format!("a view covers at most {MAX_DAYS} days")));
    }
    Ok(Json(state.workbench.plugin_runs(&caller.tenant, &caller.member, &id, from, to).await?))
}
