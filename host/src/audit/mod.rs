//! The tamper-evident audit log: hash chaining and signed checkpoints
//! ([`chain`]), the group-commit writer ([`writer`]) and verification
//! ([`verify`]). What a record says is in [`crate::model::audit`].

pub mod chain;
pub mod keyring;
pub mod verify;
pub mod writer;

pub use writer::{AuditError, AuditWriter, AuditWriterConfig, QueuePlace, Receipt};
