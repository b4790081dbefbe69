//! Avatars on plugins' pages (`GET /me/plugins/{id}/avatar?src=`): the
//! host hands a page the member's own avatar, fetched by the host under
//! the egress rules, only with the member's consent to `user.avatar` for
//! that plugin and only for the URL their profile names; every answer and
//! every refusal by the gate is an audit record. Avatars that are not
//! images, too large, slow, redirected or on addresses a plugin may not
//! reach are not handed on.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::{StatusCode as AxumStatus, header};
use axum::routing::get;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workbench_host::demo::visits::StandIn;
use workbench_host::model::directory::Role;

use crate::server::{Server, on_both_databases};

const ZHANG_AVATAR: &str = "https://avatars.example/zhang.wei.png";

/// A service with avatars that must not be handed on, recording each hit.
async fn bad_avatars() -> (u16, Arc<Mutex<Vec<String>>>) {
    let hits: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = Arc::clone(&hits);
    let png_head = b"\x89PNG\r\n\x1a\n".to_vec();
    let big = [png_head.clone(), vec![0u8; 300 * 1024]].concat();
    let app = Router::new()
        .route(
            "/face.svg",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "image/svg+xml")],
                    "<svg xmlns='http://www.w3.org/2000/svg'><script>x</script></svg>",
                )
            }),
        )
        .route("/page.png", get(|| async { ([(header::CONTENT_TYPE, "image/png")], "<html>not an image</html>") }))
        .route("/moved.png", get(|| async { (AxumStatus::FOUND, [(header::LOCATION, ZHANG_AVATAR)]) }))
        .route("/big.png", get(move || async move { ([(header::CONTENT_TYPE, "image/png")], big) }))
        .route(
            "/slow.png",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "late"
            }),
        )
        .layer(axum::middleware::from_fn(move |request: axum::extract::Request, next: axum::middleware::Next| {
            let record = Arc::clone(&record);
            async move {
                record.lock().expect("hits").push(request.uri().path().to_owned());
                next.run(request).await
            }
        }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let port = listener.local_addr().expect("address").port();
    tokio::spawn(axum::serve(listener, app).into_future());
    (port, hits)
}

/// The avatar route's answer: status, content type and bytes.
async fn avatar(server: &Server, member: &str, plugin: &str, src: &str) -> (StatusCode, String, Vec<u8>) {
    let token = server.demo_token(member, &[Role::Member]);
    let url = format!("{}/api/v1/me/plugins/{plugin}/avatar", server.base);
    let reply = reqwest::Client::new().get(url).query(&[("src", src)]).bearer_auth(token).send().await.expect("sent");
    let status = reply.status();
    let kind = reply.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (status, kind, reply.bytes().await.expect("body").to_vec())
}

fn error_code(body: &[u8]) -> String {
    serde_json::from_slice::<Value>(body).ok().and_then(|v| v["error"].as_str().map(str::to_owned)).unwrap_or_default()
}

async fn page_avatar_records(server: &Server) -> Vec<Value> {
    let admin = server.demo_token("admin", &[Role::Admin]);
    let page = server.call(Method::GET, "/api/v1/audit?action=page.avatar&limit=1000", Some(&admin), None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    page.body["records"].as_array().expect("records").clone()
}

async fn set_avatar(server: &Server, member: &str, url: &str) {
    let admin = server.demo_token("admin", &[Role::Admin]);
    let patched = server
        .raw(
            Method::PATCH,
            &format!("/api/v1/members/{member}"),
            Some(&admin),
            "application/merge-patch+json",
            json!({ "avatar": url }).to_string().into_bytes(),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
}

on_both_databases! {
    async fn a_page_is_handed_only_the_consented_avatar_fetched_by_the_host(db: Db) {
        let dir = tempfile::tempdir().expect("tempdir");
        let stand_in = StandIn::start(dir.path()).await.expect("the stand-in starts");
        let (port, hits) = bad_avatars().await;
        let server = Server::demo_configured(db, |config| {
            stand_in.route(&mut config.egress);
            config.egress.plain_http_hosts = vec!["127.0.0.1".into()];
            config.egress.resolve.insert("internal.acme.example".into(), vec!["10.0.0.7".parse().expect("ip")]);
        })
        .await;

        // zhang.wei consented to user.avatar for 客户拜访: the page gets the
        // image the host fetched, and the log says so.
        let (status, kind, bytes) = avatar(&server, "zhang.wei", "customer-visit", ZHANG_AVATAR).await;
        assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&bytes));
        assert_eq!(kind, "image/png");
        let served = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../host/src/demo/avatars/zhang.wei.png")).expect("the demo avatar");
        assert_eq!(bytes, served, "the avatar's own bytes");
        let records = page_avatar_records(&server).await;
        assert_eq!(records.len(), 1, "{records:?}");
        assert_eq!(
            (records[0]["outcome"].as_str(), records[0]["scope"].as_str(), records[0]["subject"].as_str()),
            (Some("allowed"), Some("user.avatar"), Some("zhang.wei")),
            "{}", records[0]
        );
        assert!(records[0]["actor"].as_str().is_some_and(|a| a.starts_with("plugin:customer-visit@")), "{}", records[0]);

        // Any other URL is not the avatar, even one the host could fetch.
        let (status, _, body) = avatar(&server, "zhang.wei", "customer-visit", "https://avatars.example/li.na.png").await;
        assert_eq!((status, error_code(&body).as_str()), (StatusCode::NOT_FOUND, "not_found"));

        // li.na never consented to it: refused whatever the page names (her
        // own avatar's URL or not), and each refusal is recorded.
        for src in ["https://avatars.example/li.na.png", ZHANG_AVATAR, "https://anything.example/x.png"] {
            let (status, _, body) = avatar(&server, "li.na", "customer-visit", src).await;
            assert_eq!((status, error_code(&body).as_str()), (StatusCode::FORBIDDEN, "forbidden"), "{src}");
            assert!(String::from_utf8_lossy(&body).contains("not_consented"), "{}", String::from_utf8_lossy(&body));
        }
        // A plugin that does not declare user.avatar gets nothing.
        let (status, _, body) = avatar(&server, "zhang.wei", "site-daily-report", ZHANG_AVATAR).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{}", String::from_utf8_lossy(&body));
        assert!(String::from_utf8_lossy(&body).contains("not_declared"), "{}", String::from_utf8_lossy(&body));
        let records = page_avatar_records(&server).await;
        let denied: Vec<_> = records.iter().filter(|r| r["outcome"] == "denied").map(|r| r["reason"].as_str().unwrap_or_default()).collect();
        assert_eq!(denied.iter().filter(|r| **r == "not_consented").count(), 3, "{records:?}");
        assert_eq!(denied.iter().filter(|r| **r == "not_declared").count(), 1, "{records:?}");

        // Bad input and no such plugin are precise.
        let (status, _, body) = avatar(&server, "zhang.wei", "customer-visit", "").await;
        assert_eq!((status, error_code(&body).as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_input"));
        let (status, _, body) = avatar(&server, "zhang.wei", "no-such-plugin", ZHANG_AVATAR).await;
        assert_eq!((status, error_code(&body).as_str()), (StatusCode::NOT_FOUND, "not_found"));
        let token = server.demo_token("zhang.wei", &[Role::Member]);
        let missing = server.call(Method::GET, "/api/v1/me/plugins/customer-visit/avatar", Some(&token), None).await;
        assert!(missing.status.is_client_error() && missing.body["error"].is_string(), "{}", missing.text);

        // Avatars the host must not hand on: not an image (an SVG is a
        // document), a page claiming to be a PNG, a redirect (not followed),
        // over the size cap, too slow, on an address plugins may not reach,
        // with user information in the URL.
        let before = page_avatar_records(&server).await.len();
        let bad = [
            format!("http://127.0.0.1:{port}/face.svg"),
            format!("http://127.0.0.1:{port}/page.png"),
            format!("http://127.0.0.1:{port}/moved.png"),
            format!("http://127.0.0.1:{port}/big.png"),
            format!("http://127.0.0.1:{port}/slow.png"),
            "https://internal.acme.example/a.png".to_owned(),
            format!("http://someone@127.0.0.1:{port}/face.svg"),
        ];
        for url in &bad {
            set_avatar(&server, "zhang.wei", url).await;
            let started = Instant::now();
            let (status, _, body) = avatar(&server, "zhang.wei", "customer-visit", url).await;
            assert_eq!((status, error_code(&body).as_str()), (StatusCode::BAD_GATEWAY, "unavailable"), "{url}: {}", String::from_utf8_lossy(&body));
            assert!(!String::from_utf8_lossy(&body).contains("127.0.0.1"), "no detail of the fetch: {}", String::from_utf8_lossy(&body));
            assert!(started.elapsed() < Duration::from_secs(10), "{url}: answered in {:?}", started.elapsed());
        }
        assert_eq!(page_avatar_records(&server).await.len(), before, "nothing was handed on, so nothing is recorded as shown");
        let hit = hits.lock().expect("hits").clone();
        assert_eq!(hit, ["/face.svg", "/page.png", "/moved.png", "/big.png", "/slow.png"], "each fetched once, the redirect not followed, no user information sent");

        // Withdrawn, the next page gets nothing.
        set_avatar(&server, "zhang.wei", ZHANG_AVATAR).await;
        let withdrawn = server
            .call(Method::DELETE, "/api/v1/me/plugins/customer-visit/consent?scopes=user.avatar", Some(&token), None)
            .await;
        assert_eq!(withdrawn.status, StatusCode::OK, "{}", withdrawn.text);
        let (status, _, body) = avatar(&server, "zhang.wei", "customer-visit", ZHANG_AVATAR).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{}", String::from_utf8_lossy(&body));
        assert!(String::from_utf8_lossy(&body).contains("consent_withdrawn"), "{}", String::from_utf8_lossy(&body));
        server.stop().await;
    }
}
