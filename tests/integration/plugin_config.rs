//! Plugin configuration: the keys a manifest declares (`[[config]]`), the
//! values the tenant's admin sets at install (checked, audited), and what
//! the plugin reads through `wasi:config/store`, with the Rust SDK
//! (客户拜访 sending planned visits to the base URL it is configured with,
//! against the demo's stand-in service over TLS) and with componentize-py
//! (the courier guest, raw bindings and the Python SDK).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workbench_host::demo::visits::StandIn;
use workbench_host::model::directory::Role;

use crate::egress::{egress_records, last_seq};
use crate::server::{Server, on_both_databases};

async fn plan(server: &Server, member: &str, form: &str) -> Value {
    let token = server.demo_token(member, &[Role::Member]);
    let body = json!({
        "method": "POST", "path": "/visits", "body": form,
        "headers": [["content-type", "application/x-www-form-urlencoded"]],
    });
    let reply = server.call(Method::POST, "/api/v1/me/plugins/customer-visit/invoke", Some(&token), Some(body)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["status"], 201, "{}", reply.text);
    serde_json::from_str(reply.body["body"].as_str().expect("a body")).expect("JSON")
}

async fn configure(server: &Server, plugin: &str, install: Value) -> (StatusCode, Value) {
    let admin = server.demo_token("admin", &[Role::Admin]);
    let reply =
        server.call(Method::PUT, &format!("/api/v1/workbench/plugins/{plugin}"), Some(&admin), Some(install)).await;
    (reply.status, reply.body)
}

