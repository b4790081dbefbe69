//! Builds the wasm32-wasip2 guests — the example plugins in `plugins/` and the
//! test guests in `tests/guests/` — from source, with whichever toolchain this
//! machine has:
//!
//! 1. rustup's `wasm32-wasip2` target, when installed;
//! 2. otherwise Debian's Rust toolchain (`rustc-web`, `cargo-web`,
//!    `rust-web-src`, `lld-22`, `wasi-libc`), building `std` from source;
//! 3. otherwise an error that says how to get one.
//!
//! Tests and benchmarks call [`guests`], which builds once per process;
//! cargo makes the build a no-op when nothing changed.

pub mod layout;
pub mod setup;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, bail};

/// The built guests: component paths by crate name.
#[derive(Debug, Clone)]
pub struct Guests {
    components: BTreeMap<String, PathBuf>,
}

impl Guests {
    /// The component built from crate `name` (e.g. `"site-daily-report"`).
    ///
    /// # Panics
    /// When there is no such guest: a typo in a test.
    pub fn component(&self, name: &str) -> &Path {
        self.components.get(name).unwrap_or_else(|| panic!("no guest named {name}; have {:?}", self.components.keys()))
    }

    /// Every guest: crate name and component path, by name.
    pub fn components(&self) -> impl Iterator<Item = (&str, &Path)> {
        self.components.iter().map(|(name, path)| (name.as_str(), path.as_path()))
    }
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives one level below the root").to_path_buf()
}

/// The guests, built on first use in this process.
///
/// # Panics
/// When no wasm toolchain is available or a guest fails to compile: the
/// message says what to install.
pub fn guests() -> &'static Guests {
    static GUESTS: OnceLock<Guests> = OnceLock::new();
    GUESTS.get_or_init(|| match build_guests() {
        Ok(guests) => guests,
        Err(error) => panic!("building the wasm guests failed: {error:#}"),
    })
}

/// The guest workspaces, relative to the repository root.
const GUEST_WORKSPACES: [&str; 2] = ["plugins", "tests/guests"];

/// Builds every guest workspace in release mode for [`TARGET`].
pub fn build_guests() -> anyhow::Result<Guests> {
    let root = repo_root();
    let toolchain = detect_toolchain()?;
    let target_dir = root.join("target").join("wasm");
    let mut components = BTreeMap::new();
    for workspace in GUEST_WORKSPACES {
        let dir = root.join(workspace);
        let status = toolchain
            .cargo_build(&dir, &target_dir)
            .status()
            .with_context(|| format!("running cargo for {workspace}"))?;
        if !status.success() {
            bail!("cargo build of {workspace} for {TARGET} failed ({status})");
        }
        for member in workspace_members(&dir)? {
            let artifact = target_dir.join(TARGET).join("release").join(format!("{}.wasm", member.replace('-', "_")));
            if !artifact.is_file() {
                bail!("{} was not produced", artifact.display());
            }
            components.insert(member, artifact);
        }
    }
    Ok(Guests { components })
}

/// The componentize-py release the Python guests are built with (PyPI): the
/// kit's (`workbench_host::devkit::python::COMPONENTIZE_PY`, which the
/// integration tests check this against).
pub const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";

/// The Python test guests (`tests/guests-py/NAME/app.py` with its
/// `plugin.toml`), built on first use in this process with componentize-py
/// as a third-party developer builds one: `NAME` by `workbench plugin build`
/// (against the world of the scopes the guest's `plugin.toml` declares, so it
/// imports exactly those);
/// `NAME-whole-world` the same source built against the whole contract
/// (`wit/`, every interface), as a developer who skips the command would.
/// componentize-py is installed from PyPI into a virtualenv under `target/`
/// when missing.
pub fn python_guests() -> &'static Guests {
    static GUESTS: OnceLock<Guests> = OnceLock::new();
    GUESTS.get_or_init(|| match build_python_guests() {
        Ok(guests) => guests,
        Err(error) => panic!("building the Python guests failed: {error:#}"),
    })
}

/// componentize-py in the virtualenv `workbench plugin build` made under
/// `target/devkit-tools/` (call it after a build): one virtualenv for the
/// kit and the test guests, at the kit's pin.
pub fn componentize_py() -> anyhow::Result<PathBuf> {
    let venv = format!("python-{}", COMPONENTIZE_PY.replace("==", "-"));
    let tool = devkit_tools_dir().join(venv).join("bin").join("componentize-py");
    if !tool.is_file() {
        bail!(
            "{} is missing: workbench plugin build makes it, and xtask::COMPONENTIZE_PY must equal the kit's pin \
             (host/src/devkit/python.rs)",
            tool.display()
        );
    }
    Ok(tool)
}

