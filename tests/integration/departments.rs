//! Visible ranges by rule, decided at each call: departments form a tree
//! kept by the member admin, an installation's range names everyone,
//! departments (with their sub-departments) and members, and its deny
//! lists win. A member moved into a department sees the plugin on their
//! next call; moved out, 404 (a hidden plugin is not advertised), with
//! their consents kept on record.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workbench_host::model::directory::Role;

use crate::server::{Reply, Server, on_both_databases};

const INVOKE: &str = "/api/v1/me/plugins/site-daily-report/invoke";

async fn put_department(server: &Server, token: &str, id: &str, name: &str, parent: Option<&str>) -> Reply {
    server
        .call(
            Method::PUT,
            &format!("/api/v1/departments/{id}"),
            Some(token),
            Some(json!({ "name": name, "parent": parent })),
        )
        .await
}

async fn move_member(server: &Server, token: &str, id: &str, departments: &[&str]) -> Reply {
    let patch = json!({ "departments": departments });
    server
        .raw(
            Method::PATCH,
            &format!("/api/v1/members/{id}"),
            Some(token),
            "application/merge-patch+json",
            patch.to_string().into_bytes(),
        )
        .await
}

async fn sees(server: &Server, member: &str) -> (StatusCode, bool) {
    let token = server.demo_token(member, &[Role::Member]);
    let ran = server.call(Method::POST, INVOKE, Some(&token), Some(json!({ "path": "/report.json" }))).await;
    let listed = server.call(Method::GET, "/api/v1/me/plugins", Some(&token), None).await;
    let shown = listed.body.as_array().is_some_and(|list| list.iter().any(|p| p["plugin"] == "site-daily-report"));
    (ran.status, shown)
}

fn names(preview: &Value) -> Vec<&str> {
    preview["members"].as_array().map(|list| list.iter().filter_map(|m| m["id"].as_str()).collect()).unwrap_or_default()
}

