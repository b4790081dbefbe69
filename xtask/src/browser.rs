//! `cargo xtask browser [--db sqlite|postgres|both]`: the browser tests of
//! `tests/browser` (node's test runner driving Debian's Chromium through
//! playwright-core) against a fresh demo server on each database.
//! Screenshots go to `target/browser/<db>/`.

use std::path::Path;
use std::process::Command;

use anyhow::bail;

use crate::Tally;

/// The databases named by `--db`.
pub fn databases(args: &[String]) -> anyhow::Result<Vec<&'static str>> {
    match args {
        [] => Ok(vec!["sqlite", "postgres"]),
        [flag, db] if flag == "--db" => match db.as_str() {
            "sqlite" => Ok(vec!["sqlite"]),
            "postgres" => Ok(vec!["postgres"]),
            "both" => Ok(vec!["sqlite", "postgres"]),
            other => bail!("--db takes sqlite, postgres or both, not {other:?}"),
        },
        other => bail!("usage: cargo xtask browser [--db sqlite|postgres|both]; got {other:?}"),
    }
}

/// Runs the browser tests once per database; fails when any fails.
pub fn run(databases: &[&str]) -> anyhow::Result<Tally> {
    let root = xtask::repo_root();
    xtask::setup::ensure(&[xtask::setup::CHROMIUM])?;
    let chromium = xtask::setup::chromium();
    let tests = root.join("tests").join("browser");
    if !tests.join("node_modules").join("playwright-core").exists() {
        let mut npm = Command::new("npm");
        npm.args(["ci", "--no-audit", "--no-fund"]).current_dir(&tests);
        xtask::run_command(&mut npm, "npm ci in tests/browser")?;
    }
    let guests = xtask::build_guests()?;
    let component = guests.component("two-fields").to_owned();
    let hostile_page = guests.component("hostile-page").to_owned();
    // A page built by a third-party toolchain (componentize-py, from PyPI).
    let python_page = xtask::build_python_guests()?.component("notes-page").to_owned();
    let event_probe = guests.component("event-probe").to_owned();
    let mut total = Tally::default();
    for db in databases {
        let data = root.join("target").join("tmp").join(format!("browser-{db}"));
        let _ = std::fs::remove_dir_all(&data);
        let (database_url, schema) = xtask::database(db, &data, "browser")?;
        // Failed deliveries are retried within seconds, so a dead letter
        // can be made and replayed while the page is watched.
        let config = data.join("browser.toml");
        std::fs::write(&config, "[events]\nretry_secs = [1, 1]\npoll_ms = 200\n")?;
        let mut server = xtask::spawn_demo_server(&data, database_url.as_deref(), Some(&config))?;
        let platform = server.token("TOKEN_PLATFORM").unwrap_or_default().to_owned();
        let screenshots = root.join("target").join("browser").join(db);
        println!("browser tests on {db} against {}", server.base);
        let result = node_test(
            &tests,
            &server.base,
            [&component, &hostile_page, &python_page, &event_probe],
            &platform,
            &screenshots,
            &chromium,
        );
        let _ = server.child.kill();
        let _ = server.child.wait();
        if let Some(schema) = schema {
            xtask::psql(&format!("DROP SCHEMA {schema} CASCADE"))?;
        }
        let counts = result?;
        total.add(counts);
        if counts.failed > 0 {
            bail!("{} browser test(s) failed on {db}; screenshots in {}", counts.failed, screenshots.display());
        }
    }
    Ok(total)
}

/// `node --test` in `tests`, passing its output through and reading its
/// `# pass N` / `# fail N` summary.
fn node_test(
    tests: &Path,
    base: &str,
    [component, hostile_page, python_page, event_probe]: [&Path; 4],
    platform_token: &str,
    screenshots: &Path,
    chromium: &str,
) -> anyhow::Result<Tally> {
    std::fs::create_dir_all(screenshots)?;
    let mut command = Command::new("node");
    command
        // The files share one server: one at a time.
        .args(["--test", "--test-concurrency=1"])
        .env("WORKBENCH_URL", base)
        .env("WORKBENCH_COMPONENT", component)
        .env("WORKBENCH_HOSTILE_PAGE", hostile_page)
        .env("WORKBENCH_PYTHON_PAGE", python_page)
        .env("WORKBENCH_EVENT_PROBE", event_probe)
        .env("WORKBENCH_PLATFORM_TOKEN", platform_token)
        .env("WORKBENCH_SCREENSHOTS", screenshots)
        .env("CHROMIUM", chromium)
        .current_dir(tests);
    let mut counts = Tally::default();
    let run = crate::run_lines(&mut command, "node --test (Node.js is needed for the browser tests)", |line| {
        let number = |prefix: &str| line.strip_prefix(prefix).and_then(|n| n.trim().parse::<u64>().ok());
        if let Some(n) = number("# pass ") {
            counts.passed = n;
        }
        if let Some(n) = number("# fail ") {
            counts.failed = n;
        }
        line.to_owned()
    });
    // Failed tests are the caller's to report (with the screenshots).
    if counts.failed == 0 {
        run?;
    }
    if counts.passed + counts.failed == 0 {
        bail!("node --test ran no test in {}", tests.display());
    }
    Ok(counts)
}
