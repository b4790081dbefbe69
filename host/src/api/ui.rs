//! The browser page: static assets embedded in the binary from `host/ui/`
//! (a debug build reads them from that folder, so the page can be edited
//! without rebuilding), and, only when the server runs in demo mode, the
//! demo sign-in that hands out a token for a demo identity.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
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
/// images; frames only from itself (the plugin frame, `/ui/frame.html`, and
/// wherever that frame tries to go); the page itself cannot be framed.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                   connect-src 'self'; frame-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'";

/// The plugin frame's policy (docs/SECURITY.md), with `{shell}` the hash of
/// the frame's shell (`frame.js`), the one script that may run in its window:
/// a plugin's scripts run in a worker (`worker-src blob:`), its inline styles
/// apply, and nothing is loaded or sent from the frame or the worker — no
/// fetch, no remote script, style, image, font or frame, no eval, no form
/// submitted by the browser (forms go through the bridge), no `<base>`, no
/// WebRTC where the browser knows the directive; only the workbench page may
/// frame it, and the document is sandboxed even when opened on its own (an
/// opaque origin: no cookies, storage or access to the page).
const FRAME_CSP: &str = "default-src 'none'; script-src '{shell}'; style-src 'unsafe-inline'; \
                         img-src data:; font-src data:; media-src data:; connect-src 'none'; frame-src 'none'; \
                         child-src 'none'; worker-src blob:; manifest-src 'none'; form-action 'none'; base-uri 'none'; \
                         frame-ancestors 'self'; webrtc 'block'; sandbox allow-scripts allow-forms";

/// [`FRAME_CSP`] for the shell `script`.
pub fn frame_csp(script: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(script.as_bytes());
    FRAME_CSP.replace("{shell}", &format!("sha256-{}", base64::engine::general_purpose::STANDARD.encode(digest)))
}

pub(super) fn routes(demo: bool) -> Router<AppState> {
    let router =
        Router::new().route("/", get(index)).route("/ui/frame.html", get(frame)).route("/ui/{*file}", get(asset));
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

/// The plugin frame's document: the workbench stylesheet for plugin pages
/// and the bridge's frame end, inline (an opaque origin cannot load its own
/// files), under [`FRAME_CSP`]. A plugin's page is written into it.
async fn frame() -> Response {
    let (Some(style), Some(script), Some(worker)) =
        (Assets::get("frame.css"), Assets::get("frame.js"), Assets::get("frame-worker.js"))
    else {
        return ApiError::not_found("no plugin frame in this build").into_response();
    };
    let script = String::from_utf8_lossy(&script.data);
    // Static text and a base64 digest: always a header value.
    let Ok(csp) = HeaderValue::from_str(&frame_csp(&script)) else {
        return ApiError::internal("the plugin frame's policy is not a header value").into_response();
    };
    // The worker's prelude is data here (`text/plain` never runs): the shell
    // reads it and starts the worker with it.
    let html = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <style id=\"wb-style\">{}</style><script type=\"text/plain\" id=\"wb-worker\">{}</script>\
         <script>{script}</script></head><body></body></html>",
        String::from_utf8_lossy(&style.data),
        String::from_utf8_lossy(&worker.data),
    );
    let mut response = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    let headers = response.headers_mut();
    guard(headers, csp, "SAMEORIGIN");
    headers.insert(HeaderName::from_static("x-dns-prefetch-control"), HeaderValue::from_static("off"));
    headers.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), clipboard-read=(), display-capture=()"),
    );
    response
}

