//! `GET/POST /account`: the signed-in user's own page. They change their password, set up or remove
//! their authenticator app, add or remove passkeys, replace their recovery codes, see where they are signed in and end any
//! other session, and see the applications they have connected and revoke one.
//!
//! Every form posts to `/account` with an `action` and the session's CSRF token (checked first). A
//! browser without a session is sent to sign in and brought back here; with `--require-mfa`, the
//! page needs a two-factor session (`urn:latchkey:acr:mfa`), as every sign-in does. Changes that
//! could lock the user out or hand the account over (the password, the second factor, the recovery
//! codes) need the current password again (OWASP ASVS 4.0.3 §3.7.1), checked as the login page
//! checks it: throttled, and with argon2id on the bounded pool.

mod view;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, State};
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::json;

use super::page::PageError;
use super::session::{BrowserSession, SignedIn};
use crate::admin::user::revocations_kept_until;
use crate::audit;
use crate::domain::audit::{AuditEvent, EventType, InTransaction};
use crate::domain::authn::Acr;
use crate::domain::client::ClientId;
use crate::domain::mfa::new_recovery_codes;
use crate::domain::secret::random_string;
use crate::domain::user::{User, UserId};
use crate::oauth::account::{NewPassword, PasswordChange, change_password, confirm_password};
use crate::oauth::sign_in::Refusal;
use crate::paths::{LOGIN_PATH, OTP_PATH, OTP_SETUP_PATH, PASSKEY_SETUP_PATH};
use crate::state::AppState;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use view::Banner;

/// What a form on the account page asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Change the password.
    ChangePassword,
    /// Go to the authenticator app's enrolment, and come back here.
    SetUpTotp,
    /// Remove the authenticator app and its recovery codes.
    RemoveTotp,
    /// Go to passkey registration, and come back here.
    AddPasskey,
    /// Remove one passkey.
    RemovePasskey,
    /// Replace the recovery codes.
    RegenerateRecoveryCodes,
    /// End another browser session.
    EndSession,
    /// Revoke an application: its consent and grants.
    RevokeApp,
}

/// Every form of the account page.
#[derive(Deserialize)]
pub struct AccountForm {
    csrf_token: Option<String>,
    action: Option<Action>,
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
    #[serde(default)]
    new_password_again: String,
    sid: Option<String>,
    client_id: Option<String>,
    /// A passkey's credential id, base64url.
    passkey: Option<String>,
}

const WRONG_PASSWORD: &str = "Your current password is not right.";

/// The signed-in user, or where the browser must go first (remembering to come back here).
async fn signed_in_user(
    state: &AppState,
    session: &BrowserSession,
) -> Result<Result<(SignedIn, User), Response>, PageError> {
    let to = |path: &str| Redirect::to(&state.settings.issuer.endpoint(path)).into_response();
    let found = match session.signed_in().await? {
        Some(signed_in) => {
            let user_id = UserId::from_stored(signed_in.user_id.clone());
            crate::oauth::active_user(state.store.as_ref(), &user_id)
                .await?
                .map(|user| (signed_in, user))
        }
        None => None,
    };
    let Some((signed_in, user)) = found else {
        session.set_pending_account().await?;
        return Ok(Err(to(LOGIN_PATH)));
    };
    // `--require-mfa`: no page of the user's is open to a password alone.
    if state.settings.require_mfa && signed_in.authentication.acr() < Acr::Mfa {
        session.set_pending_account().await?;
        return Ok(Err(to(OTP_PATH)));
    }
    Ok(Ok((signed_in, user)))
}

/// `GET /account`.
pub async fn account_page(State(state): State<AppState>, session: BrowserSession) -> Response {
    page(&state, &session)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

async fn page(state: &AppState, session: &BrowserSession) -> Result<Response, PageError> {
    match signed_in_user(state, session).await? {
        Ok((signed_in, user)) => {
            view::show(state, session, &signed_in, &user, Banner::default()).await
        }
        Err(elsewhere) => Ok(elsewhere),
    }
}

/// `POST /account`.
pub async fn account_submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: BrowserSession,
    Form(form): Form<AccountForm>,
) -> Response {
    submit(&state, &session, peer, form)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// The request being answered: who, from where.
struct Request<'a> {
    state: &'a AppState,
    session: &'a BrowserSession,
    signed_in: SignedIn,
    user: User,
    peer: SocketAddr,
}

