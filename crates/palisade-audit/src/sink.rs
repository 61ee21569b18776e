//! The traits other crates depend on to record events.

use crate::{Event, Receipt, Result};

/// Anything that records audit events, blocking until each is durable: the
/// one trait other crates depend on ([`AuditLog`](crate::AuditLog)
/// implements it over any store).
pub trait AuditSink: Send + Sync {
    /// Records `event` and returns its receipt once it is durable.
    fn record(&self, event: Event) -> Result<Receipt>;
}
