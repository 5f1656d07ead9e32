//! `POST /token` (RFC 6749 §3.2): the client authenticated and the request parsed by `grant_type` in
//! the extractor, the grant decided in `oauth::token`. Every answer carries `Cache-Control: no-store`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::extract::TokenForm;
use crate::oauth::token::{TokenResponse, exchange};
use crate::state::AppState;

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        let mut response = Json(self).into_response();
        let headers = response.headers_mut();
        // RFC 6749 §5.1: MUST include Cache-Control: no-store (and Pragma: no-cache).
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        response
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
