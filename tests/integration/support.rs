//! A host on a fresh data dir with the demo company and the test guests.

use std::sync::Arc;

use workbench_host::config::Config;
use workbench_host::demo;
use workbench_host::runtime::admission::AdmissionConfig;
use workbench_host::runtime::{Request, RuntimeLimits};
use workbench_host::scope::Scope;
use workbench_host::service::installations::InstallRequest;
use workbench_host::service::{Invoked, ServiceResult, Workbench};
use workbench_host::store::Store;

use crate::server::{Db, drop_schema, fresh_database};

/// The hostile guest's manifest: it declares every scope.
pub const HOSTILE_MANIFEST: &str = r#"
id = "hostile"
name = "Hostile"
version = "0.1.0"
[developer]
name = "Mallory"
contact = "mallory@evil.example"
[[scopes]]
scope = "user.id"
purpose = "probe the id"
[[scopes]]
scope = "user.avatar"
purpose = "probe the avatar"
[[scopes]]
scope = "user.nickname"
purpose = "probe the nickname"
[[scopes]]
scope = "user.name"
purpose = "probe the name"
[[scopes]]
scope = "user.gender"
purpose = "probe the gender"
[[scopes]]
scope = "user.birthday"
purpose = "probe the birthday"
[[scopes]]
scope = "user.region"
purpose = "probe the region"
[[scopes]]
scope = "user.email"
purpose = "probe the email"
[[scopes]]
scope = "user.phone"
purpose = "probe the phone"
[[scopes]]
scope = "org.department"
purpose = "probe the department"
[[scopes]]
scope = "perm.customer"
purpose = "probe customers"
[[scopes]]
scope = "perm.approval"
purpose = "probe approvals"
[[scopes]]
scope = "storage"
purpose = "probe storage"
[[scopes]]
scope = "log"
purpose = "flood the log"
"#;

/// A running host on its own temporary data dir.
pub struct Host {
    pub workbench: Workbench,
    /// The host's own store, for a test to seed and inspect what the API
    /// does not show.
    pub store: Arc<dyn Store>,
    pub dir: tempfile::TempDir,
    /// Where its data lives.
    pub database_url: String,
    /// The PostgreSQL schema to drop when done.
    pub schema: Option<String>,
    writer: Option<tokio::task::JoinHandle<()>>,
}

/// One compiled-code cache for every host of the suite (the engine's
/// cache is safe to share), so each component compiles once per build.
pub fn shared_code_cache() -> std::path::PathBuf {
    xtask::repo_root().join("target").join("test-code-cache")
}

/// The production shares and queue, with rates no test's load reaches (the
/// rate and flood tests set their own).
pub fn test_admission() -> AdmissionConfig {
    AdmissionConfig {
        member_rate_per_sec: 1_000_000,
        member_burst: 1_000_000,
        tenant_rate_per_sec: 1_000_000,
        tenant_burst: 1_000_000,
        ..AdmissionConfig::default()
    }
}

/// The production limits, with a smaller storage quota and pool, and no
/// throttling before the deadline (the hostile guest's 16 MB response must
/// be built at full speed, however loaded the test machine is).
pub fn test_limits() -> RuntimeLimits {
    RuntimeLimits {
        deadline_ms: 1_000,
        cpu_budget_ms: 1_000,
        storage_bucket_bytes: 256 << 10,
        max_concurrent_instances: 32,
        ..RuntimeLimits::default()
    }
}

impl Host {
    /// The demo company with the example plugins, zhang.wei's and li.na's
    /// consents, and the hostile guest published (not installed).
    pub async fn demo() -> Self {
        Self::demo_on(Db::Sqlite).await
    }

    /// [`Host::demo`] on either database.
    pub async fn demo_on(db: Db) -> Self {
        Self::demo_with(db, test_limits()).await
    }

    /// [`Host::demo_on`] under other limits.
    pub async fn demo_with(db: Db, limits: RuntimeLimits) -> Self {
        Self::demo_admitting(db, limits, test_admission()).await
    }

