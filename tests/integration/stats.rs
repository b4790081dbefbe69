//! Audit statistics: `/api/v1/audit/stats` answers from the rollup the
//! audit writer keeps with the records, and the rollup equals the records.
//!
//! The property: random logs (two tenants, plugins of two versions, people,
//! members, every outcome, reasons with and without codes, outbound requests
//! with bytes) appended in random batches, with purges of random prefixes
//! and records from "before the rollup existed" counted by the background
//! backfill, give exactly the counts an independent tally of the records
//! still in the log gives: per hour and per day (in Asia/Shanghai), for
//! everyone, per plugin, per member and per action.
//!
//! `PROPTEST_CASES` sets the number of logs per database (default 12).

use std::collections::{BTreeMap, HashMap};

use chrono::DateTime;
use chrono_tz::Tz;
use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use reqwest::{Method, StatusCode};
use serde_json::Value;
use workbench_host::model::audit::{AuditEvent, Outcome};
use workbench_host::model::directory::Role;
use workbench_host::model::egress::EgressDetail;
use workbench_host::model::stats::{Bucket, StatsQuery, StatsRow};

use crate::server::{Server, execute_raw, on_both_databases};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// 2026-11-30T00:00Z: the logs' first day.
const BASE_MS: i64 = 1_796_000_000_000 - 1_796_000_000_000 % DAY_MS;

/// Actors, and the plugin each counts under.
const ACTORS: [(&str, &str); 5] = [
    ("plugin:alpha@1.0.0", "alpha"),
    ("plugin:alpha@2.0.0", "alpha"),
    ("plugin:beta@0.1.0", "beta"),
    ("admin:root", ""),
    ("member:m1", ""),
];
const SUBJECTS: [Option<&str>; 4] = [None, Some("m1"), Some("m2"), Some("m3")];
const ACTIONS: [&str; 5] = ["read", "storage.get", "http.request", "invoke", "consent.grant"];
const SCOPES: [Option<&str>; 3] = [None, Some("user.name"), Some("user.phone")];
/// Outcomes with the reason written and the code it counts under.
const ENDINGS: [(Outcome, Option<&str>, &str); 7] = [
    (Outcome::Allowed, None, ""),
    (Outcome::Denied, Some("not_consented"), "not_consented"),
    (Outcome::Denied, Some("rate_limited: 3 s"), "rate_limited"),
    (Outcome::Trapped, Some("deadline: over 50 ms"), "deadline"),
    (Outcome::Failed, Some("张伟's phone went wrong"), "other"),
    (Outcome::Failed, Some("plugin_error: boom; again"), "plugin_error"),
    (Outcome::Denied, None, ""),
];
const DESTINATIONS: [&str; 2] = ["https://visits.acme.example", "http://127.0.0.1:9"];

/// One generated record.
#[derive(Debug, Clone)]
struct Drawn {
    tenant: usize,
    at: i64,
    actor: usize,
    subject: usize,
    action: usize,
    scope: usize,
    ending: usize,
    /// A destination and the bytes out and in.
    egress: Option<(usize, u32, u32)>,
}

#[derive(Debug, Clone)]
enum Step {
    /// Appends records in one batch.
    Append(Vec<Drawn>),
    /// Deletes at most `limit` records of a tenant from the start up to a
    /// share (per mille) of its head, as the purge does.
    Purge { tenant: usize, share: u16, limit: u32 },
    /// Makes a tenant's records look as if written before the rollup
    /// existed: their counts gone, a backfill to do.
    Forget { tenant: usize },
    /// One batch of the background backfill.
    Backfill,
}

