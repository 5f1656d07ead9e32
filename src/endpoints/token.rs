//! `POST /token` (RFC 6749 §3.2): the client authenticated and the request parsed by `grant_type` in
//! the extractor, the grant decided in `oauth::token`. Every answer carries `Cache-Control: no-store`
//! (the API routes' layer).

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::extract::TokenForm;
use crate::oauth::token::{TokenResponse, exchange};
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
    match exchange(&ctx, &form.client, form.request).await {
        Ok(tokens) => tokens.into_response(),
        Err(err) => err.into_response(),
    }
}
