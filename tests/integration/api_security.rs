//! Adversarial tests of the HTTP surface: every route against the wrong
//! callers, forged tokens, and bad input. Nothing here may produce a 5xx,
//! and no wrong caller may see or change another tenant's data.

use base64::Engine as _;
use ed25519_dalek::Signer as _;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workbench_host::model::directory::{Role, any_gives};

use crate::server::{Db, Server, on_both_databases};
use crate::support::HOSTILE_MANIFEST;

/// Who a route is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum For {
    /// Anyone, signed in or not (health, metrics, the OpenAPI document).
    Public,
    SignedIn,
    Developer,
    Operator,
    Member,
    /// The workbench platform sending events.
    Platform,
    /// A caller whose effective roles give one of these administrative roles.
    Jobs(&'static [Role]),
}

const APP_ADMIN: For = For::Jobs(&[Role::AppAdmin]);
const MEMBER_ADMIN: For = For::Jobs(&[Role::MemberAdmin]);
const AUDITOR: For = For::Jobs(&[Role::Auditor]);
const ADMIN: For = For::Jobs(&[Role::Admin]);
const ANY_JOB: For = For::Jobs(&[Role::AppAdmin, Role::MemberAdmin, Role::Auditor]);
const INSIGHT: For = For::Jobs(&[Role::AppAdmin, Role::Auditor]);
const DIRECTORY_READER: For = For::Jobs(&[Role::MemberAdmin, Role::AppAdmin]);

impl For {
    /// Whether a caller holding `roles` (in the token and, for the
    /// administrative ones, in the directory) is entitled.
    fn admits(self, roles: &[Role]) -> bool {
        match self {
            For::Public | For::SignedIn => true,
            For::Developer => roles.contains(&Role::Developer),
            For::Operator => roles.contains(&Role::Operator),
            For::Member => roles.contains(&Role::Member),
            For::Platform => roles.contains(&Role::Platform),
            For::Jobs(any_of) => any_of.iter().any(|&needed| any_gives(roles, needed)),
        }
    }
}

