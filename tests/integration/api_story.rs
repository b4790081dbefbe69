//! The platform through real HTTP, on SQLite and on PostgreSQL: publish,
//! install, disclose, consent, invoke, withdraw, upgrade, uninstall,
//! remove a member; each checked in the responses, the audit log and the
//! database itself.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workbench_host::model::directory::Role;

use crate::server::{Server, on_both_databases};

const ACME_DEV: &[Role] = &[Role::Developer];
const ADMIN: &[Role] = &[Role::Admin, Role::Member];
const MEMBER: &[Role] = &[Role::Member];

fn scopes(disclosure: &Value, key: &str) -> Vec<String> {
    disclosure[key].as_array().expect(key).iter().map(|s| s.as_str().expect("scope").to_owned()).collect()
}

fn manifest(version: &str, extra: &str) -> String {
    let base =
        std::fs::read_to_string(xtask::repo_root().join("plugins/site-daily-report/plugin.toml")).expect("manifest");
    format!("{}{extra}", base.replace("version = \"0.1.0\"", &format!("version = \"{version}\"")))
}

fn daily_report_component() -> Vec<u8> {
    std::fs::read(xtask::guests().component("site-daily-report")).expect("built")
}

on_both_databases! {
    async fn full_story_developer_admin_member_and_audit(db: Db) {
        let server = Server::empty(db).await;
        let dev = server.token("acme-corp", "acme", ACME_DEV);
        let admin = server.token("tenant-a", "boss", ADMIN);
        let member = server.token("tenant-a", "wu.lei", MEMBER);

        // Developer publishes.
        let published = server.publish(&dev, &manifest("0.1.0", ""), daily_report_component(), None).await;
        assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
        assert_eq!(published.body["id"], "site-daily-report");
        let imports: Vec<&str> =
            published.body["imports"].as_array().expect("imports").iter().filter_map(|i| i["interface"].as_str()).collect();
        assert!(imports.contains(&"workbench:plugin/user-name@0.3.0"), "{imports:?}");
        assert!(!imports.iter().any(|i| i.starts_with("workbench:plugin/user-phone")), "only what it calls: {imports:?}");
        assert_eq!(published.body["contract"], "0.3.0");

        // Anyone signed in sees it in the catalogue.
        let catalogue = server.call(Method::GET, "/api/v1/plugins/site-daily-report", Some(&member), None).await;
        assert_eq!(catalogue.status, StatusCode::OK);
        assert_eq!(catalogue.body["developer"]["contact"], "plugins@acme.example");

        // Admin adds the member and installs with a subset (the optional log scope left out).
        let add = json!({ "id": "wu.lei", "profile": { "name": "吴磊", "phone": "13700000000", "roles": ["member"] } });
        assert_eq!(server.call(Method::POST, "/api/v1/members", Some(&admin), Some(add)).await.status, StatusCode::CREATED);
        let install = json!({ "version": "0.1.0", "granted_scopes": ["user.id", "user.name", "storage"] });
        let installed = server.call(Method::PUT, "/api/v1/workbench/plugins/site-daily-report", Some(&admin), Some(install)).await;
        assert_eq!(installed.status, StatusCode::OK, "{}", installed.text);
        assert_eq!(installed.body["granted_scopes"], json!(["user.id", "user.name", "storage"]));

        // The member reads the disclosure.
        let disclosure = server.call(Method::GET, "/api/v1/me/plugins/site-daily-report/consent", Some(&member), None).await;
        assert_eq!(disclosure.status, StatusCode::OK);
        assert_eq!(disclosure.body["recipient"]["name"], "Acme 软件有限公司");
        assert_eq!(scopes(&disclosure.body, "asking"), ["user.id", "user.name"]);
        assert_eq!(disclosure.body["usable"], false);
        let log_scope = disclosure.body["scopes"].as_array().expect("scopes").iter().find(|s| s["scope"] == "log").cloned();
        assert_eq!(log_scope.expect("log disclosed")["state"], "not_granted");

        // Before consenting, invoking is a 403 with the disclosure.
        let refused = server.call(Method::POST, "/api/v1/me/plugins/site-daily-report/invoke", Some(&member), Some(json!({}))).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(refused.body["error"], "consent_required");
        assert_eq!(refused.body["disclosure"]["plugin"], "site-daily-report");

        // Consent, invoke.
        let consent = json!({ "scopes": ["user.id", "user.name"] });
        let consented = server.call(Method::PUT, "/api/v1/me/plugins/site-daily-report/consent", Some(&member), Some(consent)).await;
        assert_eq!(consented.status, StatusCode::OK, "{}", consented.text);
        assert_eq!(consented.body["usable"], true);
        let post = json!({ "method": "POST", "body": "text=%E6%B5%87%E7%AD%91" });
        let saved = server.call(Method::POST, "/api/v1/me/plugins/site-daily-report/invoke", Some(&member), Some(post)).await;
        assert_eq!(saved.status, StatusCode::OK, "{}", saved.text);
        assert_eq!(saved.body["status"], 201);
        let report = server.call(Method::POST, "/api/v1/me/plugins/site-daily-report/invoke", Some(&member), Some(json!({"path": "/report.json"}))).await;
        let body: Value = serde_json::from_str(report.body["body"].as_str().expect("text body")).expect("json");
        assert_eq!(body["reporter"], "吴磊");
        assert_eq!(body["report"], "浇筑");
        let invocation = report.body["invocation"].as_str().expect("invocation").to_owned();

        // The member sees who read what.
        let log = server.call(Method::GET, "/api/v1/me/access-log", Some(&member), None).await;
        assert_eq!(log.status, StatusCode::OK);
        let accesses = log.body["accesses"].as_array().expect("accesses");
        assert!(accesses.iter().any(|a| a["scope"] == "user.name" && a["by"] == "plugin:site-daily-report@0.1.0" && a["outcome"] == "allowed"));
        assert!(accesses.iter().all(|a| a["purpose"].is_string()), "every access names its purpose");

        // The admin sees the same invocation in the audit log, and the chain verifies.
        let audit = server.call(Method::GET, "/api/v1/audit?subject=wu.lei&action=read", Some(&admin), None).await;
        let records = audit.body["records"].as_array().expect("records");
        assert!(records.iter().any(|r| r["invocation"] == invocation.as_str() && r["scope"] == "user.name"));
        let verify = server.call(Method::GET, "/api/v1/audit/verify", Some(&admin), None).await;
        assert_eq!(verify.body["ok"], true, "{}", verify.text);
        let export = server.call(Method::GET, "/api/v1/audit/export", Some(&admin), None).await;
        let lines: Vec<Value> = export.text.lines().map(|l| serde_json::from_str(l).expect("NDJSON line")).collect();
        // The audit key first (with the history a verifier trusts), then the
        // records, then the checkpoint.
        assert_eq!(lines[0]["key"]["public_key"], verify.body["public_key"], "{}", export.text);
        let records = lines.iter().filter(|l| l.get("seq").is_some()).count() as i64;
        assert_eq!(records, verify.body["records"].as_i64().expect("records"));
        assert_eq!(lines.len() as i64, records + 2, "the key, the records, then the checkpoint");
        assert!(lines.last().expect("lines")["checkpoint"]["signature"].is_string());

        // The export verifies offline with only the public key; an edited line is named.
        let public_key = verify.body["public_key"].as_str().expect("public key").to_owned();
        let offline = |text: &str| {
            let file = tempfile::NamedTempFile::new().expect("temp file");
            std::fs::write(file.path(), text).expect("write export");
            std::process::Command::new(xtask::host_binary())
                .args(["audit", "verify", "--offline"])
                .arg(file.path())
                .args(["--public-key", &public_key])
                .output()
                .expect("verify runs")
        };
        let clean = offline(&export.text);
        assert!(clean.status.success(), "{}{}", String::from_utf8_lossy(&clean.stdout), String::from_utf8_lossy(&clean.stderr));
        let tampered = export.text.replacen("\"outcome\":\"allowed\"", "\"outcome\":\"denied\"", 1);
        let broken = offline(&tampered);
        assert!(!broken.status.success());
        assert!(String::from_utf8_lossy(&broken.stdout).contains("was altered"), "{}", String::from_utf8_lossy(&broken.stdout));

        // The member's export has the profile, the consents, the access log and the stored report.
        let export = server.call(Method::GET, "/api/v1/me/export", Some(&member), None).await;
        assert_eq!(export.body["profile"]["name"], "吴磊");
        assert_eq!(export.body["consents"].as_array().expect("consents").len(), 2);
        assert_eq!(export.body["plugin_storage"].as_array().expect("storage").len(), 1);
        server.stop().await;
    }
}

