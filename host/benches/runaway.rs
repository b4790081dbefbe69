//! What runaway and waiting plugins cost everyone else: the latency of
//! normal invocations (the demo's daily report for zhang.wei and li.na: a
//! name read, an id read, a storage read, three audit records) at a fixed
//! concurrency, in four phases: alone; beside loopers (one member keeps
//! invoking the hostile guest's runaway paths: endless loop, memory bomb,
//! endless recursion, 16 MB response, each of which runs into its limit);
//! beside sleepers (another member keeps 2 x the pool of calls that sleep
//! through WASI clocks in flight, each cut off at its deadline or refused by
//! admission); beside both. Production limits and shares; the rate limits
//! are raised, since the closed-loop normal callers would run into them.
//! Prints p50/p99, calls/s, failures and the host's peak RSS per phase.
//!
//! `cargo bench -p workbench-host --bench runaway` (`RUNAWAY_SECONDS`, default
//! 10, sets each phase's length; `RUNAWAY_TASKS`, default 2, the looping tasks;
//! `RUNAWAY_TICK_MS` and `RUNAWAY_BUDGET_MS` override `epoch_tick_ms` and
//! `cpu_budget_ms`, to compare settings).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use workbench_host::config::Config;
use workbench_host::demo;
use workbench_host::model::directory::MemberProfile;
use workbench_host::runtime::Request;
use workbench_host::runtime::admission::AdmissionConfig;
use workbench_host::scope::Scope;
use workbench_host::service::ServiceError;
use workbench_host::service::Workbench;
use workbench_host::service::installations::InstallRequest;

const NORMAL_TASKS: usize = 8;
const NORMAL_MEMBERS: [&str; 2] = ["zhang.wei", "li.na"];
const LOOPER: &str = "flood.looper";
const SLEEPER: &str = "flood.sleeper";
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
        .map(|task| {
            let workbench = Arc::clone(workbench);
            tokio::spawn(async move {
                let (mut latencies, mut failures) = (Vec::new(), 0);
                let member = NORMAL_MEMBERS[task % NORMAL_MEMBERS.len()];
                while Instant::now() < until {
                    let started = Instant::now();
                    let result =
                        workbench.invoke(demo::TENANT, member, "site-daily-report", request("/report.json")).await;
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

fn report(label: &str, latencies: &[Duration], failures: usize, length: Duration, rss: u64) {
    println!(
        "{label:<30} {:>8} calls {:>8.0} calls/s  p50 {:>9.2?}  p99 {:>9.2?}  max {:>9.2?}  failures {failures}  \
         peak RSS {} MiB",
        latencies.len(),
        latencies.len() as f64 / length.as_secs_f64(),
        percentile(latencies, 50.0),
        percentile(latencies, 99.0),
        latencies.last().copied().unwrap_or_default(),
        rss >> 20,
    );
}

/// The process's resident set now, bytes (`VmRSS`).
fn rss_now() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// Samples the resident set every 20 ms until `stop`; returns the peak.
fn sample_rss(stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut peak = rss_now();
        while !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(20)).await;
            peak = peak.max(rss_now());
        }
        peak
    })
}

/// What the flooding members did in a phase.
#[derive(Debug, Default)]
struct Flood {
    trapped: usize,
    refused: usize,
}

/// Starts `tasks` tasks that invoke `paths` of the hostile guest as `member`
/// in a loop until `stop`; each call must end in a trap or a refusal.
fn flood(
    workbench: &Arc<Workbench>,
    member: &'static str,
    tasks: usize,
    paths: &'static [&'static str],
    stop: &Arc<AtomicBool>,
) -> Vec<tokio::task::JoinHandle<Flood>> {
    (0..tasks)
        .map(|task| {
            let (workbench, stop) = (Arc::clone(workbench), Arc::clone(stop));
            tokio::spawn(async move {
                let mut flood = Flood::default();
                let mut next = task;
                while !stop.load(Ordering::Relaxed) {
                    let path = paths[next % paths.len()];
                    next += 1;
                    let (path, query) = path.split_once('?').unwrap_or((path, ""));
                    let request = Request { query: query.into(), ..request(path) };
                    match workbench.invoke(demo::TENANT, member, "hostile", request).await {
                        Ok(_) => panic!("{path} must hit its limit"),
                        Err(ServiceError::Refused(_)) => {
                            flood.refused += 1;
                            // A refused caller that retries at once is a
                            // busy loop; a real one waits (Retry-After).
                            tokio::time::sleep(Duration::from_millis(50)).await;
                        }
                        Err(_) => flood.trapped += 1,
                    }
                }
                flood
            })
        })
        .collect()
}

