//! The contract's versions side by side: a component built against the
//! frozen `workbench:plugin@0.1.0` keeps publishing and running with the same
//! gate and audit as a current one, a version the host does not know is
//! refused by name, and componentize-py and componentize-js components built
//! against the world `workbench plugin wit` writes import exactly what their
//! manifests declare.

use reqwest::StatusCode;
use workbench_host::model::audit::Outcome;
use workbench_host::model::directory::Role;
use workbench_host::runtime::Request;
use workbench_host::scope::Scope;
use workbench_host::service::installations::InstallRequest;

use crate::server::{Db, Server, on_both_databases};

const V0_1_MANIFEST: &str = r#"
id = "contract-v0-1"
name = "Contract 0.1.0"
version = "1.0.0"
description = "Built against workbench:plugin@0.1.0."
[developer]
name = "Acme 软件有限公司"
contact = "plugins@acme.example"
[[scopes]]
scope = "user.id"
purpose = "Tell your visits apart."
[[scopes]]
scope = "user.name"
purpose = "Put your name on the report."
[[scopes]]
scope = "user.gender"
purpose = "Address you properly."
[[scopes]]
scope = "user.birthday"
purpose = "Wish you a happy birthday."
[[scopes]]
scope = "user.phone"
purpose = "Let customers call you back."
[[scopes]]
scope = "org.department"
purpose = "Route reports to your department."
[[scopes]]
scope = "perm.customer"
purpose = "List the customers you may visit."
[[scopes]]
scope = "storage"
purpose = "Count your visits."
[[scopes]]
scope = "log"
purpose = "Diagnose failures."
"#;

async fn get(server: &Server, plugin: &str) -> workbench_host::service::invoke::Invoked {
    let request =
        Request { method: "GET".into(), path: "/".into(), query: String::new(), headers: vec![], body: vec![] };
    server.workbench.invoke("demo", "zhang.wei", plugin, request).await.expect("runs")
}

/// Publishes the guest built against contract `version` (`contract-v0-1` or
/// `contract-v0-2`, the same reads in the same order) and checks that it runs
/// through the current gate and audit exactly as a current component would.
async fn an_older_component_runs_through_the_same_gate_and_audit(db: Db, version: &str) {
    let id = format!("contract-v{}", version.trim_end_matches(".0").replace('.', "-"));
    let manifest =
        V0_1_MANIFEST.replace("contract-v0-1", &id).replace("Contract 0.1.0", &format!("Contract {version}"));
    let server = Server::demo(db).await;
    let dev = server.demo_token("acme", &[Role::Developer]);
    let component = std::fs::read(xtask::guests().component(&id)).expect("built");
    let published = server.publish(&dev, &manifest, component, None).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
    assert_eq!(published.body["contract"], version, "the host reads the version it was built against");
    let interfaces: Vec<&str> =
        published.body["imports"].as_array().expect("imports").iter().filter_map(|i| i["interface"].as_str()).collect();
    let expected =
        if version == "0.1.0" { "workbench:plugin/profile@0.1.0" } else { "workbench:plugin/user-name@0.2.0" };
    assert!(interfaces.contains(&expected), "{interfaces:?}");

    // Granted all but the birthday; zhang.wei consents to all but the phone.
    let granted = vec![
        Scope::UserId,
        Scope::UserName,
        Scope::UserGender,
        Scope::UserPhone,
        Scope::OrgDepartment,
        Scope::PermCustomer,
        Scope::Storage,
        Scope::Log,
    ];
    let install = InstallRequest {
        version: "1.0.0".into(),
        granted,
        visible_to: None,
        egress: Vec::new(),
        config: Default::default(),
        subscriptions: None,
    };
    server.workbench.install("demo", "admin", &id, install).await.expect("installs");
    let consented = [Scope::UserId, Scope::UserName, Scope::UserGender, Scope::OrgDepartment, Scope::PermCustomer];
    server.workbench.consent("demo", "zhang.wei", &id, &consented, &[], &Default::default()).await.expect("consents");

    let first = get(&server, &id).await;
    let text = String::from_utf8_lossy(&first.response.body).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("user.id: ok "), "{text}");
    assert_eq!(lines[1], "user.name: ok 张伟");
    assert_eq!(lines[2], "user.gender: ok GenderKind::Male");
    assert_eq!(lines[3], "user.birthday: denied not_granted");
    assert_eq!(lines[4], "user.phone: denied not_consented");
    assert!(lines[5].starts_with("org.department: ok Some((\"工程部\""), "{text}");
    assert!(lines[6].starts_with("perm.customer: ok ") && lines[6].contains("CustomerAccess::Edit"), "{text}");
    assert_eq!(lines[7], "count: 1 1");
    assert!(lines[8].starts_with("empty key: keys may not be empty"), "{text}");
    assert_eq!(first.logs.len(), 1, "the log line went through {version}'s log");
    assert_eq!(first.logs[0].message, format!("contract {version} guest called"));

    // One record per attempt, as for a current component.
    let records: Vec<(Option<&str>, &str, Outcome, Option<&str>)> = first
        .audit
        .iter()
        .map(|r| (r.event.scope.as_deref(), r.event.action.as_str(), r.event.outcome, r.event.reason.as_deref()))
        .collect();
    let expected = [
        (Some("user.id"), "read", Outcome::Allowed, None),
        (Some("user.name"), "read", Outcome::Allowed, None),
        (Some("user.gender"), "read", Outcome::Allowed, None),
        (Some("user.birthday"), "read", Outcome::Denied, Some("not_granted")),
        (Some("user.phone"), "read", Outcome::Denied, Some("not_consented")),
        (Some("org.department"), "read", Outcome::Allowed, None),
        (Some("perm.customer"), "read", Outcome::Allowed, None),
        (Some("storage"), "storage.get", Outcome::Allowed, None),
        (Some("storage"), "storage.set", Outcome::Allowed, None),
        (Some("storage"), "storage.get", Outcome::Allowed, None),
        (Some("storage"), "storage.set", Outcome::Allowed, None),
        (Some("storage"), "storage.set", Outcome::Failed, Some("invalid_key")),
    ];
    assert_eq!(records, expected);
    for record in &first.audit {
        assert_eq!(record.event.actor, format!("plugin:{id}@1.0.0"));
        assert_eq!(record.event.invocation.as_deref(), Some(first.invocation.as_str()));
    }

    // Its storage is the same storage: the second call counts on.
    let second = get(&server, &id).await;
    assert!(String::from_utf8_lossy(&second.response.body).contains("count: 2 2"));
    server.stop().await;
}

