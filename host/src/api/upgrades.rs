//! The upgrade review queue (`/workbench/upgrades`): newer versions of the
//! tenant's plugins with their diffs, approved or declined by the app
//! admin; the tenant's choice to let versions that widen nothing apply
//! themselves (`/workbench/upgrade-settings`); and, for the developer who
//! published a plugin, how many tenants run or await each version
//! (`/plugins/{id}/adoption`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::callers::{AcceptLanguage, AppAdmin, CallerLanguages, Developer, PluginId};
use super::error::{ApiJson, ApiResult, ErrorBody};
use super::{AppState, detached};
use crate::model::text::ShowIn;
use crate::service::installations::InstallationView;
use crate::service::upgrades::{UpgradeReview, VersionAdoption};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(review))
        .routes(routes!(approve))
        .routes(routes!(decline))
        .routes(routes!(settings))
        .routes(routes!(adoption))
}

/// The version to approve.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    /// The newer published version.
    #[schema(example = "0.2.0")]
    version: String,
}

/// The version to decline, and why.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct DeclineBody {
    /// The newer published version.
    #[schema(example = "0.2.0")]
    version: String,
    /// Why (1 to 500 characters; in the audit log).
    reason: String,
}

/// Whether versions that widen nothing apply themselves.
#[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct UpgradeSettings {
    /// On: a published version that asks for nothing new (no scope,
    /// destination or configuration key, no purpose in other words) is
    /// installed at once. Off (the default): every version waits.
    auto_apply: bool,
}

/// Newer versions of the tenant's plugins, with what each changes.
#[utoipa::path(get, path = "/workbench/upgrades", tag = "workbench", params(AcceptLanguage), responses((status = 200, body = UpgradeReview), (status = 403, body = ErrorBody)))]
async fn review(
    State(state): State<AppState>,
    AppAdmin(caller): AppAdmin,
    CallerLanguages(prefs): CallerLanguages,
) -> ApiResult<Json<UpgradeReview>> {
    let mut review = state.workbench.upgrade_review(&caller.tenant).await?;
    review.show_in(&prefs);
    Ok(Json(review))
}

/// Approve a newer version: it runs from the next call, with what it
/// newly declares granted; members are asked again for what changed.
#[utoipa::path(post, path = "/workbench/upgrades/{id}/approve", tag = "workbench", params(("id" = String, Path, description = "Plugin id", example = "site-daily-report")), request_body = ApproveBody, responses((status = 200, body = InstallationView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn approve(
    State(state): State<AppState>,
    AppAdmin(Caller { tenant, member: admin, .. }): AppAdmin,
    PluginId(id): PluginId,
    ApiJson(body): ApiJson<ApproveBody>,
) -> ApiResult<Json<InstallationView>> {
    let view = detached(&state, move |wb| async move { wb.approve_upgrade(&tenant, &admin, &id, &body.version).await })
        .await?;
    Ok(Json(view))
}

/// Decline a newer version: the installed one keeps running.
#[utoipa::path(post, path = "/workbench/upgrades/{id}/decline", tag = "workbench", params(("id" = String, Path, description = "Plugin id", example = "site-daily-report")), request_body = DeclineBody, responses((status = 204, description = "declined"), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn decline(
    State(state): State<AppState>,
    AppAdmin(Caller { tenant, member: admin, .. }): AppAdmin,
    PluginId(id): PluginId,
    ApiJson(body): ApiJson<DeclineBody>,
) -> ApiResult<StatusCode> {
    detached(
        &state,
        move |wb| async move { wb.decline_upgrade(&tenant, &admin, &id, &body.version, &body.reason).await },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Let versions that widen nothing apply themselves, or not.
#[utoipa::path(put, path = "/workbench/upgrade-settings", tag = "workbench", request_body = UpgradeSettings, responses((status = 200, body = UpgradeSettings), (status = 403, body = ErrorBody)))]
async fn settings(
    State(state): State<AppState>,
    AppAdmin(Caller { tenant, member: admin, .. }): AppAdmin,
    ApiJson(body): ApiJson<UpgradeSettings>,
) -> ApiResult<Json<UpgradeSettings>> {
    let on =
        detached(&state, move |wb| async move { wb.set_auto_upgrade(&tenant, &admin, body.auto_apply).await }).await?;
    Ok(Json(UpgradeSettings { auto_apply: on }))
}

/// Per version of my plugin: how many tenants run it and how many have it
/// waiting (counts only: no tenant is named).
#[utoipa::path(get, path = "/plugins/{id}/adoption", tag = "plugins", params(("id" = String, Path, description = "Plugin id", example = "site-daily-report")), responses((status = 200, body = Vec<VersionAdoption>), (status = 404, body = ErrorBody)))]
async fn adoption(
    State(state): State<AppState>,
    Developer(caller): Developer,
    PluginId(id): PluginId,
) -> ApiResult<Json<Vec<VersionAdoption>>> {
    Ok(Json(state.workbench.adoption(&caller.tenant, &caller.member, &id).await?))
}