on_both_databases! {
    async fn declining_a_required_scope_blocks_only_that_plugin(db: Db) {
        let server = Server::demo(db).await;
        // li.na consented to the daily report only; approval-helper needs perm.approval.
        let li_na = server.demo_token("li.na", MEMBER);
        let refused = server.invoke("li.na", "approval-helper", "/summary.json").await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(refused.body["error"], "consent_required");
        let missing: Vec<&str> = refused.body["missing"].as_array().expect("missing").iter().filter_map(|m| m["scope"].as_str()).collect();
        assert!(missing.contains(&"perm.approval"), "{missing:?}");
        // Every other plugin and route still works.
        let reply = server.invoke("li.na", "site-daily-report", "/report.json").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert_eq!(server.call(Method::GET, "/api/v1/me/plugins", Some(&li_na), None).await.status, StatusCode::OK);
        assert_eq!(server.call(Method::GET, "/api/v1/me/access-log", Some(&li_na), None).await.status, StatusCode::OK);
        let reply = server.invoke("zhang.wei", "approval-helper", "/summary.json").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        server.stop().await;
    }
}

on_both_databases! {
    async fn withdrawal_upgrade_and_sensitive_scopes(db: Db) {
        let server = Server::demo(db).await;
        let zhang = server.demo_token("zhang.wei", MEMBER);
        let admin = server.demo_token("admin", ADMIN);
        let dev = server.demo_token("acme", ACME_DEV);

        // Sensitive scopes are never granted implicitly: bundling the phone is refused.
        let wang = server.demo_token("wang.fang", MEMBER);
        let bundled = json!({ "scopes": ["user.nickname", "user.avatar", "perm.customer", "user.phone"] });
        let refused = server.call(Method::PUT, "/api/v1/me/plugins/customer-visit/consent", Some(&wang), Some(bundled.clone())).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(refused.body["message"].as_str().expect("message").contains("user.phone"), "{}", refused.text);
        let without_phone = json!({ "scopes": ["user.nickname", "user.avatar", "perm.customer"] });
        server.call(Method::PUT, "/api/v1/me/plugins/customer-visit/consent", Some(&wang), Some(without_phone)).await;
        let visits = server.invoke("wang.fang", "customer-visit", "/visits.json").await;
        assert_eq!(visits.status, StatusCode::OK, "{}", visits.text);
        let body: Value = serde_json::from_str(visits.body["body"].as_str().expect("body")).expect("json");
        assert_eq!(body["phone"], Value::Null);

        // Withdrawal: the next invocation no longer gets the field, and the person's storage goes.
        let saved = server.call(Method::POST, "/api/v1/me/plugins/site-daily-report/invoke", Some(&zhang), Some(json!({"method": "POST", "body": "text=x"}))).await;
        assert_eq!(saved.body["status"], 201);
        assert_eq!(server.count("SELECT COUNT(*) FROM plugin_kv WHERE person = $1 AND plugin = $2", &["zhang.wei", "site-daily-report"]).await, 1);
        let withdrawn = server.call(Method::DELETE, "/api/v1/me/plugins/customer-visit/consent?scopes=user.phone", Some(&zhang), None).await;
        assert_eq!(withdrawn.status, StatusCode::OK, "{}", withdrawn.text);
        let visits = server.invoke("zhang.wei", "customer-visit", "/visits.json").await;
        let body: Value = serde_json::from_str(visits.body["body"].as_str().expect("body")).expect("json");
        assert_eq!(body["phone"], Value::Null, "the withdrawn phone is no longer given");
        let withdrawn = server.call(Method::DELETE, "/api/v1/me/plugins/site-daily-report/consent", Some(&zhang), None).await;
        assert_eq!(withdrawn.body["usable"], false);
        assert_eq!(server.count("SELECT COUNT(*) FROM plugin_kv WHERE person = $1 AND plugin = $2", &["zhang.wei", "site-daily-report"]).await, 0);
        let reply = server.invoke("zhang.wei", "site-daily-report", "/report.json").await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);

        // Upgrade with a new optional scope: only that scope is asked for; the plugin keeps running.
        let extra = "\n[[scopes]]\nscope = \"org.department\"\npurpose = { zh = \"在日报上写明你的部门。\", en = \"Print your department on the report.\" }\n";
        let v2 = server.publish(&dev, &manifest("0.2.0", extra), daily_report_component(), None).await;
        assert_eq!(v2.status, StatusCode::CREATED, "{}", v2.text);
        let li_na = server.demo_token("li.na", MEMBER);
        let upgrade = json!({ "version": "0.2.0", "granted_scopes": ["user.id", "user.name", "storage", "log", "org.department"] });
        let upgraded = server.call(Method::PUT, "/api/v1/workbench/plugins/site-daily-report", Some(&admin), Some(upgrade)).await;
        assert_eq!(upgraded.status, StatusCode::OK, "{}", upgraded.text);
        let disclosure = server.call(Method::GET, "/api/v1/me/plugins/site-daily-report/consent", Some(&li_na), None).await;
        assert_eq!(scopes(&disclosure.body, "asking"), ["org.department"]);
        let reply = server.invoke("li.na", "site-daily-report", "/report.json").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

        // Upgrade that changes a required scope's purpose: 403 until the person consents again, to that scope only.
        let changed = manifest("0.3.0", "").replace("Print the reporter's name on the daily report.", "Print your name on reports sent to the client.");
        assert_eq!(server.publish(&dev, &changed, daily_report_component(), None).await.status, StatusCode::CREATED);
        let upgrade = json!({ "version": "0.3.0", "granted_scopes": ["user.id", "user.name", "storage", "log"] });
        server.call(Method::PUT, "/api/v1/workbench/plugins/site-daily-report", Some(&admin), Some(upgrade)).await;
        let refused = server.invoke("li.na", "site-daily-report", "/report.json").await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert_eq!(refused.body["missing"], json!([{ "scope": "user.name", "reason": "purpose_changed" }]));
        assert_eq!(scopes(&refused.body["disclosure"], "asking"), ["user.name"]);
        let again = json!({ "scopes": ["user.name"] });
        server.call(Method::PUT, "/api/v1/me/plugins/site-daily-report/consent", Some(&li_na), Some(again)).await;
        let reply = server.invoke("li.na", "site-daily-report", "/report.json").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        server.stop().await;
    }
}

