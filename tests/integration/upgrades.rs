//! The upgrade review queue: a newer version of a plugin a tenant runs
//! waits with its diff until an app admin approves or declines it; a
//! version that widens nothing applies itself where the tenant allows it
//! (and waits where not); declining keeps the old version serving; the
//! developer sees counts per version only.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workbench_host::model::directory::Role;

use crate::server::{Server, on_both_databases};

fn manifest(version: &str) -> String {
    std::fs::read_to_string(xtask::repo_root().join("plugins/site-daily-report/plugin.toml"))
        .expect("manifest")
        .replace("version = \"0.1.0\"", &format!("version = \"{version}\""))
}

fn component() -> Vec<u8> {
    std::fs::read(xtask::guests().component("site-daily-report")).expect("built")
}

async fn installed_version(server: &Server, tenant_admin: &str) -> String {
    let list = server.call(Method::GET, "/api/v1/workbench/plugins", Some(tenant_admin), None).await;
    list.body
        .as_array()
        .and_then(|l| l.iter().find(|i| i["plugin"] == "site-daily-report"))
        .map(|i| i["version"].as_str().unwrap_or("").to_owned())
        .unwrap_or_default()
}

fn pending(review: &Value) -> Option<&Value> {
    review["pending"].as_array().and_then(|l| l.iter().find(|p| p["plugin"] == "site-daily-report"))
}

