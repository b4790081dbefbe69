//! Scale of data: one tenant grows to `SCALE_MEMBERS` members (default
//! 100,000), `SCALE_PLUGINS` installed plugins (default 50) and
//! `SCALE_RECORDS` audit records (default 10,000,000); at 1%, 10% and 100% of
//! the records it measures the invoke of a
//! 2-field plugin through the service (directory, installation, consents,
//! instance, two audited reads, durable commit) and the audit queries an admin
//! or member makes, and the audit statistics an admin's pictures ask for (30
//! days by day, one plugin and all; p50 and p99 of 50). Flat means the numbers at 10M are those at 100k. Then
//! the retention purge deletes the records older than half a year (about
//! half), measuring records per second and the invoke p99 at 8 concurrent
//! callers before and while it runs; the chain must verify after it.
//!
//! `SCALE_DB=sqlite|postgres|both` (default both); `SCALE_PHASES=purge` seeds
//! the directory and measures the purge alone (its tenant still gets
//! `SCALE_RECORDS` records); `SCALE_PURGE_SHARE` and `SCALE_PURGE_BATCH` set
//! `[retention] purge_share_percent` and `purge_batch_records`. Results are printed as a
//! table; see docs/BENCHMARKS.md.
//!
//! ```text
//! cargo bench -p workbench-host --bench scale
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use workbench_host::config::Config;
use workbench_host::model::audit::AuditFilter;
use workbench_host::model::audit::{Action, AuditEvent, Outcome};
use workbench_host::model::directory::{MemberProfile, Role};
use workbench_host::model::stats::{Bucket, StatsQuery};
use workbench_host::runtime::Request;
use workbench_host::scope::Scope;
use workbench_host::service::Workbench;
use workbench_host::service::installations::InstallRequest;

const TENANT: &str = "scale";
/// The tenant whose old records the purge deletes.
const PURGED: &str = "scale-old";

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.replace('_', "").parse().ok()).unwrap_or(default)
}

fn manifest(i: usize) -> String {
    format!(
        r#"id = "scale-{i:02}"
name = "Scale {i}"
version = "1.0.0"
[developer]
name = "Scale"
contact = "scale@example.com"
[[scopes]]
scope = "user.id"
purpose = "identify"
required = true
[[scopes]]
scope = "user.name"
purpose = "greet"
required = true
"#
    )
}

fn member(i: u64) -> String {
    format!("m{i:06}")
}

/// Milliseconds of each run, sorted.
fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

struct Scale {
    members: u64,
    plugins: usize,
    records: u64,
    /// Members who consented (member k to plugin k % plugins).
    consenting: u64,
    /// Only the purge: the first tenant is not grown.
    purge_only: bool,
}

async fn run(db: &str, scale: &Scale) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
    // Eight callers in a closed loop during the purge: no rate limit in reach.
    config.admission.tenant_rate_per_sec = 1_000_000;
    config.admission.tenant_burst = 1_000_000;
    config.admission.member_rate_per_sec = 1_000_000;
    config.admission.member_burst = 1_000_000;
    // The purge's pace, when a run compares settings.
    if let Some(share) = std::env::var("SCALE_PURGE_SHARE").ok().and_then(|v| v.parse().ok()) {
        config.retention.purge_share_percent = share;
    }
    if let Some(batch) = std::env::var("SCALE_PURGE_BATCH").ok().and_then(|v| v.parse().ok()) {
        config.retention.purge_batch_records = batch;
    }
    let mut schema = None;
    if db == "postgres" {
        let name = format!("scale_{}", std::process::id());
        xtask::psql(&format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"))?;
        config.database_url = Some(format!("{}?options=-c%20search_path%3D{name}", xtask::postgres_url()));
        schema = Some(name);
    }
    let result = measure(db, scale, &config, schema.as_deref()).await;
    if let Some(name) = schema {
        xtask::psql(&format!("DROP SCHEMA {name} CASCADE"))?;
    }
    result
}

