//! The Python example plugin (`plugins/visitor-log`), tested and built by
//! `workbench plugin test` and `workbench plugin build` as its developer
//! would, published through the API and run like the Rust examples: exactly
//! its consented fields, typed refusals, one audit record per access.

use reqwest::{Method, StatusCode};
use serde_json::json;
use workbench_host::model::directory::Role;
use workbench_host::scope::Scope;
use workbench_host::service::installations::InstallRequest;

use crate::server::{Server, on_both_databases};

on_both_databases! {
    async fn the_python_example_publishes_and_runs_with_exactly_its_consented_fields(db: Db) {
        let server = Server::demo(db).await;
        let published = server.publish_visitor_log().await;
        assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
        assert_eq!(published.body["contract"], "0.3.0");

        let granted = vec![Scope::UserId, Scope::UserName, Scope::OrgDepartment, Scope::Storage, Scope::Log];
        let install = InstallRequest { version: "0.1.0".into(), granted, visible_to: None, egress: Vec::new(), config: Default::default(), subscriptions: None };
        server.workbench.install("demo", "admin", "visitor-log", install).await.expect("installs");
        // Not yet consented: the required scopes are asked for.
        let refused = server.invoke("zhang.wei", "visitor-log", "/visitors.json").await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
        assert_eq!(refused.body["error"], "consent_required");
        // zhang.wei consents to the required scopes, not the optional department.
        server.workbench.consent("demo", "zhang.wei", "visitor-log", &[Scope::UserId, Scope::UserName], &[], &Default::default()).await.expect("consents");

        let zhang = server.demo_token("zhang.wei", &[Role::Member]);
        let body = json!({"method": "POST", "path": "/visitors", "headers": [["content-type", "application/json"]],
            "body": json!({"visitor": "王总", "company": "上海建工", "date": "2026-12-02"}).to_string()});
        let posted = server.call(Method::POST, "/api/v1/me/plugins/visitor-log/invoke", Some(&zhang), Some(body)).await;
        assert_eq!(posted.status, StatusCode::OK, "{}", posted.text);
        assert_eq!(posted.body["status"], 201, "{}", posted.text);
        let answer: serde_json::Value = serde_json::from_str(posted.body["body"].as_str().expect("body")).expect("JSON");
        assert_eq!(answer["registered"], json!({"visitor": "王总", "company": "上海建工", "host": "张伟", "department": null}));

        let listed = server.invoke("zhang.wei", "visitor-log", "/visitors.json?date=2026-12-02").await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
        let answer: serde_json::Value = serde_json::from_str(listed.body["body"].as_str().expect("body")).expect("JSON");
        assert_eq!(answer["visitors"][0]["host"], "张伟");
        let bad = server.invoke("zhang.wei", "visitor-log", "/visitors.json?date=tomorrow").await;
        assert_eq!(bad.status, StatusCode::BAD_GATEWAY, "{}", bad.text);
        assert_eq!(bad.body["kind"], "plugin_error");
        assert!(bad.text.contains("YYYY-MM-DD"), "the plugin's own message: {}", bad.text);

        // The POST's records: the refused department, the two fields, the read and the write.
        let request = workbench_host::runtime::Request {
            method: "POST".into(), path: "/visitors".into(), query: String::new(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: br#"{"visitor": "Li", "date": "2026-12-03"}"#.to_vec(),
        };
        let invoked = server.workbench.invoke("demo", "zhang.wei", "visitor-log", request).await.expect("runs");
        let seen: Vec<(Option<&str>, &str, Option<&str>)> = invoked.audit.iter()
            .map(|r| (r.event.scope.as_deref(), r.event.action.as_str(), r.event.reason.as_deref()))
            .collect();
        assert_eq!(seen, [
            (Some("org.department"), "read", Some("not_consented")),
            (Some("user.name"), "read", None),
            (Some("user.id"), "read", None),
            (Some("storage"), "storage.get", None),
            (Some("storage"), "storage.set", None),
        ]);
        assert_eq!(invoked.logs.len(), 1, "{:?}", invoked.logs);
        server.stop().await;
    }
}

/// The Python SDK's own tests (`sdk/python/tests`), on the kit's pinned
/// pytest: the mock host answers and refuses as the real host does.
#[test]
fn the_python_sdk_passes_its_own_tests() {
    xtask::python_plugins(); // sets up the kit's virtualenv
    assert_eq!(xtask::COMPONENTIZE_PY, workbench_host::devkit::python::COMPONENTIZE_PY, "one pin");
    let tool = xtask::componentize_py().expect("the kit's virtualenv");
    let output = std::process::Command::new(tool.with_file_name("python"))
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .current_dir(xtask::repo_root().join("sdk/python"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("pytest runs");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{report}{}", String::from_utf8_lossy(&output.stderr));
    assert!(report.contains(" passed"), "{report}");
}
