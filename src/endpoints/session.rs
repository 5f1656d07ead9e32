//! Browser sessions: tower-sessions records kept in Latchkey's own store (so any instance serves any
//! request), and a typed wrapper with constant keys.
//!
//! The store adapter is the one place every write passes through, so the rules that must hold for
//! every session are kept there: the id is stored only as its SHA-256 (DESIGN.md "Tokens"), the
//! record is linked to its signed-in user (so all of a user's sessions can be ended at once), and a
//! session nobody has signed in to never lives longer than [`ANONYMOUS_TTL`].

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::{ConnectInfo, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use tower_cookies::Cookies;
use tower_sessions::cookie::{Cookie, SameSite};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, Session};

use super::page::PageError;
use crate::clock::{Clock, SystemClock};
use crate::domain::account::{SessionDevice, SessionRecord, user_agent_text};
use crate::domain::authn::Authentication;
use crate::domain::secret::{TokenHash, random_string};
use crate::domain::user::UserId;
use crate::keys::KeyRing;
use crate::state::AppState;
use crate::store::Store;

/// tower-sessions' store interface over [`Store`]; expiry is judged by the injected clock.
#[derive(Clone)]
pub struct StoreSessions {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for StoreSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreSessions")
    }
}

impl StoreSessions {
    /// Sessions in `store`.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }
}

/// A session as written to the store.
struct Stored {
    id_hash: TokenHash,
    user_id: Option<UserId>,
    sid: Option<String>,
    device: SessionDevice,
    data: Vec<u8>,
    expires_at: i64,
}

impl Stored {
    /// What the store writes.
    fn record(&self) -> SessionRecord<'_> {
        SessionRecord {
            id_hash: &self.id_hash,
            user_id: self.user_id.as_ref(),
            sid: self.sid.as_deref(),
            device: &self.device,
            data: &self.data,
            expires_at: self.expires_at,
        }
    }
}

impl StoreSessions {
    /// tower-sessions stamps `expiry_date` from the wall clock; re-base it onto the injected clock so
    /// the same time source stamps and judges expiry (the offset is zero outside tests).
    fn expires_at(&self, record: &Record) -> i64 {
        let offset = self.clock.now() - SystemClock.now();
        record.expiry_date.unix_timestamp().saturating_add(offset)
    }

    /// What is written for `record`: the hash of its id, its signed-in user, its values (never its
    /// id), and its expiry. tower-sessions stamps every save with the layer's `--session-ttl`
    /// (an expiry set during an earlier request is not remembered), so the anonymous limit is
    /// applied here, on every write.
    fn stored(&self, record: &Record) -> session_store::Result<Stored> {
        let signed_in = record
            .data
            .get(SIGNED_IN)
            .and_then(|value| SignedIn::deserialize(value).ok());
        let from = record
            .data
            .get(SIGNED_IN_FROM)
            .and_then(|value| SignedInFrom::deserialize(value).ok())
            .unwrap_or_default();
        let (user_id, sid, device) = match signed_in {
            Some(s) => (
                Some(UserId::from_stored(s.user_id)),
                s.sid,
                SessionDevice {
                    signed_in_at: Some(s.auth_time),
                    address: from.address,
                    user_agent: from.user_agent,
                },
            ),
            None => (None, None, SessionDevice::default()),
        };
        let mut expires_at = self.expires_at(record);
        if user_id.is_none() {
            expires_at = expires_at.min(self.clock.now().saturating_add(ANONYMOUS_TTL));
        }
        Ok(Stored {
            id_hash: hash_id(&record.id),
            user_id,
            sid,
            device,
            data: serde_json::to_vec(&record.data)
                .map_err(|e| session_store::Error::Encode(e.to_string()))?,
            expires_at,
        })
    }
}

/// The stored key of a session: the SHA-256 of its id, so the database never holds a usable cookie.
fn hash_id(id: &Id) -> TokenHash {
    TokenHash::of(&id.to_string())
}

fn backend(err: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(err.to_string())
}

/// What the store adapter keeps for the request being served (scoped by
/// [`unavailable_when_save_fails`], around tower-sessions' layer and the handler).
#[derive(Default)]
struct RequestSession {
    /// The store failed to save the session.
    save_failed: Cell<bool>,
    /// [`BrowserSession::sign_in`] is renewing the id: the next delete is the old id's.
    renewing: Cell<bool>,
    /// The old id's hash, kept (not deleted) until the record is written under its new id.
    renewed_from: RefCell<Option<TokenHash>>,
}

tokio::task_local! {
    static REQUEST: RequestSession;
}

/// A failed write of the session: noted for [`unavailable_when_save_fails`], then passed on.
fn save_failed(err: impl std::fmt::Display) -> session_store::Error {
    // Outside the middleware (no scope) there is no one to tell; the error still propagates.
    let _ = REQUEST.try_with(|request| request.save_failed.set(true));
    backend(err)
}

/// Middleware around tower-sessions' layer: a session the store could not save answers the 503
/// page with `Retry-After`, like every other store outage (DESIGN.md "Errors and bad input").
///
/// The layer saves after the handler has answered and, when the store fails, replaces the answer
/// with a bare 500 it builds itself. Its save runs inside this middleware's future (no task is
/// spawned in between), so the store adapter can report the failure through a task-local flag.
pub async fn unavailable_when_save_fails(request: Request, next: Next) -> Response {
    REQUEST
        .scope(RequestSession::default(), async move {
            let response = next.run(request).await;
            if REQUEST.with(|request| request.save_failed.get()) {
                PageError::unavailable().into_response()
            } else {
                response
            }
        })
        .await
}

