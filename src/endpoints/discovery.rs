//! `GET /.well-known/openid-configuration` (OIDC Discovery 1.0 §4) and
//! `GET /.well-known/oauth-authorization-server` (RFC 8414 §3): one document, two paths.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::OAuthError;
use crate::oauth::metadata::document;
use crate::state::AppState;

/// Serve the metadata, cacheable for a few minutes and readable cross-origin by browser apps. The
/// document is built from the settings and the (cached) catalog of scopes.
pub async fn metadata(State(state): State<AppState>) -> Response {
    let catalog = match state
        .catalog
        .get(state.store.as_ref(), state.clock.now())
        .await
    {
        Ok(catalog) => catalog,
        Err(err) => return OAuthError::from(err).into_response(),
    };
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
        document(&state.settings, &catalog),
    )
        .into_response()
}
