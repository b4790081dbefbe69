//! Guests that wait instead of computing, and callers that flood: the
//! deadline bounds the whole call (also while the guest is blocked in a host
//! call), the slot is free after it, everything the guest did is audited,
//! and one member's flood leaves every other caller served. On SQLite and
//! on PostgreSQL.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use workbench_host::model::audit::Outcome;
use workbench_host::runtime::admission::AdmissionConfig;
use workbench_host::runtime::{CallError, RuntimeLimits, TrapKind};
use workbench_host::scope::Scope;
use workbench_host::service::ServiceError;
use workbench_host::service::installations::InstallRequest;
use workbench_host::store::KvBucket;

use workbench_host::model::directory::Role;

use crate::server::{Db, Server, on_both_databases};
use crate::support::{HOSTILE_MANIFEST, Host, test_admission, test_limits};

/// A short deadline, and a pool of two slots: a slot that a cut-off call
/// kept would show at once as the next calls failing to get one.
fn waiting_limits() -> RuntimeLimits {
    RuntimeLimits { deadline_ms: 500, max_concurrent_instances: 2, ..test_limits() }
}

async fn waiting_host(db: Db) -> Host {
    let host = Host::demo_admitting(db, waiting_limits(), test_admission()).await;
    host.install_hostile("demo", &[Scope::UserId, Scope::Storage, Scope::Log]).await;
    host.workbench
        .consent("demo", "zhang.wei", "hostile", &[Scope::UserId], &[], &Default::default())
        .await
        .expect("consent");
    host
}

/// Runs `path`, which must end in a deadline trap near the deadline (the
/// bound is generous for a loaded machine: it tells a cut-off call from one
/// that waited for its host call to end), audited; then the host is idle
/// and normal calls get slots.
async fn expect_cut_off(host: &Host, path: &str) -> String {
    let deadline = Duration::from_millis(waiting_limits().deadline_ms);
    let started = Instant::now();
    let result = host.get("zhang.wei", "hostile", path).await;
    let took = started.elapsed();
    let invocation = match result {
        Err(ServiceError::Plugin { invocation, error: CallError::Trap { kind: TrapKind::Deadline, message } }) => {
            assert!(message.contains("deadline of 500 ms"), "{message}");
            invocation
        }
        other => panic!("{path}: expected a deadline trap, got {other:?}"),
    };
    assert!(took >= deadline, "{path}: ended before its deadline ({took:?})");
    assert!(took < deadline + Duration::from_millis(2_500), "{path}: ran {took:?}, past its deadline of {deadline:?}");
    crate::support::assert_trap_audited(host, &invocation, "deadline", path).await;
    assert_eq!(host.workbench.admission().running(), 0, "{path}: the slot is given back");
    // Both slots of the pool are free: two calls at once get them.
    let (a, b) = tokio::join!(
        host.get("zhang.wei", "site-daily-report", "/report.json"),
        host.get("li.na", "site-daily-report", "/report.json"),
    );
    a.expect("a slot after the cut-off call");
    b.expect("the other slot after the cut-off call");
    invocation
}

on_both_databases! {
    async fn a_guest_sleeping_through_wasi_clocks_ends_at_its_deadline(db: Db) {
        let host = waiting_host(db).await;
        for _ in 0..3 {
            expect_cut_off(&host, "/sleep?ms=30000").await;
        }
        // A short sleep is no attack: it finishes.
        let short = host.get("zhang.wei", "hostile", "/sleep?ms=20").await.expect("a short sleep finishes");
        assert_eq!(short.response.status, 200);
        host.stop().await;
    }
}

on_both_databases! {
    async fn a_guest_blocked_on_a_pollable_that_never_becomes_ready_ends_at_its_deadline(db: Db) {
        let host = waiting_host(db).await;
        for _ in 0..3 {
            expect_cut_off(&host, "/block").await;
        }
        host.stop().await;
    }
}

