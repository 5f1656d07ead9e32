//! `GET/POST /login`: the sign-in page. Plain HTML form, CSRF token, argon2id off the async runtime,
//! the same answer (and cost) for an unknown user as for a wrong password, and every attempt reserved
//! in the store's throttle (`oauth::throttle`) before the password is checked.

use std::net::{IpAddr, SocketAddr};

use askama::Template;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::Deserialize;

use super::authorize::{client_of, respond};
use super::page::PageError;
use super::page::{MessagePage, render};
use super::session::{BrowserSession, SignedIn};
use crate::domain::password::verify_password;
use crate::domain::user::normalize_username;
use crate::oauth::authorize::{PendingAuthorization, SignIn, resume};
use crate::oauth::throttle::{self, Admission};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    client_name: Option<&'a str>,
    error: Option<&'a str>,
    username: &'a str,
    csrf_token: &'a str,
}

async fn show(
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

/// 429 with `Retry-After` for a sign-in refused by the throttle.
fn too_many_attempts(wait: i64) -> PageError {
    let minutes = (wait + 59) / 60;
    PageError::too_many(
        format!("Too many sign-in attempts. Try again in {minutes} minute(s)."),
        u64::try_from(wait).unwrap_or(60),
    )
}

async fn sign_in(
    state: &AppState,
    session: &BrowserSession,
    address: IpAddr,
    form: LoginForm,
) -> Result<Response, PageError> {
    session.check_csrf(form.csrf_token.as_deref()).await?;
    let now = state.clock.now();
    let username = normalize_username(&form.username).unwrap_or_default();
    let attempt = match throttle::admit(state.store.as_ref(), &username, address, now).await? {
        Admission::Admitted(attempt) => attempt,
        Admission::Refused { retry_after } => return Err(too_many_attempts(retry_after)),
    };
    let user = if username.is_empty() {
        None
    } else {
        state.store.find_user_by_username(&username).await?
    };
    let password = SecretString::from(form.password);
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let verified = state
        .passwords
        .run(move || verify_password(&password, stored.as_deref()))
        .await
        .map_err(|_busy| PageError::unavailable())?;
    let user = match user {
        Some(user) if verified => user,
        _ => return show(state, session, StatusCode::OK, &form.username, Some(WRONG)).await,
    };
    if user.disabled {
        return show(
            state,
            session,
            StatusCode::OK,
            &form.username,
            Some("This account is disabled."),
        )
        .await;
    }
    if let Err(err) = attempt.succeeded(state.store.as_ref()).await {
        // The sign-in stands; the attempt merely stays counted until its window ends.
        tracing::warn!(error = %err, "could not give back a successful sign-in attempt");
    }
    tracing::info!(user_id = %user.user_id, "user signed in");
    // OIDC Core §2 auth_time: the moment the password was verified, not when the request arrived
    // (argon2 may have queued for a while).
    let auth_time = state.clock.now();
    let user_id = user.user_id.to_string();
    session
        .sign_in(
            SignedIn {
                user_id: user_id.clone(),
                auth_time,
            },
            state.settings.lifetimes.session,
        )
        .await?;
    match session.pending::<PendingAuthorization>().await? {
        Some(pending) => {
            let pending = pending.signed_in_as(&user_id);
            let signed_in = SignIn {
                user_id: user.user_id.clone(),
                auth_time,
            };
            let outcome = resume(&state.context(auth_time), pending, Some(signed_in)).await;
            Ok(respond(state, session, outcome).await)
        }
        None => Ok(render(
            StatusCode::OK,
            &MessagePage {
                title: "Signed in",
                message: "You are signed in to Latchkey. You can close this page.",
            },
        )),
    }
}
