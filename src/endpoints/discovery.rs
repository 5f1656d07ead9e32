//! `GET /.well-known/openid-configuration` (OIDC Discovery 1.0 §4) and
//! `GET /.well-known/oauth-authorization-server` (RFC 8414 §3): one document, two paths.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::app::{AppState, JWKS_PATH};
use crate::config::Settings;
use crate::keys::SigningAlg;

/// The provider metadata (OIDC Discovery §3, RFC 8414 §2): only what this server really does.
pub fn document(settings: &Settings) -> String {
    let issuer = &settings.issuer;
    let metadata: Value = json!({
        "issuer": issuer.as_str(),
        "jwks_uri": issuer.endpoint(JWKS_PATH),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [SigningAlg::RS256.as_str()],
    });
    metadata.to_string()
}

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
