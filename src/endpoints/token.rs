//! `POST /token` (RFC 6749 §3.2): the client authenticated and the request parsed by `grant_type` in
//! the extractor, the DPoP proof checked (RFC 9449 §4.3), the grant decided in `oauth::token`.
//! Every answer carries `Cache-Control: no-store` (the API routes' layer).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::extract::{TokenForm, with_dpop_nonce};
use crate::oauth::dpop::check_post;
use crate::oauth::token::{Binding, TokenResponse, exchange};
use crate::paths::TOKEN_PATH;
use crate::state::AppState;

/// RFC 6749 §5.1 (its `Cache-Control: no-store` is the API routes' layer, in `app.rs`).
impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        Json(self).into_response()
    }
}

/// `POST /token`.
pub async fn token(State(state): State<AppState>, form: TokenForm) -> Response {
    let ctx = state.context(form.now);
    let answer = match check_post(&ctx, &form.dpop, TOKEN_PATH).await {
        Ok(dpop) => {
            let binding = Binding {
                dpop,
                certificate: form.certificate,
            };
            exchange(&ctx, &form.client, form.request, &binding)
                .await
                .map(IntoResponse::into_response)
        }
        Err(err) => Err(err),
    };
    with_dpop_nonce(&ctx, answer.unwrap_or_else(IntoResponse::into_response))
}
