//! Micro-benchmarks of the host's hot path (see docs/BENCHMARKS.md):
//! gate decision, JWT validation, instantiate + call of SDK plugins from a
//! prepared component, one field read through the host import, a hit of the
//! invocation-context cache, and durable, hash-chained audit appends on
//! SQLite and PostgreSQL.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use workbench_host::audit::{AuditWriter, chain};
use workbench_host::gate;
use workbench_host::model::audit::{AuditEvent, Outcome};
use workbench_host::model::consent::{Consent, ConsentSet, PurposeDigest};
use workbench_host::model::directory::MemberProfile;
use workbench_host::model::manifest::Manifest;
use workbench_host::openid::OpenIdKey;
use workbench_host::runtime::{CallContext, Entry, HostServices, Request, Runtime, RuntimeConfig, RuntimeLimits};
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
                purpose: PurposeDigest::of_text(&declaration.purpose),
                separate: true,
                granted_at_ms: 0,
                expires_at_ms: None,
                withdrawn_at_ms: None,
            },
        );
    }
    set
}

/// A call of member `m` of tenant `t` with every declared scope granted and
/// consented, and `profile` passed in, as an invocation does with the
/// profile its context read (a caller that passes none pays a store read,
/// `store/member_profile_sqlite`).
fn call_context(manifest: Arc<Manifest>, profile: MemberProfile) -> CallContext {
    CallContext {
        tenant: "t".into(),
        member: "m".into(),
        policy: Arc::new(manifest.policy(manifest.declared(), &[])),
        consents: Arc::new(consents(&manifest)),
        actor: format!("plugin:{}", manifest.reference()),
        manifest,
        invocation: "bench".into(),
        now_ms: 1,
        profile: Some(Arc::new(profile)),
        egress: Arc::from([]),
        config: Default::default(),
        changes: 0,
        nobody: false,
    }
}

/// An audit writer on `store` (its storage changes are applied there).
fn writer(tokio: &tokio::runtime::Runtime, store: Arc<SqlStore>) -> AuditWriter {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    tokio.block_on(async { AuditWriter::spawn(store, key, Default::default()).0 })
}

fn gate_decision(c: &mut Criterion) {
    let manifest = Manifest::from_toml(MANIFEST).expect("manifest");
    let policy = manifest.policy(manifest.declared(), &[]);
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
    let audit = writer(&tokio, Arc::clone(&store));
    // The changes the member's set-up made: a call that began before them
    // would read its context again (and find no installation of "bench").
    let changes = store.tenant_changes("t");
    let services =
        HostServices { store, open_ids: OpenIdKey::new([9; 32]), limits: Arc::new(RuntimeLimits::default()), audit };
    let manifest = Arc::new(Manifest::from_toml(MANIFEST).expect("manifest"));
    let call = CallContext {
        changes,
        ..call_context(manifest, MemberProfile { name: "张伟".into(), ..Default::default() })
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
                let outcome = runtime.call(&pre, call.clone(), services.clone(), Entry::Request(request.clone())).await;
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
            let outcome = runtime.call(&pre, call.clone(), services.clone(), Entry::Request(reads.clone())).await;
            assert!(outcome.result.is_ok());
            assert_eq!(outcome.audit.len(), READS as usize + 2);
            outcome
        })
    });
    group.finish();
}

