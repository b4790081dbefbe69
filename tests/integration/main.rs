//! One binary: the real host, real SQLite, real components built from
//! source by `xtask` (`plugins/` and `tests/guests/`).

mod audit;
mod hostile;
mod plugins;
mod support;