fn drawn() -> impl Strategy<Value = Drawn> {
    (
        0..2usize,
        0..3 * DAY_MS,
        0..ACTORS.len(),
        0..SUBJECTS.len(),
        0..ACTIONS.len(),
        0..SCOPES.len(),
        0..ENDINGS.len(),
        prop::option::weighted(0.3, (0..DESTINATIONS.len(), 0..5_000u32, 0..50_000u32)),
    )
        .prop_map(|(tenant, at, actor, subject, action, scope, ending, egress)| Drawn {
            tenant,
            at,
            actor,
            subject,
            action,
            scope,
            ending,
            egress,
        })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => prop::collection::vec(drawn(), 1..40).prop_map(Step::Append),
        2 => (0..2usize, 0..1000u16, 1..30u32).prop_map(|(tenant, share, limit)| Step::Purge { tenant, share, limit }),
        1 => (0..2usize).prop_map(|tenant| Step::Forget { tenant }),
        2 => Just(Step::Backfill),
    ]
}

/// The tenant a case's index names.
fn tenant(case: usize, index: usize) -> String {
    format!("stats-{case}-t{index}")
}

fn event(case: usize, n: usize, d: &Drawn) -> AuditEvent {
    let (outcome, reason, _) = ENDINGS[d.ending];
    AuditEvent {
        tenant: tenant(case, d.tenant),
        ts_ms: BASE_MS + d.at,
        actor: ACTORS[d.actor].0.to_owned(),
        subject: SUBJECTS[d.subject].map(str::to_owned),
        action: ACTIONS[d.action].to_owned(),
        scope: SCOPES[d.scope].map(str::to_owned),
        purpose: None,
        outcome,
        reason: reason.map(str::to_owned),
        invocation: Some(format!("drawn-{n}")),
        egress: d.egress.map(|(destination, out, into)| EgressDetail {
            destination: DESTINATIONS[destination].to_owned(),
            method: "POST".into(),
            path: "/".into(),
            status: Some(200),
            bytes_out: u64::from(out),
            bytes_in: u64::from(into),
            duration_ms: 3,
            could_include: vec!["user.name".into()],
        }),
    }
}

/// A row of an answer without its `last`: bucket, plugin, action, scope,
/// outcome, reason, destination -> count, bytes out, bytes in.
type Tally = BTreeMap<(String, String, String, String, String, String, String), (i64, i64, i64)>;

fn tally_of(rows: &[StatsRow]) -> Tally {
    let mut tally = Tally::new();
    for r in rows {
        let key = (
            r.bucket.clone(),
            r.plugin.clone().unwrap_or_default(),
            r.action.clone(),
            r.scope.clone().unwrap_or_default(),
            r.outcome.clone(),
            r.reason.clone().unwrap_or_default(),
            r.destination.clone().unwrap_or_default(),
        );
        assert!(tally.insert(key, (r.count, r.bytes_out, r.bytes_in)).is_none(), "one row per key: {r:?}");
    }
    tally
}

/// The independent tally: the drawn records still in the log that answer
/// `query`, counted by hand.
fn expected(query: &StatsQuery, kept: &[&Drawn]) -> Tally {
    let mut tally = Tally::new();
    for d in kept {
        let (outcome, _, code) = ENDINGS[d.ending];
        let plugin = ACTORS[d.actor].1;
        if query.plugin.as_deref().is_some_and(|p| p != plugin)
            || query.member.as_deref().is_some_and(|m| SUBJECTS[d.subject] != Some(m))
            || query.action.as_deref().is_some_and(|a| a != ACTIONS[d.action])
        {
            continue;
        }
        let at = DateTime::from_timestamp_millis(BASE_MS + d.at).expect("time").with_timezone(&query.zone);
        let bucket = match query.bucket {
            Bucket::Day => at.format("%Y-%m-%d").to_string(),
            Bucket::Hour => at.format("%Y-%m-%dT%H:00%:z").to_string(),
        };
        let key = (
            bucket,
            plugin.to_owned(),
            ACTIONS[d.action].to_owned(),
            SCOPES[d.scope].unwrap_or_default().to_owned(),
            outcome.as_str().to_owned(),
            code.to_owned(),
            d.egress.map_or("", |(destination, _, _)| DESTINATIONS[destination]).to_owned(),
        );
        let entry = tally.entry(key).or_default();
        entry.0 += 1;
        entry.1 += d.egress.map_or(0, |(_, out, _)| i64::from(out));
        entry.2 += d.egress.map_or(0, |(_, _, into)| i64::from(into));
    }
    tally
}