impl Request<'_> {
    /// The account page again, with `notice` or `error`.
    async fn show(&self, banner: Banner<'_>) -> Result<Response, PageError> {
        view::show(
            self.state,
            self.session,
            &self.signed_in,
            &self.user,
            banner,
        )
        .await
    }

    async fn refused(&self, error: &str) -> Result<Response, PageError> {
        self.show(Banner {
            notice: None,
            error: Some(error),
        })
        .await
    }

    async fn done(&self, notice: &str) -> Result<Response, PageError> {
        self.show(Banner {
            notice: Some(notice),
            error: None,
        })
        .await
    }

    /// An event about the user, by the user, from this request's address.
    fn event(&self, event_type: EventType) -> AuditEvent {
        AuditEvent::new(
            event_type,
            self.state.clock.now(),
            format!("user:{}", self.user.user_id),
        )
        .user(self.user.user_id.to_string())
    }

    fn address(&self) -> String {
        self.peer.ip().to_string()
    }

    fn keep_until(&self, now: i64) -> i64 {
        revocations_kept_until(now, self.state.settings.lifetimes.revocation_retention())
    }

    /// The current password, confirmed; or the page (or error) that says why not. A wrong password
    /// is a failed sign-in in the audit trail, as on the login page.
    async fn confirm(&self, password: String) -> Result<Option<Response>, PageError> {
        let now = self.state.clock.now();
        let confirmed = confirm_password(
            self.state.store.as_ref(),
            &self.state.passwords,
            &self.user,
            SecretString::from(password),
            self.peer.ip(),
            now,
        )
        .await?;
        match confirmed {
            Ok(()) => Ok(None),
            Err(refusal) => self.refusal(refusal).await.map(Some),
        }
    }

    async fn refusal(&self, refusal: Refusal) -> Result<Response, PageError> {
        let outcome = match refusal {
            Refusal::Throttled { retry_after } => {
                return Err(PageError::too_many_sign_ins(retry_after));
            }
            Refusal::Busy => return Err(PageError::unavailable()),
            Refusal::WrongCredentials => "wrong_password",
            Refusal::Disabled => "disabled",
        };
        audit::record_or_log(
            self.state.store.as_ref(),
            self.event(EventType::SignInFailed).detail(json!({
                "outcome": outcome,
                "username": self.user.username,
                "address": self.address(),
                "during": "account",
            })),
        )
        .await;
        self.refused(WRONG_PASSWORD).await
    }
}

async fn submit(
    state: &AppState,
    session: &BrowserSession,
    peer: SocketAddr,
    form: AccountForm,
) -> Result<Response, PageError> {
    session.check_csrf(form.csrf_token.as_deref()).await?;
    let (signed_in, user) = match signed_in_user(state, session).await? {
        Ok(found) => found,
        Err(elsewhere) => return Ok(elsewhere),
    };
    let request = Request {
        state,
        session,
        signed_in,
        user,
        peer,
    };
    match form.action {
        Some(Action::ChangePassword) => change(&request, form).await,
        Some(Action::SetUpTotp) => set_up_totp(&request).await,
        Some(Action::RemoveTotp) => remove_totp(&request, form.current_password).await,
        Some(Action::AddPasskey) => add_passkey(&request).await,
        Some(Action::RemovePasskey) => {
            let passkey = form.passkey.unwrap_or_default();
            remove_passkey(&request, &passkey, form.current_password).await
        }
        Some(Action::RegenerateRecoveryCodes) => {
            regenerate_codes(&request, form.current_password).await
        }
        Some(Action::EndSession) => end_session(&request, form.sid.unwrap_or_default()).await,
        Some(Action::RevokeApp) => revoke_app(&request, form.client_id.unwrap_or_default()).await,
        None => request.refused("Choose something to change.").await,
    }
}

