//! The second factor, after the password: `GET/POST /otp` asks a signed-in user for a TOTP code
//! (RFC 6238) or a recovery code, and offers their passkeys (`endpoints::passkey`); [`enrol`] sets
//! up the authenticator app (`/otp-setup`, `/otp-continue`). The steps both share (who is signed
//! in, whether they may enrol, the throttle, signing the session in again) are here.
//!
//! A code is reserved in the sign-in throttle before it is checked (the same counters as the
//! password's), accepted once (RFC 6238 §5.2: a step later than the last one used, in one
//! conditional UPDATE), and then the session is signed in again, under a new id, with both methods
//! (RFC 8176 `pwd` `otp`: `urn:latchkey:acr:mfa`).

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::{ExposeSecret, SecretSlice};
use serde::Deserialize;
use serde_json::json;

use super::authorize::{client_of, respond};
use super::page::{PageError, render};
use super::session::{BrowserSession, SignedIn};
use crate::audit;
use crate::domain::audit::{AuditEvent, EventType};
use crate::domain::authn::Acr;
use crate::domain::authn::Method;
use crate::domain::mfa::TotpFactor;
use crate::domain::user::{User, UserId};
use crate::keys::encryption::DecryptError;
use crate::oauth::authorize::{PendingAuthorization, SignIn, resume};
use crate::oauth::passkey::{RelyingParty, has_second_factor};
use crate::oauth::second_factor::{self, CodeError, check_code};
use crate::oauth::throttle::{self, Admission, Attempt};
use crate::paths::{LOGIN_PATH, OTP_PATH, OTP_SETUP_PATH};
use crate::state::AppState;

mod enrol;
pub(in crate::endpoints) use enrol::recovery_codes_page;
pub use enrol::{continue_submit, setup_page, setup_submit};

#[derive(Template)]
#[template(path = "otp.html")]
struct OtpPage<'a> {
    client_name: Option<&'a str>,
    error: Option<&'a str>,
    csrf_token: &'a str,
    /// A confirmed authenticator app.
    totp: bool,
    /// The code form: an app, or recovery codes left.
    codes: bool,
    /// The passkey button.
    passkeys: bool,
}

/// A code form.
#[derive(Deserialize)]
pub struct CodeForm {
    csrf_token: Option<String>,
    #[serde(default)]
    code: String,
}

const WRONG: &str = "That code is not right, or was already used. Try the next one.";

/// The signed-in user and their session, or the login page for a browser without one.
pub(super) async fn signed_in_user(
    state: &AppState,
    session: &BrowserSession,
) -> Result<Result<(SignedIn, User), Response>, PageError> {
    let to_login = || Redirect::to(&state.settings.issuer.endpoint(LOGIN_PATH)).into_response();
    let Some(signed_in) = session.signed_in().await? else {
        return Ok(Err(to_login()));
    };
    let user_id = UserId::from_stored(signed_in.user_id.clone());
    match crate::oauth::active_user(state.store.as_ref(), &user_id).await? {
        Some(user) => Ok(Ok((signed_in, user))),
        None => Ok(Err(to_login())),
    }
}

/// The second-factor page for `user`: the code form (an authenticator app, or recovery codes
/// left) and the passkey button, as they have them.
pub(super) async fn show_otp(
    state: &AppState,
    session: &BrowserSession,
    user: &UserId,
    error: Option<&str>,
) -> Result<Response, PageError> {
    let pending: Option<PendingAuthorization> = session.pending().await?;
    let client = match &pending {
        Some(p) => client_of(state, p).await?,
        None => None,
    };
    let factors = crate::admin::user::second_factors(state.store.as_ref(), user).await?;
    let passkeys =
        factors.passkeys > 0 && RelyingParty::of(state.settings.issuer.as_str()).is_some();
    let page = OtpPage {
        client_name: client.as_ref().map(|c| c.client_name.as_str()),
        error,
        csrf_token: &session.csrf_token().await?,
        totp: factors.totp,
        codes: factors.totp || factors.recovery_codes > 0 || !passkeys,
        passkeys,
    };
    Ok(render(StatusCode::OK, &page))
}