/// Runs `steps` in fresh tenants of `server`, then compares every question
/// with the independent tally.
async fn check(server: &Server, case: usize, steps: &[Step]) -> Result<(), TestCaseError> {
    let signer = server.chain_signer();
    let mut drawn: HashMap<String, Drawn> = HashMap::new();
    let mut n = 0;
    for step in steps {
        match step {
            Step::Append(batch) => {
                let events = batch
                    .iter()
                    .map(|d| {
                        n += 1;
                        drawn.insert(format!("drawn-{n}"), d.clone());
                        event(case, n, d)
                    })
                    .collect();
                server.store.append_audit(events, &signer).await.expect("appends");
            }
            Step::Purge { tenant: index, share, limit } => {
                let name = tenant(case, *index);
                let head =
                    server.store.audit_records(&name, 0, 1_000_000).await.expect("records").last().map(|r| r.seq);
                let through = head.unwrap_or(0) * i64::from(*share) / 1000;
                server.store.delete_audit_through(&name, through, *limit).await.expect("purges");
            }
            Step::Forget { tenant: index } => {
                let name = tenant(case, *index);
                execute_raw(
                    &server.database_url,
                    &format!(
                        "DELETE FROM audit_stats WHERE tenant = '{name}'; \
                         DELETE FROM audit_stats_backfill WHERE tenant = '{name}'; \
                         INSERT INTO audit_stats_backfill (tenant, done, through) \
                         SELECT tenant, MIN(seq) - 1, MAX(seq) FROM audit_records WHERE tenant = '{name}' GROUP BY tenant"
                    ),
                )
                .await;
            }
            Step::Backfill => {
                server.workbench.backfill_stats_batch().await.expect("backfills");
            }
        }
    }
    // Until the backfill is done the answer says it is incomplete.
    for index in 0..2 {
        let name = tenant(case, index);
        let pending = server.store.stats_backfill(&name).await.expect("backfill state").is_some();
        let answer =
            server.workbench.audit_stats(&name, &question(Bucket::Day, None, None, None)).await.expect("answers");
        prop_assert_eq!(answer.complete, !pending);
    }
    while server.workbench.backfill_stats_batch().await.expect("backfills").is_some() {}

    let zone: Tz = "Asia/Shanghai".parse().expect("zone");
    for index in 0..2 {
        let name = tenant(case, index);
        let records = server.store.audit_records(&name, 0, 1_000_000).await.expect("records");
        let kept: Vec<&Drawn> = records
            .iter()
            .map(|r| &drawn[r.event.invocation.as_deref().expect("drawn records have invocations")])
            .collect();
        let mut questions = Vec::new();
        for bucket in [Bucket::Hour, Bucket::Day] {
            questions.push(question(bucket, None, None, None));
            questions.push(StatsQuery { zone, ..question(bucket, None, None, None) });
        }
        for plugin in ["alpha", "beta", "gamma"] {
            questions.push(question(Bucket::Day, Some(plugin), None, None));
        }
        for member in ["m1", "m2", "m3"] {
            questions.push(StatsQuery { zone, ..question(Bucket::Hour, None, Some(member), None) });
            questions.push(question(Bucket::Day, Some("alpha"), Some(member), Some("read")));
        }
        questions.push(question(Bucket::Day, None, None, Some("http.request")));
        for query in &questions {
            let answer = server.workbench.audit_stats(&name, query).await.expect("answers");
            prop_assert!(answer.complete);
            prop_assert_eq!(tally_of(&answer.rows), expected(query, &kept), "{:?}", query);
        }
    }
    Ok(())
}

