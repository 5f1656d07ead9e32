//! `POST /token` (RFC 6749 §3.2): the client authenticated and the request parsed by `grant_type` in
//! the extractor, the DPoP proof checked (RFC 9449 §4.3), the grant decided in `oauth::token`.
//! Every answer carries `Cache-Control: no-store` (the API routes' layer).

use axum::Json;
use axum::extract::State;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};

use super::extract::TokenForm;
use crate::oauth::dpop::{self, Expected};
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
    let url = state.settings.issuer.endpoint(TOKEN_PATH);
    let headers: Vec<&str> = form.dpop.iter().map(String::as_str).collect();
    let expected = Expected {
        method: "POST",
        url: &url,
        access_token: None,
    };
    let answer = match dpop::check(&ctx, &headers, expected).await {
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
    let response = answer.unwrap_or_else(IntoResponse::into_response);
    with_dpop_nonce(&ctx, response)
}

/// RFC 9449 §8: with `--dpop-nonce`, every answer gives the client the nonce for its next proof.
pub fn with_dpop_nonce(ctx: &crate::oauth::Context<'_>, mut response: Response) -> Response {
    if let Some(nonce) = dpop::current_nonce(ctx)
        && let Ok(value) = HeaderValue::from_str(&nonce)
    {
        response.headers_mut().insert("dpop-nonce", value);
    }
    response
}
