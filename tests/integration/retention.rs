//! Retention enforced: the purge deletes what outlived the tenant's periods
//! (audit records as a prefix of the chain, person storage untouched for
//! longer than its period), the history still
//! verifies from the purge's signed anchor online and offline, tampering at
//! or after the boundary is named, the purge is itself a record, and one
//! runner purges at a time.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workbench_host::model::directory::Role;

use crate::server::{Db, Server, execute_raw, on_both_databases};

const ADMIN: &[Role] = &[Role::Admin, Role::Member];
const DAY_MS: i64 = 86_400_000;

/// Runs `workbench audit verify --offline` on `text` with `public_key`: success and output.
pub(crate) fn verify_offline(text: &str, public_key: &str) -> (bool, String) {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), text).expect("write export");
    let output = std::process::Command::new(xtask::host_binary())
        .args(["audit", "verify", "--offline"])
        .arg(file.path())
        .args(["--public-key", public_key])
        .output()
        .expect("verify runs");
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), said)
}

async fn verify(server: &Server, admin: &str) -> Value {
    server.call(Method::GET, "/api/v1/audit/verify", Some(admin), None).await.body
}

on_both_databases! {
    async fn a_purge_deletes_what_outlived_its_period_and_the_rest_still_verifies(db: Db) {
        let server = Server::demo_configured(db, |config| {
            config.retention.audit_floor_days = 1;
            config.retention.purge_every_secs = 0;
        })
        .await;
        let admin = server.demo_token("admin", ADMIN);
        let zhang = server.demo_token("zhang.wei", &[Role::Member]);
        let set = json!({ "audit_days": 1, "plugin_storage_days": 1 });
        let reply = server.call(Method::PUT, "/api/v1/settings/retention", Some(&admin), Some(set)).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        // A report stored for zhang.wei.
        let save = json!({ "method": "POST", "body": "text=%E6%B5%8B%E8%AF%95" });
        let saved = server.call(Method::POST, "/api/v1/me/plugins/site-daily-report/invoke", Some(&zhang), Some(save)).await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);

        // What happens after `mid` is younger than a day when the purge runs
        // a day after it.
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        let mid = workbench_host::now_ms();
        tokio::time::sleep(std::time::Duration::from_millis(30)).await;
        let late = json!({ "id": "late.member", "profile": { "name": "晚来" } });
        let added = server.call(Method::POST, "/api/v1/members", Some(&admin), Some(late)).await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
        let before = verify(&server, &admin).await;
        let head = before["records"].as_i64().expect("records");

        let reports = server.workbench.purge(mid + DAY_MS).await.expect("purge runs").expect("no other runner");
        let report = reports.iter().find(|r| r.tenant == "demo").expect("the demo tenant's report");
        let anchored = report.anchored_seq;
        assert!(anchored > 0 && anchored < head, "the records before `mid` went, the later ones stayed: {report:?}");
        assert_eq!(report.audit_records_deleted as i64, anchored, "{report:?}");
        assert_eq!(report.storage_entries_deleted, 1, "zhang.wei's untouched report went: {report:?}");
        let left = server.count(&format!("SELECT COUNT(*) FROM audit_records WHERE tenant = 'demo' AND seq <= {anchored}"), &[]).await;
        assert_eq!(left, 0);
        assert_eq!(server.count("SELECT COUNT(*) FROM plugin_kv WHERE tenant = 'demo' AND person = 'zhang.wei'", &[]).await, 0);
        let members_late = server.count("SELECT COUNT(*) FROM members WHERE tenant = 'demo' AND id = 'late.member'", &[]).await;
        assert_eq!(members_late, 1, "the purge deletes no directory entry");

        // The purge is a record of its own, with its counts.
        let purges = server.call(Method::GET, "/api/v1/audit?action=retention.purge", Some(&admin), None).await;
        let records = purges.body["records"].as_array().expect("records");
        assert_eq!(records.len(), 1, "{}", purges.text);
        assert_eq!(records[0]["actor"], "workbench:retention");
        let reason = records[0]["reason"].as_str().expect("reason");
        assert!(reason.contains(&format!("audit records 1..{anchored}")) && reason.contains("1 storage entries"), "{reason}");
        // Nothing more to purge: no record, nothing deleted.
        let again = server.workbench.purge(mid + DAY_MS).await.expect("purge runs").expect("no other runner");
        let again = again.iter().find(|r| r.tenant == "demo").expect("report");
        assert_eq!((again.audit_seq, again.audit_records_deleted, again.anchored_seq), (None, 0, anchored));

        // Online: verified from the anchor.
        let after = verify(&server, &admin).await;
        assert_eq!(after["ok"], true, "{after}");
        assert_eq!(after["anchored_seq"], anchored);
        assert_eq!(after["records"].as_i64(), Some(head + 1 - anchored), "the kept records and the purge's own");

        // Offline: the export carries the anchor; the file verifies with only the public key.
        let export = server.call(Method::GET, "/api/v1/audit/export", Some(&admin), None).await;
        let public_key = after["public_key"].as_str().expect("public key").to_owned();
        let (ok, said) = verify_offline(&export.text, &public_key);
        assert!(ok, "{said}");
        assert!(said.contains(&format!("from the purge's anchor at {anchored}")), "{said}");
        let moved = export.text.replacen(&format!("\"seq\":{anchored},"), &format!("\"seq\":{},", anchored - 1), 1);
        let (ok, said) = verify_offline(&moved, &public_key);
        assert!(!ok && said.contains("anchor at seq"), "a moved anchor is named: {said}");
        let anchor_line = export.text.lines().find(|l| l.starts_with("{\"anchor\"")).expect("anchor line").to_owned();
        let (ok, said) = verify_offline(&export.text.replace(&format!("{anchor_line}\n"), ""), &public_key);
        assert!(!ok && said.contains("record 1 is missing"), "an export without its anchor is missing its start: {said}");

        // Tampering at the boundary and after it is named.
        let url = server.database_url.clone();
        execute_raw(&url, "UPDATE audit_anchors SET seq = seq + 1 WHERE tenant = 'demo'").await;
        let broken = verify(&server, &admin).await;
        assert_eq!(broken["ok"], false);
        assert!(broken["error"].as_str().expect("error").contains("has an invalid signature"), "{broken}");
        execute_raw(&url, "UPDATE audit_anchors SET seq = seq - 1 WHERE tenant = 'demo'").await;
        assert_eq!(verify(&server, &admin).await["ok"], true);

        execute_raw(&url, "UPDATE audit_anchors SET tenant = 'elsewhere' WHERE tenant = 'demo'").await;
        let broken = verify(&server, &admin).await;
        assert!(broken["error"].as_str().expect("error").contains("record 1 is missing"), "a deleted anchor: {broken}");
        execute_raw(&url, "UPDATE audit_anchors SET tenant = 'demo' WHERE tenant = 'elsewhere'").await;

        let first_kept = anchored + 1;
        execute_raw(&url, &format!("UPDATE audit_records SET reason = 'rewritten' WHERE tenant = 'demo' AND seq = {first_kept}")).await;
        let broken = verify(&server, &admin).await;
        assert!(broken["error"].as_str().expect("error").contains(&format!("record {first_kept} was altered")), "{broken}");
        execute_raw(&url, &format!("DELETE FROM audit_records WHERE tenant = 'demo' AND seq = {first_kept}")).await;
        let broken = verify(&server, &admin).await;
        assert!(broken["error"].as_str().expect("error").contains(&format!("record {first_kept} is missing")), "{broken}");
        server.stop().await;
    }
}

