//! One configuration: a TOML file, overridden by flags and `WORKBENCH_*`
//! environment variables, with defaults that run.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::audit::AuditWriterConfig;
use crate::runtime::RuntimeLimits;
use crate::runtime::admission::AdmissionConfig;
use crate::runtime::egress::EgressConfig;

/// Host configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the SQLite database, keys and compiled-code cache live.
    pub data_dir: PathBuf,
    /// `postgres://…` (or `sqlite:…`); the SQLite file under the data dir when unset.
    pub database_url: Option<String>,
    /// Keys (audit signing, open ids, local token key); `keys/` under the
    /// data dir when unset. Replicas on one database must share it.
    pub keys_dir: Option<PathBuf>,
    /// Where compiled components are cached; `cache/` under the data dir when unset.
    /// Hosts of the same build may share one.
    pub code_cache_dir: Option<PathBuf>,
    /// The HTTP server.
    pub server: ServerConfig,
    /// Who may call the API.
    pub auth: AuthConfig,
    /// What developers may publish.
    pub registry: RegistryConfig,
    /// Limits per plugin call.
    pub runtime: RuntimeLimits,
    /// Fair shares of the runtime and invocation rates.
    pub admission: AdmissionConfig,
    /// Audit writer tuning.
    pub audit: AuditWriterConfig,
    /// What plugins' outbound requests may reach.
    pub egress: EgressConfig,
    /// The host's secrets, when they are not files under `keys_dir`.
    pub keys: KeysConfig,
    /// How long records and storage are kept at least, and how often the
    /// purge runs.
    pub retention: RetentionConfig,
    /// How events are delivered to plugins.
    pub events: EventsConfig,
}

/// The host's secrets. Each is 32 bytes, hex, and is taken from the first
/// of: its environment variable (`WORKBENCH_AUDIT_SIGNING_KEY`,
/// `WORKBENCH_OPEN_ID_SECRET`, `WORKBENCH_TOKEN_SECRET`, or the same names
/// ending in `_FILE` naming a file), the value here, the file here, or the
/// file under `keys_dir` (created on first start). Replicas given the same
/// secrets need no shared data directory; `workbench keys generate` makes
/// a fresh set.
#[derive(Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysConfig {
    /// The audit checkpoint signing key (Ed25519 secret key).
    pub audit_signing_key: Option<String>,
    /// A file holding it.
    pub audit_signing_key_file: Option<PathBuf>,
    /// The secret open ids are derived with.
    pub open_id_secret: Option<String>,
    /// A file holding it.
    pub open_id_secret_file: Option<PathBuf>,
    /// The HS256 secret of the local token key (kid `local`), used when no
    /// `auth.keys` are configured.
    pub token_secret: Option<String>,
    /// A file holding it.
    pub token_secret_file: Option<PathBuf>,
}

impl std::fmt::Debug for KeysConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let given = |value: &Option<String>| value.as_ref().map(|_| "<secret>");
        f.debug_struct("KeysConfig")
            .field("audit_signing_key", &given(&self.audit_signing_key))
            .field("audit_signing_key_file", &self.audit_signing_key_file)
            .field("open_id_secret", &given(&self.open_id_secret))
            .field("open_id_secret_file", &self.open_id_secret_file)
            .field("token_secret", &given(&self.token_secret))
            .field("token_secret_file", &self.token_secret_file)
            .finish()
    }
}

/// Retention, as the operator bounds it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// No tenant keeps audit records for less (days; 3 years by default).
    pub audit_floor_days: u32,
    /// How often `serve` purges what outlived its period, seconds (0: only
    /// `workbench retention purge`).
    pub purge_every_secs: u64,
    /// Audit records deleted per transaction (each holds SQLite's one
    /// writer lock while it runs, so keep it small).
    pub purge_batch_records: u32,
    /// The share of time, in percent, the purge works: after each page it
    /// verifies and each batch it deletes, it rests for the rest (100: no
    /// rest). A purge has an hour; the calls it runs beside have milliseconds.
    pub purge_share_percent: u8,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self { audit_floor_days: 1095, purge_every_secs: 3600, purge_batch_records: 200, purge_share_percent: 5 }
    }
}

