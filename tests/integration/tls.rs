//! TLS both ways: the server serves HTTPS itself and picks up a replaced
//! certificate without a restart (a client trusting only the old one is
//! refused after the reload; a broken replacement leaves the certificate in
//! use); and the PostgreSQL connection speaks TLS when its URL asks, checked
//! against a PostgreSQL with `ssl=on` that this test sets up with a
//! certificate it makes (verify-full, another CA, a host name that is not
//! the certificate's, and a URL that asks for nothing).

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use workbench_host::model::directory::Role;

use crate::server::Server;

/// A CA and a server certificate for `names` it signed: (CA PEM, certificate PEM, key PEM).
fn certificate(names: &[&str]) -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, "Workbench test CA");
    let issuer = rcgen::CertifiedIssuer::self_signed(ca, ca_key).expect("CA");
    let key = rcgen::KeyPair::generate().expect("key");
    let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
    let leaf = rcgen::CertificateParams::new(names).expect("params").signed_by(&key, &issuer).expect("leaf");
    (issuer.pem(), leaf.pem(), key.serialize_pem())
}

/// Replaces `path` with `text` at once (as a deployment's certificate renewal does).
fn replace(path: &Path, text: &str) {
    let staged = path.with_extension("staged");
    std::fs::write(&staged, text).expect("write");
    std::fs::rename(&staged, path).expect("rename");
}

/// A client that trusts only `ca`.
fn client(ca: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).expect("CA"))
        .pool_max_idle_per_host(0)
        .build()
        .expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_is_served_and_a_replaced_certificate_is_picked_up_without_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ca1, cert1, key1) = certificate(&["localhost"]);
    let (cert_file, key_file) = (dir.path().join("tls.crt"), dir.path().join("tls.key"));
    std::fs::write(&cert_file, &cert1).expect("cert");
    std::fs::write(&key_file, &key1).expect("key");
    let config = dir.path().join("tls.toml");
    std::fs::write(
        &config,
        format!(
            "[server.tls]\ncert_file = {:?}\nkey_file = {:?}\nreload_secs = 1\n",
            cert_file.display().to_string(),
            key_file.display().to_string()
        ),
    )
    .expect("config");
    let guests = xtask::guests();
    let components = guests.component("noop").parent().expect("component dir").to_owned();
    let mut command = Command::new(xtask::host_binary());
    command
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0", "--demo-manifests"])
        .arg(xtask::repo_root().join("plugins"))
        .arg("--demo-components")
        .arg(&components)
        .env("RUST_LOG", "error");
    let mut served = xtask::spawn_server(&mut command, true).expect("workbench starts");
    assert!(served.base.starts_with("https://"), "{}", served.base);
    let base = served.base.replace("127.0.0.1", "localhost");
    let token = served.token("TOKEN_ZHANG_WEI").expect("token").to_owned();

    let plugins =
        client(&ca1).get(format!("{base}/api/v1/me/plugins")).bearer_auth(&token).send().await.expect("https");
    assert_eq!(plugins.status(), StatusCode::OK);
    assert!(
        reqwest::Client::new().get(served.base.replace("https://", "http://") + "/readyz").send().await.is_err(),
        "no plain HTTP on the TLS port"
    );

    // The certificate is renewed under another CA: within the reload
    // period new connections get it, and a client trusting only the old
    // CA is refused.
    let (ca2, cert2, key2) = certificate(&["localhost"]);
    replace(&key_file, &key2);
    replace(&cert_file, &cert2);
    let mut renewed = false;
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if client(&ca2).get(format!("{base}/readyz")).send().await.is_ok() {
            renewed = true;
            break;
        }
    }
    assert!(renewed, "the renewed certificate is served without a restart");
    assert!(client(&ca1).get(format!("{base}/readyz")).send().await.is_err(), "the old certificate is gone");
    let plugins =
        client(&ca2).get(format!("{base}/api/v1/me/plugins")).bearer_auth(&token).send().await.expect("https");
    assert_eq!(plugins.status(), StatusCode::OK);

    // A broken replacement leaves the certificate in use.
    replace(&cert_file, "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        client(&ca2).get(format!("{base}/readyz")).send().await.is_ok(),
        "still served with the last good certificate"
    );
    let _ = served.child.kill();
    let _ = served.child.wait();
}

/// A PostgreSQL of the test's own, with TLS on and only TLS accepted.
struct TlsPostgres {
    child: Child,
    port: u16,
    ca: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for TlsPostgres {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn postgres_bin(name: &str) -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed under /usr/lib/postgresql")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin").join(name)))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop().unwrap_or_else(|| panic!("{name} not found under /usr/lib/postgresql"))
}

fn as_postgres(program: &Path) -> Command {
    let mut command = Command::new("runuser");
    command.args(["-u", "postgres", "--"]).arg(program);
    command
}

