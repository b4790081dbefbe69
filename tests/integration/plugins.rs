//! The example plugins against the real host: fields with consent, typed
//! denials without, open ids, one audit record per access.

use workbench_host::model::audit::Outcome;
use workbench_host::scope::Scope;
use workbench_host::service::ServiceError;

use crate::support::{Host, body, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_example_plugin_runs_with_exactly_its_consented_fields() {
    let host = Host::demo().await;

    let report = host.get("zhang.wei", "site-daily-report", "/report.json").await.expect("daily report runs");
    let report = json(&report);
    assert_eq!(report["reporter"], "张伟");

    let approvals =
        json(&host.get("zhang.wei", "approval-helper", "/summary.json").await.expect("approval helper runs"));
    assert_eq!(approvals["nickname"], "小张");
    let approvable: Vec<_> =
        approvals["can_approve"].as_array().expect("list").iter().map(|a| a["process_id"].clone()).collect();
    assert_eq!(approvable, ["expense", "purchase", "leave"]);

    let visits = json(&host.get("zhang.wei", "customer-visit", "/visits.json").await.expect("customer visit runs"));
    assert_eq!(visits["phone"], "13800138001", "zhang.wei consented to the phone separately");

    let page = body(&host.get("zhang.wei", "customer-visit", "/").await.expect("page"));
    assert!(page.contains("上海建工三局") && page.contains("zhang.wei.png"), "{page}");
    assert!(!page.contains("浦东新区城投 (查看)"), "customer levels come from the member's own permissions");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_consent_required_scopes_block_only_that_plugin() {
    let host = Host::demo().await;
    match host.get("li.na", "customer-visit", "/visits.json").await {
        Err(ServiceError::ConsentRequired { missing, .. }) => {
            let scopes: Vec<_> = missing.iter().map(|(s, _)| *s).collect();
            assert_eq!(scopes, [Scope::UserAvatar, Scope::UserNickname, Scope::PermCustomer]);
        }
        other => panic!("expected consent_required, got {other:?}"),
    }
    // The rest of li.na's workbench still works.
    let report = json(&host.get("li.na", "site-daily-report", "/report.json").await.expect("still works"));
    assert_eq!(report["reporter"], "李娜");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn optional_and_sensitive_scopes_come_back_as_typed_denials() {
    let host = Host::demo().await;
    // wang.fang consents to customer-visit's required scopes but not the sensitive phone.
    host.workbench
        .consent(
            "demo",
            "wang.fang",
            "customer-visit",
            &[Scope::UserNickname, Scope::UserAvatar, Scope::PermCustomer],
            &[],
            &Default::default(),
        )
        .await
        .expect("consent");
    let visits = host.get("wang.fang", "customer-visit", "/visits.json").await.expect("runs");
    assert_eq!(json(&visits)["phone"], serde_json::Value::Null);
    let phone =
        visits.audit.iter().find(|r| r.event.scope.as_deref() == Some("user.phone")).expect("phone attempt audited");
    assert_eq!(phone.event.outcome, Outcome::Denied);
    assert_eq!(phone.event.reason.as_deref(), Some("not_consented"));

    // Listing the phone in a bundle without its separate consent is refused, and changes nothing.
    let bundled = host
        .workbench
        .consent("demo", "wang.fang", "customer-visit", &[Scope::UserPhone], &[], &Default::default())
        .await;
    assert!(matches!(&bundled, Err(ServiceError::BadRequest(m)) if m.contains("sensitive")), "{bundled:?}");
    let visits = host.get("wang.fang", "customer-visit", "/visits.json").await.expect("runs");
    assert_eq!(json(&visits)["phone"], serde_json::Value::Null, "sensitive scopes are never granted implicitly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_gets_exactly_the_declared_granted_consented_set_and_every_attempt_is_audited() {
    let host = Host::demo().await;
    // Granted: id, name, phone, storage. Consented: id only; the phone bundled without its
    // separate consent and the birthday (not granted) are refused.
    host.install_hostile("demo", &[Scope::UserId, Scope::UserName, Scope::UserPhone, Scope::Storage]).await;
    for refused in [&[Scope::UserId, Scope::UserPhone][..], &[Scope::UserBirthday][..]] {
        let result = host.workbench.consent("demo", "zhang.wei", "hostile", refused, &[], &Default::default()).await;
        assert!(matches!(result, Err(ServiceError::BadRequest(_))), "{result:?}");
    }
    host.workbench
        .consent("demo", "zhang.wei", "hostile", &[Scope::UserId], &[], &Default::default())
        .await
        .expect("consent");
    let probe = host.get("zhang.wei", "hostile", "/probe").await.expect("probe runs");
    let fields = json(&probe);
    let expected = [
        ("user.id", "ok"),
        ("user.avatar", "not_granted"),
        ("user.nickname", "not_granted"),
        ("user.name", "not_consented"),
        ("user.gender", "not_granted"),
        ("user.birthday", "not_granted"),
        ("user.region", "not_granted"),
        ("user.email", "not_granted"),
        ("user.phone", "not_consented"),
        ("org.department", "not_granted"),
        ("perm.customer", "not_granted"),
        ("perm.approval", "not_granted"),
        ("storage", "ok"),
    ];
    for (scope, want) in expected {
        let got = &fields[scope];
        let outcome =
            if got.get("ok").is_some() { "ok".to_owned() } else { got["denied"].as_str().unwrap_or("?").to_owned() };
        assert_eq!(outcome, want, "{scope}: {got}");
    }
    // One durable record per attempt, all with this invocation's id, none leaking the field values.
    assert_eq!(probe.audit.len(), expected.len());
    for (record, (scope, want)) in probe.audit.iter().zip(expected) {
        assert_eq!(record.event.scope.as_deref(), Some(scope));
        assert_eq!(record.event.outcome == Outcome::Allowed, want == "ok", "{scope}");
        assert_eq!(record.event.invocation.as_deref(), Some(probe.invocation.as_str()));
        assert_eq!(record.event.subject.as_deref(), Some("zhang.wei"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_ids_differ_per_plugin_and_never_reveal_the_internal_id() {
    let host = Host::demo().await;
    host.install_hostile("demo", &[Scope::UserId]).await;
    host.workbench
        .consent("demo", "zhang.wei", "hostile", &[Scope::UserId], &[], &Default::default())
        .await
        .expect("consent");
    let from_report = json(&host.get("zhang.wei", "site-daily-report", "/report.json").await.expect("runs"))["open_id"]
        .as_str()
        .expect("open id")
        .to_owned();
    let probe = json(&host.get("zhang.wei", "hostile", "/probe").await.expect("runs"));
    let from_hostile = probe["user.id"]["ok"].as_str().expect("open id").to_owned();
    assert_ne!(from_report, from_hostile);
    for id in [&from_report, &from_hostile] {
        assert!(id.starts_with("ou_") && !id.contains("zhang"), "{id}");
    }
    let again = json(&host.get("zhang.wei", "site-daily-report", "/report.json").await.expect("runs"));
    assert_eq!(again["open_id"], from_report.as_str(), "stable for the same plugin");
    let li = json(&host.get("li.na", "site-daily-report", "/report.json").await.expect("runs"));
    assert_ne!(li["open_id"], from_report.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn withdrawal_takes_effect_on_the_next_call_and_deletes_the_persons_data() {
    let host = Host::demo().await;
    let post = workbench_host::runtime::Request {
        method: "POST".into(),
        path: "/".into(),
        query: String::new(),
        headers: vec![],
        body: b"text=done".to_vec(),
    };
    host.workbench.invoke("demo", "zhang.wei", "site-daily-report", post).await.expect("saved");
    host.workbench
        .withdraw("demo", "zhang.wei", "site-daily-report", Some(&[Scope::UserName]), &Default::default())
        .await
        .expect("withdrawn");
    match host.get("zhang.wei", "site-daily-report", "/report.json").await {
        Err(ServiceError::ConsentRequired { missing, .. }) => {
            assert_eq!(missing, [(Scope::UserName, workbench_host::gate::Denial::ConsentWithdrawn)]);
        }
        other => panic!("expected consent_required, got {other:?}"),
    }
    let db = crate::support::raw_db(&host.database()).await;
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM plugin_kv WHERE tenant = 'demo' AND person = 'zhang.wei'")
        .fetch_one(&db)
        .await
        .expect("count");
    assert_eq!(rows, 0, "withdrawal deletes what the plugin stored about the person");
}
