//! An invocation that writes storage, end to end in the service (no HTTP):
//! 工程日报 saves a report (one field read, one storage write, each with its
//! record), 1, 8 and 32 calls at once, on embedded SQLite. The write is
//! committed in the audit writer's batch with its record, so this is what
//! atomicity costs (or saves) against a write in its own transaction.
//!
//! `cargo bench -p workbench-host --bench records`

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use workbench_host::config::Config;
use workbench_host::demo;
use workbench_host::runtime::Request;
use workbench_host::service::Workbench;

fn invoke_with_a_storage_write(c: &mut Criterion) {
    let guests = xtask::guests();
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = Config { data_dir: dir.path().to_owned(), ..Default::default() };
    // One member calls as fast as it can, 32 at once: no rate, room for all.
    config.admission.member_rate_per_sec = u32::MAX;
    config.admission.member_burst = u32::MAX;
    config.admission.tenant_rate_per_sec = u32::MAX;
    config.admission.tenant_burst = u32::MAX;
    config.admission.per_member = 64;
    config.admission.per_plugin = 64;
    let (workbench, _writer) = tokio.block_on(Workbench::open(&config)).expect("opens");
    let workbench = Arc::new(workbench);
    let components = guests.component("noop").parent().expect("component dir").to_owned();
    let plugins = xtask::repo_root().join("plugins");
    tokio.block_on(demo::seed(&workbench, &plugins, &components)).expect("demo seeds");
    let save = Request {
        method: "POST".into(),
        path: "/".into(),
        query: String::new(),
        headers: vec![],
        body: "text=%E6%B5%8B%E8%AF%95".into(),
    };
    let mut group = c.benchmark_group("invoke_storage_write");
    for calls in [1u64, 8, 32] {
        group.throughput(Throughput::Elements(calls));
        group.bench_with_input(BenchmarkId::new("sqlite", calls), &calls, |b, &calls| {
            b.to_async(&tokio).iter(|| async {
                let mut running = tokio::task::JoinSet::new();
                for _ in 0..calls {
                    let (workbench, save) = (Arc::clone(&workbench), save.clone());
                    running.spawn(async move {
                        workbench.invoke(demo::TENANT, "zhang.wei", "site-daily-report", save).await
                    });
                }
                for answer in running.join_all().await {
                    let invoked = answer.expect("saved");
                    assert_eq!(invoked.audit.len(), 2, "a read and a write, each recorded");
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, invoke_with_a_storage_write);
criterion_main!(benches);
