//! Grants trimmed to real use: the app admin sees which granted scopes a
//! plugin has not used and which approved destinations it has not
//! contacted; narrowing the grant withdraws every member's consent to the
//! scopes taken away (one audited change), the plugin gets typed denials
//! from then on, and granting the scope again does not bring the consent
//! back.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workbench_host::model::directory::Role;

use crate::server::{Server, on_both_databases};
use crate::support::HOSTILE_MANIFEST;

const PLUGIN: &str = "hostile";

async fn invoke(server: &Server, token: &str, path: &str, query: &str) {
    let body = json!({ "method": "GET", "path": path, "query": query });
    let reply =
        server.call(Method::POST, &format!("/api/v1/me/plugins/{PLUGIN}/invoke"), Some(token), Some(body)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

/// The newest record of the plugin reading `scope`.
async fn last_read(server: &Server, admin: &str, scope: &str) -> Value {
    let page = server.call(Method::GET, &format!("/api/v1/audit?plugin={PLUGIN}&limit=1000"), Some(admin), None).await;
    page.body["records"]
        .as_array()
        .expect("records")
        .iter()
        .rev()
        .find(|r| r["scope"] == scope)
        .cloned()
        .unwrap_or(Value::Null)
}

fn scope_use<'a>(usage: &'a Value, scope: &str) -> &'a Value {
    usage["scopes"].as_array().and_then(|s| s.iter().find(|u| u["scope"] == scope)).expect("the scope is listed")
}