/// Whether `signed_in` may add a second factor for `user`: only a two-factor session may add
/// another (a password alone must not be able to add a factor that then passes for the second),
/// and anyone may add their first.
pub(super) async fn may_enrol(
    state: &AppState,
    signed_in: &SignedIn,
    user: &UserId,
) -> Result<bool, PageError> {
    if signed_in.authentication.acr() >= Acr::Mfa {
        return Ok(true);
    }
    let ctx = state.context(state.clock.now());
    Ok(!has_second_factor(&ctx, user).await?)
}

/// `GET /otp`: the code form, or enrolment for a user without a confirmed factor.
pub async fn otp_page(State(state): State<AppState>, session: BrowserSession) -> Response {
    otp_page_for(&state, &session)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn otp_page_for(state: &AppState, session: &BrowserSession) -> Result<Response, PageError> {
    let (_, user) = match signed_in_user(state, session).await? {
        Ok(found) => found,
        Err(to_login) => return Ok(to_login),
    };
    let ctx = state.context(state.clock.now());
    if !has_second_factor(&ctx, &user.user_id).await? {
        return Ok(Redirect::to(&state.settings.issuer.endpoint(OTP_SETUP_PATH)).into_response());
    }
    show_otp(state, session, &user.user_id, None).await
}

/// `POST /otp`: check a TOTP code or a recovery code.
pub async fn otp_submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: BrowserSession,
    Form(form): Form<CodeForm>,
) -> Response {
    verify(&state, &session, peer, form)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// The user's TOTP secret, unsealed.
fn open_secret(state: &AppState, factor: &TotpFactor) -> Result<SecretSlice<u8>, PageError> {
    second_factor::open_secret(&state.context(state.clock.now()), factor)
        .map_err(|err| unsealable(&err))
}

/// A TOTP secret that does not open (a changed key-encryption secret): logged, and the 500 page.
fn unsealable(err: &DecryptError) -> PageError {
    tracing::error!(error = %err, "a TOTP secret does not open");
    PageError::internal()
}

/// Which factor a code form is for: the confirmed one (`/otp`), or the one being enrolled
/// (`/otp-setup`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    Confirmed,
    Enrolling,
}

/// What a code form has before its code is looked at.
struct CodeAttempt {
    signed_in: SignedIn,
    user: User,
    /// The authenticator app: confirmed (`/otp`; none for a user with passkeys and recovery codes
    /// only), or being enrolled (`/otp-setup`; always there).
    factor: Option<TotpFactor>,
    /// Reserved in the sign-in throttle.
    attempt: Attempt,
    now: i64,
}

/// The CSRF token checked, the signed-in user and their factor at `stage` found, and an attempt
/// reserved in the throttle with the password's counters before the code is looked at (OWASP ASVS
/// 2.2.1); or where the browser goes instead (the login page, or the other code form).
async fn code_attempt(
    state: &AppState,
    session: &BrowserSession,
    peer: SocketAddr,
    form: &CodeForm,
    stage: Stage,
) -> Result<Result<CodeAttempt, Response>, PageError> {
    session.check_csrf(form.csrf_token.as_deref()).await?;
    let (signed_in, user) = match signed_in_user(state, session).await? {
        Ok(found) => found,
        Err(to_login) => return Ok(Err(to_login)),
    };
    let now = state.clock.now();
    let found = state
        .store
        .find_totp(&user.user_id)
        .await?
        .filter(|f| f.confirmed_at.is_some() == (stage == Stage::Confirmed));
    let elsewhere = |path: &str| {
        Ok(Err(
            Redirect::to(&state.settings.issuer.endpoint(path)).into_response()
        ))
    };
    match stage {
        Stage::Confirmed => {
            if found.is_none() && !has_second_factor(&state.context(now), &user.user_id).await? {
                return elsewhere(OTP_SETUP_PATH);
            }
        }
        Stage::Enrolling => {
            if found.is_none() || !may_enrol(state, &signed_in, &user.user_id).await? {
                return elsewhere(OTP_PATH);
            }
        }
    }
    let attempt = admit(state, &user.username, peer, now).await?;
    let factor = found;
    Ok(Ok(CodeAttempt {
        signed_in,
        user,
        factor,
        attempt,
        now,
    }))
}

