//! `GET /healthz` (the process is up) and `GET /readyz` (the store answers and every algorithm has an
//! active signing key).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::domain::alg::SigningAlg;
use crate::state::AppState;

/// Liveness: answers as long as the process serves HTTP.
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: 200 when the store answers and a signing key is loaded, 503 otherwise.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if let Err(err) = state.store.ping().await {
        tracing::warn!(error = %err, "readiness check: store unreachable");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "reason": "store unreachable" })),
        );
    }
    if SigningAlg::ALL
        .iter()
        .any(|alg| state.keys.signing_key(*alg).is_none())
    {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "reason": "no signing key" })),
        );
    }
    (StatusCode::OK, Json(json!({ "status": "ready" })))
}
