//! The real HTTP server on a random port, on SQLite (a temporary data dir)
//! or PostgreSQL (a fresh schema of the `test` database per server), with
//! the demo company seeded from the example plugins built from source.

use std::sync::Arc;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::Row;
use workbench_host::config::Config;
use workbench_host::model::directory::Role;
use workbench_host::service::Workbench;
use workbench_host::store::Store;
use workbench_host::{api, demo};

use crate::support::test_limits;

/// Which database a server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server the suite uses (`WORKBENCH_TEST_POSTGRES` overrides).
pub fn postgres_base_url() -> String {
    std::env::var("WORKBENCH_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A database for one test: a file in `dir` for SQLite, a fresh schema of
/// the `test` database for PostgreSQL (returned, to drop at the end).
pub async fn fresh_database(db: Db, dir: &std::path::Path) -> (String, Option<String>) {
    match db {
        Db::Sqlite => (format!("sqlite://{}?mode=rwc", dir.join("workbench.db").display()), None),
        Db::Postgres => {
            let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
            let admin = sqlx::PgPool::connect(&postgres_base_url()).await.expect("PostgreSQL reachable");
            sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin).await.expect("create schema");
            admin.close().await;
            (format!("{}?options=-c%20search_path%3D{schema}", postgres_base_url()), Some(schema))
        }
    }
}

/// Drops a schema made by [`fresh_database`].
pub async fn drop_schema(schema: &str) {
    let admin = sqlx::PgPool::connect(&postgres_base_url()).await.expect("PostgreSQL reachable");
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&admin).await.expect("drop schema");
    admin.close().await;
}

/// Runs `sql` (one or more statements) straight on a database, bypassing the host.
pub async fn execute_raw(database_url: &str, sql: &str) {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(database_url).await.expect("database reachable");
    sqlx::raw_sql(sql).execute(&pool).await.expect("raw SQL runs");
    pool.close().await;
}

/// The server's errors (and warnings) in the output of the test that ran
/// into them: a 500 says only "the details are in the server log", and this
/// is that log. Printed only for a test that fails.
fn server_log() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_test_writer()
        .try_init();
}

/// A running server.
pub struct Server {
    pub base: String,
    pub database_url: String,
    pub workbench: Arc<Workbench>,
    /// The server's own store, for a test to seed and inspect what the API
    /// does not show.
    pub store: Arc<dyn Store>,
    pub state: api::AppState,
    client: reqwest::Client,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    writer: Option<tokio::task::JoinHandle<()>>,
    schema: Option<String>,
    _dir: tempfile::TempDir,
}

/// A response: status and JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
    pub headers: reqwest::header::HeaderMap,
}

impl Server {
    /// Starts a server with the demo company (zhang.wei and li.na have
    /// consented as in `demo::seed`).
    pub async fn demo(db: Db) -> Self {
        Self::demo_configured(db, |_| {}).await
    }

    /// [`Server::demo`] with a configuration changed by `configure`.
    pub async fn demo_configured(db: Db, configure: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (database_url, schema) = fresh_database(db, dir.path()).await;
        let server = Self::start_configured(dir, database_url, schema, configure).await;
        let guests = xtask::guests();
        let components = guests.component("noop").parent().expect("component dir").to_owned();
        demo::seed(&server.workbench, &xtask::repo_root().join("plugins"), &components).await.expect("demo seeds");
        server
    }

