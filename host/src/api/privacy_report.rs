//! `/me/privacy-report`: what plugins did with the signed-in member's data
//! in the last days, with a one-line answer in their language.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::callers::{CallerLanguages, DirectoryMember};
use super::error::{ApiQuery, ApiResult, ErrorBody};
use crate::service::privacy_report::PrivacyReport;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(privacy_report))
}

/// The period.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ReportParams {
    /// Days back from now, 1 to 90 (default 7).
    days: Option<u32>,
}

/// My privacy report: per plugin, which of my fields it read, how often
/// and when last, and where its requests went with the fields they could
/// have carried; a one-line answer at the top in my language.
#[utoipa::path(get, path = "/me/privacy-report", tag = "me", params(ReportParams), responses((status = 200, body = PrivacyReport), (status = 422, body = ErrorBody)))]
async fn privacy_report(
    State(state): State<AppState>,
    DirectoryMember(caller): DirectoryMember,
    CallerLanguages(languages): CallerLanguages,
    ApiQuery(params): ApiQuery<ReportParams>,
) -> ApiResult<Json<PrivacyReport>> {
    let days = params.days.unwrap_or(7);
    Ok(Json(state.workbench.privacy_report(&caller.tenant, &caller.member, days, &languages).await?))
}
