//! Delivery under failure: the `workbench` binary killed with SIGKILL while
//! the platform sends events loses none it answered 202 for, and a delivery
//! killed mid-attempt is taken over after its lease and reaches the plugin
//! again under the same id; two replicas on one PostgreSQL database run each
//! delivery once and fire each schedule slot once.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workbench_host::model::directory::Role;

use crate::crash::{assert_chain_verifies, start_served_with};
use crate::events::{PROBE, manifest, send, submitted};
use crate::server::{Db, Server, drop_schema, fresh_database, on_both_databases};

const ROUNDS: usize = 6;
const SENDERS: usize = 4;
/// A killed replica's claims end soon, so the test need not wait a minute.
const EVENTS_CONFIG: &str = "[events]\nlease_ms = 1500\npoll_ms = 100\n";

/// A served binary, killed with SIGKILL when dropped: by the test when it
/// means to, or by a failing assertion, so no server outlives its test.
struct Running(xtask::Served);

impl std::ops::Deref for Running {
    type Target = xtask::Served;
    fn deref(&self) -> &xtask::Served {
        &self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.child.kill();
        let _ = self.0.child.wait();
    }
}

/// A token minted by `workbench token mint` with the server's keys.
fn mint(dir: &Path, database_url: &str, member: &str, roles: &str) -> String {
    let out = Command::new(xtask::host_binary())
        .arg("--data-dir")
        .arg(dir)
        .args(["--database-url", database_url, "token", "mint", "--tenant", "demo", "--member", member])
        .args(["--roles", roles])
        .output()
        .expect("mint runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8").trim().to_owned()
}