/// How to exercise one operation of the OpenAPI document: the path with
/// its parameters filled in, a body the entitled caller can use, and who is
/// entitled. `None` for an operation nobody described here, which fails the
/// matrix: every new route must say who may call it.
fn fixture(method: &Method, template: &str) -> Option<(&'static str, Option<Value>, For)> {
    let install = json!({ "version": "0.1.0", "granted_scopes": ["user.id", "user.name", "storage", "log"] });
    let route = match (method.as_str(), template) {
        ("GET", "/healthz") => ("/healthz", None, For::Public),
        ("GET", "/readyz") => ("/readyz", None, For::Public),
        ("GET", "/metrics") => ("/metrics", None, For::Public),
        ("GET", "/api/v1/openapi.json") => ("/api/v1/openapi.json", None, For::Public),
        ("GET", "/api/v1/status") => ("/api/v1/status", None, For::Operator),
        ("GET", "/api/v1/plugins") => ("/api/v1/plugins", None, For::SignedIn),
        ("GET", "/api/v1/plugins/{id}") => ("/api/v1/plugins/site-daily-report", None, For::SignedIn),
        ("POST", "/api/v1/plugins") => ("/api/v1/plugins", None, For::Developer),
        ("GET", "/api/v1/workbench/plugins") => ("/api/v1/workbench/plugins", None, ANY_JOB),
        ("PUT", "/api/v1/workbench/plugins/{id}") => {
            ("/api/v1/workbench/plugins/site-daily-report", Some(install), APP_ADMIN)
        }
        ("POST", "/api/v1/workbench/plugins/{id}/disable") => {
            ("/api/v1/workbench/plugins/site-daily-report/disable", None, APP_ADMIN)
        }
        ("POST", "/api/v1/workbench/plugins/{id}/enable") => {
            ("/api/v1/workbench/plugins/site-daily-report/enable", None, APP_ADMIN)
        }
        ("GET", "/api/v1/workbench/plugins/{id}/preview") => {
            ("/api/v1/workbench/plugins/site-daily-report/preview?member=zhang.wei", None, APP_ADMIN)
        }
        ("DELETE", "/api/v1/workbench/plugins/{id}") => ("/api/v1/workbench/plugins/customer-visit", None, APP_ADMIN),
        ("GET", "/api/v1/members") => ("/api/v1/members", None, DIRECTORY_READER),
        ("POST", "/api/v1/members") => {
            ("/api/v1/members", Some(json!({ "id": "zhao.lei", "profile": { "name": "赵雷" } })), MEMBER_ADMIN)
        }
        ("GET", "/api/v1/members/{id}") => ("/api/v1/members/zhang.wei", None, DIRECTORY_READER),
        ("PATCH", "/api/v1/members/{id}") => {
            ("/api/v1/members/zhang.wei", Some(json!({ "region": "北京" })), MEMBER_ADMIN)
        }
        ("DELETE", "/api/v1/members/{id}") => ("/api/v1/members/wang.fang", None, MEMBER_ADMIN),
        ("GET", "/api/v1/departments") => ("/api/v1/departments", None, DIRECTORY_READER),
        ("PUT", "/api/v1/departments/{id}") => {
            ("/api/v1/departments/quality", Some(json!({ "name": "质量部" })), MEMBER_ADMIN)
        }
        ("DELETE", "/api/v1/departments/{id}") => ("/api/v1/departments/quality", None, MEMBER_ADMIN),
        ("POST", "/api/v1/workbench/range-preview") => {
            ("/api/v1/workbench/range-preview", Some(json!({ "everyone": true })), APP_ADMIN)
        }
        ("GET", "/api/v1/me/catalogue") => ("/api/v1/me/catalogue", None, For::Member),
        ("POST", "/api/v1/me/catalogue/{id}/open") => {
            ("/api/v1/me/catalogue/site-daily-report/open", None, For::Member)
        }
        ("POST", "/api/v1/me/catalogue/{id}/request") => {
            ("/api/v1/me/catalogue/approval-helper/request", Some(json!({ "reason": "审批" })), For::Member)
        }
        ("GET", "/api/v1/workbench/self-service") => ("/api/v1/workbench/self-service", None, APP_ADMIN),
        ("PUT", "/api/v1/workbench/self-service/{id}") => (
            "/api/v1/workbench/self-service/approval-helper",
            Some(json!({ "mode": "request", "scopes": ["perm.approval"] })),
            APP_ADMIN,
        ),
        ("POST", "/api/v1/workbench/requests/{request}/decide") => {
            ("/api/v1/workbench/requests/1/decide", Some(json!({ "approve": false, "reason": "不需要" })), APP_ADMIN)
        }
        ("DELETE", "/api/v1/workbench/self-service/{id}/openings/{member}") => {
            ("/api/v1/workbench/self-service/site-daily-report/openings/zhang.wei", None, APP_ADMIN)
        }
        ("GET", "/api/v1/workbench/upgrades") => ("/api/v1/workbench/upgrades", None, APP_ADMIN),
        ("POST", "/api/v1/workbench/upgrades/{id}/approve") => {
            ("/api/v1/workbench/upgrades/approval-helper/approve", Some(json!({ "version": "0.1.1" })), APP_ADMIN)
        }
        ("POST", "/api/v1/workbench/upgrades/{id}/decline") => (
            "/api/v1/workbench/upgrades/approval-helper/decline",
            Some(json!({ "version": "0.1.2", "reason": "稍后" })),
            APP_ADMIN,
        ),
        ("PUT", "/api/v1/workbench/upgrade-settings") => {
            ("/api/v1/workbench/upgrade-settings", Some(json!({ "auto_apply": false })), APP_ADMIN)
        }
        ("GET", "/api/v1/plugins/{id}/adoption") => {
            ("/api/v1/plugins/site-daily-report/adoption", None, For::Developer)
        }
        ("GET", "/api/v1/workbench/plugins/{id}/usage") => {
            ("/api/v1/workbench/plugins/site-daily-report/usage", None, APP_ADMIN)
        }
        ("POST", "/api/v1/workbench/plugins/{id}/narrow") => {
            ("/api/v1/workbench/plugins/site-daily-report/narrow", Some(json!({ "scopes": ["log"] })), APP_ADMIN)
        }
        ("GET", "/api/v1/plugins/{id}/runs") => ("/api/v1/plugins/site-daily-report/runs", None, For::Developer),
        ("POST", "/api/v1/members/{id}/sessions/end") => ("/api/v1/members/li.na/sessions/end", None, MEMBER_ADMIN),
        ("GET", "/api/v1/audit") => ("/api/v1/audit", None, AUDITOR),
        ("GET", "/api/v1/audit/verify") => ("/api/v1/audit/verify", None, AUDITOR),
        ("GET", "/api/v1/audit/export") => ("/api/v1/audit/export", None, AUDITOR),
        ("GET", "/api/v1/audit/keys") => ("/api/v1/audit/keys", None, AUDITOR),
        ("GET", "/api/v1/audit/stats") => ("/api/v1/audit/stats", None, INSIGHT),
        ("GET", "/api/v1/settings/retention") => ("/api/v1/settings/retention", None, ANY_JOB),
        ("PUT", "/api/v1/settings/retention") => {
            ("/api/v1/settings/retention", Some(json!({ "audit_days": 1500 })), ADMIN)
        }
        ("GET", "/api/v1/me/plugins") => ("/api/v1/me/plugins", None, For::Member),
        ("GET", "/api/v1/me/privacy-report") => ("/api/v1/me/privacy-report", None, For::Member),
        ("GET", "/api/v1/me/plugins/{id}/consent") => {
            ("/api/v1/me/plugins/site-daily-report/consent", None, For::Member)
        }
        ("PUT", "/api/v1/me/plugins/{id}/consent") => {
            ("/api/v1/me/plugins/site-daily-report/consent", Some(json!({ "scopes": ["user.id"] })), For::Member)
        }
        ("DELETE", "/api/v1/me/plugins/{id}/consent") => {
            ("/api/v1/me/plugins/site-daily-report/consent?scopes=user.name", None, For::Member)
        }
        ("POST", "/api/v1/me/plugins/{id}/invoke") => {
            ("/api/v1/me/plugins/site-daily-report/invoke", Some(json!({ "path": "/report.json" })), For::Member)
        }
        ("GET", "/api/v1/me/plugins/{id}/avatar") => (
            "/api/v1/me/plugins/customer-visit/avatar?src=https%3A%2F%2Favatars.example%2Fzhang.wei.png",
            None,
            For::Member,
        ),
        ("GET", "/api/v1/me/access-log") => ("/api/v1/me/access-log", None, For::Member),
        ("GET", "/api/v1/me/export") => ("/api/v1/me/export", None, For::Member),
        ("GET", "/api/v1/me/receipts") => ("/api/v1/me/receipts", None, For::Member),
        // The seq of zhang.wei's first receipt is put in by `documented_routes`.
        ("GET", "/api/v1/me/receipts/{seq}") => (RECEIPT, None, For::Member),
        ("POST", "/api/v1/me/sessions/end") => ("/api/v1/me/sessions/end", None, For::Member),
        ("POST", "/api/v1/events") => (
            "/api/v1/events",
            Some(
                json!({ "events": [{ "id": "matrix-joined", "kind": "member.joined", "subject": "zhang.wei", "payload": {} }] }),
            ),
            For::Platform,
        ),
        ("GET", "/api/v1/workbench/deliveries") => ("/api/v1/workbench/deliveries", None, APP_ADMIN),
        // A dead letter `documented_routes` puts in the store.
        ("POST", "/api/v1/workbench/deliveries/{id}/replay") => {
            ("/api/v1/workbench/deliveries/matrix-dead/replay", None, APP_ADMIN)
        }
        ("GET", "/api/v1/me/notifications") => ("/api/v1/me/notifications", None, For::Member),
        ("POST", "/api/v1/me/notifications/read") => ("/api/v1/me/notifications/read", None, For::Member),
        // zhang.wei's notification `documented_routes` puts in the store.
        ("POST", "/api/v1/me/notifications/{id}/read") => {
            ("/api/v1/me/notifications/matrix-note/read", None, For::Member)
        }
        _ => return None,
    };
    Some(route)
}