on_both_databases! {
    async fn the_operator_floor_bounds_what_a_tenant_may_set(db: Db) {
        let server = Server::demo_configured(db, |config| config.retention.audit_floor_days = 400).await;
        let admin = server.demo_token("admin", ADMIN);
        let short = server.call(Method::PUT, "/api/v1/settings/retention", Some(&admin), Some(json!({ "audit_days": 399 }))).await;
        assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", short.text);
        assert!(short.text.contains("at least 400"), "{}", short.text);
        let set = server.call(Method::PUT, "/api/v1/settings/retention", Some(&admin), Some(json!({ "audit_days": 400 }))).await;
        assert_eq!(set.status, StatusCode::OK, "{}", set.text);
        // Records younger than the floor stay, whatever the purge's clock says within it.
        let now = workbench_host::now_ms();
        let reports = server.workbench.purge(now + 399 * DAY_MS).await.expect("purge").expect("runner");
        let demo = reports.iter().find(|r| r.tenant == "demo").expect("report");
        assert_eq!((demo.audit_days, demo.anchored_seq, demo.audit_records_deleted), (400, 0, 0));
        server.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_replica_purges_at_a_time() {
    let server = Server::demo(Db::Postgres).await;
    let replica = server.replica().await;
    let held = server.store.try_purge_lock().await.expect("lock query").expect("free at first");
    assert!(
        replica.workbench.purge(workbench_host::now_ms()).await.expect("purge").is_none(),
        "another runner holds it"
    );
    assert!(server.store.try_purge_lock().await.expect("lock query").is_none());
    held.release().await;
    assert!(replica.workbench.purge(workbench_host::now_ms()).await.expect("purge").is_some());
    replica.stop().await;
    server.stop().await;
}

on_both_databases! {
    async fn a_purge_refuses_to_sign_over_records_rewritten_to_look_old(db: Db) {
        // Someone with the database makes recent records look three years
        // old (their `ts` rewritten) so the next purge would delete them: the
        // purge checks the chain up to a signed checkpoint first, and refuses.
        let server = Server::demo(db).await;
        let admin = server.demo_token("admin", ADMIN);
        let head = verify(&server, &admin).await["records"].as_i64().expect("records");
        execute_raw(&server.database_url, &format!("UPDATE audit_records SET ts = 0 WHERE tenant = 'demo' AND seq <= {}", head / 2)).await;
        let reports = server.workbench.purge(workbench_host::now_ms()).await.expect("purge runs").expect("runner");
        let demo = reports.iter().find(|r| r.tenant == "demo").expect("report");
        let error = demo.error.as_deref().expect("refused");
        assert!(error.contains("does not verify") && error.contains("altered"), "{error}");
        assert_eq!((demo.audit_records_deleted, demo.anchored_seq), (0, 0));
        assert_eq!(server.count("SELECT COUNT(*) FROM audit_anchors", &[]).await, 0, "nothing signed over the rewrite");
        assert_eq!(server.count("SELECT COUNT(*) FROM audit_records WHERE tenant = 'demo' AND seq = 1", &[]).await, 1, "nothing deleted");
        server.stop().await;
    }
}
