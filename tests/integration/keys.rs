//! Keys for many replicas, rotated: secrets from the environment (no shared
//! data directory), the audit key rotated with a handover so every earlier
//! checkpoint still verifies online and offline, and a key merely written
//! into the database vouching for nothing.

use std::collections::BTreeMap;
use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workbench_host::config::Config;
use workbench_host::model::audit::Head;
use workbench_host::model::directory::Role;

use crate::retention::verify_offline;
use crate::server::{Db, Server, drop_schema, execute_raw, fresh_database, on_both_databases};

const ADMIN: &[Role] = &[Role::Admin, Role::Member];

async fn add_member(server: &Server, admin: &str, id: &str) {
    let member = json!({ "id": id, "profile": { "name": "新人" } });
    let added = server.call(Method::POST, "/api/v1/members", Some(admin), Some(member)).await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
}

on_both_databases! {
    async fn after_a_rotation_every_checkpoint_still_verifies(db: Db) {
        let server = Server::demo(db).await;
        let admin = server.demo_token("admin", ADMIN);
        add_member(&server, &admin, "before.rotation").await;
        let old = server.call(Method::GET, "/api/v1/audit/keys", Some(&admin), None).await.body;
        let old_key = old["keys"][0]["public_key"].as_str().expect("current key").to_owned();
        assert_eq!(old["keys"].as_array().map(Vec::len), Some(1), "{old}");

        // `workbench keys rotate`, into a file the new replica is given.
        let config = Config { data_dir: server.data_dir().to_owned(), ..Config::default() };
        let new_file = server.data_dir().join("next-audit.key");
        let said = workbench_host::service::keys::rotate(&config, server.store.as_ref(), Some(&new_file)).await.expect("rotates");
        assert!(said.contains("took over"), "{said}");
        let rotated = server.replica_configured(|c| c.keys.audit_signing_key_file = Some(new_file.clone())).await;
        add_member(&rotated, &admin, "after.rotation").await;

        let keys = rotated.call(Method::GET, "/api/v1/audit/keys", Some(&admin), None).await.body;
        let listed = keys["keys"].as_array().expect("keys");
        assert_eq!(listed.len(), 2, "{keys}");
        assert_eq!(listed[1]["key_id"], keys["current"]);
        assert_eq!(listed[1]["handover"]["previous"], old_key.as_str(), "the new key names the one it took over from");
        let new_key = listed[1]["public_key"].as_str().expect("new key").to_owned();
        let key_ids: Vec<String> = sqlx_checkpoint_keys(&server).await;
        assert!(key_ids.len() >= 2, "checkpoints by both keys: {key_ids:?}");

        // Online, on the replica with the new key and on the one with the old.
        for host in [&rotated, &server] {
            let verified = host.call(Method::GET, "/api/v1/audit/verify", Some(&admin), None).await.body;
            assert_eq!(verified["ok"], true, "{verified}");
        }
        // Offline, trusting the new key (the old one's checkpoints verify
        // through the export's handover) or the old one (the handover it
        // signed brings in the new one).
        let export = rotated.call(Method::GET, "/api/v1/audit/export", Some(&admin), None).await.text;
        for key in [&new_key, &old_key] {
            let (ok, said) = verify_offline(&export, key);
            assert!(ok, "{said}");
        }
        // Without the handover, the new key's checkpoint vouches for nothing to a holder of the old key.
        let without: String = export.lines().filter(|l| !l.contains("\"handover\":{")).map(|l| format!("{l}\n")).collect();
        let (ok, said) = verify_offline(&without, &old_key);
        assert!(!ok && said.contains("no trusted key vouches for"), "{said}");

        // A stranger's key written into the history with a forged handover,
        // and a checkpoint it signed, are refused.
        let stranger = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
        let mut entry = workbench_host::audit::keyring::hand_over(&stranger, &stranger, 1);
        if let Some(handover) = entry.handover.as_mut() {
            handover.previous = new_key.clone();
        }
        rotated.store.add_audit_key(&entry).await.expect("written");
        let head = rotated.store.audit_records("demo", 0, 1_000_000).await.expect("records").pop().expect("a record");
        let forged = workbench_host::audit::chain::sign_checkpoint(&stranger, "demo", Head { seq: head.seq, hash: head.hash }, 1);
        execute_raw(&rotated.database_url, &format!("DELETE FROM audit_checkpoints WHERE tenant = 'demo' AND seq = {}", head.seq)).await;
        execute_raw(
            &rotated.database_url,
            &format!(
                "INSERT INTO audit_checkpoints (tenant, seq, hash, signed_at, key_id, signature) VALUES ('demo', {}, '{}', 1, '{}', '{}')",
                forged.seq, forged.hash, forged.key_id, forged.signature
            ),
        )
        .await;
        let refused = rotated.call(Method::GET, "/api/v1/audit/verify", Some(&admin), None).await.body;
        assert_eq!(refused["ok"], false);
        assert!(refused["error"].as_str().expect("error").contains("no trusted key vouches for"), "{refused}");
        rotated.stop().await;
        server.stop().await;
    }
}