on_both_databases! {
    async fn a_component_built_against_0_1_0_runs_through_the_same_gate_and_audit(db: Db) {
        an_older_component_runs_through_the_same_gate_and_audit(db, "0.1.0").await;
    }
}

on_both_databases! {
    async fn a_component_built_against_0_2_0_runs_through_the_same_gate_and_audit(db: Db) {
        an_older_component_runs_through_the_same_gate_and_audit(db, "0.2.0").await;
    }
}

/// Components that name a contract version this host does not link: a
/// `0.9.0` import and a `0.4.0` handler, written as component text.
const FUTURE_IMPORT: &str = r#"(component (import "workbench:plugin/user-name@0.9.0" (instance)))"#;
const FUTURE_HANDLER: &str =
    r#"(component (instance $handler) (export "workbench:plugin/handler@0.4.0" (instance $handler)))"#;
const NO_HANDLER: &str = "(component)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_the_host_does_not_link_is_refused_by_name() {
    let server = Server::demo(Db::Sqlite).await;
    let dev = server.demo_token("acme", &[Role::Developer]);
    let manifest = V0_1_MANIFEST.replace("contract-v0-1", "from-the-future");
    for (component, version) in [(FUTURE_IMPORT, "0.9.0"), (FUTURE_HANDLER, "0.4.0")] {
        let refused = server.publish(&dev, &manifest, component.as_bytes().to_vec(), None).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
        assert_eq!(refused.body["error"], "unsupported_contract");
        let message = refused.body["message"].as_str().expect("message");
        assert!(message.contains(&format!("needs a host that supports workbench:plugin@{version}")), "{message}");
        assert!(message.contains("0.1.0, 0.2.0, 0.3.0"), "names what this host supports: {message}");
    }
    let refused = server.publish(&dev, &manifest, NO_HANDLER.as_bytes().to_vec(), None).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
    assert_eq!(refused.body["error"], "invalid_component");
    assert!(refused.text.contains("exports no workbench:plugin/handler"), "{}", refused.text);
    assert!(server.workbench.catalogue_entry("from-the-future").await.is_err(), "nothing was stored");
    server.stop().await;
}

