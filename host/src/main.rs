//! `workbench`: the host's command line.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use workbench_host::config::Config;
use workbench_host::demo;
use workbench_host::runtime::Request;
use workbench_host::service::{ServiceError, Workbench};

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
    /// Data directory (database, keys, compiled-code cache).
    #[arg(long, global = true, env = "WORKBENCH_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Seeds the demo company, runs each example plugin for two members and
    /// prints their output, the audit records and the chain's verification.
    Demo {
        /// Folder with one `<plugin>/plugin.toml` per example plugin.
        #[arg(long, default_value = "plugins")]
        manifests: PathBuf,
        /// Folder with the built components.
        #[arg(long, default_value = "target/wasm/wasm32-wasip2/release")]
        components: PathBuf,
    },
    /// Audit log commands.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Walks the hash chain against the signed checkpoints; exits 1 and names
    /// the first bad record if anything was altered, deleted or truncated.
    Verify {
        /// Only this tenant.
        #[arg(long)]
        tenant: Option<String>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
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
    let mut config = Config::load(cli.config.as_deref())?;
    if let Some(dir) = cli.data_dir {
        config.data_dir = dir;
    }
    let (workbench, writer) = Workbench::open(&config).await?;
    let code = match cli.command {
        Command::Demo { manifests, components } => run_demo(&workbench, &manifests, &components).await?,
        Command::Audit { command: AuditCommand::Verify { tenant } } => verify(&workbench, tenant.as_deref()).await?,
    };
    drop(workbench);
    writer.await?;
    Ok(code)
}

async fn verify(workbench: &Workbench, tenant: Option<&str>) -> anyhow::Result<ExitCode> {
    let reports = workbench.verify_audit(tenant).await?;
    let mut ok = true;
    for report in &reports {
        match &report.error {
            None => {
                println!("{}: ok, {} records, checkpoint at {}", report.tenant, report.records, report.checkpointed_seq)
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
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

async fn run_demo(
    workbench: &Workbench,
    manifests: &std::path::Path,
    components: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    demo::seed(workbench, manifests, components).await?;
    demo::consent(workbench).await?;
    println!("== {} ({}) ==", demo::TENANT_NAME, demo::TENANT);
    let get = |path: &str| Request {
        method: "GET".into(),
        path: path.into(),
        query: String::new(),
        headers: vec![],
        body: vec![],
    };
    let report = Request {
        method: "POST".into(),
        body: "text=%E4%B8%89%E5%B1%82%E6%A5%BC%E6%9D%BF%E6%B5%87%E7%AD%91%E5%AE%8C%E6%88%90".into(),
        ..get("/")
    };
    let calls = [
        ("zhang.wei", "site-daily-report", report),
        ("zhang.wei", "site-daily-report", get("/report.json")),
        ("zhang.wei", "approval-helper", get("/summary.json")),
        ("zhang.wei", "customer-visit", get("/visits.json")),
        ("li.na", "site-daily-report", get("/report.json")),
        ("li.na", "customer-visit", get("/visits.json")),
    ];
    for (member, plugin, request) in calls {
        let line = format!("{member} -> {plugin} {} {}", request.method, request.path);
        match workbench.invoke(demo::TENANT, member, plugin, request).await {
            Ok(done) => println!("{line}: {} {}", done.response.status, String::from_utf8_lossy(&done.response.body)),
            Err(ServiceError::ConsentRequired { missing }) => {
                let scopes: Vec<_> = missing.iter().map(|(s, _)| s.as_str()).collect();
                println!("{line}: 403 consent_required ({})", scopes.join(", "));
            }
            Err(error) => println!("{line}: failed: {error}"),
        }
    }
    println!("\n== audit log ==");
    let records = workbench.store().audit_records(demo::TENANT, 0, 1_000).await?;
    for r in &records {
        let e = &r.event;
        println!(
            "#{:<3} {:<36} {:<16} {:<14} {:<8} {:<16} {}",
            r.seq,
            e.actor,
            e.subject.as_deref().unwrap_or("-"),
            e.action,
            e.outcome.as_str(),
            e.scope.as_deref().unwrap_or("-"),
            e.reason.as_deref().unwrap_or("")
        );
    }
    println!();
    verify(workbench, Some(demo::TENANT)).await
}
