//! Signing, packaging and publishing: `keygen`, `pack`, `login`, `publish`.
//!
//! A package (`ID-VERSION.wbpkg`) is a tar archive of three files:
//! `plugin.toml` and `component.wasm` as they will be published, and
//! `signature.json`, an Ed25519 signature over both
//! ([`crate::service::registry::signing_message`]) with the public key. The
//! host verifies it at publish and pins the key: every later version of the
//! plugin must be signed by the same one.

use std::io::Read as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, EncodePrivateKey as _};
use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
use serde::{Deserialize, Serialize};

use crate::audit::chain::key_id;
use crate::model::manifest::Manifest;
use crate::service::registry::signing_message;

/// The format tag of `signature.json`.
pub const FORMAT: &str = "workbench.plugin.package/1";

/// The file name ending of a package.
pub const EXTENSION: &str = "wbpkg";

/// The largest package `publish` reads (the host's own cap decides what it
/// accepts).
const MAX_PACKAGE_BYTES: u64 = 256 * 1024 * 1024;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Where the kit keeps the developer's key and credentials:
/// `WORKBENCH_HOME`, else `$XDG_CONFIG_HOME/workbench` or `~/.config/workbench`.
pub fn home() -> PathBuf {
    if let Some(dir) = std::env::var_os("WORKBENCH_HOME") {
        return PathBuf::from(dir);
    }
    std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
        .unwrap_or_else(std::env::temp_dir)
        .join("workbench")
}

/// The default signing key's path.
pub fn default_key() -> PathBuf {
    home().join("signing-key.pem")
}

/// Writes `text` readable by its owner only.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("writing {}", path.display()))?;
    std::io::Write::write_all(&mut file, text.as_bytes())?;
    Ok(())
}

/// Makes a new Ed25519 key at `path` (PKCS#8 PEM, owner-only); refuses to
/// replace one unless `force`.
pub fn keygen(path: &Path, force: bool) -> anyhow::Result<SigningKey> {
    if path.exists() && !force {
        bail!(
            "{} already holds a signing key; the host pins the key of a plugin's first signed version, so a new \
             key cannot publish your existing plugins. Pass --force to replace it anyway, or --key to write \
             another file",
            path.display()
        );
    }
    let key = SigningKey::generate(&mut rand::rngs::OsRng);
    let pem = key.to_pkcs8_pem(Default::default()).context("encoding the key")?;
    write_private(path, &pem)?;
    Ok(key)
}

/// Reads the key at `path`.
pub fn read_key(path: &Path) -> anyhow::Result<SigningKey> {
    let pem = std::fs::read_to_string(path).with_context(|| {
        format!("reading the signing key {} (make one with `workbench plugin keygen`)", path.display())
    })?;
    SigningKey::from_pkcs8_pem(&pem)
        .map_err(|e| anyhow::anyhow!("{} is not an Ed25519 key in PKCS#8 PEM: {e}", path.display()))
}

/// The key at `path`, made first when it is the default key and missing.
pub fn key_or_new(path: &Path) -> anyhow::Result<SigningKey> {
    if !path.exists() && path == default_key() {
        let key = keygen(path, false)?;
        eprintln!(
            "made a signing key at {} (key {}); keep it: later versions must be signed with it",
            path.display(),
            key_id(&key.verifying_key())
        );
        return Ok(key);
    }
    read_key(path)
}

/// `signature.json`.
#[derive(Debug, Serialize, Deserialize)]
struct SignatureFile {
    format: String,
    /// The public key, base64 (32 bytes).
    public_key: String,
    /// The signature, base64 (64 bytes).
    signature: String,
    /// The key's fingerprint, as the host shows it (`signed_by`).
    key_id: String,
}

/// A package, read and verified.
#[derive(Debug)]
pub struct Package {
    /// `plugin.toml`, as signed.
    pub manifest_toml: String,
    /// The manifest, checked.
    pub manifest: Manifest,
    /// The component.
    pub component: Vec<u8>,
    /// The public key.
    pub public_key: VerifyingKey,
    /// The signature over both.
    pub signature: Signature,
}

