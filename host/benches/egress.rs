//! What the gate costs an outbound request (see docs/BENCHMARKS.md): the
//! hostile guest's `/fetch` POSTing 100 bytes to a service on loopback
//! through `wasi:http` and the host's checked sender, against a plain hyper
//! client making the same request on a fresh connection (the host keeps no
//! pool either), in the same run. The guest's own cost (instantiate, the
//! call, its JSON) is measured by the same call making no request
//! (`times=0`), so the overhead is `(guest_request - guest_no_request) /
//! hyper`.
//!
//! The `avatar` group: the host's own GET of a member's avatar for a
//! plugin's page (`runtime::avatar`, under the same address rules), against
//! a plain hyper GET on a fresh connection, and the same avatar kept from
//! an earlier fetch.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::{BodyExt, Full};
use workbench_host::audit::AuditWriter;
use workbench_host::model::consent::ConsentSet;
use workbench_host::model::directory::MemberProfile;
use workbench_host::model::manifest::Manifest;
use workbench_host::openid::OpenIdKey;
use workbench_host::runtime::egress::EgressConfig;
use workbench_host::runtime::{CallContext, HostServices, Request, Runtime, RuntimeConfig, RuntimeLimits};
use workbench_host::store::{Directory, SqlStore};

fn manifest(port: u16) -> String {
    format!(
        r#"
id = "courier"
name = "Courier"
version = "1.0.0"
[developer]
name = "Bench"
contact = "bench@example.com"
[[egress]]
destination = "http://127.0.0.1:{port}"
purpose = "send planned visits"
"#
    )
}

async fn service() -> SocketAddr {
    let app = Router::new().route("/visits", post(|body: Bytes| async move { format!("{}", body.len()) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let address = listener.local_addr().expect("address");
    tokio::spawn(axum::serve(listener, app).into_future());
    address
}

/// `method` `path` (with `body`) by a plain hyper client on a fresh connection: the peer.
async fn hyper_fresh(address: SocketAddr, method: http::Method, path: &str, body: Bytes) -> usize {
    let stream = tokio::net::TcpStream::connect(address).await.expect("connects");
    let _ = stream.set_nodelay(true);
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(wasmtime_wasi_http::io::TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(connection);
    let request = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, address.to_string())
        .body(Full::new(body))
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    response.into_body().collect().await.expect("body").to_bytes().len()
}

fn outbound(c: &mut Criterion) {
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let address = tokio.block_on(service());
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(tokio.block_on(SqlStore::open_sqlite(&dir.path().join("bench.db"))).expect("sqlite"));
    tokio.block_on(async {
        store.upsert_tenant("t", "T").await.expect("tenant");
        store
            .upsert_member("t", "m", &MemberProfile { name: "张伟".into(), ..Default::default() })
            .await
            .expect("member");
    });
    let egress = EgressConfig {
        plain_http_hosts: vec!["127.0.0.1".into()],
        allow_private: vec!["127.0.0.1/32".parse().expect("net")],
        ..EgressConfig::default()
    };
    let runtime = Runtime::new(&RuntimeConfig { egress, ..RuntimeConfig::default() }).expect("runtime");
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let audit = tokio.block_on(async { AuditWriter::spawn(Arc::clone(&store) as _, key, Default::default()).0 });
    let services =
        HostServices { store, open_ids: OpenIdKey::new([9; 32]), limits: Arc::new(RuntimeLimits::default()), audit };
    let manifest = Arc::new(Manifest::from_toml(&manifest(address.port())).expect("manifest"));
    let call = CallContext {
        tenant: "t".into(),
        member: "m".into(),
        policy: Arc::new(manifest.policy(manifest.declared(), &manifest.destinations())),
        consents: Arc::new(ConsentSet::default()),
        actor: format!("plugin:{}", manifest.reference()),
        egress: manifest.destinations().into(),
        config: Default::default(),
        manifest,
        invocation: "bench".into(),
        now_ms: 1,
        profile: Some(Arc::new(MemberProfile::default())),
        changes: 0,
        nobody: false,
    };
    let bytes = std::fs::read(xtask::guests().component("hostile")).expect("guest built");
    let pre = tokio.block_on(runtime.prepare("hostile", move || bytes)).expect("prepares");
    let fetch = |times: u32| Request {
        method: "GET".into(),
        path: "/fetch".into(),
        query: format!("method=POST&body=100&times={times}&url=http://{address}/visits"),
        headers: vec![],
        body: vec![],
    };
    let mut group = c.benchmark_group("egress");
    group.bench_function("hyper_fresh_connection", |b| {
        b.to_async(&tokio).iter(|| hyper_fresh(address, http::Method::POST, "/visits", Bytes::from(vec![b'a'; 100])))
    });
    for (name, times) in [("guest_no_request", 0), ("guest_request", 1)] {
        let request = fetch(times);
        group.bench_function(name, |b| {
            b.to_async(&tokio).iter(|| async {
                let outcome = runtime
                    .call(
                        &pre,
                        call.clone(),
                        services.clone(),
                        workbench_host::runtime::Entry::Request(request.clone()),
                    )
                    .await;
                let response = outcome.result.expect("answers");
                assert!(times == 0 || String::from_utf8_lossy(&response.body).contains("\"status\":200"));
                // Each request's record is handed to the writer as it ends.
                assert_eq!(outcome.audit.len() + outcome.pending.len(), times as usize, "one record per request");
                response
            })
        });
    }
    group.finish();
}

const AVATAR: &[u8] = include_bytes!("../src/demo/avatars/zhang.wei.png");

async fn avatar_service() -> SocketAddr {
    let app = Router::new()
        .route("/a.png", axum::routing::get(|| async { ([(http::header::CONTENT_TYPE, "image/png")], AVATAR) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let address = listener.local_addr().expect("address");
    tokio::spawn(axum::serve(listener, app).into_future());
    address
}

fn avatar(c: &mut Criterion) {
    use workbench_host::runtime::avatar::Avatars;
    use workbench_host::runtime::egress::Egress;
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let address = tokio.block_on(avatar_service());
    let config = EgressConfig {
        plain_http_hosts: vec!["127.0.0.1".into()],
        allow_private: vec!["127.0.0.1/32".parse().expect("net")],
        ..EgressConfig::default()
    };
    let egress = Arc::new(Egress::new(&config).expect("egress"));
    let avatars = Avatars::new(Arc::clone(&egress));
    let url = format!("http://{address}/a.png");
    let within = std::time::Duration::from_secs(5);
    let mut group = c.benchmark_group("avatar");
    group.bench_function("hyper_fresh_connection", |b| {
        b.to_async(&tokio).iter(|| hyper_fresh(address, http::Method::GET, "/a.png", Bytes::new()))
    });
    group.bench_function("host_fetch", |b| {
        b.to_async(&tokio).iter(|| async {
            let fetched = egress.get(&url, 256 * 1024, within).await.expect("fetched");
            assert_eq!(fetched.body.len(), AVATAR.len());
        })
    });
    group.bench_function("kept", |b| {
        b.to_async(&tokio).iter(|| async { avatars.image(&url).await.expect("an image").bytes.len() })
    });
    group.finish();
}

criterion_group!(benches, outbound, avatar);
criterion_main!(benches);
