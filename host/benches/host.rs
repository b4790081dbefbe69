//! Micro-benchmarks of the host's hot path (see docs/BENCHMARKS.md):
//! gate decision, JWT validation, instantiate + call of SDK plugins from a
//! prepared component, one field read through the host import, a hit of the
//! invocation-context cache, and durable, hash-chained audit appends on
//! SQLite and PostgreSQL.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use workbench_host::audit::chain;
use workbench_host::gate;
use workbench_host::model::audit::{AuditEvent, Outcome};
use workbench_host::model::consent::{Consent, ConsentSet, PurposeDigest};
use workbench_host::model::directory::MemberProfile;
use workbench_host::model::manifest::Manifest;
use workbench_host::openid::OpenIdKey;
use workbench_host::runtime::{CallContext, HostServices, Request, Runtime, RuntimeConfig, RuntimeLimits};
use workbench_host::scope::Scope;
use workbench_host::store::SqlStore;
use workbench_host::store::{AuditLog, Consents, Directory};

const MANIFEST: &str = r#"
id = "bench"
name = "Bench"
version = "1.0.0"
[developer]
name = "Bench"
contact = "bench@example.com"
[[scopes]]
scope = "user.id"
purpose = "identify"
[[scopes]]
scope = "user.name"
purpose = "greet"
"#;

fn consents(manifest: &Manifest) -> ConsentSet {
    let mut set = ConsentSet::default();
    for declaration in &manifest.scopes {
        set.set(
            declaration.scope,
            Consent {
                purpose: PurposeDigest::of(&declaration.purpose),
                separate: true,
                granted_at_ms: 0,
                expires_at_ms: None,
                withdrawn_at_ms: None,
            },
        );
    }
    set
}

fn gate_decision(c: &mut Criterion) {
    let manifest = Manifest::from_toml(MANIFEST).expect("manifest");
    let policy = manifest.policy(manifest.declared());
    let consents = consents(&manifest);
    let mut group = c.benchmark_group("gate");
    group.bench_function("allowed", |b| {
        b.iter(|| gate::decide(black_box(Scope::UserName), black_box(&policy), black_box(&consents), 1))
    });
    group.bench_function("denied", |b| {
        b.iter(|| gate::decide(black_box(Scope::UserPhone), black_box(&policy), black_box(&consents), 1))
    });
    group.finish();
}

fn instantiate_and_call(c: &mut Criterion) {
    let guests = xtask::guests();
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(tokio.block_on(SqlStore::open_sqlite(&dir.path().join("bench.db"))).expect("sqlite"));
    tokio.block_on(async {
        store.upsert_tenant("t", "T").await.expect("tenant");
        store
            .upsert_member("t", "m", &MemberProfile { name: "张伟".into(), ..Default::default() })
            .await
            .expect("member");
    });
    let runtime = Runtime::new(&RuntimeConfig::default()).expect("runtime");
    let services =
        HostServices { store, open_ids: OpenIdKey::new([9; 32]), limits: Arc::new(RuntimeLimits::default()) };
    let manifest = Arc::new(Manifest::from_toml(MANIFEST).expect("manifest"));
    let call = CallContext {
        tenant: "t".into(),
        member: "m".into(),
        policy: Arc::new(manifest.policy(manifest.declared())),
        consents: Arc::new(consents(&manifest)),
        actor: format!("plugin:{}", manifest.reference()),
        manifest,
        invocation: "bench".into(),
        now_ms: 1,
        // Passed in, as an invocation does with the profile its context read;
        // a caller that passes none pays a store read (store/member_profile_sqlite).
        profile: Some(Arc::new(MemberProfile { name: "张伟".into(), ..Default::default() })),
    };
    let request =
        Request { method: "GET".into(), path: "/".into(), query: String::new(), headers: vec![], body: vec![] };
    c.bench_function("store/member_profile_sqlite", |b| {
        b.to_async(&tokio).iter(|| async { services.store.member("t", "m").await.expect("member").expect("exists") })
    });
    let mut group = c.benchmark_group("instantiate_call");
    for guest in ["noop", "two-fields"] {
        let bytes = std::fs::read(guests.component(guest)).expect("guest built");
        let pre = tokio.block_on(runtime.prepare(guest, move || bytes)).expect("prepares");
        group.bench_function(guest, |b| {
            b.to_async(&tokio).iter(|| async {
                let outcome = runtime.call(&pre, call.clone(), services.clone(), request.clone()).await;
                assert!(outcome.result.is_ok());
                outcome
            })
        });
    }
    group.finish();
    // One consented field read through the host import: gate decision, one
    // audit event into the call's buffer, the value copied into the guest.
    // Per read: (this - instantiate_call/two-fields) / READS.
    const READS: u64 = 500;
    let bytes = std::fs::read(guests.component("two-fields")).expect("guest built");
    let pre = tokio.block_on(runtime.prepare("two-fields", move || bytes)).expect("prepares");
    let reads = Request { query: format!("reads={READS}"), ..request.clone() };
    let mut group = c.benchmark_group("field_read");
    group.throughput(Throughput::Elements(READS));
    group.bench_function("two-fields+500_reads", |b| {
        b.to_async(&tokio).iter(|| async {
            let outcome = runtime.call(&pre, call.clone(), services.clone(), reads.clone()).await;
            assert!(outcome.result.is_ok());
            assert_eq!(outcome.audit.len(), READS as usize + 2);
            outcome
        })
    });
    group.finish();
}

