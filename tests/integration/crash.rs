//! Crash safety: the `workbench` binary under load is killed with SIGKILL at
//! random moments and restarted, again and again. Every invocation that was
//! answered 2xx must have its audit records, and the chain must verify, on
//! SQLite and on PostgreSQL.

use std::process::{Child, Command};
use std::time::Duration;

use rand::Rng;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::server::{drop_schema, fresh_database, on_both_databases};

const ROUNDS: usize = 20;
const CLIENTS: usize = 8;

/// Starts the `workbench` binary on `data_dir` and `database_url` with the
/// demo company and no invocation rate a load reaches; its child, base URL
/// and zhang.wei's token.
pub(crate) fn start(data_dir: &std::path::Path, database_url: &str) -> (Child, String, String) {
    let guests = xtask::guests();
    let components = guests.component("noop").parent().expect("component dir");
    // One member's 8 clients in a closed loop would soon spend the member's
    // invocation rate; the load must go on until the kill.
    let config = data_dir.join("load.toml");
    std::fs::write(
        &config,
        "[admission]\nmember_rate_per_sec = 1000000\nmember_burst = 1000000\ntenant_rate_per_sec = 1000000\n\
         tenant_burst = 1000000\n",
    )
    .expect("config");
    let mut command = Command::new(xtask::host_binary());
    command
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--database-url", database_url])
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--demo-manifests"])
        .arg(xtask::repo_root().join("plugins"))
        .arg("--demo-components")
        .arg(components)
        .env("RUST_LOG", "error");
    let served = xtask::spawn_server(&mut command, true).expect("workbench starts");
    let token = served.token("TOKEN_ZHANG_WEI").expect("token printed").to_owned();
    (served.child, served.base, token)
}

/// Invokes until the server goes away; returns the invocation ids answered 2xx.
async fn load(base: String, token: String) -> Vec<String> {
    let client = reqwest::Client::new();
    let mut answered = Vec::new();
    loop {
        let body = json!({ "method": "POST", "body": "text=%E6%B5%8B%E8%AF%95" });
        let sent = client
            .post(format!("{base}/api/v1/me/plugins/site-daily-report/invoke"))
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await;
        let Ok(response) = sent else { return answered };
        if response.status() != StatusCode::OK {
            return answered;
        }
        let Ok(reply) = response.json::<Value>().await else { return answered };
        answered.push(reply["invocation"].as_str().expect("invocation id").to_owned());
    }
}

/// `workbench audit verify --tenant demo` passes on what the killed servers left.
pub(crate) fn assert_chain_verifies(data_dir: &std::path::Path, database_url: &str) {
    let verify = Command::new(xtask::host_binary())
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--database-url", database_url, "audit", "verify", "--tenant", "demo"])
        .output()
        .expect("verify runs");
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
}

on_both_databases! {
    async fn sigkill_under_load_never_loses_an_answered_call(db: Db) {
        let dir = tempfile::tempdir().expect("tempdir");
        let (database_url, schema) = fresh_database(db, dir.path()).await;
        let mut answered: Vec<String> = Vec::new();
        for _ in 0..ROUNDS {
            let (mut child, base, token) = start(dir.path(), &database_url);
            let clients: Vec<_> = (0..CLIENTS).map(|_| tokio::spawn(load(base.clone(), token.clone()))).collect();
            let pause = Duration::from_millis(rand::thread_rng().gen_range(150..700));
            tokio::time::sleep(pause).await;
            child.kill().expect("SIGKILL");
            child.wait().expect("reaped");
            for client in clients {
                answered.extend(client.await.expect("client task"));
            }
        }
        assert!(answered.len() > ROUNDS, "the load got answers before the kills ({})", answered.len());

        assert_chain_verifies(dir.path(), &database_url);

        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&database_url).await.expect("database reachable");
        for invocation in &answered {
            // Each answered save read user.name and wrote storage: two records.
            let records: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_records WHERE invocation = $1")
                .bind(invocation)
                .fetch_one(&pool)
                .await
                .expect("query");
            assert_eq!(records, 2, "invocation {invocation} was answered 2xx, so its records must be durable");
        }
        pool.close().await;
        if let Some(schema) = schema {
            drop_schema(&schema).await;
        }
    }
}
