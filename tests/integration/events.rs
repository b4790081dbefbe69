//! Events: the platform's events are accepted once per id, delivered at
//! least once to every plugin of the tenant that subscribed (and never to
//! another tenant's), run with the subject's consents (or about nobody),
//! retried, dead-lettered and replayed; notifications reach the subject's
//! inbox only with their consent; every delivery is audited.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workbench_host::model::directory::Role;

use crate::server::{Server, on_both_databases};

pub(crate) const PROBE: &str = "event-probe";

pub(crate) fn manifest(version: &str) -> String {
    format!(
        r#"id = "{PROBE}"
name = "Event probe"
version = "{version}"
[developer]
name = "Probe"
contact = "probe@example.com"
[[scopes]]
scope = "storage"
purpose = "keep what each event saw"
required = true
[[scopes]]
scope = "user.name"
purpose = "greet the person an event is about"
[[scopes]]
scope = "notify"
purpose = "tell the person an approval waits"
[[events]]
kind = "approval.submitted"
purpose = "tell an approver a request waits for them"
[[events]]
kind = "member.joined"
purpose = "welcome a new colleague"
[[config]]
key = "mode"
description = "ok, fail, trap, slow or pause"
default = "ok"
"#
    )
}

pub(crate) async fn publish_and_install(server: &Server, admin: &str, mode: &str) {
    let dev = server.demo_token("acme", &[Role::Developer]);
    let component = std::fs::read(xtask::guests().component(PROBE)).expect("built");
    let published = server.publish(&dev, &manifest("1.0.0"), component, None).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
    assert_eq!(published.body["contract"], "0.3.0");
    let install =
        json!({ "version": "1.0.0", "granted_scopes": ["storage", "user.name", "notify"], "config": { "mode": mode } });
    let installed =
        server.call(Method::PUT, &format!("/api/v1/workbench/plugins/{PROBE}"), Some(admin), Some(install)).await;
    assert_eq!(installed.status, StatusCode::OK, "{}", installed.text);
    assert_eq!(
        installed.body["approved_subscriptions"],
        json!(["approval.submitted", "member.joined"]),
        "{}",
        installed.text
    );
}

pub(crate) fn submitted(id: &str, subject: &str) -> Value {
    json!({ "id": id, "kind": "approval.submitted", "subject": subject,
            "payload": { "approval_id": id, "process_id": "expense", "title": "差旅报销", "amount_cents": 120000 } })
}

pub(crate) async fn send(server: &Server, token: &str, events: Vec<Value>) -> crate::server::Reply {
    server.call(Method::POST, "/api/v1/events", Some(token), Some(json!({ "events": events }))).await
}

/// `member` consents to `scopes` of `plugin` (through the API, as in the page).
async fn consent(server: &Server, member: &str, plugin: &str, scopes: &[&str]) {
    let token = server.demo_token(member, &[Role::Member]);
    let body = json!({ "scopes": scopes });
    let given =
        server.call(Method::PUT, &format!("/api/v1/me/plugins/{plugin}/consent"), Some(&token), Some(body)).await;
    assert_eq!(given.status, StatusCode::OK, "{}", given.text);
}