fn question(bucket: Bucket, plugin: Option<&str>, member: Option<&str>, action: Option<&str>) -> StatsQuery {
    StatsQuery {
        from_ms: BASE_MS - DAY_MS,
        to_ms: BASE_MS + 4 * DAY_MS,
        bucket,
        zone: chrono_tz::UTC,
        plugin: plugin.map(str::to_owned),
        member: member.map(str::to_owned),
        action: action.map(str::to_owned),
    }
}

on_both_databases! {
    async fn the_rollup_equals_the_records_through_appends_purges_and_backfills(db: Db) {
        let server = Server::demo_configured(db, |config| config.retention.purge_batch_records = 7).await;
        let cases = std::env::var("PROPTEST_CASES").ok().and_then(|n| n.parse().ok()).unwrap_or(12);
        let mut runner = TestRunner::new(ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() });
        let handle = tokio::runtime::Handle::current();
        let cases_run = std::sync::atomic::AtomicUsize::new(0);
        let result = runner.run(&prop::collection::vec(step(), 1..16), |steps| {
            let case = cases_run.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            tokio::task::block_in_place(|| handle.block_on(check(&server, case, &steps)))
        });
        server.stop().await;
        if let Err(failure) = result {
            panic!("{failure}");
        }
    }
}

const AUDITOR: &[Role] = &[Role::Auditor, Role::Member];

/// The tally of `/api/v1/audit` records (every page) about `member` (or
/// everyone), by UTC day, plugin, action, scope, outcome and destination.
async fn log_tally(
    server: &Server,
    token: &str,
    member: Option<&str>,
) -> BTreeMap<(String, String, String, String, String, String), i64> {
    let mut tally = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let mut path = "/api/v1/audit?limit=1000".to_owned();
        if let Some(member) = member {
            path.push_str(&format!("&subject={member}"));
        }
        if let Some(after) = &after {
            path.push_str(&format!("&after={after}"));
        }
        let page = server.call(Method::GET, &path, Some(token), None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        for record in page.body["records"].as_array().expect("records") {
            let text = |name: &str| record[name].as_str().unwrap_or_default().to_owned();
            let day = DateTime::from_timestamp_millis(record["ts_ms"].as_i64().expect("ts")).expect("time");
            let actor = text("actor");
            let plugin = actor.strip_prefix("plugin:").and_then(|a| a.split_once('@')).map_or("", |(id, _)| id);
            let destination = record["egress"]["destination"].as_str().unwrap_or_default().to_owned();
            let key = (
                day.format("%Y-%m-%d").to_string(),
                plugin.to_owned(),
                text("action"),
                text("scope"),
                text("outcome"),
                destination,
            );
            *tally.entry(key).or_default() += 1;
        }
        match page.body["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => return tally,
        }
    }
}

fn stats_tally(body: &Value) -> BTreeMap<(String, String, String, String, String, String), i64> {
    let mut tally = BTreeMap::new();
    for row in body["rows"].as_array().expect("rows") {
        let text = |name: &str| row[name].as_str().unwrap_or_default().to_owned();
        let key = (text("bucket"), text("plugin"), text("action"), text("scope"), text("outcome"), text("destination"));
        *tally.entry(key).or_default() += row["count"].as_i64().expect("count");
    }
    tally
}