/// One phase: the normal load beside the given floods.
async fn phase(
    workbench: &Arc<Workbench>,
    label: &str,
    length: Duration,
    loopers: usize,
    sleepers: usize,
) -> Vec<Duration> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut floods = flood(workbench, LOOPER, loopers, &RUNAWAY_PATHS, &stop);
    floods.extend(flood(workbench, SLEEPER, sleepers, &["/sleep?ms=30000"], &stop));
    let stop_sampling = Arc::new(AtomicBool::new(false));
    let rss = sample_rss(Arc::clone(&stop_sampling));
    let (latencies, failures) = normal_load(workbench, length).await;
    stop.store(true, Ordering::Relaxed);
    let mut total = Flood::default();
    for task in floods {
        let done = task.await.expect("flood task");
        total.trapped += done.trapped;
        total.refused += done.refused;
    }
    stop_sampling.store(true, Ordering::Relaxed);
    let peak = rss.await.expect("sampler");
    report(label, &latencies, failures, length, peak);
    if loopers + sleepers > 0 {
        println!("{:<30} flooding calls stopped by their limits: {}, refused: {}", "", total.trapped, total.refused);
    }
    latencies
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
        let admission = AdmissionConfig {
            member_rate_per_sec: 1_000_000,
            member_burst: 1_000_000,
            tenant_rate_per_sec: 1_000_000,
            tenant_burst: 1_000_000,
            ..AdmissionConfig::default()
        };
        let mut config = Config { data_dir: dir.path().to_owned(), admission, ..Config::default() };
        config.runtime.epoch_tick_ms = env_number("RUNAWAY_TICK_MS", config.runtime.epoch_tick_ms);
        config.runtime.cpu_budget_ms = env_number("RUNAWAY_BUDGET_MS", config.runtime.cpu_budget_ms);
        let (workbench, _writer) = Workbench::open(&config).await.expect("host starts");
        let components = guests.component("noop").parent().expect("component dir").to_owned();
        demo::seed(&workbench, &xtask::repo_root().join("plugins"), &components).await.expect("demo seeds");
        let hostile = std::fs::read(guests.component("hostile")).expect("hostile built");
        workbench.publish(demo::TENANT, "mallory", &hostile_manifest(), hostile, None).await.expect("publishes");
        let install = InstallRequest { version: "0.1.0".into(), granted: vec![Scope::Storage], visible_to: None, egress: Vec::new(), config: Default::default(), subscriptions: None };
        workbench.install(demo::TENANT, "admin", "hostile", install).await.expect("installs");
        let runaways: Vec<_> =
            [LOOPER, SLEEPER].map(|m| (m, MemberProfile { name: m.into(), ..MemberProfile::default() })).into();
        workbench.sync_directory(demo::TENANT, demo::TENANT_NAME, &runaways).await.expect("members");
        let workbench = Arc::new(workbench);
        let limits = config.runtime.clone();
        let admission = workbench.admission();
        println!(
            "limits: deadline {} ms, tick {} ms, budget {} ms, memory {} MiB, stack {} KiB, response {} KiB; {} slots at once (budget {} MiB), \
             {} per member; {NORMAL_TASKS} normal tasks, {runaway_tasks} looping tasks, {} sleeping tasks, {} s per phase",
            limits.deadline_ms,
            limits.epoch_tick_ms,
            limits.cpu_budget_ms,
            limits.memory_bytes >> 20,
            limits.max_wasm_stack >> 10,
            limits.response_bytes >> 10,
            admission.slots(),
            admission.config().memory_budget_bytes >> 20,
            admission.config().per_member,
            2 * limits.max_concurrent_instances,
            length.as_secs()
        );

        // Warm up (compiled code, pool slots, SQLite pages).
        let _ = normal_load(&workbench, Duration::from_secs(1)).await;

        let sleepers = 2 * limits.max_concurrent_instances as usize;
        let alone = phase(&workbench, "normal calls alone", length, 0, 0).await;
        let loopers = phase(&workbench, "beside loopers", length, runaway_tasks, 0).await;
        let sleeping = phase(&workbench, "beside sleepers", length, 0, sleepers).await;
        let both = phase(&workbench, "beside both", length, runaway_tasks, sleepers).await;
        for (label, contended) in [("loopers", &loopers), ("sleepers", &sleeping), ("both", &both)] {
            let ratio = |p| percentile(contended, p).as_secs_f64() / percentile(&alone, p).as_secs_f64().max(1e-9);
            println!("beside {label:<9} p50 ratio (beside / alone) {:.2}; p99 ratio {:.2}", ratio(50.0), ratio(99.0));
        }
    });
}
