//! `GET/POST /device`: the device page (RFC 8628 §3.3). The user types the code their device shows
//! (throttled per network, §5.1), signs in with the same login page as `/authorize`, sees which
//! client on which device asks for which scopes, and approves or denies. No script; a CSRF token on
//! every form; the entered request is kept in the session by the hash of its user code only.

use std::net::{IpAddr, SocketAddr};

use askama::Template;
use axum::extract::{ConnectInfo, Form, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::authorize::signed_in;
use super::page::{MessagePage, PageError, render};
use super::session::BrowserSession;
use crate::domain::authn::Acr;
use crate::domain::device::DeviceAuthorization;
use crate::domain::secret::{TokenHash, random_string};
use crate::oauth::device::{Decided, LookUp, decide, look_up};
use crate::paths::{DEVICE_PATH, LOGIN_PATH, OTP_PATH};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "device.html")]
struct EntryPage<'a> {
    csrf_token: &'a str,
    user_code: &'a str,
    error: Option<&'a str>,
}

#[derive(Template)]
#[template(path = "device_approve.html")]
struct ApprovalPage<'a> {
    client_name: &'a str,
    device_address: &'a str,
    asked: String,
    scopes: Vec<(String, String)>,
    username: &'a str,
    csrf_token: &'a str,
    request_id: &'a str,
}

/// The device request whose code was entered, as kept in the session: the SHA-256 of its user
/// code (never the code), and a random id that the approval form carries, so a form shown for one
/// request cannot decide another.
#[derive(Debug, Serialize, Deserialize)]
pub struct PendingDevice {
    id: String,
    user_code_hash: String,
}

impl PendingDevice {
    fn user_code_hash(&self) -> Option<TokenHash> {
        TokenHash::from_slice(&URL_SAFE_NO_PAD.decode(&self.user_code_hash).ok()?)
    }
}

/// `GET /device`'s query: `verification_uri_complete` fills the code in (RFC 8628 §3.3.1).
#[derive(Deserialize)]
pub struct DeviceQuery {
    user_code: Option<String>,
}

