//! A change and its record are one, on SQLite and on PostgreSQL: a storage
//! write is committed with its audit record (SIGKILL at any instant leaves
//! both or neither); one call's record the store refuses fails that call
//! alone, never its batch's neighbours; no record text can grow past its
//! bound; a withdrawal reaches a call already running; a refusal whose
//! record cannot be written is not answered as a refusal.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use workbench_host::config::Config;
use workbench_host::demo;
use workbench_host::model::audit::{AuditRecord, Outcome};
use workbench_host::runtime::RuntimeLimits;
use workbench_host::runtime::admission::AdmissionConfig;
use workbench_host::scope::Scope;
use workbench_host::service::installations::InstallRequest;
use workbench_host::service::{ServiceError, Workbench};

use crate::server::{Db, drop_schema, execute_raw, fresh_database, on_both_databases};
use crate::support::{HOSTILE_MANIFEST, Host, body, test_admission, test_limits};

/// Records of `tenant` from the host's store.
async fn records(host: &Host, tenant: &str) -> Vec<AuditRecord> {
    host.store.audit_records(tenant, 0, 1_000_000).await.expect("records")
}

/// Counts rows with `sql` (binds none) on the host's database.
async fn count(database_url: &str, sql: &str) -> i64 {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(database_url).await.expect("database reachable");
    let n = sqlx::query_scalar(sql).fetch_one(&pool).await.expect("query");
    pool.close().await;
    n
}

const STORED_KEYS: &str = "SELECT COUNT(*) FROM plugin_kv WHERE tenant = 'demo' AND plugin = 'hostile'";
const ALLOWED_SETS: &str = "SELECT COUNT(*) FROM audit_records WHERE tenant = 'demo' AND action = 'storage.set' \
                            AND outcome = 'allowed' AND actor LIKE 'plugin:hostile@%'";

/// Seeds `dir`'s database with the demo company and the hostile guest
/// installed for zhang.wei (storage granted, his id consented), as the
/// server binary will find it.
async fn seed_hostile(dir: &std::path::Path, database_url: &str) {
    let guests = xtask::guests();
    let config = Config {
        data_dir: dir.to_owned(),
        database_url: Some(database_url.to_owned()),
        code_cache_dir: Some(crate::support::shared_code_cache()),
        ..Config::default()
    };
    let (workbench, writer) = Workbench::open(&config).await.expect("host starts");
    let components = guests.component("noop").parent().expect("component dir").to_owned();
    demo::seed(&workbench, &xtask::repo_root().join("plugins"), &components).await.expect("demo seeds");
    let hostile = std::fs::read(guests.component("hostile")).expect("hostile built");
    workbench.publish(demo::TENANT, "mallory", HOSTILE_MANIFEST, hostile, None).await.expect("publishes");
    let request = InstallRequest {
        version: "0.1.0".into(),
        granted: vec![Scope::UserId, Scope::Storage],
        visible_to: None,
        egress: Vec::new(),
        config: Default::default(),
        subscriptions: None,
    };
    workbench.install(demo::TENANT, "admin", "hostile", request).await.expect("installs");
    workbench
        .consent(demo::TENANT, "zhang.wei", "hostile", &[Scope::UserId], &[], &Default::default())
        .await
        .expect("consents");
    drop(workbench);
    writer.await.expect("writer flushed");
}

/// Invokes `/write-loop` (a new key every 2 ms until the deadline) until
/// the server goes away.
async fn write_loop(base: String, token: String) {
    let client = reqwest::Client::new();
    loop {
        let tag = uuid::Uuid::now_v7();
        let sent = client
            .post(format!("{base}/api/v1/me/plugins/hostile/invoke"))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "path": "/write-loop", "query": format!("tag={tag}&ms=2") }))
            .send()
            .await;
        if sent.is_err() {
            return;
        }
    }
}

on_both_databases! {
    async fn sigkill_never_parts_a_storage_write_from_its_record(db: Db) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (database_url, schema) = fresh_database(db, dir.path()).await;
        seed_hostile(dir.path(), &database_url).await;
        for _ in 0..8 {
            let (mut child, base, token) = crate::crash::start(dir.path(), &database_url);
            let clients: Vec<_> = (0..4).map(|_| tokio::spawn(write_loop(base.clone(), token.clone()))).collect();
            // Killed at a random instant: before, during or between writes.
            let pause = Duration::from_millis(rand::thread_rng().gen_range(200..1_500));
            tokio::time::sleep(pause).await;
            child.kill().expect("SIGKILL");
            child.wait().expect("reaped");
            for client in clients {
                client.await.expect("client task");
            }
        }
        // Every key is new, so each stored key is one allowed write: every
        // stored key has its record and every record its key.
        let (keys, sets) = (count(&database_url, STORED_KEYS).await, count(&database_url, ALLOWED_SETS).await);
        assert!(keys > 0, "the plugin wrote before the kills");
        assert_eq!(keys, sets, "{keys} stored keys and {sets} records of allowed writes");
        crate::crash::assert_chain_verifies(dir.path(), &database_url);
        if let Some(schema) = schema {
            drop_schema(&schema).await;
        }
    }
}

