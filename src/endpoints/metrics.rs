//! `GET /metrics`: the Prometheus text exposition (format 0.0.4).

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::metrics::{CONTENT_TYPE, Snapshot};
use crate::state::AppState;

/// The counters as they stand, and the gauges read now: the argon2 queue, the store's pool, the
/// store's error totals, the age of each active signing key, and the revocation cache's size and
/// age.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let now = state.clock.now();
    let snapshot = Snapshot {
        argon2_queue_depth: state.passwords.queue_depth(),
        store_pool: state.store.pool_status(),
        store_errors: crate::store::error_totals(),
        key_ages: state
            .keys
            .activated_at()
            .into_iter()
            .map(|(alg, at)| (alg, now.saturating_sub(at)))
            .collect(),
        audit_dropped: state
            .issuance_log
            .as_ref()
            .map_or(0, crate::audit::BatchedLog::dropped),
        revocation_cache_entries: state.revocations.len(),
        revocation_cache_age: state.revocations.age().map(|age| age.as_secs_f64()),
        revocation_cache_fallbacks: state.revocations.fallbacks(),
    };
    (
        [
            (header::CONTENT_TYPE, CONTENT_TYPE),
            (header::CACHE_CONTROL, "no-store"),
        ],
        state.metrics.render(&snapshot),
    )
}
