//! The admin API's users: `/admin/v1/users…`. A new password is hashed on the server's bounded
//! argon2 pool, never on the async runtime; a full pool is `503` with `Retry-After`.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Admin, body, change, refusal};
use crate::admin::user::{
    self as admin_user, MfaReset, NewUser, SecondFactors, SignOutKind, UserView,
    revocations_kept_until,
};
use crate::admin::{AdminError, find_user};
use crate::audit;
use crate::domain::audit::{AuditEvent, InTransaction};
use crate::domain::grant::SignOut;
use crate::domain::password::hash_new_password;
use crate::domain::user::User;
use crate::error::OAuthError;
use crate::paths::{
    ADMIN_USER_DISABLE_PATH, ADMIN_USER_ENABLE_PATH, ADMIN_USER_MFA_RESET_PATH,
    ADMIN_USER_PASSWORD_PATH, ADMIN_USER_PATH, ADMIN_USER_REVOKE_SESSIONS_PATH, ADMIN_USERS_PATH,
};
use crate::state::AppState;

/// A user to register: `user create`'s options, and the password (never logged or recorded).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UserRegistration)]
pub struct UserInput {
    /// What they sign in as: free, case-insensitive.
    username: String,
    /// Their e-mail address (taken as verified).
    #[serde(default)]
    email: Option<String>,
    /// Their display name.
    #[serde(default)]
    name: Option<String>,
    /// Their password: strong enough (OWASP ASVS 2.1), and not like their username, e-mail address
    /// or name.
    #[schema(format = Password)]
    password: String,
}

/// A new password.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = NewPassword)]
pub struct PasswordInput {
    /// Strong enough (OWASP ASVS 2.1), and not like the user's username, e-mail address or name.
    #[schema(format = Password)]
    password: String,
}

/// The user a path names.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UserPath {
    /// Their username (case-insensitive).
    username: String,
}

/// What signing a user out everywhere ended.
#[derive(Serialize, ToSchema)]
pub struct SignedOut<'a> {
    /// The user's username.
    username: &'a str,
    /// Browser sessions deleted.
    sessions: u64,
    /// Grants revoked: their refresh tokens are refused and their access tokens inactive (RFC 7009
    /// §2.1).
    grants: u64,
    /// Authorization codes deleted before they were redeemed.
    authorization_codes: u64,
}

/// A user allowed to sign in again.
#[derive(Serialize, ToSchema)]
#[schema(as = UserEnabled)]
pub struct Enabled<'a> {
    /// The user's username.
    username: &'a str,
    /// `false`: the user may sign in.
    disabled: bool,
}

/// Why a password could not be set: its strength (`400`), or a full argon2 pool (`503`).
enum Hashing {
    Refused(String),
    Busy,
}

impl IntoResponse for Hashing {
    fn into_response(self) -> Response {
        match self {
            Self::Refused(why) => refusal(StatusCode::BAD_REQUEST, "invalid_request", &why),
            Self::Busy => {
                let mut response = refusal(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "every password checker is busy; try again",
                );
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
                response
            }
        }
    }
}

/// Check and hash `password` on the argon2 pool (OWASP ASVS 2.1: not like the user's own details).
async fn hash(state: &AppState, password: String, inputs: Vec<String>) -> Result<String, Hashing> {
    let password = SecretString::from(password);
    state
        .passwords
        .run(move || {
            let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
            hash_new_password(&password, &inputs)
        })
        .await
        .map_err(|_| Hashing::Busy)?
        .map_err(|why| Hashing::Refused(why.to_string()))
}

/// An admin client's change to `user`.
fn user_change(state: &AppState, admin: &Admin, user: &User, action: &str) -> AuditEvent {
    change(state, &admin.0, "user", action, &user.username).user(user.user_id.to_string())
}

/// What signing `user` out everywhere ended.
fn signed_out<'a>(user: &'a User, done: &SignOut) -> SignedOut<'a> {
    SignedOut {
        username: &user.username,
        sessions: done.sessions,
        grants: done.grants,
        authorization_codes: done.authorization_codes,
    }
}