/// When a route's cell runs: deletions after the rest (they remove what
/// other routes use), ending sessions last (they end the callers' tokens).
fn order(method: &Method, path: &str) -> u8 {
    match (method.as_str(), path) {
        ("POST", "/api/v1/me/sessions/end") => 3,
        (_, path) if path.ends_with("/sessions/end") => 2,
        ("DELETE", _) => 1,
        _ => 0,
    }
}

/// Stands for the path of zhang.wei's first consent receipt.
const RECEIPT: &str = "/api/v1/me/receipts/{first of zhang.wei}";

/// Every operation of the server's own OpenAPI document, with its fixture,
/// in [`order`].
async fn documented_routes(server: &Server) -> Vec<(Method, &'static str, Option<Value>, For)> {
    let doc = server.call(Method::GET, "/api/v1/openapi.json", None, None).await.body;
    let paths = doc["paths"].as_object().expect("the document lists paths");
    let mut routes = Vec::new();
    let mut undescribed = Vec::new();
    for (template, item) in paths {
        for name in ["get", "put", "post", "patch", "delete"] {
            if item.get(name).is_none() {
                continue;
            }
            let method = Method::from_bytes(name.to_uppercase().as_bytes()).expect("method");
            match fixture(&method, template) {
                Some((path, body, audience)) => routes.push((method, path, body, audience)),
                None => undescribed.push(format!("{method} {template}")),
            }
        }
    }
    assert!(undescribed.is_empty(), "routes with no row in the authorization matrix: {undescribed:?}");
    let first = server
        .count("SELECT MIN(audit_seq) FROM consent_receipts WHERE tenant = 'demo' AND member = 'zhang.wei'", &[])
        .await;
    let receipt: &'static str = Box::leak(format!("/api/v1/me/receipts/{first}").into_boxed_str());
    // A dead letter to replay, and a notification of zhang.wei's to mark read.
    crate::server::execute_raw(
        &server.database_url,
        "INSERT INTO events (tenant, id, kind, subject, occurred_at, payload, source, accepted_at) \
         VALUES ('demo', 'matrix-left', 'member.left', 'zhang.wei', 0, '{}', 'platform', 0); \
         INSERT INTO deliveries (id, tenant, event_id, plugin, state, attempts, next_at, last_error, updated_at) \
         VALUES ('matrix-dead', 'demo', 'matrix-left', 'site-daily-report', 'dead', 5, 0, 'failed', 0); \
         INSERT INTO notifications (tenant, id, member, plugin, title, body, route, created_at) \
         VALUES ('demo', 'matrix-note', 'zhang.wei', 'approval-helper', 't', '', '/', 0)",
    )
    .await;
    for route in &mut routes {
        if route.1 == RECEIPT {
            route.1 = receipt;
        }
    }
    routes.sort_by_key(|(method, path, ..)| order(method, path));
    assert!(routes.len() >= 33, "the whole API is documented ({} operations)", routes.len());
    routes
}

/// A raw request case: name, method, path, content type, body, expected status and code.
type RawCase = (&'static str, Method, &'static str, &'static str, Vec<u8>, StatusCode, &'static str);

/// Demo data that must never reach another tenant.
const DEMO_SECRETS: [&str; 4] = ["zhang.wei", "张伟", "13800138001", "红圈"];

