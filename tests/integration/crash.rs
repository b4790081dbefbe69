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
    let served = start_served(data_dir, database_url);
    let token = served.token("TOKEN_ZHANG_WEI").expect("token printed").to_owned();
    (served.child, served.base, token)
}

/// [`start`], with every token the demo printed.
fn start_served(data_dir: &std::path::Path, database_url: &str) -> xtask::Served {
    start_served_with(data_dir, database_url, "")
}

/// [`start_served`] with more configuration (TOML) after the lifted limits.
pub(crate) fn start_served_with(data_dir: &std::path::Path, database_url: &str, more: &str) -> xtask::Served {
    let guests = xtask::guests();
    let components = guests.component("noop").parent().expect("component dir");
    // One member's 8 clients in a closed loop would soon spend the member's
    // invocation rate; the load must go on until the kill.
    let config = data_dir.join("load.toml");
    std::fs::write(
        &config,
        format!(
            "[admission]\nmember_rate_per_sec = 1000000\nmember_burst = 1000000\ntenant_rate_per_sec = 1000000\n\
         tenant_burst = 1000000\n{more}",
        ),
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
    xtask::spawn_server(&mut command, true).expect("workbench starts")
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

/// Adds members `{prefix}-{n}` one after another until the server goes away.
async fn add_members(base: String, token: String, prefix: String) {
    let client = reqwest::Client::new();
    for n in 0.. {
        let member = json!({ "id": format!("{prefix}-{n}"), "profile": { "name": "加载" } });
        let sent = client.post(format!("{base}/api/v1/members")).bearer_auth(&token).json(&member).send().await;
        match sent {
            Ok(response) if response.status() == StatusCode::CREATED || response.status() == StatusCode::OK => {}
            _ => return,
        }
    }
}

on_both_databases! {
    async fn sigkill_between_a_change_and_its_record_leaves_both_or_neither(db: Db) {
        // Admin changes commit with their records: after any number of
        // kills, the members that exist are exactly those whose addition is
        // in the log. (Had the record followed in its own transaction, a
        // kill while it waited for its batch would leave a member nobody
        // recorded adding.)
        let dir = tempfile::tempdir().expect("tempdir");
        let (database_url, schema) = fresh_database(db, dir.path()).await;
        for round in 0..ROUNDS / 2 {
            let served = start_served(dir.path(), &database_url);
            let admin = served.token("TOKEN_ADMIN").expect("admin token").to_owned();
            let clients: Vec<_> = (0..CLIENTS)
                .map(|c| tokio::spawn(add_members(served.base.clone(), admin.clone(), format!("load-{round}-{c}"))))
                .collect();
            let mut child = served.child;
            let pause = Duration::from_millis(rand::thread_rng().gen_range(150..700));
            tokio::time::sleep(pause).await;
            child.kill().expect("SIGKILL");
            child.wait().expect("reaped");
            for client in clients {
                client.await.expect("client task");
            }
        }
        assert_chain_verifies(dir.path(), &database_url);

        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&database_url).await.expect("database reachable");
        let mut members: Vec<String> =
            sqlx::query_scalar("SELECT id FROM members WHERE tenant = 'demo' AND id LIKE 'load-%'")
                .fetch_all(&pool)
                .await
                .expect("members");
        let mut recorded: Vec<String> = sqlx::query_scalar(
            "SELECT subject FROM audit_records WHERE tenant = 'demo' AND action = 'member.add' AND subject LIKE 'load-%'",
        )
        .fetch_all(&pool)
        .await
        .expect("records");
        members.sort();
        recorded.sort();
        assert!(members.len() > ROUNDS, "the load added members before the kills ({})", members.len());
        let unrecorded: Vec<_> = members.iter().filter(|m| !recorded.contains(m)).collect();
        let phantom: Vec<_> = recorded.iter().filter(|m| !members.contains(m)).collect();
        assert!(unrecorded.is_empty(), "members added without a record: {unrecorded:?}");
        assert!(phantom.is_empty(), "records of additions that did not happen: {phantom:?}");
        assert_eq!(members, recorded);
        pool.close().await;
        if let Some(schema) = schema {
            drop_schema(&schema).await;
        }
    }
}
