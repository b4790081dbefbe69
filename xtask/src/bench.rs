//! `cargo xtask bench-http`: the HTTP load benchmark of docs/BENCHMARKS.md.
//!
//! Builds the host in release and the guests, starts `workbench serve` on
//! SQLite and on PostgreSQL, sets up a tenant through the API (a developer
//! publishes the `noop` and `two-fields` guests, the admin installs them and
//! adds a member, the member consents), then drives
//! `POST /api/v1/me/plugins/{id}/invoke` with wrk at several concurrencies.
//! The peer, `wasmtime serve` (wasmtime-cli 48 from crates.io, installed under
//! `target/peer/`) running the trivial wasi:http guest `peer-hello`, is driven
//! by the same wrk in the same run, alternating with ours (A B A B). With a
//! peer, it also measures one outbound call per invocation: our `fetch`
//! plugin (admin-approved destination, its URL from configuration, through
//! the egress gate and audit) against `wasmtime serve` running `peer-fetch`,
//! both calling the `peer-hello` server. Prints req/s, p50, p99, errors and
//! peak RSS, and the ratios ours/peer.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// What to run.
pub struct Options {
    pub seconds: u64,
    pub connections: Vec<u32>,
    pub databases: Vec<String>,
    pub peer: bool,
    /// A `workbench` binary to measure instead of building this tree's
    /// (an earlier build, for a before-and-after comparison).
    pub host: Option<PathBuf>,
    /// Serve HTTPS (a self-signed certificate made for the run) and load it over TLS.
    pub tls: bool,
}

impl Options {
    pub fn parse(args: &[String]) -> anyhow::Result<Self> {
        let mut options = Self {
            seconds: 10,
            connections: vec![1, 8, 32, 128],
            databases: vec!["sqlite".into(), "postgres".into()],
            peer: true,
            host: None,
            tls: false,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = || args.next().with_context(|| format!("{arg} needs a value"));
            match arg.as_str() {
                "--seconds" => options.seconds = value()?.parse().context("--seconds: a number")?,
                "--connections" => {
                    options.connections = value()?
                        .split(',')
                        .map(|c| c.trim().parse().context("--connections: numbers separated by commas"))
                        .collect::<anyhow::Result<_>>()?;
                }
                "--db" => {
                    options.databases = match value()?.as_str() {
                        "sqlite" => vec!["sqlite".into()],
                        "postgres" => vec!["postgres".into()],
                        "both" => vec!["sqlite".into(), "postgres".into()],
                        other => bail!("--db: sqlite, postgres or both, not {other:?}"),
                    };
                }
                "--no-peer" => options.peer = false,
                "--tls" => options.tls = true,
                "--host" => options.host = Some(PathBuf::from(value()?)),
                other => bail!(
                    "unknown option {other:?} (--seconds N, --connections 1,8,32,128, --db sqlite|postgres|both, --no-peer, --host BINARY, --tls)"
                ),
            }
        }
        if options.connections.contains(&0) || options.seconds == 0 {
            bail!("connections and seconds must be positive");
        }
        Ok(options)
    }
}

/// One wrk run.
#[derive(Debug, Clone)]
struct Run {
    requests_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    errors: u64,
}

const NOOP_MANIFEST: &str = "id = \"bench-noop\"\nname = \"Bench noop\"\nversion = \"1.0.0\"\n\
[developer]\nname = \"Bench\"\ncontact = \"bench@example.com\"\n";

const TWO_FIELDS_MANIFEST: &str = "id = \"bench-two-fields\"\nname = \"Bench two fields\"\nversion = \"1.0.0\"\n\
[developer]\nname = \"Bench\"\ncontact = \"bench@example.com\"\n\
[[scopes]]\nscope = \"user.id\"\npurpose = \"greet you\"\nrequired = true\n\
[[scopes]]\nscope = \"user.name\"\npurpose = \"greet you by name\"\nrequired = true\n";

