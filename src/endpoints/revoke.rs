//! `POST /revoke` (RFC 7009): the client authenticated in the extractor, the revocation done in
//! `oauth::revoke`. Unknown or malformed tokens get 200 (§2.2).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::extract::ClientAuth;
use crate::oauth::revoke::revoke as revoke_token;
use crate::state::AppState;

/// `POST /revoke`.
pub async fn revoke(State(state): State<AppState>, form: ClientAuth) -> Response {
    let result = match form.token() {
        Ok(token) => revoke_token(&form.context(&state), &form.client, token).await,
        Err(err) => Err(err),
    };
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(err) => err.into_response(),
    }
}
