//! `GET/POST /userinfo` (OIDC Core §5.3): the token taken by the `PresentedToken` extractor (RFC 6750
//! §2, or RFC 9449 §7.1 with a DPoP proof), the claims decided in `oauth::userinfo`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::extract::{PresentedToken, with_dpop_nonce};
use crate::oauth::userinfo::{Presented, userinfo as claims_of};
use crate::state::AppState;

/// `GET /userinfo`, and `POST /userinfo` (the token may also come as the `access_token` form
/// parameter, RFC 6750 §2.2).
pub async fn userinfo(
    State(state): State<AppState>,
    token: Result<PresentedToken, crate::error::OAuthError>,
) -> Response {
    let token = match token {
        Ok(token) => token,
        Err(err) => return err.into_response(),
    };
    let ctx = state.context(state.clock.now());
    let dpop: Vec<&str> = token.dpop.iter().map(String::as_str).collect();
    let presented = Presented {
        token: &token.token,
        dpop_scheme: token.dpop_scheme,
        dpop: &dpop,
        method: &token.method,
        certificate: token.certificate.as_deref(),
    };
    let response = match claims_of(&ctx, presented).await {
        Ok(info) => Json(info).into_response(),
        Err(err) => err.into_response(),
    };
    if token.dpop_scheme {
        with_dpop_nonce(&ctx, response)
    } else {
        response
    }
}