on_both_databases! {
    async fn a_visible_range_by_departments_follows_the_directory_at_each_call(db: Db) {
        let server = Server::demo(db).await;
        let admin = server.demo_token("admin", &[Role::Admin, Role::Member]);
        // The tree: 工程部 > 工地项目部 > 北区; 财务部.
        for (id, name, parent, code) in [
            ("eng", "工程部", None, StatusCode::CREATED),
            ("eng.site", "工地项目部", Some("eng"), StatusCode::CREATED),
            ("eng.site.north", "北区", Some("eng.site"), StatusCode::CREATED),
            ("finance", "财务部", None, StatusCode::CREATED),
            ("eng.site", "工地项目部", Some("eng"), StatusCode::OK),
        ] {
            let reply = put_department(&server, &admin, id, name, parent).await;
            assert_eq!(reply.status, code, "{id}: {}", reply.text);
        }
        // Bad trees are refused with the reason.
        for (id, parent, says) in [
            ("eng", Some("eng.site.north"), "already under it"),
            ("x", Some("nowhere"), "is not a department"),
            ("Bad Id", None, "department id"),
            ("loop", Some("loop"), "its own parent"),
        ] {
            let reply = put_department(&server, &admin, id, "名字", parent).await;
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{id}: {}", reply.text);
            assert!(reply.text.contains(says), "{id}: {}", reply.text);
        }
        let listed = server.call(Method::GET, "/api/v1/departments", Some(&admin), None).await;
        assert_eq!(listed.body.as_array().map(Vec::len), Some(4), "{}", listed.text);

        // 工程部 with its sub-departments, except 北区 and except 李娜.
        let range = json!({ "departments": ["eng"], "deny_departments": ["eng.site.north"], "deny_members": ["li.na"] });
        let install = json!({ "version": "0.1.0", "granted_scopes": ["user.id", "user.name", "storage", "log"], "visible_range": range });
        let installed = server.call(Method::PUT, "/api/v1/workbench/plugins/site-daily-report", Some(&admin), Some(install)).await;
        assert_eq!(installed.status, StatusCode::OK, "{}", installed.text);
        assert_eq!(installed.body["visible_range"]["departments"], json!(["eng"]), "{}", installed.text);

        // Nobody is in a department yet: hidden from all, as not installed.
        assert_eq!(sees(&server, "zhang.wei").await, (StatusCode::NOT_FOUND, false));
        let preview = server.call(Method::POST, "/api/v1/workbench/range-preview", Some(&admin), Some(range.clone())).await;
        assert_eq!((preview.status, preview.body["count"].as_u64()), (StatusCode::OK, Some(0)), "{}", preview.text);

        // Moved into 工地项目部 (under 工程部): the next call runs.
        assert_eq!(move_member(&server, &admin, "zhang.wei", &["eng.site"]).await.status, StatusCode::OK);
        assert_eq!(sees(&server, "zhang.wei").await, (StatusCode::OK, true));
        // A denied member of an allowed department, and a member of a denied
        // sub-department, never see it.
        assert_eq!(move_member(&server, &admin, "li.na", &["eng"]).await.status, StatusCode::OK);
        assert_eq!(sees(&server, "li.na").await, (StatusCode::NOT_FOUND, false));
        assert_eq!(move_member(&server, &admin, "wang.fang", &["eng.site.north"]).await.status, StatusCode::OK);
        assert_eq!(sees(&server, "wang.fang").await, (StatusCode::NOT_FOUND, false));
        let preview = server.call(Method::POST, "/api/v1/workbench/range-preview", Some(&admin), Some(range.clone())).await;
        assert_eq!(preview.body["count"], 1, "{}", preview.text);
        assert_eq!(names(&preview.body), ["zhang.wei"]);
        assert_eq!(preview.body["members"][0]["name"], "张伟");

        // The tree itself moves: 工地项目部 under 财务部 takes 张伟 out of range.
        assert_eq!(put_department(&server, &admin, "eng.site", "工地项目部", Some("finance")).await.status, StatusCode::OK);
        assert_eq!(sees(&server, "zhang.wei").await, (StatusCode::NOT_FOUND, false));
        assert_eq!(put_department(&server, &admin, "eng.site", "工地项目部", Some("eng")).await.status, StatusCode::OK);
        assert_eq!(sees(&server, "zhang.wei").await, (StatusCode::OK, true));

        // Moved out: 404 on the next call, and the consents stay on record.
        assert_eq!(move_member(&server, &admin, "zhang.wei", &["finance"]).await.status, StatusCode::OK);
        assert_eq!(sees(&server, "zhang.wei").await, (StatusCode::NOT_FOUND, false));
        let kept = server
            .count("SELECT COUNT(*) FROM consents WHERE tenant = $1 AND member = $2 AND plugin = $3 AND withdrawn_at IS NULL", &["demo", "zhang.wei", "site-daily-report"])
            .await;
        assert!(kept >= 2, "his consents are kept: {kept}");

        // What cannot be: an unknown department in a range or a profile,
        // both forms of range at once, removing a department still used.
        let unknown = json!({ "version": "0.1.0", "granted_scopes": ["user.id", "user.name", "storage", "log"], "visible_range": { "departments": ["nowhere"] } });
        let reply = server.call(Method::PUT, "/api/v1/workbench/plugins/site-daily-report", Some(&admin), Some(unknown)).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
        assert!(reply.text.contains("nowhere"), "{}", reply.text);
        let both = json!({ "version": "0.1.0", "granted_scopes": ["user.id", "user.name", "storage", "log"], "visible_range": { "everyone": true }, "visible_to": ["li.na"] });
        assert_eq!(server.call(Method::PUT, "/api/v1/workbench/plugins/site-daily-report", Some(&admin), Some(both)).await.status, StatusCode::UNPROCESSABLE_ENTITY);
        let reply = move_member(&server, &admin, "li.na", &["nowhere"]).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
        for (id, says) in [("eng", "has members (li.na)"), ("eng.site", "under it"), ("finance", "has members"), ("eng.site.north", "has members")] {
            let reply = server.call(Method::DELETE, &format!("/api/v1/departments/{id}"), Some(&admin), None).await;
            assert_eq!(reply.status, StatusCode::CONFLICT, "{id}: {}", reply.text);
            assert!(reply.text.contains(says), "{id}: {}", reply.text);
        }
        assert_eq!(move_member(&server, &admin, "wang.fang", &[]).await.status, StatusCode::OK);
        let reply = server.call(Method::DELETE, "/api/v1/departments/eng.site.north", Some(&admin), None).await;
        assert_eq!(reply.status, StatusCode::CONFLICT, "a range names it: {}", reply.text);
        assert!(reply.text.contains("site-daily-report"), "{}", reply.text);
        let everyone = json!({ "version": "0.1.0", "granted_scopes": ["user.id", "user.name", "storage", "log"] });
        assert_eq!(server.call(Method::PUT, "/api/v1/workbench/plugins/site-daily-report", Some(&admin), Some(everyone)).await.status, StatusCode::OK);
        assert_eq!(server.call(Method::DELETE, "/api/v1/departments/eng.site.north", Some(&admin), None).await.status, StatusCode::NO_CONTENT);
        assert_eq!(server.call(Method::DELETE, "/api/v1/departments/eng.site.north", Some(&admin), None).await.status, StatusCode::NOT_FOUND);
        // Everyone again: 张伟 (in 财务部 now) sees it.
        assert_eq!(sees(&server, "zhang.wei").await, (StatusCode::OK, true));

        // Only the member admin keeps the tree; the auditor cannot read it.
        let auditor = server.demo_token("zhou.min", &[Role::Auditor]);
        assert_eq!(server.call(Method::GET, "/api/v1/departments", Some(&auditor), None).await.status, StatusCode::FORBIDDEN);
        assert_eq!(put_department(&server, &auditor, "audit", "审计部", None).await.status, StatusCode::FORBIDDEN);
        let log = server.call(Method::GET, "/api/v1/audit?action=department.put", Some(&auditor), None).await;
        assert_eq!(log.body["records"].as_array().map(Vec::len), Some(7), "{}", log.text);
        server.stop().await;
    }
}