/// The invocation context (directory, installation, consents) from the
/// cache, valid while the tenant's generation holds: SQLite keeps the
/// generation in memory, PostgreSQL reads it (one primary-key read, batched
/// with the reads of calls made at the same time).
fn context_cache_hit(c: &mut Criterion) {
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let dir = tempfile::tempdir().expect("tempdir");
    let sqlite = tokio.block_on(SqlStore::open_sqlite(&dir.path().join("context.db"))).expect("sqlite");
    let (postgres, cleanup) = postgres_store(&tokio);
    let mut group = c.benchmark_group("context_cache_hit");
    for (name, store) in [("sqlite", &sqlite), ("postgres", &postgres)] {
        tokio.block_on(async {
            store.upsert_tenant("t", "T").await.expect("tenant");
            let profile = MemberProfile { name: "张伟".into(), ..Default::default() };
            store.upsert_member("t", "m", &profile).await.expect("member");
            store.invocation_context("t", "m", "p").await.expect("first read")
        });
        group.bench_function(name, |b| {
            b.to_async(&tokio).iter(|| async { store.invocation_context("t", "m", "p").await.expect("context") })
        });
    }
    // 32 calls at once: on PostgreSQL their generation reads share queries.
    group.throughput(Throughput::Elements(32));
    group.bench_function("postgres/32_at_once", |b| {
        b.to_async(&tokio).iter(|| async {
            let calls: Vec<_> = (0..32)
                .map(|_| {
                    let store = postgres.clone();
                    tokio::spawn(async move { store.invocation_context("t", "m", "p").await.expect("context") })
                })
                .collect();
            for call in calls {
                call.await.expect("task");
            }
        })
    });
    group.finish();
    cleanup(&tokio);
}

/// A store on PostgreSQL (`WORKBENCH_TEST_POSTGRES`, default the local
/// `test` database) in a fresh schema, and what drops the schema.
fn postgres_store(tokio: &tokio::runtime::Runtime) -> (SqlStore, impl FnOnce(&tokio::runtime::Runtime)) {
    let base =
        std::env::var("WORKBENCH_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let schema = format!("bench_{}_{}", std::process::id(), rand::random::<u32>());
    let admin = tokio.block_on(sqlx::PgPool::connect(&base)).expect("PostgreSQL reachable");
    tokio.block_on(sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin)).expect("schema");
    let url = format!("{base}?options=-c%20search_path%3D{schema}");
    let store = tokio.block_on(SqlStore::connect(&url)).expect("postgres");
    let cleanup = move |tokio: &tokio::runtime::Runtime| {
        tokio.block_on(sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&admin)).expect("drop");
    };
    (store, cleanup)
}

fn audit_event() -> AuditEvent {
    AuditEvent {
        tenant: "t".into(),
        ts_ms: 1,
        actor: "plugin:bench@1.0.0".into(),
        subject: Some("m".into()),
        action: "read".into(),
        scope: Some("user.name".into()),
        purpose: Some("greet".into()),
        outcome: Outcome::Allowed,
        reason: None,
        invocation: Some("01900000-0000-7000-8000-000000000000".into()),
    }
}

/// Durable appends of batches of records to one tenant's chain.
fn bench_append(c: &mut Criterion, name: &str, tokio: &tokio::runtime::Runtime, store: &SqlStore) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    let signer = chain::ChainSigner::new(key);
    let event = audit_event();
    let mut group = c.benchmark_group(name);
    group.sample_size(20);
    for batch in [1usize, 10, 100, 1000] {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::from_parameter(batch), &batch, |b, &batch| {
            b.to_async(tokio)
                .iter(|| async { store.append_audit(vec![event.clone(); batch], &signer).await.expect("append") })
        });
    }
    group.finish();
}