on_both_databases! {
    async fn every_documented_route_refuses_the_wrong_callers_and_serves_the_right_one(db: Db) {
        // The demo's avatar service, for the avatar route.
        let dir = tempfile::tempdir().expect("tempdir");
        let stand_in = workbench_host::demo::visits::StandIn::start(dir.path()).await.expect("the stand-in starts");
        let server = Server::demo_configured(db, |config| stand_in.route(&mut config.egress)).await;
        let routes = documented_routes(&server).await;
        // One member for each job beside the demo's admin and auditor.
        let admin = server.demo_token("admin", &[Role::Admin, Role::Member]);
        for (id, role) in [("sun.li", "app_admin"), ("qian.hao", "member_admin")] {
            let add = json!({ "id": id, "profile": { "name": id, "roles": [role, "member"] } });
            let added = server.call(Method::POST, "/api/v1/members", Some(&admin), Some(add)).await;
            assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
        }
        // Newer versions of 审批助手 wait for review: 0.1.1 to approve, 0.1.2 to decline.
        let acme = server.demo_token("acme", &[Role::Developer]);
        let helper = std::fs::read_to_string(xtask::repo_root().join("plugins/approval-helper/plugin.toml")).expect("manifest");
        let helper_component = std::fs::read(xtask::guests().component("approval-helper")).expect("built");
        for version in ["0.1.1", "0.1.2"] {
            let manifest = helper.replace("version = \"0.1.0\"", &format!("version = \"{version}\""));
            let published = server.publish(&acme, &manifest, helper_component.clone(), None).await;
            assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
        }
        // Members may open 工程日报 themselves and ask for 审批助手; 李娜 has asked (request 1).
        let offers = [
            ("site-daily-report", json!({ "mode": "open", "scopes": ["user.id", "user.name", "storage", "log"] })),
            ("approval-helper", json!({ "mode": "request", "scopes": ["perm.approval"] })),
        ];
        for (plugin, policy) in offers {
            let set = server.call(Method::PUT, &format!("/api/v1/workbench/self-service/{plugin}"), Some(&admin), Some(policy)).await;
            assert_eq!(set.status, StatusCode::OK, "{}", set.text);
        }
        let lina = server.demo_token("li.na", &[Role::Member]);
        let asked = server.call(Method::POST, "/api/v1/me/catalogue/approval-helper/request", Some(&lina), Some(json!({ "reason": "审批" }))).await;
        assert_eq!((asked.status, asked.body["id"].as_i64()), (StatusCode::CREATED, Some(1)), "{}", asked.text);
        // Who calls: the token, the roles it gives (token and directory
        // both), and whether the caller is of the demo tenant.
        let callers: Vec<(&str, Option<String>, &[Role], bool)> = vec![
            ("demo member", Some(server.demo_token("li.na", &[Role::Member])), &[Role::Member], true),
            ("demo developer", Some(server.demo_token("acme", &[Role::Developer])), &[Role::Developer], true),
            ("demo admin without the member role", Some(server.demo_token("admin", &[Role::Admin])), &[Role::Admin], true),
            ("demo auditor", Some(server.demo_token("zhou.min", &[Role::Auditor])), &[Role::Auditor], true),
            ("demo app admin", Some(server.demo_token("sun.li", &[Role::AppAdmin])), &[Role::AppAdmin], true),
            ("demo member admin", Some(server.demo_token("qian.hao", &[Role::MemberAdmin])), &[Role::MemberAdmin], true),
            // Tokens claiming more than the directory gives: only what both give counts.
            ("demo auditor claiming admin", Some(server.demo_token("zhou.min", &[Role::Admin])), &[Role::Auditor], true),
            ("demo member claiming every job", Some(server.demo_token("li.na", &[Role::Admin, Role::AppAdmin, Role::MemberAdmin, Role::Auditor])), &[], true),
            ("operator", Some(server.token("ops", "ops", &[Role::Operator])), &[Role::Operator], true),
            ("demo platform", Some(server.demo_token("platform", &[Role::Platform])), &[Role::Platform], true),
            ("other tenant's platform", Some(server.token("other", "platform", &[Role::Platform])), &[Role::Platform], false),
            ("other tenant's admin", Some(server.token("other", "eve", &[Role::Admin])), &[Role::Admin], false),
            ("other tenant's auditor", Some(server.token("other", "ivy", &[Role::Auditor])), &[Role::Auditor], false),
            ("other tenant's member", Some(server.token("other", "o.member", &[Role::Member])), &[Role::Member], false),
            ("other tenant's developer", Some(server.token("other", "mallory", &[Role::Developer])), &[Role::Developer], false),
            ("anonymous", None, &[], false),
        ];
        let mut cells = 0;
        for (method, path, body, audience) in &routes {
            for (who, token, roles, own_tenant) in &callers {
                let entitled = *audience == For::Public || (token.is_some() && audience.admits(roles));
                if entitled && *own_tenant && *audience != For::Public {
                    continue; // the entitled demo callers run last, below
                }
                cells += 1;
                let reply = server.call(method.clone(), path, token.as_deref(), body.clone()).await;
                let cell = format!("{who} x {method} {path}: {} {}", reply.status, reply.text);
                assert!(reply.status.as_u16() < 500, "{cell}");
                if *audience == For::Public {
                    assert!(reply.status.is_success(), "{cell}");
                    continue;
                }
                if token.is_none() {
                    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{cell}");
                    assert_eq!(reply.body["error"], "unauthorized", "{cell}");
                    continue;
                }
                if !entitled {
                    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{cell}");
                    assert_eq!(reply.body["error"], "forbidden", "{cell}");
                    continue;
                }
                // Entitled, but in another tenant: nothing of the demo tenant comes back.
                for secret in DEMO_SECRETS {
                    if path.contains(secret) && matches!(audience, For::Jobs(_)) {
                        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{cell}");
                    } else {
                        assert!(!reply.text.contains(secret), "{cell} leaked {secret}");
                    }
                }
            }
        }
        assert!(cells > routes.len() * 8, "{cells} cells");
        // Nobody above changed anything of the demo tenant.
        assert_eq!(server.count("SELECT COUNT(*) FROM installations WHERE tenant = $1 AND state = $2", &["demo", "enabled"]).await, 3);
        assert_eq!(server.count("SELECT COUNT(*) FROM members WHERE tenant = $1", &["demo"]).await, 8);
        assert_eq!(server.count("SELECT COUNT(*) FROM consents WHERE tenant = $1 AND withdrawn_at IS NOT NULL", &["demo"]).await, 0);
        assert_eq!(server.count("SELECT COUNT(*) FROM members WHERE tenant = $1 AND sessions_ended_at > 0", &["demo"]).await, 0);

        // The right callers succeed on every route: the demo caller with the
        // narrowest roles that entitle them (an auditor for the audit log, an
        // app admin for installations, a member admin for the directory).
        let zhang = server.demo_token("zhang.wei", &[Role::Member]);
        for (method, path, body, audience) in routes {
            let token = match audience {
                For::Public => None,
                For::SignedIn | For::Member => Some(zhang.clone()),
                // Publishing is covered with real forms below.
                For::Developer if method == Method::POST => continue,
                For::Developer => Some(server.demo_token("acme", &[Role::Developer])),
                For::Operator | For::Platform | For::Jobs(_) => {
                    let narrowest = callers
                        .iter()
                        .filter(|(_, token, roles, own)| *own && token.is_some() && audience.admits(roles))
                        .min_by_key(|(_, _, roles, _)| (roles.contains(&Role::Admin), roles.len()))
                        .expect("an entitled demo caller");
                    narrowest.1.clone()
                }
            };
            let reply = server.call(method.clone(), path, token.as_deref(), body).await;
            assert!(reply.status.is_success(), "{method} {path}: {} {}", reply.status, reply.text);
        }
        server.stop().await;
    }
}

