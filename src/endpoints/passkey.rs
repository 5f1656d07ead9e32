//! Passkeys in the browser (WebAuthn Level 3):
//! - `POST /passkey/options` begins a ceremony (CSRF-checked) and answers its options as JSON, for
//!   `static/passkey.js` to hand to `navigator.credentials`; the browser session keeps the
//!   ceremony's id, the store its state;
//! - `GET/POST /passkey-setup` registers a passkey for a signed-in user (during a sign-in that
//!   needs a second factor, or from the account page);
//! - `POST /otp/passkey` takes a passkey as the second factor after the password;
//! - `POST /login/passkey` signs in with a passkey alone.
//!
//! Each form posts the browser's answer (`PublicKeyCredential.toJSON()`) in a `credential` field,
//! with the session's CSRF token. Without JavaScript the passkey forms stay hidden and everything
//! else works.

use std::net::SocketAddr;

use askama::Template;
use axum::Json;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use super::login;
use super::page::{PageError, render};
use super::second_factor::{
    admit, carry_on, complete, may_enrol, recovery_codes_page, show_otp, signed_in_user,
    with_factor,
};
use super::session::BrowserSession;
use crate::audit;
use crate::domain::audit::{AuditEvent, EventType};
use crate::domain::authn::Authentication;
use crate::domain::passkey::{Purpose, passkey_name};
use crate::oauth::passkey::{
    self, Begun, MAX_RESPONSE_BYTES, PasskeyError, RelyingParty, has_second_factor,
};
use crate::paths::OTP_PATH;
use crate::state::AppState;

#[derive(Template)]
#[template(path = "passkey_setup.html")]
struct PasskeySetupPage<'a> {
    csrf_token: &'a str,
    error: Option<&'a str>,
    /// Started from the account page, not a sign-in.
    from_account: bool,
    /// The issuer's host is a domain, so passkeys work here.
    available: bool,
}

/// `POST /passkey/options`.
#[derive(Deserialize)]
pub struct OptionsForm {
    csrf_token: Option<String>,
    #[serde(default)]
    purpose: String,
}

/// A form that carries the browser's answer.
#[derive(Deserialize)]
pub struct CredentialForm {
    csrf_token: Option<String>,
    #[serde(default)]
    credential: String,
    #[serde(default)]
    name: String,
}

const NOT_ACCEPTED: &str = "That passkey was not accepted. Try again, or use another way.";
const TOO_SLOW: &str = "That took too long, or was started in another tab. Try again.";

/// A ceremony that failed: logged (the reason may help an operator; it holds no secret), and the
/// store's failures passed on.
fn failed(err: PasskeyError) -> Result<(), PageError> {
    match err {
        PasskeyError::Store(err) => Err(err.into()),
        other => {
            tracing::info!(reason = %other, "a passkey ceremony failed");
            Ok(())
        }
    }
}

