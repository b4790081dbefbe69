//! Withdrawal under load, through real HTTP on SQLite and PostgreSQL: many
//! concurrent invocations while the member withdraws consent to a field. No
//! call sent after the withdrawal was answered reads the field, and the audit
//! order agrees: every allowed read of the field that was recorded after the
//! withdrawal belongs to a call that started before it, and every refusal
//! comes after it.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workbench_host::model::audit::Outcome;
use workbench_host::model::directory::Role;

use crate::server::{Server, on_both_databases};
use crate::support::HOSTILE_MANIFEST;

const CLIENTS: usize = 12;

/// One answered call: when it was sent, its invocation, and what it got for `user.name`.
struct Call {
    sent: Instant,
    invocation: String,
    name: Value,
}

async fn load(base: String, token: String, stop: Arc<AtomicBool>) -> Vec<Call> {
    let client = reqwest::Client::new();
    let mut calls = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let sent = Instant::now();
        let response = client
            .post(format!("{base}/api/v1/me/plugins/hostile/invoke"))
            .bearer_auth(&token)
            .json(&json!({ "path": "/probe" }))
            .send()
            .await
            .expect("request sent");
        assert_eq!(response.status(), StatusCode::OK);
        let reply: Value = response.json().await.expect("JSON");
        let fields: Value = serde_json::from_str(reply["body"].as_str().expect("body")).expect("probe JSON");
        calls.push(Call {
            sent,
            invocation: reply["invocation"].as_str().expect("invocation").to_owned(),
            name: fields["user.name"].clone(),
        });
    }
    calls
}

on_both_databases! {
    async fn no_call_started_after_a_withdrawal_reads_the_field(db: Db) {
        let server = Server::demo(db).await;
        let dev = server.token("mallory-inc", "mallory", &[Role::Developer]);
        let admin = server.demo_token("admin", &[Role::Admin]);
        let zhang = server.demo_token("zhang.wei", &[Role::Member]);
        let component = std::fs::read(xtask::guests().component("hostile")).expect("hostile built");
        assert_eq!(server.publish(&dev, HOSTILE_MANIFEST, component, None).await.status, StatusCode::CREATED);
        let install = json!({ "version": "0.1.0", "granted_scopes": ["user.id", "user.name", "storage"] });
        let installed = server.call(Method::PUT, "/api/v1/workbench/plugins/hostile", Some(&admin), Some(install)).await;
        assert_eq!(installed.status, StatusCode::OK, "{}", installed.text);
        let consent = json!({ "scopes": ["user.id", "user.name"] });
        let consented = server.call(Method::PUT, "/api/v1/me/plugins/hostile/consent", Some(&zhang), Some(consent)).await;
        assert_eq!(consented.status, StatusCode::OK, "{}", consented.text);

        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|_| tokio::spawn(load(server.base.clone(), zhang.clone(), Arc::clone(&stop))))
            .collect();
        tokio::time::sleep(Duration::from_millis(600)).await;
        let withdrawn = server
            .call(Method::DELETE, "/api/v1/me/plugins/hostile/consent?scopes=user.name", Some(&zhang), None)
            .await;
        let committed = Instant::now();
        assert_eq!(withdrawn.status, StatusCode::OK, "{}", withdrawn.text);
        tokio::time::sleep(Duration::from_millis(600)).await;
        stop.store(true, Ordering::Relaxed);
        let mut calls = Vec::new();
        for client in clients {
            calls.extend(client.await.expect("client"));
        }

        // What the callers got.
        let (before, after): (Vec<&Call>, Vec<&Call>) = calls.iter().partition(|c| c.sent < committed);
        assert!(before.iter().any(|c| c.name["ok"] == "张伟"), "the load read the field before the withdrawal");
        assert!(after.len() >= CLIENTS, "the load went on after the withdrawal ({})", after.len());
        for call in &after {
            assert_eq!(call.name, json!({ "denied": "consent_withdrawn" }), "call {} sent after the withdrawal", call.invocation);
        }

        // What the audit log says, in its order.
        let records = server.store.audit_records("demo", 0, 10_000_000).await.expect("audit");
        let withdrawal = records
            .iter()
            .find(|r| r.event.action == "consent.withdraw" && r.event.subject.as_deref() == Some("zhang.wei"))
            .expect("the withdrawal is audited")
            .seq;
        let sent: HashMap<&str, Instant> = calls.iter().map(|c| (c.invocation.as_str(), c.sent)).collect();
        let reads: Vec<_> = records
            .iter()
            .filter(|r| r.event.scope.as_deref() == Some("user.name") && r.event.actor.starts_with("plugin:hostile"))
            .collect();
        assert_eq!(reads.len(), calls.len(), "every answered call's read of the field is audited");
        for read in reads {
            let invocation = read.event.invocation.as_deref().expect("invocation");
            let started = sent[invocation];
            match read.event.outcome {
                Outcome::Allowed => {
                    if read.seq > withdrawal {
                        assert!(started < committed, "{invocation} read the field after the withdrawal committed");
                    }
                }
                _ => {
                    assert_eq!(read.event.reason.as_deref(), Some("consent_withdrawn"));
                    assert!(read.seq > withdrawal, "{invocation} was refused before the withdrawal was recorded");
                }
            }
        }
        // Each answered call has all 13 of its records.
        for call in &calls {
            let mine = records.iter().filter(|r| r.event.invocation.as_deref() == Some(call.invocation.as_str())).count();
            assert_eq!(mine, 13, "{}", call.invocation);
        }
        server.stop().await;
    }
}
