//! `GET/POST /authorize`: the authorization endpoint (RFC 6749 §4.1.1, RFC 7636, OIDC Core §3.1.2).
//!
//! The rules live in `oauth::authorize`; this file collects the parameters, reads the browser
//! session, and maps the outcome: keep the pending request and show the login or consent page, or
//! forget it and redirect to the client. A bad client or redirect URI is an error page, never a
//! redirect (RFC 6749 §4.1.2.1).

use std::sync::Arc;

use axum::extract::{Form, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::page::PageError;
use super::session::BrowserSession;
use crate::domain::client::{Client, ClientId};
use crate::error::AuthorizeError;
use crate::oauth::authorize::{
    Outcome, PendingAuthorization, SignIn, error_location, resume, start,
};
use crate::paths::{AUTHORIZE_PATH, CONSENT_PATH, LOGIN_PATH, OTP_PATH};
use crate::state::AppState;

/// `GET /authorize`.
pub async fn authorize_get(
    State(state): State<AppState>,
    session: BrowserSession,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    authorize(state, session, pairs).await
}

/// `POST /authorize` (OIDC Core §3.1.2.1: form-serialised parameters), answered with a redirect to the
/// same request as a GET. A cross-site POST arrives without the `SameSite=Lax` session cookie; handled
/// here, the pending request would be kept in a fresh anonymous session whose cookie replaces the
/// signed-in user's. The GET that follows is a top-level navigation, which carries the cookie.
pub async fn authorize_post(
    State(state): State<AppState>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    let location = state.settings.issuer.endpoint(AUTHORIZE_PATH);
    Redirect::to(&format!("{location}?{query}")).into_response()
}

async fn authorize(
    state: AppState,
    session: BrowserSession,
    pairs: Vec<(String, String)>,
) -> Response {
    let ctx = state.context(state.clock.now());
    let result = match start(&ctx, pairs).await {
        Ok(pending) => match signed_in(&session).await {
            Ok(user) => resume(&ctx, pending, user).await,
            Err(page) => return page.into_response(),
        },
        Err(err) => Err(err),
    };
    respond(&state, &session, result).await
}

/// The browser session's signed-in user, as the protocol layer sees it.
pub async fn signed_in(session: &BrowserSession) -> Result<Option<SignIn>, PageError> {
    Ok(session.signed_in().await?.map(|s| SignIn {
        user_id: crate::domain::user::UserId::from_stored(s.user_id),
        auth_time: s.auth_time,
        authentication: s.authentication,
        sid: s.sid,
    }))
}

/// The client of a pending request, for the pages (through the client cache).
pub async fn client_of(
    state: &AppState,
    pending: &PendingAuthorization,
) -> Result<Option<Arc<Client>>, PageError> {
    let Ok(client_id) = ClientId::parse(&pending.client_id) else {
        return Ok(None);
    };
    Ok(state
        .clients
        .find(state.store.as_ref(), &client_id, state.clock.now())
        .await?)
}

/// Answer the browser: keep the pending request and show the login or consent page, or forget it
/// and redirect to the client (with a code or an RFC 6749 §4.1.2.1 error), or show an error page.
pub async fn respond(
    state: &AppState,
    session: &BrowserSession,
    result: Result<Outcome, AuthorizeError>,
) -> Response {
    answer(state, session, result)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn answer(
    state: &AppState,
    session: &BrowserSession,
    result: Result<Outcome, AuthorizeError>,
) -> Result<Response, PageError> {
    let issuer = &state.settings.issuer;
    let err = match result {
        Ok(Outcome::Login(pending)) => {
            session.set_pending(&pending).await?;
            return Ok(Redirect::to(&issuer.endpoint(LOGIN_PATH)).into_response());
        }
        Ok(Outcome::SecondFactor(pending)) => {
            session.set_pending(&pending).await?;
            return Ok(Redirect::to(&issuer.endpoint(OTP_PATH)).into_response());
        }
        Ok(Outcome::Consent(pending)) => {
            session.set_pending(&pending).await?;
            return Ok(Redirect::to(&issuer.endpoint(CONSENT_PATH)).into_response());
        }
        Ok(Outcome::Redirect(location)) => {
            session.clear_pending().await?;
            return Ok(Redirect::to(&location).into_response());
        }
        Err(err) => err,
    };
    if let Some(location) = error_location(&err, issuer.as_str()) {
        session.clear_pending().await?;
        return Ok(Redirect::to(&location).into_response());
    }
    match err {
        AuthorizeError::BadClient(message) => {
            Err(PageError::bad_request("Invalid sign-in request", message))
        }
        AuthorizeError::Store(err) => Err(err.into()),
        AuthorizeError::NothingPending | AuthorizeError::Redirect { .. } => {
            session.clear_pending().await?;
            Ok(no_pending_request())
        }
    }
}

/// Shown when a login or consent form arrives with no authorization request waiting.
pub fn no_pending_request() -> Response {
    PageError {
        status: StatusCode::BAD_REQUEST,
        title: "Nothing to continue",
        message: "This sign-in request has expired or was already completed. Go back to the application and start again.".into(),
        retry_after: None,
    }
    .into_response()
}
