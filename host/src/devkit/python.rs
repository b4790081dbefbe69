//! Python plugins: the SDK (`sdk/python/`, embedded in the binary so that
//! the SDK always matches the host's contract), componentize-py and pytest,
//! pinned, in a virtualenv this module manages.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use crate::model::manifest::Manifest;

/// The componentize-py release plugins are built with (PyPI).
pub const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";

/// The pytest release plugins are tested with (PyPI).
pub const PYTEST: &str = "pytest==9.2.0";

/// The SDK's files, by path inside `workbench_sdk/`.
pub const SDK: [(&str, &str); 14] = [
    ("__init__.py", include_str!("../../../sdk/python/workbench_sdk/__init__.py")),
    ("_host.py", include_str!("../../../sdk/python/workbench_sdk/_host.py")),
    ("config.py", include_str!("../../../sdk/python/workbench_sdk/config.py")),
    ("errors.py", include_str!("../../../sdk/python/workbench_sdk/errors.py")),
    ("events.py", include_str!("../../../sdk/python/workbench_sdk/events.py")),
    ("html.py", include_str!("../../../sdk/python/workbench_sdk/html.py")),
    ("http.py", include_str!("../../../sdk/python/workbench_sdk/http.py")),
    ("log.py", include_str!("../../../sdk/python/workbench_sdk/log.py")),
    ("notify.py", include_str!("../../../sdk/python/workbench_sdk/notify.py")),
    ("outgoing.py", include_str!("../../../sdk/python/workbench_sdk/outgoing.py")),
    ("permissions.py", include_str!("../../../sdk/python/workbench_sdk/permissions.py")),
    ("profile.py", include_str!("../../../sdk/python/workbench_sdk/profile.py")),
    ("storage.py", include_str!("../../../sdk/python/workbench_sdk/storage.py")),
    ("testing.py", include_str!("../../../sdk/python/workbench_sdk/testing.py")),
];

/// Where the tools' virtualenv lives: `WORKBENCH_TOOLS_DIR`, else the user's
/// cache (`$XDG_CACHE_HOME/workbench/tools` or `~/.cache/workbench/tools`).
pub fn tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("WORKBENCH_TOOLS_DIR") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("workbench").join("tools")
}

/// The virtualenv with componentize-py and pytest, made on first use.
pub fn tools() -> anyhow::Result<PathBuf> {
    let venv = tools_dir().join(format!("python-{}", COMPONENTIZE_PY.replace("==", "-")));
    let ready = venv.join(".ready");
    if ready.is_file() {
        return Ok(venv);
    }
    eprintln!("setting up {COMPONENTIZE_PY} and {PYTEST} in {} (once)", venv.display());
    let status = Command::new("python3").args(["-m", "venv"]).arg(&venv).status().context(
        "running python3 -m venv: Python plugins need Python 3.11 or later with venv (apt-get install python3-venv)",
    )?;
    if !status.success() {
        bail!("python3 -m venv {} failed ({status}); install Python 3.11 or later with venv", venv.display());
    }
    let status = Command::new(venv.join("bin").join("pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", COMPONENTIZE_PY, PYTEST])
        .status()
        .context("running pip")?;
    if !status.success() {
        bail!("pip install {COMPONENTIZE_PY} {PYTEST} failed ({status}); PyPI must be reachable");
    }
    std::fs::write(&ready, "")?;
    Ok(venv)
}

/// Writes the SDK to `dir/workbench_sdk/`, replacing an earlier copy.
pub fn write_sdk(dir: &Path) -> std::io::Result<()> {
    let package = dir.join("workbench_sdk");
    if package.exists() {
        std::fs::remove_dir_all(&package)?;
    }
    std::fs::create_dir_all(&package)?;
    for (name, text) in SDK {
        std::fs::write(package.join(name), text)?;
    }
    Ok(())
}

/// The folder the kit writes its generated files to (`.workbench/`: the
/// world, the SDK), which a project keeps out of version control.
pub fn work_dir(project: &Path) -> PathBuf {
    project.join(".workbench")
}

/// Builds `project/app.py` into `out` with componentize-py against the
/// world of the scopes `manifest` declares.
pub fn build(project: &Path, manifest: &Manifest, out: &Path) -> anyhow::Result<()> {
    if !project.join("app.py").is_file() {
        bail!(
            "{} has no app.py: a Python plugin's handler lives in app.py (`Handler = export(handle)`)",
            project.display()
        );
    }
    let venv = tools()?;
    let work = work_dir(project);
    let wit = work.join("wit");
    super::wit::write(&wit, manifest).with_context(|| format!("writing {}", wit.display()))?;
    write_sdk(&work).with_context(|| format!("writing the SDK to {}", work.display()))?;
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let status = Command::new(venv.join("bin").join("componentize-py"))
        .arg("-d")
        .arg(&wit)
        .args(["-w", super::wit::WORLD, "componentize", "-p"])
        .arg(project)
        .arg("-p")
        .arg(&work)
        .arg("app")
        .arg("-o")
        .arg(out)
        .stdout(std::process::Stdio::null())
        .status()
        .context("running componentize-py")?;
    if !status.success() || !out.is_file() {
        bail!(
            "componentize-py could not build {} ({status}); its message is above. A module it cannot find \
             is imported by app.py but not in the project folder",
            project.display()
        );
    }
    Ok(())
}

/// Runs the project's tests with pytest on the mock host.
pub fn test(project: &Path, args: &[String]) -> anyhow::Result<bool> {
    let project = &std::path::absolute(project)?;
    let venv = tools()?;
    let work = work_dir(project);
    write_sdk(&work).with_context(|| format!("writing the SDK to {}", work.display()))?;
    let path = std::env::join_paths([work.as_path(), project])?;
    let status = Command::new(venv.join("bin").join("python"))
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .args(args)
        .current_dir(project)
        .env("PYTHONPATH", path)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .status()
        .context("running pytest")?;
    Ok(status.success())
}
