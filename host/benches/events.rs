//! Events: how many the host accepts per second, durably (each `POST
//! /api/v1/events` is one transaction with its deliveries: the outbox), in
//! batches of 500 and one at a time from 16 senders; how many it delivers
//! per second to a trivial subscriber (the `noop` guest, whose `on_event`
//! does nothing: each delivery is an instance, a call, an `event.deliver`
//! record made durable, and the delivery settled); and at a steady 100
//! events a second, the time from accepting an event to its delivery being
//! settled (which bounds the handler's start from above), p50 and p99.
//! Through the service, no HTTP. Results are printed as a table; see
//! docs/BENCHMARKS.md.
//!
//! `EVENTS_DB=sqlite|postgres|both` (default both).
//!
//! ```text
//! cargo bench -p workbench-host --bench events
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use workbench_host::config::Config;
use workbench_host::demo;
use workbench_host::model::events::DeliveryState;
use workbench_host::service::Workbench;
use workbench_host::service::events::PlatformEvent;
use workbench_host::service::installations::InstallRequest;

const MANIFEST: &str = r#"id = "subscriber"
name = "Subscriber"
version = "1.0.0"
[developer]
name = "Bench"
contact = "bench@example.com"
[[scopes]]
scope = "log"
purpose = "nothing"
[[events]]
kind = "approval.submitted"
purpose = "be told"
"#;

/// Events accepted in the batch phase.
const BATCHED: usize = 20_000;

fn submitted(id: String) -> PlatformEvent {
    PlatformEvent {
        payload: serde_json::json!({ "approval_id": id, "process_id": "expense", "title": "差旅报销",
                                     "amount_cents": 120000 }),
        id,
        kind: "approval.submitted".into(),
        subject: "zhang.wei".into(),
        time_ms: None,
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn run(db: &str) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
    config.admission.tenant_rate_per_sec = 1_000_000;
    config.admission.tenant_burst = 1_000_000;
    config.admission.member_rate_per_sec = 1_000_000;
    config.admission.member_burst = 1_000_000;
    config.admission.per_plugin = 64;
    config.events.claim_batch = 64;
    let mut schema = None;
    if db == "postgres" {
        let name = format!("events_{}", std::process::id());
        xtask::psql(&format!("DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"))?;
        config.database_url = Some(format!("{}?options=-c%20search_path%3D{name}", xtask::postgres_url()));
        schema = Some(name);
    }
    let result = measure(db, &config).await;
    if let Some(name) = schema {
        xtask::psql(&format!("DROP SCHEMA {name} CASCADE"))?;
    }
    result
}

/// Waits until `tenant` has no pending delivery; how long that took.
async fn drained(workbench: &Workbench, started: Instant) -> anyhow::Result<Duration> {
    loop {
        let pending = workbench.deliveries(demo::TENANT, Some(DeliveryState::Pending)).await?;
        if pending.is_empty() {
            return Ok(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn measure(db: &str, config: &Config) -> anyhow::Result<()> {
    let (workbench, _writer) = Workbench::open(config).await?;
    let workbench = Arc::new(workbench);
    workbench.sync_directory(demo::TENANT, demo::TENANT_NAME, &demo::members()).await?;
    let component = std::fs::read(xtask::guests().component("noop"))?;
    let published = workbench.publish(demo::TENANT, "bench", MANIFEST, component, None).await?;
    let install = InstallRequest {
        version: published.version,
        granted: published.scopes,
        visible_to: None,
        egress: Vec::new(),
        config: Default::default(),
        subscriptions: None,
    };
    workbench.install(demo::TENANT, "admin", "subscriber", install).await?;

    // Accepted, in batches of 500 from 4 senders, with no worker running.
    let started = Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    for s in 0..4 {
        let workbench = Arc::clone(&workbench);
        senders.spawn(async move {
            for b in 0..BATCHED / 500 / 4 {
                let batch = (0..500).map(|n| submitted(format!("b-{s}-{b}-{n}"))).collect();
                workbench.accept_events(demo::TENANT, batch).await?;
            }
            anyhow::Ok(())
        });
    }
    for sender in senders.join_all().await {
        sender?;
    }
    let batched = BATCHED as f64 / started.elapsed().as_secs_f64();

    // Accepted one at a time, 16 senders, 3 seconds.
    let started = Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    for s in 0..16 {
        let workbench = Arc::clone(&workbench);
        senders.spawn(async move {
            let mut n = 0u64;
            while started.elapsed() < Duration::from_secs(3) {
                workbench.accept_events(demo::TENANT, vec![submitted(format!("o-{s}-{n}"))]).await?;
                n += 1;
            }
            anyhow::Ok(n)
        });
    }
    let mut singles = 0;
    for sender in senders.join_all().await {
        singles += sender?;
    }
    let single = singles as f64 / started.elapsed().as_secs_f64();

    // Delivered: the worker starts with everything above pending.
    let pending = BATCHED as u64 + singles;
    let started = Instant::now();
    let _background = workbench.start_background(config);
    let took = drained(&workbench, started).await?;
    let delivered = pending as f64 / took.as_secs_f64();

    // A steady 100 a second for 10 s: accept to settled.
    let mut ticks = tokio::time::interval(Duration::from_millis(10));
    let mut ids = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        ticks.tick().await;
        let id = format!("s-{}", ids.len());
        workbench.accept_events(demo::TENANT, vec![submitted(id.clone())]).await?;
        ids.push(id);
    }
    drained(&workbench, Instant::now()).await?;
    let latencies = settle_latencies(config, &ids).await?;
    println!(
        "| {db} | {batched:.0} | {single:.0} | {delivered:.0} ({pending} in {:.1} s) | {:.1} | {:.1} | {} |",
        took.as_secs_f64(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.len()
    );
    Ok(())
}

/// Milliseconds from each event's acceptance (`events.occurred_at`, the
/// accept's clock when the platform gives no time) to its delivery's last
/// change (settled `done`), sorted.
async fn settle_latencies(config: &Config, ids: &[String]) -> anyhow::Result<Vec<f64>> {
    sqlx::any::install_default_drivers();
    let url = match &config.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}?mode=ro", config.data_dir.join("workbench.db").display()),
    };
    let pool = sqlx::AnyPool::connect(&url).await?;
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT e.id, e.occurred_at, d.updated_at FROM events e JOIN deliveries d \
         ON d.tenant = e.tenant AND d.event_id = e.id WHERE e.id LIKE 's-%' AND d.state = 'done'",
    )
    .fetch_all(&pool)
    .await?;
    pool.close().await;
    anyhow::ensure!(rows.len() == ids.len(), "{} of {} steady events were delivered", rows.len(), ids.len());
    let mut latencies: Vec<f64> = rows.iter().map(|(_, accepted, settled)| (settled - accepted) as f64).collect();
    latencies.sort_by(f64::total_cmp);
    Ok(latencies)
}

fn main() -> anyhow::Result<()> {
    let which = std::env::var("EVENTS_DB").unwrap_or_else(|_| "both".into());
    let databases: Vec<&str> = match which.as_str() {
        "sqlite" => vec!["sqlite"],
        "postgres" => vec!["postgres"],
        _ => vec!["sqlite", "postgres"],
    };
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    println!(
        "| db | accepted/s, batches of 500 | accepted/s, one at a time (16 senders) | delivered/s | \
         accept → settled p50 ms at 100/s | p99 ms | events |"
    );
    println!("|---|---|---|---|---|---|---|");
    for db in databases {
        tokio.block_on(run(db))?;
    }
    Ok(())
}