    /// [`Host::demo_with`] under other shares and rates.
    pub async fn demo_admitting(db: Db, limits: RuntimeLimits, admission: AdmissionConfig) -> Self {
        let guests = xtask::guests();
        let dir = tempfile::tempdir().expect("tempdir");
        let (database_url, schema) = fresh_database(db, dir.path()).await;
        let config = Config {
            data_dir: dir.path().to_owned(),
            database_url: Some(database_url.clone()),
            runtime: limits,
            admission,
            code_cache_dir: Some(shared_code_cache()),
            ..Config::default()
        };
        let store = Workbench::open_store(&config).await.expect("store opens");
        let (workbench, writer) = Workbench::with_store(&config, Arc::clone(&store)).expect("host starts");
        let components = guests.component("noop").parent().expect("component dir").to_owned();
        demo::seed(&workbench, &xtask::repo_root().join("plugins"), &components).await.expect("demo seeds");
        let hostile = std::fs::read(guests.component("hostile")).expect("hostile built");
        workbench.publish(demo::TENANT, "mallory", HOSTILE_MANIFEST, hostile, None).await.expect("hostile publishes");
        Self { workbench, store, dir, database_url, schema, writer: Some(writer) }
    }

    /// Installs the hostile guest in `tenant` with `granted` scopes.
    pub async fn install_hostile(&self, tenant: &str, granted: &[Scope]) {
        let request = InstallRequest {
            version: "0.1.0".into(),
            granted: granted.to_vec(),
            visible_to: None,
            egress: Vec::new(),
            config: Default::default(),
            subscriptions: None,
        };
        self.workbench.install(tenant, "admin", "hostile", request).await.expect("installs");
    }

    /// Invokes `GET path` (path may carry `?query`).
    pub async fn get(&self, member: &str, plugin: &str, path: &str) -> ServiceResult<Invoked> {
        self.get_in(demo::TENANT, member, plugin, path).await
    }

    /// Invokes `GET path` in another tenant.
    pub async fn get_in(&self, tenant: &str, member: &str, plugin: &str, path: &str) -> ServiceResult<Invoked> {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let request =
            Request { method: "GET".into(), path: path.into(), query: query.into(), headers: vec![], body: vec![] };
        self.workbench.invoke(tenant, member, plugin, request).await
    }

    /// The SQLite database file.
    pub fn database(&self) -> std::path::PathBuf {
        self.dir.path().join("workbench.db")
    }

    /// Stops the writer (flushing it) and keeps the data dir (a PostgreSQL
    /// schema is dropped).
    pub async fn stop(mut self) -> tempfile::TempDir {
        let writer = self.writer.take().expect("running");
        drop(self.workbench);
        writer.await.expect("writer flushed");
        if let Some(schema) = self.schema.take() {
            drop_schema(&schema).await;
        }
        self.dir
    }
}

/// Asserts that `invocation` (a call of `path`) ended in one audited
/// `invoke`/`trapped` record whose reason starts with `code`.
pub async fn assert_trap_audited(host: &Host, invocation: &str, code: &str, path: &str) {
    let records = host.store.audit_records("demo", 0, 100_000).await.expect("records");
    let trap = records
        .iter()
        .find(|r| r.event.invocation.as_deref() == Some(invocation) && r.event.action == "invoke")
        .unwrap_or_else(|| panic!("{path}: the trap is audited"));
    assert_eq!(trap.event.outcome, workbench_host::model::audit::Outcome::Trapped, "{path}");
    assert!(trap.event.reason.as_deref().unwrap_or_default().starts_with(code), "{path}: {:?}", trap.event.reason);
}

/// The body of a successful invocation as text.
pub fn body(invoked: &Invoked) -> String {
    String::from_utf8_lossy(&invoked.response.body).into_owned()
}

/// The JSON body of a successful invocation.
pub fn json(invoked: &Invoked) -> serde_json::Value {
    serde_json::from_slice(&invoked.response.body).expect("plugin returned JSON")
}

/// Opens the host's database directly (for tamper tests and checks).
pub async fn raw_db(path: &std::path::Path) -> sqlx::SqlitePool {
    let url = format!("sqlite://{}", path.display());
    sqlx::SqlitePool::connect(&url).await.expect("open db")
}
