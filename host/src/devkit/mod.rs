//! The developer kit behind `workbench plugin …`: what a third-party
//! developer runs on their own machine to build, test and publish a plugin.

pub mod dev;
pub mod package;
pub mod python;
pub mod run;
pub mod rust;
pub mod template;
pub mod toolchain;
pub mod wit;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::model::manifest::Manifest;

/// `workbench plugin …`: build, test and publish a plugin.
///
/// From nothing to a published plugin:
///
///   workbench plugin new site-inspection --lang python
///   workbench plugin test site-inspection
///   workbench plugin build site-inspection
///   workbench plugin publish site-inspection --server https://workbench.example.com
///
/// (`publish` takes the developer token from WORKBENCH_TOKEN or from
/// `workbench plugin login`.)
#[derive(Debug, clap::Subcommand)]
pub enum PluginCommand {
    /// Starts a plugin project: plugin.toml (commented), the handler, its
    /// tests and a README, which build and pass as generated.
    ///
    /// The plugin greets the person by name (scope user.name) and counts their
    /// visits (storage). Scopes a plugin may declare: user.id, user.avatar,
    /// user.nickname, user.name, user.gender, user.birthday, user.region,
    /// user.email, user.phone (the last three are sensitive: people consent
    /// to them one by one), org.department, perm.customer, perm.approval; and
    /// the capabilities storage and log.
    New {
        /// The plugin id, also the folder's name: 2 to 63 characters of a-z,
        /// 0-9 and -, starting with a letter.
        name: String,
        /// The language: rust (wit-bindgen, the workbench-sdk crate) or
        /// python (componentize-py, the workbench_sdk package).
        #[arg(long, value_enum)]
        lang: Language,
        /// Where to make it (default: ./NAME).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
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
    /// A Rust plugin (Cargo.toml beside plugin.toml) is built for
    /// wasm32-wasip2 with rustup's target when installed, else with Debian's
    /// rustc-web toolchain (std from source); with neither, the command says
    /// what to install.
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
    /// Rust: `cargo test` (the SDK answers from `workbench_sdk::testing::MockHost`
    /// on the machine's own target). Python: pytest (pinned, in the same virtualenv as the build) in the
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
    /// Runs the built component here, against a fixture person, with no
    /// server: prints the response, the log lines and the audit records a
    /// server would make.
    ///
    /// It runs on the host's own gate, consent rules, storage and audit
    /// writer over a throwaway database, so what it shows is what a server
    /// does for the same person and consents. The fixtures are the demo
    /// company's people: zhang.wei (every field set), li.na, wang.fang, admin.
    ///
    ///   workbench plugin run GET /
    ///   workbench plugin run POST /visitors --body 'visitor=王总' --header 'content-type: application/x-www-form-urlencoded'
    ///   workbench plugin run GET / --consent none      (the person has consented to nothing)
    Run {
        /// GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS (not with --event).
        method: Option<String>,
        /// The path, with its query: `/`, `/visitors.json?date=2026-12-02`.
        path: Option<String>,
        /// Deliver one event instead of a request: a JSON file (or - for
        /// standard input) as the platform sends one, e.g.
        /// `{"kind": "approval.submitted", "payload": {…}}`, or a schedule
        /// tick, `{"kind": "schedule", "schedule": "NAME"}`; about --member.
        #[arg(long, conflicts_with_all = ["method", "path", "body", "headers"])]
        event: Option<String>,
        /// The plugin's folder (with plugin.toml).
        #[arg(long, default_value = ".")]
        project: PathBuf,
        /// The component (default: build/ID.wasm in the project).
        #[arg(long)]
        component: Option<PathBuf>,
        /// The fixture person who calls.
        #[arg(long, default_value = "zhang.wei")]
        member: String,
        /// Scopes the person consents to, comma-separated, or `none`
        /// (default: every personal scope plugin.toml declares).
        #[arg(long)]
        consent: Option<String>,
        /// Scopes the admin grants, comma-separated, or `none` (default:
        /// every declared scope).
        #[arg(long)]
        grant: Option<String>,
        /// A configuration value the admin sets, `KEY=VALUE` (repeatable;
        /// keys not given read their default from plugin.toml). `--config`
        /// is the host's own configuration file, as for every command.
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = config_pair)]
        set: Vec<(String, String)>,
        /// A request header, `name: value` (repeatable).
        #[arg(long = "header")]
        headers: Vec<String>,
        /// The request body: text, @FILE, or - for standard input.
        #[arg(long)]
        body: Option<String>,
        /// Print the run as JSON (status, headers, body, error, logs, audit).
        #[arg(long)]
        json: bool,
    },
    /// A local workbench with the demo company for trying the plugin in the
    /// page: builds it, publishes each build as a development version
    /// (VERSION-dev.N), installs it for everyone with every declared scope
    /// granted, rebuilds and upgrades when a source file changes, and prints
    /// the plugin's log lines as it runs. Stop it with Ctrl-C.
    ///
    /// Its data lives in .workbench/dev in the project and is made afresh at
    /// each start. People consent in the page as they would on a server.
    Dev {
        /// The plugin's folder (with plugin.toml).
        #[arg(default_value = ".")]
        project: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: std::net::SocketAddr,
        /// A configuration value the admin sets, `KEY=VALUE` (repeatable;
        /// keys not given read their default from plugin.toml). `--config`
        /// is the host's own configuration file, as for every command.
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = config_pair)]
        set: Vec<(String, String)>,
    },
    /// Makes an Ed25519 signing key for your packages.
    ///
    /// The host pins the key of a plugin's first signed version: later
    /// versions must be signed with the same key, so keep it (and a copy).
    /// `pack` and `publish` make one at the default place when there is none.
    Keygen {
        /// Where to write it (default: signing-key.pem in WORKBENCH_HOME, else
        /// ~/.config/workbench).
        #[arg(long)]
        key: Option<PathBuf>,
        /// Replace an existing key.
        #[arg(long)]
        force: bool,
    },
    /// Packs the built plugin: plugin.toml and the component, signed together
    /// with your key, in one file (build/ID-VERSION.wbpkg).
    Pack {
        /// The plugin's folder (with plugin.toml), built.
        #[arg(default_value = ".")]
        project: PathBuf,
        /// The signing key (default: the one `keygen` makes).
        #[arg(long)]
        key: Option<PathBuf>,
        /// Where to write the package.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Saves a developer token for a server, after checking it there.
    ///
    /// Reads the token from standard input (an operator mints one with
    /// `workbench token mint --roles developer`). WORKBENCH_TOKEN, when set,
    /// takes precedence.
    Login {
        /// The workbench's address.
        #[arg(long, env = "WORKBENCH_SERVER")]
        server: String,
    },
    /// Publishes a package, or a built project (packed and signed first), to
    /// a workbench.
    ///
    /// The developer token comes from WORKBENCH_TOKEN, else from `login`.
    /// The server checks the manifest, that the component imports only the
    /// scopes plugin.toml declares, the contract version and the signature;
    /// a refusal is printed with what to change.
    Publish {
        /// A package (.wbpkg) or the plugin's folder.
        #[arg(default_value = ".")]
        package: PathBuf,
        /// The workbench's address.
        #[arg(long, env = "WORKBENCH_SERVER")]
        server: String,
        /// The signing key, when packing a folder.
        #[arg(long)]
        key: Option<PathBuf>,
    },
}

