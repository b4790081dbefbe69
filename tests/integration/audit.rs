//! The audit chain verifies, and names the first bad record after a row is
//! altered, deleted, reordered or the table truncated, straight in the
//! database, on SQLite and on PostgreSQL; the audit query's filters select
//! exactly the matching records.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use workbench_host::audit::verify::ChainBreak;
use workbench_host::model::directory::Role;

use crate::server::{Db, Server, execute_raw, on_both_databases};
use crate::support::Host;

/// A demo host with some plugin traffic; returns it and its record count.
async fn host_with_history(db: Db) -> (Host, i64) {
    let host = Host::demo_on(db).await;
    for _ in 0..3 {
        host.get("zhang.wei", "site-daily-report", "/report.json").await.expect("runs");
        host.get("zhang.wei", "approval-helper", "/summary.json").await.expect("runs");
    }
    let reports = host.workbench.verify_audit(Some("demo")).await.expect("verifies");
    assert!(reports[0].ok(), "{:?}", reports[0].error);
    let records = reports[0].records;
    assert!(records > 10);
    (host, records)
}

async fn verify_after(db: Db, sql: &str) -> Option<ChainBreak> {
    let (host, _) = host_with_history(db).await;
    execute_raw(&host.database_url, sql).await;
    let reports = host.workbench.verify_audit(Some("demo")).await.expect("verify runs");
    host.stop().await;
    reports[0].error.clone()
}

on_both_databases! {
    async fn an_untouched_chain_verifies_and_every_call_is_in_it(db: Db) {
        let (host, records) = host_with_history(db).await;
        // 4 publishes (3 examples + hostile) + 3 installs + 4 consents + 3 x (user.name, user.id,
        // storage.get in the daily report; perm.approval, user.nickname in the approval helper)
        assert_eq!(records, 4 + 3 + 4 + 3 * (3 + 2));
        host.stop().await;    }
}

on_both_databases! {
    async fn an_altered_row_is_named(db: Db) {
        let error = verify_after(db, "UPDATE audit_records SET outcome = 'denied' WHERE tenant = 'demo' AND seq = 9").await;
        assert_eq!(error, Some(ChainBreak::Altered { seq: 9 }));    }
}

on_both_databases! {
    async fn a_deleted_row_is_named(db: Db) {
        let error = verify_after(db, "DELETE FROM audit_records WHERE tenant = 'demo' AND seq = 12").await;
        assert_eq!(error, Some(ChainBreak::Missing { seq: 12, found: 13 }));    }
}

on_both_databases! {
    async fn reordered_rows_are_named(db: Db) {
        // Swap the content of records 10 and 11, keeping their seq numbers.
        let error = verify_after(db,
            "UPDATE audit_records SET seq = CASE seq WHEN 10 THEN -11 WHEN 11 THEN -10 END WHERE tenant = 'demo' AND seq IN (10, 11); \
             UPDATE audit_records SET seq = -seq WHERE tenant = 'demo' AND seq < 0",
        )
        .await;
        assert_eq!(error.as_ref().and_then(ChainBreak::seq), Some(10), "{error:?}");    }
}

on_both_databases! {
    async fn a_truncated_tail_is_caught_by_the_signed_checkpoint(db: Db) {
        let error = verify_after(db, "DELETE FROM audit_records WHERE tenant = 'demo' AND seq > 15").await;
        assert!(matches!(error, Some(ChainBreak::Truncated { last: 15, checkpoint }) if checkpoint > 15), "{error:?}");    }
}

on_both_databases! {
    async fn a_truncated_table_is_caught_by_the_signed_checkpoint(db: Db) {
        let error = verify_after(db, "DELETE FROM audit_records").await;
        assert!(matches!(error, Some(ChainBreak::Truncated { last: 0, .. })), "{error:?}");    }
}

on_both_databases! {
    async fn a_forged_checkpoint_is_refused(db: Db) {
        let error = verify_after(db, "UPDATE audit_checkpoints SET seq = seq + 1000 WHERE tenant = 'demo'").await;
        assert!(matches!(error, Some(ChainBreak::BadCheckpoint(_))), "{error:?}");    }
}