/// The plugins `workbench plugin new` makes (Rust and Python), built by
/// `workbench plugin build`. `template/LANG/instantiate_call`: instantiate
/// and call from the prepared component, no host call (the handler answers
/// not found); `template/LANG/invoke`: the whole invocation of
/// `/visits.json` on the service over SQLite (context, gate, the name, a
/// storage get and set, three audit records made durable).
fn templates(c: &mut Criterion) {
    use workbench_host::service::Workbench;
    use workbench_host::service::installations::InstallRequest;

    let templates = xtask::template_plugins();
    let tokio = tokio::runtime::Runtime::new().expect("tokio");
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = workbench_host::config::Config { data_dir: dir.path().to_owned(), ..Default::default() };
    // One member calls as fast as it can: no rate limit.
    config.admission.member_rate_per_sec = u32::MAX;
    config.admission.member_burst = u32::MAX;
    config.admission.tenant_rate_per_sec = u32::MAX;
    config.admission.tenant_burst = u32::MAX;
    let (workbench, _writer) = tokio.block_on(Workbench::open(&config)).expect("opens");
    let profile = MemberProfile { name: "张伟".into(), ..Default::default() };
    tokio.block_on(workbench.sync_directory("t", "T", &[("m", profile.clone())])).expect("directory");
    let runtime = Runtime::new(&RuntimeConfig::default()).expect("runtime");
    let store = Arc::new(tokio.block_on(SqlStore::open_sqlite(&dir.path().join("other.db"))).expect("sqlite"));
    let services = HostServices {
        audit: writer(&tokio, Arc::clone(&store)),
        store,
        open_ids: OpenIdKey::new([9; 32]),
        limits: Arc::new(RuntimeLimits::default()),
    };
    let mut group = c.benchmark_group("template");
    for (language, component) in templates.components() {
        let project = component.parent().and_then(|p| p.parent()).expect("the project");
        let text = std::fs::read_to_string(project.join("plugin.toml")).expect("manifest");
        let manifest = Arc::new(Manifest::from_toml(&text).expect("manifest"));
        let bytes = std::fs::read(component).expect("built");
        tokio.block_on(async {
            let published = workbench.publish("t", "dev", &text, bytes.clone(), None).await.expect("publishes");
            let install = InstallRequest {
                version: published.version,
                granted: published.scopes,
                visible_to: None,
                egress: Vec::new(),
                config: Default::default(),
                subscriptions: None,
            };
            workbench.install("t", "admin", &manifest.id, install).await.expect("installs");
            workbench
                .consent("t", "m", &manifest.id, &[Scope::UserName], &[], &Default::default())
                .await
                .expect("consents");
        });
        let call = call_context(Arc::clone(&manifest), profile.clone());
        let pre = tokio.block_on(runtime.prepare(language, move || bytes)).expect("prepares");
        let get = |path: &str| Request {
            method: "GET".into(),
            path: path.into(),
            query: String::new(),
            headers: vec![],
            body: vec![],
        };
        let nowhere = get("/nowhere");
        group.bench_function(format!("{language}/instantiate_call"), |b| {
            b.to_async(&tokio).iter(|| async {
                let outcome = runtime.call(&pre, call.clone(), services.clone(), Entry::Request(nowhere.clone())).await;
                assert!(outcome.result.is_err(), "not found");
                outcome
            })
        });
        let visits = get("/visits.json");
        group.bench_function(format!("{language}/invoke"), |b| {
            b.to_async(&tokio).iter(|| async {
                let invoked = workbench.invoke("t", "m", &manifest.id, visits.clone()).await.expect("answers");
                assert_eq!(invoked.audit.len(), 3);
                invoked
            })
        });
    }
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
        egress: None,
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
    let keys =
        JwtKeys::load(&workbench_host::config::AuthConfig::default(), || Ok(workbench_host::service::keys::fresh()))
            .expect("keys");
    let token = keys.mint("demo", "zhang.wei", &[Role::Member], std::time::Duration::from_secs(600)).expect("mint");
    c.bench_function("jwt/verify_hs256", |b| b.iter(|| keys.verify_local(black_box(&token)).expect("valid")));
}