on_both_databases! {
    async fn a_plugin_reads_the_configuration_its_admin_set(db: Db) {
        let dir = tempfile::tempdir().expect("tempdir");
        let stand_in = StandIn::start(dir.path()).await.expect("the stand-in starts");
        let server = Server::demo_configured(db, |config| {
            stand_in.route(&mut config.egress);
            config.egress.plain_http_hosts = vec!["127.0.0.1".into()];
        })
        .await;
        let admin = server.demo_token("admin", &[Role::Admin]);

        // The admin sees what 客户拜访 declares and that nothing is set yet.
        let listed = server.call(Method::GET, "/api/v1/workbench/plugins", Some(&admin), None).await;
        let visit = listed.body.as_array().expect("installations").iter().find(|i| i["plugin"] == "customer-visit").expect("installed").clone();
        assert_eq!(visit["declared_config"][0]["key"], "visits_url", "{visit}");
        assert_eq!(visit["declared_config"][0]["default"], "https://visits.acme.example", "{visit}");
        assert_eq!(visit["config"], json!({}), "{visit}");
        assert_eq!(visit["approved_egress"], json!(["https://visits.acme.example"]), "{visit}");
        let catalogue = server.call(Method::GET, "/api/v1/plugins/customer-visit", Some(&admin), None).await;
        assert_eq!(catalogue.body["versions"][0]["config"][0]["key"], "visits_url", "{}", catalogue.text);

        // With the default, a planned visit reaches the service over TLS:
        // the nickname and, as zhang.wei consented to it, the phone.
        let since = last_seq(&server).await;
        let planned = plan(&server, "zhang.wei", "customer=c-1001&date=2026-12-08&note=%E5%B8%A6%E4%B8%8A%E5%90%88%E5%90%8C").await;
        assert_eq!(planned["sent"], "V-0001", "{planned}");
        let received = stand_in.received();
        assert_eq!(received.len(), 1);
        assert_eq!(
            (received[0].visit.customer_id.as_str(), received[0].visit.date.as_str(), received[0].visit.note.as_str()),
            ("c-1001", "2026-12-08", "带上合同")
        );
        assert_eq!((received[0].visit.planner.as_str(), received[0].visit.phone.as_deref()), ("小张", Some("13800138001")));
        let records = egress_records(&server, since).await;
        assert_eq!(records.len(), 1, "{records:?}");
        let detail = &records[0]["egress"];
        assert_eq!((records[0]["outcome"].as_str(), detail["destination"].as_str(), detail["status"].as_u64()), (Some("allowed"), Some("https://visits.acme.example"), Some(201)), "{}", records[0]);
        assert_eq!(detail["could_include"], json!(["user.nickname", "user.phone", "perm.customer"]), "{}", records[0]);

        // Configuration cannot widen where the plugin sends: pointed at a
        // host the manifest does not declare, the request is refused.
        let (status, view) = configure(&server, "customer-visit", json!({
            "version": "0.2.0", "granted_scopes": ["user.nickname", "user.avatar", "perm.customer", "user.phone", "storage"],
            "approved_egress": ["https://visits.acme.example"], "config": {"visits_url": "https://evil.example/api"},
        })).await;
        assert_eq!(status, StatusCode::OK, "{view}");
        assert_eq!(view["config"], json!({"visits_url": "https://evil.example/api"}), "{view}");
        let since = last_seq(&server).await;
        let planned = plan(&server, "zhang.wei", "customer=c-1001&date=2026-12-09").await;
        assert_eq!(planned["sent"], Value::Null, "{planned}");
        assert_eq!(planned["unsent"], "refused", "{planned}");
        let records = egress_records(&server, since).await;
        assert_eq!(records.len(), 1, "{records:?}");
        assert_eq!(records[0]["outcome"], "denied", "{}", records[0]);
        assert!(records[0]["reason"].as_str().is_some_and(|r| r.starts_with("not_declared")), "{}", records[0]);
        assert_eq!(records[0]["egress"]["destination"], "https://evil.example", "{}", records[0]);
        assert_eq!(stand_in.received().len(), 1, "nothing more reached the service");
        // The change is in the audit log, with the value.
        let changes = server.call(Method::GET, "/api/v1/audit?action=plugin.grant&limit=10", Some(&admin), None).await;
        let reasons: Vec<&str> = changes.body["records"].as_array().expect("records").iter().filter_map(|r| r["reason"].as_str()).collect();
        assert!(reasons.iter().any(|r| r.contains("configured visits_url=\"https://evil.example/api\"")), "{reasons:?}");

        // Every bad value is refused with what to change, and changes nothing.
        let install = |config: Value| json!({
            "version": "0.2.0", "granted_scopes": ["user.nickname", "user.avatar", "perm.customer", "storage"],
            "approved_egress": ["https://visits.acme.example"], "config": config,
        });
        for (config, want) in [
            (json!({"nope": "x"}), "customer-visit@0.2.0 declares no key \"nope\"; it declares visits_url"),
            (json!({"visits_url": "https://a.example\nHost: b"}), "the value of visits_url contains a control character"),
            (json!({"visits_url": "x".repeat(2049)}), "the value of visits_url is longer than 2048 characters"),
            (json!({"visits_url": 7}), "config"),
        ] {
            let (status, body) = configure(&server, "customer-visit", install(config.clone())).await;
            assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{config}: {body}");
            assert!(body["message"].as_str().is_some_and(|m| m.contains(want)), "{config}: {body}");
        }
        // A value is kept as the plugin reads it, without surrounding blanks.
        let (status, view) =
            configure(&server, "customer-visit", install(json!({"visits_url": " https://visits.acme.example/ "}))).await;
        assert_eq!((status, &view["config"]), (StatusCode::OK, &json!({"visits_url": "https://visits.acme.example/"})), "{view}");
        // An empty value is the default again.
        let (status, view) = configure(&server, "customer-visit", install(json!({"visits_url": " "}))).await;
        assert_eq!((status, &view["config"]), (StatusCode::OK, &json!({})), "{view}");
        let planned = plan(&server, "zhang.wei", "customer=c-1001&date=2026-12-10").await;
        assert_eq!(planned["sent"], "V-0002", "{planned}");
        assert_eq!(stand_in.received()[1].visit.phone, None, "the phone is no longer granted, so it is not sent");

        // A plugin from another toolchain (componentize-py, raw bindings and
        // the Python SDK) reads its own keys, and only its own.
        let manifest = std::fs::read_to_string(xtask::repo_root().join("tests/guests-py/courier/plugin.toml")).expect("manifest");
        let component = std::fs::read(xtask::python_guests().component("courier")).expect("built");
        let dev = server.demo_token("acme", &[Role::Developer]);
        let published = server.publish(&dev, &manifest, component, None).await;
        assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
        let courier = |config: Value| json!({"version": "0.1.0", "granted_scopes": ["user.name"], "config": config});
        let (status, body) = configure(&server, "py-courier", courier(json!({}))).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(body["message"].as_str().is_some_and(|m| m.contains("py-courier@0.1.0 needs a value for service_url")), "{body}");
        let (status, body) = configure(&server, "py-courier", courier(json!({"service_url": "https://svc.acme.example", "greeting": ""}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let read = |path: &'static str| {
            let server = &server;
            async move { server.invoke("zhang.wei", "py-courier", path).await.body["body"].as_str().map(str::to_owned) }
        };
        let every = "service_url=https://svc.acme.example,greeting=你好";
        assert_eq!(read("/config?key=service_url").await.as_deref(), Some(format!("https://svc.acme.example|{every}").as_str()));
        assert_eq!(read("/config?key=greeting").await.as_deref(), Some(format!("你好|{every}").as_str()), "the default");
        assert_eq!(read("/config?key=undeclared").await.as_deref(), Some(format!("-|{every}").as_str()));
        assert_eq!(read("/config?key=visits_url").await.as_deref(), Some(format!("-|{every}").as_str()), "another plugin's key");
        let (status, body) = configure(&server, "py-courier", courier(json!({"service_url": "https://svc.acme.example", "greeting": "您好"}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            read("/sdk-config?key=greeting").await.as_deref(),
            Some("您好|service_url=https://svc.acme.example,greeting=您好"),
            "the SDK reads the admin's value"
        );
        server.stop().await;
    }
}
