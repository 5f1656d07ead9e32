//! `GET/POST /userinfo` (OIDC Core §5.3): the token taken by the `BearerToken` extractor (RFC 6750 §2),
//! the claims decided in `oauth::userinfo`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::extract::BearerToken;
use crate::oauth::userinfo::userinfo as claims_of;
use crate::state::AppState;

/// `GET /userinfo`, and `POST /userinfo` (the token may also come as the `access_token` form
/// parameter, RFC 6750 §2.2).
pub async fn userinfo(
    State(state): State<AppState>,
    token: Result<BearerToken, crate::error::OAuthError>,
) -> Response {
    let BearerToken(token) = match token {
        Ok(token) => token,
        Err(err) => return err.into_response(),
    };
    match claims_of(&state.context(state.clock.now()), &token).await {
        Ok(info) => Json(info).into_response(),
        Err(err) => err.into_response(),
    }
}
