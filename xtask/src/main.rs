//! `cargo xtask <command>`: the project's build and test automation.
//!
//! - `build-guests`: build the example plugins and test guests to wasm.
//! - `test`: build the guests, run every test (host, SDK, integration, the
//!   example plugins' native unit tests against the SDK's mock host, and the
//!   browser tests on both databases), after short fuzz and schemathesis runs;
//!   it ends with one line counting every test run.
//! - `demo [ARGS…]`: build the guests and run the demo server
//!   (`workbench serve --demo --data-dir data`, SQLite), printing its URL and
//!   tokens; extra arguments go to `workbench serve`.
//! - `fuzz [SECONDS] [TARGET…]`: build the cargo-fuzz targets of
//!   `tests/fuzz` and run each for SECONDS (default 60), corpus under
//!   `target/fuzz-corpus/` seeded from `tests/fuzz/seeds/`. Installs
//!   cargo-fuzz when missing.
//! - `schemathesis [SECONDS]`: start the demo server and run schemathesis
//!   (from PyPI, in a virtualenv under `target/`) against its OpenAPI
//!   document for SECONDS (default 60): no 5xx, no answer outside the document.
//! - `bench-http [--seconds N] [--connections 1,8,32,128] [--db sqlite|postgres|both]
//!   [--no-peer] [--host BINARY] [--tls]`: the HTTP load benchmark against `wasmtime serve`
//!   (see `bench.rs`); `--host` measures another build of `workbench`.
//! - `browser [--db sqlite|postgres|both]`: the browser tests of `tests/browser`
//!   in headless Chromium against a fresh demo server (see `browser.rs`).
//! - `layout`: the host's module layers, sibling circles and file sizes
//!   (see `layout.rs`; also a test of this crate).
//! - `ci`: `cargo fmt --check`, clippy with `-D warnings`, then `test`.
//!
//! `test` starts with short fuzz and schemathesis runs (`WORKBENCH_FUZZ_SECONDS`,
//! default 20 per target, and `WORKBENCH_SCHEMATHESIS_SECONDS`, default 60;
//! 0 skips either).

mod bench;
mod browser;

use std::process::{Command, ExitCode};

use anyhow::{Context, bail};
use xtask::run_command;

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
        "layout" => {
            let violations = xtask::layout::check(&xtask::repo_root().join("host/src"))?;
            for violation in &violations {
                eprintln!("{violation}");
            }
            if !violations.is_empty() {
                bail!("{} layout rule(s) broken", violations.len());
            }
            println!("layout: the layers hold, no circles, no file over {} lines", xtask::layout::MAX_LINES);
            Ok(())
        }
        "fuzz" => {
            let seconds = rest.first().and_then(|s| s.parse().ok()).unwrap_or(60);
            let targets: Vec<&str> = rest.iter().skip(1).map(String::as_str).collect();
            fuzz(seconds, &targets)
        }
        "bench-http" => bench::run(&bench::Options::parse(rest)?),
        "browser" => {
            let counts = browser::run(&browser::databases(rest)?)?;
            println!("browser: {} passed, {} failed", counts.passed, counts.failed);
            Ok(())
        }
        "schemathesis" => schemathesis(rest.first().and_then(|s| s.parse().ok()).unwrap_or(60)),
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
            println!(
                "usage: cargo xtask <build-guests | test | demo | browser [--db …] | fuzz [SECONDS] [TARGET…] | schemathesis [SECONDS] | bench-http […] | layout | ci>"
            );
            Ok(())
        }
        other => bail!("unknown command {other:?}; try `cargo xtask help`"),
    }
}

