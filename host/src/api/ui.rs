//! The browser page: static assets embedded in the binary from `host/ui/`
//! (a debug build reads them from that folder, so the page can be edited
//! without rebuilding), and, only when the server runs in demo mode, the
//! demo sign-in that hands out a token for a demo identity.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::{ApiError, ApiJson, ApiResult};
use crate::demo;

#[derive(rust_embed::Embed)]
#[folder = "ui/"]
struct Assets;

/// The page's content security policy: only its own scripts, styles and
/// images; plugin output is shown in a sandboxed frame (which inherits this
/// policy, so a plugin's page cannot load anything from elsewhere either);
/// the page itself cannot be framed.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                   connect-src 'self'; frame-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

pub(super) fn routes(demo: bool) -> Router<AppState> {
    let router = Router::new().route("/", get(index)).route("/ui/{*file}", get(asset));
    if demo {
        router.route("/api/v1/demo/identities", get(identities)).route("/api/v1/demo/session", post(session))
    } else {
        router
    }
}

async fn index() -> Response {
    serve("index.html")
}

async fn asset(Path(file): Path<String>) -> Response {
    serve(&file)
}

fn serve(file: &str) -> Response {
    match Assets::get(file) {
        Some(content) => {
            let mime = content.metadata.mimetype();
            let mut response = content.data.into_owned().into_response();
            let headers = response.headers_mut();
            if let Ok(value) = HeaderValue::from_str(mime) {
                headers.insert(header::CONTENT_TYPE, value);
            }
            headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
            headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
            headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        None => ApiError::not_found(format!("no page asset {file:?}")).into_response(),
    }
}

/// A demo identity one can sign in as.
#[derive(Debug, Serialize)]
struct Identity {
    member: &'static str,
    name: String,
    roles: Vec<&'static str>,
    label: &'static str,
}

async fn identities() -> Json<Vec<Identity>> {
    let names = demo::members();
    let name_of = |id: &str| names.iter().find(|(m, _)| *m == id).map(|(_, p)| p.name.clone()).unwrap_or_default();
    Json(
        demo::IDENTITIES
            .iter()
            .map(|(member, roles, label)| Identity {
                member,
                name: name_of(member),
                roles: roles.iter().map(|r| r.as_str()).collect(),
                label,
            })
            .collect(),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionRequest {
    member: String,
}

#[derive(Debug, Serialize)]
struct Session {
    token: String,
    tenant: &'static str,
    tenant_name: &'static str,
    member: String,
    roles: Vec<&'static str>,
    expires_in: u64,
}

/// Signs in as a demo identity: a token for the demo tenant with that
/// identity's roles.
async fn session(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<SessionRequest>,
) -> ApiResult<(StatusCode, Json<Session>)> {
    let Some((member, roles, _)) = demo::IDENTITIES.iter().find(|(m, _, _)| *m == request.member) else {
        let known: Vec<&str> = demo::IDENTITIES.iter().map(|(m, _, _)| *m).collect();
        return Err(ApiError::not_found(format!(
            "no demo identity {:?}; the demo identities are {}",
            request.member,
            known.join(", ")
        )));
    };
    let token = state
        .keys
        .mint(demo::TENANT, member, roles, demo::SESSION)
        .map_err(|e| ApiError::internal(format!("minting a demo token: {e}")))?;
    Ok((
        StatusCode::CREATED,
        Json(Session {
            token,
            tenant: demo::TENANT,
            tenant_name: demo::TENANT_NAME,
            member: (*member).to_owned(),
            roles: roles.iter().map(|r| r.as_str()).collect(),
            expires_in: demo::SESSION.as_secs(),
        }),
    ))
}