on_both_databases! {
    async fn a_guest_waiting_between_host_calls_ends_at_its_deadline_with_every_write_audited(db: Db) {
        let host = waiting_host(db).await;
        let invocation = expect_cut_off(&host, "/wait-loop").await;
        // Let a write that the deadline cut off finish on its own.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let records = host.store.audit_records("demo", 0, 100_000).await.expect("records");
        let mine: Vec<_> =
            records.iter().filter(|r| r.event.invocation.as_deref() == Some(invocation.as_str())).collect();
        let writes = mine.iter().filter(|r| r.event.action == "storage.set" && r.event.outcome == Outcome::Allowed).count();
        let reads = mine.iter().filter(|r| r.event.action == "read").count();
        let bucket = KvBucket { tenant: "demo", plugin: "hostile", person: None };
        let stored = host.store.kv_list(bucket, "wait/", 1_000).await.expect("keys");
        assert!(stored.len() >= 5, "the loop ran a while before its deadline: {} writes", stored.len());
        assert_eq!(writes, stored.len(), "every stored key has its audit record, and no record lacks its key");
        assert!(reads >= writes, "each write follows a read: {reads} reads, {writes} writes");
        assert_eq!(mine.last().map(|r| r.event.action.as_str()), Some("invoke"), "the trap is the call's last record");
        host.stop().await;
    }
}

/// Publishes the hostile guest on a server and installs it in `tenant`.
async fn install_hostile_on(server: &Server, tenant: &str, member: &str) {
    let workbench = &server.workbench;
    if workbench.catalogue_entry("hostile").await.is_err() {
        let hostile = std::fs::read(xtask::guests().component("hostile")).expect("hostile built");
        workbench.publish("demo", "mallory", HOSTILE_MANIFEST, hostile, None).await.expect("publishes");
    }
    if tenant != "demo" {
        let profile = workbench_host::model::directory::MemberProfile { name: member.into(), ..Default::default() };
        workbench.sync_directory(tenant, tenant, &[(member, profile)]).await.expect("tenant and member");
    }
    let request = InstallRequest {
        version: "0.1.0".into(),
        granted: vec![Scope::Storage],
        visible_to: None,
        egress: Vec::new(),
        config: Default::default(),
        subscriptions: None,
    };
    workbench.install(tenant, "admin", "hostile", request).await.expect("installs");
}

/// Publishes the Python sleeper (componentize-py) through the API, as its
/// developer would, and installs it in `tenant`.
async fn install_python_on(server: &Server, tenant: &str, member: &str) {
    if server.workbench.catalogue_entry("py-sleeper").await.is_err() {
        let component = std::fs::read(xtask::python_guests().component("sleeper")).expect("built");
        let manifest =
            std::fs::read_to_string(xtask::repo_root().join("tests/guests-py/sleeper/plugin.toml")).expect("manifest");
        let token = server.demo_token("mallory", &[Role::Developer]);
        let reply = server.publish(&token, &manifest, component, None).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    }
    if tenant != "demo" {
        let profile = workbench_host::model::directory::MemberProfile { name: member.into(), ..Default::default() };
        server.store.upsert_tenant(tenant, tenant).await.expect("tenant");
        server.store.upsert_member(tenant, member, &profile).await.expect("member");
    }
    let request = InstallRequest {
        version: "0.1.0".into(),
        granted: vec![Scope::Storage],
        visible_to: None,
        egress: Vec::new(),
        config: Default::default(),
        subscriptions: None,
    };
    server.workbench.install(tenant, "admin", "py-sleeper", request).await.expect("installs");
}

