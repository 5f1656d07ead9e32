//! `POST /device_authorization`: the device authorization endpoint (RFC 8628 §3.1). The client
//! authenticates as at `/token` (public clients send their `client_id`); the codes are made in
//! `oauth::device`.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};

use super::extract::ClientAuth;
use crate::oauth::device::authorize;
use crate::state::AppState;

/// `POST /device_authorization`: `200` with the RFC 8628 §3.2 response, or the token endpoint's
/// error format (§3.2: RFC 6749 §5.2). `Cache-Control: no-store` is the API routes' layer.
pub async fn device_authorization(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    form: ClientAuth,
) -> Response {
    let ctx = form.context(&state);
    match authorize(&ctx, &form.client, &form.params, peer.ip()).await {
        Ok(codes) => Json(codes).into_response(),
        Err(err) => err.into_response(),
    }
}
