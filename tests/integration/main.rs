//! One binary: the real host, real SQLite, real components built from
//! source by `xtask` (`plugins/` and `tests/guests/`). The `api_*` tests go
//! through real HTTP and run on SQLite and on PostgreSQL.

mod access;
mod api_security;
mod api_story;
mod audit;
mod avatar;
mod cli;
mod consent_property;
mod contract;
mod crash;
mod departments;
mod devkit;
mod egress;
mod event_delivery;
mod events;
mod hostile;
mod keys;
mod languages;
mod plugin_config;
mod plugins;
mod privacy_report;
mod provider;
mod python_plugin;
mod receipts;
mod records;
mod retention;
mod runs;
mod self_service;
mod server;
mod stats;
mod support;
mod tls;
mod upgrades;
mod usage;
mod waits;
mod withdrawal_load;