/// How deliveries are made.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Seconds after each failed attempt until the next; after the last,
    /// a dead letter.
    pub retry_secs: Vec<u64>,
    /// How long a replica's claim on a delivery lasts, ms; past it another
    /// replica takes the delivery over.
    pub lease_ms: u64,
    /// How often the worker looks for due deliveries when not woken, ms.
    pub poll_ms: u64,
    /// Deliveries claimed at once.
    pub claim_batch: u32,
    /// How often schedules are looked at, seconds (a slot fires within
    /// this of its time); 0: this process never looks (another replica
    /// does, or nothing is scheduled).
    pub schedule_tick_secs: u64,
    /// Days a settled delivery (done or dead) and its event are kept; the
    /// retention purge deletes them after. An id sent again after that is
    /// a new event.
    pub keep_days: u32,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self {
            retry_secs: crate::model::events::BACKOFF_SECS.to_vec(),
            lease_ms: 60_000,
            poll_ms: 1_000,
            claim_batch: 32,
            schedule_tick_secs: 20,
            keep_days: 30,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            database_url: None,
            code_cache_dir: None,
            keys_dir: None,
            server: ServerConfig::default(),
            auth: AuthConfig::default(),
            registry: RegistryConfig::default(),
            runtime: RuntimeLimits::default(),
            admission: AdmissionConfig::default(),
            audit: AuditWriterConfig::default(),
            egress: EgressConfig::default(),
            keys: KeysConfig::default(),
            retention: RetentionConfig::default(),
            events: EventsConfig::default(),
        }
    }
}

/// The HTTP server.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Largest request body, except publishing (see [`RegistryConfig`]).
    pub body_limit_bytes: usize,
    /// How long a request may take before a 504 `timeout`.
    pub request_timeout_secs: u64,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace_secs: u64,
    /// Serve HTTPS with this certificate (plain HTTP without it).
    pub tls: Option<TlsConfig>,
}

/// The server's certificate files.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// The certificate chain, PEM (leaf first).
    pub cert_file: PathBuf,
    /// Its private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// How often the files are checked for a change, seconds.
    #[serde(default = "TlsConfig::reload_secs")]
    pub reload_secs: u64,
}

impl TlsConfig {
    fn reload_secs() -> u64 {
        10
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit_bytes: 1 << 20,
            request_timeout_secs: 30,
            shutdown_grace_secs: 30,
            tls: None,
        }
    }
}

/// What developers may publish.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryConfig {
    /// Largest component accepted (32 MiB: a Python component built with
    /// componentize-py is about 18 MB, a Rust one well under 1 MB).
    pub max_component_bytes: usize,
    /// How long a publish may take before a 504 `timeout` (never less than
    /// `server.request_timeout_secs`): publishing compiles the component,
    /// which for a Python component can take well over half a minute on a
    /// busy machine.
    pub publish_timeout_secs: u64,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self { max_component_bytes: 32 << 20, publish_timeout_secs: 300 }
    }
}

/// Token validation. With no keys configured, an HS256 secret is created
/// under the data dir (kid `local`), which `workbench token mint` also uses.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud`.
    pub audience: String,
    /// Clock skew allowed on `exp` and `nbf`, seconds.
    pub leeway_secs: u64,
    /// Keys by `kid`; several allow rotation.
    pub keys: Vec<JwtKeyConfig>,
    /// The company's identity provider, trusted through its published key
    /// set: its tokens work like the host's own.
    pub provider: Option<ProviderConfig>,
}

/// An identity provider trusted through its published keys (JWKS).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// The provider's issuer (`iss` of its tokens). Without `jwks_url`, its
    /// keys are found by OIDC discovery (`ISSUER/.well-known/openid-configuration`).
    pub issuer: String,
    /// The key set's URL, when not discovered.
    #[serde(default)]
    pub jwks_url: Option<String>,
    /// Required `aud` of its tokens.
    pub audience: String,
    /// The tenants its tokens may name (empty: any).
    #[serde(default)]
    pub tenants: Vec<String>,
    /// The claim naming the tenant.
    #[serde(default = "ProviderConfig::tenant_claim")]
    pub tenant_claim: String,
    /// The claim naming the member.
    #[serde(default = "ProviderConfig::member_claim")]
    pub member_claim: String,
    /// The claim listing the roles (an array, or a space-separated string);
    /// names that are not roles here are ignored.
    #[serde(default = "ProviderConfig::roles_claim")]
    pub roles_claim: String,
    /// How often the key set is fetched again, seconds.
    #[serde(default = "ProviderConfig::refresh_secs")]
    pub refresh_secs: u64,
    /// How long fetched keys keep working while the provider cannot be
    /// reached, seconds; past it its tokens get 503 `identity_unavailable`.
    #[serde(default = "ProviderConfig::keys_valid_secs")]
    pub keys_valid_secs: u64,
    /// A token naming an unknown `kid` fetches the key set again at most this
    /// often, seconds.
    #[serde(default = "ProviderConfig::unknown_kid_refresh_secs")]
    pub unknown_kid_refresh_secs: u64,
}