pub fn run(options: &Options) -> anyhow::Result<()> {
    let root = xtask::repo_root();
    let guests = xtask::build_guests()?;
    let host = match &options.host {
        Some(host) => host.clone(),
        None => {
            crate::cargo(&["build", "--release", "--package", "workbench-host", "--bin", "workbench"], &[], None)?;
            root.join("target").join("release").join("workbench")
        }
    };
    ensure_wrk()?;
    let peer = if options.peer { Some(ensure_wasmtime(&root)?) } else { None };
    let work = root.join("target").join("tmp").join("bench-http");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)?;

    println!(
        "# bench-http {}: {} s per run, connections {:?}, machine: {} cores",
        today(),
        options.seconds,
        options.connections,
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    for db in &options.databases {
        let data = work.join(db);
        let (database_url, schema) = xtask::database(db, &data, "bench")?;
        // The peer first: its server is also the upstream of the outbound calls.
        let mut peer_server = match &peer {
            Some(wasmtime) => Some(PeerServer::start(wasmtime, guests.component("peer-hello"))?),
            None => None,
        };
        let mut peer_fetch = match &peer {
            Some(wasmtime) => Some(PeerServer::start(wasmtime, guests.component("peer-fetch"))?),
            None => None,
        };
        let mut server = Server::start(&host, &data, database_url.as_deref(), options.tls)?;
        let upstream = peer_server.as_ref().map(|p| p.base.clone());
        let setup = setup(&host, &data, database_url.as_deref(), &server.base, &guests, &work, upstream.as_deref());
        let setup = match setup {
            Ok(setup) => setup,
            Err(error) => {
                server.stop();
                return Err(error);
            }
        };
        // The peer's outbound call goes to the same upstream: `/AUTHORITY`.
        let peer_fetch_url = match (&peer_fetch, &upstream) {
            (Some(fetch), Some(upstream)) => {
                Some(format!("{}{}", fetch.base, upstream.trim_start_matches("http://").trim_end_matches('/')))
            }
            _ => None,
        };
        println!("\n## {db}\n");
        println!("| connections | what | req/s | p50 | p99 | errors |");
        println!("|---|---|---|---|---|---|");
        let mut summary = Vec::new();
        for &connections in &options.connections {
            let mut ours_noop = Vec::new();
            let mut ours_two = Vec::new();
            let mut theirs = Vec::new();
            let mut ours_fetch = Vec::new();
            let mut theirs_fetch = Vec::new();
            for _ in 0..2 {
                ours_noop.push(wrk(&setup.noop_url, Some(&setup.script), connections, options.seconds)?);
                if let Some(peer) = &peer_server {
                    theirs.push(wrk(&peer.base, None, connections, options.seconds)?);
                }
                ours_two.push(wrk(&setup.two_url, Some(&setup.script), connections, options.seconds)?);
                if let (Some(ours), Some(peer)) = (&setup.fetch_url, &peer_fetch_url) {
                    ours_fetch.push(wrk(ours, Some(&setup.script), connections, options.seconds)?);
                    theirs_fetch.push(wrk(peer, None, connections, options.seconds)?);
                }
            }
            for (what, runs) in [
                ("ours, noop", &ours_noop),
                ("peer, wasmtime serve", &theirs),
                ("ours, 2 fields", &ours_two),
                ("ours, one outbound call", &ours_fetch),
                ("peer, one outbound call", &theirs_fetch),
            ] {
                if runs.is_empty() {
                    continue;
                }
                let m = mean(runs);
                println!(
                    "| {connections} | {what} | {:.0} | {:.2} ms | {:.2} ms | {} |",
                    m.requests_per_sec, m.p50_ms, m.p99_ms, m.errors
                );
            }
            if !theirs.is_empty() {
                let peer_rps = mean(&theirs).requests_per_sec;
                let fetch = (!theirs_fetch.is_empty())
                    .then(|| mean(&ours_fetch).requests_per_sec / mean(&theirs_fetch).requests_per_sec);
                summary.push((
                    connections,
                    mean(&ours_noop).requests_per_sec / peer_rps,
                    mean(&ours_two).requests_per_sec / peer_rps,
                    fetch,
                ));
            }
        }
        if !summary.is_empty() {
            println!(
                "\n| connections | ours noop / peer | ours 2 fields / peer | one outbound call, ours / peer |\n|---|---|---|---|"
            );
            for (connections, noop, two, fetch) in summary {
                let fetch = fetch.map_or_else(|| "-".to_owned(), |r| format!("{r:.2}"));
                println!("| {connections} | {noop:.2} | {two:.2} | {fetch} |");
            }
        }
        println!("\npeak RSS: ours {} MiB", server.peak_rss_mib());
        if let Some(peer) = &peer_server {
            println!("peak RSS: peer {} MiB", peer.peak_rss_mib());
        }
        if let Some(peer) = peer_server.as_mut() {
            peer.stop();
        }
        if let Some(peer) = peer_fetch.as_mut() {
            peer.stop();
        }
        server.stop();
        if let Some(schema) = schema {
            xtask::psql(&format!("DROP SCHEMA {schema} CASCADE"))?;
        }
    }
    Ok(())
}

