//! `GET /jwks`: the JWK Set (RFC 7517 §5) of every published public key.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// The public keys (next, active, and retired-but-unexpired), with `kid`, `alg` and `use: sig`.
/// Cacheable for at most the time a next key is published before it signs, less the key refresh
/// interval (`KeyPolicy::jwks_max_age`): a verifier's cached copy always holds the signing key.
pub async fn jwks(State(state): State<AppState>) -> Response {
    let max_age = state.settings.key_policy().jwks_max_age();
    let cache_control = HeaderValue::from_str(&format!("public, max-age={max_age}"))
        .unwrap_or(HeaderValue::from_static("no-cache"));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/jwk-set+json"),
            ),
            (header::CACHE_CONTROL, cache_control),
            (
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ),
        ],
        state.keys.jwks().to_string(),
    )
        .into_response()
}