impl ProviderConfig {
    fn tenant_claim() -> String {
        "tid".into()
    }
    fn member_claim() -> String {
        "sub".into()
    }
    fn roles_claim() -> String {
        "roles".into()
    }
    fn refresh_secs() -> u64 {
        300
    }
    fn keys_valid_secs() -> u64 {
        86_400
    }
    fn unknown_kid_refresh_secs() -> u64 {
        10
    }
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            issuer: "workbench".into(),
            audience: "workbench".into(),
            leeway_secs: 30,
            keys: Vec::new(),
            provider: None,
        }
    }
}

/// A token key. HMAC keys have a secret; RSA and EdDSA keys a public key
/// (PEM) to verify with and, to mint tokens, a private key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtKeyConfig {
    /// The `kid` tokens name.
    pub kid: String,
    /// The one algorithm this key accepts: HS256, HS384, HS512, RS256,
    /// RS384, RS512, PS256, ES256 or EdDSA.
    pub algorithm: String,
    /// HMAC secret.
    #[serde(default)]
    pub secret: Option<String>,
    /// File holding the HMAC secret.
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// Public key (PEM) file.
    #[serde(default)]
    pub public_key_file: Option<PathBuf>,
    /// Private key (PEM) file, for minting.
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("{path} is not a valid configuration: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong (unknown keys are errors).
        message: String,
    },
}

impl Config {
    /// Reads `path`, or the defaults when `None`.
    pub fn load(path: Option<&Path>) -> Result<Self, ConfigError> {
        let Some(path) = path else { return Ok(Self::default()) };
        let text =
            std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
        let config: Self = toml::from_str(&text)
            .map_err(|e| ConfigError::Invalid { path: path.to_owned(), message: e.message().to_owned() })?;
        // An invocation answers by its deadline plus the wait for its
        // records; a request timeout before that would answer 504 while the
        // records' fate is still open.
        let answered_within = config.runtime.deadline_ms.saturating_add(config.audit.durable_within_ms);
        if config.server.request_timeout_secs.saturating_mul(1_000) <= answered_within {
            return Err(ConfigError::Invalid {
                path: path.to_owned(),
                message: format!(
                    "server.request_timeout_secs ({} s) must be longer than runtime.deadline_ms plus \
                     audit.durable_within_ms ({answered_within} ms)",
                    config.server.request_timeout_secs
                ),
            });
        }
        Ok(config)
    }

    /// The SQLite database file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("workbench.db")
    }

    /// The compiled-code cache, as an absolute path (the engine's cache
    /// takes no relative one; a relative path is taken from the working
    /// directory, like the data directory's).
    pub fn cache_dir(&self) -> PathBuf {
        let dir = self.code_cache_dir.clone().unwrap_or_else(|| self.data_dir.join("cache"));
        std::path::absolute(&dir).unwrap_or(dir)
    }

    /// The key directory.
    pub fn keys_dir(&self) -> PathBuf {
        self.keys_dir.clone().unwrap_or_else(|| self.data_dir.join("keys"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused_and_partial_files_keep_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "[server]\nrequest_timeout_secs = 5\n[audit]\ndurable_within_ms = 4000\n[runtime]\ndeadline_ms = 1000\n",
        )
        .expect("write");
        let refused = Config::load(Some(&path)).expect_err("no room for the deadline and the audit wait");
        assert!(refused.to_string().contains("request_timeout_secs (5 s) must be longer"), "{refused}");
        std::fs::write(&path, "[runtime]\ndeadline_ms = 50\n").expect("write");
        let config = Config::load(Some(&path)).expect("valid");
        assert_eq!(config.runtime.deadline_ms, 50);
        assert_eq!(config.runtime.hostcalls, RuntimeLimits::default().hostcalls);
        std::fs::write(
            &path,
            "[server]\nlisten = \"0.0.0.0:9000\"\n[[auth.keys]]\nkid = \"a\"\nalgorithm = \"HS256\"\nsecret = \"s\"\n",
        )
        .expect("write");
        let config = Config::load(Some(&path)).expect("valid");
        assert_eq!(config.server.listen.port(), 9000);
        assert_eq!(config.auth.keys[0].kid, "a");
        std::fs::write(&path, "[runtime]\ndeadline = 50\n").expect("write");
        let error = Config::load(Some(&path)).expect_err("unknown key").to_string();
        assert!(error.contains("unknown field `deadline`"), "{error}");
    }
}
