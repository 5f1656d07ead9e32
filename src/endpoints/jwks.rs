//! `GET /jwks`: the JWK Set (RFC 7517 §5) of every published public key.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// The public keys (next, active, and retired-but-unexpired), with `kid`, `alg` and `use: sig`.
pub async fn jwks(State(state): State<AppState>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/jwk-set+json"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
            (
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ),
        ],
        state.keys.jwks().to_string(),
    )
        .into_response()
}