/// A componentize-py component built against the world `workbench plugin
/// wit` writes from its plugin.toml imports only the two scopes it declares
/// and publishes as it is; the same source built against the whole contract
/// imports every interface and is refused, naming each scope it would need.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_python_component_imports_exactly_what_its_manifest_declares() {
    let server = Server::demo(Db::Sqlite).await;
    let dev = server.demo_token("acme", &[Role::Developer]);
    let manifest =
        std::fs::read_to_string(xtask::repo_root().join("tests/guests-py/notes-page/plugin.toml")).expect("manifest");
    let guests = xtask::python_guests();

    let whole = std::fs::read(guests.component("notes-page-whole-world")).expect("built");
    let refused = server.publish(&dev, &manifest, whole, None).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
    assert_eq!(refused.body["error"], "invalid_input");
    let message = refused.body["message"].as_str().expect("message");
    for scope in Scope::ALL.into_iter().filter(|s| !matches!(s, Scope::UserId | Scope::Storage)) {
        let function = match scope {
            Scope::Log => "write",
            Scope::Notify => "send",
            _ => "get",
        };
        let import = format!("{scope} (imported as workbench:plugin/{}@0.3.0#{function})", scope.interface());
        assert!(message.contains(&import), "names {import}: {message}");
    }
    assert!(message.contains("workbench plugin wit"), "says how to build with only the declared scopes: {message}");

    let exact = std::fs::read(guests.component("notes-page")).expect("built");
    let published = server.publish(&dev, &manifest, exact, None).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
    assert_eq!(published.body["contract"], "0.3.0");
    assert_eq!(scope_imports(&published.body), ["workbench:plugin/user-id@0.3.0", "workbench:plugin/storage@0.3.0"]);
    server.stop().await;
}

/// A JavaScript plugin built with componentize-js (npm) against the world
/// `workbench plugin wit` writes: it imports only its two declared scopes,
/// publishes under the default cap, and runs through the same gate and
/// audit (the optional name refused with the host's reason until consented).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_javascript_component_runs_through_the_same_gate_and_audit() {
    // Compiling a 12 MB SpiderMonkey component on a busy 2-core machine can
    // take longer than the default request timeout the first time.
    let server = Server::demo_configured(Db::Sqlite, |config| config.server.request_timeout_secs = 600).await;
    let dev = server.demo_token("acme", &[Role::Developer]);
    let manifest =
        std::fs::read_to_string(xtask::repo_root().join("tests/guests-js/greeter/plugin.toml")).expect("manifest");
    let component = std::fs::read(xtask::js_guests().component("greeter")).expect("built");
    let published = server.publish(&dev, &manifest, component, None).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
    assert_eq!(published.body["contract"], "0.3.0");
    assert_eq!(scope_imports(&published.body), ["workbench:plugin/user-id@0.3.0", "workbench:plugin/user-name@0.3.0"]);

    let install = InstallRequest {
        version: "0.1.0".into(),
        granted: vec![Scope::UserId, Scope::UserName],
        visible_to: None,
        egress: Vec::new(),
        config: Default::default(),
        subscriptions: None,
    };
    server.workbench.install("demo", "admin", "js-greeter", install).await.expect("installs");
    server
        .workbench
        .consent("demo", "zhang.wei", "js-greeter", &[Scope::UserId], &[], &Default::default())
        .await
        .expect("consents");
    let request =
        || Request { method: "GET".into(), path: "/".into(), query: String::new(), headers: vec![], body: vec![] };

    let invoked = server.workbench.invoke("demo", "zhang.wei", "js-greeter", request()).await.expect("runs");
    assert_eq!(invoked.response.status, 200);
    let answer: serde_json::Value = serde_json::from_slice(&invoked.response.body).expect("JSON");
    assert!(answer["id"].as_str().is_some_and(|id| !id.is_empty() && id != "zhang.wei"), "an open id: {answer}");
    assert_eq!(answer["name"], serde_json::Value::Null);
    assert_eq!(answer["refused"], "not-consented", "the host's reason reaches the script: {answer}");
    let seen: Vec<(Option<&str>, Outcome, Option<&str>)> =
        invoked.audit.iter().map(|r| (r.event.scope.as_deref(), r.event.outcome, r.event.reason.as_deref())).collect();
    assert_eq!(
        seen,
        [(Some("user.id"), Outcome::Allowed, None), (Some("user.name"), Outcome::Denied, Some("not_consented"))]
    );

    server
        .workbench
        .consent("demo", "zhang.wei", "js-greeter", &[Scope::UserName], &[], &Default::default())
        .await
        .expect("consents");
    let invoked = server.workbench.invoke("demo", "zhang.wei", "js-greeter", request()).await.expect("runs");
    let answer: serde_json::Value = serde_json::from_slice(&invoked.response.body).expect("JSON");
    assert_eq!(answer["greeting"], "你好，张伟");
    let missing = server.invoke("zhang.wei", "js-greeter", "/elsewhere").await;
    assert_eq!(missing.status, StatusCode::BAD_GATEWAY, "{}", missing.text);
    assert!(missing.text.contains("nothing at /elsewhere"), "the script's own error: {}", missing.text);
    server.stop().await;
}

/// The `workbench:plugin` interfaces a publish answer says the component
/// imports, less `types` (which has no functions and needs no scope).
fn scope_imports(published: &serde_json::Value) -> Vec<&str> {
    published["imports"]
        .as_array()
        .expect("imports")
        .iter()
        .filter_map(|i| i["interface"].as_str())
        .filter(|i| i.starts_with("workbench:") && !i.starts_with("workbench:plugin/types@"))
        .collect()
}