/// The headers every page document and asset carries: its policy, who may
/// frame it, no sniffing, no referrer, revalidated on each load.
fn guard(headers: &mut http::HeaderMap, csp: HeaderValue, frame_options: &'static str) {
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    // A page that opened the workbench keeps no handle on it (and the frame
    // none on that page); nothing of the workbench is embedded elsewhere.
    headers.insert(HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin"));
    headers.insert(HeaderName::from_static("cross-origin-resource-policy"), HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static(frame_options));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
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
            guard(headers, HeaderValue::from_static(CSP), "DENY");
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
    // A token issued in the second its member's sessions were ended is
    // refused with the earlier ones (`iat` counts seconds): wait that
    // second out, so that signing in again right after "sign out
    // everywhere" works.
    if let Ok(Some(ended)) = state.workbench.sessions_ended_at(demo::TENANT, member).await {
        let wait = (ended.div_euclid(1000) + 1) * 1000 - crate::now_ms();
        if (1..=1000).contains(&wait) {
            tokio::time::sleep(std::time::Duration::from_millis(wait.unsigned_abs())).await;
        }
    }
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use axum::http::header;

    use super::{Assets, frame, frame_csp};

    #[tokio::test]
    async fn the_frame_document_carries_the_bridge_under_its_own_policy() {
        let response = frame().await;
        let csp = response.headers()[header::CONTENT_SECURITY_POLICY].to_str().expect("ascii").to_owned();
        assert_eq!(csp, frame_csp(&text("frame.js")));
        for must in [
            "default-src 'none'",
            "connect-src 'none'",
            "form-action 'none'",
            "base-uri 'none'",
            "frame-src 'none'",
            "worker-src blob:",
            "webrtc 'block'",
        ] {
            assert!(csp.contains(must), "{must} in {csp}");
        }
        assert!(csp.ends_with("sandbox allow-scripts allow-forms"), "{csp}");
        assert!(!csp.contains("allow-same-origin") && !csp.contains("allow-popups") && !csp.contains("allow-top"));
        // Only the shell runs in the frame's window: no inline plugin script, no handler, no eval.
        let scripts = csp.split(';').map(str::trim).find(|d| d.starts_with("script-src")).expect("script-src");
        assert!(scripts.starts_with("script-src 'sha256-") && scripts.split_whitespace().count() == 2, "{scripts}");
        assert_eq!(response.headers()["cross-origin-opener-policy"], "same-origin");
        // Nothing may be loaded from anywhere: 'self' only says who may frame it.
        let loads_from_self: Vec<&str> = csp
            .split(';')
            .map(str::trim)
            .filter(|d| d.contains("'self'") && !d.starts_with("frame-ancestors"))
            .collect();
        assert!(loads_from_self.is_empty() && !csp.contains("http"), "{loads_from_self:?} in {csp}");
        assert_eq!(response.headers()[header::X_FRAME_OPTIONS], "SAMEORIGIN");
        let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
        let html = String::from_utf8(body.to_vec()).expect("UTF-8");
        assert!(html.contains("workbench.bridge/1") && html.contains("<style id=\"wb-style\">"), "{html}");
        // Inlined as they are: neither may end its element early.
        assert!(!text("frame.js").contains("</script") && !text("frame-worker.js").contains("</script"));
        assert!(!text("frame.css").contains("</style"));
        assert_eq!(html.matches("</script>").count(), 2);
        assert!(html.contains("<script type=\"text/plain\" id=\"wb-worker\">"), "{html}");
    }

    fn text(file: &str) -> String {
        let asset = Assets::get(file).unwrap_or_else(|| panic!("no asset {file}"));
        String::from_utf8(asset.data.into_owned()).expect("UTF-8")
    }

    /// The keys of a dictionary file: each entry is a line `'key': …`.
    fn keys(file: &str) -> BTreeSet<String> {
        text(file)
            .lines()
            .filter_map(|line| line.trim_start().strip_prefix('\'')?.split_once("':").map(|(key, _)| key.to_owned()))
            .collect()
    }

    #[test]
    fn both_languages_have_the_same_keys() {
        let (zh, en) = (keys("i18n/zh.js"), keys("i18n/en.js"));
        assert!(zh.len() > 300, "the dictionaries were not read: {} keys", zh.len());
        let only_zh: Vec<_> = zh.difference(&en).collect();
        let only_en: Vec<_> = en.difference(&zh).collect();
        assert!(only_zh.is_empty() && only_en.is_empty(), "only in zh.js: {only_zh:?}; only in en.js: {only_en:?}");
    }

    #[test]
    fn the_english_field_names_are_the_servers() {
        // en.js names each scope's field as the server does (`Scope::field`,
        // which the API also sends), so the two cannot drift apart.
        let en = text("i18n/en.js");
        for scope in crate::scope::Scope::ALL {
            let line = format!("'field.{}': '{}',", scope.as_str(), scope.field());
            assert!(en.lines().any(|l| l.trim() == line), "en.js lacks {line}");
        }
    }

    #[test]
    fn every_key_the_page_asks_for_is_in_the_dictionary() {
        let known = keys("i18n/zh.js");
        let mut missing = BTreeSet::new();
        for file in Assets::iter().filter(|f| f.ends_with(".js") && !f.starts_with("i18n/")) {
            let source = text(&file);
            for (at, _) in source.match_indices("t('") {
                // `t(` itself, not the end of another name (`get('a')`).
                let before = source[..at].chars().next_back();
                if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '$') {
                    continue;
                }
                let Some((key, _)) = source[at + 3..].split_once('\'') else { continue };
                if !known.contains(key) {
                    missing.insert(format!("{file}: {key}"));
                }
            }
        }
        assert!(missing.is_empty(), "keys the page uses that no dictionary has: {missing:?}");
    }

    #[test]
    fn every_audit_action_has_a_label_in_both_languages() {
        for file in ["i18n/zh.js", "i18n/en.js"] {
            let keys = keys(file);
            let missing: Vec<_> = crate::model::audit::Action::ALL
                .iter()
                .filter(|a| !keys.contains(&format!("action.{}", a.as_str())))
                .collect();
            assert!(missing.is_empty(), "{file} has no label for {missing:?}");
        }
    }

    #[test]
    fn the_audit_filter_takes_the_servers_actions_from_its_document() {
        // The page keeps no list of its own: it reads the document's enum.
        let source = text("views/admin/audit.js");
        assert!(source.contains("schemas.Action"), "the audit tab no longer reads the document's actions");
        assert!(!source.contains("'plugin.install'"), "the audit tab lists actions of its own again");
        let doc = serde_json::to_value(super::super::openapi()).expect("the document");
        let parameter = doc["paths"]["/api/v1/audit"]["get"]["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == "action"))
            .expect("the action parameter");
        assert_eq!(parameter["schema"]["$ref"], "#/components/schemas/Action", "{parameter}");
        let listed: Vec<&str> = doc["components"]["schemas"]["Action"]["enum"]
            .as_array()
            .expect("the Action enum in the document")
            .iter()
            .filter_map(|a| a.as_str())
            .collect();
        let server: Vec<&str> = crate::model::audit::Action::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(listed, server);
    }
}