fn test(extra: &[String]) -> anyhow::Result<()> {
    use xtask::setup::{CHROMIUM, CJK_FONT, NODE, PSQL};
    xtask::setup::ensure(&[CHROMIUM, CJK_FONT, NODE, PSQL])?;
    xtask::build_guests()?;
    // The fuzz and schemathesis runs come first, so that the output closes
    // with the test runners' own summaries and the line counting them.
    let seconds = |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let fuzz_seconds = seconds("WORKBENCH_FUZZ_SECONDS", 20);
    if fuzz_seconds > 0 {
        fuzz(fuzz_seconds, &[])?;
    }
    let schemathesis_seconds = seconds("WORKBENCH_SCHEMATHESIS_SECONDS", 60);
    if schemathesis_seconds > 0 {
        schemathesis(schemathesis_seconds)?;
    }
    sdk_publishable()?;
    let mut tally = Tally::default();
    tally.cargo_test(&["test", "--workspace"], extra, None)?;
    let plugins = xtask::repo_root().join("plugins");
    // The example plugins' own unit tests, natively against the SDK's mock host.
    tally.cargo_test(&["test", "--lib", "--target-dir", "../target/plugins-native"], &[], Some(&plugins))?;
    tally.add(browser::run(&["sqlite", "postgres"])?);
    // The closing line: every test the runners above counted.
    println!("tests: {} passed, {} failed", tally.passed, tally.failed);
    Ok(())
}

/// The SDK crate packages as crates.io would take it (the contract inside,
/// built from the packaged sources alone) and its docs build without
/// warnings.
fn sdk_publishable() -> anyhow::Result<()> {
    let root = xtask::repo_root();
    for (args, what) in [
        (&["package", "--quiet", "-p", "workbench-sdk", "--allow-dirty"][..], "cargo package -p workbench-sdk"),
        (&["doc", "--quiet", "-p", "workbench-sdk", "--no-deps"][..], "cargo doc -p workbench-sdk"),
    ] {
        let status = xtask::native_cargo()
            .args(args)
            .env("RUSTDOCFLAGS", "-D warnings")
            .current_dir(&root)
            .status()
            .with_context(|| format!("running {what}"))?;
        if !status.success() {
            anyhow::bail!("{what} failed ({status})");
        }
    }
    println!("workbench-sdk: cargo package and cargo doc pass");
    Ok(())
}

/// Tests counted across runs, from the runners' own summary lines.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    passed: u64,
    failed: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.passed += other.passed;
        self.failed += other.failed;
    }

    /// Runs `cargo test …`, passing its output through, and adds up its
    /// `test result:` lines.
    fn cargo_test(&mut self, args: &[&str], extra: &[String], dir: Option<&std::path::Path>) -> anyhow::Result<()> {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        command.args(args).args(extra).current_dir(dir.map_or_else(xtask::repo_root, std::path::Path::to_path_buf));
        run_lines(&mut command, &format!("cargo {}", args.join(" ")), |line| {
            if let Some(summary) = line.strip_prefix("test result: ") {
                self.passed += count(summary, " passed");
                self.failed += count(summary, " failed");
            }
            line.to_owned()
        })
    }
}