/// `POST /passkey/options`: begin a ceremony for `purpose` (`register`, `second_factor` or
/// `sign_in`).
pub async fn options(
    State(state): State<AppState>,
    session: BrowserSession,
    Form(form): Form<OptionsForm>,
) -> Response {
    begin(&state, &session, form)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn begin(
    state: &AppState,
    session: &BrowserSession,
    form: OptionsForm,
) -> Result<Response, PageError> {
    session.check_csrf(form.csrf_token.as_deref()).await?;
    let ctx = state.context(state.clock.now());
    let purpose = Purpose::parse(&form.purpose)
        .ok_or_else(|| PageError::bad_request("Request refused", "Unknown passkey purpose."))?;
    let signed_in = match purpose {
        Purpose::SignIn => None,
        Purpose::Register | Purpose::SecondFactor => match signed_in_user(state, session).await? {
            Ok(found) => Some(found),
            Err(_) => return Err(PageError::forbidden("Sign in first.")),
        },
    };
    let begun: Result<Option<Begun>, PasskeyError> = match (&signed_in, purpose) {
        (Some((signed_in, user)), Purpose::Register) => {
            if !may_enrol(state, signed_in, &user.user_id).await? {
                return Err(PageError::forbidden(
                    "Confirm your second factor before adding another.",
                ));
            }
            passkey::begin_registration(&ctx, user).await.map(Some)
        }
        (Some((_, user)), Purpose::SecondFactor) => {
            passkey::begin_authentication(&ctx, Some(&user.user_id)).await
        }
        _ => passkey::begin_authentication(&ctx, None).await,
    };
    let begun = match begun {
        Ok(Some(begun)) => begun,
        Ok(None) => {
            return Err(PageError::bad_request(
                "No passkey",
                "This account has no passkey.",
            ));
        }
        Err(PasskeyError::Unavailable) => {
            return Err(PageError::bad_request(
                "Passkeys unavailable",
                "Passkeys need a server whose address is a domain name.",
            ));
        }
        Err(err) => {
            failed(err)?;
            return Err(PageError::internal());
        }
    };
    session.set_passkey_ceremony(&begun.ceremony_id).await?;
    let mut response = Json(begun.options).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// The browser's answer, if it is of a sane size, and the ceremony this browser began.
async fn answer<'a>(
    session: &BrowserSession,
    form: &'a CredentialForm,
) -> Result<Option<(String, &'a str)>, PageError> {
    let ceremony = session.take_passkey_ceremony().await?;
    let credential = form.credential.as_str();
    if credential.is_empty() || credential.len() > MAX_RESPONSE_BYTES {
        return Ok(None);
    }
    Ok(ceremony.map(|id| (id, credential)))
}

/// `GET /passkey-setup`.
pub async fn setup_page(State(state): State<AppState>, session: BrowserSession) -> Response {
    show_setup(&state, &session, None)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn show_setup(
    state: &AppState,
    session: &BrowserSession,
    error: Option<&str>,
) -> Result<Response, PageError> {
    let (signed_in, user) = match signed_in_user(state, session).await? {
        Ok(found) => found,
        Err(to_login) => return Ok(to_login),
    };
    if !may_enrol(state, &signed_in, &user.user_id).await? {
        return Ok(Redirect::to(&state.settings.issuer.endpoint(OTP_PATH)).into_response());
    }
    setup_form(state, session, error).await
}

async fn setup_form(
    state: &AppState,
    session: &BrowserSession,
    error: Option<&str>,
) -> Result<Response, PageError> {
    let page = PasskeySetupPage {
        csrf_token: &session.csrf_token().await?,
        error,
        from_account: session.pending_account().await?,
        available: RelyingParty::of(state.settings.issuer.as_str()).is_some(),
    };
    Ok(render(StatusCode::OK, &page))
}

/// `POST /passkey-setup`: register the passkey the browser created.
pub async fn setup_submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: BrowserSession,
    Form(form): Form<CredentialForm>,
) -> Response {
    register(&state, &session, peer, form)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn register(
    state: &AppState,
    session: &BrowserSession,
    peer: SocketAddr,
    form: CredentialForm,
) -> Result<Response, PageError> {
    session.check_csrf(form.csrf_token.as_deref()).await?;
    let (signed_in, user) = match signed_in_user(state, session).await? {
        Ok(found) => found,
        Err(to_login) => return Ok(to_login),
    };
    if !may_enrol(state, &signed_in, &user.user_id).await? {
        return Ok(Redirect::to(&state.settings.issuer.endpoint(OTP_PATH)).into_response());
    }
    let name = match passkey_name(&form.name) {
        Ok(name) => name,
        Err(problem) => return setup_form(state, session, Some(problem)).await,
    };
    let Some((ceremony, credential)) = answer(session, &form).await? else {
        return setup_form(state, session, Some(TOO_SLOW)).await;
    };
    let now = state.clock.now();
    // The passkey and its audit event commit together.
    let event = AuditEvent::new(
        EventType::SecondFactorEnrolled,
        now,
        format!("user:{}", user.user_id),
    )
    .user(user.user_id.to_string())
    .detail(json!({ "factor": "passkey", "name": name, "address": peer.ip().to_string() }));
    let ctx = state.context(now);
    let registered = match passkey::finish_registration(
        &ctx, &user, &ceremony, credential, name, &event,
    )
    .await
    {
        Ok(registered) => registered,
        Err(PasskeyError::AlreadyRegistered) => {
            let problem = "That passkey is registered already.";
            return setup_form(state, session, Some(problem)).await;
        }
        Err(PasskeyError::NoCeremony) => {
            return setup_form(state, session, Some(TOO_SLOW)).await;
        }
        Err(err) => {
            failed(err)?;
            let problem = "Your passkey could not be added. Try again.";
            return setup_form(state, session, Some(problem)).await;
        }
    };
    audit::log(&event);
    // Creating it proved the user holds it: the session is now a two-factor one.
    let signed_in = with_factor(state, session, signed_in, registered.method).await?;
    if let Some(codes) = registered.recovery_codes {
        return recovery_codes_page(session, &codes).await;
    }
    carry_on(state, session, signed_in).await
}

/// `POST /otp/passkey`: a passkey as the second factor.
pub async fn second_factor_submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: BrowserSession,
    Form(form): Form<CredentialForm>,
) -> Response {
    second_factor(&state, &session, peer, form)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn second_factor(
    state: &AppState,
    session: &BrowserSession,
    peer: SocketAddr,
    form: CredentialForm,
) -> Result<Response, PageError> {
    session.check_csrf(form.csrf_token.as_deref()).await?;
    let (signed_in, user) = match signed_in_user(state, session).await? {
        Ok(found) => found,
        Err(to_login) => return Ok(to_login),
    };
    let now = state.clock.now();
    let ctx = state.context(now);
    if !has_second_factor(&ctx, &user.user_id).await? {
        return Ok(Redirect::to(&state.settings.issuer.endpoint(OTP_PATH)).into_response());
    }
    let attempt = admit(state, &user.username, peer, now).await?;
    let event = |event_type| {
        AuditEvent::new(event_type, now, format!("user:{}", user.user_id))
            .user(user.user_id.to_string())
    };
    let outcome = match answer(session, &form).await? {
        Some((ceremony, credential)) => {
            passkey::finish_authentication(&ctx, Some(&user.user_id), &ceremony, credential).await
        }
        None => Err(PasskeyError::NoCeremony),
    };
    let authenticated = match outcome {
        Ok(authenticated) => authenticated,
        Err(err) => {
            failed(err)?;
            audit::record_or_log(
                state.store.as_ref(),
                event(EventType::SignInFailed).detail(json!({
                    "outcome": "wrong_second_factor",
                    "factor": "passkey",
                    "address": peer.ip().to_string(),
                })),
            )
            .await;
            return show_otp(state, session, &user.user_id, Some(NOT_ACCEPTED)).await;
        }
    };
    if let Err(err) = attempt.succeeded(state.store.as_ref()).await {
        tracing::warn!(error = %err, "could not give back a successful sign-in attempt");
    }
    audit::record_or_log(
        state.store.as_ref(),
        event(EventType::SignInSucceeded).detail(json!({
            "outcome": "second_factor",
            "factor": "passkey",
            "address": peer.ip().to_string(),
        })),
    )
    .await;
    complete(state, session, signed_in, authenticated.method).await
}

/// `POST /login/passkey`: sign in with a passkey alone.
pub async fn sign_in_submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: BrowserSession,
    Form(form): Form<CredentialForm>,
) -> Response {
    sign_in(&state, &session, peer, form)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn sign_in(
    state: &AppState,
    session: &BrowserSession,
    peer: SocketAddr,
    form: CredentialForm,
) -> Result<Response, PageError> {
    session.check_csrf(form.csrf_token.as_deref()).await?;
    let now = state.clock.now();
    // Who is signing in is known only from the passkey: the attempt is reserved against the
    // network (the counters of an empty username), before the answer is checked.
    let attempt = admit(state, "", peer, now).await?;
    let ctx = state.context(now);
    let outcome = match answer(session, &form).await? {
        Some((ceremony, credential)) => {
            passkey::finish_authentication(&ctx, None, &ceremony, credential).await
        }
        None => Err(PasskeyError::NoCeremony),
    };
    let refused = || {
        AuditEvent::new(EventType::SignInFailed, now, "anonymous").detail(json!({
            "outcome": "passkey_refused",
            "address": peer.ip().to_string(),
        }))
    };
    let authenticated = match outcome {
        Ok(authenticated) => authenticated,
        Err(err) => {
            failed(err)?;
            audit::record_or_log(state.store.as_ref(), refused()).await;
            return login::show(state, session, StatusCode::OK, "", Some(NOT_ACCEPTED)).await;
        }
    };
    // The user is active: a disabled account signs in to nothing.
    let Some(user) =
        crate::oauth::active_user(state.store.as_ref(), &authenticated.user_id).await?
    else {
        audit::record_or_log(state.store.as_ref(), refused()).await;
        let disabled = Some("This account is disabled.");
        return login::show(state, session, StatusCode::OK, "", disabled).await;
    };
    if let Err(err) = attempt.succeeded(state.store.as_ref()).await {
        tracing::warn!(error = %err, "could not give back a successful sign-in attempt");
    }
    state
        .metrics
        .sign_in(crate::metrics::SignInOutcome::Success);
    audit::record_or_log(
        state.store.as_ref(),
        AuditEvent::new(
            EventType::SignInSucceeded,
            now,
            format!("user:{}", user.user_id),
        )
        .user(user.user_id.to_string())
        .detail(json!({
            "outcome": "success",
            "factor": "passkey",
            "username": user.username,
            "address": peer.ip().to_string(),
        })),
    )
    .await;
    tracing::info!(user_id = %user.user_id, "user signed in with a passkey");
    let authentication = Authentication::passkey(authenticated.method);
    login::start_session(state, session, user, authentication).await
}