    /// Starts a server with the demo company on `database_url` (a database
    /// the test made itself).
    pub async fn demo_at(database_url: String) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = Self::start_configured(dir, database_url, None, |_| {}).await;
        let guests = xtask::guests();
        let components = guests.component("noop").parent().expect("component dir").to_owned();
        demo::seed(&server.workbench, &xtask::repo_root().join("plugins"), &components).await.expect("demo seeds");
        server
    }

    /// Starts a second replica on the same database, sharing this one's keys
    /// (as replicas behind a load balancer do). Stop it before this one.
    pub async fn replica(&self) -> Self {
        self.replica_configured(|_| {}).await
    }

    /// [`Server::replica`] with a configuration changed by `configure`.
    pub async fn replica_configured(&self, configure: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        copy_dir(&self._dir.path().join("keys"), &dir.path().join("keys"));
        Self::start_configured(dir, self.database_url.clone(), None, configure).await
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// Links and signs as this server does (its own key), for a test that
    /// writes a change through the store with its record.
    pub fn chain_signer(&self) -> workbench_host::audit::chain::ChainSigner {
        let key = workbench_host::service::keys::signing_key(&self._dir.path().join("keys")).expect("signing key");
        workbench_host::audit::chain::ChainSigner::new(key)
    }

    /// Starts a server with an empty database.
    pub async fn empty(db: Db) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (database_url, schema) = fresh_database(db, dir.path()).await;
        Self::start(dir, database_url, schema).await
    }

    async fn start(dir: tempfile::TempDir, database_url: String, schema: Option<String>) -> Self {
        Self::start_configured(dir, database_url, schema, |_| {}).await
    }

    async fn start_configured(
        dir: tempfile::TempDir,
        database_url: String,
        schema: Option<String>,
        configure: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = Config {
            data_dir: dir.path().to_owned(),
            database_url: Some(database_url.clone()),
            runtime: test_limits(),
            admission: crate::support::test_admission(),
            code_cache_dir: Some(crate::support::shared_code_cache()),
            // No schedule ticker: a test ticks at the instant it chooses, and
            // no test gains a delivery because it ran at 18:00 in Shanghai.
            events: workbench_host::config::EventsConfig { schedule_tick_secs: 0, ..Default::default() },
            ..Config::default()
        };
        configure(&mut config);
        api::prometheus();
        server_log();
        let store = Workbench::open_store(&config).await.expect("store opens");
        let (workbench, writer) = Workbench::with_store(&config, Arc::clone(&store)).expect("host starts");
        let workbench = Arc::new(workbench);
        drop(workbench.start_background(&config));
        let state = api::state(&config, Arc::clone(&workbench)).expect("state");
        let app = api::app(state.clone(), &config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            api::serve(listener, app, async { drop(stop.await) }, std::time::Duration::from_secs(5))
                .await
                .expect("server runs");
        });
        Self {
            base,
            database_url,
            workbench,
            store,
            state,
            client: reqwest::Client::new(),
            shutdown: Some(shutdown),
            task: Some(task),
            writer: Some(writer),
            schema,
            _dir: dir,
        }
    }

    /// A token for `member` of `tenant` with `roles`.
    pub fn token(&self, tenant: &str, member: &str, roles: &[Role]) -> String {
        self.state.keys.mint(tenant, member, roles, std::time::Duration::from_secs(600)).expect("mint")
    }

    /// The HMAC secret of the server's local token key.
    pub fn local_secret(&self) -> Vec<u8> {
        let text = std::fs::read_to_string(self._dir.path().join("keys").join("jwt-hs256.key")).expect("local key");
        hex::decode(text.trim()).expect("hex key")
    }

    /// A demo tenant token.
    pub fn demo_token(&self, member: &str, roles: &[Role]) -> String {
        self.token(demo::TENANT, member, roles)
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        self.call_with(method, path, token, body, &[]).await
    }

    /// [`Server::call`] with extra request headers.
    pub async fn call_with(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::reply(request.send().await.expect("request sent")).await
    }

    /// Sends a raw body with a content type.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: Vec<u8>,
    ) -> Reply {
        let mut request =
            self.client.request(method, format!("{}{path}", self.base)).header("content-type", content_type).body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Self::reply(request.send().await.expect("request sent")).await
    }

    /// Announces a `length`-byte JSON body but sends only its head, and reads
    /// the reply: how a server that refuses oversize bodies early is tested
    /// without racing the client's upload against the refusal.
    pub async fn announce_body(&self, path: &str, token: &str, length: usize) -> Reply {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let address = self.base.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(address).await.expect("connect");
        let head = format!(
            "POST {path} HTTP/1.1\r\nhost: {address}\r\nauthorization: Bearer {token}\r\n\
             content-type: application/json\r\ncontent-length: {length}\r\nconnection: close\r\n\r\n{{"
        );
        stream.write_all(head.as_bytes()).await.expect("send head");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.expect("read reply");
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let status = raw.split_whitespace().nth(1).and_then(|s| s.parse::<u16>().ok()).expect("status line");
        let text = raw.split_once("\r\n\r\n").map_or("", |(_, body)| body).to_owned();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status: StatusCode::from_u16(status).expect("status"), body, text, headers: Default::default() }
    }

    /// Publishes a version as a multipart form.
    pub async fn publish(
        &self,
        token: &str,
        manifest: &str,
        component: Vec<u8>,
        signature: Option<(String, String)>,
    ) -> Reply {
        let mut form = reqwest::multipart::Form::new()
            .text("manifest", manifest.to_owned())
            .part("component", reqwest::multipart::Part::bytes(component).file_name("plugin.wasm"));
        if let Some((key, sig)) = signature {
            form = form.text("public_key", key).text("signature", sig);
        }
        let request = self.client.post(format!("{}/api/v1/plugins", self.base)).bearer_auth(token).multipart(form);
        Self::reply(request.send().await.expect("request sent")).await
    }

    async fn reply(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply { status, body, text, headers }
    }

    /// Publishes the Python example (`plugins/visitor-log`, built by xtask)
    /// as the demo company's developer.
    pub async fn publish_visitor_log(&self) -> Reply {
        let component = std::fs::read(xtask::python_plugins().component("visitor-log")).expect("built");
        let manifest =
            std::fs::read_to_string(xtask::repo_root().join("plugins/visitor-log/plugin.toml")).expect("manifest");
        let dev = self.demo_token("acme", &[Role::Developer]);
        self.publish(&dev, &manifest, component, None).await
    }

    /// Runs `plugin` for `member` (GET `path`).
    pub async fn invoke(&self, member: &str, plugin: &str, path: &str) -> Reply {
        self.invoke_in(demo::TENANT, member, plugin, path).await
    }

    /// [`Server::invoke`] in another tenant; `path` may carry `?query`.
    pub async fn invoke_in(&self, tenant: &str, member: &str, plugin: &str, path: &str) -> Reply {
        let token = self.token(tenant, member, &[Role::Member]);
        let body = match path.split_once('?') {
            Some((path, query)) => serde_json::json!({ "path": path, "query": query }),
            None => serde_json::json!({ "path": path }),
        };
        self.call(Method::POST, &format!("/api/v1/me/plugins/{plugin}/invoke"), Some(&token), Some(body)).await
    }

    /// Counts rows straight from the database (`$1` = the first bind).
    pub async fn count(&self, sql: &str, binds: &[&str]) -> i64 {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&self.database_url).await.expect("database reachable");
        let mut query = sqlx::query(sql);
        for bind in binds {
            query = query.bind(*bind);
        }
        let count: i64 = query.fetch_one(&pool).await.expect("count").get(0);
        pool.close().await;
        count
    }

    /// Stops the server (draining requests), flushes the audit log, drops the schema.
    pub async fn stop(mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server stopped");
        }
        drop(self.state);
        let writer = self.writer.take().expect("writer");
        drop(self.workbench);
        let _ = tokio::time::timeout(std::time::Duration::from_secs(10), writer).await;
        if let Some(schema) = self.schema.take() {
            drop_schema(&schema).await;
        }
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("keys dir") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy key");
    }
}

/// Runs an async test body once on SQLite and once on PostgreSQL.
macro_rules! on_both_databases {
    ($(#[$meta:meta])* async fn $name:ident($server:ident : Db) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($server: $crate::server::Db) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::server::Db::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run($crate::server::Db::Postgres).await
            }
        }
    };
}
pub(crate) use on_both_databases;