/// Builds every Python guest into `target/wasm/python/NAME.wasm` (and
/// `NAME-whole-world.wasm`).
pub fn build_python_guests() -> anyhow::Result<Guests> {
    let root = repo_root();
    let out = root.join("target").join("wasm").join("python");
    std::fs::create_dir_all(&out)?;
    let sources = root.join("tests").join("guests-py");
    let mut components = BTreeMap::new();
    for entry in std::fs::read_dir(&sources).with_context(|| format!("reading {}", sources.display()))? {
        let dir = entry?.path();
        if !dir.join("app.py").is_file() {
            continue;
        }
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let exact = out.join(format!("{name}.wasm"));
        kit_command(["plugin", "build"], &dir).arg("--out").arg(&exact).run()?;
        components.insert(name.clone(), exact);
        // A guest that sends requests imports wasi:http, which the contract
        // alone (`wit/`) does not have, and one told of events exports what
        // the world `plugin` does not: each builds only against its own world.
        let manifest = std::fs::read_to_string(dir.join("plugin.toml")).unwrap_or_default();
        if manifest.contains("[[egress]]") || manifest.contains("[[events]]") {
            continue;
        }
        let tool = componentize_py()?;
        let whole = out.join(format!("{name}-whole-world.wasm"));
        let status = Command::new(&tool)
            .arg("-d")
            .arg(root.join("wit"))
            .args(["-w", "plugin", "componentize", "-p"])
            .arg(&dir)
            .arg("app")
            .arg("-o")
            .arg(&whole)
            .stdout(std::process::Stdio::null())
            .status()
            .with_context(|| format!("running componentize-py for {name} against wit/"))?;
        if !status.success() || !whole.is_file() {
            bail!("componentize-py failed for {} against wit/ ({status})", dir.display());
        }
        components.insert(format!("{name}-whole-world"), whole);
    }
    Ok(Guests { components })
}

/// The JavaScript test guests (`tests/guests-js/NAME/app.js`), built once
/// per process with componentize-js (npm, pinned in
/// `tests/guests-js/package.json`) against the world `workbench plugin wit`
/// writes from each `plugin.toml`, as a JavaScript developer would: `NAME`.
pub fn js_guests() -> &'static Guests {
    static GUESTS: OnceLock<Guests> = OnceLock::new();
    GUESTS.get_or_init(|| match build_js_guests() {
        Ok(guests) => guests,
        Err(error) => panic!("building the JavaScript guests failed: {error:#}"),
    })
}

/// Builds every JavaScript guest into `target/wasm/js/NAME.wasm` (`npm ci`
/// in `tests/guests-js` first, when its packages are missing).
pub fn build_js_guests() -> anyhow::Result<Guests> {
    let root = repo_root();
    let out = root.join("target").join("wasm").join("js");
    std::fs::create_dir_all(&out)?;
    let sources = root.join("tests").join("guests-js");
    if !sources.join("node_modules").join("@bytecodealliance").join("componentize-js").exists() {
        let mut npm = Command::new("npm");
        npm.args(["ci", "--no-audit", "--no-fund"]).current_dir(&sources);
        run_command(&mut npm, "npm ci in tests/guests-js")?;
    }
    let mut components = BTreeMap::new();
    for entry in std::fs::read_dir(&sources).with_context(|| format!("reading {}", sources.display()))? {
        let dir = entry?.path();
        if !dir.join("app.js").is_file() {
            continue;
        }
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let wit = out.join(format!("{name}-wit"));
        kit_command(["plugin", "wit"], &dir).arg("--out").arg(&wit).run()?;
        let component = out.join(format!("{name}.wasm"));
        let mut build = Command::new("node");
        build.arg("build.mjs").arg(dir.join("app.js")).arg(&wit).arg(&component).current_dir(&sources);
        run_command(&mut build, &format!("componentize-js for {}", dir.display()))?;
        components.insert(name, component);
    }
    Ok(Guests { components })
}

/// The Python example plugins (`plugins/NAME/app.py`), each tested with
/// `workbench plugin test` and built with `workbench plugin build` into
/// `target/wasm/python/NAME_WITH_UNDERSCORES.wasm`, once per process, exactly
/// as their developer would. The kit's virtualenv is `target/devkit-tools/`.
pub fn python_plugins() -> &'static Guests {
    static PLUGINS: OnceLock<Guests> = OnceLock::new();
    PLUGINS.get_or_init(|| match build_python_plugins() {
        Ok(plugins) => plugins,
        Err(error) => panic!("building the Python example plugins failed: {error:#}"),
    })
}