on_both_databases! {
    async fn the_stats_route_counts_what_the_log_holds_for_the_auditor_and_the_app_admin(db: Db) {
        let server = Server::demo(db).await;
        let zhang = server.demo_token("zhang.wei", &[Role::Member]);
        // Some reads, a storage write, a refusal.
        for query in ["", "date=2026-03-01"] {
            let reply = server
                .call(Method::POST, "/api/v1/me/plugins/site-daily-report/invoke", Some(&zhang), Some(serde_json::json!({ "method": "GET", "path": "/", "query": query })))
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        }
        let auditor = server.demo_token("admin", AUDITOR);
        let stats = server.call(Method::GET, "/api/v1/audit/stats", Some(&auditor), None).await;
        assert_eq!(stats.status, StatusCode::OK, "{}", stats.text);
        assert_eq!(stats.body["bucket"], "day");
        assert_eq!(stats.body["complete"], true);
        let all = stats_tally(&stats.body);
        assert_eq!(all, log_tally(&server, &auditor, None).await);
        assert!(
            all.keys().any(|(_, plugin, action, scope, outcome, _)| plugin == "site-daily-report"
                && action == "read"
                && !scope.is_empty()
                && outcome == "allowed"),
            "the plugin's reads are counted: {all:?}"
        );
        let mine = server.call(Method::GET, "/api/v1/audit/stats?member=zhang.wei", Some(&auditor), None).await;
        assert_eq!(stats_tally(&mine.body), log_tally(&server, &auditor, Some("zhang.wei")).await);
        let one = server
            .call(Method::GET, "/api/v1/audit/stats?plugin=site-daily-report&action=read&bucket=hour&zone=Asia/Shanghai", Some(&auditor), None)
            .await;
        assert_eq!(one.status, StatusCode::OK, "{}", one.text);
        let rows = one.body["rows"].as_array().expect("rows");
        assert!(!rows.is_empty());
        for row in rows {
            assert_eq!(row["plugin"], "site-daily-report");
            assert_eq!(row["action"], "read");
            assert!(row["bucket"].as_str().expect("bucket").ends_with(":00+08:00"), "{row}");
        }

        // The app admin may ask; a member and the member admin may not.
        let app_admin = server.demo_token("admin", &[Role::AppAdmin]);
        assert_eq!(server.call(Method::GET, "/api/v1/audit/stats", Some(&app_admin), None).await.status, StatusCode::OK);
        // One member's activity is the auditor's to see, not the app admin's.
        let theirs = server.call(Method::GET, "/api/v1/audit/stats?member=zhang.wei", Some(&app_admin), None).await;
        assert_eq!(theirs.status, StatusCode::FORBIDDEN, "{}", theirs.text);
        for roles in [&[Role::Member][..], &[Role::MemberAdmin]] {
            let token = server.demo_token("admin", roles);
            assert_eq!(server.call(Method::GET, "/api/v1/audit/stats", Some(&token), None).await.status, StatusCode::FORBIDDEN);
        }
        assert_eq!(server.call(Method::GET, "/api/v1/audit/stats", None, None).await.status, StatusCode::UNAUTHORIZED);

        // Every bad question is refused, saying what is wrong: 422 for a
        // value out of its rules, 400 for a query that does not parse.
        let invalid = StatusCode::UNPROCESSABLE_ENTITY;
        for (query, status, says) in [
            ("bucket=week", invalid, "bucket must be hour or day"),
            ("zone=Mars/Olympus", invalid, "not an IANA time zone"),
            ("from=2000&to=1000", invalid, "from must be before to"),
            ("from=-5", invalid, "ms since the epoch"),
            ("bucket=hour&from=0&to=3000000000", invalid, "at most 31 days"),
            ("from=0&to=40000000000", invalid, "at most 366 days"),
            ("action=fly", invalid, "not an audit action"),
            ("plugin=Not%20A%20Plugin", invalid, "not a plugin id"),
            ("member=", invalid, "member must be a member id"),
            ("colour=red", StatusCode::BAD_REQUEST, "unknown field `colour`"),
            ("from=soon", StatusCode::BAD_REQUEST, "from"),
        ] {
            let reply = server.call(Method::GET, &format!("/api/v1/audit/stats?{query}"), Some(&auditor), None).await;
            assert_eq!(reply.status, status, "{query}: {}", reply.text);
            assert!(reply.text.contains(says), "{query}: {}", reply.text);
        }
        server.stop().await;
    }
}