fn forge(header: Value, claims: Value, secret: &[u8]) -> String {
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let signing_input = format!("{}.{}", b64(&header), b64(&claims));
    let key = jsonwebtoken::EncodingKey::from_secret(secret);
    let signature =
        jsonwebtoken::crypto::sign(signing_input.as_bytes(), &key, jsonwebtoken::Algorithm::HS256).expect("sign");
    format!("{signing_input}.{signature}")
}

/// Without `serve --demo` nobody can sign in as a demo identity: the routes
/// do not exist (the page itself is still served).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_sign_in_exists_only_in_demo_mode() {
    let server = Server::demo(Db::Sqlite).await;
    let session = server.call(Method::POST, "/api/v1/demo/session", None, Some(json!({ "member": "admin" }))).await;
    assert_eq!(session.status, StatusCode::NOT_FOUND, "{}", session.text);
    assert!(!session.text.contains("token"), "{}", session.text);
    let identities = server.call(Method::GET, "/api/v1/demo/identities", None, None).await;
    assert_eq!(identities.status, StatusCode::NOT_FOUND);
    let page = server.call(Method::GET, "/", None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("/ui/app.js"), "{}", page.text);
    server.stop().await;
}

/// The default component cap fits a real Python component (componentize-py,
/// about 18 MB: it publishes), and a component one byte over the cap is a 413
/// naming the limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_component_cap_fits_python_and_refuses_one_byte_more() {
    let server = Server::demo(Db::Sqlite).await;
    let dev = server.demo_token("acme", &[Role::Developer]);
    let python = std::fs::read(xtask::python_guests().component("notes-page")).expect("built");
    assert!(python.len() > 16 << 20, "a real Python component: {} bytes", python.len());
    let manifest =
        std::fs::read_to_string(xtask::repo_root().join("tests/guests-py/notes-page/plugin.toml")).expect("manifest");
    let published = server.publish(&dev, &manifest, python, None).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
    let cap = workbench_host::config::Config::default().registry.max_component_bytes;
    assert_eq!(cap, 32 << 20);
    let over = server.publish(&dev, &manifest.replace("0.1.0", "0.1.1"), vec![0; cap + 1], None).await;
    assert_eq!(over.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", over.text);
    assert_eq!(over.body["error"], "payload_too_large");
    assert!(over.text.contains(&format!("the {cap}-byte limit")), "{}", over.text);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tokens_are_all_refused() {
    let server = Server::demo(Db::Sqlite).await;
    let secret = server.local_secret();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64;
    let claims = |edit: &dyn Fn(&mut Value)| {
        let mut c = json!({ "sub": "zhang.wei", "tid": "demo", "roles": ["member"], "iss": "workbench",
            "aud": "workbench", "exp": now + 600, "nbf": now - 5, "iat": now - 5 });
        edit(&mut c);
        c
    };
    let hs = json!({ "alg": "HS256", "typ": "JWT", "kid": "local" });
    let valid = forge(hs.clone(), claims(&|_| {}), &secret);
    let good = server.call(Method::GET, "/api/v1/me/export", Some(&valid), None).await;
    assert_eq!(good.status, StatusCode::OK, "the control token works: {}", good.text);

    let mut flipped = valid.clone();
    let last = flipped.pop().expect("char");
    flipped.push(if last == 'A' { 'B' } else { 'A' });
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let cases: Vec<(&str, String)> = vec![
        ("alg none", format!("{}.{}.", b64(&json!({ "alg": "none", "kid": "local" })), b64(&claims(&|_| {})))),
        ("HS/RS confusion", forge(json!({ "alg": "RS256", "kid": "local" }), claims(&|_| {}), &secret)),
        ("bad signature", flipped),
        ("other secret", forge(hs.clone(), claims(&|_| {}), b"another secret that is long enough!!")),
        ("expired", forge(hs.clone(), claims(&|c| c["exp"] = json!(now - 3600)), &secret)),
        ("nbf in the future", forge(hs.clone(), claims(&|c| c["nbf"] = json!(now + 3600)), &secret)),
        ("exp as string", forge(hs.clone(), claims(&|c| c["exp"] = json!((now + 600).to_string())), &secret)),
        (
            "no exp",
            forge(
                hs.clone(),
                claims(&|c| {
                    c.as_object_mut().expect("object").remove("exp");
                }),
                &secret,
            ),
        ),
        (
            "no nbf",
            forge(
                hs.clone(),
                claims(&|c| {
                    c.as_object_mut().expect("object").remove("nbf");
                }),
                &secret,
            ),
        ),
        ("wrong aud", forge(hs.clone(), claims(&|c| c["aud"] = json!("somebody-else")), &secret)),
        ("wrong iss", forge(hs.clone(), claims(&|c| c["iss"] = json!("evil")), &secret)),
        ("unknown kid", forge(json!({ "alg": "HS256", "kid": "k2" }), claims(&|_| {}), &secret)),
        ("no kid", forge(json!({ "alg": "HS256" }), claims(&|_| {}), &secret)),
        ("unknown role", forge(hs.clone(), claims(&|c| c["roles"] = json!(["root"])), &secret)),
        ("bad tenant id", forge(hs.clone(), claims(&|c| c["tid"] = json!("demo' OR '1'='1")), &secret)),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (case, token) in cases {
        let reply = server.call(Method::GET, "/api/v1/me/export", Some(&token), None).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{case}: {}", reply.text);
        assert!(!reply.text.contains("13800138001"), "{case} leaked data");
    }
    let reply = server.raw(Method::GET, "/api/v1/me/export", None, "application/json", vec![]).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    server.stop().await;
}

on_both_databases! {
    async fn bad_input_gets_a_precise_4xx_never_a_5xx(db: Db) {
        let server = Server::demo(db).await;
        let admin = server.demo_token("admin", &[Role::Admin, Role::Member]);
        let zhang = server.demo_token("zhang.wei", &[Role::Member]);
        let invoke = "/api/v1/me/plugins/site-daily-report/invoke";
        let json_cases: Vec<RawCase> = vec![
            ("malformed JSON", Method::POST, invoke, "application/json", b"{\"path\": ".to_vec(), StatusCode::BAD_REQUEST, "bad_request"),
            ("unknown field", Method::POST, invoke, "application/json", br#"{"path":"/","admin":true}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
            ("wrong type", Method::POST, invoke, "application/json", br#"{"path":5}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
            ("not JSON", Method::POST, invoke, "text/plain", b"path=/".to_vec(), StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            ("bad method", Method::POST, invoke, "application/json", br#"{"method":"get; rm -rf"}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
            ("bad path", Method::POST, invoke, "application/json", br#"{"path":"report.json"}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
            ("unknown scope", Method::PUT, "/api/v1/me/plugins/site-daily-report/consent", "application/json", br#"{"scopes":["user.password"]}"#.to_vec(), StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"),
        ];
        for (case, method, path, content_type, body, status, code) in json_cases {
            let reply = server.raw(method, path, Some(&zhang), content_type, body).await;
            assert_eq!(reply.status, status, "{case}: {}", reply.text);
            assert_eq!(reply.body["error"], code, "{case}: {}", reply.text);
            assert!(reply.body["message"].as_str().is_some_and(|m| !m.is_empty()), "{case}: says what is wrong");
        }
        let oversize = server.announce_body(invoke, &zhang, 2 << 20).await;
        assert_eq!(oversize.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", oversize.text);
        assert_eq!(oversize.body["error"], "payload_too_large");
        let admin_cases: Vec<(&str, Method, &str, Option<Value>, StatusCode)> = vec![
            ("grant undeclared", Method::PUT, "/api/v1/workbench/plugins/site-daily-report", Some(json!({ "version": "0.1.0", "granted_scopes": ["user.id", "user.name", "storage", "user.phone"] })), StatusCode::UNPROCESSABLE_ENTITY),
            ("required not granted", Method::PUT, "/api/v1/workbench/plugins/site-daily-report", Some(json!({ "version": "0.1.0", "granted_scopes": ["user.id"] })), StatusCode::UNPROCESSABLE_ENTITY),
            ("unpublished version", Method::PUT, "/api/v1/workbench/plugins/site-daily-report", Some(json!({ "version": "9.9.9", "granted_scopes": [] })), StatusCode::UNPROCESSABLE_ENTITY),
            ("member id with SQL", Method::POST, "/api/v1/members", Some(json!({ "id": "x'); DROP TABLE members;--", "profile": { "name": "x" } })), StatusCode::UNPROCESSABLE_ENTITY),
            ("profile unknown field", Method::POST, "/api/v1/members", Some(json!({ "id": "x", "profile": { "name": "x", "salary": 1 } })), StatusCode::UNPROCESSABLE_ENTITY),
            ("patch bad phone", Method::PATCH, "/api/v1/members/zhang.wei", Some(json!({ "phone": "call me" })), StatusCode::UNPROCESSABLE_ENTITY),
            ("plugin id with SQL", Method::GET, "/api/v1/workbench/plugins/x'%20OR%20'1'='1/preview?member=zhang.wei", None, StatusCode::NOT_FOUND),
            ("garbage cursor", Method::GET, "/api/v1/audit?after=abc", None, StatusCode::UNPROCESSABLE_ENTITY),
            ("unknown filter", Method::GET, "/api/v1/audit?tenant=other", None, StatusCode::BAD_REQUEST),
            ("bad outcome", Method::GET, "/api/v1/audit?outcome=maybe", None, StatusCode::UNPROCESSABLE_ENTITY),
            ("NUL in path", Method::GET, "/api/v1/members/a%00b", None, StatusCode::BAD_REQUEST),
            ("NUL in query", Method::GET, "/api/v1/audit?subject=%00", None, StatusCode::BAD_REQUEST),
            ("NUL in version", Method::PUT, "/api/v1/workbench/plugins/site-daily-report", Some(json!({ "version": "\u{0}", "granted_scopes": [] })), StatusCode::UNPROCESSABLE_ENTITY),
            ("NUL in visible_to", Method::PUT, "/api/v1/workbench/plugins/site-daily-report", Some(json!({ "version": "0.1.0", "granted_scopes": ["user.id", "user.name", "storage"], "visible_to": ["a\u{0}"] })), StatusCode::UNPROCESSABLE_ENTITY),
            ("NUL in profile", Method::PATCH, "/api/v1/members/zhang.wei", Some(json!({ "title": "a\u{0}b" })), StatusCode::UNPROCESSABLE_ENTITY),
            ("unknown route", Method::GET, "/api/v1/nothing-here", None, StatusCode::NOT_FOUND),
            ("wrong method", Method::PATCH, "/api/v1/audit", None, StatusCode::METHOD_NOT_ALLOWED),
        ];
        for (case, method, path, body, status) in admin_cases {
            let reply = server.call(method, path, Some(&admin), body).await;
            assert_eq!(reply.status, status, "{case}: {}", reply.text);
            assert!(reply.body["error"].is_string(), "{case}: JSON error body: {}", reply.text);
        }
        assert_eq!(server.count("SELECT COUNT(*) FROM members WHERE tenant = $1", &["demo"]).await, workbench_host::demo::members().len() as i64);
        server.stop().await;
    }
}

on_both_databases! {
    async fn publishing_refuses_bad_manifests_and_components_precisely(db: Db) {
        let server = Server::demo(db).await;
        let dev = server.demo_token("acme", &[Role::Developer]);
        let guests = xtask::guests();
        let hostile = std::fs::read(guests.component("hostile")).expect("built");
        let noop = std::fs::read(guests.component("noop")).expect("built");
        let noop_manifest = "id = \"noop-plugin\"\nname = \"Noop\"\nversion = \"1.0.0\"\n[developer]\nname = \"Acme\"\ncontact = \"a@acme.example\"\n";
        let cases: Vec<(&str, String, Vec<u8>, &str, &str)> = vec![
            ("garbage TOML", "id = ".into(), noop.clone(), "invalid_manifest", "not valid"),
            ("unknown field", format!("{noop_manifest}homepage = \"x\"\n"), noop.clone(), "invalid_manifest", "homepage"),
            ("unknown scope", format!("{noop_manifest}[[scopes]]\nscope = \"user.password\"\npurpose = \"steal it\"\n"), noop.clone(), "invalid_manifest", "user.password"),
            ("bad semver", noop_manifest.replace("1.0.0", "one"), noop.clone(), "invalid_manifest", "version"),
            ("bad id", noop_manifest.replace("noop-plugin", "Noop Plugin"), noop.clone(), "invalid_manifest", "Noop Plugin"),
            ("garbage wasm", noop_manifest.to_owned(), b"\0asm garbage".to_vec(), "invalid_component", "not a valid component"),
            ("core module, not a component", noop_manifest.to_owned(), b"\0asm\x01\0\0\0".to_vec(), "invalid_component", "component"),
            ("undeclared imports", HOSTILE_MANIFEST.replace("[[scopes]]\nscope = \"user.phone\"\npurpose = \"probe the phone\"\n", ""), hostile.clone(), "invalid_input", "user.phone"),
        ];
        for (case, manifest, component, code, needle) in cases {
            let reply = server.publish(&dev, &manifest, component, None).await;
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{case}: {}", reply.text);
            assert_eq!(reply.body["error"], code, "{case}: {}", reply.text);
            assert!(reply.body["message"].as_str().expect("message").contains(needle), "{case}: {}", reply.text);
        }
        assert_eq!(server.count("SELECT COUNT(*) FROM plugin_versions WHERE plugin IN ($1, $2)", &["noop-plugin", "hostile"]).await, 0, "nothing stored");

        // Content addressing: the same bytes again is fine, other bytes for the same version a 409.
        assert_eq!(server.publish(&dev, noop_manifest, noop.clone(), None).await.status, StatusCode::CREATED);
        assert_eq!(server.publish(&dev, noop_manifest, noop.clone(), None).await.status, StatusCode::CREATED);
        let other_bytes = std::fs::read(guests.component("two-fields")).expect("built");
        let two_fields_manifest = format!("{noop_manifest}[[scopes]]\nscope = \"user.id\"\npurpose = \"who you are\"\n[[scopes]]\nscope = \"user.name\"\npurpose = \"your name\"\n");
        let conflict = server.publish(&dev, &two_fields_manifest, other_bytes, None).await;
        assert_eq!(conflict.status, StatusCode::CONFLICT, "{}", conflict.text);
        assert!(conflict.text.contains("another component"), "{}", conflict.text);
        // The same bytes with another manifest: refused, naming each difference, and the stored one kept.
        let renamed = format!(
            "{}[[scopes]]\nscope = \"log\"\npurpose = \"errors\"\n",
            noop_manifest.replace("name = \"Noop\"", "name = \"Noop 2\"")
        );
        let changed = server.publish(&dev, &renamed, noop.clone(), None).await;
        assert_eq!(changed.status, StatusCode::CONFLICT, "{}", changed.text);
        assert_eq!(changed.body["error"], "conflict");
        let message = changed.body["message"].as_str().unwrap_or_default();
        assert!(message.contains("name differs") && message.contains("scope log is newly declared"), "{message}");
        let entry = server.call(Method::GET, "/api/v1/plugins/noop-plugin", Some(&dev), None).await;
        assert_eq!(entry.body["name"], "Noop", "the stored manifest is kept: {}", entry.text);
        // Another developer cannot publish under an id they do not own.
        let mallory = server.token("evil-corp", "mallory", &[Role::Developer]);
        let stolen = server.publish(&mallory, &noop_manifest.replace("1.0.0", "1.0.1"), noop.clone(), None).await;
        assert_eq!(stolen.status, StatusCode::CONFLICT, "{}", stolen.text);

        // Signatures: a valid one pins the key; a bad one is refused; an unsigned later version too.
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        let signed_manifest = noop_manifest.replace("noop-plugin", "signed-noop");
        let sign = |manifest: &str, component: &[u8]| {
            let message = workbench_host::service::registry::signing_message(manifest.as_bytes(), component);
            (b64(key.verifying_key().as_bytes()), b64(&key.sign(&message).to_bytes()))
        };
        let good = sign(&signed_manifest, &noop);
        let signed = server.publish(&dev, &signed_manifest, noop.clone(), Some(good.clone())).await;
        assert_eq!(signed.status, StatusCode::CREATED, "{}", signed.text);
        assert!(signed.body["signed_by"].is_string());
        let bad = (good.0.clone(), b64(&key.sign(b"something else").to_bytes()));
        let v2 = signed_manifest.replace("1.0.0", "1.1.0");
        let refused = server.publish(&dev, &v2, noop.clone(), Some(bad)).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
        // The signature covers the manifest: v1's does not sign v2's manifest with the same component.
        let moved = server.publish(&dev, &v2, noop.clone(), Some(good)).await;
        assert_eq!(moved.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", moved.text);
        // Nor another component under the same manifest.
        let two_fields = std::fs::read(guests.component("two-fields")).expect("built");
        let swapped = (sign(&v2, &noop).0, sign(&v2, &two_fields).1);
        let refused = server.publish(&dev, &v2, noop.clone(), Some(swapped)).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
        let unsigned = server.publish(&dev, &v2, noop.clone(), None).await;
        assert_eq!(unsigned.status, StatusCode::CONFLICT, "{}", unsigned.text);
        assert_eq!(server.publish(&dev, &v2, noop.clone(), Some(sign(&v2, &noop))).await.status, StatusCode::CREATED);

        // Not multipart at all.
        let reply = server.raw(Method::POST, "/api/v1/plugins", Some(&dev), "application/json", b"{}".to_vec()).await;
        assert!(reply.status.is_client_error(), "{}", reply.text);
        server.stop().await;
    }
}

on_both_databases! {
    async fn a_caller_without_the_role_is_refused_before_its_body_is_read(db: Db) {
        let server = Server::demo(db).await;
        let member = server.demo_token("li.na", &[Role::Member]);
        let admin = server.demo_token("admin", &[Role::Admin, Role::Member]);
        let removed = server.demo_token("nobody", &[Role::Member]);
        // A malformed body from a caller who may not use the route: 403, the
        // body never parsed (so its errors tell an outsider nothing).
        for (method, path) in [
            (Method::POST, "/api/v1/members"),
            (Method::PUT, "/api/v1/settings/retention"),
            (Method::PUT, "/api/v1/workbench/plugins/site-daily-report"),
        ] {
            let reply = server.raw(method.clone(), path, Some(&member), "application/json", b"{not json".to_vec()).await;
            assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {path}: {}", reply.text);
            assert_eq!(reply.body["error"], "forbidden", "{}", reply.text);
            // The admin gets the body's own error.
            let reply = server.raw(method.clone(), path, Some(&admin), "application/json", b"{not json".to_vec()).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{method} {path}: {}", reply.text);
        }
        // A member's own routes need them in the directory, before the body.
        let reply = server
            .raw(Method::PUT, "/api/v1/me/plugins/site-daily-report/consent", Some(&removed), "application/json", b"{".to_vec())
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    }
}

on_both_databases! {
    async fn a_path_that_is_no_plugin_id_is_404_naming_the_rule(db: Db) {
        let server = Server::demo(db).await;
        let admin = server.demo_token("admin", &[Role::Admin, Role::Member]);
        for path in [
            "/api/v1/plugins/Site_Daily",
            "/api/v1/workbench/plugins/x/preview?member=zhang.wei",
            "/api/v1/me/plugins/-leading-dash/consent",
        ] {
            let reply = server.call(Method::GET, path, Some(&admin), None).await;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{path}: {}", reply.text);
            assert!(reply.body["message"].as_str().is_some_and(|m| m.contains("plugin ids are")), "{path}: {}", reply.text);
        }
    }
}
