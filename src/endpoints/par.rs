//! `POST /par`: pushed authorization requests (RFC 9126 §2). The client authenticates as at
//! `/token` (public clients send their `client_id`); the request is checked and kept in
//! `oauth::par`.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::extract::ClientAuth;
use crate::oauth::par::push;
use crate::state::AppState;

/// `POST /par`: `201 Created` with `{"request_uri", "expires_in"}` (RFC 9126 §2.2), or the token
/// endpoint's error format (§2.3).
pub async fn par(State(state): State<AppState>, form: ClientAuth) -> Response {
    let ctx = form.context(&state);
    match push(&ctx, &form.client, form.params).await {
        Ok(pushed) => (
            StatusCode::CREATED,
            [(header::CACHE_CONTROL, "no-store")],
            Json(pushed),
        )
            .into_response(),
        Err(err) => err.into_response(),
    }
}
