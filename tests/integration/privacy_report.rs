//! A member's privacy report (`/api/v1/me/privacy-report`): per plugin, the
//! member's fields it read (as many times as their access log says), and
//! where its requests went with the fields they could have carried; one
//! line at the top in the member's language; nothing of anyone else.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workbench_host::demo::visits::StandIn;
use workbench_host::model::directory::Role;

use crate::server::{Server, on_both_databases};

/// Every page of `member`'s access log: (plugin, scope) -> allowed reads.
async fn access_log(server: &Server, token: &str) -> BTreeMap<(String, String), i64> {
    let mut reads = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(after) => format!("/api/v1/me/access-log?limit=1000&after={after}"),
            None => "/api/v1/me/access-log?limit=1000".to_owned(),
        };
        let page = server.call(Method::GET, &path, Some(token), None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        for access in page.body["accesses"].as_array().expect("accesses") {
            let by = access["by"].as_str().unwrap_or_default();
            let Some(plugin) = by.strip_prefix("plugin:").and_then(|p| p.split_once('@')).map(|(id, _)| id) else {
                continue;
            };
            let scope = access["scope"].as_str().filter(|s| !matches!(*s, "storage" | "log" | "notify"));
            if let Some(scope) = scope.filter(|_| access["outcome"] == "allowed" && access["sent_to"].is_null()) {
                *reads.entry((plugin.to_owned(), scope.to_owned())).or_default() += 1;
            }
        }
        match page.body["next"].as_str() {
            Some(next) => after = Some(next.to_owned()),
            None => return reads,
        }
    }
}

fn report_reads(report: &Value) -> BTreeMap<(String, String), i64> {
    let mut reads = BTreeMap::new();
    for plugin in report["plugins"].as_array().expect("plugins") {
        for field in plugin["fields"].as_array().expect("fields") {
            let key = (
                plugin["plugin"].as_str().unwrap_or_default().to_owned(),
                field["scope"].as_str().unwrap_or_default().to_owned(),
            );
            reads.insert(key, field["reads"].as_i64().unwrap_or_default());
        }
    }
    reads
}

on_both_databases! {
    async fn a_member_sees_which_plugins_read_which_fields_and_where_data_could_go(db: Db) {
        let dir = tempfile::tempdir().expect("tempdir");
        let stand_in = StandIn::start(dir.path()).await.expect("the stand-in starts");
        let server = Server::demo_configured(db, |config| {
            stand_in.route(&mut config.egress);
            config.egress.plain_http_hosts = vec!["127.0.0.1".into()];
        })
        .await;
        let zhang = server.demo_token("zhang.wei", &[Role::Member]);
        let li = server.demo_token("li.na", &[Role::Member]);
        // zhang.wei opens the daily report and plans a visit (sent to Acme's service).
        let opened = server.call(Method::POST, "/api/v1/me/plugins/site-daily-report/invoke", Some(&zhang), Some(json!({ "path": "/" }))).await;
        assert_eq!(opened.status, StatusCode::OK, "{}", opened.text);
        let plan = json!({
            "method": "POST", "path": "/visits", "body": "customer=c-1001&date=2026-12-08",
            "headers": [["content-type", "application/x-www-form-urlencoded"]],
        });
        let planned = server.call(Method::POST, "/api/v1/me/plugins/customer-visit/invoke", Some(&zhang), Some(plan)).await;
        assert_eq!(planned.status, StatusCode::OK, "{}", planned.text);
        // li.na opens the daily report too: none of it is zhang.wei's.
        let hers = server.call(Method::POST, "/api/v1/me/plugins/site-daily-report/invoke", Some(&li), Some(json!({ "path": "/" }))).await;
        assert_eq!(hers.status, StatusCode::OK, "{}", hers.text);

        let report = server.call_with(Method::GET, "/api/v1/me/privacy-report", Some(&zhang), None, &[("accept-language", "en")]).await;
        assert_eq!(report.status, StatusCode::OK, "{}", report.text);
        assert_eq!((report.body["days"].as_u64(), report.body["lang"].as_str()), (Some(7), Some("en")));
        let reads = report_reads(&report.body);
        assert_eq!(reads, access_log(&server, &zhang).await, "the report counts what the access log lists");
        let fields: BTreeSet<&str> = reads.keys().map(|(_, scope)| scope.as_str()).collect();
        assert!(fields.contains("user.name") && fields.contains("user.phone"), "{fields:?}");
        let expected = format!("In the last 7 days 2 plugins read {} of your fields; 1 sent data to visits.acme.example.", fields.len());
        assert_eq!(report.body["summary"], expected.as_str());
        let visit = report.body["plugins"].as_array().expect("plugins").iter().find(|p| p["plugin"] == "customer-visit").expect("customer-visit").clone();
        let sent = &visit["sent"][0];
        assert_eq!((sent["destination"].as_str(), sent["requests"].as_i64()), (Some("https://visits.acme.example"), Some(1)), "{visit}");
        let carried: Vec<&str> = sent["could_include"].as_array().expect("fields").iter().filter_map(Value::as_str).collect();
        assert!(carried.contains(&"user.phone") && carried.contains(&"user.nickname"), "{carried:?}");

        // In Chinese by default; li.na's report has only her own reads.
        let zh = server.call(Method::GET, "/api/v1/me/privacy-report", Some(&zhang), None).await;
        assert_eq!(zh.body["summary"], format!("过去 7 天，2 个应用读取了你的 {} 项信息；1 个应用向 visits.acme.example 发送了数据。", fields.len()).as_str());
        let hers = server.call(Method::GET, "/api/v1/me/privacy-report", Some(&li), None).await;
        let names: Vec<&str> = hers.body["plugins"].as_array().expect("plugins").iter().filter_map(|p| p["plugin"].as_str()).collect();
        assert_eq!(names, ["site-daily-report"], "{}", hers.text);
        assert_eq!(report_reads(&hers.body), access_log(&server, &li).await);

        // Bounded, and only for a member.
        for days in ["0", "91"] {
            let reply = server.call(Method::GET, &format!("/api/v1/me/privacy-report?days={days}"), Some(&zhang), None).await;
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
            assert!(reply.text.contains("days must be 1 to 90"), "{}", reply.text);
        }
        let auditor = server.demo_token("admin", &[Role::Auditor]);
        assert_eq!(server.call(Method::GET, "/api/v1/me/privacy-report", Some(&auditor), None).await.status, StatusCode::FORBIDDEN);
        server.stop().await;
    }
}