/// How long grant revocations are kept: until every token they cover has expired.
fn keep_until(state: &AppState, now: i64) -> i64 {
    revocations_kept_until(now, state.settings.lifetimes.revocation_retention())
}

/// The user named `username`, or the admin API's refusal (`404` if there is none).
async fn named(state: &AppState, username: &str) -> Result<User, Response> {
    find_user(state.store.as_ref(), username)
        .await
        .map_err(IntoResponse::into_response)
}

/// `404`: `user` was deleted meanwhile.
fn missing(user: &User) -> Response {
    AdminError::NotFound(format!("no user named '{}'", user.username)).into_response()
}

/// List the users.
///
/// Never a password hash.
#[utoipa::path(
    get,
    path = ADMIN_USERS_PATH,
    tag = "users",
    responses((status = 200, description = "Every user.", body = [UserView])),
)]
pub async fn list_users(State(state): State<AppState>, _admin: Admin) -> Response {
    match state.store.list_users().await {
        Ok(users) => Json(users.iter().map(UserView::from).collect::<Vec<_>>()).into_response(),
        Err(err) => OAuthError::from(err).into_response(),
    }
}

/// A user with their roles and groups, as `user show --json` prints them.
#[derive(Serialize, ToSchema)]
#[schema(as = UserWithRoles)]
pub struct UserDetail<'a> {
    #[serde(flatten)]
    user: UserView<'a>,
    /// Their effective roles: their own and their groups', as their tokens carry them
    /// (RFC 9068 §2.2.3.1).
    roles: Vec<&'a str>,
    /// The roles they hold themselves, not through a group.
    direct_roles: Vec<&'a str>,
    /// Their groups.
    groups: Vec<&'a str>,
    /// Their second factors.
    second_factors: SecondFactors,
}

/// The names of `roles`.
fn role_names(roles: &[crate::domain::role::RoleName]) -> Vec<&str> {
    roles.iter().map(|r| r.as_str()).collect()
}

/// Show a user.
///
/// With their roles and groups, as `user show`.
#[utoipa::path(
    get,
    path = ADMIN_USER_PATH,
    tag = "users",
    params(UserPath),
    responses((status = 200, description = "The user, with their roles and groups.", body = UserDetail)),
)]
pub async fn show_user(
    State(state): State<AppState>,
    _admin: Admin,
    Path(UserPath { username }): Path<UserPath>,
) -> Result<Response, Response> {
    let user = named(&state, &username).await?;
    let authorization = state
        .store
        .find_authorization(&user.user_id)
        .await
        .map_err(|err| AdminError::from(err).into_response())?;
    let second_factors = admin_user::second_factors(state.store.as_ref(), &user.user_id)
        .await
        .map_err(|err| AdminError::from(err).into_response())?;
    Ok(Json(UserDetail {
        user: UserView::from(&user),
        roles: role_names(&authorization.roles),
        direct_roles: role_names(&authorization.direct_roles),
        groups: authorization.groups.iter().map(|g| g.as_str()).collect(),
        second_factors,
    })
    .into_response())
}

/// Remove a user's second factors.
///
/// As `user mfa reset`: their authenticator app, an enrolment in progress and their recovery codes
/// go, so a user who lost them enrols again at their next sign-in that needs two factors. Their
/// sessions stay (`revoke-sessions` ends them).
#[utoipa::path(
    post,
    path = ADMIN_USER_MFA_RESET_PATH,
    tag = "users",
    params(UserPath),
    responses((status = 200, description = "Whether there was a factor to remove.", body = MfaReset)),
)]
pub async fn reset_user_mfa(
    State(state): State<AppState>,
    admin: Admin,
    Path(UserPath { username }): Path<UserPath>,
) -> Result<Response, Response> {
    let user = named(&state, &username).await?;
    // The removal and its audit event commit together.
    let event = user_change(&state, &admin, &user, "mfa_reset");
    let removed = state
        .store
        .reset_second_factors(&user.user_id, InTransaction::done(&event))
        .await
        .map_err(|err| AdminError::from(err).into_response())?;
    if removed {
        audit::log(&event);
    }
    Ok(Json(MfaReset {
        username: user.username.clone(),
        removed,
    })
    .into_response())
}

