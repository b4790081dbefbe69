//! The developer kit as a developer meets it: the quick-start commands of
//! docs/PLUGIN_GUIDE.md, run exactly as written, from nothing to a plugin
//! that a live server publishes, an admin installs, a member consents to
//! and the plugin answers with that member's name.

use std::path::Path;
use std::process::Command;

use reqwest::{Method, StatusCode};
use serde_json::json;
use workbench_host::model::directory::Role;

use crate::server::{Db, Server};

/// The lines of the guide's code block tagged `tag` (```` ```sh TAG ````).
fn quickstart(tag: &str) -> Vec<String> {
    let guide = std::fs::read_to_string(xtask::repo_root().join("docs/PLUGIN_GUIDE.md")).expect("the guide");
    let opening = format!("```sh {tag}");
    let block = guide.split_once(&opening).unwrap_or_else(|| panic!("the guide has no {opening} block")).1;
    let block = block.split_once("```").expect("the block closes").0;
    block.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_owned).collect()
}

/// Runs `line` in a shell in `dir` with the `workbench` binary first on
/// the PATH, as a developer's terminal would; panics with its output when it
/// fails.
fn run(line: &str, dir: &Path, env: &[(&str, &str)]) {
    let bin = xtask::host_binary().parent().expect("the binary's folder");
    let path = std::env::join_paths(
        std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .expect("PATH");
    let output = Command::new("sh")
        .args(["-c", line])
        .current_dir(dir)
        .env("PATH", path)
        .envs(env.iter().copied())
        .output()
        .expect("runs sh");
    assert!(
        output.status.success(),
        "`{line}` failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A developer's machine: a folder to work in, the kit's home (key and
/// credentials), the acme developer's token and the environment the kit
/// reads.
struct Developer {
    work: tempfile::TempDir,
    home: std::path::PathBuf,
    token: String,
    tools: std::path::PathBuf,
    env: Vec<(&'static str, String)>,
}

impl Developer {
    fn at(server: &Server) -> Self {
        let work = tempfile::tempdir().expect("a folder");
        let home = work.path().join("home");
        let token = server.demo_token("acme", &[Role::Developer]);
        let tools = xtask::devkit_tools_dir();
        let env = vec![
            ("WORKBENCH_SERVER", server.base.clone()),
            ("WORKBENCH_TOKEN", token.clone()),
            ("WORKBENCH_HOME", home.display().to_string()),
            ("WORKBENCH_TOOLS_DIR", tools.display().to_string()),
        ];
        Self { work, home, token, tools, env }
    }
}

/// The quick start for `language`, then what the tenant and the member do.
async fn from_nothing_to_a_running_plugin(db: Db, language: &str) {
    let commands = quickstart(&format!("{language}-quickstart"));
    assert!(commands.len() <= 4, "the developer needs {} commands: {commands:?}", commands.len());
    assert!(commands.iter().all(|c| c.starts_with("workbench plugin ")), "{commands:?}");
    assert!(commands[0].contains(&format!("--lang {language}")), "{commands:?}");

    let server = Server::demo(db).await;
    let Developer { work, home, token, env, .. } = Developer::at(&server);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for command in &commands {
        run(command, work.path(), &env);
    }

    // Published, signed by the key the kit made for the developer.
    let id = "site-inspection";
    let entry = server.call(Method::GET, &format!("/api/v1/plugins/{id}"), Some(&token), None).await;
    assert_eq!(entry.status, StatusCode::OK, "{}", entry.text);
    let pem = std::fs::read_to_string(home.join("signing-key.pem")).expect("the kit made a key");
    let key = <ed25519_dalek::SigningKey as ed25519_dalek::pkcs8::DecodePrivateKey>::from_pkcs8_pem(&pem).expect("key");
    let key_id = workbench_host::audit::chain::key_id(&key.verifying_key());
    assert!(entry.text.contains(&key_id), "signed by {key_id}: {}", entry.text);

    // The admin installs it; the member is asked, consents, and is greeted.
    let admin = server.demo_token("admin", &[Role::Admin]);
    let install = json!({"version": "0.1.0", "granted_scopes": ["user.name", "storage"]});
    let path = format!("/api/v1/workbench/plugins/{id}");
    let installed = server.call(Method::PUT, &path, Some(&admin), Some(install)).await;
    assert!(installed.status.is_success(), "{}", installed.text);
    let zhang = server.demo_token("zhang.wei", &[Role::Member]);
    let invoke = format!("/api/v1/me/plugins/{id}/invoke");
    let visits = json!({"method": "GET", "path": "/visits.json"});
    let asked = server.call(Method::POST, &invoke, Some(&zhang), Some(visits.clone())).await;
    assert_eq!((asked.status, asked.body["error"].as_str()), (StatusCode::FORBIDDEN, Some("consent_required")));
    let consent = json!({"scopes": ["user.name"]});
    let consented =
        server.call(Method::PUT, &format!("/api/v1/me/plugins/{id}/consent"), Some(&zhang), Some(consent)).await;
    assert_eq!(consented.status, StatusCode::OK, "{}", consented.text);
    for visit in 1..=2 {
        let answered = server.call(Method::POST, &invoke, Some(&zhang), Some(visits.clone())).await;
        assert_eq!(answered.status, StatusCode::OK, "{}", answered.text);
        assert_eq!(answered.body["status"], 200, "{}", answered.text);
        let body: serde_json::Value =
            serde_json::from_str(answered.body["body"].as_str().expect("a body")).expect("JSON");
        assert_eq!(body, json!({"name": "张伟", "visits": visit}));
    }
    let page = server.call(Method::POST, &invoke, Some(&zhang), Some(json!({"method": "GET", "path": "/"}))).await;
    assert!(page.body["body"].as_str().is_some_and(|b| b.contains("你好，张伟")), "{}", page.text);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_quickstart_takes_four_commands_from_nothing_to_published() {
    from_nothing_to_a_running_plugin(Db::Sqlite, "python").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rust_quickstart_takes_four_commands_from_nothing_to_published() {
    from_nothing_to_a_running_plugin(Db::Postgres, "rust").await;
}

/// A refusal says what to change: a plugin that reads a scope its manifest
/// no longer declares is refused at publish, naming the scope, and a
/// package whose component was swapped under its signature is refused
/// before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_refusals_say_what_to_change() {
    let server = Server::demo(Db::Sqlite).await;
    let Developer { work, home, token, tools, env } = Developer::at(&server);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run("workbench plugin new greeter --lang python && workbench plugin build greeter", work.path(), &env);
    // Drop the storage scope from the manifest: the component still reads it.
    let manifest_path = work.path().join("greeter/plugin.toml");
    let manifest = std::fs::read_to_string(&manifest_path).expect("manifest");
    let cut = manifest.find("[[scopes]]\nscope = \"storage\"").expect("the storage scope");
    std::fs::write(&manifest_path, &manifest[..cut]).expect("writes");
    let bin = xtask::host_binary();
    let refused = Command::new(bin)
        .args(["plugin", "publish", "greeter"])
        .current_dir(work.path())
        .envs(env.iter().copied())
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(
        stderr.contains("422") && stderr.contains("storage (imported as workbench:plugin/storage@0.3.0#"),
        "{stderr}"
    );
    assert!(stderr.contains("declare them in plugin.toml"), "{stderr}");

    // A package whose component is replaced keeps its old signature: refused locally.
    std::fs::write(&manifest_path, &manifest).expect("writes");
    run("workbench plugin pack greeter", work.path(), &env);
    let package = work.path().join("greeter/build/greeter-0.1.0.wbpkg");
    let mut bytes = std::fs::read(&package).expect("package");
    let at = bytes.windows(4).position(|w| w == b"\0asm").expect("the component inside");
    bytes[at + 100] ^= 0xff;
    std::fs::write(&package, bytes).expect("writes");
    let forged = Command::new(bin)
        .args(["plugin", "publish"])
        .arg(&package)
        .current_dir(work.path())
        .envs(env.iter().copied())
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&forged.stderr);
    assert!(!forged.status.success() && stderr.contains("does not match its plugin.toml and component"), "{stderr}");
    let listed = server.call(Method::GET, "/api/v1/plugins/greeter", Some(&token), None).await;
    assert_eq!(listed.status, StatusCode::NOT_FOUND, "nothing was published: {}", listed.text);

    // login: a member's token is refused before it is saved; a developer's
    // is checked with the server, saved owner-only, and used by publish.
    let login = |token: &str| {
        let mut child = Command::new(bin)
            .args(["plugin", "login", "--server", &server.base])
            .env("WORKBENCH_HOME", &home)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("runs");
        std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), format!("{token}\n").as_bytes())
            .expect("writes");
        child.wait_with_output().expect("ends")
    };
    let member = login(&server.demo_token("zhang.wei", &[Role::Member]));
    assert!(!member.status.success());
    assert!(String::from_utf8_lossy(&member.stderr).contains("developer role"), "{member:?}");
    assert!(!home.join("credentials.toml").exists());
    let saved = login(&token);
    assert!(saved.status.success(), "{saved:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(home.join("credentials.toml")).expect("saved").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let published = Command::new(bin)
        .args(["plugin", "publish", "greeter", "--server", &server.base])
        .current_dir(work.path())
        .env("WORKBENCH_HOME", &home)
        .env("WORKBENCH_TOOLS_DIR", &tools)
        .env_remove("WORKBENCH_TOKEN")
        .output()
        .expect("runs");
    assert!(published.status.success(), "{}", String::from_utf8_lossy(&published.stderr));
    assert!(String::from_utf8_lossy(&published.stdout).contains("published greeter@0.1.0"), "{published:?}");
    server.stop().await;
}

/// `docs/plugin.schema.json`, for editors, accepts every manifest in the
/// repository and what `plugin new` writes, names every scope the host
/// knows, and refuses what the host refuses.
#[test]
fn the_manifest_schema_agrees_with_the_host() {
    let root = xtask::repo_root();
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("docs/plugin.schema.json")).expect("schema"))
            .expect("JSON");
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let scopes: Vec<&str> = schema["properties"]["scopes"]["items"]["properties"]["scope"]["enum"]
        .as_array()
        .expect("the scope enum")
        .iter()
        .map(|s| s.as_str().expect("a name"))
        .collect();
    let known: Vec<&str> = workbench_host::scope::Scope::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(scopes, known);

    let as_json = |text: &str| serde_json::to_value(toml::from_str::<toml::Value>(text).expect("TOML")).expect("JSON");
    let mut manifests = Vec::new();
    for folder in ["plugins", "tests/guests", "tests/guests-py"] {
        for entry in std::fs::read_dir(root.join(folder)).expect("folder") {
            let path = entry.expect("entry").path().join("plugin.toml");
            if path.is_file() {
                manifests.push((path.display().to_string(), std::fs::read_to_string(&path).expect("reads")));
            }
        }
    }
    for language in [workbench_host::devkit::Language::Rust, workbench_host::devkit::Language::Python] {
        let files = workbench_host::devkit::template::files("site-inspection", language);
        let (_, text) = files.into_iter().find(|(path, _)| *path == "plugin.toml").expect("a manifest");
        manifests.push((format!("the {language:?} template"), text));
    }
    assert!(manifests.len() >= 6, "{}", manifests.len());
    for (what, text) in &manifests {
        let errors: Vec<String> = validator.iter_errors(&as_json(text)).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{what}: {errors:?}");
        workbench_host::model::manifest::Manifest::from_toml(text).unwrap_or_else(|e| panic!("{what}: {e}"));
    }

    let good = &manifests.iter().find(|(_, text)| text.contains("purpose = \"")).expect("a manifest in one language").1;
    let bilingual = &manifests.iter().find(|(_, text)| text.contains("name = { zh = ")).expect("a manifest in two").1;
    let configured = &manifests.iter().find(|(_, text)| text.contains("[[config]]")).expect("a manifest with config").1;
    let bad = [
        configured.replacen("key = \"", "key = \"Bad-", 1),
        configured.replacen("[[config]]", "[[config]]\nsecret = true", 1),
        configured.replacen("default = \"", "default = \"line\\nbreak", 1),
        good.replacen("id = \"", "id = \"X_", 1),
        good.replacen("scope = \"", "scope = \"user.salary", 1).replacen("user.salary", "user.salary\"\n#", 1),
        format!("homepage = \"https://x.example\"\n{good}"),
        good.replacen("purpose = \"", "purpose = \"ab\"\n#", 1),
        bilingual.replacen("name = { zh = ", "name = { chinese = ", 1),
        bilingual.replacen("name = { zh = ", "name = { zh = 3, ja = ", 1),
    ];
    for text in &bad {
        assert!(!validator.is_valid(&as_json(text)), "the schema accepts:\n{text}");
        assert!(workbench_host::model::manifest::Manifest::from_toml(text).is_err(), "the host accepts:\n{text}");
    }
}

/// `workbench plugin run` shows what a server does: the same response, log
/// lines and audit records for the same fixture person and consents (the
/// Python example on the fixture zhang.wei, who consents to user.id and
/// user.name and not to the optional department).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_run_reports_what_the_server_does() {
    use workbench_host::scope::Scope;
    use workbench_host::service::installations::InstallRequest;

    let component = xtask::python_plugins().component("visitor-log");
    let project = xtask::repo_root().join("plugins/visitor-log");
    let body = r#"{"visitor": "王总", "company": "上海建工", "date": "2026-12-02"}"#;
    // `workbench plugin run ARGS` on the example's manifest and component.
    let plugin_run = |args: &[&str]| {
        Command::new(xtask::host_binary())
            .args(["plugin", "run"])
            .args(args)
            .arg("--project")
            .arg(&project)
            .arg("--component")
            .arg(component)
            .env("WORKBENCH_TOOLS_DIR", xtask::devkit_tools_dir())
            .output()
            .expect("runs")
    };
    let output = plugin_run(&[
        "POST",
        "/visitors",
        "--json",
        "--consent",
        "user.id,user.name",
        "--header",
        "content-type: application/json",
        "--body",
        body,
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let ran: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");

    let server = Server::demo(Db::Sqlite).await;
    let manifest = std::fs::read_to_string(project.join("plugin.toml")).expect("manifest");
    let dev = server.demo_token("acme", &[Role::Developer]);
    let published = server.publish(&dev, &manifest, std::fs::read(component).expect("built"), None).await;
    assert_eq!(published.status, StatusCode::CREATED, "{}", published.text);
    let granted = vec![Scope::UserId, Scope::UserName, Scope::OrgDepartment, Scope::Storage, Scope::Log];
    let install = InstallRequest {
        version: "0.1.0".into(),
        granted,
        visible_to: None,
        egress: Vec::new(),
        config: Default::default(),
        subscriptions: None,
    };
    server.workbench.install("demo", "admin", "visitor-log", install).await.expect("installs");
    server
        .workbench
        .consent("demo", "zhang.wei", "visitor-log", &[Scope::UserId, Scope::UserName], &[], &Default::default())
        .await
        .expect("consents");
    let request = workbench_host::runtime::Request {
        method: "POST".into(),
        path: "/visitors".into(),
        query: String::new(),
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    };
    let invoked = server.workbench.invoke("demo", "zhang.wei", "visitor-log", request).await.expect("runs");

    assert_eq!(ran["status"], invoked.response.status);
    assert_eq!(ran["body"], String::from_utf8_lossy(&invoked.response.body).as_ref());
    let on_server: Vec<serde_json::Value> = invoked
        .audit
        .iter()
        .map(|r| json!({"action": r.event.action, "scope": r.event.scope, "outcome": r.event.outcome.as_str(), "reason": r.event.reason}))
        .collect();
    assert_eq!(ran["audit"], json!(on_server));
    assert_eq!(on_server.len(), 5, "the refused department, two fields, a read and a write: {on_server:?}");
    let logs: Vec<serde_json::Value> = invoked.logs.iter().map(|l| json!([l.level, l.message])).collect();
    assert_eq!(ran["logs"], json!(logs));
    assert!(ran["body"].as_str().is_some_and(|b| b.contains("张伟")), "{ran}");

    // A required scope without consent: no response, the reason, exit 1.
    let refused = plugin_run(&["GET", "/", "--consent", "none"]);
    let stdout = String::from_utf8_lossy(&refused.stdout);
    assert!(!refused.status.success() && stdout.contains("consent required for user.id (not_consented)"), "{stdout}");
    server.stop().await;
}

/// `workbench plugin run --event FILE` delivers one event as a server
/// would: 审批助手 told of a request within zhang.wei's limit notifies him
/// (with his consent); 工程日报's evening tick reminds him; an event the
/// plugin does not subscribe to, or a file that is not an event, is a
/// clear error.
#[test]
fn plugin_run_delivers_an_event_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = |plugin: &str, event: &str, consent: &str| {
        let file = dir.path().join(format!("{plugin}.json"));
        std::fs::write(&file, event).expect("event file");
        Command::new(xtask::host_binary())
            .args(["plugin", "run", "--json", "--event"])
            .arg(&file)
            .args(["--consent", consent, "--project"])
            .arg(xtask::repo_root().join("plugins").join(plugin))
            .arg("--component")
            .arg(xtask::guests().component(plugin))
            .env("WORKBENCH_TOOLS_DIR", xtask::devkit_tools_dir())
            .output()
            .expect("runs")
    };
    let submitted = r#"{"kind": "approval.submitted", "payload": {"approval_id": "a-9", "process_id": "expense",
        "title": "差旅报销", "amount_cents": 120000}}"#;
    let output = run("approval-helper", submitted, "perm.approval,notify");
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let ran: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(ran["delivery"], "done", "{ran}");
    assert_eq!(ran["notifications"][0][0], "待审批：差旅报销", "{ran}");
    assert_eq!(ran["notifications"][0][2], "/approvals/a-9", "{ran}");
    let actions: Vec<&str> =
        ran["audit"].as_array().expect("audit").iter().filter_map(|a| a["action"].as_str()).collect();
    assert!(actions.contains(&"notify.send") && actions.contains(&"event.deliver"), "{actions:?}");

    // Without consent to notifications: delivered, nobody notified.
    let output = run("approval-helper", submitted, "perm.approval");
    let ran: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(ran["delivery"], "done", "{ran}");
    assert!(ran.get("notifications").is_none(), "{ran}");

    let tick = r#"{"kind": "schedule", "schedule": "evening-reminder"}"#;
    let output = run("site-daily-report", tick, "user.id,user.name,notify");
    let ran: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(ran["delivery"], "done", "{ran}");
    assert!(ran["notifications"][0][2].as_str().is_some_and(|r| r.starts_with("/?date=")), "{ran}");

    let unknown = run("site-daily-report", r#"{"kind": "schedule", "schedule": "morning"}"#, "user.id,user.name");
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        !unknown.status.success() && stderr.contains("declares no schedule \"morning\"; it declares evening-reminder"),
        "{stderr}"
    );
    let unsubscribed = run("site-daily-report", r#"{"kind": "member.joined", "payload": {}}"#, "user.id,user.name");
    let stderr = String::from_utf8_lossy(&unsubscribed.stderr);
    assert!(!unsubscribed.status.success() && stderr.contains("does not subscribe to this kind"), "{stderr}");
    let someone_else =
        run("site-daily-report", r#"{"kind": "member.joined", "subject": "li.na", "payload": {}}"#, "user.id");
    let stderr = String::from_utf8_lossy(&someone_else.stderr);
    assert!(!someone_else.status.success() && stderr.contains("pass --member li.na"), "{stderr}");
    let garbled = run("site-daily-report", r#"{"kind": 3}"#, "user.id,user.name");
    let stderr = String::from_utf8_lossy(&garbled.stderr);
    assert!(!garbled.status.success() && stderr.contains("is not an event"), "{stderr}");

    // `--set KEY=VALUE` beside the global `--config FILE`: a precise error for a key not declared.
    let set = Command::new(xtask::host_binary())
        .args(["plugin", "run", "GET", "/", "--set", "nope=1", "--project"])
        .arg(xtask::repo_root().join("plugins/site-daily-report"))
        .arg("--component")
        .arg(xtask::guests().component("site-daily-report"))
        .env("WORKBENCH_TOOLS_DIR", xtask::devkit_tools_dir())
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&set.stderr);
    assert!(!set.status.success() && stderr.contains("declares no key \"nope\""), "{stderr}");
}

/// `workbench plugin dev`: the plugin is built, published as a development
/// version and installed on a local workbench; a person consents in the API
/// and is greeted; an edit of the source (here: a log line, and the log
/// capability declared) is rebuilt and upgraded to `-dev.2` without a
/// restart, and the plugin's log line is printed by the dev server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plugin_dev_rebuilds_republishes_and_streams_logs() {
    use std::io::BufRead as _;

    let work = tempfile::tempdir().expect("a folder");
    let tools = xtask::devkit_tools_dir();
    let bin = xtask::host_binary();
    let status = Command::new(bin)
        .args(["plugin", "new", "dev-loop", "--lang", "python"])
        .current_dir(work.path())
        .status()
        .expect("runs");
    assert!(status.success());
    let project = work.path().join("dev-loop");
    let mut child = Command::new(bin)
        .args(["plugin", "dev", "--listen", "127.0.0.1:0"])
        .arg(&project)
        .env("WORKBENCH_TOOLS_DIR", &tools)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    // Its lines, as they come, on a channel.
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let out = child.stdout.take().expect("stdout");
    let err = child.stderr.take().expect("stderr");
    for stream in [Box::new(out) as Box<dyn std::io::Read + Send>, Box::new(err)] {
        let tx = lines_tx.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stream).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
    }
    let mut seen = Vec::new();
    let mut wait_for = |needle: &str| -> String {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while std::time::Instant::now() < until {
            if let Ok(line) = lines.recv_timeout(std::time::Duration::from_millis(200)) {
                seen.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
        }
        panic!("no line with {needle:?}; saw:\n{}", seen.join("\n"));
    };
    let listening = wait_for("dev server on http://");
    let base = listening
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split(':').next().map(|host| (host, rest)))
        .map(|(_, rest)| format!("http://{}", rest.split_once(": ").map_or(rest, |(address, _)| address)))
        .expect("an address");
    wait_for("deployed dev-loop@0.1.0-dev.1");

    let client = reqwest::Client::new();
    let session: serde_json::Value = client
        .post(format!("{base}/api/v1/demo/session"))
        .json(&json!({"member": "zhang.wei"}))
        .send()
        .await
        .expect("session")
        .json()
        .await
        .expect("JSON");
    let token = session["token"].as_str().expect("a token").to_owned();
    let consented = client
        .put(format!("{base}/api/v1/me/plugins/dev-loop/consent"))
        .bearer_auth(&token)
        .json(&json!({"scopes": ["user.name"]}))
        .send()
        .await
        .expect("consents");
    assert!(consented.status().is_success(), "{:?}", consented.text().await);
    let invoke = || async {
        let reply = client
            .post(format!("{base}/api/v1/me/plugins/dev-loop/invoke"))
            .bearer_auth(&token)
            .json(&json!({"method": "GET", "path": "/visits.json"}))
            .send()
            .await
            .expect("invokes");
        let body: serde_json::Value = reply.json().await.expect("JSON");
        serde_json::from_str::<serde_json::Value>(body["body"].as_str().unwrap_or("null")).unwrap_or(body)
    };
    assert_eq!(invoke().await, json!({"name": "张伟", "visits": 1}));

    // The developer adds a log line (and declares the log capability).
    let app = std::fs::read_to_string(project.join("app.py")).expect("app.py");
    let app = app
        .replace("from workbench_sdk import", "from workbench_sdk import log,")
        .replace("    return name, visits\n", "    log.info(f\"visit {visits} of {name}\")\n    return name, visits\n");
    std::fs::write(project.join("app.py"), app).expect("writes");
    let manifest = std::fs::read_to_string(project.join("plugin.toml")).expect("manifest");
    let manifest = format!(
        "{manifest}\n[[scopes]]\nscope = \"log\"\npurpose = {{ zh = \"记录每次访问，便于排查问题。\", en = \"Record each visit for troubleshooting.\" }}\n"
    );
    std::fs::write(project.join("plugin.toml"), manifest).expect("writes");
    wait_for("deployed dev-loop@0.1.0-dev.2");
    assert_eq!(invoke().await, json!({"name": "张伟", "visits": 2}), "storage and consent survive the upgrade");
    wait_for("visit 2 of 张伟");

    let _ = child.kill();
    let _ = child.wait();
}