on_both_databases! {
    async fn uninstall_and_member_removal_delete_their_data(db: Db) {
        let server = Server::demo(db).await;
        let admin = server.demo_token("admin", ADMIN);
        for member in ["zhang.wei", "li.na"] {
            let token = server.demo_token(member, MEMBER);
            let post = json!({ "method": "POST", "body": "text=done" });
            let saved = server.call(Method::POST, "/api/v1/me/plugins/site-daily-report/invoke", Some(&token), Some(post)).await;
            assert_eq!(saved.body["status"], 201, "{}", saved.text);
        }
        let kv = "SELECT COUNT(*) FROM plugin_kv WHERE tenant = $1 AND plugin = $2";
        let consents = "SELECT COUNT(*) FROM consents WHERE tenant = $1 AND plugin = $2";
        assert_eq!(server.count(kv, &["demo", "site-daily-report"]).await, 2);

        // Removing a member deletes their consents and storage in every plugin.
        let removed = server.call(Method::DELETE, "/api/v1/members/li.na", Some(&admin), None).await;
        assert_eq!(removed.status, StatusCode::OK, "{}", removed.text);
        assert_eq!(removed.body["storage_entries_deleted"], 1);
        assert_eq!(removed.body["consents_deleted"], 2);
        assert_eq!(server.count("SELECT COUNT(*) FROM plugin_kv WHERE person = $1", &["li.na"]).await, 0);
        assert_eq!(server.count("SELECT COUNT(*) FROM consents WHERE member = $1", &["li.na"]).await, 0);
        assert_eq!(server.count("SELECT COUNT(*) FROM members WHERE id = $1", &["li.na"]).await, 0);
        // A removed member's still-valid token no longer reaches the workbench.
        let reply = server.invoke("li.na", "site-daily-report", "/report.json").await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);

        // Uninstall: closed at once, data gone, receipt returned and audited.
        let receipt = server.call(Method::DELETE, "/api/v1/workbench/plugins/site-daily-report", Some(&admin), None).await;
        assert_eq!(receipt.status, StatusCode::OK, "{}", receipt.text);
        assert_eq!(receipt.body["storage_entries_deleted"], 1);
        assert_eq!(receipt.body["consents_deleted"], 2);
        assert_eq!(server.count(kv, &["demo", "site-daily-report"]).await, 0);
        assert_eq!(server.count(consents, &["demo", "site-daily-report"]).await, 0);
        let reply = server.invoke("zhang.wei", "site-daily-report", "/report.json").await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text);
        let seq = receipt.body["audit_seq"].as_i64().expect("seq");
        let audit = server.call(Method::GET, &format!("/api/v1/audit?action=plugin.uninstall&after={}", seq - 1), Some(&admin), None).await;
        assert_eq!(audit.body["records"][0]["seq"], seq);
        // Other plugins carry on.
        let reply = server.invoke("zhang.wei", "approval-helper", "/summary.json").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);

        // Disable stops at once; enable resumes. Withdrawal works while it is disabled.
        let off = server.call(Method::POST, "/api/v1/workbench/plugins/approval-helper/disable", Some(&admin), None).await;
        assert_eq!(off.body["state"], "disabled");
        let reply = server.invoke("zhang.wei", "approval-helper", "/summary.json").await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text);
        let zhang = server.demo_token("zhang.wei", MEMBER);
        let withdrawn = server.call(Method::DELETE, "/api/v1/me/plugins/approval-helper/consent", Some(&zhang), None).await;
        assert_eq!(withdrawn.status, StatusCode::OK, "{}", withdrawn.text);
        let active = "SELECT COUNT(*) FROM consents WHERE member = $1 AND plugin = $2 AND withdrawn_at IS NULL";
        assert_eq!(server.count(active, &["zhang.wei", "approval-helper"]).await, 0);
        let again = json!({ "scopes": ["perm.approval", "user.nickname"] });
        server.call(Method::POST, "/api/v1/workbench/plugins/approval-helper/enable", Some(&admin), None).await;
        let consented = server.call(Method::PUT, "/api/v1/me/plugins/approval-helper/consent", Some(&zhang), Some(again)).await;
        assert_eq!(consented.status, StatusCode::OK, "{}", consented.text);
        server.call(Method::POST, "/api/v1/workbench/plugins/approval-helper/enable", Some(&admin), None).await;
        let reply = server.invoke("zhang.wei", "approval-helper", "/summary.json").await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        server.stop().await;
    }
}

