//! `/plugins`: developers publish versions; anyone signed in reads the catalogue.

use axum::Json;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::StatusCode;
use base64::Engine as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Caller;
use super::callers::{AcceptLanguage, CallerLanguages, Developer, PluginId};
use super::error::{ApiError, ApiResult, ErrorBody};
use super::{AppState, detached};
use crate::model::text::ShowIn;
use crate::service::Published;
use crate::service::registry::{CatalogueEntry, ComponentSignature};

pub(super) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(publish, catalogue))
        .routes(routes!(catalogue_entry))
        // The publish body is bounded by the component cap, checked in the handler.
        .route_layer(DefaultBodyLimit::disable())
}

/// The multipart form of a publish, for the OpenAPI document.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, reason = "describes the multipart form in the OpenAPI document")]
struct PublishForm {
    /// plugin.toml.
    manifest: String,
    /// The component (`.wasm`).
    #[schema(format = Binary, content_media_type = "application/wasm")]
    component: Vec<u8>,
    /// Optional: the developer's Ed25519 public key, base64 (32 bytes).
    public_key: Option<String>,
    /// Optional: Ed25519 signature, base64 (64 bytes), of `workbench.plugin.signature.v1\0` followed by the
    /// SHA-256 of the manifest as uploaded and the SHA-256 of the component (raw bytes): it covers both.
    signature: Option<String>,
}

fn decode_b64(field: &str, text: &str) -> ApiResult<Vec<u8>> {
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| ApiError::invalid(format!("{field} is not valid base64")))
}

/// Publish a plugin version.
#[utoipa::path(
    post,
    path = "/plugins",
    tag = "registry",
    request_body(content = PublishForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Published", body = Published),
        (status = 409, description = "That version exists with other content, or the id is another developer's", body = ErrorBody),
        (status = 413, description = "The component is over the size cap", body = ErrorBody),
        (status = 422, description = "The manifest or component is refused; the message says why", body = ErrorBody),
    )
)]
async fn publish(
    State(state): State<AppState>,
    Developer(Caller { tenant, member, .. }): Developer,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<(StatusCode, Json<Published>)> {
    let mut multipart = multipart?;
    let (mut manifest, mut component, mut public_key, mut signature) = (None, None, None, None);
    let cap = state.max_component_bytes;
    while let Some(mut field) = multipart.next_field().await? {
        let name = field.name().unwrap_or_default().to_owned();
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await? {
            if bytes.len() + chunk.len() > cap {
                return Err(ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("{name} is larger than the {cap}-byte limit"),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        let text = |bytes: Vec<u8>| {
            String::from_utf8(bytes).map_err(|_| ApiError::invalid(format!("{name} must be UTF-8 text")))
        };
        let slot = match name.as_str() {
            "manifest" => &mut manifest,
            "component" => {
                component = Some(bytes);
                continue;
            }
            "public_key" => &mut public_key,
            "signature" => &mut signature,
            other => {
                return Err(ApiError::invalid(format!(
                    "unknown form field {other:?}; expected manifest, component, public_key, signature"
                )));
            }
        };
        if slot.is_some() {
            return Err(ApiError::invalid(format!("form field {name} is given twice")));
        }
        *slot = Some(text(bytes)?);
    }
    let manifest = manifest.ok_or_else(|| ApiError::invalid("the form lacks the manifest field (plugin.toml)"))?;
    let component = component.ok_or_else(|| ApiError::invalid("the form lacks the component field (.wasm)"))?;
    let signature = match (public_key, signature) {
        (None, None) => None,
        (Some(key), Some(sig)) => Some(ComponentSignature {
            public_key: decode_b64("public_key", &key)?,
            signature: decode_b64("signature", &sig)?,
        }),
        _ => return Err(ApiError::invalid("a signature needs both public_key and signature")),
    };
    let publish = move |wb: std::sync::Arc<crate::service::Workbench>| async move {
        wb.publish(&tenant, &member, &manifest, component, signature).await
    };
    let published = detached(&state, publish).await?;
    Ok((StatusCode::CREATED, Json(published)))
}

/// The catalogue: every published plugin and its versions.
#[utoipa::path(get, path = "/plugins", tag = "registry", params(AcceptLanguage), responses((status = 200, body = Vec<CatalogueEntry>)))]
async fn catalogue(
    State(state): State<AppState>,
    _caller: Caller,
    CallerLanguages(prefs): CallerLanguages,
) -> ApiResult<Json<Vec<CatalogueEntry>>> {
    let mut entries = state.workbench.catalogue().await?;
    entries.show_in(&prefs);
    Ok(Json(entries))
}

/// One plugin of the catalogue.
#[utoipa::path(
    get,
    path = "/plugins/{id}",
    tag = "registry",
    params(("id" = String, Path, description = "Plugin id", example = "site-daily-report"), AcceptLanguage),
    responses((status = 200, body = CatalogueEntry), (status = 404, body = ErrorBody))
)]
async fn catalogue_entry(
    State(state): State<AppState>,
    _caller: Caller,
    PluginId(id): PluginId,
    CallerLanguages(prefs): CallerLanguages,
) -> ApiResult<Json<CatalogueEntry>> {
    let mut entry = state.workbench.catalogue_entry(&id).await?;
    entry.show_in(&prefs);
    Ok(Json(entry))
}