/// `GET /device`: the code form (filled in from `?user_code=`), or, once a code was entered, the
/// approval page (after sign-in).
pub async fn device_page(
    State(state): State<AppState>,
    session: BrowserSession,
    Query(query): Query<DeviceQuery>,
) -> Response {
    show(&state, &session, query.user_code)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// The device form: a code to look up, or a decision.
#[derive(Deserialize)]
pub struct DeviceForm {
    csrf_token: Option<String>,
    user_code: Option<String>,
    request_id: Option<String>,
    decision: Option<String>,
}

/// `POST /device`.
pub async fn device_submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: BrowserSession,
    Form(form): Form<DeviceForm>,
) -> Response {
    submit(&state, &session, peer.ip(), form)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn entry(
    session: &BrowserSession,
    user_code: &str,
    error: Option<&str>,
) -> Result<Response, PageError> {
    let page = EntryPage {
        csrf_token: &session.csrf_token().await?,
        // Shown back only as typed, bounded.
        user_code: &user_code.chars().take(16).collect::<String>(),
        error,
    };
    Ok(render(StatusCode::OK, &page))
}

fn to(state: &AppState, path: &str) -> Response {
    Redirect::to(&state.settings.issuer.endpoint(path)).into_response()
}

const EXPIRED: &str =
    "That request has expired or was already answered. Start again on your device.";

/// The entered request, still pending: `None` when there is none (or it has gone).
async fn entered(
    state: &AppState,
    session: &BrowserSession,
) -> Result<Option<(PendingDevice, DeviceAuthorization)>, PageError> {
    let Some(pending) = session.pending_device::<PendingDevice>().await? else {
        return Ok(None);
    };
    let Some(hash) = pending.user_code_hash() else {
        session.clear_pending_device().await?;
        return Ok(None);
    };
    match state
        .store
        .find_device_authorization(&hash, state.clock.now())
        .await?
    {
        Some(request) => Ok(Some((pending, request))),
        None => {
            session.clear_pending_device().await?;
            Ok(None)
        }
    }
}

async fn show(
    state: &AppState,
    session: &BrowserSession,
    prefill: Option<String>,
) -> Result<Response, PageError> {
    if let Some(code) = prefill {
        return entry(session, &code, None).await;
    }
    let had_pending = session.pending_device::<PendingDevice>().await?.is_some();
    let Some((pending, request)) = entered(state, session).await? else {
        return entry(session, "", had_pending.then_some(EXPIRED)).await;
    };
    let signed_in = session.signed_in().await?;
    let user = match &signed_in {
        Some(signed_in) => {
            let user_id = crate::domain::user::UserId::from_stored(signed_in.user_id.clone());
            state
                .store
                .find_user(&user_id)
                .await?
                .filter(|u| !u.disabled)
        }
        None => None,
    };
    let (Some(user), Some(signed_in)) = (user, signed_in) else {
        // The login page continues here; an older authorization request must not take over.
        session.clear_pending().await?;
        return Ok(to(state, LOGIN_PATH));
    };
    let now = state.clock.now();
    let client = state
        .clients
        .find(state.store.as_ref(), &request.client_id, now)
        .await?;
    let Some(client) = client else {
        session.clear_pending_device().await?;
        return entry(session, "", Some(EXPIRED)).await;
    };
    // A device is approved only from a sign-in as strong as the server, the client or the user's
    // roles require; the second-factor page comes back here.
    if needs_second_factor(state, &client, &user.user_id, &signed_in.authentication).await? {
        session.clear_pending().await?;
        return Ok(to(state, OTP_PATH));
    }
    let known = state.store.list_scopes().await?;
    let scopes = request
        .scope
        .iter()
        .map(|name| {
            let description = known
                .iter()
                .find(|s| s.name == name)
                .map(|s| s.description.clone())
                .unwrap_or_else(|| name.to_owned());
            (name.to_owned(), description)
        })
        .collect();
    let minutes = (now - request.created_at).max(0) / 60;
    let page = ApprovalPage {
        client_name: &client.client_name,
        device_address: &request.device_address,
        asked: match minutes {
            0 => "less than a minute ago".to_owned(),
            1 => "1 minute ago".to_owned(),
            n => format!("{n} minutes ago"),
        },
        scopes,
        username: &user.username,
        csrf_token: &session.csrf_token().await?,
        request_id: &pending.id,
    };
    Ok(render(StatusCode::OK, &page))
}

async fn submit(
    state: &AppState,
    session: &BrowserSession,
    address: IpAddr,
    form: DeviceForm,
) -> Result<Response, PageError> {
    session.check_csrf(form.csrf_token.as_deref()).await?;
    if form.decision.is_some() {
        return decide_entered(state, session, form).await;
    }
    let typed = form.user_code.unwrap_or_default();
    let ctx = state.context(state.clock.now());
    match look_up(&ctx, &typed, address).await? {
        LookUp::Found(request) => {
            session
                .set_pending_device(&PendingDevice {
                    id: random_string(16),
                    user_code_hash: URL_SAFE_NO_PAD.encode(request.user_code_hash.0),
                })
                .await?;
            Ok(to(state, DEVICE_PATH))
        }
        LookUp::Wrong => {
            let wrong = "That code is not right, or it has expired. Check the code your device shows and try again.";
            entry(session, &typed, Some(wrong)).await
        }
        LookUp::Throttled(wait) => Err(PageError::too_many(
            format!(
                "Too many wrong codes. Try again in {} minute(s).",
                (wait + 59) / 60
            ),
            u64::try_from(wait).unwrap_or(60),
        )),
    }
}

async fn decide_entered(
    state: &AppState,
    session: &BrowserSession,
    form: DeviceForm,
) -> Result<Response, PageError> {
    let allow = match form.decision.as_deref() {
        Some("allow") => true,
        Some("deny") => false,
        _ => {
            return Err(PageError::bad_request(
                "Invalid form",
                "Choose Allow or Deny.",
            ));
        }
    };
    let gone = || PageError::bad_request("Nothing to continue", EXPIRED);
    let Some((pending, request)) = entered(state, session).await? else {
        return Err(gone());
    };
    if form.request_id.as_deref() != Some(pending.id.as_str()) {
        return Err(gone());
    }
    let Some(user) = signed_in(session).await? else {
        return Ok(to(state, LOGIN_PATH));
    };
    let client = state
        .clients
        .find(state.store.as_ref(), &request.client_id, state.clock.now())
        .await?
        .ok_or_else(gone)?;
    if needs_second_factor(state, &client, &user.user_id, &user.authentication).await? {
        return Ok(to(state, OTP_PATH));
    }
    let ctx = state.context(state.clock.now());
    let decided = decide(&ctx, &request, &user, allow).await?;
    session.clear_pending_device().await?;
    let (title, message) = match decided {
        Decided::Approved => (
            "Device connected",
            "You allowed the device. Go back to it: it will continue by itself.",
        ),
        Decided::Denied => (
            "Request denied",
            "The device was not given access. You can close this page.",
        ),
        Decided::Gone => return Err(gone()),
        Decided::NotEntitled(why) => return Err(PageError::bad_request("Not allowed", why)),
    };
    Ok(render(StatusCode::OK, &MessagePage { title, message }))
}

/// Whether a sign-in made with `authentication` is too weak to approve a device for `client`.
async fn needs_second_factor(
    state: &AppState,
    client: &crate::domain::client::Client,
    user_id: &crate::domain::user::UserId,
    authentication: &crate::domain::authn::Authentication,
) -> Result<bool, PageError> {
    if authentication.acr() >= Acr::Mfa {
        return Ok(false);
    }
    let ctx = state.context(state.clock.now());
    Ok(crate::oauth::authorize::requires_two_factors(&ctx, client, user_id).await?)
}