on_both_databases! {
    async fn admin_preview_members_visibility_and_retention(db: Db) {
        let server = Server::demo(db).await;
        let admin = server.demo_token("admin", ADMIN);
        let preview = server.call(Method::GET, "/api/v1/workbench/plugins/customer-visit/preview?member=zhang.wei", Some(&admin), None).await;
        assert_eq!(preview.status, StatusCode::OK, "{}", preview.text);
        let phone = preview.body["scopes"].as_array().expect("scopes").iter().find(|s| s["scope"] == "user.phone").cloned().expect("phone");
        assert_eq!(phone["value"], "13800138001");
        // The preview is an access zhang.wei can see.
        let zhang = server.demo_token("zhang.wei", MEMBER);
        let log = server.call(Method::GET, "/api/v1/me/access-log?limit=1000", Some(&zhang), None).await;
        assert!(log.body["accesses"].as_array().expect("accesses").iter().any(|a| a["by"] == "admin:admin" && a["scope"] == "user.phone"));

        // Visible range: only wang.fang sees the approval helper.
        let install = json!({ "version": "0.1.0", "granted_scopes": ["perm.approval", "user.nickname"], "visible_to": ["wang.fang"] });
        let narrowed = server.call(Method::PUT, "/api/v1/workbench/plugins/approval-helper", Some(&admin), Some(install)).await;
        assert_eq!(narrowed.status, StatusCode::OK, "{}", narrowed.text);
        let reply = server.invoke("zhang.wei", "approval-helper", "/summary.json").await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text);
        let mine = server.call(Method::GET, "/api/v1/me/plugins", Some(&zhang), None).await;
        assert!(mine.body.as_array().expect("list").iter().all(|p| p["plugin"] != "approval-helper"));
        let unknown = json!({ "version": "0.1.0", "granted_scopes": ["perm.approval", "user.nickname"], "visible_to": ["nobody"] });
        let refused = server.call(Method::PUT, "/api/v1/workbench/plugins/approval-helper", Some(&admin), Some(unknown)).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);

        // Member directory: patch, and the plugin sees the new value.
        let patch = json!({ "nickname": "伟哥" });
        let patched = server.call(Method::PATCH, "/api/v1/members/zhang.wei", Some(&admin), Some(patch)).await;
        assert_eq!(patched.body["profile"]["nickname"], "伟哥");
        let duplicate = json!({ "id": "zhang.wei", "profile": { "name": "重名" } });
        assert_eq!(server.call(Method::POST, "/api/v1/members", Some(&admin), Some(duplicate)).await.status, StatusCode::CONFLICT);

        // Retention: the audit floor holds.
        let short = server.call(Method::PUT, "/api/v1/settings/retention", Some(&admin), Some(json!({ "audit_days": 30 }))).await;
        assert_eq!(short.status, StatusCode::UNPROCESSABLE_ENTITY);
        let ok = server.call(Method::PUT, "/api/v1/settings/retention", Some(&admin), Some(json!({ "audit_days": 2000, "plugin_storage_days": 365 }))).await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
        let read = server.call(Method::GET, "/api/v1/settings/retention", Some(&admin), None).await;
        assert_eq!(read.body["audit_days"], 2000);
        server.stop().await;
    }
}

