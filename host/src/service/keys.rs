//! The host's secrets: the audit checkpoint signing key, the open-id secret
//! and the local token secret. Each comes from the environment, the
//! configuration (a value or a file), or a file under the keys directory
//! created on first start (see [`crate::config::KeysConfig`]), so replicas
//! can be given the same secrets without sharing a data directory. The
//! audit signing key rotates with a handover both keys sign.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use ed25519_dalek::SigningKey;
use rand::RngCore;

use crate::config::Config;

/// Reads a 32-byte hex secret from `path`, creating it (mode 0600) if absent.
pub fn load_or_create(path: &Path) -> std::io::Result<[u8; 32]> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return parse(&text)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", path.display())));
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let secret = fresh();
    write_private(path, &hex::encode(secret))?;
    Ok(secret)
}

/// 32 random bytes.
pub fn fresh() -> [u8; 32] {
    let mut secret = [0; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    secret
}

fn parse(text: &str) -> Result<[u8; 32], String> {
    let mut secret = [0; 32];
    hex::decode_to_slice(text.trim(), &mut secret).map_err(|_| "expected 64 hex digits (32 bytes)".to_owned())?;
    Ok(secret)
}

/// Writes `text` to a new file only its owner can read.
#[cfg(unix)]
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())
}

/// Writes `text` to a new file.
#[cfg(not(unix))]
pub fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// One of the host's secrets: where each may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    /// The audit checkpoint signing key.
    AuditSigning,
    /// The open-id secret.
    OpenId,
    /// The local token secret.
    Token,
}

impl Secret {
    /// Every secret.
    pub const ALL: [Secret; 3] = [Secret::AuditSigning, Secret::OpenId, Secret::Token];

    /// Its environment variable (`…_FILE` names a file instead).
    pub fn env(self) -> &'static str {
        match self {
            Secret::AuditSigning => "WORKBENCH_AUDIT_SIGNING_KEY",
            Secret::OpenId => "WORKBENCH_OPEN_ID_SECRET",
            Secret::Token => "WORKBENCH_TOKEN_SECRET",
        }
    }

    /// Its file under the keys directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Secret::AuditSigning => "audit-signing.key",
            Secret::OpenId => "open-id.key",
            Secret::Token => "jwt-hs256.key",
        }
    }

    fn configured(self, config: &Config) -> (Option<&String>, Option<&PathBuf>) {
        let keys = &config.keys;
        match self {
            Secret::AuditSigning => (keys.audit_signing_key.as_ref(), keys.audit_signing_key_file.as_ref()),
            Secret::OpenId => (keys.open_id_secret.as_ref(), keys.open_id_secret_file.as_ref()),
            Secret::Token => (keys.token_secret.as_ref(), keys.token_secret_file.as_ref()),
        }
    }

    /// Where the secret comes from under `config`, first that is set.
    pub fn source(self, config: &Config) -> Source {
        let env = self.env();
        if let Ok(value) = std::env::var(env) {
            return Source::Value(format!("${env}"), value);
        }
        if let Ok(path) = std::env::var(format!("{env}_FILE")) {
            return Source::File(PathBuf::from(path));
        }
        match self.configured(config) {
            (Some(value), _) => Source::Value(format!("keys.{}", self.config_name()), value.clone()),
            (None, Some(path)) => Source::File(path.clone()),
            (None, None) => Source::KeysDir(config.keys_dir().join(self.file_name())),
        }
    }

    fn config_name(self) -> &'static str {
        match self {
            Secret::AuditSigning => "audit_signing_key",
            Secret::OpenId => "open_id_secret",
            Secret::Token => "token_secret",
        }
    }

    /// The secret's bytes under `config`.
    pub fn load(self, config: &Config) -> anyhow::Result<[u8; 32]> {
        match self.source(config) {
            Source::Value(name, value) => parse(&value).map_err(|e| anyhow::anyhow!("{name}: {e}")),
            Source::File(path) => {
                let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
                parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
            }
            Source::KeysDir(path) => load_or_create(&path).with_context(|| format!("the key {}", path.display())),
        }
    }
}

/// Where a secret comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A value (environment variable or configuration; its name).
    Value(String, String),
    /// A file the operator named.
    File(PathBuf),
    /// The file under the keys directory, created on first start.
    KeysDir(PathBuf),
}

/// The checkpoint signing key `config` names.
pub fn audit_signing_key(config: &Config) -> anyhow::Result<SigningKey> {
    Secret::AuditSigning.load(config).map(|secret| SigningKey::from_bytes(&secret))
}

/// The checkpoint signing key in `dir` (created if absent).
pub fn signing_key(dir: &Path) -> std::io::Result<SigningKey> {
    load_or_create(&dir.join(Secret::AuditSigning.file_name())).map(|secret| SigningKey::from_bytes(&secret))
}

/// A fresh set of secrets as `export NAME=HEX` lines, or written as files
/// (mode 0600) into `dir` when given; the lines or the files written.
pub fn generate(dir: Option<&Path>) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for secret in Secret::ALL {
        let value = hex::encode(fresh());
        match dir {
            None => out.push(format!("export {}={value}", secret.env())),
            Some(dir) => {
                std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
                let path = dir.join(secret.file_name());
                write_private(&path, &value)
                    .with_context(|| format!("writing {} (it must not exist)", path.display()))?;
                out.push(path.display().to_string());
            }
        }
    }
    Ok(out)
}

/// Rotates the audit signing key `config` names: a fresh key takes over
/// with a handover both keys sign, recorded in `store`'s key history, so
/// what the old key signed still verifies. The new key is written to `out`,
/// or replaces the keys directory's file when the key came from there (the
/// old private key is not kept); otherwise its
/// `export` line is returned for the operator to give every replica.
pub async fn rotate<S: crate::store::AuditKeys + ?Sized>(
    config: &Config,
    store: &S,
    out: Option<&Path>,
) -> anyhow::Result<String> {
    use crate::audit::chain::{ChainSigner, key_id};
    let previous = audit_signing_key(config)?;
    let next = SigningKey::from_bytes(&fresh());
    store.add_audit_key(&ChainSigner::new(previous.clone()).key_entry()).await?;
    store.add_audit_key(&crate::audit::keyring::hand_over(&previous, &next, crate::now_ms())).await?;
    let (old, new) = (key_id(&previous.verifying_key()), key_id(&next.verifying_key()));
    let value = hex::encode(next.to_bytes());
    match (out, Secret::AuditSigning.source(config)) {
        (Some(path), _) => {
            write_private(path, &value).with_context(|| format!("writing {} (it must not exist)", path.display()))?;
            Ok(format!("audit key {new} took over from {old}; the new key is in {}", path.display()))
        }
        (None, Source::KeysDir(path)) => {
            // The old private key is replaced, not kept: its public key in the
            // history is all verification needs, and a retired key lying
            // around is one more key to leak.
            let staged = path.with_extension("key.new");
            let _ = std::fs::remove_file(&staged);
            write_private(&staged, &value).with_context(|| format!("writing {}", staged.display()))?;
            std::fs::rename(&staged, &path).with_context(|| format!("replacing {}", path.display()))?;
            Ok(format!("audit key {new} took over from {old}; restart the server to sign with it"))
        }
        (None, _) => Ok(format!("export {}={value}", Secret::AuditSigning.env())),
    }
}