/// The tenant's deliveries once none is pending (or the last seen after 30 s).
pub(crate) async fn settled(server: &Server, admin: &str, wanted: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let list = server.call(Method::GET, "/api/v1/workbench/deliveries", Some(admin), None).await;
        assert_eq!(list.status, StatusCode::OK, "{}", list.text);
        let list = list.body.as_array().expect("deliveries").clone();
        if wanted(&list) || started.elapsed() > Duration::from_secs(30) {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the probe kept, by key.
pub(crate) async fn kept(server: &Server) -> BTreeMap<String, String> {
    kept_by(server, PROBE).await
}

/// What probe `plugin` kept, by key.
async fn kept_by(server: &Server, plugin: &str) -> BTreeMap<String, String> {
    let reply = server.invoke("zhang.wei", plugin, "/").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["body"]
        .as_str()
        .unwrap_or(&reply.text)
        .lines()
        .filter_map(|line| line.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect()
}

/// What the probe kept, its keys' delivery ids replaced by the events' ids.
pub(crate) fn by_event(kept: &BTreeMap<String, String>, deliveries: &[Value]) -> BTreeMap<String, String> {
    kept.iter()
        .map(|(key, value)| {
            let mut key = key.clone();
            for d in deliveries {
                if let (Some(id), Some(event)) = (d["id"].as_str(), d["event_id"].as_str()) {
                    key = key.replace(id, event);
                }
            }
            (key, value.clone())
        })
        .collect()
}

on_both_databases! {
    async fn accepted_events_reach_each_subscribed_plugin_once_with_the_subjects_consents(db: Db) {
        let server = Server::demo(db).await;
        let admin = server.demo_token("admin", &[Role::Admin, Role::Member]);
        publish_and_install(&server, &admin, "ok").await;
        let zhang = server.demo_token("zhang.wei", &[Role::Member]);
        consent(&server, "zhang.wei", PROBE, &["user.name", "notify"]).await;
        let platform = server.demo_token("platform", &[Role::Platform]);

        // Zhang Wei consented to his name and notifications; Wang Fang to nothing.
        let sent = send(&server, &platform, vec![submitted("e-1", "zhang.wei"), submitted("e-2", "wang.fang")]).await;
        assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.text);
        // To the probe, and to the demo's 审批助手, which subscribes too.
        assert_eq!(sent.body["accepted"], json!([
            { "id": "e-1", "duplicate": false, "deliveries": 2 },
            { "id": "e-2", "duplicate": false, "deliveries": 2 },
        ]));
        // The same id again is accepted once.
        let again = send(&server, &platform, vec![submitted("e-1", "zhang.wei")]).await;
        assert_eq!(again.body["accepted"], json!([{ "id": "e-1", "duplicate": true, "deliveries": 0 }]), "{}", again.text);

        let deliveries = settled(&server, &admin, |list| list.len() == 4 && list.iter().all(|d| d["state"] == "done")).await;
        assert!(deliveries.iter().all(|d| d["state"] == "done" && d["attempts"] == 1), "{deliveries:?}");
        let deliveries: Vec<Value> = deliveries.into_iter().filter(|d| d["plugin"] == PROBE).collect();
        assert_eq!(deliveries.len(), 2, "{deliveries:?}");
        // The plugin knows each event by its delivery's id: never the
        // platform's own id, which may name someone.
        let raw = kept(&server).await;
        assert!(!raw.keys().any(|k| k.contains("e-1") || k.contains("e-2")), "{raw:?}");
        let kept = by_event(&raw, &deliveries);
        assert_eq!(kept.get("count:e-1").map(String::as_str), Some("1"), "{kept:?}");
        assert_eq!(kept.get("count:e-2").map(String::as_str), Some("1"), "{kept:?}");
        assert_eq!(kept.get("name:e-1").map(String::as_str), Some("person approval.submitted 张伟"), "{kept:?}");
        // She never consented to the probe: to it she is nobody (no person
        // bucket to keep a pseudonym in), and nothing of hers is readable.
        assert_eq!(kept.get("name:e-2").map(String::as_str), Some("nobody approval.submitted denied NotConsented"), "{kept:?}");
        assert_eq!(kept.get("notify:e-1").map(String::as_str), Some("sent"), "{kept:?}");
        assert_eq!(kept.get("notify:e-2").map(String::as_str), Some("Denied(NotConsented)"), "{kept:?}");

        // Zhang Wei's inbox holds his notification, pointing into the plugin; Wang Fang's is empty.
        let inbox = server.call(Method::GET, "/api/v1/me/notifications", Some(&zhang), None).await;
        assert_eq!(inbox.body["unread"], 1, "{}", inbox.text);
        let note = &inbox.body["notifications"][0];
        let e1 = deliveries.iter().find(|d| d["event_id"] == "e-1").and_then(|d| d["id"].as_str()).expect("e-1");
        assert_eq!((note["plugin"].as_str(), note["route"].as_str()), (Some(PROBE), Some(format!("/events/{e1}").as_str())), "{note}");
        let wang = server.demo_token("wang.fang", &[Role::Member]);
        let empty = server.call(Method::GET, "/api/v1/me/notifications", Some(&wang), None).await;
        assert_eq!(empty.body["unread"], 0, "{}", empty.text);
        // Another member cannot mark it read; he can.
        let id = note["id"].as_str().expect("id");
        let theirs = server.call(Method::POST, &format!("/api/v1/me/notifications/{id}/read"), Some(&wang), None).await;
        assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.text);
        let read = server.call(Method::POST, &format!("/api/v1/me/notifications/{id}/read"), Some(&zhang), None).await;
        assert_eq!(read.body["marked"], 1, "{}", read.text);

        // Audited: each delivery with its subject, each notification attempt.
        let delivered = server.call(Method::GET, "/api/v1/audit?action=event.deliver", Some(&admin), None).await;
        let records: Vec<&Value> = delivered.body["records"].as_array().expect("records").iter()
            .filter(|r| r["actor"].as_str().is_some_and(|a| a.starts_with("plugin:event-probe")))
            .collect();
        let mut subjects: Vec<_> = records.iter().map(|r| r["subject"].as_str().unwrap_or("-").to_owned()).collect();
        subjects.sort();
        assert_eq!(subjects, ["wang.fang", "zhang.wei"], "{}", delivered.text);
        assert!(records.iter().all(|r| r["outcome"] == "allowed" && r["reason"].as_str().unwrap_or("").contains("handled")), "{}", delivered.text);
        let notified = server.call(Method::GET, "/api/v1/audit?action=notify.send", Some(&admin), None).await;
        let mut outcomes: Vec<_> = notified.body["records"].as_array().expect("records").iter()
            .filter(|r| r["actor"].as_str().is_some_and(|a| a.starts_with("plugin:event-probe")))
            .map(|r| (r["subject"].as_str().unwrap_or("-").to_owned(), r["outcome"].as_str().unwrap_or("-").to_owned()))
            .collect();
        outcomes.sort();
        // Hers is refused about nobody: the call names no one.
        assert_eq!(outcomes, [("-".to_owned(), "denied".to_owned()), ("zhang.wei".to_owned(), "allowed".to_owned())], "{outcomes:?}");

        // A kind the probe did not subscribe to goes nowhere; another tenant never sees demo's events.
        let decided = json!({ "id": "e-3", "kind": "approval.decided", "subject": "zhang.wei",
                              "payload": { "approval_id": "a", "process_id": "expense", "decision": "approved" } });
        let sent = send(&server, &platform, vec![decided]).await;
        assert_eq!(sent.body["accepted"][0]["deliveries"], 0, "{}", sent.text);
        assert_eq!(server.count("SELECT COUNT(*) FROM deliveries WHERE tenant <> $1", &["demo"]).await, 0);
        server.stop().await;
    }
}

on_both_databases! {
    async fn a_platform_event_that_does_not_fit_is_refused_by_name_and_nothing_is_accepted(db: Db) {
        let server = Server::demo(db).await;
        let platform = server.demo_token("platform", &[Role::Platform]);
        let cases = [
            (json!({ "id": "x", "kind": "approval.exploded", "subject": "zhang.wei", "payload": {} }), "unknown kind \"approval.exploded\""),
            (json!({ "id": "x", "kind": "approval.submitted", "subject": "zhang.wei", "payload": { "approval_id": "a" } }), "missing field `process_id`"),
            (json!({ "id": "x", "kind": "approval.submitted", "subject": "nobody.here",
                     "payload": { "approval_id": "a", "process_id": "p", "title": "t", "amount_cents": 1 } }), "is not a member"),
            (json!({ "id": "x", "kind": "schedule", "subject": "zhang.wei", "payload": {} }), "unknown kind \"schedule\""),
            (json!({ "id": "bad id", "kind": "member.joined", "subject": "zhang.wei", "payload": {} }), "the id must be"),
            (json!({ "id": "x", "kind": "member.joined", "subject": "zhang.wei", "payload": { "extra": 1 } }), "unknown field `extra`"),
            (json!({ "id": "x", "kind": "customer.assigned", "subject": "zhang.wei", "payload": { "customer_id": "c", "access": "own" } }), "access \"own\""),
        ];
        for (event, expected) in cases {
            // The good event first: nothing of a refused batch is accepted.
            let good = json!({ "id": "fine", "kind": "member.joined", "subject": "zhang.wei", "payload": {} });
            let sent = send(&server, &platform, vec![good, event.clone()]).await;
            assert_eq!(sent.status, StatusCode::UNPROCESSABLE_ENTITY, "{event}: {}", sent.text);
            let message = sent.body["message"].as_str().unwrap_or_default();
            assert!(message.contains("events[1]") && message.contains(expected), "{event}: {}", sent.text);
        }
        assert_eq!(server.count("SELECT COUNT(*) FROM events", &[]).await, 0);
        // The schemas the payloads are checked against are in the API document.
        let doc = server.call(Method::GET, "/api/v1/openapi.json", None, None).await.body;
        let submitted = &doc["components"]["schemas"]["ApprovalSubmitted"];
        assert_eq!(submitted["required"], json!(["approval_id", "process_id", "title", "amount_cents"]), "{submitted}");
        for schema in ["ApprovalDecided", "CustomerAssigned", "MemberChanged", "EventKind"] {
            assert!(doc["components"]["schemas"].get(schema).is_some(), "{schema} is documented");
        }
        let none = send(&server, &platform, vec![]).await;
        assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", none.text);
        // The platform's token does nothing else; nobody else's token sends events.
        let elsewhere = server.call(Method::GET, "/api/v1/workbench/plugins", Some(&platform), None).await;
        assert_eq!(elsewhere.status, StatusCode::FORBIDDEN, "{}", elsewhere.text);
        let admin = server.demo_token("admin", &[Role::Admin, Role::Member]);
        let by_admin = send(&server, &admin, vec![json!({ "id": "y", "kind": "member.joined", "subject": "zhang.wei", "payload": {} })]).await;
        assert_eq!(by_admin.status, StatusCode::FORBIDDEN, "{}", by_admin.text);
        server.stop().await;
    }
}

on_both_databases! {
    async fn a_failing_plugin_is_retried_on_schedule_then_dead_lettered_then_replayed(db: Db) {
        let server = Server::demo_configured(db, |config| {
            config.events.retry_secs = vec![1, 1];
            config.events.poll_ms = 100;
        }).await;
        let admin = server.demo_token("admin", &[Role::Admin, Role::Member]);
        publish_and_install(&server, &admin, "fail").await;
        let platform = server.demo_token("platform", &[Role::Platform]);
        let sent = send(&server, &platform, vec![submitted("f-1", "zhang.wei")]).await;
        assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.text);
        // The first attempt and two retries, a second apart; then a dead letter.
        let started = Instant::now();
        let dead = settled(&server, &admin, |list| list.iter().any(|d| d["state"] == "dead")).await;
        assert!(started.elapsed() >= Duration::from_secs(2), "retried too soon: {:?}", started.elapsed());
        let letter = dead.iter().find(|d| d["event_id"] == "f-1" && d["plugin"] == PROBE).expect("the delivery");
        assert_eq!((letter["state"].as_str(), letter["attempts"].as_u64()), (Some("dead"), Some(3)), "{letter}");
        assert!(letter["last_error"].as_str().unwrap_or("").contains("told to fail"), "{letter}");
        let only_dead = server.call(Method::GET, "/api/v1/workbench/deliveries?state=dead", Some(&admin), None).await;
        assert_eq!(only_dead.body.as_array().map(Vec::len), Some(1), "{}", only_dead.text);
        let failures = server.call(Method::GET, "/api/v1/audit?action=event.deliver", Some(&admin), None).await;
        let failed = failures.body["records"].as_array().expect("records").iter()
            .filter(|r| r["actor"].as_str().is_some_and(|a| a.starts_with("plugin:event-probe")) && r["outcome"] == "failed")
            .count();
        assert_eq!(failed, 3, "{}", failures.text);

        // Fixed (the admin configures it to work), replayed once, delivered with the same id.
        let fixed = json!({ "version": "1.0.0", "granted_scopes": ["storage", "user.name", "notify"], "config": { "mode": "ok" } });
        let reinstalled = server.call(Method::PUT, &format!("/api/v1/workbench/plugins/{PROBE}"), Some(&admin), Some(fixed)).await;
        assert_eq!(reinstalled.status, StatusCode::OK, "{}", reinstalled.text);
        let id = letter["id"].as_str().expect("id");
        let replayed = server.call(Method::POST, &format!("/api/v1/workbench/deliveries/{id}/replay"), Some(&admin), None).await;
        assert_eq!(replayed.status, StatusCode::NO_CONTENT, "{}", replayed.text);
        let twice = server.call(Method::POST, &format!("/api/v1/workbench/deliveries/{id}/replay"), Some(&admin), None).await;
        assert_eq!(twice.status, StatusCode::NOT_FOUND, "a delivery that is not dead is not replayed: {}", twice.text);
        let probe_done = |d: &Value| d["event_id"] == "f-1" && d["plugin"] == PROBE && d["state"] == "done";
        let done = settled(&server, &admin, |list| list.iter().any(probe_done)).await;
        assert!(done.iter().any(probe_done), "{done:?}");
        let kept = by_event(&kept(&server).await, &done);
        assert_eq!(kept.get("count:f-1").map(String::as_str), Some("4"), "three failed attempts and the replay: {kept:?}");
        let replays = server.call(Method::GET, "/api/v1/audit?action=event.replay", Some(&admin), None).await;
        assert_eq!(replays.body["records"].as_array().map(Vec::len), Some(1), "{}", replays.text);
        server.stop().await;
    }
}