/// Tests and builds every Python example plugin (see [`python_plugins`]).
pub fn build_python_plugins() -> anyhow::Result<Guests> {
    let root = repo_root();
    let out = root.join("target").join("wasm").join("python");
    let mut components = BTreeMap::new();
    let plugins = root.join("plugins");
    for entry in std::fs::read_dir(&plugins).with_context(|| format!("reading {}", plugins.display()))? {
        let dir = entry?.path();
        if !dir.join("app.py").is_file() {
            continue;
        }
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let artifact = out.join(format!("{}.wasm", name.replace('-', "_")));
        kit_command(["plugin", "test"], &dir).run()?;
        kit_command(["plugin", "build"], &dir).arg("--out").arg(&artifact).run()?;
        components.insert(name, artifact);
    }
    Ok(Guests { components })
}

/// What `workbench plugin new` makes, built by `workbench plugin build`:
/// `rust` and `python`, each a project under `target/templates/` made
/// afresh on first use in this process, for benchmarks. Each project's
/// folder (with its plugin.toml) is the component's `../..`.
pub fn template_plugins() -> &'static Guests {
    static TEMPLATES: OnceLock<Guests> = OnceLock::new();
    TEMPLATES.get_or_init(|| match build_template_plugins() {
        Ok(templates) => templates,
        Err(error) => panic!("building the plugin templates failed: {error:#}"),
    })
}

fn build_template_plugins() -> anyhow::Result<Guests> {
    let root = repo_root().join("target").join("templates");
    let mut components = BTreeMap::new();
    for language in ["rust", "python"] {
        let id = format!("template-{language}");
        let dir = root.join(&id);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        kit_command(["plugin", "new", &id, "--lang", language, "--dir"], &dir).run()?;
        kit_command(["plugin", "build"], &dir).run()?;
        components.insert(language.to_owned(), dir.join("build").join(format!("{id}.wasm")));
    }
    Ok(Guests { components })
}

/// `workbench <command> <dir>` with the kit's virtualenv under
/// `target/devkit-tools/`.
fn kit_command<const N: usize>(command: [&str; N], dir: &Path) -> KitCommand {
    let mut run = Command::new(host_binary());
    run.args(command).arg(dir).env("WORKBENCH_TOOLS_DIR", devkit_tools_dir());
    KitCommand { run, what: format!("workbench {} {}", command.join(" "), dir.display()) }
}

/// The kit's tools (the Python virtualenv) for the repository's own builds
/// and tests: `target/devkit-tools`, made once.
pub fn devkit_tools_dir() -> PathBuf {
    repo_root().join("target").join("devkit-tools")
}

/// A `workbench` command to run, named for its error.
struct KitCommand {
    run: Command,
    what: String,
}

impl KitCommand {
    fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Self {
        self.run.arg(arg);
        self
    }

    fn run(mut self) -> anyhow::Result<()> {
        run_command(&mut self.run, &self.what)
    }
}

/// Runs `command` to its end; fails, naming it as `what`, when it does.
pub fn run_command(command: &mut Command, what: &str) -> anyhow::Result<()> {
    let status = command.status().with_context(|| format!("running {what}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// The member directories of a guest workspace (each a crate named after it).
fn workspace_members(dir: &Path) -> anyhow::Result<Vec<String>> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        if entry.path().join("Cargo.toml").is_file() {
            members.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    members.sort();
    Ok(members)
}

/// The wasm toolchain: the same file `workbench plugin build` uses.
#[path = "../../host/src/devkit/toolchain.rs"]
mod toolchain;
pub use toolchain::{TARGET, Toolchain, native_cargo};

/// Picks rustup's target when installed, else Debian's toolchain; when
/// neither is there, installs Debian's where it can ([`setup::ensure`]),
/// else fails saying what to run.
pub fn detect_toolchain() -> anyhow::Result<Toolchain> {
    if let Some(found) = Toolchain::installed() {
        return Ok(found);
    }
    setup::ensure(&[setup::WASM_TOOLCHAIN])?;
    Toolchain::installed()
        .with_context(|| format!("{} (see docs/ARCHITECTURE.md, \"Building guests\")", Toolchain::missing()))
}

/// The `workbench` binary, built (debug) on first use in this process. It
/// is built with the workspace's test targets so features resolve as in
/// `cargo test --workspace` and nothing the tests built is rebuilt.
///
/// # Panics
/// When the build fails.
pub fn host_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let root = repo_root();
        let target_dir = root.join("target");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--quiet", "--workspace", "--bins", "--tests", "--target-dir"])
            .arg(&target_dir)
            .current_dir(&root)
            .status()
            .unwrap_or_else(|e| panic!("running cargo build for the workbench binary: {e}"));
        assert!(status.success(), "building the workbench binary failed ({status})");
        target_dir.join("debug").join("workbench")
    })
}