on_both_databases! {
    async fn a_python_guest_in_time_sleep_ends_at_its_deadline_with_every_write_audited(db: Db) {
        let server = Server::demo_configured(db, |config| {
            config.runtime = RuntimeLimits { deadline_ms: 1_000, ..test_limits() };
        })
        .await;
        install_python_on(&server, "demo", "zhang.wei").await;
        let hello = server.invoke("zhang.wei", "py-sleeper", "/").await;
        assert_eq!(hello.status, StatusCode::OK, "{}", hello.text);
        for path in ["/sleep?s=30", "/wait-loop"] {
            let started = Instant::now();
            let reply = server.invoke("zhang.wei", "py-sleeper", path).await;
            let took = started.elapsed();
            assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{path}: {}", reply.text);
            assert_eq!(reply.body["error"], "plugin_failed", "{}", reply.text);
            assert_eq!(reply.body["kind"], "deadline", "{}", reply.text);
            assert!(reply.body["invocation"].is_string(), "{}", reply.text);
            assert!(took < Duration::from_millis(3_500), "{path}: answered after {took:?}, deadline 1 s");
            assert_eq!(server.workbench.admission().running(), 0, "{path}: the slot is given back");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let records = server.store.audit_records("demo", 0, 100_000).await.expect("records");
        let writes = records
            .iter()
            .filter(|r| r.event.action == "storage.set" && r.event.actor.starts_with("plugin:py-sleeper"))
            .count();
        let bucket = KvBucket { tenant: "demo", plugin: "py-sleeper", person: None };
        let stored = server.store.kv_list(bucket, "py-wait/", 1_000).await.expect("keys");
        assert!(stored.len() >= 5, "the loop ran: {} writes", stored.len());
        assert_eq!(writes, stored.len(), "every stored key has its audit record");
        let after = server.invoke("zhang.wei", "py-sleeper", "/").await;
        assert_eq!(after.status, StatusCode::OK, "{}", after.text);
        server.stop().await;
    }
}

/// 2 x the pool of calls that sleep for 30 s, all at once, from one member,
/// while other members of the tenant and a member of another tenant call as
/// usual: none of them gets an error or waits for the flood; the flooder's
/// share runs until its deadline and the rest get 429.
async fn flood(db: Db, python: bool) {
    let slots = 32;
    let server = Server::demo_configured(db, |config| {
        config.runtime = RuntimeLimits { deadline_ms: 1_000, max_concurrent_instances: slots, ..test_limits() };
        config.admission = AdmissionConfig { refusal_window_secs: 1, ..test_admission() };
    })
    .await;
    let (plugin, path) = if python { ("py-sleeper", "/sleep?s=30") } else { ("hostile", "/sleep?ms=30000") };
    for (tenant, member) in [("demo", "zhang.wei"), ("other", "o.member")] {
        if python {
            install_python_on(&server, tenant, member).await;
        }
        install_hostile_on(&server, tenant, member).await;
    }
    let report = [Scope::UserId, Scope::UserName];
    server
        .workbench
        .consent("demo", "wang.fang", "site-daily-report", &report, &[], &Default::default())
        .await
        .expect("consents");
    // Loaded once, as a plugin in use is.
    assert_eq!(server.invoke("zhang.wei", plugin, "/sleep?ms=1&s=0.001").await.status, StatusCode::OK);
    let server = std::sync::Arc::new(server);
    let flood: Vec<_> = (0..2 * slots)
        .map(|_| {
            let server = std::sync::Arc::clone(&server);
            tokio::spawn(async move { server.invoke("zhang.wei", plugin, path).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut slowest_other_tenant = Duration::ZERO;
    for round in 0..10 {
        for member in ["li.na", "wang.fang"] {
            let reply = server.invoke(member, "site-daily-report", "/report.json").await;
            assert_eq!(reply.status, StatusCode::OK, "round {round}, {member}: {}", reply.text);
        }
        let started = Instant::now();
        let reply = server.invoke_in("other", "o.member", "hostile", "/read-key?key=x").await;
        slowest_other_tenant = slowest_other_tenant.max(started.elapsed());
        assert_eq!(reply.status, StatusCode::OK, "round {round}, the other tenant: {}", reply.text);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    // The other tenant never waited for the flood's slots (it would have
    // waited 250 ms in the queue, or for the flood's 1 s deadline).
    assert!(slowest_other_tenant < Duration::from_millis(250), "the other tenant waited {slowest_other_tenant:?}");
    let mut refused = 0;
    let mut cut_off = 0;
    let mut answers = std::collections::BTreeMap::<u16, usize>::new();
    for call in flood {
        let reply = call.await.expect("flood task");
        *answers.entry(reply.status.as_u16()).or_default() += 1;
        match reply.status {
            StatusCode::TOO_MANY_REQUESTS => {
                refused += 1;
                assert_eq!(reply.body["error"], "too_many_requests", "{}", reply.text);
                let after: u64 = reply.headers["retry-after"].to_str().expect("ascii").parse().expect("seconds");
                assert!(after >= 1, "Retry-After {after}");
            }
            StatusCode::BAD_GATEWAY => {
                cut_off += 1;
                assert_eq!(reply.body["kind"], "deadline", "{}", reply.text);
                assert!(reply.body["invocation"].is_string(), "{}", reply.text);
            }
            other => panic!("a flooding call answered {other}: {}", reply.text),
        }
    }
    // The member's share ran until its deadline (and, where calls arrived
    // after the first share ended, another share), never more at once.
    let per_member = test_admission().per_member;
    assert_eq!(server.workbench.admission().peak_per_member(), per_member, "{answers:?}");
    assert!(cut_off >= per_member as usize, "{answers:?}");
    assert!(refused >= slots as usize, "most of the flood was refused: {answers:?}");
    assert_eq!(server.workbench.admission().running(), 0, "every slot is given back");
    // Refusals are audited once per member and window, with a count.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let records = server.store.audit_records("demo", 0, 100_000).await.expect("records");
    let refusals: Vec<_> = records.iter().filter(|r| r.event.action == "invoke.refused").collect();
    assert_eq!(refusals.len(), 2, "the first refusal and one count: {refusals:#?}");
    assert!(refusals.iter().all(|r| r.event.subject.as_deref() == Some("zhang.wei")));
    let more = format!("{} more refused", refused - 1);
    assert!(refusals[1].event.reason.as_deref().unwrap_or_default().contains(&more), "{:?}", refusals[1].event.reason);
    let server = std::sync::Arc::into_inner(server).expect("the only handle");
    server.stop().await;
}

on_both_databases! {
    async fn one_members_flood_of_sleepers_leaves_every_other_caller_served(db: Db) {
        flood(db, false).await;
    }
}

on_both_databases! {
    async fn one_members_flood_of_python_sleepers_leaves_every_other_caller_served(db: Db) {
        flood(db, true).await;
    }
}

on_both_databases! {
    async fn a_member_over_the_rate_gets_429_with_retry_after(db: Db) {
        let server = Server::demo_configured(db, |config| {
            config.admission = AdmissionConfig { member_rate_per_sec: 2, member_burst: 5, ..test_admission() };
        })
        .await;
        let mut statuses = Vec::new();
        for _ in 0..8 {
            let reply = server.invoke("li.na", "site-daily-report", "/report.json").await;
            if reply.status == StatusCode::TOO_MANY_REQUESTS {
                assert_eq!(reply.body["error"], "too_many_requests", "{}", reply.text);
                assert!(reply.body["message"].as_str().unwrap_or_default().contains("at most 2 invocations a second"));
                assert!(reply.headers.contains_key("retry-after"));
            }
            statuses.push(reply.status.as_u16());
        }
        assert_eq!(&statuses[..5], [200; 5], "the burst is served: {statuses:?}");
        assert!(statuses[5..].contains(&429), "past the burst, refused: {statuses:?}");
        // Another member has a bucket of their own.
        assert_eq!(server.invoke("zhang.wei", "site-daily-report", "/report.json").await.status, StatusCode::OK);
        server.stop().await;
    }
}

on_both_databases! {
    async fn the_request_timeout_answers_json_and_the_call_still_ends_in_its_deadline(db: Db) {
        let server = Server::demo_configured(db, |config| {
            config.server.request_timeout_secs = 1;
            config.runtime = RuntimeLimits { deadline_ms: 3_000, ..test_limits() };
        })
        .await;
        install_hostile_on(&server, "demo", "zhang.wei").await;
        let reply = server.invoke("zhang.wei", "hostile", "/sleep?ms=10000").await;
        assert_eq!(reply.status, StatusCode::GATEWAY_TIMEOUT, "{}", reply.text);
        assert_eq!(reply.body["error"], "timeout", "{}", reply.text);
        assert!(reply.body["message"].as_str().unwrap_or_default().contains("1 s"), "{}", reply.text);
        // A client that gives up and disconnects leaves its call to end at its deadline too.
        let impatient = reqwest::Client::builder().timeout(Duration::from_millis(200)).build().expect("client");
        let token = server.demo_token("zhang.wei", &[Role::Member]);
        let gone = impatient
            .post(format!("{}/api/v1/me/plugins/hostile/invoke", server.base))
            .bearer_auth(token)
            .json(&serde_json::json!({ "path": "/sleep", "query": "ms=30000" }))
            .send()
            .await;
        assert!(gone.is_err_and(|e| e.is_timeout()), "the client gave up");
        assert!(server.workbench.admission().running() > 0, "the calls run on without their requests");
        // The calls went on without their requests, and ended at their deadlines, audited.
        tokio::time::sleep(Duration::from_millis(3_300)).await;
        assert_eq!(server.workbench.admission().running(), 0, "no call holds its slot past its deadline");
        let records = server.store.audit_records("demo", 0, 100_000).await.expect("records");
        let cut_off = records
            .iter()
            .filter(|r| {
                r.event.action == "invoke"
                    && r.event.outcome == Outcome::Trapped
                    && r.event.reason.as_deref().unwrap_or_default().starts_with("deadline")
            })
            .count();
        assert_eq!(cut_off, 2, "both cut-off calls are audited");
        // Publishing compiles the component (seconds for a Python one): it
        // has its own timeout, so a 1 s request timeout does not refuse it.
        let published = server.publish_visitor_log().await;
        assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
        server.stop().await;
    }
}

on_both_databases! {
    async fn the_refusals_and_the_timeout_are_in_the_openapi_document(db: Db) {
        let server = Server::empty(db).await;
        let doc = server.call(reqwest::Method::GET, "/api/v1/openapi.json", None, None).await.body;
        let invoke = &doc["paths"]["/api/v1/me/plugins/{id}/invoke"]["post"]["responses"];
        for status in ["429", "502", "503", "504"] {
            assert!(invoke[status].is_object(), "invoke documents {status}: {invoke}");
        }
        assert!(invoke["429"]["headers"]["Retry-After"].is_object(), "{}", invoke["429"]);
        let paths = doc["paths"].as_object().expect("paths");
        let mut checked = 0;
        for (path, item) in paths {
            for (method, operation) in item.as_object().expect("operations") {
                // The request timeout applies to every route, the operational ones too.
                let timeout = operation["responses"]["504"]["content"]["application/json"].is_object();
                assert!(timeout, "{method} {path} documents 504 with the error body");
                // Every API operation can meet a full host or an unwritable audit log.
                if path.starts_with("/api/v1/") && path != "/api/v1/openapi.json" {
                    let unavailable = operation["responses"]["503"]["content"]["application/json"].is_object();
                    assert!(unavailable, "{method} {path} documents 503 with the error body");
                    checked += 1;
                }
            }
        }
        assert!(checked > 20, "the API's operations were checked ({checked})");
        server.stop().await;
    }
}
