//! The developer kit behind `workbench plugin …`: what a third-party
//! developer runs on their own machine to build, test and publish a plugin.

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
    }
}

/// The project's `plugin.toml`, checked as publishing checks it.
pub fn read_manifest(project: &std::path::Path) -> anyhow::Result<Manifest> {
    let path = project.join("plugin.toml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (run this in a plugin's folder, or name the folder)", path.display()))?;
    Manifest::from_toml(&text).with_context(|| format!("{} is not a valid manifest", path.display()))
}