on_both_databases! {
    async fn a_widening_version_waits_for_review_and_a_narrowing_one_applies_itself_where_allowed(db: Db) {
        let server = Server::demo(db).await;
        let admin = server.demo_token("admin", &[Role::Admin, Role::Member]);
        let dev = server.demo_token("acme", &[Role::Developer]);
        // A second tenant runs the same plugin and lets narrowing versions apply themselves.
        let other = server.token("beta", "boss", &[Role::Admin, Role::Member]);
        // Its range names 吴磊, who has left since: an upgrade keeps the rest of the range.
        let wu = json!({ "id": "wu.lei", "profile": { "name": "吴磊" } });
        assert_eq!(server.call(Method::POST, "/api/v1/members", Some(&other), Some(wu)).await.status, StatusCode::CREATED);
        let install = json!({ "version": "0.1.0", "granted_scopes": ["user.id", "user.name", "storage"], "visible_range": { "members": ["wu.lei"], "deny_members": ["wu.lei"] } });
        let installed = server.call(Method::PUT, "/api/v1/workbench/plugins/site-daily-report", Some(&other), Some(install)).await;
        assert_eq!(installed.status, StatusCode::OK, "{}", installed.text);
        assert_eq!(server.call(Method::DELETE, "/api/v1/members/wu.lei", Some(&other), None).await.status, StatusCode::OK);
        let on = server.call(Method::PUT, "/api/v1/workbench/upgrade-settings", Some(&other), Some(json!({ "auto_apply": true }))).await;
        assert_eq!((on.status, on.body["auto_apply"].as_bool()), (StatusCode::OK, Some(true)), "{}", on.text);

        // 0.1.1 widens nothing: it applies itself in beta, and waits in demo (off by default).
        assert_eq!(server.publish(&dev, &manifest("0.1.1"), component(), None).await.status, StatusCode::CREATED);
        assert_eq!(installed_version(&server, &other).await, "0.1.1", "applied though its range named a member who left");
        assert_eq!(installed_version(&server, &admin).await, "0.1.0");
        let review = server.call(Method::GET, "/api/v1/workbench/upgrades", Some(&admin), None).await;
        assert_eq!(review.status, StatusCode::OK, "{}", review.text);
        assert_eq!(review.body["auto_apply"], false);
        let waiting = pending(&review.body).expect("0.1.1 waits in demo");
        assert_eq!((waiting["installed"].as_str(), waiting["version"].as_str(), waiting["widens"].as_bool()), (Some("0.1.0"), Some("0.1.1"), Some(false)), "{waiting}");
        // The workbench's own upgrade is in beta's log, by name.
        let beta_log = server.call(Method::GET, "/api/v1/audit?action=plugin.upgrade", Some(&other), None).await;
        assert_eq!(beta_log.body["records"][0]["actor"], "workbench:auto-upgrade", "{}", beta_log.text);

        // 0.2.0 asks for the nickname and rewords a purpose: it waits everywhere, with its diff.
        let wider = manifest("0.2.0")
            .replace("在日报上写明填报人的姓名。", "在日报上写明填报人的姓名，并抄送项目经理。")
            + "\n[[scopes]]\nscope = \"user.nickname\"\npurpose = { zh = \"在日报抬头称呼你。\", en = \"Greet you on the report.\" }\n";
        assert_eq!(server.publish(&dev, &wider, component(), None).await.status, StatusCode::CREATED);
        assert_eq!(installed_version(&server, &other).await, "0.1.1", "a widening version never applies itself");
        let review = server.call_with(Method::GET, "/api/v1/workbench/upgrades", Some(&admin), None, &[("accept-language", "en")]).await;
        let waiting = pending(&review.body).expect("0.2.0 waits");
        assert_eq!((waiting["version"].as_str(), waiting["widens"].as_bool()), (Some("0.2.0"), Some(true)), "{waiting}");
        assert_eq!(waiting["diff"]["added_scopes"], json!(["user.nickname"]));
        assert_eq!(waiting["diff"]["purposes"][0]["what"], "user.name");
        assert_eq!(waiting["diff"]["purposes"][0]["after"], "Print the reporter's name on the daily report.", "English words where the texts are the same: {waiting}");
        assert_eq!(waiting["lang"], "en");

        // Declined in demo: 0.1.0 keeps serving; the decline is shown and logged.
        let zhang = server.demo_token("zhang.wei", &[Role::Member]);
        let refused = server.call(Method::POST, "/api/v1/workbench/upgrades/site-daily-report/decline", Some(&admin), Some(json!({ "version": "0.2.0", "reason": " " }))).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
        let declined = server.call(Method::POST, "/api/v1/workbench/upgrades/site-daily-report/decline", Some(&admin), Some(json!({ "version": "0.2.0", "reason": "昵称不需要" }))).await;
        assert_eq!(declined.status, StatusCode::NO_CONTENT, "{}", declined.text);
        assert_eq!(installed_version(&server, &admin).await, "0.1.0");
        let ran = server.call(Method::POST, "/api/v1/me/plugins/site-daily-report/invoke", Some(&zhang), Some(json!({ "path": "/report.json" }))).await;
        assert_eq!(ran.status, StatusCode::OK, "{}", ran.text);
        let review = server.call(Method::GET, "/api/v1/workbench/upgrades", Some(&admin), None).await;
        assert_eq!(pending(&review.body).map(|p| p["declined"]["reason"].clone()), Some(json!("昵称不需要")));

        // The developer sees counts per version, nothing else; another developer sees nothing.
        let counts = server.call(Method::GET, "/api/v1/plugins/site-daily-report/adoption", Some(&dev), None).await;
        assert_eq!(counts.status, StatusCode::OK, "{}", counts.text);
        assert_eq!(counts.body, json!([
            { "version": "0.2.0", "running": 0, "pending": 1 },
            { "version": "0.1.1", "running": 1, "pending": 1 },
            { "version": "0.1.0", "running": 1, "pending": 0 },
        ]), "demo declined 0.2.0; beta runs 0.1.1 and has 0.2.0 waiting");
        assert!(!counts.text.contains("demo") && !counts.text.contains("beta"));
        let stranger = server.token("elsewhere", "mallory", &[Role::Developer]);
        assert_eq!(server.call(Method::GET, "/api/v1/plugins/site-daily-report/adoption", Some(&stranger), None).await.status, StatusCode::NOT_FOUND);

        // Approved in beta: it runs with the nickname granted; members are asked for it.
        let approved = server.call(Method::POST, "/api/v1/workbench/upgrades/site-daily-report/approve", Some(&other), Some(json!({ "version": "0.2.0" }))).await;
        assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
        assert_eq!(approved.body["version"], "0.2.0");
        assert!(approved.body["granted_scopes"].as_array().is_some_and(|g| g.contains(&json!("user.nickname"))), "{}", approved.text);
        let again = server.call(Method::POST, "/api/v1/workbench/upgrades/site-daily-report/approve", Some(&other), Some(json!({ "version": "0.2.0" }))).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "not newer any more: {}", again.text);
        let missing = server.call(Method::POST, "/api/v1/workbench/upgrades/site-daily-report/approve", Some(&admin), Some(json!({ "version": "9.9.9" }))).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.text);
        // Demo approves 0.2.0 after all; 0.1.1 and 0.2.0 leave its queue.
        let approved = server.call(Method::POST, "/api/v1/workbench/upgrades/site-daily-report/approve", Some(&admin), Some(json!({ "version": "0.2.0" }))).await;
        assert_eq!(approved.status, StatusCode::OK, "{}", approved.text);
        let review = server.call(Method::GET, "/api/v1/workbench/upgrades", Some(&admin), None).await;
        assert!(pending(&review.body).is_none(), "{}", review.text);
        // 张伟 keeps his consents; only the rewording is asked again (user.name's purpose).
        let asked = server.call(Method::POST, "/api/v1/me/plugins/site-daily-report/invoke", Some(&zhang), Some(json!({ "path": "/report.json" }))).await;
        assert_eq!((asked.status, asked.body["error"].as_str()), (StatusCode::FORBIDDEN, Some("consent_required")), "{}", asked.text);
        assert!(asked.text.contains("user.name"), "{}", asked.text);

        // Only the app admin reviews.
        let auditor = server.demo_token("zhou.min", &[Role::Auditor]);
        assert_eq!(server.call(Method::GET, "/api/v1/workbench/upgrades", Some(&auditor), None).await.status, StatusCode::FORBIDDEN);
        assert_eq!(server.call(Method::PUT, "/api/v1/workbench/upgrade-settings", Some(&auditor), Some(json!({ "auto_apply": true }))).await.status, StatusCode::FORBIDDEN);
        server.stop().await;
    }
}
