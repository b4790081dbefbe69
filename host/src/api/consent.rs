//! `/me/plugins`: the signed-in member's plugins, each plugin's disclosure,
//! consent and withdrawal.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::callers::{AcceptLanguage, CallerLanguages, DirectoryMember, PluginId};
use super::error::{ApiError, ApiJson, ApiQuery, ApiResult, ErrorBody};
use super::{AppState, detached};
use crate::model::text::ShowIn;
use crate::scope::Scope;
use crate::service::Disclosure;
use crate::service::consent::MyPlugin;

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(my_plugins)).routes(routes!(disclosure, consent, withdraw))
}

/// The plugins I see, and whether each runs for me.
#[utoipa::path(get, path = "/me/plugins", tag = "me", params(AcceptLanguage), responses((status = 200, body = Vec<MyPlugin>), (status = 403, body = ErrorBody)))]
async fn my_plugins(
    State(state): State<AppState>,
    DirectoryMember(caller): DirectoryMember,
    CallerLanguages(prefs): CallerLanguages,
) -> ApiResult<Json<Vec<MyPlugin>>> {
    let mut plugins = state.workbench.my_plugins(&caller.tenant, &caller.member).await?;
    plugins.show_in(&prefs);
    Ok(Json(plugins))
}

/// The disclosure: who receives which of my fields, for what, and what I am asked now.
#[utoipa::path(get, path = "/me/plugins/{id}/consent", tag = "me", params(("id" = String, Path, description = "Plugin id", example = "site-daily-report"), AcceptLanguage), responses((status = 200, body = Disclosure), (status = 404, body = ErrorBody)))]
async fn disclosure(
    State(state): State<AppState>,
    DirectoryMember(caller): DirectoryMember,
    PluginId(id): PluginId,
    CallerLanguages(prefs): CallerLanguages,
) -> ApiResult<Json<Disclosure>> {
    let mut disclosure = state.workbench.disclosure(&caller.tenant, &caller.member, &id).await?;
    disclosure.show_in(&prefs);
    Ok(Json(disclosure))
}

/// Consent to scopes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ConsentBody {
    /// The scopes I consent to (for their current purposes).
    scopes: Vec<Scope>,
    /// Sensitive scopes of `scopes`, listed again: their consent is separate.
    #[serde(default)]
    sensitive: Vec<Scope>,
}

/// Consent to some of a plugin's scopes.
#[utoipa::path(put, path = "/me/plugins/{id}/consent", tag = "me", params(("id" = String, Path, description = "Plugin id", example = "site-daily-report"), AcceptLanguage), request_body = ConsentBody, responses((status = 200, body = Disclosure), (status = 422, body = ErrorBody)))]
async fn consent(
    State(state): State<AppState>,
    DirectoryMember(Caller { tenant, member, .. }): DirectoryMember,
    PluginId(id): PluginId,
    CallerLanguages(prefs): CallerLanguages,
    ApiJson(body): ApiJson<ConsentBody>,
) -> ApiResult<Json<Disclosure>> {
    let languages = prefs.clone();
    let consent = move |wb: std::sync::Arc<crate::service::Workbench>| async move {
        wb.consent(&tenant, &member, &id, &body.scopes, &body.sensitive, &languages).await
    };
    let mut disclosure = detached(&state, consent).await?;
    disclosure.show_in(&prefs);
    Ok(Json(disclosure))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct WithdrawQuery {
    /// Comma-separated scopes; absent = all.
    scopes: Option<String>,
}

/// Withdraw consent (all, or the listed scopes); what the plugin stored about me is deleted.
#[utoipa::path(delete, path = "/me/plugins/{id}/consent", tag = "me", params(("id" = String, Path, description = "Plugin id", example = "site-daily-report"), WithdrawQuery, AcceptLanguage), responses((status = 200, body = Disclosure), (status = 422, body = ErrorBody)))]
async fn withdraw(
    State(state): State<AppState>,
    DirectoryMember(Caller { tenant, member, .. }): DirectoryMember,
    PluginId(id): PluginId,
    CallerLanguages(prefs): CallerLanguages,
    ApiQuery(query): ApiQuery<WithdrawQuery>,
) -> ApiResult<Json<Disclosure>> {
    let scopes = query
        .scopes
        .as_deref()
        .map(|list| {
            list.split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.trim().parse::<Scope>().map_err(|e| ApiError::invalid(e.to_string())))
                .collect::<ApiResult<Vec<_>>>()
        })
        .transpose()?;
    let languages = prefs.clone();
    let withdraw = move |wb: std::sync::Arc<crate::service::Workbench>| async move {
        wb.withdraw(&tenant, &member, &id, scopes.as_deref(), &languages).await
    };
    let mut disclosure = detached(&state, withdraw).await?;
    disclosure.show_in(&prefs);
    Ok(Json(disclosure))
}