/// A running `workbench serve`: its URL and, in demo mode, the tokens it printed.
#[derive(Debug)]
pub struct Served {
    /// The process.
    pub child: std::process::Child,
    /// `http://ADDRESS`.
    pub base: String,
    /// The printed `export NAME=TOKEN` lines, by name (`TOKEN_ADMIN`, `TOKEN_ZHANG_WEI`, …).
    pub tokens: BTreeMap<String, String>,
}

impl Served {
    /// The printed token `name` (e.g. `TOKEN_ZHANG_WEI`).
    pub fn token(&self, name: &str) -> Option<&str> {
        self.tokens.get(name).map(String::as_str)
    }
}

/// Starts `workbench serve --demo` on a free port with the data under `data`
/// (and `database_url`, else SQLite there), the example plugins built from
/// source; see [`spawn_server`].
pub fn spawn_demo_server(data: &Path, database_url: Option<&str>, config: Option<&Path>) -> anyhow::Result<Served> {
    let guests = build_guests()?;
    let components = guests.component("noop").parent().context("component dir")?;
    let mut command = Command::new(host_binary());
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    command.arg("--data-dir").arg(data);
    if let Some(url) = database_url {
        command.args(["--database-url", url]);
    }
    command
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--demo-manifests"])
        .arg(repo_root().join("plugins"))
        .arg("--demo-components")
        .arg(components)
        .env("RUST_LOG", "warn");
    spawn_server(&mut command, true)
}

/// Spawns `command` (a `workbench … serve …`; stdout is taken over) and
/// reads its output until it listens and, with `--demo`, has printed its
/// tokens. The rest of its output is drained in the background.
pub fn spawn_server(command: &mut Command, demo: bool) -> anyhow::Result<Served> {
    use std::io::{BufRead, BufReader};
    let mut child = command.stdout(std::process::Stdio::piped()).spawn().context("starting workbench serve")?;
    let mut lines = BufReader::new(child.stdout.take().context("workbench stdout")?).lines();
    let (mut base, mut tokens) = (None, BTreeMap::new());
    for line in lines.by_ref() {
        let line = line?;
        if let Some(rest) = line.strip_prefix("Workbench is listening on ") {
            base = rest.split_whitespace().next().map(str::to_owned);
            if !demo {
                break;
            }
        }
        if let Some((name, token)) = line.trim().strip_prefix("export ").and_then(|l| l.split_once('=')) {
            tokens.insert(name.to_owned(), token.to_owned());
        }
        if line.contains("OpenAPI:") {
            break;
        }
    }
    std::thread::spawn(move || lines.for_each(drop));
    match base {
        Some(base) => Ok(Served { child, base, tokens }),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            bail!("workbench serve exited without printing its address")
        }
    }
}

/// The PostgreSQL server the suite uses (`WORKBENCH_TEST_POSTGRES` overrides).
pub fn postgres_url() -> String {
    std::env::var("WORKBENCH_TEST_POSTGRES").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// Runs SQL on the suite's PostgreSQL database with `psql`.
pub fn psql(sql: &str) -> anyhow::Result<()> {
    let status = Command::new("psql").arg(postgres_url()).args(["-q", "-c", sql]).status().context("running psql")?;
    if !status.success() {
        bail!("psql {sql:?} failed");
    }
    Ok(())
}

/// The database URL for `db` (`sqlite`: None, SQLite under `data`; else a
/// fresh PostgreSQL schema named after `prefix` and this process) and the
/// schema to drop afterwards.
pub fn database(db: &str, data: &Path, prefix: &str) -> anyhow::Result<(Option<String>, Option<String>)> {
    std::fs::create_dir_all(data)?;
    if db == "sqlite" {
        return Ok((None, None));
    }
    let schema = format!("{prefix}_{}", std::process::id());
    psql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"))?;
    Ok((Some(format!("{}?options=-c%20search_path%3D{schema}", postgres_url())), Some(schema)))
}
