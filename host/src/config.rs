//! One configuration: a TOML file, overridden by flags, with defaults that run.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::audit::AuditWriterConfig;
use crate::runtime::RuntimeLimits;

/// Host configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the SQLite database, keys and compiled-code cache live.
    pub data_dir: PathBuf,
    /// Limits per plugin call.
    pub runtime: RuntimeLimits,
    /// Audit writer tuning.
    pub audit: AuditWriterConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self { data_dir: PathBuf::from("data"), runtime: RuntimeLimits::default(), audit: AuditWriterConfig::default() }
    }
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
        toml::from_str(&text)
            .map_err(|e| ConfigError::Invalid { path: path.to_owned(), message: e.message().to_owned() })
    }

    /// The SQLite database file.
    pub fn database_path(&self) -> PathBuf {
        self.data_dir.join("workbench.db")
    }

    /// The compiled-code cache.
    pub fn cache_dir(&self) -> PathBuf {
        self.data_dir.join("cache")
    }

    /// The key directory.
    pub fn keys_dir(&self) -> PathBuf {
        self.data_dir.join("keys")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_refused_and_partial_files_keep_defaults() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[runtime]\ndeadline_ms = 50\n").expect("write");
        let config = Config::load(Some(&path)).expect("valid");
        assert_eq!(config.runtime.deadline_ms, 50);
        assert_eq!(config.runtime.hostcalls, RuntimeLimits::default().hostcalls);
        std::fs::write(&path, "[runtime]\ndeadline = 50\n").expect("write");
        let error = Config::load(Some(&path)).expect_err("unknown key").to_string();
        assert!(error.contains("unknown field `deadline`"), "{error}");
    }
}
