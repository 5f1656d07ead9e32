//! Recording audit events: each one is a JSON line in the log (target `latchkey::audit`) and a row in
//! `audit_events`. Events never carry a secret, a password or a token value: the callers build them
//! from identifiers only, and the tests scan every stored event for the secrets of their flows.

use crate::domain::audit::AuditEvent;
use crate::store::{Store, StoreError};

/// The tracing target of the audit log lines.
pub const LOG_TARGET: &str = "latchkey::audit";

/// Record `event`: log it, then store it.
pub async fn record(store: &dyn Store, event: AuditEvent) -> Result<(), StoreError> {
    log(&event);
    store
        .record_audit_events(std::slice::from_ref(&event))
        .await
}

/// [`record`] on a request path: the request has already had its effect, so a failure to store the
/// event is logged (with the event, which the log line above already holds) rather than answered.
pub async fn record_or_log(store: &dyn Store, event: AuditEvent) {
    let event_type = event.event_type.as_str();
    if let Err(err) = record(store, event).await {
        tracing::error!(target: LOG_TARGET, error = %err, event_type, "could not store an audit event");
    }
}

/// The event as one JSON log line.
fn log(event: &AuditEvent) {
    match serde_json::to_string(event) {
        Ok(json) => tracing::info!(target: LOG_TARGET, event = %json, "audit"),
        Err(err) => {
            tracing::error!(target: LOG_TARGET, error = %err, "cannot encode an audit event")
        }
    }
}