/// Today's date (UTC) as YYYY-MM-DD, from the system clock.
fn today() -> String {
    let output = Command::new("date").args(["-u", "+%Y-%m-%d"]).output();
    output.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned()).unwrap_or_default()
}

fn mean(runs: &[Run]) -> Run {
    let n = runs.len().max(1) as f64;
    Run {
        requests_per_sec: runs.iter().map(|r| r.requests_per_sec).sum::<f64>() / n,
        p50_ms: runs.iter().map(|r| r.p50_ms).sum::<f64>() / n,
        p99_ms: runs.iter().map(|r| r.p99_ms).sum::<f64>() / n,
        errors: runs.iter().map(|r| r.errors).sum(),
    }
}

fn ensure_wrk() -> anyhow::Result<()> {
    if Command::new("wrk").arg("--version").output().is_ok() {
        return Ok(());
    }
    let installed = Command::new("apt-get").args(["install", "-y", "-qq", "wrk"]).status();
    if installed.is_ok_and(|s| s.success()) {
        return Ok(());
    }
    bail!("the load generator wrk is missing: apt-get install wrk")
}

fn ensure_wasmtime(root: &Path) -> anyhow::Result<PathBuf> {
    let prefix = root.join("target").join("peer");
    let wasmtime = prefix.join("bin").join("wasmtime");
    if !wasmtime.exists() {
        let prefix = prefix.to_string_lossy().into_owned();
        crate::cargo(&["install", "wasmtime-cli", "--version", "48.0.8", "--locked", "--root", &prefix], &[], None)?;
    }
    Ok(wasmtime)
}