async fn measure(db: &str, scale: &Scale, config: &Config, schema: Option<&str>) -> anyhow::Result<()> {
    let store = Workbench::open_store(config).await?;
    let (workbench, writer) = Workbench::with_store(config, Arc::clone(&store))?;
    let started = Instant::now();
    store.upsert_tenant(TENANT, "Scale").await?;
    store.upsert_tenant(PURGED, "Scale, a year old").await?;
    let departments = ["工程部", "安全部", "财务部", "信息部"];
    for i in 0..scale.members {
        let profile = MemberProfile {
            name: format!("成员{i}"),
            department: Some(departments[i as usize % departments.len()].into()),
            roles: vec![Role::Member],
            ..MemberProfile::default()
        };
        store.upsert_member(TENANT, &member(i), &profile).await?;
    }
    let component = std::fs::read(xtask::guests().component("two-fields"))?;
    for p in 0..scale.plugins {
        let published = workbench.publish(TENANT, "dev", &manifest(p), component.clone(), None).await?;
        let request = InstallRequest {
            version: published.version,
            granted: published.scopes,
            visible_to: None,
            egress: Vec::new(),
            config: Default::default(),
            subscriptions: None,
        };
        workbench.install(TENANT, "admin", &format!("scale-{p:02}"), request).await?;
    }
    for k in 0..scale.consenting {
        let plugin = format!("scale-{:02}", k as usize % scale.plugins);
        workbench
            .consent(TENANT, &member(k), &plugin, &[Scope::UserId, Scope::UserName], &[], &Default::default())
            .await?;
    }
    println!(
        "[{db}] seeded {} members, {} plugins, {} consents in {:.1} s",
        scale.members,
        scale.plugins,
        scale.consenting,
        started.elapsed().as_secs_f64()
    );
    println!(
        "| db | audit records | invoke p50 ms | invoke p99 ms | audit page 1 ms | deep cursor ms | by subject ms | by plugin ms | denied only ms | last day ms | rare action ms | access log ms | stats 30 d, one plugin p50 / p99 ms | stats 30 d, all p50 / p99 ms |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut appended: u64 = 0;
    let mut marks: Vec<u64> = vec![scale.records / 100, scale.records / 10, scale.records];
    marks.dedup();
    if scale.purge_only {
        marks.clear();
    }
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64;
    let span_ms: i64 = 365 * 24 * 3600 * 1000;
    for mark in marks {
        // Records spread over a year before now, across members and plugins;
        // one in a hundred is a denial.
        while appended < mark {
            let batch = (mark - appended).min(1000);
            let events = (appended..appended + batch)
                .map(|n| {
                    let denied = n % 100 == 0;
                    // One record in 100,000 has a rare action, for the
                    // query of a rare action (it must not walk the tenant).
                    let action = if n % 100_000 == 5_000 { Action::PluginUpgrade } else { Action::Read };
                    AuditEvent {
                        tenant: TENANT.into(),
                        ts_ms: now_ms - span_ms + (n as i64 * span_ms / scale.records.max(1) as i64),
                        actor: format!("plugin:scale-{:02}@1.0.0", n as usize % scale.plugins),
                        subject: Some(member((n * 7919) % scale.members)),
                        action: action.as_str().into(),
                        scope: Some(if n % 2 == 0 { "user.id" } else { "user.name" }.into()),
                        purpose: Some("greet".into()),
                        outcome: if denied { Outcome::Denied } else { Outcome::Allowed },
                        reason: denied.then(|| "no_consent".into()),
                        invocation: Some(format!("scale-{n}")),
                        egress: None,
                    }
                })
                .collect();
            workbench.audit_writer().append(events).await?;
            appended += batch;
        }
        // What autovacuum does after a bulk load (it is off on some
        // servers, this machine's included): current statistics.
        if let Some(schema) = schema {
            xtask::psql(&format!("ANALYZE {schema}.audit_records"))?;
        }
        // Invoke: 200 calls by consenting members, after 20 to warm up.
        let mut times = Vec::new();
        for i in 0..220u64 {
            let k = (i * 37) % scale.consenting;
            let plugin = format!("scale-{:02}", k as usize % scale.plugins);
            let request =
                Request { method: "GET".into(), path: "/".into(), query: String::new(), headers: vec![], body: vec![] };
            let t = Instant::now();
            let done = workbench.invoke(TENANT, &member(k), &plugin, request).await?;
            let elapsed = t.elapsed();
            anyhow::ensure!(done.response.status == 200, "invoke answered {}", done.response.status);
            if i >= 20 {
                times.push(elapsed);
            }
        }
        times.sort();
        // Audit queries: the median of 5 runs each.
        let query = |filter: AuditFilter, after: i64| {
            let workbench = &workbench;
            async move {
                let mut runs = Vec::new();
                for _ in 0..5 {
                    let t = Instant::now();
                    let page = workbench.audit_page(TENANT, &filter, after, 100).await?;
                    runs.push(t.elapsed());
                    anyhow::ensure!(!page.records.is_empty(), "an audit query found nothing");
                }
                runs.sort();
                Ok::<f64, anyhow::Error>(percentile(&runs, 0.5))
            }
        };
        // A member and a plugin that have records, and the last day of records.
        let someone = member(((appended / 2) * 7919) % scale.members);
        let last_ts = now_ms - span_ms + ((appended as i64 - 1) * span_ms / scale.records.max(1) as i64);
        let first = query(AuditFilter::default(), 0).await?;
        let deep = query(AuditFilter::default(), (appended as i64) * 9 / 10).await?;
        let subject = query(AuditFilter { subject: Some(someone.clone()), ..Default::default() }, 0).await?;
        let plugin =
            query(AuditFilter { plugin: Some(format!("scale-{:02}", scale.plugins / 2)), ..Default::default() }, 0)
                .await?;
        let denied = query(AuditFilter { outcome: Some(Outcome::Denied), ..Default::default() }, 0).await?;
        let day = query(AuditFilter { from_ms: Some(last_ts - 3_600_000 * 24), ..Default::default() }, 0).await?;
        let rare = query(AuditFilter { action: Some(Action::PluginUpgrade), ..Default::default() }, 0).await?;
        let access = {
            let mut runs = Vec::new();
            for _ in 0..5 {
                let t = Instant::now();
                workbench.access_log(TENANT, &someone, 0, 100).await?;
                runs.push(t.elapsed());
            }
            runs.sort();
            percentile(&runs, 0.5)
        };
        // The statistics of the last 30 days of records, by day.
        let stats = |plugin: Option<String>| {
            let workbench = &workbench;
            let query = StatsQuery {
                from_ms: (last_ts - 30 * 24 * 3_600_000) / 3_600_000 * 3_600_000,
                to_ms: (last_ts / 3_600_000 + 1) * 3_600_000,
                bucket: Bucket::Day,
                zone: "Asia/Shanghai".parse().expect("zone"),
                plugin,
                member: None,
                action: None,
            };
            async move {
                let mut runs = Vec::new();
                for _ in 0..50 {
                    let t = Instant::now();
                    let answer = workbench.audit_stats(TENANT, &query).await?;
                    runs.push(t.elapsed());
                    anyhow::ensure!(!answer.rows.is_empty(), "the statistics found nothing");
                }
                runs.sort();
                Ok::<(f64, f64), anyhow::Error>((percentile(&runs, 0.5), percentile(&runs, 0.99)))
            }
        };
        let (one_50, one_99) = stats(Some(format!("scale-{:02}", scale.plugins / 2))).await?;
        let (all_50, all_99) = stats(None).await?;
        println!(
            "| {db} | {appended} | {:.2} | {:.2} | {first:.2} | {deep:.2} | {subject:.2} | {plugin:.2} | {denied:.2} | {day:.2} | {rare:.2} | {access:.2} | {one_50:.2} / {one_99:.2} | {all_50:.2} / {all_99:.2} |",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
        );
    }
    // The retention purge: a second tenant's records spread over the past
    // year (as many as the first tenant's; its chain starts with them, as a
    // tenant's does after a year of use) lose those older than half a year,
    // with invoke latency in the first tenant at 8 concurrent callers
    // measured before it and while it runs.
    let mut old: u64 = 0;
    while old < scale.records {
        let batch = (scale.records - old).min(1000);
        let events = (old..old + batch)
            .map(|n| AuditEvent {
                ts_ms: now_ms - span_ms + (n as i64 * span_ms / scale.records.max(1) as i64),
                subject: Some(member(n % scale.members)),
                scope: Some("user.name".into()),
                invocation: Some(format!("old-{n}")),
                ..AuditEvent::new(PURGED, "plugin:scale-00@1.0.0".into(), Action::Read, Outcome::Allowed)
            })
            .collect();
        workbench.audit_writer().append(events).await?;
        old += batch;
    }
    if let Some(schema) = schema {
        xtask::psql(&format!("ANALYZE {schema}.audit_records"))?;
    }
    let workbench = Arc::new(workbench);
    let (quiet, _) = invoke_at_8(&workbench, scale, None).await?;
    let purge = {
        let workbench = Arc::clone(&workbench);
        let as_of = now_ms - 182 * 24 * 3_600_000 + i64::from(config.retention.audit_floor_days) * 24 * 3_600_000;
        tokio::spawn(async move {
            let t = Instant::now();
            let reports = workbench.purge(as_of).await?.unwrap_or_default();
            let deleted: u64 = reports.iter().map(|r| r.audit_records_deleted).sum();
            Ok::<_, anyhow::Error>((deleted, t.elapsed()))
        })
    };
    let (busy, calls) = invoke_at_8(&workbench, scale, Some(&purge)).await?;
    let (deleted, took) = purge.await??;
    println!(
        "\n| db | records purged | purge s | records/s | invoke p99 at 8, quiet ms | invoke p99 at 8, during the purge ms (calls) |\n|---|---|---|---|---|---|\n| {db} | {deleted} | {:.1} | {:.0} | {quiet:.2} | {busy:.2} ({calls}) |",
        took.as_secs_f64(),
        deleted as f64 / took.as_secs_f64().max(1e-9)
    );
    let verified = workbench.verify_audit(Some(PURGED)).await?;
    anyhow::ensure!(verified.iter().all(|r| r.ok()), "the chain verifies after the purge: {verified:?}");
    drop(workbench);
    let _ = tokio::time::timeout(Duration::from_secs(30), writer).await;
    Ok(())
}

/// p99 (ms) and count of invokes by 8 concurrent callers: for 10 s, or
/// while `until` runs.
async fn invoke_at_8(
    workbench: &Arc<Workbench>,
    scale: &Scale,
    until: Option<&tokio::task::JoinHandle<anyhow::Result<(u64, Duration)>>>,
) -> anyhow::Result<(f64, usize)> {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let callers: Vec<_> = (0..8u64)
        .map(|c| {
            let (workbench, stop, consenting, plugins) =
                (Arc::clone(workbench), Arc::clone(&stop), scale.consenting, scale.plugins);
            tokio::spawn(async move {
                let mut times = Vec::new();
                let mut i = c;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let k = (i * 37) % consenting;
                    let plugin = format!("scale-{:02}", k as usize % plugins);
                    let request = Request {
                        method: "GET".into(),
                        path: "/".into(),
                        query: String::new(),
                        headers: vec![],
                        body: vec![],
                    };
                    let t = Instant::now();
                    workbench.invoke(TENANT, &member(k), &plugin, request).await?;
                    times.push(t.elapsed());
                    i += 8;
                }
                Ok::<_, anyhow::Error>(times)
            })
        })
        .collect();
    match until {
        Some(task) => {
            while !task.is_finished() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        None => tokio::time::sleep(Duration::from_secs(10)).await,
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut times = Vec::new();
    for caller in callers {
        times.extend(caller.await??);
    }
    times.sort();
    Ok((percentile(&times, 0.99), times.len()))
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes --bench; nothing else is read from the command line.
    let scale = Scale {
        members: env("SCALE_MEMBERS", 100_000),
        plugins: env("SCALE_PLUGINS", 50) as usize,
        records: env("SCALE_RECORDS", 10_000_000),
        consenting: env("SCALE_CONSENTING", 1_000),
        purge_only: std::env::var("SCALE_PHASES").is_ok_and(|p| p == "purge"),
    };
    anyhow::ensure!(
        scale.members >= scale.consenting && scale.plugins > 0,
        "SCALE_MEMBERS must be >= SCALE_CONSENTING"
    );
    let dbs: Vec<String> = match std::env::var("SCALE_DB").as_deref() {
        Ok("sqlite") => vec!["sqlite".into()],
        Ok("postgres") => vec!["postgres".into()],
        _ => vec!["sqlite".into(), "postgres".into()],
    };
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    for db in dbs {
        tokio.block_on(run(&db, &scale))?;
    }
    Ok(())
}
