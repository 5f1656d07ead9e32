//! The back-channel logout outbox (OIDC Back-Channel Logout 1.0), generated per backend by
//! [`logouts_impl!`]: queueing a logout token for every client an ending session signed in to
//! (inside the caller's transaction), and claiming and finishing deliveries.

/// The `logouts` module of a backend with pool `$pool` and connection `$conn`.
macro_rules! logouts_impl {
    ($pool:ty, $conn:ty) => {
        mod logouts {
            //! The logout outbox: `session_clients` says which clients a session signed in to;
            //! `logout_deliveries` holds the logout tokens still to deliver.

            use crate::domain::client::ClientId;
            use crate::domain::logout::LogoutDelivery;
            use crate::domain::secret::random_string;
            use crate::domain::user::UserId;
            use crate::store::StoreError;

            /// Which sessions end: one (`/end_session`), or every session of a user.
            pub(crate) enum Ending<'a> {
                /// The session `sid`.
                Session(&'a str),
                /// Every session of this user.
                User(&'a str),
            }

            /// Queue a logout token for each client (with a `backchannel_logout_uri`) that the
            /// ending sessions signed in to, and forget those sign-ins; inside the caller's
            /// transaction, so the queue and the end of the sessions are one change.
            pub(crate) async fn queue(
                tx: &mut $conn,
                ending: Ending<'_>,
                now: i64,
            ) -> Result<u64, sqlx::Error> {
                // The column is one of two constants; the value is always bound.
                let (column, key) = match ending {
                    Ending::Session(sid) => ("sid", sid),
                    Ending::User(user_id) => ("user_id", user_id),
                };
                let signed_in: Vec<(String, String, String)> = sqlx::query_as(&format!(
                    "SELECT sc.sid, sc.client_id, sc.user_id FROM session_clients sc \
                     JOIN clients c ON c.client_id = sc.client_id \
                     WHERE sc.{column} = $1 AND c.backchannel_logout_uri IS NOT NULL"
                ))
                .bind(key)
                .fetch_all(&mut *tx)
                .await?;
                // Due at once whatever the clock of the instance that claims it (0, not `now`: the
                // CLI's clock, or another instance's, may run a little ahead of the deliverer's).
                for (sid, client_id, user_id) in &signed_in {
                    sqlx::query(
                        "INSERT INTO logout_deliveries (jti, client_id, sub, sid, created_at, attempts, next_attempt_at) \
                         VALUES ($1, $2, $3, $4, $5, 0, 0)",
                    )
                    .bind(random_string(16))
                    .bind(client_id)
                    .bind(user_id)
                    .bind(sid)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                sqlx::query(&format!("DELETE FROM session_clients WHERE {column} = $1"))
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
                Ok(signed_in.len() as u64)
            }

            /// [`Store::end_session_sign_ins`](crate::store::Store::end_session_sign_ins).
            pub(crate) async fn end_session(
                pool: &$pool,
                sid: &str,
                now: i64,
            ) -> Result<u64, StoreError> {
                let mut tx = pool.begin().await?;
                let queued = queue(&mut tx, Ending::Session(sid), now).await?;
                tx.commit().await?;
                Ok(queued)
            }

            #[derive(sqlx::FromRow)]
            struct DeliveryRow {
                jti: String,
                client_id: String,
                sub: String,
                sid: String,
                attempts: i64,
                created_at: i64,
            }

            /// [`Store::claim_logout_deliveries`](crate::store::Store::claim_logout_deliveries).
            pub(crate) async fn claim(
                pool: &$pool,
                now: i64,
                lease_until: i64,
                limit: i64,
            ) -> Result<Vec<LogoutDelivery>, StoreError> {
                // One statement: the outer `next_attempt_at <= $1` is checked again on the row a
                // concurrent claim may just have updated (PostgreSQL re-reads it after the lock), so
                // two instances never claim the same delivery.
                let rows: Vec<DeliveryRow> = sqlx::query_as(
                    "UPDATE logout_deliveries SET next_attempt_at = $2, attempts = attempts + 1 \
                     WHERE next_attempt_at <= $1 AND jti IN (SELECT jti FROM logout_deliveries \
                     WHERE next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT $3) \
                     RETURNING jti, client_id, sub, sid, attempts, created_at",
                )
                .bind(now)
                .bind(lease_until)
                .bind(limit)
                .fetch_all(pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|row| LogoutDelivery {
                        jti: row.jti,
                        client_id: ClientId::from_stored(row.client_id),
                        sub: UserId::from_stored(row.sub),
                        sid: row.sid,
                        attempts: row.attempts,
                        created_at: row.created_at,
                    })
                    .collect())
            }

            /// [`Store::finish_logout_delivery`](crate::store::Store::finish_logout_delivery).
            pub(crate) async fn finish(
                pool: &$pool,
                jti: &str,
                retry_at: Option<i64>,
            ) -> Result<(), StoreError> {
                match retry_at {
                    Some(at) => {
                        sqlx::query("UPDATE logout_deliveries SET next_attempt_at = $1 WHERE jti = $2")
                            .bind(at)
                            .bind(jti)
                            .execute(pool)
                            .await?;
                    }
                    None => {
                        sqlx::query("DELETE FROM logout_deliveries WHERE jti = $1")
                            .bind(jti)
                            .execute(pool)
                            .await?;
                    }
                }
                Ok(())
            }
        }
    };
}
pub(crate) use logouts_impl;

/// The [`Store`](crate::store::Store) methods of this noun, added to those `collect!`
/// has gathered; it goes on with the rest of the list.
macro_rules! methods {
    ($store:ty; [$($methods:tt)*]; $($nouns:tt)*) => {
        crate::store::shared::collect::collect! {
            $store;
            [
                $($methods)*

                #[tracing::instrument(level = "error", skip_all)]
                async fn end_session_sign_ins(&self, sid: &str, now: i64) -> Result<u64, StoreError> {
                    logouts::end_session(&self.pool, sid, now).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn claim_logout_deliveries(
                    &self,
                    now: i64,
                    lease_until: i64,
                    limit: i64,
                ) -> Result<Vec<crate::domain::logout::LogoutDelivery>, StoreError> {
                    logouts::claim(&self.pool, now, lease_until, limit).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn finish_logout_delivery(
                    &self,
                    jti: &str,
                    retry_at: Option<i64>,
                ) -> Result<(), StoreError> {
                    logouts::finish(&self.pool, jti, retry_at).await
                }
            ];
            $($nouns)*
        }
    };
}
pub(crate) use methods;
