//! The admin API's initial access tokens of dynamic registration (RFC 7591 §3):
//! `/admin/v1/registration-tokens…`, as `latchkey registration-token`.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Admin, body, change};
use crate::admin::registration_token::{self as admin_token, RegistrationTokenView};
use crate::audit;
use crate::error::OAuthError;
use crate::paths::{ADMIN_REGISTRATION_TOKEN_PATH, ADMIN_REGISTRATION_TOKENS_PATH};
use crate::state::AppState;

/// A handler's answer: the response, or the refusal to send instead.
type Answer = Result<Response, Response>;

/// An initial access token to create: `registration-token create`'s options.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RegistrationTokenRequest)]
pub struct TokenInput {
    /// Seconds it stays usable; absent: until revoked.
    #[serde(default)]
    #[schema(minimum = 1)]
    expires_in: Option<i64>,
    /// How many clients it may register; absent: any number.
    #[serde(default)]
    #[schema(minimum = 1)]
    max_uses: Option<u32>,
}

/// A new initial access token, its value shown this once.
#[derive(Serialize, ToSchema)]
#[schema(as = NewRegistrationToken)]
pub struct NewToken<'a> {
    /// The token as listed.
    #[serde(flatten)]
    token: RegistrationTokenView<'a>,
    /// Its value, the `Authorization: Bearer` of `POST /register` (RFC 7591 §3); shown once.
    registration_token: &'a str,
}

/// The initial access token a path names.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TokenPath {
    /// Its id.
    token_id: String,
}

/// List the initial access tokens.
///
/// Never their values.
#[utoipa::path(
    get,
    path = ADMIN_REGISTRATION_TOKENS_PATH,
    tag = "registration",
    responses((status = 200, description = "Every initial access token.", body = [RegistrationTokenView])),
)]
pub async fn list_registration_tokens(State(state): State<AppState>, _admin: Admin) -> Answer {
    let tokens = state
        .store
        .list_registration_tokens()
        .await
        .map_err(|err| OAuthError::from(err).into_response())?;
    Ok(Json(
        tokens
            .iter()
            .map(RegistrationTokenView::from)
            .collect::<Vec<_>>(),
    )
    .into_response())
}

/// Create an initial access token.
///
/// As `registration-token create`: its value is in this answer only.
#[utoipa::path(
    post,
    path = ADMIN_REGISTRATION_TOKENS_PATH,
    tag = "registration",
    request_body = TokenInput,
    responses((status = 201, description = "The new token, with its value.", body = NewToken)),
)]
pub async fn create_registration_token(
    State(state): State<AppState>,
    admin: Admin,
    input: Result<Json<TokenInput>, JsonRejection>,
) -> Answer {
    let input = body(input).map_err(IntoResponse::into_response)?;
    let created = admin_token::create(
        state.store.as_ref(),
        input.expires_in,
        input.max_uses,
        state.clock.now(),
    )
    .await
    .map_err(IntoResponse::into_response)?;
    let token = &created.token;
    let event = change(
        &state,
        &admin.0,
        "registration_token",
        "created",
        &token.token_id,
    )
    .with("expires_at", token.expires_at)
    .with("max_uses", token.max_uses);
    audit::record_or_log(state.store.as_ref(), event).await;
    let answer = NewToken {
        token: RegistrationTokenView::from(token),
        registration_token: &created.value,
    };
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// Revoke an initial access token.
///
/// It registers nothing more; the clients it registered stay.
#[utoipa::path(
    delete,
    path = ADMIN_REGISTRATION_TOKEN_PATH,
    tag = "registration",
    params(TokenPath),
    responses((status = 204, description = "The token is revoked.")),
)]
pub async fn revoke_registration_token(
    State(state): State<AppState>,
    admin: Admin,
    Path(TokenPath { token_id }): Path<TokenPath>,
) -> Answer {
    admin_token::revoke(state.store.as_ref(), &token_id)
        .await
        .map_err(IntoResponse::into_response)?;
    let event = change(&state, &admin.0, "registration_token", "revoked", &token_id);
    audit::record_or_log(state.store.as_ref(), event).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}
