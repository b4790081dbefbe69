//! Members opening plugins themselves (the privacy guide §5.3's second
//! path): within the bounds an app admin sets, never a sensitive scope
//! without an admin's approval; requests approved and declined with a
//! reason the member sees; an opening the admin ends is 404 on the
//! member's next call. Every step audited.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workbench_host::model::directory::Role;

use crate::server::{Reply, Server, on_both_databases};

async fn invoke(server: &Server, member: &str, plugin: &str) -> Reply {
    let token = server.demo_token(member, &[Role::Member]);
    server
        .call(Method::POST, &format!("/api/v1/me/plugins/{plugin}/invoke"), Some(&token), Some(json!({ "path": "/" })))
        .await
}

fn entry<'a>(catalogue: &'a Value, plugin: &str) -> Option<&'a Value> {
    catalogue.as_array().and_then(|list| list.iter().find(|e| e["plugin"] == plugin))
}

on_both_databases! {
    async fn members_open_plugins_within_the_bounds_and_ask_for_the_rest(db: Db) {
        let server = Server::demo(db).await;
        let admin = server.demo_token("admin", &[Role::Admin, Role::Member]);
        let zhang = server.demo_token("zhang.wei", &[Role::Member]);
        let wang = server.demo_token("wang.fang", &[Role::Member]);
        // Neither example is installed any more: members will bring them in.
        for plugin in ["customer-visit", "approval-helper"] {
            let removed = server.call(Method::DELETE, &format!("/api/v1/workbench/plugins/{plugin}"), Some(&admin), None).await;
            assert_eq!(removed.status, StatusCode::OK, "{}", removed.text);
        }
        // Nothing is offered by default.
        let catalogue = server.call(Method::GET, "/api/v1/me/catalogue", Some(&zhang), None).await;
        assert_eq!(catalogue.body, json!([]), "{}", catalogue.text);
        let refused = server.call(Method::POST, "/api/v1/me/catalogue/customer-visit/open", Some(&zhang), None).await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.text);

        // Open to members: a sensitive scope in the bounds is refused.
        let visits = "/api/v1/workbench/self-service/customer-visit";
        let bounds = json!({ "mode": "open", "scopes": ["user.nickname", "user.avatar", "perm.customer", "storage", "user.phone"], "egress": ["https://visits.acme.example"] });
        let reply = server.call(Method::PUT, visits, Some(&admin), Some(bounds)).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
        assert!(reply.text.contains("user.phone is sensitive"), "{}", reply.text);
        let reply = server.call(Method::PUT, visits, Some(&admin), Some(json!({ "mode": "open", "scopes": ["user.salary"] }))).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
        let reply = server.call(Method::PUT, visits, Some(&admin), Some(json!({ "mode": "open", "scopes": ["user.birthday"] }))).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "a scope it does not declare: {}", reply.text);
        // Bounds without a required scope: opening is refused, naming it.
        let narrow = json!({ "mode": "open", "scopes": ["user.nickname", "storage"] });
        assert_eq!(server.call(Method::PUT, visits, Some(&admin), Some(narrow)).await.status, StatusCode::OK);
        let reply = server.call(Method::POST, "/api/v1/me/catalogue/customer-visit/open", Some(&zhang), None).await;
        assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text);
        assert!(reply.text.contains("user.avatar, perm.customer"), "{}", reply.text);
        let bounds = json!({ "mode": "open", "scopes": ["user.nickname", "user.avatar", "perm.customer", "storage"], "egress": ["https://visits.acme.example"] });
        let set = server.call(Method::PUT, visits, Some(&admin), Some(bounds)).await;
        assert_eq!(set.status, StatusCode::OK, "{}", set.text);

        // 张伟 opens it: installed within the bounds, visible to him alone.
        let catalogue = server.call(Method::GET, "/api/v1/me/catalogue", Some(&zhang), None).await;
        assert_eq!(entry(&catalogue.body, "customer-visit").map(|e| e["state"].clone()), Some(json!("available")), "{}", catalogue.text);
        let opened = server.call(Method::POST, "/api/v1/me/catalogue/customer-visit/open", Some(&zhang), None).await;
        assert_eq!(opened.status, StatusCode::OK, "{}", opened.text);
        let installed = server.call(Method::GET, "/api/v1/workbench/plugins", Some(&admin), None).await;
        let visit = installed.body.as_array().and_then(|l| l.iter().find(|i| i["plugin"] == "customer-visit")).cloned().expect("installed");
        assert_eq!(visit["visible_range"]["members"], json!(["zhang.wei"]), "{visit}");
        assert_eq!(visit["granted_scopes"], json!(["user.avatar", "user.nickname", "perm.customer", "storage"]), "{visit}");
        assert_eq!(visit["approved_egress"], json!(["https://visits.acme.example"]), "{visit}");
        // He is asked for consent like for any plugin; 李娜 does not see it.
        let asked = invoke(&server, "zhang.wei", "customer-visit").await;
        assert_eq!((asked.status, asked.body["error"].as_str()), (StatusCode::FORBIDDEN, Some("consent_required")), "{}", asked.text);
        assert_eq!(invoke(&server, "li.na", "customer-visit").await.status, StatusCode::NOT_FOUND);
        let catalogue = server.call(Method::GET, "/api/v1/me/catalogue", Some(&zhang), None).await;
        assert_eq!(entry(&catalogue.body, "customer-visit").map(|e| e["state"].clone()), Some(json!("opened")));
        // The member cannot ask for what is open to him.
        let reply = server.call(Method::POST, "/api/v1/me/catalogue/customer-visit/request", Some(&zhang), Some(json!({ "reason": "x" }))).await;
        assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text);

        // On request only, with a sensitive scope an approval may grant.
        let helper = "/api/v1/workbench/self-service/approval-helper";
        let bounds = json!({ "mode": "request", "scopes": ["perm.approval", "user.nickname"] });
        assert_eq!(server.call(Method::PUT, helper, Some(&admin), Some(bounds)).await.status, StatusCode::OK);
        let reply = server.call(Method::POST, "/api/v1/me/catalogue/approval-helper/open", Some(&wang), None).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
        let asked = server.call(Method::POST, "/api/v1/me/catalogue/approval-helper/request", Some(&wang), Some(json!({ "reason": "报销审批" }))).await;
        assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.text);
        assert_eq!(asked.body["state"], "pending");
        let again = server.call(Method::POST, "/api/v1/me/catalogue/approval-helper/request", Some(&wang), Some(json!({ "reason": "again" }))).await;
        assert_eq!(again.status, StatusCode::CONFLICT, "one pending request at a time: {}", again.text);
        let first = asked.body["id"].as_i64().expect("id");
        // Declined with a reason the member sees; a decline without one is refused.
        let decide = |id: i64| format!("/api/v1/workbench/requests/{id}/decide");
        let reply = server.call(Method::POST, &decide(first), Some(&admin), Some(json!({ "approve": false }))).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
        let declined = server.call(Method::POST, &decide(first), Some(&admin), Some(json!({ "approve": false, "reason": "财务部暂不开放" }))).await;
        assert_eq!((declined.status, declined.body["state"].as_str()), (StatusCode::OK, Some("declined")), "{}", declined.text);
        let twice = server.call(Method::POST, &decide(first), Some(&admin), Some(json!({ "approve": true }))).await;
        assert_eq!(twice.status, StatusCode::CONFLICT, "{}", twice.text);
        let catalogue = server.call(Method::GET, "/api/v1/me/catalogue", Some(&wang), None).await;
        let mine = entry(&catalogue.body, "approval-helper").expect("offered");
        assert_eq!((mine["state"].as_str(), mine["decision"].as_str()), (Some("declined"), Some("财务部暂不开放")), "{}", catalogue.text);
        assert_eq!(invoke(&server, "wang.fang", "approval-helper").await.status, StatusCode::NOT_FOUND);
        // Asked again and approved: it is hers.
        let asked = server.call(Method::POST, "/api/v1/me/catalogue/approval-helper/request", Some(&wang), Some(json!({ "reason": "月底报销" }))).await;
        let second = asked.body["id"].as_i64().expect("id");
        let approved = server.call(Method::POST, &decide(second), Some(&admin), Some(json!({ "approve": true }))).await;
        assert_eq!((approved.status, approved.body["state"].as_str()), (StatusCode::OK, Some("approved")), "{}", approved.text);
        let asked = invoke(&server, "wang.fang", "approval-helper").await;
        assert_eq!((asked.status, asked.body["error"].as_str()), (StatusCode::FORBIDDEN, Some("consent_required")), "{}", asked.text);
        assert_eq!(server.call(Method::POST, &decide(999_999), Some(&admin), Some(json!({ "approve": true }))).await.status, StatusCode::NOT_FOUND);

        // The app admin sees who opened what, and ends 张伟's: 404 on his next call.
        let overview = server.call(Method::GET, "/api/v1/workbench/self-service", Some(&admin), None).await;
        let openings: Vec<(String, String, String)> = overview.body["openings"].as_array().expect("openings").iter()
            .map(|o| (o["plugin"].as_str().unwrap_or("").into(), o["member"].as_str().unwrap_or("").into(), o["via"].as_str().unwrap_or("").into()))
            .collect();
        assert_eq!(openings, [("approval-helper".into(), "wang.fang".into(), "approved".into()), ("customer-visit".into(), "zhang.wei".into(), "opened".into())]);
        assert_eq!(overview.body["requests"].as_array().map(Vec::len), Some(2), "{}", overview.text);
        let ended = server.call(Method::DELETE, "/api/v1/workbench/self-service/customer-visit/openings/zhang.wei", Some(&admin), None).await;
        assert_eq!(ended.status, StatusCode::NO_CONTENT, "{}", ended.text);
        assert_eq!(invoke(&server, "zhang.wei", "customer-visit").await.status, StatusCode::NOT_FOUND);
        let again = server.call(Method::DELETE, "/api/v1/workbench/self-service/customer-visit/openings/zhang.wei", Some(&admin), None).await;
        assert_eq!(again.status, StatusCode::NOT_FOUND);

        // Uninstalled, its openings go with it (and a removed member's with them).
        assert_eq!(server.call(Method::DELETE, "/api/v1/workbench/plugins/approval-helper", Some(&admin), None).await.status, StatusCode::OK);
        assert_eq!(server.count("SELECT COUNT(*) FROM self_openings WHERE tenant = $1 AND plugin = $2", &["demo", "approval-helper"]).await, 0);
        // Only the app admin decides; the auditor reads every step in the log.
        let auditor = server.demo_token("zhou.min", &[Role::Auditor]);
        assert_eq!(server.call(Method::POST, &decide(second), Some(&auditor), Some(json!({ "approve": true }))).await.status, StatusCode::FORBIDDEN);
        assert_eq!(server.call(Method::PUT, helper, Some(&zhang), Some(json!({ "mode": "open" }))).await.status, StatusCode::FORBIDDEN);
        for (action, expected) in [("selfservice.set", 3), ("plugin.open", 2), ("plugin.request", 2), ("request.decide", 2), ("opening.end", 1)] {
            let log = server.call(Method::GET, &format!("/api/v1/audit?action={action}"), Some(&auditor), None).await;
            assert_eq!(log.body["records"].as_array().map(Vec::len), Some(expected), "{action}: {}", log.text);
        }
        server.stop().await;
    }
}