on_both_databases! {
    async fn a_person_gets_at_most_their_hourly_share_of_notifications(db: Db) {
        let server = Server::demo_configured(db, |config| config.runtime.notify_per_person_hour = 2).await;
        let admin = server.demo_token("admin", &[Role::Admin, Role::Member]);
        publish_and_install(&server, &admin, "ok").await;
        let zhang = server.demo_token("zhang.wei", &[Role::Member]);
        consent(&server, "zhang.wei", PROBE, &["user.name", "notify"]).await;
        let platform = server.demo_token("platform", &[Role::Platform]);
        let events = (1..=3).map(|n| submitted(&format!("r-{n}"), "zhang.wei")).collect();
        assert_eq!(send(&server, &platform, events).await.status, StatusCode::ACCEPTED);
        let deliveries = settled(&server, &admin, |list| list.len() == 6 && list.iter().all(|d| d["state"] == "done")).await;
        let kept = by_event(&kept(&server).await, &deliveries);
        let sent: Vec<_> = (1..=3).filter_map(|n| kept.get(&format!("notify:r-{n}")).cloned()).collect();
        // Two of three: the third is refused with the seconds to wait.
        assert_eq!(sent.iter().filter(|s| *s == "sent").count(), 2, "{kept:?}");
        assert_eq!(sent.iter().filter(|s| s.starts_with("RateLimited(")).count(), 1, "{kept:?}");
        let inbox = server.call(Method::GET, "/api/v1/me/notifications", Some(&zhang), None).await;
        assert_eq!(inbox.body["unread"], 2, "{}", inbox.text);
        let refused = server.call(Method::GET, "/api/v1/audit?action=notify.send&outcome=denied", Some(&admin), None).await;
        let limited = refused.body["records"].as_array().expect("records").iter()
            .filter(|r| r["reason"].as_str().is_some_and(|r| r.starts_with("rate_limited")))
            .count();
        assert_eq!(limited, 1, "{}", refused.text);
        server.stop().await;
    }
}

