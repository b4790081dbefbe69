//! The `workbench` binary as a newcomer runs it: `serve --demo` prints a URL
//! and tokens that work, the ops routes answer, `token mint` and `audit
//! verify` work on the same data dir, and SIGTERM lets an in-flight call
//! finish and its audit records land before the process exits.

use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::HOSTILE_MANIFEST;

fn workbench(data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(xtask::host_binary());
    command.arg("--data-dir").arg(data_dir).env("RUST_LOG", "warn");
    command
}

fn start_demo(data_dir: &std::path::Path) -> xtask::Served {
    let guests = xtask::guests();
    let components = guests.component("noop").parent().expect("component dir");
    let mut command = workbench(data_dir);
    command
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--demo-manifests"])
        .arg(xtask::repo_root().join("plugins"))
        .arg("--demo-components")
        .arg(components);
    xtask::spawn_server(&mut command, true).expect("workbench starts")
}

fn token<'a>(server: &'a xtask::Served, name: &str) -> &'a str {
    server.token(name).unwrap_or_else(|| panic!("token {name} printed"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_prints_working_tokens_and_drains_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut server = start_demo(dir.path());
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", server.base);

    for (path, expected) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let reply = client.get(url(path)).send().await.expect("answers");
        assert_eq!(reply.status(), StatusCode::OK);
        assert!(reply.headers().contains_key("x-request-id"), "every response carries a request id");
        assert_eq!(reply.text().await.expect("text"), expected);
    }
    let openapi: Value =
        client.get(url("/api/v1/openapi.json")).send().await.expect("answers").json().await.expect("json");
    let paths = openapi["paths"].as_object().expect("paths");
    for route in [
        "/api/v1/plugins",
        "/api/v1/plugins/{id}",
        "/api/v1/workbench/plugins",
        "/api/v1/workbench/plugins/{id}",
        "/api/v1/workbench/plugins/{id}/disable",
        "/api/v1/workbench/plugins/{id}/enable",
        "/api/v1/workbench/plugins/{id}/preview",
        "/api/v1/members",
        "/api/v1/members/{id}",
        "/api/v1/audit",
        "/api/v1/audit/verify",
        "/api/v1/audit/export",
        "/api/v1/settings/retention",
        "/api/v1/me/plugins",
        "/api/v1/me/plugins/{id}/consent",
        "/api/v1/me/plugins/{id}/invoke",
        "/api/v1/me/access-log",
        "/api/v1/me/export",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(paths.contains_key(route), "the OpenAPI document describes {route}");
    }

    // The page, with its security headers, and the demo sign-in.
    let page = client.get(url("/")).send().await.expect("answers");
    assert_eq!(page.status(), StatusCode::OK);
    let csp = page.headers()["content-security-policy"].to_str().expect("ascii").to_owned();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(page.text().await.expect("text").contains("/ui/app.js"), "the page loads its script");
    let script = client.get(url("/ui/app.js")).send().await.expect("answers");
    assert_eq!(script.headers()["content-type"], "text/javascript");
    assert_eq!(client.get(url("/ui/nothing.js")).send().await.expect("answers").status(), StatusCode::NOT_FOUND);
    let identities: Value =
        client.get(url("/api/v1/demo/identities")).send().await.expect("answers").json().await.expect("json");
    assert!(identities.as_array().expect("list").iter().any(|i| i["member"] == "wang.fang"), "{identities}");
    let session =
        |member: &str| client.post(url("/api/v1/demo/session")).json(&serde_json::json!({ "member": member })).send();
    let unknown = session("mallory").await.expect("answers");
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let signed_in: Value = session("li.na").await.expect("answers").json().await.expect("json");
    assert_eq!(signed_in["roles"], serde_json::json!(["member"]));
    let mine = client
        .get(url("/api/v1/me/plugins"))
        .bearer_auth(signed_in["token"].as_str().expect("token"))
        .send()
        .await
        .expect("answers");
    assert_eq!(mine.status(), StatusCode::OK, "the demo sign-in's token works");

    // The printed member token works.
    let zhang = token(&server, "TOKEN_ZHANG_WEI").to_owned();
    let invoke = |plugin: &str, path: &str, token: &str| {
        client
            .post(url(&format!("/api/v1/me/plugins/{plugin}/invoke")))
            .bearer_auth(token)
            .json(&json!({ "path": path }))
            .send()
    };
    let reply = invoke("site-daily-report", "/report.json", &zhang).await.expect("answers");
    assert_eq!(reply.status(), StatusCode::OK);

    // A token minted by the CLI on the same data dir works too.
    let minted = workbench(dir.path())
        .args(["token", "mint", "--tenant", "demo", "--member", "li.na", "--roles", "member", "--ttl", "5m"])
        .output()
        .expect("mint runs");
    assert!(minted.status.success(), "{}", String::from_utf8_lossy(&minted.stderr));
    let li_na = String::from_utf8(minted.stdout).expect("utf8").trim().to_owned();
    assert_eq!(invoke("site-daily-report", "/report.json", &li_na).await.expect("answers").status(), StatusCode::OK);
    let bad_role = workbench(dir.path())
        .args(["token", "mint", "--tenant", "demo", "--member", "x", "--roles", "root"])
        .output()
        .expect("mint runs");
    assert!(!bad_role.status.success());
    assert!(String::from_utf8_lossy(&bad_role.stderr).contains("unknown role"));

    // Metrics count the invocations.
    let metrics = client.get(url("/metrics")).send().await.expect("answers").text().await.expect("text");
    assert!(metrics.contains("workbench_invocations_total{outcome=\"ok\"} 2"), "{metrics}");
    assert!(metrics.contains("workbench_audit_batch_records"), "{metrics}");

    // A slow call in flight when SIGTERM arrives still gets its answer and its audit record.
    let acme = token(&server, "TOKEN_ACME").to_owned();
    let admin = token(&server, "TOKEN_ADMIN").to_owned();
    let hostile = std::fs::read(xtask::guests().component("hostile")).expect("built");
    let form = reqwest::multipart::Form::new()
        .text("manifest", HOSTILE_MANIFEST)
        .part("component", reqwest::multipart::Part::bytes(hostile));
    let published =
        client.post(url("/api/v1/plugins")).bearer_auth(&acme).multipart(form).send().await.expect("answers");
    assert_eq!(published.status(), StatusCode::CREATED);
    let install = json!({ "version": "0.1.0", "granted_scopes": [] });
    let installed = client
        .put(url("/api/v1/workbench/plugins/hostile"))
        .bearer_auth(&admin)
        .json(&install)
        .send()
        .await
        .expect("answers");
    assert_eq!(installed.status(), StatusCode::OK);
    // SQLite takes one server per data directory: a second is refused, with the reason.
    let second = workbench(dir.path()).args(["serve", "--listen", "127.0.0.1:0"]).output().expect("runs");
    assert!(!second.status.success(), "a second server on the same SQLite data directory started");
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("another workbench server is serving the data directory"), "{stderr}");
    let slow = tokio::spawn(invoke("hostile", "/loop", &zhang));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = server.child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs").success());
    let reply = slow.await.expect("task").expect("the in-flight call is answered");
    assert_eq!(reply.status(), StatusCode::BAD_GATEWAY);
    let body: Value = reply.json().await.expect("json");
    assert_eq!(body["kind"], "deadline");
    let invocation = body["invocation"].as_str().expect("invocation").to_owned();
    let status = tokio::task::spawn_blocking(move || server.child.wait()).await.expect("task").expect("exits");
    assert!(status.success(), "clean exit after SIGTERM: {status}");

    // The trap is in the durable log, and the chain verifies.
    let verify = workbench(dir.path()).args(["audit", "verify", "--tenant", "demo"]).output().expect("verify runs");
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
    assert!(String::from_utf8_lossy(&verify.stdout).contains("demo: ok"));
    let db = crate::support::raw_db(&dir.path().join("workbench.db")).await;
    let trapped: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_records WHERE invocation = ? AND outcome = 'trapped'")
            .bind(&invocation)
            .fetch_one(&db)
            .await
            .expect("query");
    assert_eq!(trapped, 1);
}