/// Change the password; the other sessions end and every grant is revoked, and this browser is
/// signed in again under a new session id and `sid`.
async fn change(request: &Request<'_>, form: AccountForm) -> Result<Response, PageError> {
    if form.new_password != form.new_password_again {
        return request
            .refused("The new password and its confirmation differ.")
            .await;
    }
    let state = request.state;
    let now = state.clock.now();
    // That the password changed and from where; never a password.
    let event = request
        .event(EventType::AccountPasswordChanged)
        .detail(json!({ "address": request.address() }));
    let changed = change_password(
        state.store.as_ref(),
        &state.passwords,
        &request.user,
        NewPassword {
            current: SecretString::from(form.current_password),
            new: SecretString::from(form.new_password),
            address: request.peer.ip(),
        },
        now,
        request.keep_until(now),
        &event,
    )
    .await?;
    match changed {
        PasswordChange::Changed(_) => {}
        PasswordChange::Refused(refusal) => return request.refusal(refusal).await,
        PasswordChange::Weak(why) => {
            return request
                .refused(&format!("Choose another password: {why}."))
                .await;
        }
        PasswordChange::Unchanged => {
            return request
                .refused("The new password must differ from the current one.")
                .await;
        }
        PasswordChange::Gone => return Err(PageError::forbidden("This account no longer exists.")),
    }
    // Logout tokens for the clients of the sessions that ended (OIDC Back-Channel Logout §2.7).
    state.logouts.wake();
    // This instance answers for the revoked grants from the next request on.
    state
        .revocations
        .caught_up_after_write(state.store.as_ref(), now)
        .await;
    // Every session ended in the store, this one too: it goes on under a new id and a new `sid`
    // (the old one's clients were just told it ended), with the same authentication.
    request
        .session
        .sign_in(
            SignedIn {
                sid: Some(random_string(16)),
                ..request.signed_in.clone()
            },
            state.settings.lifetimes.session,
        )
        .await?;
    let signed_in = request
        .session
        .signed_in()
        .await?
        .unwrap_or_else(|| request.signed_in.clone());
    view::show(
        state,
        request.session,
        &signed_in,
        &request.user,
        Banner {
            notice: Some(
                "Your password is changed. You were signed out everywhere else, and applications must ask for access again.",
            ),
            error: None,
        },
    )
    .await
}

/// Enrol an authenticator app on `/otp-setup`, then come back here.
async fn set_up_totp(request: &Request<'_>) -> Result<Response, PageError> {
    let factors =
        crate::admin::user::second_factors(request.state.store.as_ref(), &request.user.user_id)
            .await?;
    if factors.totp {
        return request
            .refused("An authenticator app is set up already. Remove it first to set up another.")
            .await;
    }
    request.session.set_pending_account().await?;
    Ok(Redirect::to(&request.state.settings.issuer.endpoint(OTP_SETUP_PATH)).into_response())
}

/// Remove the authenticator app and its recovery codes, with the current password.
///
/// The password, not a code from the app: the user most likely removes the app because they lost
/// it (a recovery code would then be spent on a removal), and the password is what a stolen
/// session lacks (ASVS 4.0.3 §3.7.1). A two-factor session stays what it was; the next sign-in is
/// by password alone.
async fn remove_totp(request: &Request<'_>, password: String) -> Result<Response, PageError> {
    let factors =
        crate::admin::user::second_factors(request.state.store.as_ref(), &request.user.user_id)
            .await?;
    if request.state.settings.require_mfa && factors.passkeys == 0 {
        return request.refused(LAST_FACTOR).await;
    }
    if let Some(refused) = request.confirm(password).await? {
        return Ok(refused);
    }
    let store = request.state.store.as_ref();
    // The removal and its audit event commit together.
    let event = request
        .event(EventType::AccountSecondFactorRemoved)
        .detail(json!({ "factor": "totp", "address": request.address() }));
    if !store
        .remove_totp(&request.user.user_id, InTransaction::done(&event))
        .await?
    {
        return request
            .refused("There is no authenticator app to remove.")
            .await;
    }
    audit::log(&event);
    request
        .done("Your authenticator app and recovery codes are removed.")
        .await
}

/// This server needs a second factor of everyone: the last one cannot go.
const LAST_FACTOR: &str =
    "This server requires a second factor for everyone: add another before removing this one.";

/// Go to passkey registration (a two-factor session, or a user without a factor, may add one),
/// and come back here.
async fn add_passkey(request: &Request<'_>) -> Result<Response, PageError> {
    request.session.set_pending_account().await?;
    Ok(Redirect::to(&request.state.settings.issuer.endpoint(PASSKEY_SETUP_PATH)).into_response())
}

