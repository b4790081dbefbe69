//! Who may administer a tenant is decided at every call: an administrative
//! role on a token is honoured only while the tenant's directory gives its
//! member that role too (a tenant being set up, with no administrator in
//! its directory yet, takes the token's word), so a removed or demoted
//! admin's next call is refused. Each job (app_admin, member_admin, auditor)
//! reaches its own routes only, a member admin manages only the roles below
//! their own, and sessions can be ended: a member's own "sign out
//! everywhere", or a member admin's for a lost laptop.

use reqwest::{Method, StatusCode};
use serde_json::json;
use workbench_host::model::directory::Role;

use crate::server::{Server, on_both_databases};

const ADMIN: &[Role] = &[Role::Admin, Role::Member];

on_both_databases! {
    async fn an_admin_is_refused_on_the_next_call_once_the_directory_no_longer_names_them(db: Db) {
        let server = Server::demo(db).await;
        let admin = server.demo_token("admin", ADMIN);
        let status = |reply: &crate::server::Reply| reply.status;

        // A second admin, added to the directory, administers.
        let add = json!({ "id": "zhao.min", "profile": { "name": "周敏", "roles": ["admin", "member"] } });
        let added = server.call(Method::POST, "/api/v1/members", Some(&admin), Some(add)).await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
        let zhao = server.demo_token("zhao.min", ADMIN);
        assert_eq!(status(&server.call(Method::GET, "/api/v1/members", Some(&zhao), None).await), StatusCode::OK);
        assert_eq!(status(&server.call(Method::GET, "/api/v1/audit", Some(&zhao), None).await), StatusCode::OK);

        // Demoted in the directory: the same token's next admin call is
        // refused; the member routes still answer.
        let demoted = server
            .raw(Method::PATCH, "/api/v1/members/zhao.min", Some(&admin), "application/merge-patch+json",
                json!({ "roles": ["member"] }).to_string().into_bytes())
            .await;
        assert_eq!(demoted.status, StatusCode::OK, "{}", demoted.text);
        for (method, path) in [(Method::GET, "/api/v1/members"), (Method::GET, "/api/v1/audit"), (Method::GET, "/api/v1/workbench/plugins")] {
            let refused = server.call(method, path, Some(&zhao), None).await;
            assert_eq!((refused.status, refused.body["error"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{path}: {}", refused.text);
            assert!(refused.text.contains("does not give you the"), "{}", refused.text);
        }
        let install = json!({ "version": "0.1.0", "granted_scopes": ["user.id"] });
        let refused = server.call(Method::PUT, "/api/v1/workbench/plugins/site-daily-report", Some(&zhao), Some(install)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
        assert_eq!(status(&server.call(Method::GET, "/api/v1/me/plugins", Some(&zhao), None).await), StatusCode::OK);

        // Given the role back, the token works again; removed, it does not.
        let promoted = server
            .raw(Method::PATCH, "/api/v1/members/zhao.min", Some(&admin), "application/merge-patch+json",
                json!({ "roles": ["admin", "member"] }).to_string().into_bytes())
            .await;
        assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.text);
        assert_eq!(status(&server.call(Method::GET, "/api/v1/members", Some(&zhao), None).await), StatusCode::OK);
        let removed = server.call(Method::DELETE, "/api/v1/members/zhao.min", Some(&admin), None).await;
        assert_eq!(removed.status, StatusCode::OK, "{}", removed.text);
        let refused = server.call(Method::GET, "/api/v1/members", Some(&zhao), None).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
        assert!(refused.text.contains("not in this workbench's directory"), "{}", refused.text);

        // A token naming the admin role for someone the directory does not
        // name is refused, though it is signed; so is the role on a token of
        // a member the directory gives no admin role.
        let stranger = server.demo_token("someone.else", ADMIN);
        assert_eq!(status(&server.call(Method::GET, "/api/v1/members", Some(&stranger), None).await), StatusCode::FORBIDDEN);
        let lina = server.demo_token("li.na", ADMIN);
        assert_eq!(status(&server.call(Method::GET, "/api/v1/audit", Some(&lina), None).await), StatusCode::FORBIDDEN);
        // The demo admin, whom the directory names, still administers.
        assert_eq!(status(&server.call(Method::GET, "/api/v1/members", Some(&admin), None).await), StatusCode::OK);
        server.stop().await;
    }
}

on_both_databases! {
    async fn a_tenant_being_set_up_takes_the_admin_token_until_its_directory_names_an_admin(db: Db) {
        let server = Server::empty(db).await;
        let boss = server.token("fresh", "boss", ADMIN);
        let eve = server.token("fresh", "eve", ADMIN);
        // No admin in the directory yet: the first admin's token is taken at its word.
        let add = json!({ "id": "wu.lei", "profile": { "name": "吴磊", "roles": ["member"] } });
        assert_eq!(server.call(Method::POST, "/api/v1/members", Some(&boss), Some(add)).await.status, StatusCode::CREATED);
        assert_eq!(server.call(Method::GET, "/api/v1/members", Some(&eve), None).await.status, StatusCode::OK);
        // The first admin puts themselves in the directory: from then on only
        // the directory's admins administer.
        let me = json!({ "id": "boss", "profile": { "name": "王总", "roles": ["admin", "member"] } });
        assert_eq!(server.call(Method::POST, "/api/v1/members", Some(&boss), Some(me)).await.status, StatusCode::CREATED);
        assert_eq!(server.call(Method::GET, "/api/v1/members", Some(&boss), None).await.status, StatusCode::OK);
        let refused = server.call(Method::GET, "/api/v1/members", Some(&eve), None).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
        // A profile that only mentions the word is no admin.
        let titled = json!({ "id": "zhao.lei", "profile": { "name": "赵雷", "title": "admin", "roles": ["member"] } });
        let other = server.token("other-fresh", "boss", ADMIN);
        assert_eq!(server.call(Method::POST, "/api/v1/members", Some(&other), Some(titled)).await.status, StatusCode::CREATED);
        assert_eq!(server.call(Method::GET, "/api/v1/members", Some(&server.token("other-fresh", "eve", ADMIN)), None).await.status, StatusCode::OK);
        server.stop().await;
    }
}

/// A merge patch of a member's profile.
async fn patch_member(server: &Server, token: &str, id: &str, patch: serde_json::Value) -> crate::server::Reply {
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

on_both_databases! {
    async fn each_administrative_job_reaches_its_own_routes_and_nothing_else(db: Db) {
        let server = Server::demo(db).await;
        let admin = server.demo_token("admin", ADMIN);
        for (id, role) in [("sun.li", "app_admin"), ("qian.hao", "member_admin")] {
            let add = json!({ "id": id, "profile": { "name": id, "roles": [role, "member"] } });
            assert_eq!(server.call(Method::POST, "/api/v1/members", Some(&admin), Some(add)).await.status, StatusCode::CREATED);
        }
        let auditor = server.demo_token("zhou.min", &[Role::Auditor, Role::Member]);
        let apps = server.demo_token("sun.li", &[Role::AppAdmin, Role::Member]);
        let people = server.demo_token("qian.hao", &[Role::MemberAdmin, Role::Member]);
        let install = json!({ "version": "0.1.0", "granted_scopes": ["user.id", "user.name", "storage", "log"] });
        let new_member = |id: &str| json!({ "id": id, "profile": { "name": id } });
        let status = |reply: crate::server::Reply| (reply.status, reply.text);

        // The auditor reads the log, verifies and exports it, and changes nothing.
        for path in ["/api/v1/audit", "/api/v1/audit/verify", "/api/v1/audit/export", "/api/v1/workbench/plugins", "/api/v1/settings/retention"] {
            let (code, text) = status(server.call(Method::GET, path, Some(&auditor), None).await);
            assert_eq!(code, StatusCode::OK, "auditor {path}: {text}");
        }
        let refused: Vec<(Method, &str, Option<serde_json::Value>)> = vec![
            (Method::PUT, "/api/v1/workbench/plugins/site-daily-report", Some(install.clone())),
            (Method::POST, "/api/v1/workbench/plugins/site-daily-report/disable", None),
            (Method::DELETE, "/api/v1/workbench/plugins/customer-visit", None),
            (Method::GET, "/api/v1/members", None),
            (Method::POST, "/api/v1/members", Some(new_member("x.one"))),
            (Method::DELETE, "/api/v1/members/wang.fang", None),
            (Method::POST, "/api/v1/members/li.na/sessions/end", None),
            (Method::PUT, "/api/v1/settings/retention", Some(json!({ "audit_days": 1500 }))),
        ];
        for (method, path, body) in refused {
            let (code, text) = status(server.call(method.clone(), path, Some(&auditor), body).await);
            assert_eq!(code, StatusCode::FORBIDDEN, "auditor {method} {path}: {text}");
        }

        // The app admin runs plugins and reads the directory for visible
        // ranges, but neither changes the directory nor reads the audit log.
        let (code, text) = status(server.call(Method::PUT, "/api/v1/workbench/plugins/site-daily-report", Some(&apps), Some(install.clone())).await);
        assert_eq!(code, StatusCode::OK, "{text}");
        assert_eq!(server.call(Method::GET, "/api/v1/members", Some(&apps), None).await.status, StatusCode::OK);
        assert_eq!(server.call(Method::POST, "/api/v1/members", Some(&apps), Some(new_member("x.two"))).await.status, StatusCode::FORBIDDEN);
        assert_eq!(patch_member(&server, &apps, "li.na", json!({ "region": "北京" })).await.status, StatusCode::FORBIDDEN);
        assert_eq!(server.call(Method::GET, "/api/v1/audit", Some(&apps), None).await.status, StatusCode::FORBIDDEN);

        // The member admin keeps the directory but cannot install or read the log.
        assert_eq!(server.call(Method::POST, "/api/v1/members", Some(&people), Some(new_member("x.three"))).await.status, StatusCode::CREATED);
        let refused = server.call(Method::PUT, "/api/v1/workbench/plugins/site-daily-report", Some(&people), Some(install.clone())).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
        assert!(refused.text.contains("app_admin"), "{}", refused.text);
        assert_eq!(server.call(Method::GET, "/api/v1/audit", Some(&people), None).await.status, StatusCode::FORBIDDEN);

        // Roles below their own: a member admin gives and takes developer,
        // but no administrative role, and cannot touch an administrator.
        assert_eq!(patch_member(&server, &people, "li.na", json!({ "roles": ["member", "developer"] })).await.status, StatusCode::OK);
        let (code, text) = status(patch_member(&server, &people, "li.na", json!({ "roles": ["member", "auditor"] })).await);
        assert_eq!(code, StatusCode::FORBIDDEN, "{text}");
        assert!(text.contains("only an admin may give"), "{text}");
        let (code, text) = status(patch_member(&server, &people, "qian.hao", json!({ "roles": ["admin", "member"] })).await);
        assert_eq!(code, StatusCode::FORBIDDEN, "a member admin does not make themselves admin: {text}");
        let (code, text) = status(patch_member(&server, &people, "zhou.min", json!({ "roles": ["member"] })).await);
        assert_eq!(code, StatusCode::FORBIDDEN, "{text}");
        assert!(text.contains("holds an administrative role"), "{text}");
        assert_eq!(server.call(Method::DELETE, "/api/v1/members/admin", Some(&people), None).await.status, StatusCode::FORBIDDEN);
        let added = server.call(Method::POST, "/api/v1/members", Some(&people), Some(json!({ "id": "x.four", "profile": { "name": "x", "roles": ["auditor"] } }))).await;
        assert_eq!(added.status, StatusCode::FORBIDDEN, "{}", added.text);
        assert_eq!(server.count("SELECT COUNT(*) FROM members WHERE tenant = $1 AND id = $2", &["demo", "x.four"]).await, 0);
        // The last admin can be neither demoted nor removed (nobody could
        // administer the tenant again); a second admin can be (see above).
        for reply in [
            patch_member(&server, &admin, "admin", json!({ "roles": ["member"] })).await,
            server.call(Method::DELETE, "/api/v1/members/admin", Some(&admin), None).await,
        ] {
            assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text);
            assert!(reply.text.contains("last admin"), "{}", reply.text);
        }
        // The admin does all of it.
        assert_eq!(patch_member(&server, &admin, "li.na", json!({ "roles": ["member", "auditor"] })).await.status, StatusCode::OK);

        // A token's role the directory does not give counts for nothing: the
        // auditor's token claiming admin is still only an auditor; the
        // directory's admin with an auditor's token is only an auditor.
        let claiming = server.demo_token("zhou.min", &[Role::Admin, Role::Member]);
        assert_eq!(server.call(Method::GET, "/api/v1/audit", Some(&claiming), None).await.status, StatusCode::OK);
        assert_eq!(server.call(Method::PUT, "/api/v1/workbench/plugins/site-daily-report", Some(&claiming), Some(install.clone())).await.status, StatusCode::FORBIDDEN);
        let narrow = server.demo_token("admin", &[Role::Auditor]);
        assert_eq!(server.call(Method::GET, "/api/v1/audit", Some(&narrow), None).await.status, StatusCode::OK);
        assert_eq!(server.call(Method::GET, "/api/v1/members", Some(&narrow), None).await.status, StatusCode::FORBIDDEN);

        // Demoted from app_admin, the same token's next install is refused.
        assert_eq!(patch_member(&server, &admin, "sun.li", json!({ "roles": ["member"] })).await.status, StatusCode::OK);
        let refused = server.call(Method::POST, "/api/v1/workbench/plugins/site-daily-report/disable", Some(&apps), None).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
        server.stop().await;
    }
}

on_both_databases! {
    async fn signing_out_everywhere_ends_every_earlier_token_of_that_member_only(db: Db) {
        let server = Server::demo(db).await;
        let admin = server.demo_token("admin", ADMIN);
        let zhang = server.demo_token("zhang.wei", &[Role::Member]);
        let zhang_laptop = server.demo_token("zhang.wei", &[Role::Member]);
        let lina = server.demo_token("li.na", &[Role::Member]);
        let invoke = json!({ "path": "/report.json" });
        let invoke_path = "/api/v1/me/plugins/site-daily-report/invoke";
        assert_eq!(server.call(Method::POST, invoke_path, Some(&zhang_laptop), Some(invoke.clone())).await.status, StatusCode::OK);

        // 张伟 signs out everywhere from his phone.
        let ended = server.call(Method::POST, "/api/v1/me/sessions/end", Some(&zhang), None).await;
        assert_eq!(ended.status, StatusCode::OK, "{}", ended.text);
        assert_eq!(ended.body["member"], "zhang.wei");
        assert!(ended.body["ended_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{}", ended.text);
        // Every earlier token of his is refused, on every route a member
        // has, the invocation included, with a code the page can tell apart.
        for (method, path, body) in [
            (Method::POST, invoke_path, Some(invoke.clone())),
            (Method::GET, "/api/v1/me/plugins", None),
            (Method::GET, "/api/v1/me/export", None),
            (Method::PUT, "/api/v1/me/plugins/site-daily-report/consent", Some(json!({ "scopes": ["user.id"] }))),
            (Method::GET, "/api/v1/me/plugins/customer-visit/avatar?src=https%3A%2F%2Favatars.example%2Fzhang.wei.png", None),
            (Method::POST, "/api/v1/me/sessions/end", None),
        ] {
            for token in [&zhang, &zhang_laptop] {
                let refused = server.call(method.clone(), path, Some(token), body.clone()).await;
                assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{method} {path}: {}", refused.text);
                assert_eq!(refused.body["error"], "session_ended", "{method} {path}: {}", refused.text);
                assert!(!refused.text.contains("13800138001"), "{}", refused.text);
            }
        }
        // Nobody else's: 李娜 and the admin go on.
        assert_eq!(server.call(Method::POST, invoke_path, Some(&lina), Some(invoke.clone())).await.status, StatusCode::OK);
        assert_eq!(server.call(Method::GET, "/api/v1/members", Some(&admin), None).await.status, StatusCode::OK);
        // Signing in again works (a token of a later second).
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let again = server.demo_token("zhang.wei", &[Role::Member]);
        assert_eq!(server.call(Method::POST, invoke_path, Some(&again), Some(invoke.clone())).await.status, StatusCode::OK);

        // A member admin ends another member's sessions (a lost laptop);
        // an administrator's ended session ends their administration too.
        let add = json!({ "id": "qian.hao", "profile": { "name": "钱浩", "roles": ["member_admin", "member"] } });
        assert_eq!(server.call(Method::POST, "/api/v1/members", Some(&admin), Some(add)).await.status, StatusCode::CREATED);
        let people = server.demo_token("qian.hao", &[Role::MemberAdmin, Role::Member]);
        let ended = server.call(Method::POST, "/api/v1/members/li.na/sessions/end", Some(&people), None).await;
        assert_eq!(ended.status, StatusCode::OK, "{}", ended.text);
        let refused = server.call(Method::POST, invoke_path, Some(&lina), Some(invoke.clone())).await;
        assert_eq!((refused.status, refused.body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("session_ended")), "{}", refused.text);
        assert_eq!(server.call(Method::POST, invoke_path, Some(&again), Some(invoke.clone())).await.status, StatusCode::OK);
        let ended = server.call(Method::POST, "/api/v1/members/admin/sessions/end", Some(&people), None).await;
        assert_eq!(ended.status, StatusCode::OK, "{}", ended.text);
        let refused = server.call(Method::GET, "/api/v1/audit", Some(&admin), None).await;
        assert_eq!((refused.status, refused.body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("session_ended")), "{}", refused.text);
        // Nobody else may, and an unknown member is named.
        let refused = server.call(Method::POST, "/api/v1/members/qian.hao/sessions/end", Some(&again), None).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
        let missing = server.call(Method::POST, "/api/v1/members/no.body/sessions/end", Some(&people), None).await;
        assert_eq!((missing.status, missing.body["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{}", missing.text);
        assert_eq!(server.call(Method::POST, "/api/v1/members/li.na/sessions/end", None, None).await.status, StatusCode::UNAUTHORIZED);

        // Each ending is in the audit log: who ended whose sessions.
        let auditor = server.demo_token("zhou.min", &[Role::Auditor]);
        let log = server.call(Method::GET, "/api/v1/audit?action=session.end", Some(&auditor), None).await;
        assert_eq!(log.status, StatusCode::OK, "{}", log.text);
        let records = log.body["records"].as_array().expect("records");
        let seen: Vec<(String, String)> = records
            .iter()
            .map(|r| (r["actor"].as_str().unwrap_or("").to_owned(), r["subject"].as_str().unwrap_or("").to_owned()))
            .collect();
        for expected in [("member:zhang.wei", "zhang.wei"), ("admin:qian.hao", "li.na"), ("admin:qian.hao", "admin")] {
            assert!(seen.iter().any(|(a, s)| a == expected.0 && s == expected.1), "{expected:?} in {seen:?}");
        }
        assert_eq!(records.len(), 3, "{}", log.text);
        server.stop().await;
    }
}
