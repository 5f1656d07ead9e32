//! `GET/POST /login`: the sign-in page. Plain HTML form, CSRF token, argon2id off the async runtime,
//! the same answer (and cost) for an unknown user as for a wrong password, and every attempt reserved
//! in the store's throttle (`oauth::throttle`) before the password is checked.

use std::net::{IpAddr, SocketAddr};

use askama::Template;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;

use super::authorize::{client_of, respond};
use super::page::PageError;
use super::page::{MessagePage, render};
use super::session::{BrowserSession, SignedIn};

use crate::audit;
use crate::domain::audit::{AuditEvent, EventType};
use crate::domain::authn::{Acr, Authentication};
use crate::domain::secret::random_string;
use crate::domain::user::{User, normalize_username};
use crate::metrics::SignInOutcome;
use crate::oauth::authorize::{PendingAuthorization, SignIn, resume};
use crate::oauth::passkey::RelyingParty;
use crate::oauth::sign_in::{Refusal, check_credentials};
use crate::paths::{ACCOUNT_PATH, DEVICE_PATH, OTP_PATH};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    client_name: Option<&'a str>,
    error: Option<&'a str>,
    username: &'a str,
    csrf_token: &'a str,
    /// "Sign in with a passkey" (the issuer's host is a domain).
    passkeys: bool,
}

pub(super) async fn show(
    state: &AppState,
    session: &BrowserSession,
    status: StatusCode,
    username: &str,
    error: Option<&str>,
) -> Result<Response, PageError> {
    let pending: Option<PendingAuthorization> = session.pending().await?;
    let client = match &pending {
        Some(p) => client_of(state, p).await?,
        None => None,
    };
    let hint = pending
        .as_ref()
        .and_then(|p| p.login_hint.as_deref())
        .unwrap_or_default();
    let page = LoginPage {
        client_name: client.as_ref().map(|c| c.client_name.as_str()),
        error,
        username: if username.is_empty() { hint } else { username },
        csrf_token: &session.csrf_token().await?,
        passkeys: RelyingParty::of(state.settings.issuer.as_str()).is_some(),
    };
    Ok(render(status, &page))
}

/// `GET /login`.
pub async fn login_page(State(state): State<AppState>, session: BrowserSession) -> Response {
    show(&state, &session, StatusCode::OK, "", None)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// The login form.
#[derive(Deserialize)]
pub struct LoginForm {
    csrf_token: Option<String>,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// `POST /login`.
pub async fn login_submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: BrowserSession,
    Form(form): Form<LoginForm>,
) -> Response {
    sign_in(&state, &session, peer.ip(), form)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

const WRONG: &str = "Incorrect username or password.";

async fn sign_in(
    state: &AppState,
    session: &BrowserSession,
    address: IpAddr,
    form: LoginForm,
) -> Result<Response, PageError> {
    session.check_csrf(form.csrf_token.as_deref()).await?;
    let now = state.clock.now();
    let password = SecretString::from(form.password);
    let checked = check_credentials(
        state.store.as_ref(),
        &state.passwords,
        &form.username,
        password,
        address,
        now,
    )
    .await?;
    let outcome = match &checked {
        Ok(_) => SignInOutcome::Success,
        Err(Refusal::Throttled { .. }) => SignInOutcome::Throttled,
        Err(Refusal::Busy) => SignInOutcome::Busy,
        Err(Refusal::WrongCredentials) => SignInOutcome::WrongPassword,
        Err(Refusal::Disabled) => SignInOutcome::Disabled,
    };
    state.metrics.sign_in(outcome);
    // The audit trail: who, from where, and why not; never the password. An unknown username is
    // recorded as typed only when it is a valid username (bounded, printable).
    let event = match &checked {
        Ok(user) => AuditEvent::new(
            EventType::SignInSucceeded,
            now,
            format!("user:{}", user.user_id),
        )
        .user(user.user_id.to_string()),
        Err(_) => AuditEvent::new(EventType::SignInFailed, now, "anonymous"),
    }
    .detail(json!({
        "outcome": outcome.label(),
        "username": normalize_username(&form.username).ok(),
        "address": address.to_string(),
    }));
    audit::record_or_log(state.store.as_ref(), event).await;
    let user = match checked {
        Ok(user) => user,
        Err(Refusal::Throttled { retry_after }) => {
            return Err(PageError::too_many_sign_ins(retry_after));
        }
        Err(Refusal::Busy) => return Err(PageError::unavailable()),
        Err(Refusal::WrongCredentials) => {
            return show(state, session, StatusCode::OK, &form.username, Some(WRONG)).await;
        }
        Err(Refusal::Disabled) => {
            let disabled = Some("This account is disabled.");
            return show(state, session, StatusCode::OK, &form.username, disabled).await;
        }
    };
    tracing::info!(user_id = %user.user_id, "user signed in");
    start_session(state, session, user, Authentication::password()).await
}

/// A user proved who they are (`authentication`): sign the browser in under a new session id and
/// `sid`, and carry on with the request waiting, if any.
pub(super) async fn start_session(
    state: &AppState,
    session: &BrowserSession,
    user: User,
    authentication: Authentication,
) -> Result<Response, PageError> {
    // OIDC Core §2 auth_time: the moment the credential was verified, not when the request arrived
    // (argon2 may have queued for a while).
    let auth_time = state.clock.now();
    // OIDC Back-Channel Logout §2.1: a new session id for each sign-in, never the cookie value.
    let sid = random_string(16);
    session
        .sign_in(
            SignedIn {
                user_id: user.user_id.to_string(),
                auth_time,
                authentication: authentication.clone(),
                sid: Some(sid.clone()),
            },
            state.settings.lifetimes.session,
        )
        .await?;
    let Some(pending) = session.pending::<PendingAuthorization>().await? else {
        // `--require-mfa`: no sign-in is complete with a password alone.
        if state.settings.require_mfa && authentication.acr() < Acr::Mfa {
            return Ok(Redirect::to(&state.settings.issuer.endpoint(OTP_PATH)).into_response());
        }
        return continue_without_request(state, session).await;
    };
    let pending = pending.signed_in_as(user.user_id.as_str());
    let signed_in = SignIn {
        user_id: user.user_id,
        auth_time,
        authentication,
        sid: Some(sid),
    };
    let outcome = resume(&state.context(auth_time), pending, Some(signed_in)).await;
    Ok(respond(state, session, outcome).await)
}

/// Where a completed sign-in with no authorization request waiting goes: back to a device code
/// entered before it (RFC 8628 §3.3), back to the account page that asked for it, or the "Signed
/// in" page.
pub(super) async fn continue_without_request(
    state: &AppState,
    session: &BrowserSession,
) -> Result<Response, PageError> {
    if session
        .pending_device::<serde_json::Value>()
        .await?
        .is_some()
    {
        return Ok(Redirect::to(&state.settings.issuer.endpoint(DEVICE_PATH)).into_response());
    }
    if session.take_pending_account().await? {
        return Ok(Redirect::to(&state.settings.issuer.endpoint(ACCOUNT_PATH)).into_response());
    }
    Ok(render(
        StatusCode::OK,
        &MessagePage {
            title: "Signed in",
            message: "You are signed in to Latchkey. You can close this page.",
        },
    ))
}