/// Sends `method path` with a bearer token and JSON body to a served binary.
async fn call(base: &str, method: Method, path: &str, token: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = reqwest::Client::new().request(method, format!("{base}{path}")).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Installs the probe (published in round 0) with `mode`.
async fn install(base: &str, admin: &str, mode: &str) {
    let install =
        json!({ "version": "1.0.0", "granted_scopes": ["storage", "user.name", "notify"], "config": { "mode": mode } });
    let (status, body) =
        call(base, Method::PUT, &format!("/api/v1/workbench/plugins/{PROBE}"), admin, Some(install)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// Sends batches of five events until the server goes away (or ten
/// batches went); the ids answered 202.
async fn send_until_killed(base: String, platform: String, prefix: String) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut accepted = Vec::new();
    for batch in 0..10 {
        let events: Vec<Value> = (0..5).map(|n| submitted(&format!("{prefix}-{batch}-{n}"), "zhang.wei")).collect();
        let ids: Vec<String> = events.iter().map(|e| e["id"].as_str().unwrap_or_default().to_owned()).collect();
        let sent = client
            .post(format!("{base}/api/v1/events"))
            .bearer_auth(&platform)
            .json(&json!({ "events": events }))
            .send()
            .await;
        match sent {
            Ok(response) if response.status() == StatusCode::ACCEPTED => accepted.extend(ids),
            _ => return accepted,
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    accepted
}

/// Waits (up to three minutes) until no delivery is pending.
async fn all_settled(pool: &sqlx::AnyPool) {
    let started = Instant::now();
    loop {
        let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE state = 'pending'")
            .fetch_one(pool)
            .await
            .expect("count");
        if pending == 0 || started.elapsed() > Duration::from_secs(180) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn rows(pool: &sqlx::AnyPool, sql: &str, bind: &str) -> Vec<(String, String, i64)> {
    sqlx::query_as(sql).bind(bind).fetch_all(pool).await.expect("query")
}

on_both_databases! {
    async fn sigkill_loses_no_accepted_event_and_a_killed_attempt_runs_again_under_its_id(db: Db) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (database_url, schema) = fresh_database(db, dir.path()).await;
        let mut accepted: Vec<String> = Vec::new();
        for round in 0..ROUNDS {
            let served = Running(start_served_with(dir.path(), &database_url, EVENTS_CONFIG));
            let platform = mint(dir.path(), &database_url, "platform", "platform");
            if round == 0 {
                let dev = mint(dir.path(), &database_url, "acme", "developer");
                let component = std::fs::read(xtask::guests().component(PROBE)).expect("built");
                let form = reqwest::multipart::Form::new()
                    .text("manifest", manifest("1.0.0"))
                    .part("component", reqwest::multipart::Part::bytes(component).file_name("plugin.wasm"));
                let published = reqwest::Client::new()
                    .post(format!("{}/api/v1/plugins", served.base))
                    .bearer_auth(&dev)
                    .multipart(form)
                    .send()
                    .await
                    .expect("publish sent");
                assert_eq!(published.status(), StatusCode::CREATED);
                install(&served.base, served.token("TOKEN_ADMIN").expect("admin token"), "ok").await;
            }
            let senders: Vec<_> = (0..SENDERS)
                .map(|s| tokio::spawn(send_until_killed(served.base.clone(), platform.clone(), format!("k{round}-{s}"))))
                .collect();
            tokio::time::sleep(Duration::from_millis(rand::thread_rng().gen_range(150..700))).await;
            drop(served); // SIGKILL
            for sender in senders {
                accepted.extend(sender.await.expect("sender task"));
            }
        }
        assert!(accepted.len() > ROUNDS, "the platform's events were accepted before the kills ({})", accepted.len());

        // One attempt killed mid-way (the probe pauses 700 ms in it), once
        // what the kills left is delivered.
        let served = Running(start_served_with(dir.path(), &database_url, EVENTS_CONFIG));
        let admin = served.token("TOKEN_ADMIN").expect("admin token").to_owned();
        let platform = mint(dir.path(), &database_url, "platform", "platform");
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&database_url).await.expect("database reachable");
        all_settled(&pool).await;
        install(&served.base, &admin, "pause").await;
        let (status, body) =
            call(&served.base, Method::POST, "/api/v1/events", &platform, Some(json!({ "events": [submitted("held", "zhang.wei")] }))).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let claimed = "SELECT id, COALESCE(claimed_by, ''), attempts FROM deliveries \
                       WHERE event_id = $1 AND plugin = 'event-probe' AND claimed_by IS NOT NULL";
        let started = Instant::now();
        let held = loop {
            if let Some(row) = rows(&pool, claimed, "held").await.into_iter().next() {
                break row;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "the held event was never claimed");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        // The probe counts the id (durably, with its record) before it
        // pauses: killed once that is stored, mid-attempt.
        let counted = || async {
            sqlx::query_scalar::<_, Vec<u8>>("SELECT value FROM plugin_kv WHERE plugin = 'event-probe' AND key = $1")
                .bind(format!("count:{}", held.0))
                .fetch_all(&pool)
                .await
                .expect("kept")
        };
        let started = Instant::now();
        while counted().await.is_empty() {
            assert!(started.elapsed() < Duration::from_secs(5), "the first attempt never counted its id");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        drop(served); // SIGKILL
        assert_eq!(held.2, 1, "killed in its first attempt");
        assert_eq!(counted().await, [b"1".to_vec()], "the killed attempt saw the id once");
        accepted.push("held".into());

        // Restarted: everything accepted is delivered, each to both
        // subscribers (the probe and the demo's 审批助手).
        let served = Running(start_served_with(dir.path(), &database_url, EVENTS_CONFIG));
        install(&served.base, &admin, "ok").await;
        // Every delivery settled (some events were stored but their 202
        // was lost to a kill: they are delivered too).
        all_settled(&pool).await;
        let stored: Vec<String> =
            sqlx::query_scalar("SELECT id FROM events WHERE tenant = 'demo'").fetch_all(&pool).await.expect("events");
        let stored: BTreeSet<String> = stored.into_iter().collect();
        let lost: Vec<&String> = accepted.iter().filter(|id| !stored.contains(*id)).collect();
        assert!(lost.is_empty(), "answered 202 but not stored: {lost:?}");
        let delivered: Vec<(String, String, i64)> =
            sqlx::query_as("SELECT event_id, state, attempts FROM deliveries WHERE tenant = 'demo'")
                .fetch_all(&pool)
                .await
                .expect("deliveries");
        for id in &accepted {
            let states: Vec<&str> =
                delivered.iter().filter(|d| &d.0 == id).map(|d| d.1.as_str()).collect();
            assert_eq!(states, ["done", "done"], "event {id}: one delivery to each subscriber, each done");
        }

        // The killed attempt ran again, to the plugin under the same id.
        let redelivered = rows(&pool, "SELECT id, state, attempts FROM deliveries WHERE event_id = $1 AND plugin = 'event-probe'", "held").await;
        assert_eq!(redelivered, [(held.0.clone(), "done".to_owned(), 2)], "taken over after the lease");
        assert_eq!(counted().await, [b"2".to_vec()], "the takeover reached the plugin under the same id");
        drop(served); // SIGKILL
        pool.close().await;

        assert_chain_verifies(dir.path(), &database_url);
        if let Some(schema) = schema {
            drop_schema(&schema).await;
        }
    }
}

/// The probe with a schedule per plugin and one per member, every minute.
fn scheduled_manifest() -> String {
    format!(
        "{}[[schedules]]\nname = \"minutely\"\ncron = \"* * * * *\"\npurpose = \"look around every minute\"\n\
         [[schedules]]\nname = \"roll-call\"\ncron = \"* * * * *\"\nper = \"member\"\npurpose = \"ask everyone\"\n",
        manifest("1.0.0")
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_run_each_delivery_once_and_fire_each_schedule_slot_once() {
    // The test servers have no ticker: the test ticks both replicas itself, at once.
    let a = Server::demo(Db::Postgres).await;
    let b = a.replica().await;
    let admin = a.demo_token("admin", &[Role::Admin, Role::Member]);
    let dev = a.demo_token("acme", &[Role::Developer]);
    let component = std::fs::read(xtask::guests().component(PROBE)).expect("built");
    let published = a.publish(&dev, &scheduled_manifest(), component, None).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
    let install = json!({ "version": "1.0.0", "granted_scopes": ["storage", "user.name", "notify"] });
    let installed =
        a.call(Method::PUT, &format!("/api/v1/workbench/plugins/{PROBE}"), Some(&admin), Some(install)).await;
    assert_eq!(installed.status, StatusCode::OK, "{}", installed.text);

    // A hundred events accepted by one replica; both deliver.
    let platform = a.demo_token("platform", &[Role::Platform]);
    for chunk in 0..4 {
        let events = (0..25).map(|n| submitted(&format!("r-{chunk}-{n}"), "zhang.wei")).collect();
        let sent = send(if chunk % 2 == 0 { &a } else { &b }, &platform, events).await;
        assert_eq!(sent.status, StatusCode::ACCEPTED, "{}", sent.text);
    }
    // Each slot of the ten minutes before 12:05 in Shanghai on 2026-03-01
    // (no other plugin's schedule is near), once: for the plugin and for
    // each member in range.
    let now = (20_513 * 86_400 + 4 * 3600 + 300) * 1000;
    let (fired_a, fired_b) = tokio::join!(a.workbench.tick_schedules(now), b.workbench.tick_schedules(now));
    let fired = fired_a.expect("ticks") + fired_b.expect("ticks");
    // Ten slots, each fired once across the replicas, for the plugin and for each member.
    assert!(fired > 10 && fired % 10 == 0, "{fired}");
    let slots = "SELECT COUNT(DISTINCT occurred_at) FROM events WHERE tenant = $1 AND id LIKE 'schedule:event-probe:%'";
    assert_eq!(a.count(slots, &["demo"]).await, 10);
    let ours = "SELECT COUNT(*) FROM events WHERE tenant = $1 AND id LIKE 'schedule:%'";
    assert_eq!(a.count(ours, &["demo"]).await as usize, fired, "only the probe's schedules have slots then");
    let (again_a, again_b) = tokio::join!(a.workbench.tick_schedules(now), b.workbench.tick_schedules(now));
    assert_eq!(again_a.expect("ticks") + again_b.expect("ticks"), 0, "a slot fires once");

    let probe_deliveries = (100 + fired) as i64;
    let done = "SELECT COUNT(*) FROM deliveries WHERE plugin = $1 AND state = 'done'";
    let started = Instant::now();
    while a.count(done, &[PROBE]).await < probe_deliveries && started.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(a.count("SELECT COUNT(*) FROM deliveries WHERE plugin = $1", &[PROBE]).await, probe_deliveries);
    let once = "SELECT COUNT(*) FROM deliveries WHERE plugin = $1 AND state = 'done' AND attempts = 1";
    assert_eq!(a.count(once, &[PROBE]).await, probe_deliveries, "each delivery done in one attempt");
    // What the plugin kept: each delivery's id counted once, never twice.
    let counted = "SELECT COUNT(*) FROM plugin_kv WHERE plugin = $1 AND key LIKE 'count:%'";
    assert_eq!(a.count(counted, &[PROBE]).await, probe_deliveries);
    let twice = "SELECT COUNT(*) FROM plugin_kv WHERE plugin = $1 AND key LIKE 'count:%' AND value <> '1'::bytea";
    assert_eq!(a.count(twice, &[PROBE]).await, 0, "no delivery ran on both replicas");
    b.stop().await;
    a.stop().await;
}