/// An attempt at a second factor, reserved in the sign-in throttle with the password's counters
/// before it is checked (OWASP ASVS 2.2.1); or the 429 page.
pub(super) async fn admit(
    state: &AppState,
    username: &str,
    peer: SocketAddr,
    now: i64,
) -> Result<Attempt, PageError> {
    match throttle::admit(state.store.as_ref(), username, peer.ip(), now).await? {
        Admission::Admitted(attempt) => Ok(attempt),
        Admission::Refused { retry_after } => Err(PageError::too_many_sign_ins(retry_after)),
    }
}

async fn verify(
    state: &AppState,
    session: &BrowserSession,
    peer: SocketAddr,
    form: CodeForm,
) -> Result<Response, PageError> {
    let CodeAttempt {
        signed_in,
        user,
        factor,
        attempt,
        now,
    } = match code_attempt(state, session, peer, &form, Stage::Confirmed).await? {
        Ok(ready) => ready,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let accepted = match check_code(
        &state.context(now),
        &user.user_id,
        factor.as_ref(),
        &form.code,
    )
    .await
    {
        Ok(accepted) => accepted,
        Err(CodeError::Store(err)) => return Err(err.into()),
        Err(CodeError::Sealed(err)) => return Err(unsealable(&err)),
    };
    let event = |event_type| {
        AuditEvent::new(event_type, now, format!("user:{}", user.user_id))
            .user(user.user_id.to_string())
    };
    let Some(how) = accepted else {
        audit::record_or_log(
            state.store.as_ref(),
            event(EventType::SignInFailed).detail(json!({
                "outcome": "wrong_second_factor",
                "address": peer.ip().to_string(),
            })),
        )
        .await;
        return show_otp(state, session, &user.user_id, Some(WRONG)).await;
    };
    if let Err(err) = attempt.succeeded(state.store.as_ref()).await {
        tracing::warn!(error = %err, "could not give back a successful sign-in attempt");
    }
    audit::record_or_log(
        state.store.as_ref(),
        event(EventType::SignInSucceeded).detail(json!({
            "outcome": "second_factor",
            "factor": how.as_str(),
            "address": peer.ip().to_string(),
        })),
    )
    .await;
    complete(state, session, signed_in, Method::Otp).await
}

/// The second factor (`method`) is proven: sign the session in again, and carry on.
pub(super) async fn complete(
    state: &AppState,
    session: &BrowserSession,
    signed_in: SignedIn,
    method: Method,
) -> Result<Response, PageError> {
    let signed_in = with_factor(state, session, signed_in, method).await?;
    carry_on(state, session, signed_in).await
}

/// The user just proved `method` too (a code, a passkey, or a factor just enrolled): sign the
/// session in again under a new id (no session fixation), with its `sid` kept and the method added
/// (OIDC Core §2: `auth_time` is now, when the user last authenticated). The sign-in, for the
/// request waiting.
pub(super) async fn with_factor(
    state: &AppState,
    session: &BrowserSession,
    signed_in: SignedIn,
    method: Method,
) -> Result<SignIn, PageError> {
    let auth_time = state.clock.now();
    let authentication = signed_in.authentication.with(method);
    session
        .sign_in(
            SignedIn {
                user_id: signed_in.user_id.clone(),
                auth_time,
                authentication: authentication.clone(),
                sid: signed_in.sid.clone(),
            },
            state.settings.lifetimes.session,
        )
        .await?;
    Ok(SignIn {
        user_id: UserId::from_stored(signed_in.user_id),
        auth_time,
        authentication,
        sid: signed_in.sid,
    })
}

/// Resume the authorization request waiting in the session, if any.
pub(super) async fn carry_on(
    state: &AppState,
    session: &BrowserSession,
    signed_in: SignIn,
) -> Result<Response, PageError> {
    let Some(pending) = session.pending::<PendingAuthorization>().await? else {
        return super::login::continue_without_request(state, session).await;
    };
    let outcome = resume(
        &state.context(signed_in.auth_time),
        pending,
        Some(signed_in),
    )
    .await;
    Ok(respond(state, session, outcome).await)
}
