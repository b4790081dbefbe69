//! The tamper-evident audit log: records ([`record`]), hash chaining and
//! signed checkpoints ([`chain`]), the group-commit writer ([`writer`]) and
//! verification ([`verify`]).

pub mod chain;
pub mod record;
pub mod verify;
pub mod writer;

pub use record::{AuditEvent, AuditRecord, Outcome};
pub use writer::{AuditWriter, AuditWriterConfig};