impl Package {
    /// Signs `manifest_toml` and `component` with `key`.
    pub fn sign(manifest_toml: String, component: Vec<u8>, key: &SigningKey) -> anyhow::Result<Self> {
        let manifest = Manifest::from_toml(&manifest_toml).context("plugin.toml is not a valid manifest")?;
        let signature = key.sign(&signing_message(manifest_toml.as_bytes(), &component));
        Ok(Self { manifest_toml, manifest, component, public_key: key.verifying_key(), signature })
    }

    /// The signing key's fingerprint.
    pub fn key_id(&self) -> String {
        key_id(&self.public_key)
    }

    /// Writes the package to `path`.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let signature = SignatureFile {
            format: FORMAT.to_owned(),
            public_key: B64.encode(self.public_key.as_bytes()),
            signature: B64.encode(self.signature.to_bytes()),
            key_id: self.key_id(),
        };
        let signature = serde_json::to_vec_pretty(&signature)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let file = std::fs::File::create(path).with_context(|| format!("writing {}", path.display()))?;
        let mut archive = tar::Builder::new(file);
        for (name, bytes) in [
            ("plugin.toml", self.manifest_toml.as_bytes()),
            ("component.wasm", self.component.as_slice()),
            ("signature.json", signature.as_slice()),
        ] {
            let mut header = tar::Header::new_gnu();
            header.set_size(bytes.len() as u64);
            header.set_mode(0o644);
            header.set_mtime(0);
            archive.append_data(&mut header, name, bytes)?;
        }
        archive.into_inner()?.sync_all()?;
        Ok(())
    }

    /// Reads the package at `path` and verifies its signature.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let what = path.display();
        let file = std::fs::File::open(path).with_context(|| format!("opening {what}"))?;
        let (mut manifest, mut component, mut signature) = (None, None, None);
        let mut archive = tar::Archive::new(file.take(MAX_PACKAGE_BYTES));
        for entry in archive.entries().with_context(|| format!("{what} is not a plugin package (tar)"))? {
            let mut entry = entry.with_context(|| format!("{what} is not a plugin package (tar)"))?;
            let name = entry.path()?.to_string_lossy().into_owned();
            let slot = match name.as_str() {
                "plugin.toml" => &mut manifest,
                "component.wasm" => &mut component,
                "signature.json" => &mut signature,
                other => bail!("{what} holds {other:?}; a package holds plugin.toml, component.wasm, signature.json"),
            };
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes)?;
            if slot.replace(bytes).is_some() {
                bail!("{what} holds {name} twice");
            }
        }
        let missing = |name: &str| format!("{what} lacks {name}: make packages with `workbench plugin pack`");
        let manifest_toml = String::from_utf8(manifest.with_context(|| missing("plugin.toml"))?)
            .with_context(|| format!("plugin.toml in {what} is not UTF-8"))?;
        let component = component.with_context(|| missing("component.wasm"))?;
        let signature: SignatureFile = serde_json::from_slice(&signature.with_context(|| missing("signature.json"))?)
            .with_context(|| format!("signature.json in {what} is not valid"))?;
        if signature.format != FORMAT {
            bail!("{what} is a {:?} package; this kit reads {FORMAT}", signature.format);
        }
        let key: [u8; 32] = B64
            .decode(&signature.public_key)
            .ok()
            .and_then(|k| k.try_into().ok())
            .with_context(|| format!("the public key in {what} is not 32 bytes of base64"))?;
        let public_key =
            VerifyingKey::from_bytes(&key).with_context(|| format!("the public key in {what} is not Ed25519"))?;
        let bytes: [u8; 64] = B64
            .decode(&signature.signature)
            .ok()
            .and_then(|s| s.try_into().ok())
            .with_context(|| format!("the signature in {what} is not 64 bytes of base64"))?;
        let signature = Signature::from_bytes(&bytes);
        public_key
            .verify(&signing_message(manifest_toml.as_bytes(), &component), &signature)
            .map_err(|_| anyhow::anyhow!("the signature in {what} does not match its plugin.toml and component"))?;
        let manifest = Manifest::from_toml(&manifest_toml).with_context(|| format!("plugin.toml in {what}"))?;
        Ok(Self { manifest_toml, manifest, component, public_key, signature })
    }

    /// The multipart form `POST /api/v1/plugins` takes.
    fn form(&self) -> reqwest::multipart::Form {
        let component = reqwest::multipart::Part::bytes(self.component.clone())
            .file_name("component.wasm")
            .mime_str("application/wasm")
            .expect("a valid media type");
        reqwest::multipart::Form::new()
            .text("manifest", self.manifest_toml.clone())
            .part("component", component)
            .text("public_key", B64.encode(self.public_key.as_bytes()))
            .text("signature", B64.encode(self.signature.to_bytes()))
    }
}