/// Register a user.
///
/// With `user create`'s rules and messages. The password is hashed on the server's argon2 pool
/// (`503 temporarily_unavailable` with `Retry-After` when it is full), never logged or recorded.
#[utoipa::path(
    post,
    path = ADMIN_USERS_PATH,
    tag = "users",
    request_body = UserInput,
    responses((status = 201, description = "The new user.", body = UserView)),
)]
pub async fn create_user(
    State(state): State<AppState>,
    admin: Admin,
    input: Result<Json<UserInput>, JsonRejection>,
) -> Response {
    let input = match body(input) {
        Ok(input) => input,
        Err(refused) => return refused.into_response(),
    };
    let new = NewUser {
        username: input.username,
        email: input.email,
        name: input.name,
    };
    let checked = match admin_user::check(state.store.as_ref(), &new).await {
        Ok(checked) => checked,
        Err(err) => return err.into_response(),
    };
    let password_hash = match hash(&state, input.password, checked.password_inputs()).await {
        Ok(hash) => hash,
        Err(refused) => return refused.into_response(),
    };
    let user = checked.into_user(password_hash, state.clock.now());
    if let Err(err) = state.store.create_user(&user).await {
        return AdminError::from(err).into_response();
    }
    let view = serde_json::to_value(UserView::from(&user)).unwrap_or_default();
    let event = user_change(&state, &admin, &user, "created").with("user", view.clone());
    audit::record_or_log(state.store.as_ref(), event).await;
    (StatusCode::CREATED, Json(view)).into_response()
}

/// Set a user's password, and sign them out everywhere.
///
/// As `user set-password`: the password is hashed on the server's argon2 pool (`503` with
/// `Retry-After` when it is full).
#[utoipa::path(
    put,
    path = ADMIN_USER_PASSWORD_PATH,
    tag = "users",
    params(UserPath),
    request_body = PasswordInput,
    responses((status = 200, description = "The password is set; what ended.", body = SignedOut)),
)]
pub async fn set_user_password(
    State(state): State<AppState>,
    admin: Admin,
    Path(UserPath { username }): Path<UserPath>,
    input: Result<Json<PasswordInput>, JsonRejection>,
) -> Result<Response, Response> {
    let input = body(input).map_err(IntoResponse::into_response)?;
    let user = named(&state, &username).await?;
    let inputs = admin_user::password_inputs_of(&user);
    let password_hash = hash(&state, input.password, inputs)
        .await
        .map_err(IntoResponse::into_response)?;
    let now = state.clock.now();
    // That the password changed, never the password; committed with the change.
    let event = user_change(&state, &admin, &user, "password_set");
    let done = state
        .store
        .set_user_password(
            &user.user_id,
            &password_hash,
            now,
            keep_until(&state, now),
            InTransaction::done(&event),
        )
        .await;
    // Logout tokens for the clients of the sessions that ended (OIDC Back-Channel Logout).
    state.logouts.wake();
    // This instance answers for the revoked grants from the next request on.
    state
        .revocations
        .caught_up_after_write(state.store.as_ref(), now)
        .await;
    Ok(signed_out_answer(&user, &event, done))
}

/// Disable a user: they cannot sign in, and are signed out everywhere.
///
/// As `user disable`.
#[utoipa::path(
    post,
    path = ADMIN_USER_DISABLE_PATH,
    tag = "users",
    params(UserPath),
    responses((status = 200, description = "The user is disabled; what ended.", body = SignedOut)),
)]
pub async fn disable_user(
    State(state): State<AppState>,
    admin: Admin,
    Path(UserPath { username }): Path<UserPath>,
) -> Result<Response, Response> {
    sign_out(&state, &admin, &username, SignOutKind::Disable).await
}