on_both_databases! {
    async fn the_daily_reports_evening_tick_reminds_only_those_without_the_days_report(db: Db) {
        // The test ticks the schedules itself, at 18:05 in Shanghai on 2026-03-01.
        let server = Server::demo(db).await;
        let admin = server.demo_token("admin", &[Role::Admin, Role::Member]);
        let plugin = "site-daily-report";
        let installed = server.call(Method::GET, "/api/v1/workbench/plugins", Some(&admin), None).await;
        assert!(installed.text.contains("schedule:evening-reminder"), "approved at install: {}", installed.text);
        let zhang = server.demo_token("zhang.wei", &[Role::Member]);
        consent(&server, "zhang.wei", plugin, &["user.id", "user.name", "notify"]).await;
        // Li Na reported that day (and consents to notifications too); Zhang Wei did not.
        consent(&server, "li.na", plugin, &["user.id", "user.name", "notify"]).await;
        let li = server.demo_token("li.na", &[Role::Member]);
        let report = json!({ "method": "POST", "path": "/", "query": "date=2026-03-01", "body": "text=%E6%B5%87%E7%AD%91" });
        let saved = server.call(Method::POST, &format!("/api/v1/me/plugins/{plugin}/invoke"), Some(&li), Some(report)).await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);

        let evening = (20_513 * 86_400 + 10 * 3600 + 300) * 1000;
        let fired = server.workbench.tick_schedules(evening).await.expect("ticks");
        assert!(fired >= 2, "one tick per member in range: {fired}");
        assert_eq!(server.workbench.tick_schedules(evening + 1000).await.expect("ticks"), 0, "the slot fires once");
        let ours = |d: &Value| d["plugin"] == plugin;
        let settled = settled(&server, &admin, |list| list.iter().filter(|d| ours(d)).count() == fired
            && list.iter().filter(|d| ours(d)).all(|d| d["state"] == "done")).await;
        assert!(settled.iter().filter(|d| ours(d)).all(|d| d["state"] == "done"), "{settled:?}");

        let inbox = |token: String| {
            let server = &server;
            async move { server.call(Method::GET, "/api/v1/me/notifications", Some(&token), None).await }
        };
        let his = inbox(zhang.clone()).await;
        assert_eq!(his.body["unread"], 1, "{}", his.text);
        let note = &his.body["notifications"][0];
        assert_eq!((note["plugin"].as_str(), note["route"].as_str()), (Some(plugin), Some("/?date=2026-03-01")), "{note}");
        assert!(note["text"].as_str().unwrap_or_default().contains("2026-03-01"), "{note}");
        let hers = inbox(li).await;
        assert_eq!(hers.body["unread"], 0, "she reported that day: {}", hers.text);
        // Wang Fang never opened the plugin: to it she is nobody, and nobody is reminded.
        let wang = inbox(server.demo_token("wang.fang", &[Role::Member])).await;
        assert_eq!(wang.body["unread"], 0, "{}", wang.text);
        server.stop().await;
    }
}

