//! The store adapter: tower-sessions' records kept in Latchkey's own store. It is the one place
//! every write passes through, so the rules that must hold for every session are kept here: the id
//! is stored only as its SHA-256 (DESIGN.md "Tokens"), the record is linked to its signed-in user
//! (so all of a user's sessions can be ended at once), a session nobody has signed in to never
//! lives longer than [`ANONYMOUS_TTL`], and the id renewal at sign-in is one UPDATE.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};

use super::{ANONYMOUS_TTL, SIGNED_IN, SIGNED_IN_FROM, SignedIn, SignedInFrom};
use crate::clock::{Clock, SystemClock};
use crate::domain::account::{SessionDevice, SessionRecord};
use crate::domain::secret::TokenHash;
use crate::domain::user::UserId;
use crate::endpoints::page::PageError;
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

/// Run `cycle_id` (tower-sessions' id renewal) so that its delete of the old record is kept back for
/// [`StoreSessions`]' `create`, which renames the record instead (one UPDATE). Outside the
/// middleware's scope the renewal is tower-sessions' own: a delete, then an insert.
pub(super) async fn renewing<T>(cycle: impl Future<Output = T>) -> T {
    let _ = REQUEST.try_with(|request| request.renewing.set(true));
    let cycled = cycle.await;
    // Whatever happened, no later delete in this request is taken for the renewal.
    let _ = REQUEST.try_with(|request| request.renewing.set(false));
    cycled
}
