//! The developer kit behind `workbench plugin …`: what a third-party
//! developer runs on their own machine to build, test and publish a plugin.

pub mod python;
pub mod wit;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::model::manifest::Manifest;

/// `workbench plugin …`: build, test and publish a plugin.
#[derive(Debug, clap::Subcommand)]
pub enum PluginCommand {
    /// Writes the WIT world of this plugin: the interfaces of the scopes its
    /// plugin.toml declares, with the contract they come from.
    ///
    /// componentize-py and componentize-js import every interface of the
    /// world they build against, and the host refuses a component that
    /// imports a scope its manifest does not declare. Build against this
    /// world (`componentize-py -d wit -w plugin …`) and the component imports
    /// exactly what plugin.toml declares. Run it again after changing the
    /// scopes. Rust plugins do not need it: wit-bindgen imports only what
    /// the code calls.
    Wit {
        /// The plugin's folder (with plugin.toml).
        #[arg(default_value = ".")]
        project: PathBuf,
        /// Where to write the world (default: the project's `wit/`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Builds the plugin's component.
    ///
    /// A Python plugin (app.py beside plugin.toml) is built with
    /// componentize-py against the world of the scopes plugin.toml declares,
    /// with the workbench SDK this binary carries; componentize-py is
    /// installed, pinned, in a virtualenv of its own the first time
    /// (WORKBENCH_TOOLS_DIR, else ~/.cache/workbench/tools). The component
    /// imports exactly the declared scopes, so it publishes as it is.
    Build {
        /// The plugin's folder (with plugin.toml).
        #[arg(default_value = ".")]
        project: PathBuf,
        /// Where to write the component (default: build/ID.wasm in the project).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Runs the plugin's own tests natively, on the SDK's mock host.
    ///
    /// Python: pytest (pinned, in the same virtualenv as the build) in the
    /// project folder, with workbench_sdk importable. Arguments after `--`
    /// go to pytest.
    Test {
        /// The plugin's folder (with plugin.toml).
        #[arg(default_value = ".")]
        project: PathBuf,
        /// More arguments for the test runner.
        #[arg(last = true)]
        args: Vec<String>,
    },
}

/// The language of a plugin project, from its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// `Cargo.toml` beside plugin.toml.
    Rust,
    /// `app.py` beside plugin.toml.
    Python,
}

impl Language {
    /// What `project` is written in.
    pub fn of(project: &std::path::Path) -> anyhow::Result<Self> {
        if project.join("app.py").is_file() {
            Ok(Language::Python)
        } else if project.join("Cargo.toml").is_file() {
            Ok(Language::Rust)
        } else {
            anyhow::bail!(
                "{} has neither app.py (Python) nor Cargo.toml (Rust) beside its plugin.toml",
                project.display()
            )
        }
    }
}

/// Runs one `workbench plugin` command.
pub async fn run(command: PluginCommand) -> anyhow::Result<ExitCode> {
    match command {
        PluginCommand::Wit { project, out } => {
            let manifest = read_manifest(&project)?;
            let out = out.unwrap_or_else(|| project.join("wit"));
            wit::write(&out, &manifest).with_context(|| format!("writing {}", out.display()))?;
            let scopes: Vec<_> = manifest.scopes.iter().map(|d| d.scope.as_str()).collect();
            println!(
                "wrote {} (world `{}`: {})",
                out.join("world.wit").display(),
                wit::WORLD,
                if scopes.is_empty() { "no scopes".to_owned() } else { scopes.join(", ") }
            );
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Build { project, out } => {
            let manifest = read_manifest(&project)?;
            let out = out.unwrap_or_else(|| project.join("build").join(format!("{}.wasm", manifest.id)));
            match Language::of(&project)? {
                Language::Python => python::build(&project, &manifest, &out)?,
                Language::Rust => anyhow::bail!(
                    "{} is a Rust plugin: build it with `cargo build --release --target wasm32-wasip2`",
                    project.display()
                ),
            }
            let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
            println!("built {} ({} bytes, {}@{})", out.display(), size, manifest.id, manifest.version);
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Test { project, args } => {
            read_manifest(&project)?;
            let passed = match Language::of(&project)? {
                Language::Python => python::test(&project, &args)?,
                Language::Rust => anyhow::bail!("{} is a Rust plugin: test it with `cargo test`", project.display()),
            };
            Ok(if passed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}

/// The project's `plugin.toml`, checked as publishing checks it.
pub fn read_manifest(project: &std::path::Path) -> anyhow::Result<Manifest> {
    let path = project.join("plugin.toml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (run this in a plugin's folder, or name the folder)", path.display()))?;
    Manifest::from_toml(&text).with_context(|| format!("{} is not a valid manifest", path.display()))
}