fn audit_append(c: &mut Criterion) {
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = tokio.block_on(SqlStore::open_sqlite(&dir.path().join("audit.db"))).expect("sqlite");
    bench_append(c, "audit_append_sqlite", &tokio, &store);
}

/// The same on PostgreSQL (`WORKBENCH_TEST_POSTGRES`, default the local
/// `test` database), in a fresh schema.
fn audit_append_postgres(c: &mut Criterion) {
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let (store, cleanup) = postgres_store(&tokio);
    bench_append(c, "audit_append_postgres", &tokio, &store);
    cleanup(&tokio);
}

/// Validating a bearer token (HS256, the local key): signature, claims, roles.
/// What admission adds to every call: the rate check (two token buckets)
/// and taking and giving back a slot within the shares, uncontended and
/// with 32 calls of 32 members at once.
fn admission(c: &mut Criterion) {
    use workbench_host::runtime::RuntimeLimits;
    use workbench_host::runtime::admission::{Admission, AdmissionConfig, CallKey};
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let config = AdmissionConfig {
        member_rate_per_sec: u32::MAX,
        member_burst: u32::MAX,
        tenant_rate_per_sec: u32::MAX,
        tenant_burst: u32::MAX,
        ..AdmissionConfig::default()
    };
    let admission = Admission::new(config, &RuntimeLimits::default());
    let mut group = c.benchmark_group("admission");
    group.bench_function("check_rate", |b| b.iter(|| admission.check_rate("demo", "zhang.wei").expect("allowed")));
    // A flooding member's calls are refused on this path.
    let spent = Admission::new(
        AdmissionConfig { member_rate_per_sec: 1, member_burst: 1, ..AdmissionConfig::default() },
        &RuntimeLimits::default(),
    );
    group.bench_function("check_rate/refused", |b| b.iter(|| spent.check_rate("demo", "flood").is_err()));
    group.bench_function("admit_release", |b| {
        b.to_async(&tokio).iter(|| async {
            let permit = admission.admit(CallKey::new("demo", "site-daily-report", "zhang.wei")).await;
            drop(permit.expect("admitted"));
        })
    });
    group.throughput(Throughput::Elements(32));
    group.bench_function("admit_release/32_at_once", |b| {
        b.to_async(&tokio).iter(|| async {
            let calls = (0..32).map(|i| {
                let admission = Arc::clone(&admission);
                tokio::spawn(async move {
                    let key = CallKey::new("demo", "site-daily-report", &format!("member-{i}"));
                    drop(admission.admit(key).await.expect("admitted"));
                })
            });
            for call in calls.collect::<Vec<_>>() {
                call.await.expect("task");
            }
        })
    });
    group.finish();
}

/// What the call's deadline timer adds: `timeout_at` around a future that
/// is done at its first poll (as a call that never waits is), against the
/// bare future, and around one that waits once.
fn deadline_timer(c: &mut Criterion) {
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let mut group = c.benchmark_group("deadline_timer");
    group.bench_function("bare", |b| b.to_async(&tokio).iter(|| async { black_box(std::future::ready(1u64).await) }));
    group.bench_function("ready", |b| {
        b.to_async(&tokio).iter(|| async {
            let at = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
            black_box(tokio::time::timeout_at(at, std::future::ready(1u64)).await.expect("in time"))
        })
    });
    group.bench_function("waits_once", |b| {
        b.to_async(&tokio).iter(|| async {
            let at = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
            tokio::time::timeout_at(at, tokio::task::yield_now()).await.expect("in time");
        })
    });
    group.finish();
}

fn jwt_validation(c: &mut Criterion) {
    use workbench_host::api::auth::JwtKeys;
    use workbench_host::model::directory::Role;
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = JwtKeys::load(&workbench_host::config::AuthConfig::default(), dir.path()).expect("keys");
    let token = keys.mint("demo", "zhang.wei", &[Role::Member], std::time::Duration::from_secs(600)).expect("mint");
    c.bench_function("jwt/verify_hs256", |b| b.iter(|| keys.verify(black_box(&token)).expect("valid")));
}

criterion_group!(
    benches,
    gate_decision,
    jwt_validation,
    admission,
    deadline_timer,
    instantiate_and_call,
    context_cache_hit,
    audit_append,
    audit_append_postgres
);
criterion_main!(benches);