/// Closes, from the server's side, the idle connections whose last statement
/// is like `last_statement`; how many.
async fn close_idle(server: &Server, last_statement: &str) -> i64 {
    server
        .count(
            "SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE state = 'idle' AND query LIKE $1 AND pid <> pg_backend_pid()) AS t",
            &[last_statement],
        )
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_postgres_share_one_chain_and_see_withdrawals_at_once() {
    let a = Server::demo(crate::server::Db::Postgres).await;
    let b = a.replica().await;
    let zhang = a.demo_token("zhang.wei", MEMBER);
    let mut calls = Vec::new();
    for i in 0..40 {
        let server = if i % 2 == 0 { &a } else { &b };
        calls.push(server.invoke("zhang.wei", "site-daily-report", "/report.json"));
    }
    for reply in futures::future::join_all(calls).await {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    }
    // Each replica reads the tenant's generation, and writes its audit
    // batches, on connections it keeps out of the pool; when the server
    // closes them (a restart, a proxy), the next call reads and writes on new
    // ones instead of failing. (Other tests' idle connections may be closed
    // too: they recover the same way, and the pool pings before lending.)
    let readers = close_idle(&a, "SELECT tenant, generation FROM tenant_generations%").await;
    assert!(readers >= 2, "both replicas' generation readers were found and closed ({readers})");
    let writers = close_idle(&a, "COMMIT").await;
    assert!(writers >= 2, "both replicas' audit connections were found and closed ({writers})");
    assert_eq!(a.invoke("zhang.wei", "site-daily-report", "/report.json").await.status, StatusCode::OK);
    assert_eq!(b.invoke("zhang.wei", "site-daily-report", "/report.json").await.status, StatusCode::OK);
    // A withdrawal through one replica binds the other at once.
    let withdrawn = a.call(Method::DELETE, "/api/v1/me/plugins/site-daily-report/consent", Some(&zhang), None).await;
    assert_eq!(withdrawn.status, StatusCode::OK);
    assert_eq!(b.invoke("zhang.wei", "site-daily-report", "/report.json").await.status, StatusCode::FORBIDDEN);
    // Each replica caches invocation contexts; every other kind of change made
    // through one replica binds the other's next call too: consent given,
    // the directory, the installation's state and the member's removal.
    let consent = json!({ "scopes": ["user.id", "user.name"] });
    let given = b.call(Method::PUT, "/api/v1/me/plugins/site-daily-report/consent", Some(&zhang), Some(consent)).await;
    assert_eq!(given.status, StatusCode::OK, "{}", given.text);
    let again = a.invoke("zhang.wei", "site-daily-report", "/report.json").await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    let admin = b.demo_token("admin", ADMIN);
    let renamed = json!({ "name": "张伟（项目部）" });
    let patched = b.call(Method::PATCH, "/api/v1/members/zhang.wei", Some(&admin), Some(renamed)).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    let report = a.invoke("zhang.wei", "site-daily-report", "/report.json").await;
    let body: Value = serde_json::from_str(report.body["body"].as_str().expect("body")).expect("report JSON");
    assert_eq!(body["reporter"], "张伟（项目部）");
    let off = b.call(Method::POST, "/api/v1/workbench/plugins/site-daily-report/disable", Some(&admin), None).await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text);
    assert_eq!(a.invoke("zhang.wei", "site-daily-report", "/report.json").await.status, StatusCode::NOT_FOUND);
    let on = a.call(Method::POST, "/api/v1/workbench/plugins/site-daily-report/enable", Some(&admin), None).await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.text);
    assert_eq!(b.invoke("zhang.wei", "site-daily-report", "/report.json").await.status, StatusCode::OK);
    let removed = a.call(Method::DELETE, "/api/v1/members/zhang.wei", Some(&admin), None).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text);
    assert_eq!(b.invoke("zhang.wei", "site-daily-report", "/report.json").await.status, StatusCode::FORBIDDEN);
    // Both replicas appended to one tenant chain, and it verifies from either.
    let verify = b.call(Method::GET, "/api/v1/audit/verify", Some(&admin), None).await;
    assert_eq!(verify.body["ok"], true, "{}", verify.text);
    let reads =
        a.count("SELECT COUNT(*) FROM audit_records WHERE tenant = $1 AND action = $2", &["demo", "read"]).await;
    assert_eq!(reads, (40 + 2 + 3) * 2, "user.id and user.name of every answered call");
    b.stop().await;
    a.stop().await;
}
