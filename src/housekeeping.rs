//! Housekeeping: delete expired codes, refresh tokens, revocation records, grants, sessions and
//! retired signing keys so tables do not grow without bound. Runs in the background of `serve` and as `latchkey gc`.

use std::sync::Arc;

use crate::clock::{Clock, UnixTime};
use crate::config::Settings;
use crate::domain::grant::Housekeeping;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};

/// How long a spent refresh token is kept so that presenting it again is recognised as reuse
/// (and revokes its grant) rather than as an unknown token.
pub const SPENT_REFRESH_TOKEN_RETENTION: i64 = 7 * 24 * 60 * 60;

/// One pass at `now`: expired records, the signing keys retired longer ago than every token they
/// signed can live (`keys::retention`), and audit events older than `--audit-retention`.
pub async fn run_once(
    store: &dyn Store,
    now: UnixTime,
    settings: &Settings,
) -> Result<Housekeeping, StoreError> {
    let mut done = store
        .housekeep(now, now - SPENT_REFRESH_TOKEN_RETENTION)
        .await?;
    let retention = crate::keys::retention(store, &settings.key_policy()).await?;
    done.signing_keys = store
        .delete_retired_signing_keys(now.saturating_sub(retention))
        .await?;
    done.audit_events = store
        .delete_audit_events_before(now.saturating_sub(settings.audit_retention))
        .await?;
    Ok(done)
}

/// Run a pass every `interval` (the first one `interval` after start), counting what it deleted in
/// `metrics`. Several instances may run it at once: every statement is an idempotent DELETE.
pub fn spawn(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    settings: Arc<Settings>,
) -> tokio::task::JoinHandle<()> {
    let interval = settings.gc_interval;
    crate::periodic::spawn_every(interval, move || {
        let (store, clock, metrics, settings) = (
            Arc::clone(&store),
            Arc::clone(&clock),
            Arc::clone(&metrics),
            Arc::clone(&settings),
        );
        async move {
            match run_once(store.as_ref(), clock.now(), &settings).await {
                Ok(done) => {
                    metrics.housekeeping(&done);
                    tracing::debug!(?done, "housekeeping pass");
                }
                Err(err) => tracing::warn!(error = %err, "housekeeping failed; will retry"),
            }
        }
    })
}
