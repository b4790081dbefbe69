//! Rust plugins: the SDK crate (`sdk/`, embedded in the binary so that a
//! project builds against the SDK of the host's contract without a registry)
//! and the wasm toolchain ([`Toolchain`]).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use super::toolchain::{TARGET, Toolchain, native_cargo};
use crate::model::manifest::Manifest;

/// The SDK crate's sources, by path inside `src/`.
pub const SDK: [(&str, &str); 18] = [
    ("lib.rs", include_str!("../../../sdk/src/lib.rs")),
    ("config.rs", include_str!("../../../sdk/src/config.rs")),
    ("date.rs", include_str!("../../../sdk/src/date.rs")),
    ("error.rs", include_str!("../../../sdk/src/error.rs")),
    ("events.rs", include_str!("../../../sdk/src/events.rs")),
    ("html.rs", include_str!("../../../sdk/src/html.rs")),
    ("http.rs", include_str!("../../../sdk/src/http.rs")),
    ("http/outgoing.rs", include_str!("../../../sdk/src/http/outgoing.rs")),
    ("json.rs", include_str!("../../../sdk/src/json.rs")),
    ("log.rs", include_str!("../../../sdk/src/log.rs")),
    ("notify.rs", include_str!("../../../sdk/src/notify.rs")),
    ("permissions.rs", include_str!("../../../sdk/src/permissions.rs")),
    ("profile.rs", include_str!("../../../sdk/src/profile.rs")),
    ("storage.rs", include_str!("../../../sdk/src/storage.rs")),
    ("testing.rs", include_str!("../../../sdk/src/testing.rs")),
    ("host/mod.rs", include_str!("../../../sdk/src/host/mod.rs")),
    ("host/mock.rs", include_str!("../../../sdk/src/host/mock.rs")),
    ("host/wasm.rs", include_str!("../../../sdk/src/host/wasm.rs")),
];

/// The SDK's version: the workspace's, as `sdk/Cargo.toml` inherits it.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where a project's copy of the SDK lives, relative to the project.
pub const SDK_PATH: &str = ".workbench/workbench-sdk";

/// Writes the SDK crate to `project/.workbench/workbench-sdk/` (sources,
/// manifest and the contract), replacing an earlier copy.
pub fn write_sdk(project: &Path) -> std::io::Result<()> {
    let dir = project.join(SDK_PATH);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    for (name, text) in SDK {
        let path = dir.join("src").join(name);
        std::fs::create_dir_all(path.parent().unwrap_or(&dir))?;
        std::fs::write(path, text)?;
    }
    let wit = dir.join("wit");
    std::fs::create_dir_all(&wit)?;
    for (name, text) in super::wit::CONTRACT {
        std::fs::write(wit.join(name), text)?;
    }
    std::fs::write(
        dir.join("Cargo.toml"),
        format!(
            "# Written by the workbench binary: the SDK of the contract it hosts.\n\
             [package]\n\
             name = \"workbench-sdk\"\n\
             version = \"{SDK_VERSION}\"\n\
             edition = \"2024\"\n\
             license = \"Apache-2.0\"\n\
             publish = false\n\n\
             [dependencies]\n\
             wit-bindgen = {{ version = \"0.45\", default-features = false, features = [\"macros\", \"realloc\"] }}\n\n\
             [target.'cfg(target_arch = \"wasm32\")'.dependencies]\n\
             wasi = \"0.14\"\n"
        ),
    )
}

/// The package name in `project/Cargo.toml`.
fn package_name(project: &Path) -> anyhow::Result<String> {
    let path = project.join("Cargo.toml");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let table: toml::Table = text.parse().with_context(|| format!("{} is not valid TOML", path.display()))?;
    table
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .map(str::to_owned)
        .with_context(|| format!("{} has no [package] name", path.display()))
}

/// Writes the SDK where `Cargo.toml` expects it, when it does.
fn refresh_sdk(project: &Path) -> anyhow::Result<()> {
    let manifest = std::fs::read_to_string(project.join("Cargo.toml"))?;
    if manifest.contains(SDK_PATH) {
        write_sdk(project).with_context(|| format!("writing the SDK to {}", project.join(SDK_PATH).display()))?;
    }
    Ok(())
}

/// Builds the crate in `project` for `wasm32-wasip2` and copies the
/// component to `out`.
pub fn build(project: &Path, manifest: &Manifest, out: &Path) -> anyhow::Result<()> {
    let project = &std::path::absolute(project)?;
    let toolchain = Toolchain::installed().with_context(Toolchain::missing)?;
    refresh_sdk(project)?;
    let name = package_name(project)?;
    let target_dir = project.join("target");
    let status = toolchain.cargo_build(project, &target_dir).status().context("running cargo")?;
    if !status.success() {
        bail!("cargo could not build {} for {TARGET} ({status}); its message is above", project.display());
    }
    let artifact: PathBuf = target_dir.join(TARGET).join("release").join(format!("{}.wasm", name.replace('-', "_")));
    if !artifact.is_file() {
        bail!(
            "cargo built no {}: a plugin crate needs `[lib] crate-type = [\"cdylib\", \"rlib\"]` in Cargo.toml \
             (plugin {})",
            artifact.display(),
            manifest.id
        );
    }
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::copy(&artifact, out).with_context(|| format!("copying {} to {}", artifact.display(), out.display()))?;
    Ok(())
}

/// Runs the crate's tests natively (`cargo test`): the SDK answers from its
/// mock host there.
pub fn test(project: &Path, args: &[String]) -> anyhow::Result<bool> {
    let project = &std::path::absolute(project)?;
    refresh_sdk(project)?;
    let status = native_cargo().arg("test").args(args).current_dir(project).status().context("running cargo test")?;
    Ok(status.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every source file of `sdk/src` is in the binary's copy.
    #[test]
    fn the_embedded_sdk_is_the_whole_crate() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk/src");
        let mut on_disk = Vec::new();
        let mut stack = vec![root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).expect("sdk/src") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    stack.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    on_disk.push(path.strip_prefix(&root).expect("inside").to_string_lossy().into_owned());
                }
            }
        }
        on_disk.sort();
        let mut embedded: Vec<String> = SDK.iter().map(|(name, _)| (*name).to_owned()).collect();
        embedded.sort();
        assert_eq!(embedded, on_disk);
    }
}