#[async_trait]
impl SessionStore for StoreSessions {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // The id renewed at sign-in: the old record moves to the new id in one UPDATE.
        let renewed_from = REQUEST
            .try_with(|request| request.renewed_from.borrow_mut().take())
            .ok()
            .flatten();
        if let Some(from) = renewed_from {
            let stored = self.stored(record)?;
            let renamed = self
                .store
                .rename_session(&from, &stored.record())
                .await
                .map_err(save_failed)?;
            if renamed {
                return Ok(());
            }
            // Ended meanwhile by another request, or the new id is taken (a 2^-128 chance): the
            // old id must not live on either way, and the session is created below as before.
            self.store
                .delete_session(&from)
                .await
                .map_err(save_failed)?;
        }
        // A fresh random id until one is free: ids never collide silently.
        loop {
            let stored = self.stored(record)?;
            let created = self
                .store
                .create_session(&stored.record())
                .await
                .map_err(save_failed)?;
            if created {
                return Ok(());
            }
            record.id = Id::default();
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let stored = self.stored(record)?;
        let saved = self
            .store
            .save_session(&stored.record())
            .await
            .map_err(save_failed)?;
        if !saved {
            // Ended by another request meanwhile (sign-out, or the user's sessions revoked): it
            // stays ended, and the browser's next request starts a new session.
            tracing::info!("browser session ended during the request; not saved again");
        }
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let now = self.clock.now();
        let data = self
            .store
            .load_session(&hash_id(id), now)
            .await
            .map_err(backend)?;
        match data {
            Some(bytes) => Ok(Some(Record {
                id: *id,
                data: serde_json::from_slice(&bytes)
                    .map_err(|e| session_store::Error::Decode(e.to_string()))?,
                // Never read: tower-sessions stamps a new expiry on every save.
                expiry_date: time::OffsetDateTime::from_unix_timestamp(now)
                    .map_err(|e| session_store::Error::Decode(e.to_string()))?,
            })),
            None => Ok(None),
        }
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        // tower-sessions renews an id by deleting the old record at once and creating the new one
        // when the response is saved: at sign-in the old id is kept for `create` to rename instead,
        // so the renewal is one statement (and a failed request leaves the session as it was).
        let kept = REQUEST
            .try_with(|request| {
                let renewing = request.renewing.replace(false);
                if renewing {
                    *request.renewed_from.borrow_mut() = Some(hash_id(id));
                }
                renewing
            })
            .unwrap_or(false);
        if kept {
            return Ok(());
        }
        self.store
            .delete_session(&hash_id(id))
            .await
            .map_err(backend)
    }
}

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
struct SignedInFrom {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    user_agent: Option<String>,
}

const SIGNED_IN: &str = "signed_in";
const SIGNED_IN_FROM: &str = "signed_in_from";
const PENDING_ACCOUNT: &str = "pending_account";
/// How long a session nobody has signed in to lives without activity. Anyone can create one (by
/// opening the login page, or an authorization URL with a public client id), so it must not
/// occupy the store for the whole `--session-ttl`; housekeeping deletes it soon after.
pub const ANONYMOUS_TTL: i64 = 15 * 60;
const PENDING: &str = "pending_authorization";
const PENDING_DEVICE: &str = "pending_device";
const PASSKEY_CEREMONY: &str = "passkey_ceremony";

/// The browser's CSRF cookie: a random value the pages' forms are bound to (see [`PageCsrf`]).
const CSRF_COOKIE: &str = "latchkey_csrf";

/// The pages' CSRF protection, a signed double-submit token (OWASP CSRF Prevention Cheat Sheet,
/// "Signed Double-Submit Cookie"): the browser holds a random value in the [`CSRF_COOKIE`] cookie
/// (HttpOnly, SameSite=Lax, this issuer's path), and every form carries the HMAC-SHA256 of that
/// value and of the signed-in session's `sid`, under a key derived from the key-encryption secret.
/// A cross-site form can neither read the cookie nor sign a value it planted, and the token changes
/// with every sign-in. Showing a form writes nothing to the store, so the login page costs no
/// session, and any instance accepts a form another rendered.
struct PageCsrf {
    cookies: Cookies,
    keys: Arc<KeyRing>,
    /// The cookie's `Secure` attribute (an `https` issuer).
    secure: bool,
    /// The cookie's path: the issuer's.
    path: String,
}

impl PageCsrf {
    /// The browser's CSRF value, if it sent a well-formed one (or this response sets one).
    fn value(&self) -> Option<String> {
        let value = self.cookies.get(CSRF_COOKIE)?.value().to_owned();
        let well_formed = value.len() == 43
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        well_formed.then_some(value)
    }

    /// The browser's CSRF value, set now if it has none.
    fn value_or_set(&self) -> String {
        if let Some(value) = self.value() {
            return value;
        }
        let value = random_string(32);
        let mut cookie = Cookie::new(CSRF_COOKIE, value.clone());
        cookie.set_http_only(true);
        cookie.set_same_site(SameSite::Lax);
        cookie.set_secure(self.secure);
        cookie.set_path(self.path.clone());
        self.cookies.add(cookie);
        value
    }

    /// The form token of `value` for a session signed in as `sid` (empty before sign-in).
    fn token(&self, value: &str, sid: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.keys.kek().csrf_tag(value, sid))
    }
}

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
        let issuer = &state.settings.issuer;
        let csrf = PageCsrf {
            cookies,
            keys: state.keys.clone(),
            secure: issuer.is_https(),
            path: match issuer.path() {
                "" => "/".to_owned(),
                path => path.to_owned(),
            },
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
            let _ = REQUEST.try_with(|request| request.renewing.set(true));
            let cycled = self.0.cycle_id().await;
            // Whatever happened, no later delete in this request is taken for the renewal.
            let _ = REQUEST.try_with(|request| request.renewing.set(false));
            cycled.map_err(session_failed)?;
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
