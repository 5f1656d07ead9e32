//! Browser sessions: tower-sessions records kept in Latchkey's own store (so any instance serves any
//! request), and a typed wrapper with constant keys.
//!
//! The store adapter (`store.rs`) keeps the rules every session write must follow; the pages' CSRF
//! protection (`csrf.rs`) needs no session at all.

mod csrf;
mod store;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::header;
use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use tower_cookies::Cookies;
use tower_sessions::{Expiry, Session};

use self::csrf::PageCsrf;
pub use self::store::{StoreSessions, unavailable_when_save_fails};
use super::page::PageError;
use crate::domain::account::user_agent_text;
use crate::domain::authn::Authentication;
use crate::state::AppState;

/// The signed-in user of a browser session.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SignedIn {
    /// The user's `sub`.
    pub user_id: String,
    /// When they authenticated (OIDC Core §2 `auth_time`).
    pub auth_time: i64,
    /// How (RFC 8176 `amr`); a session from before methods were recorded signed in by password.
    #[serde(default)]
    pub authentication: Authentication,
    /// The session's `sid` (OIDC Back-Channel Logout §2.1): random, set at sign-in, carried into
    /// the codes and ID tokens issued in this session. `None` in a session signed in before
    /// `sid`s existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// Where the request that signed a session in came from (kept in the session's data, copied beside
/// it by [`StoreSessions`] so the account page can list it).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(super) struct SignedInFrom {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_agent: Option<String>,
}

pub(super) const SIGNED_IN: &str = "signed_in";
pub(super) const SIGNED_IN_FROM: &str = "signed_in_from";
const PENDING_ACCOUNT: &str = "pending_account";
/// How long a session nobody has signed in to lives without activity. Anyone can create one (by
/// opening the login page, or an authorization URL with a public client id), so it must not
/// occupy the store for the whole `--session-ttl`; housekeeping deletes it soon after.
pub const ANONYMOUS_TTL: i64 = 15 * 60;
const PENDING: &str = "pending_authorization";
const PENDING_DEVICE: &str = "pending_device";
const PASSKEY_CEREMONY: &str = "passkey_ceremony";

/// The browser session, with typed accessors under constant keys, where this request came from
/// (recorded when it signs the session in), and the pages' CSRF protection.
pub struct BrowserSession(Session, SignedInFrom, PageCsrf);

impl FromRequestParts<AppState> for BrowserSession {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|_| PageError::internal())?;
        // The TCP peer (or the client a trusted PROXY header names: `tls::peer` sets it), and the
        // User-Agent made printable; neither is trusted for anything but showing it to the user.
        let from = SignedInFrom {
            address: parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| peer.ip().to_string()),
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .and_then(user_agent_text),
        };
        // tower-sessions' layer puts the request's cookie jar here; its changes go out with the
        // response.
        let cookies = parts
            .extensions
            .get::<Cookies>()
            .cloned()
            .ok_or_else(PageError::internal)?;
        let csrf = PageCsrf {
            cookies,
            keys: state.keys.clone(),
            settings: state.settings.clone(),
        };
        Ok(Self(session, from, csrf))
    }
}

fn session_failed(err: tower_sessions::session::Error) -> PageError {
    tracing::error!(error = %err, "browser session store failed");
    PageError::unavailable()
}

impl BrowserSession {
    /// Give a session that nobody has signed in to the short [`ANONYMOUS_TTL`] in its cookie's
    /// `Max-Age` too. (The stored expiry is capped by [`StoreSessions`] on every save, whatever
    /// this request set.)
    async fn limit_if_anonymous(&self) -> Result<(), PageError> {
        if self.signed_in().await?.is_none() {
            self.0
                .set_expiry(Some(Expiry::OnInactivity(time::Duration::seconds(
                    ANONYMOUS_TTL,
                ))));
        }
        Ok(())
    }

    /// Who is signed in, if anyone.
    pub async fn signed_in(&self) -> Result<Option<SignedIn>, PageError> {
        self.0.get(SIGNED_IN).await.map_err(session_failed)
    }

    /// Record a successful sign-in under a NEW session id (no session fixation), keeping the
    /// pending authorization request. A stored session is renamed in one UPDATE (see
    /// [`StoreSessions`]); a browser with none gets a new one.
    pub async fn sign_in(&self, user: SignedIn, session_ttl: i64) -> Result<(), PageError> {
        // Reading the record first tells whether the cookie names a stored session.
        self.signed_in().await?;
        if self.0.id().is_some() {
            store::renewing(self.0.cycle_id())
                .await
                .map_err(session_failed)?;
        }
        // Signed in: the full `--session-ttl` (anonymous sessions get ANONYMOUS_TTL).
        self.0
            .set_expiry(Some(Expiry::OnInactivity(time::Duration::seconds(
                session_ttl,
            ))));
        self.0
            .insert(SIGNED_IN, user)
            .await
            .map_err(session_failed)?;
        self.0
            .insert(SIGNED_IN_FROM, &self.1)
            .await
            .map_err(session_failed)?;
        // The pages' CSRF tokens change with it: they are bound to the new `sid`.
        Ok(())
    }

    /// End the session: every value is dropped and the record deleted.
    pub async fn sign_out(&self) -> Result<(), PageError> {
        self.0.flush().await.map_err(session_failed)
    }