/// A child process whose peak RSS we read before stopping it.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(host: &Path, data: &Path, database_url: Option<&str>, tls: bool) -> anyhow::Result<Self> {
        // The load is one member on many connections, against a peer that
        // limits nothing: the member's, plugin's and tenant's shares are the
        // whole pool and the rates out of reach, so admission decides every
        // call (its cost is measured) but refuses none.
        std::fs::create_dir_all(data)?;
        let config = data.join("bench.toml");
        std::fs::write(
            &config,
            "[admission]\nper_member = 100000\nper_plugin = 100000\ntenant_share_percent = 100\nqueue_per_member = 100000\n\
             member_rate_per_sec = 100000000\nmember_burst = 100000000\ntenant_rate_per_sec = 100000000\n\
             tenant_burst = 100000000\n\
             [egress]\nplain_http_hosts = [\"127.0.0.1\"]\nallow_private = [\"127.0.0.1/32\"]\n",
        )?;
        if tls {
            // A P-256 certificate for 127.0.0.1, made for this run.
            let (cert, key) = (data.join("tls.crt"), data.join("tls.key"));
            let made = Command::new("openssl")
                .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"])
                .args(["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
                .arg(&key)
                .arg("-out")
                .arg(&cert)
                .stderr(Stdio::null())
                .status()
                .context("running openssl to make the run's certificate")?;
            if !made.success() {
                bail!("openssl could not make a certificate");
            }
            let mut text = std::fs::read_to_string(&config)?;
            text.push_str(&format!(
                "[server.tls]\ncert_file = {:?}\nkey_file = {:?}\n",
                cert.display().to_string(),
                key.display().to_string()
            ));
            std::fs::write(&config, text)?;
        }
        let mut command = Command::new(host);
        command.arg("--config").arg(&config).arg("--data-dir").arg(data);
        if let Some(url) = database_url {
            command.args(["--database-url", url]);
        }
        command.args(["serve", "--listen", "127.0.0.1:0"]).env("RUST_LOG", "warn");
        let served = xtask::spawn_server(&mut command, false)?;
        Ok(Self { child: served.child, base: served.base })
    }

    fn peak_rss_mib(&self) -> u64 {
        peak_rss_mib(self.child.id())
    }

    fn stop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `wasmtime serve` on a free port.
struct PeerServer {
    child: Child,
    base: String,
}

impl PeerServer {
    fn start(wasmtime: &Path, component: &Path) -> anyhow::Result<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let address = format!("127.0.0.1:{port}");
        let child = Command::new(wasmtime)
            .args(["serve", "-Scli", "--addr", &address])
            .arg(component)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting wasmtime serve")?;
        let base = format!("http://{address}/");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&address).is_err() {
            if Instant::now() > deadline {
                bail!("wasmtime serve did not start listening on {address}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(Self { child, base })
    }

    fn peak_rss_mib(&self) -> u64 {
        peak_rss_mib(self.child.id())
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

/// What the load needs: invoke URLs and the wrk script carrying the member's token.
struct Setup {
    noop_url: String,
    two_url: String,
    /// The plugin making one outbound call per invocation (with a peer to call).
    fetch_url: Option<String>,
    script: PathBuf,
}

fn mint(host: &Path, data: &Path, database_url: Option<&str>, member: &str, roles: &str) -> anyhow::Result<String> {
    let mut command = Command::new(host);
    command.arg("--data-dir").arg(data);
    if let Some(url) = database_url {
        command.args(["--database-url", url]);
    }
    let output = command
        .args(["token", "mint", "--tenant", "bench", "--member", member, "--roles", roles, "--ttl", "2h"])
        .output()
        .context("workbench token mint")?;
    if !output.status.success() {
        bail!("token mint failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// `curl` with a bearer token; fails unless the status is 2xx.
fn curl(token: &str, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new("curl")
        .args(["-sS", "--insecure", "--fail-with-body", "-H", &format!("Authorization: Bearer {token}")])
        .args(args)
        .output()
        .context("running curl")?;
    let body = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!("curl {:?} failed: {body}", args.last());
    }
    Ok(body)
}

fn setup(
    host: &Path,
    data: &Path,
    database_url: Option<&str>,
    base: &str,
    guests: &xtask::Guests,
    work: &Path,
    upstream: Option<&str>,
) -> anyhow::Result<Setup> {
    let developer = mint(host, data, database_url, "bench-dev", "developer")?;
    let admin = mint(host, data, database_url, "boss", "admin")?;
    let member = mint(host, data, database_url, "m1", "member")?;
    let json = ["-H", "content-type: application/json"];
    // One outbound call per invocation, to the peer's own server.
    let fetch_url = match upstream {
        Some(upstream) => {
            let destination = upstream.trim_end_matches('/');
            let manifest = format!(
                "id = \"bench-fetch\"\nname = \"Bench fetch\"\nversion = \"1.0.0\"\n\
                 [developer]\nname = \"Bench\"\ncontact = \"bench@example.com\"\n\
                 [[egress]]\ndestination = \"{destination}\"\npurpose = \"ask the upstream\"\n\
                 [[config]]\nkey = \"upstream\"\ndescription = \"where to ask\"\nrequired = true\n"
            );
            let file = work.join("fetch.toml");
            std::fs::write(&file, manifest)?;
            let manifest_field = format!("manifest=<{}", file.display());
            let component_field = format!("component=@{}", guests.component("fetch").display());
            curl(&developer, &["-F", &manifest_field, "-F", &component_field, &format!("{base}/api/v1/plugins")])?;
            let install = format!(
                r#"{{"version":"1.0.0","granted_scopes":[],"approved_egress":["{destination}"],"config":{{"upstream":"{upstream}"}}}}"#
            );
            let url = format!("{base}/api/v1/workbench/plugins/bench-fetch");
            curl(&admin, &[&json[..], &["-X", "PUT", "-d", install.as_str(), url.as_str()]].concat())?;
            Some(format!("{base}/api/v1/me/plugins/bench-fetch/invoke"))
        }
        None => None,
    };
    for (manifest, guest) in [(NOOP_MANIFEST, "noop"), (TWO_FIELDS_MANIFEST, "two-fields")] {
        let file = work.join(format!("{guest}.toml"));
        std::fs::write(&file, manifest)?;
        let component = guests.component(guest).display().to_string();
        let manifest_field = format!("manifest=<{}", file.display());
        let component_field = format!("component=@{component}");
        let plugins = format!("{base}/api/v1/plugins");
        curl(&developer, &["-F", &manifest_field, "-F", &component_field, &plugins])?;
    }
    let add = r#"{"id":"m1","profile":{"name":"张伟","roles":["member"]}}"#;
    let members = format!("{base}/api/v1/members");
    curl(&admin, &[&json[..], &["-d", add, members.as_str()]].concat())?;
    for (plugin, scopes) in [("bench-noop", "[]"), ("bench-two-fields", r#"["user.id","user.name"]"#)] {
        let install = format!(r#"{{"version":"1.0.0","granted_scopes":{scopes}}}"#);
        let url = format!("{base}/api/v1/workbench/plugins/{plugin}");
        curl(&admin, &[&json[..], &["-X", "PUT", "-d", install.as_str(), url.as_str()]].concat())?;
    }
    let consent = r#"{"scopes":["user.id","user.name"]}"#;
    let url = format!("{base}/api/v1/me/plugins/bench-two-fields/consent");
    curl(&member, &[&json[..], &["-X", "PUT", "-d", consent, url.as_str()]].concat())?;
    let noop_url = format!("{base}/api/v1/me/plugins/bench-noop/invoke");
    let two_url = format!("{base}/api/v1/me/plugins/bench-two-fields/invoke");
    for url in [Some(&noop_url), Some(&two_url), fetch_url.as_ref()].into_iter().flatten() {
        let answer = curl(&member, &[&json[..], &["-d", r#"{"path":"/"}"#, url.as_str()]].concat())?;
        if !answer.contains("\"status\":200") {
            bail!("a test invocation of {url} did not succeed: {answer}");
        }
    }
    let script = work.join("invoke.lua");
    std::fs::write(
        &script,
        format!(
            "wrk.method = \"POST\"\nwrk.body = '{{\"path\":\"/\"}}'\nwrk.headers[\"Content-Type\"] = \"application/json\"\n\
             wrk.headers[\"Authorization\"] = \"Bearer {member}\"\n"
        ),
    )?;
    Ok(Setup { noop_url, two_url, fetch_url, script })
}

/// One wrk run; parses req/s, p50, p99 and errors from its report.
fn wrk(url: &str, script: Option<&Path>, connections: u32, seconds: u64) -> anyhow::Result<Run> {
    let threads = connections.min(2);
    let mut command = Command::new("wrk");
    command.args(["--latency", "-t", &threads.to_string(), "-c", &connections.to_string()]);
    command.args(["-d", &format!("{seconds}s"), "--timeout", "10s"]);
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    let output = command.arg(url).output().context("running wrk")?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        bail!("wrk failed: {text}{}", String::from_utf8_lossy(&output.stderr));
    }
    let number_after = |prefix: &str| -> Option<String> {
        text.lines().find_map(|l| l.trim().strip_prefix(prefix).map(|rest| rest.trim().to_owned()))
    };
    let requests_per_sec = number_after("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no Requests/sec in wrk's report:\n{text}"))?;
    let p50_ms = number_after("50%").map(|v| duration_ms(&v)).context("no p50")?;
    let p99_ms = number_after("99%").map(|v| duration_ms(&v)).context("no p99")?;
    let mut errors = number_after("Non-2xx or 3xx responses:").and_then(|v| v.parse().ok()).unwrap_or(0u64);
    if let Some(socket) = number_after("Socket errors:") {
        errors += socket.split(',').filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok()).sum::<u64>();
    }
    Ok(Run { requests_per_sec, p50_ms, p99_ms, errors })
}

/// wrk's durations: `812.00us`, `1.23ms`, `2.01s`.
fn duration_ms(text: &str) -> f64 {
    let text = text.trim();
    let (number, factor) = if let Some(n) = text.strip_suffix("us") {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix("m") {
        (n, 60_000.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (text, 1.0)
    };
    number.parse::<f64>().map_or(f64::NAN, |n| n * factor)
}

#[cfg(test)]
mod tests {
    use super::duration_ms;

    #[test]
    fn wrk_durations_parse() {
        assert_eq!(duration_ms("812.00us"), 0.812);
        assert_eq!(duration_ms("1.50ms"), 1.5);
        assert_eq!(duration_ms("2.00s"), 2000.0);
        assert!(duration_ms("soon").is_nan());
    }
}
