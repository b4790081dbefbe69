//! Hostile plugin pages for the browser tests of the frame bridge. Each
//! `GET` of a page below answers that page; every other request answers a
//! JSON echo of itself, after reading the caller's open id (so each
//! invocation is in the audit log).
//!
//! | route | what it tries |
//! |---|---|
//! | `/` (`?udp=PORT`) | from its script: the window, the workbench page, the opener, storage, popups, top navigation, focus, history, eval, imports, WebRTC (STUN and TURN to `PORT`), beacons, images, fetch, WebSocket, EventSource, a nested worker; forged messages; an "admin route", forbidden headers, a 600 KB body, a navigation no one clicked, 100 calls at once. Writes what it could do into `<pre id="report">` (JSON; `data-done` when finished); `Attack with a click` tries popups and top navigation again with a user activation |
//! | `/leak` | markup alone: refresh, prefetch and preconnect links, a base, remote styles, imports and backgrounds, frames, objects, embeds, images, posters, pinged links, SVG links and images, an outside form with an autofocused field, an inline handler, speculation rules, a remote script |
//! | `/impersonate` | a fake workbench header and a fake form for a phone number and password, below 19 000 px of nothing; tries to focus and scroll to them |
//! | `/hang` | a script that never returns |
//! | `/flood-page` (`?huge`) | a script that sends a million messages (or 8 MB ones) |
//! | `/history` | one click, ten navigations |
//! | `/consent-loop` | a call every 300 ms, with no one asking; `Ask once` calls on a click |
//! | `/bench?n=N` | not an attack: a script that times `N` calls of `workbench.invoke`, one at a time under the bridge's rate, into `#times` (`data-done`) for `tests/browser/bench-bridge.mjs` |
//!
//! A multipart form on `/` (`#upload`, a file and a hidden field) posts to `/upload`.

use workbench_sdk::json::quote;
use workbench_sdk::{Plugin, PluginError, Request, Response, profile};

struct HostilePage;

impl Plugin for HostilePage {
    fn handle(request: Request) -> Result<Response, PluginError> {
        let open_id = profile::user_id().map_err(|e| PluginError::Internal(format!("user id unavailable: {e}")))?;
        if let ("GET", Some(html)) = (request.method.as_str(), page(&request.path)) {
            return Ok(Response::html(200, html));
        }
        let headers: Vec<String> = request.headers.iter().map(|(k, v)| format!("[{},{}]", quote(k), quote(v))).collect();
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

workbench_sdk::export!(HostilePage);

fn page(path: &str) -> Option<&'static str> {
    Some(match path {
        "/" => include_str!("pages/main.html"),
        "/leak" => include_str!("pages/leak.html"),
        "/impersonate" => include_str!("pages/impersonate.html"),
        "/hang" => include_str!("pages/hang.html"),
        "/flood-page" => include_str!("pages/flood.html"),
        "/history" => include_str!("pages/history.html"),
        "/consent-loop" => include_str!("pages/consent-loop.html"),
        "/bench" => include_str!("pages/bench.html"),
        _ => return None,
    })
}