    /// What the CSRF token is bound to: the signed-in session's `sid`, empty before sign-in.
    async fn csrf_binding(&self) -> Result<String, PageError> {
        Ok(self
            .signed_in()
            .await?
            .and_then(|signed_in| signed_in.sid)
            .unwrap_or_default())
    }

    /// The CSRF token of this browser's forms (see [`PageCsrf`]): nothing is written to the store.
    pub async fn csrf_token(&self) -> Result<String, PageError> {
        let value = self.2.value_or_set();
        Ok(self.2.token(&value, &self.csrf_binding().await?))
    }

    /// Check a form's CSRF token against this browser's cookie and session, in constant time.
    pub async fn check_csrf(&self, presented: Option<&str>) -> Result<(), PageError> {
        let ok = match (self.2.value(), presented) {
            (Some(value), Some(presented)) => {
                let expected = self.2.token(&value, &self.csrf_binding().await?);
                aws_lc_rs::constant_time::verify_slices_are_equal(
                    expected.as_bytes(),
                    presented.as_bytes(),
                )
                .is_ok()
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(PageError::forbidden(
                "This form has expired or was not sent by this site. Go back, reload the page and try again.",
            ))
        }
    }

    /// The authorization request waiting for sign-in or consent.
    pub async fn pending<T: serde::de::DeserializeOwned>(&self) -> Result<Option<T>, PageError> {
        self.0.get(PENDING).await.map_err(session_failed)
    }

    /// Keep an authorization request server-side while the user signs in or consents.
    pub async fn set_pending<T: Serialize>(&self, pending: &T) -> Result<(), PageError> {
        self.limit_if_anonymous().await?;
        self.0
            .insert(PENDING, pending)
            .await
            .map_err(session_failed)
    }

    /// The device request (RFC 8628 §3.3) whose user code was entered, waiting for sign-in and the
    /// user's decision.
    pub async fn pending_device<T: serde::de::DeserializeOwned>(
        &self,
    ) -> Result<Option<T>, PageError> {
        self.0.get(PENDING_DEVICE).await.map_err(session_failed)
    }

    /// Keep the device request whose user code was entered while the user signs in and decides.
    pub async fn set_pending_device<T: Serialize>(&self, pending: &T) -> Result<(), PageError> {
        self.limit_if_anonymous().await?;
        self.0
            .insert(PENDING_DEVICE, pending)
            .await
            .map_err(session_failed)
    }

    /// Forget the device request.
    pub async fn clear_pending_device(&self) -> Result<(), PageError> {
        if self
            .0
            .get_value(PENDING_DEVICE)
            .await
            .map_err(session_failed)?
            .is_some()
        {
            self.0
                .remove_value(PENDING_DEVICE)
                .await
                .map_err(session_failed)?;
        }
        Ok(())
    }

    /// Come back to the account page once signed in (with the second factor when it is required), or
    /// once a factor started there is set up.
    pub async fn set_pending_account(&self) -> Result<(), PageError> {
        self.limit_if_anonymous().await?;
        self.0
            .insert(PENDING_ACCOUNT, true)
            .await
            .map_err(session_failed)
    }

    /// Whether the account page is waiting (kept).
    pub async fn pending_account(&self) -> Result<bool, PageError> {
        let pending: Option<bool> = self.0.get(PENDING_ACCOUNT).await.map_err(session_failed)?;
        Ok(pending.unwrap_or(false))
    }

    /// Whether the account page is waiting, forgetting it: true once.
    pub async fn take_pending_account(&self) -> Result<bool, PageError> {
        // Read first: removing marks the session modified (a store write) even when absent.
        let pending: Option<bool> = self.0.get(PENDING_ACCOUNT).await.map_err(session_failed)?;
        if pending.is_some() {
            self.0
                .remove_value(PENDING_ACCOUNT)
                .await
                .map_err(session_failed)?;
        }
        Ok(pending.unwrap_or(false))
    }

    /// Remember the passkey ceremony this browser began (its id; the store keeps its state), so
    /// only this browser can finish it. A new one replaces it.
    pub async fn set_passkey_ceremony(&self, ceremony_id: &str) -> Result<(), PageError> {
        self.limit_if_anonymous().await?;
        self.0
            .insert(PASSKEY_CEREMONY, ceremony_id)
            .await
            .map_err(session_failed)
    }

    /// The passkey ceremony this browser began, forgetting it: once.
    pub async fn take_passkey_ceremony(&self) -> Result<Option<String>, PageError> {
        let id: Option<String> = self.0.get(PASSKEY_CEREMONY).await.map_err(session_failed)?;
        if id.is_some() {
            self.0
                .remove_value(PASSKEY_CEREMONY)
                .await
                .map_err(session_failed)?;
        }
        Ok(id)
    }

    /// Forget the pending authorization request. (Removing marks the session modified, which costs a
    /// store write, so only when there is something to remove: SSO requests stay read-only.)
    pub async fn clear_pending(&self) -> Result<(), PageError> {
        if self
            .0
            .get_value(PENDING)
            .await
            .map_err(session_failed)?
            .is_some()
        {
            self.0.remove_value(PENDING).await.map_err(session_failed)?;
        }
        Ok(())
    }
}