on_both_databases! {
    async fn unused_grants_are_shown_and_narrowing_withdraws_their_consents(db: Db) {
        let server = Server::demo(db).await;
        let admin = server.demo_token("admin", &[Role::Admin, Role::Member]);
        let zhang = server.demo_token("zhang.wei", &[Role::Member]);
        // The hostile guest, declaring a destination, granted the id, the
        // name, storage and the destination; zhang.wei consents to the id and the name.
        let dev = server.demo_token("acme", &[Role::Developer]);
        let manifest = format!("{HOSTILE_MANIFEST}\n[[egress]]\ndestination = \"https://visits.acme.example\"\npurpose = \"probe\"\n");
        let component = std::fs::read(xtask::guests().component("hostile")).expect("hostile built");
        let published = server.publish(&dev, &manifest, component, None).await;
        assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
        let install = json!({ "version": "0.1.0", "granted_scopes": ["user.id", "user.name", "storage"], "approved_egress": ["https://visits.acme.example"] });
        let installed = server.call(Method::PUT, &format!("/api/v1/workbench/plugins/{PLUGIN}"), Some(&admin), Some(install)).await;
        assert_eq!(installed.status, StatusCode::OK, "{}", installed.text);
        let consent = json!({ "scopes": ["user.id", "user.name"] });
        let given = server.call(Method::PUT, &format!("/api/v1/me/plugins/{PLUGIN}/consent"), Some(&zhang), Some(consent)).await;
        assert_eq!(given.status, StatusCode::OK, "{}", given.text);
        // Reading a stored key uses storage only: neither field, no request out.
        for _ in 0..2 {
            invoke(&server, &zhang, "/read-key", "key=x").await;
        }
        let usage = server.call(Method::GET, &format!("/api/v1/workbench/plugins/{PLUGIN}/usage"), Some(&admin), None).await;
        assert_eq!(usage.status, StatusCode::OK, "{}", usage.text);
        assert_eq!((usage.body["days"].as_u64(), usage.body["complete"].as_bool()), (Some(30), Some(true)));
        let name = scope_use(&usage.body, "user.name");
        assert_eq!((name["unused"].as_bool(), name["required"].as_bool(), name["used"].as_i64()), (Some(true), Some(false), Some(0)), "{name}");
        let storage = scope_use(&usage.body, "storage");
        assert_eq!(storage["unused"].as_bool(), Some(false), "{storage}");
        // As many as the log holds.
        let log = server.call(Method::GET, &format!("/api/v1/audit?plugin={PLUGIN}&outcome=allowed&limit=1000"), Some(&admin), None).await;
        let read = log.body["records"].as_array().expect("records").iter().filter(|r| r["scope"] == "storage").count();
        assert_eq!(storage["used"].as_u64(), Some(read as u64));
        assert!(read >= 2);
        let visits = &usage.body["destinations"][0];
        assert_eq!((visits["destination"].as_str(), visits["unused"].as_bool(), visits["requests"].as_i64()), (Some("https://visits.acme.example"), Some(true), Some(0)), "{visits}");

        // What cannot be taken away is refused by name.
        let narrow = format!("/api/v1/workbench/plugins/{PLUGIN}/narrow");
        let invalid = StatusCode::UNPROCESSABLE_ENTITY;
        for (body, says) in [
            (json!({ "scopes": ["user.email"] }), "not granted: user.email"),
            (json!({ "destinations": ["https://elsewhere.example"] }), "is not approved"),
            (json!({}), "name the scopes or destinations"),
        ] {
            let reply = server.call(Method::POST, &narrow, Some(&admin), Some(body.clone())).await;
            assert_eq!(reply.status, invalid, "{body}: {}", reply.text);
            assert!(reply.text.contains(says), "{body}: {}", reply.text);
        }
        assert_eq!(server.call(Method::POST, &narrow, Some(&zhang), Some(json!({ "scopes": ["user.name"] }))).await.status, StatusCode::FORBIDDEN);
        // A required scope cannot go: site-daily-report cannot run without the name.
        let required = server.call(Method::POST, "/api/v1/workbench/plugins/site-daily-report/narrow", Some(&admin), Some(json!({ "scopes": ["user.name"] }))).await;
        assert_eq!(required.status, invalid, "{}", required.text);
        assert!(required.text.contains("cannot run without user.name"), "{}", required.text);
        assert_eq!(server.call(Method::GET, &format!("/api/v1/workbench/plugins/{PLUGIN}/usage?days=0"), Some(&admin), None).await.status, invalid);
        assert_eq!(server.call(Method::GET, "/api/v1/workbench/plugins/not-installed/usage", Some(&admin), None).await.status, StatusCode::NOT_FOUND);

        // One action takes the unused name and destination away.
        let body = json!({ "scopes": ["user.name"], "destinations": ["https://visits.acme.example"] });
        let narrowed = server.call(Method::POST, &narrow, Some(&admin), Some(body)).await;
        assert_eq!(narrowed.status, StatusCode::OK, "{}", narrowed.text);
        assert_eq!(narrowed.body["consents_withdrawn"], 1, "zhang.wei's name: {}", narrowed.text);
        let granted = narrowed.body["installation"]["granted_scopes"].as_array().expect("granted").clone();
        assert!(!granted.contains(&json!("user.name")) && granted.contains(&json!("storage")), "{granted:?}");
        assert_eq!(narrowed.body["installation"]["approved_egress"], json!([]));
        let change = server.call(Method::GET, "/api/v1/audit?action=plugin.grant", Some(&admin), None).await;
        let reason = change.body["records"].as_array().and_then(|r| r.last()).map(|r| r["reason"].to_string()).unwrap_or_default();
        assert!(reason.contains("taking away [user.name]") && reason.contains("1 members' consents withdrawn"), "{reason}");

        // The probe's name read is now a typed denial.
        invoke(&server, &zhang, "/probe", "").await;
        let denied = last_read(&server, &admin, "user.name").await;
        assert_eq!((denied["outcome"].as_str(), denied["reason"].as_str()), (Some("denied"), Some("not_granted")), "{denied}");
        // Granted again, the name still needs zhang.wei's consent anew.
        let mut scopes = granted.clone();
        scopes.push(json!("user.name"));
        let again = json!({ "version": "0.1.0", "granted_scopes": scopes });
        let regranted = server.call(Method::PUT, &format!("/api/v1/workbench/plugins/{PLUGIN}"), Some(&admin), Some(again)).await;
        assert_eq!(regranted.status, StatusCode::OK, "{}", regranted.text);
        invoke(&server, &zhang, "/probe", "").await;
        let denied = last_read(&server, &admin, "user.name").await;
        assert_eq!((denied["outcome"].as_str(), denied["reason"].as_str()), (Some("denied"), Some("consent_withdrawn")), "{denied}");
        server.stop().await;
    }
}
