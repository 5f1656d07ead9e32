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

/// The event as one JSON log line. Events a store operation wrote in its own transaction
/// (`InTransaction`) are logged by its caller with this once the operation has returned.
pub fn log(event: &AuditEvent) {
    match serde_json::to_string(event) {
        Ok(json) => tracing::info!(target: LOG_TARGET, event = %json, "audit"),
        Err(err) => {
            tracing::error!(target: LOG_TARGET, error = %err, "cannot encode an audit event")
        }
    }
}

/// Audit events recorded off the request path, in batches: token issuance with
/// `--audit-token-issuance`. A request hands its event over without waiting; a writer task stores
/// what has gathered, up to [`BATCH`] events per transaction. When [`QUEUE`] events are already
/// waiting (the store is down, or slower than issuance), a new event is dropped and counted
/// (`latchkey_audit_events_dropped_total`) rather than slowing the token endpoint.
#[derive(Debug, Clone)]
pub struct BatchedLog {
    queue: tokio::sync::mpsc::Sender<Message>,
    dropped: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

/// Events waiting to be written, at most.
pub const QUEUE: usize = 10_000;
/// Events written per transaction, at most.
pub const BATCH: usize = 500;

#[derive(Debug)]
enum Message {
    Event(Box<AuditEvent>),
    /// Answered once everything queued before it is written.
    Flush(tokio::sync::oneshot::Sender<()>),
}

impl BatchedLog {
    /// Start the writer task on `store`.
    pub fn start(store: std::sync::Arc<dyn Store>) -> Self {
        let (queue, mut incoming) = tokio::sync::mpsc::channel::<Message>(QUEUE);
        tokio::spawn(async move {
            let mut messages = Vec::with_capacity(BATCH);
            while incoming.recv_many(&mut messages, BATCH).await > 0 {
                let mut events = Vec::with_capacity(messages.len());
                let mut flushed = Vec::new();
                for message in messages.drain(..) {
                    match message {
                        Message::Event(event) => {
                            log(&event);
                            events.push(*event);
                        }
                        Message::Flush(done) => flushed.push(done),
                    }
                }
                if !events.is_empty()
                    && let Err(err) = store.record_audit_events(&events).await
                {
                    tracing::error!(target: LOG_TARGET, error = %err, events = events.len(), "could not store a batch of audit events");
                }
                for done in flushed {
                    let _ = done.send(());
                }
            }
        });
        Self {
            queue,
            dropped: std::sync::Arc::default(),
        }
    }

    /// Hand `event` to the writer; never waits.
    pub fn record(&self, event: AuditEvent) {
        if self
            .queue
            .try_send(Message::Event(Box::new(event)))
            .is_err()
        {
            self.dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    /// Events dropped because the queue was full, since start.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Wait until every event handed over so far is written (at shutdown, and in tests).
    pub async fn flush(&self) {
        let (done, written) = tokio::sync::oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = written.await;
        }
    }
}
