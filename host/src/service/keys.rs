//! The host's secrets, generated on first start and kept under the data dir:
//! the audit checkpoint signing key and the open-id key.

use std::path::Path;

use ed25519_dalek::SigningKey;
use rand::RngCore;

/// Reads a 32-byte hex secret from `path`, creating it (mode 0600) if absent.
pub fn load_or_create(path: &Path) -> std::io::Result<[u8; 32]> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let mut secret = [0; 32];
        hex::decode_to_slice(text.trim(), &mut secret)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {e}", path.display())))?;
        return Ok(secret);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut secret = [0; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    write_private(path, &hex::encode(secret))?;
    Ok(secret)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// The checkpoint signing key in `dir`.
pub fn signing_key(dir: &Path) -> std::io::Result<SigningKey> {
    load_or_create(&dir.join("audit-signing.key")).map(|secret| SigningKey::from_bytes(&secret))
}

/// The open-id secret in `dir`.
pub fn open_id_secret(dir: &Path) -> std::io::Result<[u8; 32]> {
    load_or_create(&dir.join("open-id.key"))
}