on_both_databases! {
    async fn a_python_plugin_built_with_componentize_py_is_told_of_events_as_a_rust_one_is(db: Db) {
        let server = Server::demo(db).await;
        let admin = server.demo_token("admin", &[Role::Admin, Role::Member]);
        let plugin = "py-event-probe";
        let dev = server.demo_token("acme", &[Role::Developer]);
        let manifest = std::fs::read_to_string(xtask::repo_root().join("tests/guests-py/event-probe-py/plugin.toml"))
            .expect("manifest");
        let component = std::fs::read(xtask::python_guests().component("event-probe-py")).expect("built");
        let published = server.publish(&dev, &manifest, component, None).await;
        assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
        assert_eq!(published.body["contract"], "0.3.0");
        let install = json!({ "version": "1.0.0", "granted_scopes": ["storage", "user.name", "notify"] });
        let installed = server.call(Method::PUT, &format!("/api/v1/workbench/plugins/{plugin}"), Some(&admin), Some(install)).await;
        assert_eq!(installed.status, StatusCode::OK, "{}", installed.text);
        let zhang = server.demo_token("zhang.wei", &[Role::Member]);
        consent(&server, "zhang.wei", plugin, &["user.name", "notify"]).await;

        let platform = server.demo_token("platform", &[Role::Platform]);
        let sent = send(&server, &platform, vec![submitted("p-1", "zhang.wei"), submitted("p-2", "wang.fang")]).await;
        assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.text);
        let ours = |d: &Value| d["plugin"] == plugin;
        let deliveries = settled(&server, &admin, |list| {
            list.iter().filter(|d| ours(d)).count() == 2 && list.iter().filter(|d| ours(d)).all(|d| d["state"] == "done")
        })
        .await;
        let deliveries: Vec<Value> = deliveries.into_iter().filter(ours).collect();
        assert!(deliveries.iter().all(|d| d["state"] == "done" && d["attempts"] == 1), "{deliveries:?}");
        let kept = by_event(&kept_by(&server, plugin).await, &deliveries);
        assert_eq!(kept.get("count:p-1").map(String::as_str), Some("1"), "{kept:?}");
        assert_eq!(kept.get("name:p-1").map(String::as_str), Some("person approval.submitted 张伟"), "{kept:?}");
        assert_eq!(kept.get("name:p-2").map(String::as_str), Some("nobody approval.submitted denied NotConsented"), "{kept:?}");
        assert_eq!(kept.get("notify:p-1").map(String::as_str), Some("sent"), "{kept:?}");
        assert_eq!(kept.get("notify:p-2").map(String::as_str), Some("Denied(NotConsented)"), "{kept:?}");
        let inbox = server.call(Method::GET, "/api/v1/me/notifications", Some(&zhang), None).await;
        assert_eq!(inbox.body["notifications"][0]["plugin"], plugin, "{}", inbox.text);
        server.stop().await;
    }
}

