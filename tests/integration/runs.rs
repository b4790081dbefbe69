//! The developer's failure view (`/api/v1/plugins/{id}/runs`): per version,
//! how the calls ended (ok, plugin_error, deadline, trap, refused), their
//! p50/p99, failed outbound requests, per tenant by rank, a tenant smaller
//! than k members folded into `other`, and nothing that names a tenant, a
//! member or a value of theirs.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workbench_host::model::directory::Role;

use crate::server::{Server, on_both_databases};
use crate::support::HOSTILE_MANIFEST;

/// Installs the hostile guest in the caller's tenant with the id and name
/// granted, and consents `member` to both.
async fn install_and_consent(server: &Server, admin: &str, member: &str) {
    let install = json!({ "version": "0.1.0", "granted_scopes": ["user.id", "user.name"] });
    let installed = server.call(Method::PUT, "/api/v1/workbench/plugins/hostile", Some(admin), Some(install)).await;
    assert_eq!(installed.status, StatusCode::OK, "{}", installed.text);
    let consent = json!({ "scopes": ["user.id", "user.name"] });
    let given = server.call(Method::PUT, "/api/v1/me/plugins/hostile/consent", Some(member), Some(consent)).await;
    assert!(given.status.is_success(), "{}", given.text);
}

async fn invoke(server: &Server, token: &str, path: &str, query: &str) -> StatusCode {
    let body = json!({ "method": "GET", "path": path, "query": query });
    server.call(Method::POST, "/api/v1/me/plugins/hostile/invoke", Some(token), Some(body)).await.status
}

/// Every string value in `value`, at any depth.
fn strings(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::String(s) => into.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, into)),
        Value::Object(map) => map.values().for_each(|v| strings(v, into)),
        _ => {}
    }
}

on_both_databases! {
    async fn a_developer_sees_how_each_version_fails_and_nobody_in_it(db: Db) {
        let server = Server::demo(db).await;
        let dev = server.demo_token("acme", &[Role::Developer]);
        let component = std::fs::read(xtask::guests().component("hostile")).expect("hostile built");
        assert_eq!(server.publish(&dev, HOSTILE_MANIFEST, component, None).await.status, StatusCode::CREATED);
        let admin = server.demo_token("admin", &[Role::Admin, Role::Member]);
        let zhang = server.demo_token("zhang.wei", &[Role::Member]);
        install_and_consent(&server, &admin, &zhang).await;
        // A second tenant of one member runs it too.
        let boss = server.token("beta", "boss", &[Role::Admin, Role::Member]);
        let chen = json!({ "id": "chen.li", "profile": { "name": "陈力" } });
        assert_eq!(server.call(Method::POST, "/api/v1/members", Some(&boss), Some(chen)).await.status, StatusCode::CREATED);
        let chen = server.token("beta", "chen.li", &[Role::Member]);
        install_and_consent(&server, &boss, &chen).await;

        for path in ["/probe", "/probe", "/probe"] {
            assert_eq!(invoke(&server, &zhang, path, "").await, StatusCode::OK);
        }
        assert_eq!(invoke(&server, &zhang, "/panic", "").await, StatusCode::BAD_GATEWAY);
        assert_ne!(invoke(&server, &zhang, "/loop", "").await, StatusCode::OK);
        for _ in 0..2 {
            // Its own error, carrying a member's data: counted, never shown.
            assert_ne!(invoke(&server, &zhang, "/fail", "message=张伟%2013800138001").await, StatusCode::OK);
        }
        assert_eq!(invoke(&server, &chen, "/probe", "").await, StatusCode::OK);

        let view = server.call(Method::GET, "/api/v1/plugins/hostile/runs", Some(&dev), None).await;
        assert_eq!(view.status, StatusCode::OK, "{}", view.text);
        assert_eq!(view.body["plugin"], "hostile");
        assert_eq!(view.body["k"], 5);
        let version = &view.body["versions"][0];
        assert_eq!(version["version"], "0.1.0", "{}", view.text);
        // beta (one member) is under k = 5 and alone: left out, from the totals too.
        assert_eq!(version["calls"], 7, "{}", view.text);
        assert_eq!(version["errors"], 4);
        assert_eq!(version["ended"], json!({ "ok": 3, "trap": 1, "deadline": 1, "plugin_error": 2 }));
        assert!(version["p50_ms"].as_u64().is_some(), "{}", view.text);
        let p99 = version["p99_ms"].as_u64().expect("p99");
        assert!(p99 >= 1_000, "the deadline (1 s) is in the 99th percentile: {p99}");
        let tenants: Vec<(&str, i64)> = version["tenants"]
            .as_array()
            .expect("tenants")
            .iter()
            .map(|t| (t["tenant"].as_str().unwrap_or_default(), t["calls"].as_i64().unwrap_or_default()))
            .collect();
        assert_eq!(tenants, [("tenant 1", 7)], "demo by rank; beta left out");

        // Nothing in it names a tenant, a member or any value of theirs.
        let members = server.call(Method::GET, "/api/v1/members", Some(&admin), None).await;
        assert_eq!(members.status, StatusCode::OK, "{}", members.text);
        let mut identities = vec!["demo".to_owned(), "beta".to_owned(), "boss".to_owned(), "chen.li".to_owned(), "陈力".to_owned()];
        strings(&members.body, &mut identities);
        identities.extend(["张伟", "李娜", "王芳", "陈静", "周敏"].map(str::to_owned));
        // Enumerations every profile shares are no one's identity.
        let shared = ["undisclosed", "view", "edit", "manage", "male", "female", "leave", "expense", "purchase", "contract"];
        identities.retain(|s| s.chars().count() >= 3 && !shared.contains(&s.as_str()));
        assert!(identities.iter().any(|s| s == "zhang.wei") && identities.iter().any(|s| s == "13800138001"), "{identities:?}");
        for identity in &identities {
            assert!(!view.text.contains(identity.as_str()), "{identity:?} in the developer's view: {}", view.text);
        }

        // Only its developer; a member is not a developer; ranges are bounded.
        let stranger = server.token("elsewhere", "mallory", &[Role::Developer]);
        assert_eq!(server.call(Method::GET, "/api/v1/plugins/hostile/runs", Some(&stranger), None).await.status, StatusCode::NOT_FOUND);
        assert_eq!(server.call(Method::GET, "/api/v1/plugins/hostile/runs", Some(&zhang), None).await.status, StatusCode::FORBIDDEN);
        let invalid = StatusCode::UNPROCESSABLE_ENTITY;
        for (query, status, says) in [
            ("from=5&to=1", invalid, "from must be before to"),
            ("from=0&to=9000000000", invalid, "at most 92 days"),
            ("tenant=demo", StatusCode::BAD_REQUEST, "unknown field `tenant`"),
        ] {
            let reply = server.call(Method::GET, &format!("/api/v1/plugins/hostile/runs?{query}"), Some(&dev), None).await;
            assert_eq!(reply.status, status, "{query}: {}", reply.text);
            assert!(reply.text.contains(says), "{query}: {}", reply.text);
        }
        server.stop().await;
    }
}
