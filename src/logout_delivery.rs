//! Delivering back-channel logout tokens (OIDC Back-Channel Logout 1.0 §2.5) from the store's
//! outbox, in the background of `serve`.
//!
//! Ending sessions writes the deliveries in the same transaction (`domain::logout`); every
//! instance then claims due deliveries (a lease in the store, so no two instances send the same
//! one at once), signs each logout token afresh, and POSTs it with a timeout. A failure is tried
//! again later (`domain::logout::retry_delay`) and given up after the last attempt. The user's
//! request never waits for a client: the instance that ended a session only wakes its deliverer,
//! and deliveries queued elsewhere (the CLI on the database) are found by polling.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use crate::client_cache::ClientCache;
use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::logout::{CLAIM_LEASE, LogoutDelivery, retry_delay};
use crate::keys::KeyRing;
use crate::metrics::{LogoutOutcome, Metrics};
use crate::oauth::backchannel_logout::logout_token;
use crate::store::{Store, StoreError};

/// How often each instance looks for deliveries queued by someone else.
pub const POLL_INTERVAL: Duration = Duration::from_secs(2);

/// How long a client has to answer one logout token.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Deliveries claimed at once (and sent concurrently).
const BATCH: i64 = 32;

/// Wakes this instance's deliverer now (after a session ended here) instead of at its next poll.
#[derive(Debug, Default)]
pub struct Outbox {
    wake: Notify,
}

impl Outbox {
    /// Deliver what was just queued.
    pub fn wake(&self) {
        self.wake.notify_one();
    }
}

/// What delivering needs; cheap to clone (everything is shared).
#[derive(Clone)]
pub struct Deliverer {
    store: Arc<dyn Store>,
    keys: Arc<KeyRing>,
    settings: Arc<Settings>,
    clients: Arc<ClientCache>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    http: reqwest::Client,
}

impl Deliverer {
    /// A deliverer over the server's shared parts.
    pub fn new(
        store: Arc<dyn Store>,
        keys: Arc<KeyRing>,
        settings: Arc<Settings>,
        clients: Arc<ClientCache>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, String> {
        let http = crate::http_client::builder()
            .map_err(|e| format!("outgoing TLS: {e}"))?
            .connect_timeout(REQUEST_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| format!("outgoing HTTP client: {e}"))?;
        Ok(Self {
            store,
            keys,
            settings,
            clients,
            clock,
            metrics,
            http,
        })
    }

    /// Deliver everything due now, a batch at a time; answers how many attempts were made.
    pub async fn deliver_due(&self) -> Result<usize, StoreError> {
        let mut attempts = 0;
        loop {
            let now = self.clock.now();
            let batch = self
                .store
                .claim_logout_deliveries(now, now.saturating_add(CLAIM_LEASE), BATCH)
                .await?;
            let claimed = batch.len();
            let mut sending = tokio::task::JoinSet::new();
            for delivery in batch {
                let this = self.clone();
                sending.spawn(async move { this.deliver(delivery).await });
            }
            while let Some(done) = sending.join_next().await {
                if let Ok(Err(err)) = done {
                    tracing::warn!(error = %err, "back-channel logout: the outbox could not be updated");
                }
            }
            attempts += claimed;
            if claimed < BATCH as usize {
                return Ok(attempts);
            }
        }
    }

    /// One attempt: sign, POST (§2.5: `application/x-www-form-urlencoded`, `logout_token`), and
    /// record the outcome. Never logs the token.
    async fn deliver(&self, delivery: LogoutDelivery) -> Result<(), StoreError> {
        let now = self.clock.now();
        let client = self
            .clients
            .find(self.store.as_ref(), &delivery.client_id, now)
            .await?;
        // The client was deleted, or no longer takes logout tokens: nothing to deliver.
        let Some((client, uri)) = client.and_then(|c| {
            let uri = c.backchannel_logout_uri.clone()?;
            Some((c, uri))
        }) else {
            return self.store.finish_logout_delivery(&delivery.jti, None).await;
        };
        let failure = match logout_token(&self.keys, &self.settings, &client, &delivery, now) {
            Ok(token) => {
                let body = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("logout_token", &token)
                    .finish();
                let sent = self
                    .http
                    .post(&uri)
                    .header(
                        reqwest::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .body(body)
                    .send()
                    .await;
                match sent {
                    // §2.8: 200 OK (204 is accepted too); anything else is a failure.
                    Ok(response) if response.status().is_success() => None,
                    Ok(response) => Some(format!("answered {}", response.status().as_u16())),
                    Err(err) if err.is_timeout() => Some("did not answer in time".to_owned()),
                    Err(_) => Some("could not be reached".to_owned()),
                }
            }
            Err(_) => Some("the logout token could not be signed".to_owned()),
        };
        let client_id = delivery.client_id.as_str();
        let Some(why) = failure else {
            tracing::info!(
                client_id,
                attempt = delivery.attempts,
                "back-channel logout delivered"
            );
            self.metrics.logout_delivery(LogoutOutcome::Delivered);
            return self.store.finish_logout_delivery(&delivery.jti, None).await;
        };
        match retry_delay(delivery.attempts) {
            Some(delay) => {
                tracing::info!(
                    client_id,
                    attempt = delivery.attempts,
                    retry_in = delay,
                    "back-channel logout failed: the client {why}"
                );
                self.metrics.logout_delivery(LogoutOutcome::Retrying);
                self.store
                    .finish_logout_delivery(&delivery.jti, Some(now.saturating_add(delay)))
                    .await
            }
            None => {
                tracing::warn!(
                    client_id,
                    attempt = delivery.attempts,
                    "back-channel logout given up: the client {why}"
                );
                self.metrics.logout_delivery(LogoutOutcome::Abandoned);
                self.store.finish_logout_delivery(&delivery.jti, None).await
            }
        }
    }

    /// Deliver whenever `outbox` is woken, and every [`POLL_INTERVAL`] in any case.
    pub fn spawn(self, outbox: Arc<Outbox>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    () = outbox.wake.notified() => {}
                    () = tokio::time::sleep(POLL_INTERVAL) => {}
                }
                if let Err(err) = self.deliver_due().await {
                    tracing::warn!(error = %err, "back-channel logout: the outbox could not be read; will retry");
                }
            }
        })
    }
}
