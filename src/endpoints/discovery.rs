//! `GET /.well-known/openid-configuration` (OIDC Discovery 1.0 §4) and
//! `GET /.well-known/oauth-authorization-server` (RFC 8414 §3): one document, two paths.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::error::OAuthError;
use crate::state::AppState;

/// Serve the metadata, cacheable for a few minutes and readable cross-origin by browser apps. The
/// document is built from the settings and the (cached) catalog of scopes, once per catalog.
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
        axum::body::Bytes::from_owner(ArcText(state.metadata.document(&state.settings, catalog))),
    )
        .into_response()
}

/// A shared document as a response body, without copying it.
struct ArcText(std::sync::Arc<str>);

impl AsRef<[u8]> for ArcText {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}
