//! __ID__: a workbench plugin.
//!
//! - `GET /`: a page that greets the person by name and says how often they
//!   opened it (kept in their own storage bucket).
//! - `GET /visits.json`: the same as JSON.
//!
//! Every read goes through the host: the name only if the person consented
//! to `user.name`, storage only if the admin granted it.

use workbench_sdk::storage::{self, Bucket};
use workbench_sdk::{AccessError, Plugin, PluginError, Request, Response, html, json, profile};

struct App;

impl Plugin for App {
    fn handle(request: Request) -> Result<Response, PluginError> {
        match (request.method.as_str(), request.path.as_str()) {
            ("GET", "/") => {
                let (name, visits) = visit()?;
                let page = html::document(
                    "zh-CN",
                    "__ID__",
                    [html::heading(1, &format!("你好，{name}")), html::paragraph(&format!("这是你第 {visits} 次打开。"))],
                );
                Ok(Response::html(200, page))
            }
            ("GET", "/visits.json") => {
                let (name, visits) = visit()?;
                Ok(Response::json(200, format!("{{\"name\":{},\"visits\":{visits}}}", json::quote(&name))))
            }
            (method, path) => Err(PluginError::NotFound(format!("no route for {method} {path}"))),
        }
    }
}

workbench_sdk::export!(App);

/// The person's name and how often they came, this visit counted.
fn visit() -> Result<(String, u64), PluginError> {
    let name = profile::name().map_err(|e| unavailable("user.name", &e))?;
    let storage_failed = |e: storage::StorageError| PluginError::Internal(format!("storage failed: {e}"));
    let visits = storage::get_string(Bucket::Person, "visits")
        .map_err(storage_failed)?
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or(0)
        + 1;
    storage::set(Bucket::Person, "visits", visits.to_string().as_bytes()).map_err(storage_failed)?;
    Ok((name, visits))
}

fn unavailable(scope: &str, error: &AccessError) -> PluginError {
    PluginError::Internal(format!("{scope} unavailable: {error}"))
}

#[cfg(test)]
mod tests {
    use workbench_sdk::testing::MockHost;

    use super::*;

    #[test]
    fn it_greets_by_name_and_counts_visits() {
        let host = MockHost::new().with_name("张伟").with_storage(1 << 20);
        let first = host.call::<App>(Request::get("/visits.json")).expect("answers");
        assert_eq!(first.body_text(), r#"{"name":"张伟","visits":1}"#);
        let page = host.call::<App>(Request::get("/")).expect("answers");
        assert!(page.body_text().contains("你好，张伟"), "{}", page.body_text());
        assert!(page.body_text().contains("第 2 次"), "{}", page.body_text());
    }

    #[test]
    fn without_consent_to_the_name_it_says_why() {
        let host = MockHost::new().with_storage(1 << 20);
        let refused = host.call::<App>(Request::get("/")).expect_err("refused");
        assert_eq!(refused, PluginError::Internal("user.name unavailable: not_consented".into()));
    }

    #[test]
    fn an_unknown_route_is_not_found() {
        let host = MockHost::new().with_name("张伟").with_storage(1 << 20);
        assert!(matches!(host.call::<App>(Request::get("/nowhere")), Err(PluginError::NotFound(_))));
    }
}