on_both_databases! {
    /// Every filter of `GET /audit`, alone and combined, with cursors and
    /// page sizes, selects exactly the records a plain filter over the
    /// whole log selects, in order.
    async fn audit_filters_select_exactly_the_matching_records(db: Db) {
        let server = Server::demo(db).await;
        // Reads, denials (li.na has not consented to these) and consents.
        for (member, plugin, path) in [
            ("zhang.wei", "site-daily-report", "/report.json"),
            ("li.na", "site-daily-report", "/report.json"),
            ("li.na", "customer-visit", "/"),
            ("zhang.wei", "customer-visit", "/visits.json"),
            ("wang.fang", "approval-helper", "/"),
        ] {
            let reply = server.invoke(member, plugin, path).await;
            assert!(reply.status.is_success() || reply.status == StatusCode::FORBIDDEN, "{}", reply.text);
        }
        let admin = server.demo_token("admin", &[Role::Admin, Role::Member]);
        let page = |query: String| {
            let (server, admin) = (&server, &admin);
            async move {
                let reply = server.call(Method::GET, &format!("/api/v1/audit?{query}"), Some(admin), None).await;
                assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.text);
                reply.body
            }
        };
        let all: Vec<Value> = page("limit=1000".into()).await["records"].as_array().expect("records").clone();
        assert!(all.len() >= 15, "the demo and the calls leave records: {}", all.len());
        let middle_ts = all[all.len() / 2]["ts_ms"].as_i64().expect("ts");
        type Keep = Box<dyn Fn(&Value) -> bool>;
        let text = |record: &Value, key: &str| record[key].as_str().map(str::to_owned);
        let cases: Vec<(String, Keep)> = vec![
            ("subject=li.na".into(), Box::new(move |r| text(r, "subject").as_deref() == Some("li.na"))),
            ("actor=plugin:site-daily-report@0.1.0".into(), Box::new(move |r| text(r, "actor").as_deref() == Some("plugin:site-daily-report@0.1.0"))),
            ("plugin=customer-visit".into(), Box::new(move |r| text(r, "actor").is_some_and(|a| a.starts_with("plugin:customer-visit@")))),
            ("action=read".into(), Box::new(move |r| text(r, "action").as_deref() == Some("read"))),
            ("outcome=denied".into(), Box::new(move |r| text(r, "outcome").as_deref() == Some("denied"))),
            (format!("from={middle_ts}"), Box::new(move |r| r["ts_ms"].as_i64() >= Some(middle_ts))),
            (format!("to={middle_ts}"), Box::new(move |r| r["ts_ms"].as_i64() < Some(middle_ts))),
            (
                "subject=zhang.wei&plugin=customer-visit&action=read&outcome=allowed".into(),
                Box::new(move |r| {
                    text(r, "subject").as_deref() == Some("zhang.wei")
                        && text(r, "actor").is_some_and(|a| a.starts_with("plugin:customer-visit@"))
                        && text(r, "action").as_deref() == Some("read")
                        && text(r, "outcome").as_deref() == Some("allowed")
                }),
            ),
            ("subject=nobody".into(), Box::new(|_| false)),
        ];
        for (query, keep) in cases {
            let expected: Vec<i64> = all.iter().filter(|r| keep(r)).map(|r| r["seq"].as_i64().expect("seq")).collect();
            // One page of everything, then pages of 2 following the cursor.
            let one: Vec<i64> = page(format!("{query}&limit=1000")).await["records"]
                .as_array()
                .expect("records")
                .iter()
                .map(|r| r["seq"].as_i64().expect("seq"))
                .collect();
            assert_eq!(one, expected, "{query}");
            let mut paged = Vec::new();
            let mut after = String::new();
            loop {
                let body = page(format!("{query}&limit=2{after}")).await;
                paged.extend(body["records"].as_array().expect("records").iter().map(|r| r["seq"].as_i64().expect("seq")));
                match body["next"].as_str() {
                    Some(next) => after = format!("&after={next}"),
                    None => break,
                }
            }
            assert_eq!(paged, expected, "{query}, paged by 2");
        }
        server.stop().await;
    }
}
