//! What runaway plugins cost everyone else: the latency of normal
//! invocations (the demo's daily report for zhang.wei: a name read, an id
//! read, a storage read, three audit records) at a fixed concurrency, first
//! alone, then while other tasks keep invoking the hostile guest's runaway
//! paths (endless loop, memory bomb, endless recursion, 16 MB response),
//! each of which runs into its limit. Production limits; prints p50/p99.
//!
//! `cargo bench -p workbench-host --bench runaway` (`RUNAWAY_SECONDS`, default
//! 10, sets each phase's length; `RUNAWAY_TASKS`, default 2, the runaway tasks).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use workbench_host::config::Config;
use workbench_host::demo;
use workbench_host::runtime::Request;
use workbench_host::scope::Scope;
use workbench_host::service::Workbench;
use workbench_host::service::admin::InstallRequest;

const NORMAL_TASKS: usize = 8;
const RUNAWAY_PATHS: [&str; 4] = ["/loop", "/memory", "/recurse", "/huge-response"];

fn hostile_manifest() -> String {
    let mut text = String::from(
        "id = \"hostile\"\nname = \"Hostile\"\nversion = \"0.1.0\"\n[developer]\nname = \"Mallory\"\ncontact = \"m@evil.example\"\n",
    );
    for scope in Scope::ALL {
        text.push_str(&format!("[[scopes]]\nscope = \"{scope}\"\npurpose = \"probe {scope}\"\n"));
    }
    text
}

fn request(path: &str) -> Request {
    Request { method: "GET".into(), path: path.into(), query: String::new(), headers: vec![], body: vec![] }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Runs the normal load for `length`; returns the sorted latencies and the failures.
async fn normal_load(workbench: &Arc<Workbench>, length: Duration) -> (Vec<Duration>, usize) {
    let until = Instant::now() + length;
    let tasks: Vec<_> = (0..NORMAL_TASKS)
        .map(|_| {
            let workbench = Arc::clone(workbench);
            tokio::spawn(async move {
                let (mut latencies, mut failures) = (Vec::new(), 0);
                while Instant::now() < until {
                    let started = Instant::now();
                    let result =
                        workbench.invoke(demo::TENANT, "zhang.wei", "site-daily-report", request("/report.json")).await;
                    match result {
                        Ok(_) => latencies.push(started.elapsed()),
                        Err(_) => failures += 1,
                    }
                }
                (latencies, failures)
            })
        })
        .collect();
    let (mut all, mut failures) = (Vec::new(), 0);
    for task in tasks {
        let (latencies, failed) = task.await.expect("task");
        all.extend(latencies);
        failures += failed;
    }
    all.sort();
    (all, failures)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn report(label: &str, latencies: &[Duration], failures: usize, length: Duration) {
    println!(
        "{label:<34} {:>8} calls {:>8.0} calls/s  p50 {:>9.2?}  p99 {:>9.2?}  max {:>9.2?}  failures {failures}",
        latencies.len(),
        latencies.len() as f64 / length.as_secs_f64(),
        percentile(latencies, 50.0),
        percentile(latencies, 99.0),
        latencies.last().copied().unwrap_or_default(),
    );
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that does not name us skips the run.
    if std::env::args().skip(1).any(|a| !a.starts_with("--") && !"runaway".contains(a.as_str())) {
        return;
    }
    let length = Duration::from_secs(env_number("RUNAWAY_SECONDS", 10));
    let runaway_tasks = env_number("RUNAWAY_TASKS", 2) as usize;
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    tokio.block_on(async {
        let guests = xtask::guests();
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config { data_dir: dir.path().to_owned(), ..Config::default() };
        let (workbench, _writer) = Workbench::open(&config).await.expect("host starts");
        let components = guests.component("noop").parent().expect("component dir").to_owned();
        demo::seed(&workbench, &xtask::repo_root().join("plugins"), &components).await.expect("demo seeds");
        demo::consent(&workbench).await.expect("demo consents");
        let hostile = std::fs::read(guests.component("hostile")).expect("hostile built");
        workbench.publish(demo::TENANT, "mallory", &hostile_manifest(), hostile, None).await.expect("publishes");
        let install = InstallRequest { version: "0.1.0".into(), granted: vec![Scope::Storage], visible_to: None };
        workbench.install(demo::TENANT, "admin", "hostile", install).await.expect("installs");
        let workbench = Arc::new(workbench);
        let limits = config.runtime.clone();
        println!(
            "limits: deadline {} ms, memory {} MiB, stack {} KiB, response {} KiB; {NORMAL_TASKS} normal tasks, \
             {runaway_tasks} runaway tasks, {} s per phase",
            limits.deadline_ms,
            limits.memory_bytes >> 20,
            limits.max_wasm_stack >> 10,
            limits.response_bytes >> 10,
            length.as_secs()
        );

        // Warm up (compiled code, pool slots, SQLite pages).
        let _ = normal_load(&workbench, Duration::from_secs(1)).await;

        let (alone, failed_alone) = normal_load(&workbench, length).await;
        report("normal calls alone", &alone, failed_alone, length);

        let stop = Arc::new(AtomicBool::new(false));
        let runaways: Vec<_> = (0..runaway_tasks)
            .map(|task| {
                let (workbench, stop) = (Arc::clone(&workbench), Arc::clone(&stop));
                tokio::spawn(async move {
                    let mut trapped = 0usize;
                    let mut next = task;
                    while !stop.load(Ordering::Relaxed) {
                        let path = RUNAWAY_PATHS[next % RUNAWAY_PATHS.len()];
                        next += 1;
                        let result = workbench.invoke(demo::TENANT, "zhang.wei", "hostile", request(path)).await;
                        assert!(result.is_err(), "{path} must hit its limit");
                        trapped += 1;
                    }
                    trapped
                })
            })
            .collect();
        let (contended, failed_contended) = normal_load(&workbench, length).await;
        stop.store(true, Ordering::Relaxed);
        let mut trapped = 0;
        for task in runaways {
            trapped += task.await.expect("runaway task");
        }
        report("normal calls beside runaways", &contended, failed_contended, length);
        println!("runaway invocations stopped by their limits: {trapped}");
        let ratio = |p| percentile(&contended, p).as_secs_f64() / percentile(&alone, p).as_secs_f64().max(1e-9);
        println!("p50 ratio (beside / alone): {:.2}; p99 ratio: {:.2}", ratio(50.0), ratio(99.0));
    });
}
