//! A hostile plugin page for the browser tests of the frame bridge. `GET /`
//! is a page whose script tries everything a page must not be able to do
//! from the workbench frame, and writes what it could do into
//! `<pre id="report">` (JSON; `data-done` when finished):
//!
//! | key | attempt | expected |
//! |---|---|---|
//! | `fetch`, `xhr`, `beacon`, `websocket` | reach the API / another host | `blocked` |
//! | `image` | load a remote image | `blocked` (a CSP violation) |
//! | `parent`, `top`, `opener_dom` | read the workbench page's DOM or URL | `blocked` |
//! | `local_storage`, `session_storage`, `cookie`, `indexed_db` | the origin's storage | `blocked` |
//! | `open` | `window.open` | `blocked` |
//! | `top_navigation` | `top.location = …` | `blocked` |
//! | `form_elsewhere` | a form posting to another origin (`requestSubmit`) | the page refuses it (`leave`) |
//! | `forged_plugin` | a bridge message naming another plugin | `refused:unknown_field` |
//! | `admin_route` | a bridge call of `/api/v1/admin/members` | answered by this plugin's own echo |
//! | `headers` | a bridge call setting Authorization and Cookie | the echo shows neither |
//! | `huge` | a 10 MB bridge payload | `refused:too_large` |
//! | `unprompted_navigation` | a navigation no one clicked | no reply; the page refuses it |
//! | `flood` | 200 bridge calls at once | most `rate_limited` |
//!
//! Buttons do the rest with a user activation: `Attack with a click` (popup
//! and top navigation again), `Submit without an event` (`form.submit()`,
//! which fires no submit event: the bridge routes it too, and refuses it).
//!
//! A multipart form (`#upload`, a file and a hidden field) posts to `/upload`.
//!
//! Every other path answers a JSON echo of the request, after reading the
//! caller's open id (so each invocation is in the audit log).

use workbench_sdk::json::quote;
use workbench_sdk::{Plugin, PluginError, Request, Response, profile};

struct HostilePage;

impl Plugin for HostilePage {
    fn handle(request: Request) -> Result<Response, PluginError> {
        let open_id = profile::user_id().map_err(|e| PluginError::Internal(format!("user id unavailable: {e}")))?;
        match (request.method.as_str(), request.path.as_str()) {
            ("GET", "/") => Ok(Response::html(200, PAGE)),
            _ => {
                let headers: Vec<String> =
                    request.headers.iter().map(|(k, v)| format!("[{},{}]", quote(k), quote(v))).collect();
                Ok(Response::json(
                    200,
                    format!(
                        "{{\"echo\":true,\"open_id\":{},\"method\":{},\"path\":{},\"query\":{},\"headers\":[{}],\"body_bytes\":{}}}",
                        quote(&open_id),
                        quote(&request.method),
                        quote(&request.path),
                        quote(&request.query),
                        headers.join(","),
                        request.body.len()
                    ),
                ))
            }
        }
    }
}

workbench_sdk::export!(HostilePage);

const PAGE: &str = include_str!("page.html");