/// Runs `command`, printing each line of its standard output as `each`
/// returns it; fails when the command does.
fn run_lines(command: &mut Command, what: &str, mut each: impl FnMut(&str) -> String) -> anyhow::Result<()> {
    use std::io::{BufRead, BufReader};
    let mut child = command.stdout(std::process::Stdio::piped()).spawn().with_context(|| format!("running {what}"))?;
    let stdout = child.stdout.take().with_context(|| format!("{what}: standard output"))?;
    for line in BufReader::new(stdout).lines() {
        println!("{}", each(&line?));
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// The number before `word` in a summary such as `ok. 12 passed; 0 failed; …`.
fn count(summary: &str, word: &str) -> u64 {
    summary
        .split(';')
        .find_map(|part| part.trim().strip_suffix(word.trim_start()).map(str::trim))
        .and_then(|n| n.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The fuzz targets of `tests/fuzz`.
const FUZZ_TARGETS: [&str; 3] = ["manifest", "invoke_body", "audit_export"];

fn fuzz(seconds: u64, only: &[&str]) -> anyhow::Result<()> {
    let root = xtask::repo_root();
    let has_cargo_fuzz = Command::new("cargo").args(["fuzz", "--version"]).output().is_ok_and(|o| o.status.success());
    if !has_cargo_fuzz {
        cargo(&["install", "cargo-fuzz", "--locked", "--version", "0.13.2"], &[], None)?;
    }
    let targets: Vec<&str> = if only.is_empty() { FUZZ_TARGETS.to_vec() } else { only.to_vec() };
    // cargo-fuzz passes a few -Z flags to rustc; the stable toolchain accepts them this way.
    let common = ["--fuzz-dir", "tests/fuzz", "--sanitizer", "none", "--target-dir", "target/fuzz"];
    let mut build = Command::new("cargo");
    build.args(["fuzz", "build"]).args(common).env("RUSTC_BOOTSTRAP", "1").current_dir(&root);
    run_command(&mut build, "cargo fuzz build")?;
    for target in targets {
        let corpus = root.join("target").join("fuzz-corpus").join(target);
        std::fs::create_dir_all(&corpus).with_context(|| format!("creating {}", corpus.display()))?;
        let seeds = root.join("tests").join("fuzz").join("seeds").join(target);
        std::fs::create_dir_all(&seeds)?;
        let artifacts = root.join("target").join("fuzz-artifacts").join(target);
        std::fs::create_dir_all(&artifacts)?;
        let mut run = Command::new("cargo");
        run.args(["fuzz", "run"])
            .args(common)
            .arg(target)
            .arg(&corpus)
            .arg(&seeds)
            .arg("--")
            .arg(format!("-max_total_time={seconds}"))
            .arg(format!("-artifact_prefix={}/", artifacts.display()))
            .arg("-print_final_stats=1")
            .env("RUSTC_BOOTSTRAP", "1")
            .current_dir(&root);
        println!("fuzzing {target} for {seconds} s");
        run_command(&mut run, &format!("cargo fuzz run {target}"))?;
    }
    Ok(())
}

fn schemathesis(seconds: u64) -> anyhow::Result<()> {
    let root = xtask::repo_root();
    let venv = root.join("target").join("schemathesis");
    let st = venv.join("bin").join("st");
    if !st.exists() {
        run_command(Command::new("python3").args(["-m", "venv"]).arg(&venv), "python3 -m venv")?;
        let pip = venv.join("bin").join("pip");
        run_command(
            Command::new(pip).args(["install", "--quiet", "schemathesis==4.32.5"]),
            "pip install schemathesis",
        )?;
    }
    let data = root.join("target").join("tmp").join("schemathesis-data");
    let _ = std::fs::remove_dir_all(&data);
    let mut server = xtask::spawn_demo_server(&data, None, None)?;
    let base = server.base.clone();
    let mut token = server.token("TOKEN_ADMIN").map(str::to_owned);
    // One token with every role, so that every operation is reachable.
    let minted = Command::new(xtask::host_binary())
        .arg("--data-dir")
        .arg(&data)
        .args([
            "token",
            "mint",
            "--tenant",
            "demo",
            "--member",
            "admin",
            "--roles",
            "admin,member,developer,operator,platform",
        ])
        .output();
    match minted {
        Ok(output) if output.status.success() => {
            token = Some(String::from_utf8_lossy(&output.stdout).trim().to_owned())
        }
        _ => eprintln!("could not mint an all-roles token; using the admin's"),
    }
    let result = match token {
        Some(token) => {
            let mut run = Command::new(&st);
            run.arg("run")
                .arg(format!("{base}/api/v1/openapi.json"))
                .args(["--header", &format!("Authorization: Bearer {token}")])
                .args([
                    "--checks",
                    "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                ])
                // One worker: with two, hypothesis's lambda descriptions parse source in two
                // threads at once, which CPython 3.11 can fail with "AST constructor recursion
                // depth mismatch" (a tool error, not a finding).
                .args(["--max-time", &seconds.to_string(), "--workers", "1", "--seed", "1"])
                // Ending sessions ends this token too: every later case would be a 401.
                .args(["--exclude-path-regex", "/sessions/end$"])
                .current_dir(root.join("target"));
            run_schemathesis(&mut run)
        }
        None => Err(anyhow::anyhow!("the demo server did not print an admin token")),
    };
    let _ = server.child.kill();
    let _ = server.child.wait();
    result
}

/// Runs schemathesis, passing its output through without its section
/// banners (`==== SUMMARY ====`, `==== 3 warnings in 60.02s ====`): they
/// read like another test runner's closing line, which counted no test.
fn run_schemathesis(command: &mut Command) -> anyhow::Result<()> {
    run_lines(command, "schemathesis", |line| {
        let trimmed = line.trim();
        if trimmed.len() > 6 && trimmed.starts_with("===") && trimmed.ends_with("===") {
            format!("-- {} --", trimmed.trim_matches('=').trim())
        } else {
            line.to_owned()
        }
    })
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