/// Seeding the demo is all or nothing and completes what an earlier start
/// left: a wrong folder fails before anything is written, naming the flag; a
/// company with its members but without the plugins (what a start that
/// failed halfway used to leave) gets the three plugins installed; and the
/// default folders are found from any directory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_demo_seeds_all_or_nothing_from_any_directory() {
    let _ = xtask::guests();
    let dir = tempfile::tempdir().expect("tempdir");
    let elsewhere = tempfile::tempdir().expect("another working directory");

    let failed = workbench(dir.path())
        .current_dir(elsewhere.path())
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--demo-manifests", "no-such-folder"])
        .output()
        .expect("runs");
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(stderr.contains("--demo-manifests") && stderr.contains("nothing was written"), "{stderr}");
    let db = crate::support::raw_db(&dir.path().join("workbench.db")).await;
    let tenants: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tenants").fetch_one(&db).await.expect("count");
    assert_eq!(tenants, 0, "a failed seed writes nothing");
    db.close().await;

    // Half-seeded: the company and its members, no plugin.
    let config = workbench_host::config::Config { data_dir: dir.path().to_owned(), ..Default::default() };
    let (half, writer) = workbench_host::service::Workbench::open(&config).await.expect("opens");
    half.sync_directory(
        workbench_host::demo::TENANT,
        workbench_host::demo::TENANT_NAME,
        &workbench_host::demo::members(),
    )
    .await
    .expect("directory");
    drop(half);
    writer.await.expect("writer ends");

    // From another directory, with the default folders.
    let mut command = workbench(dir.path());
    command.current_dir(elsewhere.path()).args(["serve", "--demo", "--listen", "127.0.0.1:0"]);
    let mut server = xtask::spawn_server(&mut command, true).expect("workbench starts");
    let zhang = token(&server, "TOKEN_ZHANG_WEI").to_owned();
    let plugins: Value = reqwest::Client::new()
        .get(format!("{}/api/v1/me/plugins", server.base))
        .bearer_auth(&zhang)
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    let ids: Vec<&str> = plugins.as_array().expect("a list").iter().filter_map(|p| p["plugin"].as_str()).collect();
    assert_eq!(ids.len(), 3, "the three example plugins are installed: {plugins}");
    for id in workbench_host::demo::PLUGINS {
        assert!(ids.contains(&id), "{id} in {ids:?}");
    }
    assert!(
        plugins.as_array().expect("a list").iter().all(|p| p["usable"] == true),
        "zhang.wei's consents too: {plugins}"
    );
    let _ = server.child.kill();
    let _ = server.child.wait();
}
