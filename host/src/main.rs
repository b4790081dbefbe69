//! `workbench`: the host's command line (names and flags as in `API.md`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use workbench_host::api::auth::JwtKeys;
use workbench_host::config::Config;
use workbench_host::model::directory::Role;
use workbench_host::service::Workbench;
use workbench_host::{api, demo};

#[derive(Debug, Parser)]
#[command(
    name = "workbench",
    version,
    about = "Runs third-party workbench plugins as sandboxed WebAssembly components"
)]
struct Cli {
    /// Configuration file (TOML).
    #[arg(long, global = true, env = "WORKBENCH_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory (SQLite database, keys, compiled-code cache).
    #[arg(long, global = true, env = "WORKBENCH_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Database URL (`postgres://…`); SQLite under the data dir when absent.
    #[arg(long, global = true, env = "WORKBENCH_DATABASE_URL")]
    database_url: Option<String>,
    /// Log format on stderr: text or json (levels via RUST_LOG).
    #[arg(long, global = true, env = "WORKBENCH_LOG_FORMAT", default_value = "text")]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the HTTP server until SIGINT or SIGTERM, then drains in-flight
    /// requests and flushes the audit log.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long, env = "WORKBENCH_LISTEN")]
        listen: Option<std::net::SocketAddr>,
        /// Seed the demo company once (tenant `demo`, its members and the
        /// example plugins) and print ready-to-paste tokens.
        #[arg(long)]
        demo: bool,
        /// Folder with one `<plugin>/plugin.toml` per example plugin (a relative
        /// path not found here is looked up in the source tree).
        #[arg(long, default_value = "plugins", requires = "demo")]
        demo_manifests: PathBuf,
        /// Folder with the built example components (likewise).
        #[arg(long, default_value = "target/wasm/wasm32-wasip2/release", requires = "demo")]
        demo_components: PathBuf,
    },
    /// Tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Audit log commands.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The host's secrets.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Retention: what outlived its period.
    Retention {
        #[command(subcommand)]
        command: RetentionCommand,
    },
    /// Consent receipts.
    Receipt {
        #[command(subcommand)]
        command: ReceiptCommand,
    },
    /// A plugin developer's commands.
    Plugin {
        #[command(subcommand)]
        command: workbench_host::devkit::PluginCommand,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Prints a JWT signed with the configured key (for the demo and tests).
    Mint {
        /// Tenant id (`tid`).
        #[arg(long)]
        tenant: String,
        /// Member id (`sub`).
        #[arg(long)]
        member: String,
        /// Roles: admin, app_admin, member_admin, auditor, member, developer, operator (comma-separated).
        #[arg(long, value_delimiter = ',', required = true)]
        roles: Vec<String>,
        /// Lifetime, e.g. 30m, 8h, 7d.
        #[arg(long, default_value = "8h")]
        ttl: humantime::Duration,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Prints a fresh set of secrets as `export WORKBENCH_…=…` lines (give
    /// every replica the same), or writes them as files into `--out`.
    Generate {
        /// A directory to write the secret files into (mode 0600; they must not exist).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Rotates the audit signing key: a new key takes over with a handover
    /// both keys sign, recorded in the database, so checkpoints signed by
    /// the old key still verify. Prints the new key's `export` line, or
    /// writes it to `--out`; the keys directory's file is replaced when the
    /// key came from there.
    Rotate {
        /// A file to write the new key into (it must not exist).
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ReceiptCommand {
    /// Checks a consent receipt (downloaded from 我的数据) offline against
    /// the tenant's audit keys (`GET /api/v1/audit/keys`); exits 1 when it
    /// was altered or no given key signed it.
    Verify {
        /// The receipt file.
        file: PathBuf,
        /// A public key to trust, hex (repeat for every key of the history).
        #[arg(long, required = true)]
        public_key: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
enum RetentionCommand {
    /// Purges now what outlived each tenant's periods (as `serve` does on
    /// its schedule) and prints what went, one JSON line per tenant.
    Purge,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walks the hash chain against the signed checkpoints; exits 1 and names
    /// the first bad record if anything was altered, deleted or truncated.
    Verify {
        /// Only this tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// Verify an NDJSON export (`GET /api/v1/audit/export`) instead of
        /// the database: needs only the file and the public key.
        #[arg(long, requires = "public_key")]
        offline: Option<PathBuf>,
        /// The checkpoint-signing public key, hex (see `audit public-key`):
        /// the key to trust; keys the export's handovers link to it are
        /// trusted too.
        #[arg(long, requires = "offline")]
        public_key: Option<String>,
    },
    /// Prints the public key that verifies audit checkpoints (hex).
    PublicKey,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The developer's commands print what they did themselves; the host's
    // own info lines (a publish inside `plugin run`) would only be noise.
    // `plugin dev` streams the plugin's own log lines (target `plugin`).
    let default = match &cli.command {
        Command::Plugin { command: workbench_host::devkit::PluginCommand::Dev { .. } } => "warn,plugin=debug",
        Command::Plugin { .. } => "warn",
        _ => "info,sqlx=warn,wasmtime=warn,cranelift=warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Plugin { command } = cli.command {
        return workbench_host::devkit::run(command).await;
    }
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(dir) = cli.data_dir {
        config.data_dir = dir;
    }
    if let Some(url) = cli.database_url {
        config.database_url = Some(url);
    }
    match cli.command {
        Command::Serve { listen, demo, demo_manifests, demo_components } => {
            if let Some(listen) = listen {
                config.server.listen = listen;
            }
            let seed = demo.then(|| (beside_sources(demo_manifests), beside_sources(demo_components)));
            serve(config, seed).await
        }
        Command::Token { command: TokenCommand::Mint { tenant, member, roles, ttl } } => {
            let keys = JwtKeys::from_config(&config)?;
            let roles = parse_roles(&roles)?;
            println!("{}", keys.mint(&tenant, &member, &roles, ttl.into())?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit { command: AuditCommand::Verify { tenant, offline: Some(file), public_key } } => {
            verify_offline(&file, public_key.as_deref().unwrap_or_default(), tenant.as_deref())
        }
        Command::Audit { command: AuditCommand::PublicKey } => {
            let key = workbench_host::service::keys::audit_signing_key(&config)?;
            println!("{}", hex::encode(key.verifying_key().as_bytes()));
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys { command: KeysCommand::Generate { out } } => {
            for line in workbench_host::service::keys::generate(out.as_deref())? {
                println!("{line}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Keys { command: KeysCommand::Rotate { out } } => {
            let store = Workbench::open_store(&config).await?;
            let line = workbench_host::service::keys::rotate(&config, store.as_ref(), out.as_deref()).await?;
            println!("{line}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Receipt { command: ReceiptCommand::Verify { file, public_key } } => verify_receipt(&file, &public_key),
        Command::Retention { command: RetentionCommand::Purge } => {
            let (workbench, writer) = Workbench::open(&config).await?;
            let reports = workbench.purge(workbench_host::now_ms()).await?;
            drop(workbench);
            writer.await?;
            let Some(reports) = reports else {
                println!("another replica is purging; nothing done");
                return Ok(ExitCode::SUCCESS);
            };
            for report in reports {
                println!("{}", serde_json::to_string(&report)?);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit { command: AuditCommand::Verify { tenant, offline: None, .. } } => {
            let (workbench, writer) = Workbench::open(&config).await?;
            let code = verify(&workbench, tenant.as_deref()).await?;
            drop(workbench);
            writer.await?;
            Ok(code)
        }
        Command::Plugin { .. } => unreachable!("handled before the configuration is read"),
    }
}

/// `path` as given or, when it is relative and not found from here, the same
/// path in the source tree this binary was built from: `serve --demo` finds
/// the example plugins from any directory.
fn beside_sources(path: PathBuf) -> PathBuf {
    if path.is_relative() && !path.exists() {
        let built = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(&path);
        if built.exists() {
            return built;
        }
    }
    path
}

fn parse_roles(names: &[String]) -> anyhow::Result<Vec<Role>> {
    names.iter().map(|name| name.trim().parse::<Role>().map_err(anyhow::Error::from)).collect()
}

async fn serve(mut config: Config, seed: Option<(PathBuf, PathBuf)>) -> anyhow::Result<ExitCode> {
    let _one_server = one_sqlite_server(&config)?;
    api::prometheus();
    // The demo's stand-in for the developer's service 客户拜访 sends visits to.
    let _visits = match &seed {
        Some(_) => {
            let stand_in = demo::visits::StandIn::start(&config.data_dir).await?;
            stand_in.route(&mut config.egress);
            tracing::info!(address = %stand_in.address, host = demo::visits::HOST, "the demo's visit service is running");
            Some(stand_in)
        }
        None => None,
    };
    let (workbench, writer) = Workbench::open(&config).await?;
    let workbench = Arc::new(workbench);
    if let Some((manifests, components)) = &seed {
        let seeded = demo::seed(&workbench, manifests, components).await?;
        if seeded == demo::Seeded::default() {
            tracing::info!("demo company already present");
        } else {
            tracing::info!(directory = seeded.directory, installed = ?seeded.installed, "demo company seeded");
        }
    }
    let _background = workbench.start_background(&config);
    let mut state = api::state(&config, Arc::clone(&workbench))?;
    state.demo = seed.is_some();
    let keys = state.keys.clone();
    let app = api::app(state, &config);
    let listener = tokio::net::TcpListener::bind(config.server.listen)
        .await
        .with_context(|| format!("listening on {}", config.server.listen))?;
    let address = listener.local_addr()?;
    let backend = if config.database_url.is_some() { "PostgreSQL" } else { "SQLite" };
    tracing::info!(%address, backend, "serving");
    let origin = format!("{}://{address}", if config.server.tls.is_some() { "https" } else { "http" });
    println!("Workbench is listening on {origin} ({backend})");
    if seed.is_some() {
        print_demo_tokens(&keys, &origin)?;
    }
    let grace = Duration::from_secs(config.server.shutdown_grace_secs);
    match &config.server.tls {
        Some(tls) => {
            let certificates = api::tls::Certificates::load(tls)?;
            let _reload = certificates.spawn_reload();
            let listener = api::tls::TlsListener::new(listener, certificates)?;
            api::serve(listener, app, shutdown_signal(), grace).await?;
        }
        None => api::serve(listener, app, shutdown_signal(), grace).await?,
    }
    tracing::info!("stopped accepting requests; flushing the audit log");
    workbench.stop().await;
    drop(workbench);
    if tokio::time::timeout(Duration::from_secs(10), writer).await.is_err() {
        tracing::warn!("the audit writer did not finish in time");
    }
    Ok(ExitCode::SUCCESS)
}

/// On SQLite, one server per data directory: the process that serves a file
/// holds the tenants' generations that validate its cached invocation
/// contexts (see docs/ARCHITECTURE.md), so a second server on the same file
/// would not see the first one's changes. The lock (`serve.lock` in the data
/// directory) is released when the process ends, however it ends.
fn one_sqlite_server(config: &Config) -> anyhow::Result<Option<std::fs::File>> {
    if config.database_url.as_deref().is_some_and(|url| !url.starts_with("sqlite:")) {
        return Ok(None);
    }
    let dir = &config.data_dir;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("serve.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another workbench server is serving the data directory {}: SQLite takes one server per \
             data directory (run replicas on PostgreSQL with --database-url)",
            dir.display()
        ),
        Err(std::fs::TryLockError::Error(error)) => Err(error).with_context(|| format!("locking {}", path.display())),
    }
}

fn print_demo_tokens(keys: &JwtKeys, origin: &str) -> anyhow::Result<()> {
    println!("\nDemo company {} (tenant {}). Tokens, valid 8 hours:", demo::TENANT_NAME, demo::TENANT);
    for (member, roles, label) in demo::IDENTITIES {
        let token = keys.mint(demo::TENANT, member, roles, demo::SESSION)?;
        println!("\n  {label}:\n  export TOKEN_{}={token}", member.replace('.', "_").to_uppercase());
    }
    // The platform's own token: it may send events and do nothing else.
    let platform = keys.mint(demo::TENANT, "platform", &[Role::Platform], demo::SESSION)?;
    println!("\n  the platform (sends events only):\n  export TOKEN_PLATFORM={platform}");
    println!("\nTry:\n  curl -s -H \"Authorization: Bearer $TOKEN_ZHANG_WEI\" {origin}/api/v1/me/plugins");
    println!(
        "  curl -s -X POST -H \"Authorization: Bearer $TOKEN_ZHANG_WEI\" -H 'content-type: application/json' \
         -d '{{\"path\":\"/report.json\"}}' {origin}/api/v1/me/plugins/site-daily-report/invoke"
    );
    println!("  curl -s -H \"Authorization: Bearer $TOKEN_ADMIN\" {origin}/api/v1/audit");
    println!(
        "  curl -s -X POST -H \"Authorization: Bearer $TOKEN_PLATFORM\" -H 'content-type: application/json' \
         -d '{{\"events\":[{{\"id\":\"a-1\",\"kind\":\"approval.submitted\",\"subject\":\"zhang.wei\",\
         \"payload\":{{\"approval_id\":\"a-1\",\"process_id\":\"expense\",\"title\":\"差旅报销\",\
         \"amount_cents\":120000}}}}]}}' {origin}/api/v1/events"
    );
    println!("  Browser: {origin}/ (sign in as any of the above)");
    println!("  OpenAPI: {origin}/api/v1/openapi.json\n");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// Verifies a consent receipt with only the public keys.
fn verify_receipt(file: &std::path::Path, keys: &[String]) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let (valid, said) = workbench_host::service::receipts::verify_receipt(&text, keys)?;
    println!("{said}");
    Ok(if valid { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Verifies an NDJSON export with only the public key.
fn verify_offline(file: &std::path::Path, public_key: &str, tenant: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut key = [0u8; 32];
    hex::decode_to_slice(public_key.trim(), &mut key).context("the public key must be 64 hex digits")?;
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key).context("not an Ed25519 public key")?;
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let export = workbench_host::audit::verify::parse_export(&text)?;
    let first = export.records.first().map(|r| r.event.tenant.clone());
    let Some(tenant) = tenant.map(str::to_owned).or(first) else {
        println!("no audit records in {}", file.display());
        return Ok(ExitCode::FAILURE);
    };
    let ring = workbench_host::audit::keyring::KeyRing::with_history(key, &export.keys);
    let report = workbench_host::audit::verify::verify_export(&tenant, &ring, &export);
    Ok(print_reports(&[report]))
}

fn print_reports(reports: &[workbench_host::audit::verify::VerifyReport]) -> ExitCode {
    let mut ok = true;
    for report in reports {
        match &report.error {
            None => {
                let from = match report.anchored_seq {
                    0 => String::new(),
                    seq => format!(" from the purge's anchor at {seq}"),
                };
                let (tenant, records, checkpoint) = (&report.tenant, report.records, report.checkpointed_seq);
                println!("{tenant}: ok, {records} records{from}, checkpoint at {checkpoint}")
            }
            Some(error) => {
                ok = false;
                println!("{}: BROKEN after {} good records: {error}", report.tenant, report.records);
            }
        }
    }
    if reports.is_empty() {
        println!("no audit records yet");
    }
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

async fn verify(workbench: &Workbench, tenant: Option<&str>) -> anyhow::Result<ExitCode> {
    let reports = workbench.verify_audit(tenant).await?;
    Ok(print_reports(&reports))
}