/// Sign a user out everywhere, their password kept.
///
/// As `user revoke-sessions`: their browser sessions end, their grants are revoked and their
/// unredeemed authorization codes voided, in one transaction.
#[utoipa::path(
    post,
    path = ADMIN_USER_REVOKE_SESSIONS_PATH,
    tag = "users",
    params(UserPath),
    responses((status = 200, description = "What ended.", body = SignedOut)),
)]
pub async fn revoke_user_sessions(
    State(state): State<AppState>,
    admin: Admin,
    Path(UserPath { username }): Path<UserPath>,
) -> Result<Response, Response> {
    sign_out(&state, &admin, &username, SignOutKind::RevokeSessions).await
}

/// Sign `username` out everywhere (`kind`), with its event in the same transaction.
async fn sign_out(
    state: &AppState,
    admin: &Admin,
    username: &str,
    kind: SignOutKind,
) -> Result<Response, Response> {
    let user = named(state, username).await?;
    let event = user_change(state, admin, &user, kind.action());
    let now = state.clock.now();
    let done = admin_user::sign_out(
        state.store.as_ref(),
        &user.user_id,
        kind,
        now,
        state.settings.lifetimes.revocation_retention(),
        InTransaction::done(&event),
    )
    .await;
    state.logouts.wake();
    state
        .revocations
        .caught_up_after_write(state.store.as_ref(), now)
        .await;
    Ok(signed_out_answer(&user, &event, done))
}

/// The answer of a change that signed `user` out everywhere (its event committed with it).
fn signed_out_answer(
    user: &User,
    event: &AuditEvent,
    done: Result<Option<SignOut>, crate::store::StoreError>,
) -> Response {
    match done {
        Ok(Some(done)) => {
            audit::log(event);
            Json(signed_out(user, &done)).into_response()
        }
        Ok(None) => missing(user),
        Err(err) => AdminError::from(err).into_response(),
    }
}

/// Enable a user: a disabled user may sign in again.
///
/// As `user enable`.
#[utoipa::path(
    post,
    path = ADMIN_USER_ENABLE_PATH,
    tag = "users",
    params(UserPath),
    responses((status = 200, description = "The user is enabled.", body = Enabled)),
)]
pub async fn enable_user(
    State(state): State<AppState>,
    admin: Admin,
    Path(UserPath { username }): Path<UserPath>,
) -> Result<Response, Response> {
    let user = named(&state, &username).await?;
    let done = state
        .store
        .enable_user(&user.user_id, state.clock.now())
        .await;
    Ok(answer_if_done(&state, &admin, &user, "enabled", done, || {
        Json(Enabled {
            username: &user.username,
            disabled: false,
        })
        .into_response()
    })
    .await)
}

/// Record an admin client's change to `user` and give `answer` once the store says it was made
/// (`done`: whether the user was there); `404` or the store's error otherwise.
async fn answer_if_done(
    state: &AppState,
    admin: &Admin,
    user: &User,
    action: &str,
    done: Result<bool, crate::store::StoreError>,
    answer: impl FnOnce() -> Response,
) -> Response {
    match done {
        Ok(true) => {
            let event = user_change(state, admin, user, action);
            audit::record_or_log(state.store.as_ref(), event).await;
            answer()
        }
        Ok(false) => missing(user),
        Err(err) => AdminError::from(err).into_response(),
    }
}

/// Delete a user, and everything issued to them.
#[utoipa::path(
    delete,
    path = ADMIN_USER_PATH,
    tag = "users",
    params(UserPath),
    responses((status = 204, description = "The user is deleted.")),
)]
pub async fn delete_user(
    State(state): State<AppState>,
    admin: Admin,
    Path(UserPath { username }): Path<UserPath>,
) -> Result<Response, Response> {
    let user = named(&state, &username).await?;
    let done = state
        .store
        .delete_user(&user.user_id, state.clock.now())
        .await;
    state.logouts.wake();
    Ok(answer_if_done(&state, &admin, &user, "deleted", done, || {
        StatusCode::NO_CONTENT.into_response()
    })
    .await)
}
