//! Consent that lapses, and receipts: a manifest's `consent_days` sets when
//! a consent lapses, and the member is asked again then; each consent and
//! withdrawal gives the member a signed receipt in their language, tied to
//! its audit record, that verifies offline and fails when a byte changes.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use workbench_host::model::audit::{Action, AuditEvent, Outcome};
use workbench_host::model::directory::Role;
use workbench_host::scope::Scope;

use crate::server::{Server, on_both_databases};

const PLUGIN: &str = "site-daily-report";

fn verify_receipt(text: &str, key: &str) -> (bool, String) {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), text).expect("write receipt");
    let output = std::process::Command::new(xtask::host_binary())
        .args(["receipt", "verify"])
        .arg(file.path())
        .args(["--public-key", key])
        .output()
        .expect("verify runs");
    (
        output.status.success(),
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)),
    )
}

async fn receipts(server: &Server, token: &str) -> Vec<Value> {
    let list = server.call(Method::GET, "/api/v1/me/receipts", Some(token), None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    list.body.as_array().expect("list").clone()
}

on_both_databases! {
    async fn a_consent_lapses_after_its_period_and_every_change_gives_a_receipt(db: Db) {
        let server = Server::demo(db).await;
        let admin = server.demo_token("admin", &[Role::Admin, Role::Member]);
        let dev = server.demo_token("acme", &[Role::Developer]);
        let wang = server.demo_token("wang.fang", &[Role::Member]);
        // 0.2.0 asks for the name for 30 days at a time.
        let manifest = std::fs::read_to_string(xtask::repo_root().join("plugins/site-daily-report/plugin.toml"))
            .expect("manifest")
            .replace("version = \"0.1.0\"", "version = \"0.2.0\"")
            .replace("scope = \"user.name\"\n", "scope = \"user.name\"\nconsent_days = 30\n");
        let component = std::fs::read(xtask::guests().component(PLUGIN)).expect("built");
        assert_eq!(server.publish(&dev, &manifest, component, None).await.status, StatusCode::CREATED);
        let upgrade = json!({ "version": "0.2.0", "granted_scopes": ["user.id", "user.name", "storage", "log"] });
        let upgraded = server.call(Method::PUT, &format!("/api/v1/workbench/plugins/{PLUGIN}"), Some(&admin), Some(upgrade)).await;
        assert_eq!(upgraded.status, StatusCode::OK, "{}", upgraded.text);

        let disclosure = server.call(Method::GET, &format!("/api/v1/me/plugins/{PLUGIN}/consent"), Some(&wang), None).await;
        let name = disclosure.body["scopes"].as_array().expect("scopes").iter().find(|s| s["scope"] == "user.name").cloned().expect("name");
        assert_eq!(name["consent_days"], 30, "{}", disclosure.text);

        // Consent, in English.
        let consent = json!({ "scopes": ["user.id", "user.name"] });
        let path = format!("/api/v1/me/plugins/{PLUGIN}/consent");
        let given = server
            .call_with(Method::PUT, &path, Some(&wang), Some(consent.clone()), &[("accept-language", "en")])
            .await;
        assert_eq!(given.status, StatusCode::OK, "{}", given.text);
        let lapse = server
            .count("SELECT expires_at - granted_at FROM consents WHERE tenant = 'demo' AND member = 'wang.fang' AND scope = 'user.name'", &[])
            .await;
        assert_eq!(lapse, 30 * 86_400_000, "the consent lapses after the manifest's period");
        let no_lapse = server
            .count("SELECT COUNT(*) FROM consents WHERE tenant = 'demo' AND member = 'wang.fang' AND scope = 'user.id' AND expires_at IS NULL", &[])
            .await;
        assert_eq!(no_lapse, 1, "a scope without a period never lapses");

        // Its receipt: the member's language, the record's seq, the period.
        let list = receipts(&server, &wang).await;
        assert_eq!(list.len(), 1, "{list:?}");
        let seq = list[0]["audit_seq"].as_i64().expect("seq");
        let grants = server.call(Method::GET, "/api/v1/audit?action=consent.grant&subject=wang.fang", Some(&admin), None).await;
        assert_eq!(grants.body["records"][0]["seq"], seq, "{}", grants.text);
        let file = server.call(Method::GET, &format!("/api/v1/me/receipts/{seq}"), Some(&wang), None).await;
        assert_eq!(file.status, StatusCode::OK);
        let disposition = file.headers.get("content-disposition").and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert_eq!(disposition, format!("attachment; filename=\"consent-receipt-demo-{seq}.json\""));
        let receipt = &file.body["receipt"];
        assert_eq!((receipt["member"].as_str(), receipt["plugin_version"].as_str(), receipt["language"].as_str()), (Some("wang.fang"), Some("0.2.0"), Some("en")));
        assert_eq!(receipt["action"], "consent.grant");
        assert_eq!(receipt["recipient"], "Acme 软件有限公司");
        let scopes = receipt["scopes"].as_array().expect("scopes");
        let named = scopes.iter().find(|s| s["scope"] == "user.name").expect("name on the receipt");
        assert_eq!(named["purpose"], "Print the reporter's name on the daily report.");
        assert_eq!(named["expires_at_ms"].as_i64(), Some(receipt["issued_at_ms"].as_i64().expect("issued") + 30 * 86_400_000));
        assert_eq!(receipt["policy_digest"].as_str().map(str::len), Some(64));
        // Someone else's receipt is not found.
        let zhang = server.demo_token("zhang.wei", &[Role::Member]);
        assert_eq!(server.call(Method::GET, &format!("/api/v1/me/receipts/{seq}"), Some(&zhang), None).await.status, StatusCode::NOT_FOUND);

        // Offline: it verifies with the tenant's key; a changed byte or another key does not.
        let keys = server.call(Method::GET, "/api/v1/audit/keys", Some(&admin), None).await;
        let key = keys.body["keys"][0]["public_key"].as_str().expect("key").to_owned();
        let (ok, said) = verify_receipt(&file.text, &key);
        assert!(ok && said.contains(&format!("audit record {seq}")), "{said}");
        let (ok, said) = verify_receipt(&file.text.replacen("Print the", "Print thf", 1), &key);
        assert!(!ok && said.contains("invalid signature"), "{said}");
        let (ok, said) = verify_receipt(&file.text.replacen(&format!("\"audit_seq\":{seq}"), &format!("\"audit_seq\":{}", seq + 1), 1), &key);
        assert!(!ok, "{said}");
        let stranger = hex::encode(ed25519_dalek::SigningKey::from_bytes(&[3; 32]).verifying_key().as_bytes());
        let (ok, said) = verify_receipt(&file.text, &stranger);
        assert!(!ok && said.contains("no trusted key vouches for"), "{said}");

        // The period lapses (the consent given 31 days ago): the plugin does
        // not run, and the member is asked again.
        let signer = server.chain_signer();
        let old = workbench_host::now_ms() - 31 * 86_400_000;
        let held = server.store.consents("demo", "wang.fang", PLUGIN).await.expect("consents");
        let given = held.get(Scope::UserName).expect("the name's consent");
        let lapsed = [(Scope::UserName, workbench_host::model::consent::Consent { granted_at_ms: old, expires_at_ms: Some(old + 30 * 86_400_000), ..*given })];
        let event = AuditEvent { subject: Some("wang.fang".into()), reason: Some("consent given 31 days ago".into()), ..AuditEvent::new("demo", "workbench:test".into(), Action::ConsentGrant, Outcome::Allowed) };
        let record = workbench_host::store::ChangeRecord { event, chaining: &signer, receipt: None };
        server.store.put_consents("demo", "wang.fang", PLUGIN, &lapsed, record).await.expect("backdated");
        let refused = server.invoke("wang.fang", PLUGIN, "/").await;
        assert_eq!(refused.body["error"], "consent_required", "{}", refused.text);
        let asked = server.call(Method::GET, &path, Some(&wang), None).await;
        let name = asked.body["scopes"].as_array().expect("scopes").iter().find(|s| s["scope"] == "user.name").cloned().expect("name");
        assert_eq!(name["state"], "expired", "{}", asked.text);
        assert!(asked.body["asking"].as_array().expect("asking").iter().any(|s| s == "user.name"));
        let again = server.call(Method::PUT, &path, Some(&wang), Some(json!({ "scopes": ["user.name"] }))).await;
        assert_eq!(again.body["usable"], true, "{}", again.text);
        assert_eq!(server.invoke("wang.fang", PLUGIN, "/").await.status, StatusCode::OK);

        // A withdrawal's receipt names what was withdrawn.
        let withdrawn = server.call(Method::DELETE, &path, Some(&wang), None).await;
        assert_eq!(withdrawn.status, StatusCode::OK, "{}", withdrawn.text);
        let list = receipts(&server, &wang).await;
        assert_eq!(list.len(), 3, "{list:?}");
        assert_eq!(list[0]["action"], "consent.withdraw");
        let newest = server.call(Method::GET, &format!("/api/v1/me/receipts/{}", list[0]["audit_seq"]), Some(&wang), None).await;
        let scopes: Vec<&str> = newest.body["receipt"]["scopes"].as_array().expect("scopes").iter().filter_map(|s| s["scope"].as_str()).collect();
        assert_eq!(scopes, ["user.id", "user.name"], "{}", newest.text);
        assert_eq!(newest.body["receipt"]["language"], "zh", "the member's primary language without a preference");
        assert!(verify_receipt(&newest.text, &key).0);

        // Bad ids are precise; a removed member's receipts go with them.
        let bad = server.call(Method::GET, "/api/v1/me/receipts/abc", Some(&wang), None).await;
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
        assert_eq!(server.call(Method::DELETE, "/api/v1/members/wang.fang", Some(&admin), None).await.status, StatusCode::OK);
        assert_eq!(server.count("SELECT COUNT(*) FROM consent_receipts WHERE member = 'wang.fang'", &[]).await, 0);
        server.stop().await;
    }
}
