//! `workbench plugin dev`: a local workbench with the demo company that
//! rebuilds the plugin when its sources change, publishes each build as a
//! development version (`VERSION-dev.N`), upgrades the installation to it
//! and streams the plugin's log lines.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;

use crate::config::Config;
use crate::demo;
use crate::service::Workbench;
use crate::service::installations::InstallRequest;

/// How often the sources are looked at.
const POLL: Duration = Duration::from_millis(400);

/// Folders the kit or the toolchains write: changes there are not edits.
const IGNORED: [&str; 6] = ["build", "target", ".workbench", "__pycache__", ".git", ".pytest_cache"];

/// The sources' paths, sizes and modification times.
fn snapshot(project: &Path) -> Vec<(PathBuf, u64, Option<SystemTime>)> {
    let mut files = Vec::new();
    let mut stack = vec![project.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if IGNORED.iter().any(|i| name == *i) {
                continue;
            }
            match entry.metadata() {
                Ok(meta) if meta.is_dir() => stack.push(path),
                Ok(meta) => files.push((path, meta.len(), meta.modified().ok())),
                Err(_) => {}
            }
        }
    }
    files.sort();
    files
}

/// The manifest text with `version` replaced (comments are not kept).
fn with_version(manifest: &str, version: &str) -> anyhow::Result<String> {
    let mut table: toml::Table = manifest.parse().context("plugin.toml is not valid TOML")?;
    table.insert("version".into(), toml::Value::String(version.to_owned()));
    Ok(toml::to_string(&table)?)
}

/// Builds, publishes as `VERSION-dev.N` and installs (or upgrades) for
/// everyone in the demo company, granting every declared scope.
async fn deploy(
    workbench: &Workbench,
    project: &Path,
    config: &BTreeMap<String, String>,
    n: u32,
) -> anyhow::Result<String> {
    let manifest = super::read_manifest(project)?;
    let component = super::default_component(project, &manifest);
    super::build(project, &manifest, &component)?;
    let version = format!("{}-dev.{n}", manifest.version);
    let text = with_version(&std::fs::read_to_string(project.join("plugin.toml"))?, &version)?;
    let bytes = std::fs::read(&component)?;
    let published = workbench.publish(demo::TENANT, demo::DEVELOPER, &text, bytes, None).await?;
    let request = InstallRequest {
        version: published.version.clone(),
        granted: published.scopes,
        visible_to: None,
        egress: published.destinations,
        config: config.clone(),
        subscriptions: None,
    };
    workbench.install(demo::TENANT, demo::ADMIN, &manifest.id, request).await?;
    Ok(format!("{}@{}", manifest.id, published.version))
}

/// Runs the development server on `listen` until interrupted.
pub async fn dev(
    project: &Path,
    listen: SocketAddr,
    values: BTreeMap<String, String>,
    code_cache: PathBuf,
) -> anyhow::Result<()> {
    let project = &std::path::absolute(project)?;
    super::read_manifest(project)?;
    let data = super::python::work_dir(project).join("dev");
    if data.exists() {
        std::fs::remove_dir_all(&data).with_context(|| format!("removing {}", data.display()))?;
    }
    let mut config =
        Config { data_dir: data, code_cache_dir: Some(code_cache), egress: super::local_egress(), ..Config::default() };
    config.server.listen = listen;
    let (workbench, writer) = Workbench::open(&config).await?;
    let workbench = Arc::new(workbench);
    workbench.sync_directory(demo::TENANT, demo::TENANT_NAME, &demo::members()).await?;
    let mut state = crate::api::state(&config, Arc::clone(&workbench))?;
    state.demo = true;
    let app = crate::api::app(state, &config);
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    let address = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::api::serve(
        listener,
        app,
        async move {
            let _ = stop_rx.await;
        },
        Duration::from_secs(2),
    ));
    println!(
        "dev server on http://{address}: open it and pick a person of the demo company (zhang.wei has every field)"
    );
    let mut n = 0;
    let mut seen = snapshot(project);
    loop {
        n += 1;
        match deploy(&workbench, project, &values, n).await {
            Ok(deployed) => println!("deployed {deployed}: open it in the page; its log lines follow"),
            Err(error) => println!("build {n} failed: {error:#}\nwaiting for a change"),
        }
        // Wait for an edit (or Ctrl-C).
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {
                    let _ = stop_tx.send(());
                    let _ = server.await;
                    drop(workbench);
                    writer.await.context("the audit writer")?;
                    return Ok(());
                }
                () = tokio::time::sleep(POLL) => {}
            }
            if snapshot(project) != seen {
                // Let an editor finish writing.
                tokio::time::sleep(POLL).await;
                seen = snapshot(project);
                println!("change seen; rebuilding");
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dev_version_keeps_the_manifest_and_edits_are_seen_outside_build_folders() {
        let text =
            "id = \"dev-loop\"\nname = \"X\"\nversion = \"1.2.0\"\n[developer]\nname = \"A\"\ncontact = \"a@b.c\"\n";
        let dev = with_version(text, "1.2.0-dev.3").expect("rewrites");
        let manifest = crate::model::manifest::Manifest::from_toml(&dev).expect("valid");
        assert_eq!(manifest.version.to_string(), "1.2.0-dev.3");
        assert_eq!(manifest.developer.contact, "a@b.c");

        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("app.py"), "a").expect("writes");
        std::fs::create_dir_all(dir.path().join("build")).expect("dir");
        let before = snapshot(dir.path());
        std::fs::write(dir.path().join("build/x.wasm"), "built").expect("writes");
        assert_eq!(snapshot(dir.path()), before, "build output is not an edit");
        std::fs::write(dir.path().join("app.py"), "ab").expect("writes");
        assert_ne!(snapshot(dir.path()), before);
    }
}