/// What a visible range costs when an invocation context is read (a cache
/// miss): everyone, a list of members, and rules over a tree of 200
/// departments four deep with a deny list, for a member of a leaf.
fn visible_range(c: &mut Criterion) {
    use workbench_host::model::departments::{DepartmentTree, VisibleRange};
    let mut departments = Vec::new();
    for a in 0..5 {
        departments.push((format!("d{a}"), None));
        for b in 0..5 {
            departments.push((format!("d{a}.{b}"), Some(format!("d{a}"))));
            for c in 0..7 {
                departments.push((format!("d{a}.{b}.{c}"), Some(format!("d{a}.{b}"))));
                departments.push((format!("d{a}.{b}.{c}.x"), Some(format!("d{a}.{b}.{c}"))));
            }
        }
    }
    let tree = DepartmentTree::new(departments);
    let mine = vec!["d3.2.4.x".to_owned()];
    let everyone = VisibleRange::everyone();
    let listed = VisibleRange::only((0..50).map(|i| format!("member.{i}")).collect());
    let rules = VisibleRange {
        departments: vec!["d1".into(), "d3".into()],
        members: vec!["wang.fang".into()],
        deny_departments: vec!["d3.2.5".into()],
        deny_members: vec!["li.na".into()],
        ..VisibleRange::default()
    };
    let mut group = c.benchmark_group("visible_range");
    group.bench_function("everyone", |b| b.iter(|| black_box(&everyone).admits(black_box("zhang.wei"), &[])));
    group.bench_function("50_members", |b| b.iter(|| black_box(&listed).admits(black_box("member.49"), &[])));
    group.bench_function("departments_with_ancestors", |b| {
        b.iter(|| black_box(&rules).admits(black_box("zhang.wei"), &tree.with_ancestors(black_box(&mine))))
    });
    group.finish();
}

/// What the key history, anchors and receipts cost a verifier: a
/// checkpoint checked through a three-key history, an anchor, and a consent
/// receipt signed and checked.
fn audit_keys(c: &mut Criterion) {
    use ed25519_dalek::SigningKey;
    use workbench_host::audit::chain;
    use workbench_host::audit::keyring::{self, KeyRing};
    use workbench_host::model::audit::Head;
    use workbench_host::model::receipts::{ConsentReceipt, RECEIPT_FORMAT, ReceiptScope};
    let keys: Vec<SigningKey> = (1..=3u8).map(|n| SigningKey::from_bytes(&[n; 32])).collect();
    let history = vec![keyring::hand_over(&keys[0], &keys[1], 1), keyring::hand_over(&keys[1], &keys[2], 2)];
    let head = Head { seq: 42, hash: [7; 32] };
    let old_checkpoint = chain::sign_checkpoint(&keys[0], "demo", head, 1);
    let anchor = keyring::sign_anchor(&keys[2], "demo", head, 1);
    let receipt = ConsentReceipt {
        format: RECEIPT_FORMAT.into(),
        tenant: "demo".into(),
        member: "zhang.wei".into(),
        action: "consent.grant".into(),
        plugin: "site-daily-report".into(),
        plugin_name: "工程日报".into(),
        plugin_version: "0.1.0".into(),
        recipient: "Acme 软件有限公司".into(),
        recipient_contact: "plugins@acme.example".into(),
        language: Some("zh".into()),
        scopes: vec![ReceiptScope {
            scope: "user.name".into(),
            field: "name".into(),
            purpose: "在日报上写明填报人的姓名。".into(),
            sensitive: false,
            expires_at_ms: None,
        }],
        destinations: Vec::new(),
        policy_digest: "0".repeat(64),
        issued_at_ms: 1,
        audit_seq: 42,
    };
    let signed = keyring::sign_receipt(&keys[2], receipt.clone());
    let mut group = c.benchmark_group("audit_keys");
    group.bench_function("ring_from_history", |b| {
        b.iter(|| KeyRing::with_history(black_box(keys[2].verifying_key()), black_box(&history)))
    });
    let ring = KeyRing::with_history(keys[2].verifying_key(), &history);
    group.bench_function("checkpoint_by_an_old_key", |b| b.iter(|| ring.checkpoint(black_box(&old_checkpoint))));
    group.bench_function("anchor", |b| b.iter(|| ring.anchor(black_box(&anchor))));
    group.bench_function("receipt_sign", |b| b.iter(|| keyring::sign_receipt(&keys[2], black_box(receipt.clone()))));
    group.bench_function("receipt_verify", |b| b.iter(|| ring.receipt(black_box(&signed))));
    group.finish();
}

criterion_group!(
    benches,
    audit_keys,
    gate_decision,
    visible_range,
    jwt_validation,
    admission,
    deadline_timer,
    instantiate_and_call,
    templates,
    context_cache_hit,
    audit_append,
    audit_append_postgres
);
criterion_main!(benches);
