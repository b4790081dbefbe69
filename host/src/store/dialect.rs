//! What differs between the two engines in the text of a statement: which
//! engine a URL names, and how parameters are written.

use super::StoreError;

/// Which engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Backend {
    /// The backend a database URL names.
    pub fn of_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::Unsupported("the database URL must start with sqlite: or postgres:".to_owned()))
        }
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// `$first, $first+1, …` for `n` parameters on PostgreSQL; plain `?` on
/// SQLite. Numbered or named parameters make SQLite keep a name list that
/// binding searches linearly per parameter, so a multi-row insert with
/// thousands of them would bind in quadratic time; plain `?` bind in order.
pub(super) fn placeholders(backend: Backend, first: usize, n: usize) -> String {
    match backend {
        Backend::Sqlite => vec!["?"; n].join(", "),
        Backend::Postgres => (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", "),
    }
}
