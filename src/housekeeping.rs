//! Housekeeping: delete expired codes, refresh tokens, revocation records, grants, sessions and
//! retired signing keys so tables do not grow without bound. Runs in the background of `serve` and as `latchkey gc`.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, UnixTime};
use crate::config::KeyPolicy;
use crate::domain::grant::Housekeeping;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError};

/// How long a spent refresh token is kept so that presenting it again is recognised as reuse
/// (and revokes its grant) rather than as an unknown token.
pub const SPENT_REFRESH_TOKEN_RETENTION: i64 = 7 * 24 * 60 * 60;

/// One pass at `now`: expired records, and the signing keys retired longer ago than every token
/// they signed can live (`keys::retention`, under `policy`).
pub async fn run_once(
    store: &dyn Store,
    now: UnixTime,
    policy: &KeyPolicy,
) -> Result<Housekeeping, StoreError> {
    let mut done = store
        .housekeep(now, now - SPENT_REFRESH_TOKEN_RETENTION)
        .await?;
    let retention = crate::keys::retention(store, policy).await?;
    done.signing_keys = store
        .delete_retired_signing_keys(now.saturating_sub(retention))
        .await?;
    Ok(done)
}

/// Run a pass every `interval` (the first one `interval` after start), counting what it deleted in
/// `metrics`. Several instances may run it at once: every statement is an idempotent DELETE.
pub fn spawn(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    policy: KeyPolicy,
    interval: Duration,
) -> tokio::task::JoinHandle<()> {
    crate::periodic::spawn_every(interval, move || {
        let (store, clock, metrics) =
            (Arc::clone(&store), Arc::clone(&clock), Arc::clone(&metrics));
        async move {
            match run_once(store.as_ref(), clock.now(), &policy).await {
                Ok(done) => {
                    metrics.housekeeping(&done);
                    tracing::debug!(?done, "housekeeping pass");
                }
                Err(err) => tracing::warn!(error = %err, "housekeeping failed; will retry"),
            }
        }
    })
}
