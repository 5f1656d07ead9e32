//! `GET /.well-known/openid-configuration` (OIDC Discovery 1.0 §4) and
//! `GET /.well-known/oauth-authorization-server` (RFC 8414 §3): one document, two paths.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

/// Serve the metadata, cacheable for a few minutes and readable cross-origin by browser apps.
pub async fn metadata(State(state): State<AppState>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
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
        state.metadata.to_string(),
    )
        .into_response()
}