async fn sqlx_checkpoint_keys(server: &Server) -> Vec<String> {
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&server.database_url).await.expect("database");
    let keys: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT key_id FROM audit_checkpoints").fetch_all(&pool).await.expect("keys");
    pool.close().await;
    keys
}

/// `workbench keys generate`'s lines as environment variables.
fn generated_environment() -> BTreeMap<String, String> {
    let output = Command::new(xtask::host_binary()).args(["keys", "generate"]).output().expect("keys generate runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let env: BTreeMap<String, String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("export ")?.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect();
    let names: Vec<&str> = env.keys().map(String::as_str).collect();
    assert_eq!(names, ["WORKBENCH_AUDIT_SIGNING_KEY", "WORKBENCH_OPEN_ID_SECRET", "WORKBENCH_TOKEN_SECRET"]);
    env
}

fn workbench(env: &BTreeMap<String, String>, data_dir: &std::path::Path, database_url: &str) -> Command {
    let mut command = Command::new(xtask::host_binary());
    command.envs(env).arg("--data-dir").arg(data_dir).args(["--database-url", database_url]).env("RUST_LOG", "error");
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_from_the_same_environment_verify_each_other() {
    let env = generated_environment();
    let root = tempfile::tempdir().expect("tempdir");
    let (database_url, schema) = fresh_database(Db::Postgres, root.path()).await;
    let guests = xtask::guests();
    let components = guests.component("noop").parent().expect("component dir").to_owned();
    let mut replicas = Vec::new();
    for name in ["a", "b"] {
        let mut command = workbench(&env, &root.path().join(name), &database_url);
        command
            .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--demo-manifests"])
            .arg(xtask::repo_root().join("plugins"))
            .arg("--demo-components")
            .arg(&components);
        replicas.push(xtask::spawn_server(&mut command, true).expect("replica starts"));
    }
    assert!(!root.path().join("a").join("keys").exists(), "no secret was written to a data directory");
    // A token one replica printed works on the other; each records a change.
    let client = reqwest::Client::new();
    let admin = replicas[0].token("TOKEN_ADMIN").expect("admin token").to_owned();
    for (n, replica) in replicas.iter().enumerate() {
        let member = json!({ "id": format!("from.{n}"), "profile": { "name": "副本" } });
        let added = client
            .post(format!("{}/api/v1/members", replica.base))
            .bearer_auth(&admin)
            .json(&member)
            .send()
            .await
            .expect("sent");
        assert_eq!(added.status(), StatusCode::CREATED);
    }
    // Each replica verifies the chain both wrote, and names the same key.
    let mut current = Vec::new();
    for replica in &replicas {
        let verified: Value = client
            .get(format!("{}/api/v1/audit/verify", replica.base))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        assert_eq!(verified["ok"], true, "{verified}");
        let keys: Value = client
            .get(format!("{}/api/v1/audit/keys", replica.base))
            .bearer_auth(&admin)
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        current.push(keys["current"].clone());
    }
    assert_eq!(current[0], current[1]);
    // So does a third process with only the environment.
    let verify = workbench(&env, &root.path().join("c"), &database_url)
        .args(["audit", "verify", "--tenant", "demo"])
        .output()
        .expect("verify runs");
    assert!(verify.status.success(), "{}", String::from_utf8_lossy(&verify.stdout));
    for mut replica in replicas {
        let _ = replica.child.kill();
        let _ = replica.child.wait();
    }
    // `keys generate --out` writes files only their owner reads.
    let out = root.path().join("secrets");
    let written =
        Command::new(xtask::host_binary()).args(["keys", "generate", "--out"]).arg(&out).output().expect("runs");
    assert!(written.status.success(), "{}", String::from_utf8_lossy(&written.stderr));
    for file in ["audit-signing.key", "open-id.key", "jwt-hs256.key"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.join(file)).expect("written").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
    let again =
        Command::new(xtask::host_binary()).args(["keys", "generate", "--out"]).arg(&out).output().expect("runs");
    assert!(!again.status.success(), "existing secrets are never overwritten");
    if let Some(schema) = schema {
        drop_schema(&schema).await;
    }
}
