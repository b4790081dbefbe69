//! `/workbench/plugins`: the app admin installs, upgrades, disables,
//! enables, uninstalls and previews plugins, and previews who a visible
//! range reaches (`/workbench/range-preview`).

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::callers::{AcceptLanguage, Administrator, AppAdmin, CallerLanguages, PluginId};
use super::error::{ApiError, ApiJson, ApiQuery, ApiResult, ErrorBody};
use super::{AppState, detached};
use crate::model::departments::VisibleRange;
use crate::model::text::ShowIn;
use crate::scope::Scope;
use crate::service::DeletionReceipt;
use crate::service::departments::RangePreview;
use crate::service::installations::{InstallRequest, InstallationView, Preview};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(install, uninstall))
        .routes(routes!(disable))
        .routes(routes!(enable))
        .routes(routes!(preview))
        .routes(routes!(range_preview))
}

/// Install, upgrade or change the grant of a plugin.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct InstallBody {
    /// Published version to run.
    version: String,
    /// Scopes the tenant allows: a subset of the declared ones, with every required one.
    granted_scopes: Vec<Scope>,
    /// Who sees it, as rules evaluated at each call (everyone, departments
    /// with their sub-departments, members; deny lists win). Absent (and
    /// `visible_to` absent) = everyone.
    #[serde(default)]
    visible_range: Option<VisibleRange>,
    /// Shorthand for a range of exactly these members (not with
    /// `visible_range`).
    #[serde(default)]
    visible_to: Option<Vec<String>>,
    /// Destinations the plugin may send requests to: a subset of the
    /// declared ones, as the manifest writes them. Absent = none; an
    /// upgrade approves its destinations again.
    #[serde(default)]
    approved_egress: Vec<String>,
    /// Configuration values by key, for keys the version declares. Absent
    /// or empty: the key reads its default. An upgrade gives them again.
    #[serde(default)]
    config: std::collections::BTreeMap<String, String>,
    /// The events and schedules approved, as `subscriptions` of the
    /// version names them (`approval.submitted`, `schedule:evening`).
    /// Absent: all the version declares; an upgrade approves them again.
    #[serde(default)]
    approved_subscriptions: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct PreviewQuery {
    /// The member to preview for.
    member: String,
}

/// The tenant's installations.
#[utoipa::path(get, path = "/workbench/plugins", tag = "workbench", params(AcceptLanguage), responses((status = 200, body = Vec<InstallationView>), (status = 403, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    Administrator(caller): Administrator,
    CallerLanguages(prefs): CallerLanguages,
) -> ApiResult<Json<Vec<InstallationView>>> {
    let mut installations = state.workbench.installations(&caller.tenant).await?;
    installations.show_in(&prefs);
    Ok(Json(installations))
}

/// Install, upgrade or change the grant and visible range of a plugin.
#[utoipa::path(
    put,
    path = "/workbench/plugins/{id}",
    tag = "workbench",
    params(("id" = String, Path, description = "Plugin id", example = "site-daily-report")),
    request_body = InstallBody,
    responses((status = 200, body = InstallationView), (status = 422, body = ErrorBody))
)]
async fn install(
    State(state): State<AppState>,
    AppAdmin(Caller { tenant, member, .. }): AppAdmin,
    PluginId(id): PluginId,
    ApiJson(body): ApiJson<InstallBody>,
) -> ApiResult<Json<InstallationView>> {
    let visible_to = match (body.visible_range, body.visible_to) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid("give the visible range as visible_range or as visible_to, not both"));
        }
        (Some(range), None) => Some(range),
        (None, members) => members.map(VisibleRange::only),
    };
    let request = InstallRequest {
        version: body.version,
        granted: body.granted_scopes,
        visible_to,
        egress: body.approved_egress,
        config: body.config,
        subscriptions: body.approved_subscriptions,
    };
    Ok(Json(detached(&state, move |wb| async move { wb.install(&tenant, &member, &id, request).await }).await?))
}

/// Uninstall: the plugin stops at once; its consents and storage in the tenant are deleted.
#[utoipa::path(
    delete,
    path = "/workbench/plugins/{id}",
    tag = "workbench",
    params(("id" = String, Path, description = "Plugin id", example = "customer-visit")),
    responses((status = 200, description = "Deletion receipt", body = DeletionReceipt), (status = 404, body = ErrorBody))
)]
async fn uninstall(
    State(state): State<AppState>,
    AppAdmin(Caller { tenant, member, .. }): AppAdmin,
    PluginId(id): PluginId,
) -> ApiResult<Json<DeletionReceipt>> {
    Ok(Json(detached(&state, move |wb| async move { wb.uninstall(&tenant, &member, &id).await }).await?))
}

/// Stop a plugin at once.
#[utoipa::path(post, path = "/workbench/plugins/{id}/disable", tag = "workbench", params(("id" = String, Path, description = "Plugin id", example = "site-daily-report")), responses((status = 200, body = InstallationView), (status = 404, body = ErrorBody)))]
async fn disable(
    State(state): State<AppState>,
    AppAdmin(Caller { tenant, member, .. }): AppAdmin,
    PluginId(id): PluginId,
) -> ApiResult<Json<InstallationView>> {
    Ok(Json(detached(&state, move |wb| async move { wb.set_enabled(&tenant, &member, &id, false).await }).await?))
}

/// Resume a plugin.
#[utoipa::path(post, path = "/workbench/plugins/{id}/enable", tag = "workbench", params(("id" = String, Path, description = "Plugin id", example = "site-daily-report")), responses((status = 200, body = InstallationView), (status = 404, body = ErrorBody)))]
async fn enable(
    State(state): State<AppState>,
    AppAdmin(Caller { tenant, member, .. }): AppAdmin,
    PluginId(id): PluginId,
) -> ApiResult<Json<InstallationView>> {
    Ok(Json(detached(&state, move |wb| async move { wb.set_enabled(&tenant, &member, &id, true).await }).await?))
}

/// What the plugin would receive for a member now (audited as an access).
#[utoipa::path(
    get,
    path = "/workbench/plugins/{id}/preview",
    tag = "workbench",
    params(("id" = String, Path, description = "Plugin id", example = "site-daily-report"), PreviewQuery),
    responses((status = 200, body = Preview), (status = 404, body = ErrorBody))
)]
async fn preview(
    State(state): State<AppState>,
    AppAdmin(Caller { tenant, member: admin, .. }): AppAdmin,
    PluginId(id): PluginId,
    ApiQuery(query): ApiQuery<PreviewQuery>,
) -> ApiResult<Json<Preview>> {
    Ok(Json(detached(&state, move |wb| async move { wb.preview(&tenant, &admin, &id, &query.member).await }).await?))
}

/// Who a visible range reaches now: the count and the first 200 names,
/// for the install dialog's rule editor.
#[utoipa::path(post, path = "/workbench/range-preview", tag = "workbench", request_body = VisibleRange, responses((status = 200, body = RangePreview), (status = 422, body = ErrorBody)))]
async fn range_preview(
    State(state): State<AppState>,
    AppAdmin(caller): AppAdmin,
    ApiJson(range): ApiJson<VisibleRange>,
) -> ApiResult<Json<RangePreview>> {
    Ok(Json(state.workbench.range_preview(&caller.tenant, range).await?))
}
