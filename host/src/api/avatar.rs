//! `GET /me/plugins/{id}/avatar?src=URL`: the signed-in member's avatar for
//! a plugin's page (which fetches nothing itself), as the image's bytes.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::callers::{Member, PluginId};
use super::error::{ApiError, ApiQuery, ApiResult, ErrorBody};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(avatar))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct AvatarQuery {
    /// The image's URL as the plugin's page names it: it must be the
    /// member's avatar as their profile gives it.
    src: String,
}

/// My avatar, for a plugin's page that shows it. Only when I consented to
/// `user.avatar` for the plugin, and only the URL my profile names; the
/// host fetches it (a PNG, JPEG, GIF or WebP of at most 256 KiB) and each
/// answer is an audit record (`page.avatar`).
#[utoipa::path(
    get,
    path = "/me/plugins/{id}/avatar",
    tag = "me",
    params(("id" = String, Path, description = "Plugin id", example = "customer-visit"), AvatarQuery),
    responses(
        (status = 200, description = "the image", content_type = "image/png"),
        (status = 403, description = "forbidden: no consent to user.avatar for this plugin", body = ErrorBody),
        (status = 404, description = "not_found: no such plugin for me, or not my avatar's URL", body = ErrorBody),
        (status = 422, body = ErrorBody),
        (status = 429, body = ErrorBody),
        (status = 502, description = "unavailable: the avatar's host did not give an image", body = ErrorBody),
    )
)]
async fn avatar(
    State(state): State<AppState>,
    Member(caller): Member,
    PluginId(id): PluginId,
    ApiQuery(query): ApiQuery<AvatarQuery>,
) -> ApiResult<Response> {
    if query.src.is_empty() || query.src.len() > 2048 {
        return Err(ApiError::invalid("src must be a URL of 1 to 2048 bytes"));
    }
    let image = state.workbench.avatar(&caller.tenant, &caller.member, caller.issued_at, &id, &query.src).await?;
    Ok((
        [
            (header::CONTENT_TYPE, image.media_type),
            (header::CACHE_CONTROL, "private, no-store"),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; sandbox"),
        ],
        image.bytes,
    )
        .into_response())
}