async fn tls_postgres() -> TlsPostgres {
    use std::os::unix::fs::{PermissionsExt, chown};
    let dir = tempfile::tempdir().expect("tempdir");
    let uid = |flag: &str| -> u32 {
        let out = Command::new("id").args([flag, "postgres"]).output().expect("id");
        String::from_utf8_lossy(&out.stdout).trim().parse().expect("id")
    };
    let (user, group) = (uid("-u"), uid("-g"));
    chown(dir.path(), Some(user), Some(group)).expect("chown");
    let (ca, cert, key) = certificate(&["localhost"]);
    let files =
        [("ca.pem", ca.as_str(), 0o644), ("server.crt", cert.as_str(), 0o644), ("server.key", key.as_str(), 0o600)];
    for (name, text, mode) in files {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        chown(&path, Some(user), Some(group)).expect("chown");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("mode");
    }
    let data = dir.path().join("data");
    let init = as_postgres(&postgres_bin("initdb"))
        .arg("-D")
        .arg(&data)
        .args(["-A", "trust", "-U", "postgres", "--no-sync"])
        .output()
        .expect("initdb runs");
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    // Only TLS connections are let in.
    let hba = data.join("pg_hba.conf");
    std::fs::write(&hba, "hostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n").expect("hba");
    chown(&hba, Some(user), Some(group)).expect("chown");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("port").local_addr().expect("addr").port();
    let child = as_postgres(&postgres_bin("postgres"))
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-c", "listen_addresses=localhost", "-c", "ssl=on", "-c", "fsync=off"])
        .arg("-c")
        .arg(format!("unix_socket_directories={}", dir.path().display()))
        .arg("-c")
        .arg(format!("ssl_cert_file={}", dir.path().join("server.crt").display()))
        .arg("-c")
        .arg(format!("ssl_key_file={}", dir.path().join("server.key").display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("postgres starts");
    let ca = dir.path().join("ca.pem");
    // Held (and so stopped on drop) from here, whatever happens next.
    let postgres = TlsPostgres { child, port, ca, _dir: dir };
    for _ in 0..100 {
        let ready =
            Command::new(postgres_bin("pg_isready")).args(["-h", "localhost", "-p", &port.to_string()]).output();
        if ready.is_ok_and(|r| r.status.success()) {
            return postgres;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the TLS PostgreSQL did not become ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgresql_is_reached_over_tls_with_verify_full() {
    let postgres = tls_postgres().await;
    let url = |host: &str, query: &str| format!("postgres://postgres@{host}:{}/postgres?{query}", postgres.port);
    let ca = postgres.ca.display().to_string();

    // verify-full with the CA: the whole product runs over it.
    let server = Server::demo_at(url("localhost", &format!("sslmode=verify-full&sslrootcert={ca}"))).await;
    let reply = server.invoke("zhang.wei", "site-daily-report", "/").await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let admin = server.demo_token("admin", &[Role::Admin, Role::Member]);
    let verified = server.call(Method::GET, "/api/v1/audit/verify", Some(&admin), None).await;
    assert_eq!(verified.body["ok"], true, "{}", verified.text);
    server.stop().await;

    // Refused: a certificate from another CA, a host name the certificate
    // does not name, and a URL that asks for no TLS (the server takes only TLS).
    let open = |url: String| async move { workbench_host::store::SqlStore::connect(&url).await.map(drop) };
    let (other_ca, _, _) = certificate(&["localhost"]);
    let other = tempfile::NamedTempFile::new().expect("file");
    std::fs::write(other.path(), other_ca).expect("write");
    let wrong_ca = open(url("localhost", &format!("sslmode=verify-full&sslrootcert={}", other.path().display()))).await;
    assert!(wrong_ca.is_err(), "a certificate from another CA is refused");
    let wrong_name = open(url("127.0.0.1", &format!("sslmode=verify-full&sslrootcert={ca}"))).await;
    assert!(wrong_name.is_err(), "verify-full checks the host name");
    // libpq's verify-ca would let this one in: sqlx 0.8.6 under rustls
    // 0.23.24+ checks the name for verify-ca too (transact-rs/sqlx#3793), so
    // it fails closed. When sqlx's fix arrives this assertion says so.
    let ca_only = open(url("127.0.0.1", &format!("sslmode=verify-ca&sslrootcert={ca}"))).await;
    assert!(ca_only.is_err(), "verify-ca is as strict as verify-full in this build");
    open(url("localhost", &format!("sslmode=verify-ca&sslrootcert={ca}")))
        .await
        .expect("verify-ca with the right name");
    open(url("localhost", "sslmode=require")).await.expect("require encrypts without checking");
    let plain = open(format!("postgres://postgres@localhost:{}/postgres", postgres.port)).await;
    let error = plain.expect_err("without sslmode no TLS is asked for, and this server takes only TLS");
    assert!(error.to_string().contains("no encryption") || error.to_string().contains("pg_hba"), "{error}");
}
