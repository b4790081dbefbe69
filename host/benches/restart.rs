//! Restart with many installed plugin versions, and the memory an idle,
//! loaded version costs: `RESTART_VERSIONS` (default 100) distinct components
//! (the noop guest, each with its own custom section, so each has its own
//! digest and compiled artifact) are published and installed on SQLite.
//!
//! 1. First calls after publishing: publish compiled each version (filling
//!    the on-disk code cache); its first call loads it into this host. The
//!    process's resident memory is read before and after all are loaded:
//!    the difference per version is what an idle, loaded version costs.
//! 2. Restart: the host is opened again on the same data directory (a new
//!    engine, an empty in-memory cache, the on-disk code cache kept): time to
//!    open, then time until every version has answered its first call.
//!
//! ```text
//! cargo bench -p workbench-host --bench restart
//! ```

use std::time::{Duration, Instant};

use workbench_host::config::Config;
use workbench_host::runtime::Request;
use workbench_host::service::Workbench;
use workbench_host::service::installations::InstallRequest;

const TENANT: &str = "restart";

fn manifest(i: usize) -> String {
    format!(
        "id = \"idle-{i:03}\"\nname = \"Idle {i}\"\nversion = \"1.0.0\"\n[developer]\nname = \"Bench\"\ncontact = \"bench@example.com\"\n"
    )
}

/// The component with a custom section `bench-variant` holding `i`: the same
/// code under another digest.
fn variant(component: &[u8], i: usize) -> Vec<u8> {
    let name = b"bench-variant";
    let payload = (i as u64).to_le_bytes();
    let size = 1 + name.len() + payload.len();
    let mut bytes = component.to_vec();
    bytes.push(0); // custom section
    bytes.push(u8::try_from(size).expect("small section"));
    bytes.push(u8::try_from(name.len()).expect("short name"));
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(&payload);
    bytes
}

/// Resident memory of this process, KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn request() -> Request {
    Request { method: "GET".into(), path: "/".into(), query: String::new(), headers: vec![], body: vec![] }
}

/// Calls every version once; the time of each first call.
async fn first_calls(workbench: &Workbench, versions: usize) -> anyhow::Result<Vec<Duration>> {
    let mut times = Vec::with_capacity(versions);
    for i in 0..versions {
        let t = Instant::now();
        let done = workbench.invoke(TENANT, "m", &format!("idle-{i:03}"), request()).await?;
        times.push(t.elapsed());
        anyhow::ensure!(done.response.status == 200, "idle-{i:03} answered {}", done.response.status);
    }
    Ok(times)
}

fn summary(times: &mut [Duration]) -> String {
    times.sort();
    let total: Duration = times.iter().sum();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "total {:.0} ms, first call p50 {:.2} ms, max {:.2} ms",
        ms(total),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    )
}

async fn run(versions: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = Config { data_dir: dir.path().to_path_buf(), ..Config::default() };
    let component = std::fs::read(xtask::guests().component("noop"))?;
    {
        let (workbench, writer) = Workbench::open(&config).await?;
        let profile = workbench_host::model::directory::MemberProfile { name: "M".into(), ..Default::default() };
        workbench.sync_directory(TENANT, "Restart", &[("m", profile)]).await?;
        for i in 0..versions {
            let published = workbench.publish(TENANT, "dev", &manifest(i), variant(&component, i), None).await?;
            let request = InstallRequest {
                version: published.version,
                granted: published.scopes,
                visible_to: None,
                egress: Vec::new(),
                config: Default::default(),
                subscriptions: None,
            };
            workbench.install(TENANT, "admin", &format!("idle-{i:03}"), request).await?;
        }
        // One call to a version outside the count, so that the engine's
        // pools and the host's first-call costs are not charged to the rest.
        let warm = variant(&component, versions);
        let published = workbench.publish(TENANT, "dev", &manifest(versions), warm, None).await?;
        let install = InstallRequest {
            version: published.version,
            granted: published.scopes,
            visible_to: None,
            egress: Vec::new(),
            config: Default::default(),
            subscriptions: None,
        };
        workbench.install(TENANT, "admin", &format!("idle-{versions:03}"), install).await?;
        workbench.invoke(TENANT, "m", &format!("idle-{versions:03}"), request()).await?;
        let before = rss_kib();
        let mut cold = first_calls(&workbench, versions).await?;
        let after = rss_kib();
        println!("first calls after publish: {}", summary(&mut cold));
        println!(
            "resident memory: {} MiB before, {} MiB with {versions} more versions loaded: {:.0} KiB per idle version",
            before / 1024,
            after / 1024,
            (after.saturating_sub(before)) as f64 / versions as f64
        );
        drop(workbench);
        writer.await?;
    }
    let started = Instant::now();
    let (workbench, writer) = Workbench::open(&config).await?;
    let opened = started.elapsed();
    let mut warm = first_calls(&workbench, versions).await?;
    let all = started.elapsed();
    println!(
        "restart: open {:.0} ms; every version answered after {:.0} ms ({})",
        opened.as_secs_f64() * 1000.0,
        all.as_secs_f64() * 1000.0,
        summary(&mut warm)
    );
    drop(workbench);
    writer.await?;
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let versions = std::env::var("RESTART_VERSIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let tokio = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    tokio.block_on(run(versions))
}
