//! Who may administer a tenant is decided at every call: an admin token is
//! honoured only while the tenant's directory gives its member the admin
//! role (a tenant being set up, with no admin in its directory yet, takes
//! the token's word), so a removed or demoted admin's next call is refused.

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
        let add = json!({ "id": "zhou.min", "profile": { "name": "周敏", "roles": ["admin", "member"] } });
        let added = server.call(Method::POST, "/api/v1/members", Some(&admin), Some(add)).await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
        let zhou = server.demo_token("zhou.min", ADMIN);
        assert_eq!(status(&server.call(Method::GET, "/api/v1/members", Some(&zhou), None).await), StatusCode::OK);
        assert_eq!(status(&server.call(Method::GET, "/api/v1/audit", Some(&zhou), None).await), StatusCode::OK);

        // Demoted in the directory: the same token's next admin call is
        // refused; the member routes still answer.
        let demoted = server
            .raw(Method::PATCH, "/api/v1/members/zhou.min", Some(&admin), "application/merge-patch+json",
                json!({ "roles": ["member"] }).to_string().into_bytes())
            .await;
        assert_eq!(demoted.status, StatusCode::OK, "{}", demoted.text);
        for (method, path) in [(Method::GET, "/api/v1/members"), (Method::GET, "/api/v1/audit"), (Method::GET, "/api/v1/workbench/plugins")] {
            let refused = server.call(method, path, Some(&zhou), None).await;
            assert_eq!((refused.status, refused.body["error"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{path}: {}", refused.text);
            assert!(refused.text.contains("admin role"), "{}", refused.text);
        }
        let install = json!({ "version": "0.1.0", "granted_scopes": ["user.id"] });
        let refused = server.call(Method::PUT, "/api/v1/workbench/plugins/site-daily-report", Some(&zhou), Some(install)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
        assert_eq!(status(&server.call(Method::GET, "/api/v1/me/plugins", Some(&zhou), None).await), StatusCode::OK);

        // Given the role back, the token works again; removed, it does not.
        let promoted = server
            .raw(Method::PATCH, "/api/v1/members/zhou.min", Some(&admin), "application/merge-patch+json",
                json!({ "roles": ["admin", "member"] }).to_string().into_bytes())
            .await;
        assert_eq!(promoted.status, StatusCode::OK, "{}", promoted.text);
        assert_eq!(status(&server.call(Method::GET, "/api/v1/members", Some(&zhou), None).await), StatusCode::OK);
        let removed = server.call(Method::DELETE, "/api/v1/members/zhou.min", Some(&admin), None).await;
        assert_eq!(removed.status, StatusCode::OK, "{}", removed.text);
        let refused = server.call(Method::GET, "/api/v1/members", Some(&zhou), None).await;
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