/// Makes the database refuse every audit record matching `condition` (SQL
/// on `NEW`, the same on both engines), as a trigger named `name`: a record
/// the store refuses whatever the host's bounds.
async fn refuse_records(host: &Host, name: &str, condition: &str) {
    let sql = if host.database_url.starts_with("postgres") {
        format!(
            "CREATE FUNCTION {name}() RETURNS trigger AS $$ BEGIN IF {condition} THEN RAISE EXCEPTION 'refused'; \
             END IF; RETURN NEW; END $$ LANGUAGE plpgsql; \
             CREATE TRIGGER {name} BEFORE INSERT ON audit_records FOR EACH ROW EXECUTE FUNCTION {name}()"
        )
    } else {
        format!(
            "CREATE TRIGGER {name} BEFORE INSERT ON audit_records WHEN {condition} \
             BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )
    };
    execute_raw(&host.database_url, &sql).await;
}

/// Drops what [`refuse_records`] made.
async fn accept_records(host: &Host, name: &str) {
    let sql = if host.database_url.starts_with("postgres") {
        format!("DROP TRIGGER {name} ON audit_records")
    } else {
        format!("DROP TRIGGER {name}")
    };
    execute_raw(&host.database_url, &sql).await;
}

on_both_databases! {
    async fn one_members_records_never_fail_another_members_batch(db: Db) {
        let host = Host::demo_on(db).await;
        host.install_hostile("demo", &[Scope::UserId, Scope::UserName, Scope::Storage]).await;
        for member in ["zhang.wei", "li.na"] {
            host.workbench.consent("demo", member, "hostile", &[Scope::UserId], &[], &Default::default()).await.expect("consent");
        }
        refuse_records(&host, "poison", "NEW.reason LIKE '%poison%'").await;
        let host = Arc::new(host);
        // zhang.wei's calls send requests to 6,000- and 60,000-character
        // destinations and paths, and fail with a poisoned reason; li.na's
        // write and trap, and read her report, beside them.
        let long_host = format!("https://{}.example", "h".repeat(6_000));
        let longer_host = format!("https://{}.example", "h".repeat(60_000));
        let long_path = format!("https://api.example/{}", "p".repeat(60_000));
        let mut hostile_calls = Vec::new();
        for round in 0..12 {
            let url = [&long_host, &longer_host, &long_path][round % 3].clone();
            let (zhang, li) = (Arc::clone(&host), Arc::clone(&host));
            hostile_calls.push(tokio::spawn(async move {
                let fetched = zhang.get("zhang.wei", "hostile", &format!("/fetch?url={url}")).await;
                let poisoned = zhang.get("zhang.wei", "hostile", "/fail?message=poison").await;
                (fetched, poisoned)
            }));
            hostile_calls.push(tokio::spawn(async move {
                let trapped = li.get("li.na", "hostile", "/trap-after-write").await;
                let report = li.get("li.na", "site-daily-report", "/report.json").await;
                (trapped, report)
            }));
        }
        let mut outcomes = Vec::new();
        for call in hostile_calls {
            outcomes.push(call.await.expect("task"));
        }
        for (i, (first, second)) in outcomes.iter().enumerate() {
            if i % 2 == 0 {
                let fetched = first.as_ref().expect("a request to a long destination is answered");
                assert!(body(fetched).starts_with('['), "the guest saw its request refused: {}", body(fetched));
                assert!(matches!(second, Err(ServiceError::Audit(_))), "the poisoned call alone fails: {second:?}");
            } else {
                assert!(
                    matches!(first, Err(ServiceError::Plugin { .. })),
                    "li.na's trap is her own, never audit_unavailable: {first:?}"
                );
                second.as_ref().expect("li.na's report is answered");
            }
        }
        let all = records(&host, "demo").await;
        // li.na's half-done writes each have their record, and her person
        // bucket holds the key.
        let li_sets = all
            .iter()
            .filter(|r| r.event.subject.as_deref() == Some("li.na") && r.event.action == "storage.set")
            .count();
        assert_eq!(li_sets, 12, "every write of li.na's is recorded");
        // The long destinations and paths were recorded, cut to their bounds.
        let requests: Vec<_> = all.iter().filter_map(|r| r.event.egress.as_ref()).collect();
        assert_eq!(requests.len(), 12, "each request has its record");
        for detail in requests {
            assert!(detail.destination.len() <= 512 && detail.path.len() <= 1_024, "{detail:?}");
        }
        assert!(all.iter().all(|r| !r.event.reason.as_deref().unwrap_or_default().contains("poison")));
        Arc::into_inner(host).expect("no call left").stop().await;
    }
}

on_both_databases! {
    async fn a_withdrawal_reaches_a_running_call(db: Db) {
        let limits = RuntimeLimits { deadline_ms: 1_500, ..test_limits() };
        let host = Arc::new(Host::demo_with(db, limits).await);
        host.install_hostile("demo", &[Scope::UserId, Scope::Storage]).await;
        host.workbench.consent("demo", "zhang.wei", "hostile", &[Scope::UserId], &[], &Default::default()).await.expect("consent");
        // Reads his id and writes his bucket every 20 ms until its deadline.
        let running = tokio::spawn({
            let host = Arc::clone(&host);
            async move { host.get("zhang.wei", "hostile", "/write-loop?tag=w&ms=20&bucket=person").await }
        });
        tokio::time::sleep(Duration::from_millis(400)).await;
        host.workbench.withdraw("demo", "zhang.wei", "hostile", None, &Default::default()).await.expect("withdraws");
        // Every record durable when the withdrawal returned.
        let returned = records(&host, "demo").await.last().map_or(0, |r| r.seq);
        let ended = running.await.expect("task");
        assert!(matches!(ended, Err(ServiceError::Plugin { .. })), "the loop ends at its deadline: {ended:?}");
        let all = records(&host, "demo").await;
        let call = all.iter().find(|r| r.event.actor.starts_with("plugin:hostile@")).expect("the call's records");
        let invocation = call.event.invocation.clone();
        let of_call: Vec<_> = all.iter().filter(|r| r.event.invocation == invocation).collect();
        let allowed_reads_before =
            of_call.iter().filter(|r| r.seq <= returned && r.event.action == "read" && r.event.outcome == Outcome::Allowed);
        assert!(allowed_reads_before.count() > 3, "the call read before the withdrawal");
        let after: Vec<_> = of_call.iter().filter(|r| r.seq > returned).collect();
        assert!(after.iter().any(|r| r.event.action == "read"), "the call went on reading after it");
        // A read made while the withdrawal was returning is recorded with the
        // write after it: at most that one was allowed; every later one is refused.
        let allowed_reads_after =
            after.iter().filter(|r| r.event.action == "read" && r.event.outcome == Outcome::Allowed).count();
        assert!(allowed_reads_after <= 1, "{allowed_reads_after} reads allowed after the withdrawal returned");
        assert!(
            after.iter().any(|r| r.event.action == "read" && r.event.reason.as_deref() == Some("consent_withdrawn")),
            "later reads are refused"
        );
        for record in &after {
            assert!(
                !(record.event.action == "storage.set" && record.event.outcome == Outcome::Allowed),
                "no write is applied after the withdrawal: {:?}",
                record.event
            );
        }
        assert!(
            after.iter().any(|r| r.event.action == "storage.set" && r.event.reason.as_deref() == Some("consent_withdrawn")),
            "a write after it is refused"
        );
        let rows = count(
            &host.database_url,
            "SELECT COUNT(*) FROM plugin_kv WHERE tenant = 'demo' AND plugin = 'hostile' AND person = 'zhang.wei'",
        )
        .await;
        assert_eq!(rows, 0, "the bucket the withdrawal deleted stays empty");
        Arc::into_inner(host).expect("no call left").stop().await;
    }
}

on_both_databases! {
    async fn a_refusal_whose_record_fails_is_not_answered_as_a_refusal(db: Db) {
        let admission = AdmissionConfig { member_rate_per_sec: 1, member_burst: 1, refusal_window_secs: 1, ..test_admission() };
        let host = Host::demo_admitting(db, test_limits(), admission).await;
        host.get("zhang.wei", "site-daily-report", "/report.json").await.expect("the first call is within the rate");
        refuse_records(&host, "refusals", "NEW.action = 'invoke.refused'").await;
        let unrecorded = host.get("zhang.wei", "site-daily-report", "/report.json").await;
        assert!(matches!(unrecorded, Err(ServiceError::Audit(_))), "503 audit_unavailable, not 429: {unrecorded:?}");
        accept_records(&host, "refusals").await;
        // The failed one opened no window: the next refusal is written, then answered.
        let refused = host.get("zhang.wei", "site-daily-report", "/report.json").await;
        assert!(matches!(refused, Err(ServiceError::Refused(_))), "{refused:?}");
        let recorded = records(&host, "demo").await.iter().filter(|r| r.event.action == "invoke.refused").count();
        assert_eq!(recorded, 1, "the refusal answered 429 has its record");
        host.stop().await;
    }
}

on_both_databases! {
    async fn a_write_whose_record_is_refused_is_not_applied_and_its_call_does_not_answer(db: Db) {
        let host = Host::demo_on(db).await;
        host.install_hostile("demo", &[Scope::UserId, Scope::Storage]).await;
        host.workbench.consent("demo", "li.na", "hostile", &[Scope::UserId], &[], &Default::default()).await.expect("consent");
        refuse_records(&host, "no_writes", "NEW.action = 'storage.set'").await;
        // It reads li.na's id, then writes: the write and the read's record
        // go in one submission, which the store refuses.
        let answered = host.get("li.na", "hostile", "/write-loop?tag=x&bucket=person").await;
        assert!(
            matches!(answered, Err(ServiceError::Audit(_))),
            "the read's record is lost with the write, so the call answers audit_unavailable: {answered:?}"
        );
        let rows = count(&host.database_url, "SELECT COUNT(*) FROM plugin_kv WHERE plugin = 'hostile'").await;
        assert_eq!(rows, 0, "the write went with its record");
        host.stop().await;
    }
}

/// Through another replica: the withdrawal is made on `a` while the call runs
/// on `b`, which learns of it from the tenant's generation within `RECHECK`
/// (50 ms) of its last read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_withdrawal_through_another_replica_reaches_a_running_call() {
    let a = crate::server::Server::demo(Db::Postgres).await;
    let b = a.replica().await;
    let hostile = std::fs::read(xtask::guests().component("hostile")).expect("hostile built");
    a.workbench.publish(demo::TENANT, "mallory", HOSTILE_MANIFEST, hostile, None).await.expect("publishes");
    let request = InstallRequest {
        version: "0.1.0".into(),
        granted: vec![Scope::UserId, Scope::Storage],
        visible_to: None,
        egress: Vec::new(),
        config: Default::default(),
        subscriptions: None,
    };
    a.workbench.install(demo::TENANT, "admin", "hostile", request).await.expect("installs");
    a.workbench
        .consent(demo::TENANT, "zhang.wei", "hostile", &[Scope::UserId], &[], &Default::default())
        .await
        .expect("consents");
    let running = tokio::spawn({
        let on_b = Arc::clone(&b.workbench);
        async move {
            let request = workbench_host::runtime::Request {
                method: "GET".into(),
                path: "/write-loop".into(),
                query: "tag=r&ms=10&bucket=person".into(),
                headers: vec![],
                body: vec![],
            };
            on_b.invoke(demo::TENANT, "zhang.wei", "hostile", request).await
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.workbench
        .withdraw(demo::TENANT, "zhang.wei", "hostile", None, &Default::default())
        .await
        .expect("withdraws on a");
    let returned =
        a.store.audit_records(demo::TENANT, 0, 1_000_000).await.expect("records").last().map_or(0, |r| r.seq);
    let ended = running.await.expect("task");
    assert!(matches!(ended, Err(ServiceError::Plugin { .. })), "the loop ends at its deadline: {ended:?}");
    let all = a.store.audit_records(demo::TENANT, 0, 1_000_000).await.expect("records");
    let reads_after: Vec<_> = all
        .iter()
        .filter(|r| r.seq > returned && r.event.actor.starts_with("plugin:hostile@") && r.event.action == "read")
        .collect();
    let allowed = reads_after.iter().filter(|r| r.event.outcome == Outcome::Allowed).count();
    // A loop turn takes at least 10 ms: within the 50 ms before b reads the
    // generation again, at most 5 turns and the one in flight.
    assert!(allowed <= 6, "{allowed} reads allowed on b after the withdrawal returned on a");
    assert!(
        reads_after.iter().filter(|r| r.event.reason.as_deref() == Some("consent_withdrawn")).count() > 10,
        "then b refuses every read"
    );
    let rows = a
        .count(
            "SELECT COUNT(*) FROM plugin_kv WHERE tenant = 'demo' AND plugin = 'hostile' AND person = $1",
            &["zhang.wei"],
        )
        .await;
    assert_eq!(rows, 0, "no write of b's call refilled the bucket");
    b.stop().await;
    a.stop().await;
}
