//! The host's nouns: plain data that every layer may use, with their
//! validation and names. Nothing here performs I/O or imports any module of
//! ours but [`crate::scope`] (the module-dependency check in `cargo xtask
//! deps` holds it to that).
//!
//! - [`actions`]: what an audit record says was attempted
//! - [`audit`]: audit events, actions, outcomes, chained records, checkpoints
//! - [`consent`]: consents and the policy the gate judges them against
//! - [`departments`]: a tenant's department tree and a plugin's visible range over it
//! - [`directory`]: member profiles and roles
//! - [`events`]: workbench events, their payload schemas, subscriptions and schedules, deliveries
//! - [`egress`]: the destinations a plugin may send requests to, and an outbound request's record
//! - [`installation`]: a plugin installed in a tenant
//! - [`manifest`]: a plugin version's `plugin.toml`
//! - [`notifications`]: what a plugin may put in a member's inbox, and the inbox
//! - [`plugin_config`]: the configuration keys a plugin declares and the values an admin sets
//! - [`receipts`]: the signed receipt a member keeps of each consent and withdrawal
//! - [`registry`]: published plugin versions
//! - [`runs`]: how a plugin version's calls ended and how long they took, and its developer's view
//! - [`schedules`]: a schedule's cron expression in its time zone, and its slots
//! - [`self_service`]: members opening plugins themselves, requests and openings
//! - [`settings`]: a tenant's retention settings
//! - [`stats`]: the audit statistics: what a record counts under, the questions and their answers
//! - [`text`]: a plugin's texts in one or more languages, and the caller's languages
//! - [`upgrades`]: what a newer version of an installed plugin changes, and whether it widens anything

pub mod actions;
pub mod audit;
pub mod consent;
pub mod departments;
pub mod directory;
pub mod egress;
pub mod events;
pub mod installation;
pub mod manifest;
pub mod notifications;
pub mod plugin_config;
pub mod receipts;
pub mod registry;
pub mod runs;
pub mod schedules;
pub mod self_service;
pub mod settings;
pub mod stats;
pub mod text;
pub mod upgrades;