on_both_databases! {
    async fn settled_deliveries_and_their_events_go_after_keep_days_and_pending_ones_stay(db: Db) {
        let server = Server::demo_configured(db, |config| {
            config.events.retry_secs = vec![3600];
            config.events.keep_days = 30;
        })
        .await;
        let admin = server.demo_token("admin", &[Role::Admin, Role::Member]);
        publish_and_install(&server, &admin, "ok").await;
        let platform = server.demo_token("platform", &[Role::Platform]);
        let sent = send(&server, &platform, vec![submitted("k-1", "zhang.wei"), submitted("k-2", "li.na")]).await;
        assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.text);
        settled(&server, &admin, |list| list.len() == 4 && list.iter().all(|d| d["state"] == "done")).await;
        // One more, which the probe now fails: retried in an hour, pending till then.
        let failing = json!({ "version": "1.0.0", "granted_scopes": ["storage", "user.name", "notify"], "config": { "mode": "fail" } });
        let reinstalled = server.call(Method::PUT, &format!("/api/v1/workbench/plugins/{PROBE}"), Some(&admin), Some(failing)).await;
        assert_eq!(reinstalled.status, StatusCode::OK, "{}", reinstalled.text);
        send(&server, &platform, vec![submitted("k-3", "zhang.wei")]).await;
        let tried = |d: &Value| d["event_id"] == "k-3" && d["plugin"] == PROBE && d["attempts"] == 1;
        let list = settled(&server, &admin, |list| list.len() == 6 && list.iter().any(tried)
            && list.iter().filter(|d| d["state"] == "done").count() == 5).await;
        assert!(list.iter().any(|d| tried(d) && d["state"] == "pending"), "{list:?}");

        // A month later: the settled deliveries go, and the events none of whose deliveries is left.
        let month = workbench_host::now_ms() + 31 * 24 * 3600 * 1000;
        let reports = server.workbench.purge(month).await.expect("purges").expect("the one runner");
        let demo = reports.iter().find(|r| r.tenant == "demo").expect("demo's report");
        assert_eq!((demo.deliveries_deleted, demo.events_deleted), (5, 2), "{demo:?}");
        let left = server.call(Method::GET, "/api/v1/workbench/deliveries", Some(&admin), None).await;
        let left = left.body.as_array().expect("deliveries").clone();
        assert_eq!(left.len(), 1, "{left:?}");
        assert!(tried(&left[0]) && left[0]["state"] == "pending", "{left:?}");
        assert_eq!(server.count("SELECT COUNT(*) FROM events WHERE tenant = $1", &["demo"]).await, 1);
        let again = server.workbench.purge(month).await.expect("purges").expect("the one runner");
        let demo = again.iter().find(|r| r.tenant == "demo").expect("demo's report");
        assert_eq!((demo.deliveries_deleted, demo.events_deleted), (0, 0), "{demo:?}");
        // Past its keeping, an id is new again.
        let resent = send(&server, &platform, vec![submitted("k-1", "zhang.wei")]).await;
        assert_eq!(resent.body["accepted"][0]["duplicate"], false, "{}", resent.text);
        server.stop().await;
    }
}
