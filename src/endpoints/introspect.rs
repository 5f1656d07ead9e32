//! `POST /introspect` (RFC 7662): the client authenticated in the extractor, the answer decided in
//! `oauth::introspect`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::extract::ClientAuth;
use crate::oauth::introspect::introspect as answer;
use crate::state::AppState;

/// `POST /introspect`.
pub async fn introspect(State(state): State<AppState>, form: ClientAuth) -> Response {
    let result = match form.token() {
        Ok(token) => answer(&form.context(&state), &form.client, token).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(body) => Json(body).into_response(),
        Err(err) => err.into_response(),
    }
}