/// The language of a plugin project, from its files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
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
        PluginCommand::New { name, lang, dir } => {
            let dir = dir.unwrap_or_else(|| PathBuf::from(&name));
            template::create(&dir, &name, lang)?;
            let shown = dir.display();
            println!("made {name} ({lang:?}) in {shown}; next:");
            println!("  workbench plugin test {shown}\n  workbench plugin build {shown}");
            println!(
                "  workbench plugin publish {shown} --server URL   (token: WORKBENCH_TOKEN or `workbench plugin login`)"
            );
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Run {
            method,
            path,
            project,
            component,
            member,
            consent,
            grant,
            set: config,
            headers,
            body,
            json,
            event,
        } => {
            let manifest = read_manifest(&project)?;
            let call = match (event, method, path) {
                (Some(file), _, _) => run::Call::Event(run::event_file(&file)?),
                (None, Some(method), Some(path)) => {
                    let headers = headers.iter().map(|h| run::header(h)).collect::<anyhow::Result<Vec<_>>>()?;
                    run::Call::Request(run::request(&method, &path, headers, run::body(body.as_deref())?)?)
                }
                _ => anyhow::bail!("give a request (`workbench plugin run GET /`) or an event (`--event FILE`)"),
            };
            let ran = run::run(run::RunRequest {
                component: component.unwrap_or_else(|| default_component(&project, &manifest)),
                project,
                call,
                member: member.clone(),
                grant: grant.as_deref().map(scopes).transpose()?,
                consent: consent.as_deref().map(scopes).transpose()?,
                config: config.into_iter().collect(),
                code_cache: python::tools_dir().join("code-cache"),
            })
            .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&ran)?);
            } else {
                run::print(&ran, &member);
            }
            let succeeded = ran.status.is_some() || ran.delivery.as_deref() == Some("done");
            Ok(if succeeded { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        PluginCommand::Dev { project, listen, set: config } => {
            dev::dev(&project, listen, config.into_iter().collect(), python::tools_dir().join("code-cache")).await?;
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Keygen { key, force } => {
            let path = key.unwrap_or_else(package::default_key);
            let key = package::keygen(&path, force)?;
            println!("wrote {} (key {})", path.display(), crate::audit::chain::key_id(&key.verifying_key()));
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Pack { project, key, out } => {
            let manifest = read_manifest(&project)?;
            let out = out.unwrap_or_else(|| default_package(&project, &manifest));
            let key = key.unwrap_or_else(package::default_key);
            let packed = package::pack(&project, &default_component(&project, &manifest), &key, &out)?;
            println!(
                "packed {} ({}@{}, signed by key {})",
                out.display(),
                manifest.id,
                manifest.version,
                packed.key_id()
            );
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Login { server } => {
            let server = package::server_url(&server)?;
            eprintln!("paste a developer token for {server} and press enter:");
            let mut token = String::new();
            std::io::stdin().read_line(&mut token).context("reading the token")?;
            let who = package::login(&server, token.trim()).await?;
            println!("saved the token for {server}: {who}");
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Publish { package: path, server, key } => {
            let server = package::server_url(&server)?;
            let token = package::token_for(&server)?;
            let package = if path.is_dir() {
                let manifest = read_manifest(&path)?;
                let key = key.unwrap_or_else(package::default_key);
                let out = default_package(&path, &manifest);
                package::pack(&path, &default_component(&path, &manifest), &key, &out)?
            } else {
                package::Package::read(&path)?
            };
            let published = package::publish(&package, &server, &token).await?;
            println!(
                "published {}@{} to {server} (contract {}, sha256 {}, signed by key {})",
                published["id"].as_str().unwrap_or("?"),
                published["version"].as_str().unwrap_or("?"),
                published["contract"].as_str().unwrap_or("?"),
                published["digest"].as_str().unwrap_or("?"),
                published["signed_by"].as_str().unwrap_or("?"),
            );
            println!(
                "a tenant admin installs it and grants its scopes (PUT /api/v1/workbench/plugins/{}); people consent \
                 when they first open it",
                package.manifest.id
            );
            Ok(ExitCode::SUCCESS)
        }
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
            let out = out.unwrap_or_else(|| default_component(&project, &manifest));
            build(&project, &manifest, &out)?;
            let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
            println!("built {} ({} bytes, {}@{})", out.display(), size, manifest.id, manifest.version);
            Ok(ExitCode::SUCCESS)
        }
        PluginCommand::Test { project, args } => {
            read_manifest(&project)?;
            let passed = match Language::of(&project)? {
                Language::Python => python::test(&project, &args)?,
                Language::Rust => rust::test(&project, &args)?,
            };
            Ok(if passed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}

/// Builds the project's component into `out`, in the project's language.
pub fn build(project: &std::path::Path, manifest: &Manifest, out: &std::path::Path) -> anyhow::Result<()> {
    match Language::of(project)? {
        Language::Python => python::build(project, manifest, out),
        Language::Rust => rust::build(project, manifest, out),
    }
}

/// `a,b,c` or `none`.
fn scopes(list: &str) -> anyhow::Result<Vec<crate::scope::Scope>> {
    if list.trim() == "none" {
        return Ok(Vec::new());
    }
    list.split(',').map(|s| s.trim().parse::<crate::scope::Scope>().map_err(|e| anyhow::anyhow!("{e}"))).collect()
}

/// Where `build` writes the component: `build/ID.wasm`.
pub fn default_component(project: &std::path::Path, manifest: &Manifest) -> PathBuf {
    project.join("build").join(format!("{}.wasm", manifest.id))
}

/// Where `pack` writes the package: `build/ID-VERSION.wbpkg`.
pub fn default_package(project: &std::path::Path, manifest: &Manifest) -> PathBuf {
    project.join("build").join(format!("{}-{}.{}", manifest.id, manifest.version, package::EXTENSION))
}

/// The project's `plugin.toml`, checked as publishing checks it.
pub fn read_manifest(project: &std::path::Path) -> anyhow::Result<Manifest> {
    let path = project.join("plugin.toml");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (run this in a plugin's folder, or name the folder)", path.display()))?;
    Manifest::from_toml(&text).with_context(|| format!("{} is not a valid manifest", path.display()))
}

/// What a plugin may reach while its developer runs it here (`plugin run`,
/// `plugin dev`): besides public hosts, their own service on this machine,
/// over plain `http` too.
pub(crate) fn local_egress() -> crate::runtime::egress::EgressConfig {
    use std::net::{Ipv4Addr, Ipv6Addr};
    let v4 = ipnet::Ipv4Net::new(Ipv4Addr::new(127, 0, 0, 0), 8).expect("a valid prefix");
    let v6 = ipnet::Ipv6Net::new(Ipv6Addr::LOCALHOST, 128).expect("a valid prefix");
    crate::runtime::egress::EgressConfig {
        plain_http_hosts: vec!["127.0.0.1".into(), "localhost".into(), "::1".into()],
        allow_private: vec![v4.into(), v6.into()],
        ..Default::default()
    }
}

/// Parses `KEY=VALUE` for `--config`.
fn config_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if crate::model::plugin_config::valid_key(key) => Ok((key.to_owned(), value.to_owned())),
        Some((key, _)) => Err(format!("{key:?} is not a config key (a-z, 0-9 and '_', starting with a letter)")),
        None => Err(format!("{text:?} is not KEY=VALUE")),
    }
}