/// Packs `project`: its plugin.toml and the component `build` made, signed
/// with the key at `key`, into `out`.
pub fn pack(project: &Path, component: &Path, key: &Path, out: &Path) -> anyhow::Result<Package> {
    let manifest_path = project.join("plugin.toml");
    let manifest_toml =
        std::fs::read_to_string(&manifest_path).with_context(|| format!("reading {}", manifest_path.display()))?;
    let bytes = std::fs::read(component)
        .with_context(|| format!("reading {} (build it first: `workbench plugin build`)", component.display()))?;
    let package = Package::sign(manifest_toml, bytes, &key_or_new(key)?)?;
    package.write(out)?;
    Ok(package)
}

/// Saved developer tokens, by server.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Credentials {
    #[serde(default)]
    servers: std::collections::BTreeMap<String, String>,
}

fn credentials_path() -> PathBuf {
    home().join("credentials.toml")
}

fn read_credentials() -> anyhow::Result<Credentials> {
    let path = credentials_path();
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).with_context(|| format!("{} is not valid", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Credentials::default()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// A server's base URL without a trailing slash, checked.
pub fn server_url(server: &str) -> anyhow::Result<String> {
    let trimmed = server.trim().trim_end_matches('/');
    if !(trimmed.starts_with("http://") || trimmed.starts_with("https://")) || trimmed.len() <= "https://".len() {
        bail!("--server must be the workbench's address, like https://workbench.example.com (got {server:?})");
    }
    Ok(trimmed.to_owned())
}

/// The claims of a token, read without checking its signature (the server
/// does): for telling the developer what they are about to use.
fn claims(token: &str) -> anyhow::Result<serde_json::Value> {
    let payload = token.split('.').nth(1).context("that is not a token (a JWT has three parts separated by dots)")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .context("that is not a token (its claims are not base64url)")?;
    serde_json::from_slice(&bytes).context("that is not a token (its claims are not JSON)")
}

/// The token for `server`: `WORKBENCH_TOKEN`, else the one `login` saved.
pub fn token_for(server: &str) -> anyhow::Result<String> {
    if let Ok(token) = std::env::var("WORKBENCH_TOKEN")
        && !token.trim().is_empty()
    {
        return Ok(token.trim().to_owned());
    }
    read_credentials()?.servers.remove(server).with_context(|| {
        format!(
            "no developer token for {server}: set WORKBENCH_TOKEN, or run `workbench plugin login --server {server}` \
             (an operator mints one with `workbench token mint --roles developer`)"
        )
    })
}

/// Checks `token` against `server` and saves it for later commands.
pub async fn login(server: &str, token: &str) -> anyhow::Result<String> {
    let claims = claims(token)?;
    let roles: Vec<&str> =
        claims["roles"].as_array().map(|r| r.iter().filter_map(|v| v.as_str()).collect()).unwrap_or_default();
    if !roles.contains(&"developer") {
        bail!("that token's roles are {roles:?}; publishing needs a token with the developer role");
    }
    let reply = reqwest::Client::new()
        .get(format!("{server}/api/v1/plugins"))
        .bearer_auth(token)
        .send()
        .await
        .with_context(|| format!("reaching {server}"))?;
    if !reply.status().is_success() {
        bail!("{server} refused the token: {}", refusal(reply).await);
    }
    let mut credentials = read_credentials()?;
    credentials.servers.insert(server.to_owned(), token.to_owned());
    write_private(&credentials_path(), &toml::to_string(&credentials)?)?;
    Ok(format!(
        "{} of tenant {} (token valid until {})",
        claims["sub"].as_str().unwrap_or("?"),
        claims["tid"].as_str().unwrap_or("?"),
        claims["exp"].as_i64().map_or_else(
            || "?".to_owned(),
            |exp| {
                humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + std::time::Duration::from_secs(exp as u64))
                    .to_string()
            }
        ),
    ))
}

/// What the server said when it refused.
async fn refusal(reply: reqwest::Response) -> String {
    let status = reply.status();
    let text = reply.text().await.unwrap_or_default();
    match serde_json::from_str::<serde_json::Value>(&text) {
        Ok(body) if body["message"].is_string() => {
            format!("{status} {}: {}", body["error"].as_str().unwrap_or(""), body["message"].as_str().unwrap_or(""))
        }
        _ => format!("{status}: {}", text.chars().take(300).collect::<String>()),
    }
}

/// Publishes `package` to `server` with `token`; answers the host's record
/// of the version.
pub async fn publish(package: &Package, server: &str, token: &str) -> anyhow::Result<serde_json::Value> {
    let reply = reqwest::Client::new()
        .post(format!("{server}/api/v1/plugins"))
        .bearer_auth(token)
        .multipart(package.form())
        .send()
        .await
        .with_context(|| format!("reaching {server}"))?;
    if reply.status() != reqwest::StatusCode::CREATED {
        bail!("{server} refused {}: {}", package.manifest.reference(), refusal(reply).await);
    }
    reply.json().await.context("reading the server's answer")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = "id = \"hello\"\nname = \"Hello\"\nversion = \"0.1.0\"\n\n[developer]\nname = \"Acme\"\ncontact = \"a@b.example\"\n";

    #[test]
    fn a_package_round_trips_and_any_change_breaks_its_signature() {
        let dir = tempfile::tempdir().expect("dir");
        let key = SigningKey::generate(&mut rand::rngs::OsRng);
        let path = dir.path().join("hello-0.1.0.wbpkg");
        Package::sign(MANIFEST.into(), b"\0asm component".to_vec(), &key).expect("signs").write(&path).expect("writes");
        let read = Package::read(&path).expect("reads");
        assert_eq!((read.manifest.id.as_str(), read.component.as_slice()), ("hello", &b"\0asm component"[..]));
        assert_eq!(read.key_id(), key_id(&key.verifying_key()));

        // The same package with another component under the old signature.
        let mut forged = Package::sign(MANIFEST.into(), b"\0asm other".to_vec(), &key).expect("signs");
        forged.signature = read.signature;
        forged.write(&path).expect("writes");
        let refused = Package::read(&path).expect_err("refused").to_string();
        assert!(refused.contains("does not match its plugin.toml and component"), "{refused}");

        std::fs::write(&path, b"not a tar").expect("writes");
        assert!(Package::read(&path).is_err());
    }

    #[test]
    fn keygen_does_not_replace_a_key_unasked() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("key.pem");
        let first = keygen(&path, false).expect("made");
        assert_eq!(read_key(&path).expect("reads").to_bytes(), first.to_bytes());
        let refused = keygen(&path, false).expect_err("refused").to_string();
        assert!(refused.contains("--force"), "{refused}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777, 0o600);
        }
        assert_ne!(keygen(&path, true).expect("replaced").to_bytes(), first.to_bytes());
    }

    #[test]
    fn a_server_address_is_checked() {
        assert_eq!(server_url("http://127.0.0.1:8080/").expect("ok"), "http://127.0.0.1:8080");
        assert!(server_url("127.0.0.1:8080").is_err());
        assert!(server_url("https://").is_err());
    }
}
