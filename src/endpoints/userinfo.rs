//! `GET/POST /userinfo` (OIDC Core §5.3): the signed-in user's claims, by the token's scopes.

use std::collections::HashMap;

use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::extract::bearer_token;
use crate::domain::claims::StandardClaims;
use crate::domain::scope::ScopeSet;
use crate::error::{ErrorCode, OAuthError};
use crate::state::AppState;
use crate::tokens::{TokenRejected, verify_access_token};

#[derive(Serialize)]
struct UserInfo {
    sub: String,
    #[serde(flatten)]
    claims: StandardClaims,
}

/// `GET /userinfo`.
pub async fn userinfo_get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    respond(lookup(&state, &headers, None).await)
}

/// `POST /userinfo` (the token may also come as the `access_token` form parameter, RFC 6750 §2.2).
pub async fn userinfo_post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let form: Option<HashMap<String, String>> =
        body.ok().map(|Form(pairs)| pairs.into_iter().collect());
    respond(lookup(&state, &headers, form.as_ref()).await)
}

fn respond(result: Result<UserInfo, OAuthError>) -> Response {
    match result {
        Ok(info) => Json(info).into_response(),
        Err(err) => err.into_response(),
    }
}

async fn lookup(
    state: &AppState,
    headers: &HeaderMap,
    form: Option<&HashMap<String, String>>,
) -> Result<UserInfo, OAuthError> {
    let token = bearer_token(headers, form)?;
    let now = state.clock.now();
    let claims =
        verify_access_token(&state.keys, &state.settings, &token, now).map_err(
            |why| match why {
                TokenRejected::Expired => OAuthError::invalid_token("the access token has expired"),
                TokenRejected::Invalid => OAuthError::invalid_token("the access token is invalid"),
            },
        )?;
    if state.store.is_revoked(&claims.jti, &claims.gid).await? {
        return Err(OAuthError::invalid_token(
            "the access token has been revoked",
        ));
    }
    let scope = ScopeSet::parse(&claims.scope).unwrap_or_default();
    // OIDC Core §5.3: the UserInfo endpoint serves tokens granted with `openid`.
    if !scope.contains("openid") {
        return Err(OAuthError::new(
            ErrorCode::InsufficientScope,
            "the access token lacks the openid scope",
        )
        .bearer());
    }
    let user = state
        .store
        .find_user(&claims.sub)
        .await?
        .filter(|user| !user.disabled)
        .ok_or_else(|| OAuthError::invalid_token("the user is no longer active"))?;
    Ok(UserInfo {
        sub: user.user_id.to_string(),
        claims: StandardClaims::for_scopes(&user, &scope),
    })
}