/// Remove one passkey, with the current password (as for the authenticator app: the passkey may
/// be lost). The recovery codes go with the last factor.
async fn remove_passkey(
    request: &Request<'_>,
    passkey: &str,
    password: String,
) -> Result<Response, PageError> {
    let store = request.state.store.as_ref();
    let user_id = &request.user.user_id;
    let Ok(credential_id) = URL_SAFE_NO_PAD.decode(passkey) else {
        return request.refused("There is no such passkey.").await;
    };
    let factors = crate::admin::user::second_factors(store, user_id).await?;
    if request.state.settings.require_mfa && !factors.totp && factors.passkeys <= 1 {
        return request.refused(LAST_FACTOR).await;
    }
    if let Some(refused) = request.confirm(password).await? {
        return Ok(refused);
    }
    let name = store
        .list_passkeys(user_id)
        .await?
        .into_iter()
        .find(|p| p.credential_id == credential_id)
        .map(|p| p.name);
    let event = request
        .event(EventType::AccountSecondFactorRemoved)
        .detail(json!({ "factor": "passkey", "name": name, "address": request.address() }));
    if !store
        .remove_passkey(user_id, &credential_id, InTransaction::done(&event))
        .await?
    {
        return request.refused("There is no such passkey.").await;
    }
    audit::log(&event);
    request.done("The passkey is removed.").await
}

/// Replace the recovery codes (the old ones stop working), with the current password; the new ones
/// are shown once.
async fn regenerate_codes(request: &Request<'_>, password: String) -> Result<Response, PageError> {
    let store = request.state.store.as_ref();
    let factors = crate::admin::user::second_factors(store, &request.user.user_id).await?;
    if !factors.any() {
        return request
            .refused("Recovery codes stand in for a second factor: set one up first.")
            .await;
    }
    if let Some(refused) = request.confirm(password).await? {
        return Ok(refused);
    }
    let (codes, hashes) = new_recovery_codes();
    let event = request
        .event(EventType::AccountRecoveryCodesRegenerated)
        .detail(json!({ "count": codes.len(), "address": request.address() }));
    store
        .replace_recovery_codes(
            &request.user.user_id,
            &hashes,
            request.state.clock.now(),
            InTransaction::done(&event),
        )
        .await?;
    audit::log(&event);
    Ok(view::recovery_codes(&codes))
}

/// End another of the user's browser sessions (and what was issued in it).
async fn end_session(request: &Request<'_>, sid: String) -> Result<Response, PageError> {
    if request.signed_in.sid.as_deref() == Some(sid.as_str()) {
        return request
            .refused("That is this browser's session: sign out instead.")
            .await;
    }
    let now = request.state.clock.now();
    let event = request
        .event(EventType::AccountSessionEnded)
        .detail(json!({ "sid": sid, "address": request.address() }));
    let ended = !sid.is_empty()
        && request
            .state
            .store
            .end_user_session(
                &request.user.user_id,
                &sid,
                now,
                request.keep_until(now),
                InTransaction::done(&event),
            )
            .await?;
    if !ended {
        return request.refused("That session has ended already.").await;
    }
    request.state.logouts.wake();
    request
        .state
        .revocations
        .caught_up_after_write(request.state.store.as_ref(), now)
        .await;
    request.done("The session is ended.").await
}

/// Revoke an application: the consent, and every grant of the user's to it (refresh tokens
/// refused, access tokens inactive at introspection; RFC 7009 §2.1).
async fn revoke_app(request: &Request<'_>, client_id: String) -> Result<Response, PageError> {
    let Ok(client_id) = ClientId::parse(&client_id) else {
        return request.refused("That application is not connected.").await;
    };
    let now = request.state.clock.now();
    let event = request
        .event(EventType::AccountConsentRevoked)
        .client(client_id.to_string())
        .detail(json!({ "address": request.address() }));
    let revoked = request
        .state
        .store
        .revoke_consent(
            &request.user.user_id,
            &client_id,
            now,
            request.keep_until(now),
            InTransaction::done(&event),
        )
        .await?;
    if !revoked.consent && revoked.grants == 0 {
        return request.refused("That application is not connected.").await;
    }
    request
        .state
        .revocations
        .caught_up_after_write(request.state.store.as_ref(), now)
        .await;
    request
        .done("The application's access is revoked. It must ask again to use your account.")
        .await
}
