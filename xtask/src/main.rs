//! `cargo xtask <command>`: the project's build and test automation.
//!
//! - `build-guests`: build the example plugins and test guests to wasm.
//! - `test`: build the guests, run every test (host, SDK, integration, and the
//!   example plugins' native unit tests against the SDK's mock host).
//! - `demo [ARGS…]`: build the guests and run the demo server
//!   (`workbench serve --demo --data-dir data`, SQLite), printing its URL and
//!   tokens; extra arguments go to `workbench serve`.
//! - `ci`: `cargo fmt --check`, clippy with `-D warnings`, then `test`.

use std::process::{Command, ExitCode};

use anyhow::{Context, bail};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> anyhow::Result<()> {
    let (command, rest) = args.split_first().map_or(("help", &[][..]), |(c, r)| (c.as_str(), r));
    match command {
        "build-guests" => {
            let guests = xtask::build_guests()?;
            for (name, path) in guests.components() {
                println!("{name}: {}", path.display());
            }
            Ok(())
        }
        "test" => test(rest),
        "demo" => {
            xtask::build_guests()?;
            cargo(
                &[
                    "run",
                    "--release",
                    "--package",
                    "workbench-host",
                    "--bin",
                    "workbench",
                    "--",
                    "serve",
                    "--demo",
                    "--data-dir",
                    "data",
                ],
                rest,
                None,
            )
        }
        "ci" => {
            cargo(&["fmt", "--all", "--check"], &[], None)?;
            cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"], &[], None)?;
            test(rest)
        }
        "help" | "--help" | "-h" => {
            println!("usage: cargo xtask <build-guests | test | demo | ci>");
            Ok(())
        }
        other => bail!("unknown command {other:?}; try `cargo xtask help`"),
    }
}

fn test(extra: &[String]) -> anyhow::Result<()> {
    xtask::build_guests()?;
    cargo(&["test", "--workspace"], extra, None)?;
    let plugins = xtask::repo_root().join("plugins");
    // The example plugins' own unit tests, natively against the SDK's mock host.
    cargo(&["test", "--lib", "--target-dir", "../target/plugins-native"], &[], Some(&plugins))
}

fn cargo(args: &[&str], extra: &[String], dir: Option<&std::path::Path>) -> anyhow::Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.args(args).args(extra).current_dir(dir.map_or_else(xtask::repo_root, std::path::Path::to_path_buf));
    let status = command.status().with_context(|| format!("running cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}
