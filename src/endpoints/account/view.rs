//! The account page as it is drawn: the user's profile, factors, sessions and applications, with
//! times in UTC and scopes as words.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::account::{ConnectedApp, UserSession, device_name};
use crate::domain::user::User;
use crate::endpoints::page::{PageError, render};
use crate::endpoints::session::{BrowserSession, SignedIn};
use crate::state::AppState;

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage<'a> {
    csrf_token: &'a str,
    username: &'a str,
    email: Option<&'a str>,
    name: Option<&'a str>,
    notice: Option<&'a str>,
    error: Option<&'a str>,
    totp: bool,
    recovery_codes: i64,
    /// Recovery codes stand in for any second factor.
    any_factor: bool,
    passkeys: Vec<PasskeyView>,
    /// The issuer's host is a domain, so passkeys can be added.
    passkeys_available: bool,
    /// `--require-mfa`, and this is the user's only factor: it cannot be removed.
    last_factor: bool,
    sessions: Vec<SessionView>,
    apps: Vec<AppView>,
}

/// One row of "Where you are signed in".
struct SessionView {
    sid: Option<String>,
    current: bool,
    signed_in: String,
    expires: String,
    address: String,
    /// "Firefox on Linux", or the User-Agent itself when it names no browser we know.
    device: String,
    /// The whole User-Agent, under the device's name.
    user_agent: Option<String>,
}

/// One row of "Passkeys".
struct PasskeyView {
    /// The credential id, base64url: what "Remove" posts.
    id: String,
    name: String,
    added: String,
    last_used: Option<String>,
}

/// One row of "Connected applications".
struct AppView {
    client_id: String,
    client_name: String,
    scopes: Vec<String>,
    consented: Option<String>,
}

#[derive(Template)]
#[template(path = "account_recovery_codes.html")]
struct NewRecoveryCodesPage<'a> {
    codes: &'a [String],
}

/// `at` (seconds since the epoch) as `2026-11-29 19:53 UTC`.
pub fn utc(at: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(at) {
        Ok(t) => format!(
            "{}-{:02}-{:02} {:02}:{:02} UTC",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute()
        ),
        Err(_) => "unknown".to_owned(),
    }
}

fn session_view(session: UserSession, current_sid: Option<&str>) -> SessionView {
    let current = session.sid.is_some() && session.sid.as_deref() == current_sid;
    SessionView {
        current,
        signed_in: session
            .device
            .signed_in_at
            .map_or_else(|| "unknown".to_owned(), utc),
        expires: utc(session.expires_at),
        address: session
            .device
            .address
            .unwrap_or_else(|| "unknown address".to_owned()),
        device: match &session.device.user_agent {
            Some(ua) => device_name(ua).unwrap_or_else(|| ua.clone()),
            None => "Unknown browser".to_owned(),
        },
        user_agent: session
            .device
            .user_agent
            .filter(|ua| device_name(ua).is_some()),
        sid: session.sid,
    }
}

fn app_view(app: ConnectedApp) -> AppView {
    AppView {
        scopes: app.scope.split_whitespace().map(str::to_owned).collect(),
        consented: app.consented_at.map(utc),
        client_id: app.client_id,
        client_name: app.client_name,
    }
}

/// A notice or an error to show above the sections.
#[derive(Default, Clone, Copy)]
pub struct Banner<'a> {
    /// What was done.
    pub notice: Option<&'a str>,
    /// What was refused, and why.
    pub error: Option<&'a str>,
}

/// The account page of `user`, signed in as `signed_in`, with `banner`.
pub async fn show(
    state: &AppState,
    session: &BrowserSession,
    signed_in: &SignedIn,
    user: &User,
    banner: Banner<'_>,
) -> Result<Response, PageError> {
    let now = state.clock.now();
    let factors = crate::admin::user::second_factors(state.store.as_ref(), &user.user_id).await?;
    let mut sessions: Vec<SessionView> = state
        .store
        .list_user_sessions(&user.user_id, now)
        .await?
        .into_iter()
        .map(|s| session_view(s, signed_in.sid.as_deref()))
        .collect();
    // This session first, then the others, newest sign-in first.
    sessions.sort_by_key(|s| !s.current);
    let passkeys: Vec<PasskeyView> = state
        .store
        .list_passkeys(&user.user_id)
        .await?
        .into_iter()
        .map(|p| PasskeyView {
            id: URL_SAFE_NO_PAD.encode(&p.credential_id),
            name: p.name,
            added: utc(p.created_at),
            last_used: p.last_used_at.map(utc),
        })
        .collect();
    let factor_count = usize::from(factors.totp) + passkeys.len();
    let apps = state
        .store
        .list_connected_apps(&user.user_id, now)
        .await?
        .into_iter()
        .map(app_view)
        .collect();
    let page = AccountPage {
        csrf_token: &session.csrf_token().await?,
        username: &user.username,
        email: user.email.as_deref(),
        name: user.name.as_deref(),
        notice: banner.notice,
        error: banner.error,
        totp: factors.totp,
        recovery_codes: factors.recovery_codes,
        any_factor: factors.any(),
        passkeys,
        passkeys_available: crate::oauth::passkey::RelyingParty::of(state.settings.issuer.as_str())
            .is_some(),
        last_factor: state.settings.require_mfa && factor_count <= 1,
        sessions,
        apps,
    };
    Ok(render(StatusCode::OK, &page))
}

/// The new recovery codes, shown once.
pub fn recovery_codes(codes: &[String]) -> Response {
    render(StatusCode::OK, &NewRecoveryCodesPage { codes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_shown_in_utc_to_the_minute() {
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13 UTC");
        assert_eq!(utc(i64::MAX), "unknown");
    }
}
