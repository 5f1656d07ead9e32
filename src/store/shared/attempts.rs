//! The attempt counters behind the sign-in throttle (`sign_in_attempts`), generated per backend by
//! [`attempts_impl!`]: the SQL is the same on SQLite and PostgreSQL.

/// The `attempts` module of a backend with pool `$pool`.
macro_rules! attempts_impl {
    ($pool:ty) => {
        mod attempts {
            use crate::domain::attempt::{AttemptCounter, Reservation};
            use crate::domain::secret::TokenHash;
            use crate::store::StoreError;

            /// Count one attempt on a counter, starting a new window if its window has ended; the count and
            /// window end after this attempt.
            const COUNT: &str = "INSERT INTO sign_in_attempts (counter_key, attempts, started_at, expires_at) \
                 VALUES ($1, 1, $2, $3) \
                 ON CONFLICT (counter_key) DO UPDATE SET \
                 attempts = CASE WHEN sign_in_attempts.expires_at <= excluded.started_at THEN 1 \
                            ELSE sign_in_attempts.attempts + 1 END, \
                 started_at = CASE WHEN sign_in_attempts.expires_at <= excluded.started_at THEN excluded.started_at \
                              ELSE sign_in_attempts.started_at END, \
                 expires_at = CASE WHEN sign_in_attempts.expires_at <= excluded.started_at THEN excluded.expires_at \
                              ELSE sign_in_attempts.expires_at END \
                 RETURNING attempts, expires_at";

            pub(crate) async fn reserve(
                pool: &$pool,
                counters: &[AttemptCounter],
                now: i64,
            ) -> Result<Reservation, StoreError> {
                let counters = crate::store::in_lock_order(counters);
                // Each upsert locks its counter's row until commit or rollback (PostgreSQL), or takes SQLite's
                // write lock for the whole transaction: a concurrent reservation of the same counter waits and
                // then sees this one's count. The rows are taken in one order (`in_lock_order`), so
                // reservations of overlapping counters never deadlock.
                let mut tx = pool.begin().await?;
                let mut retry_after: Option<i64> = None;
                for counter in counters {
                    let (attempts, expires_at): (i64, i64) = sqlx::query_as(COUNT)
                        .bind(counter.key.0.as_slice())
                        .bind(now)
                        .bind(now.saturating_add(counter.window))
                        .fetch_one(&mut *tx)
                        .await?;
                    if attempts > i64::from(counter.limit) {
                        retry_after = retry_after.max(Some(expires_at - now));
                    }
                }
                match retry_after {
                    None => {
                        tx.commit().await?;
                        Ok(Reservation::Reserved)
                    }
                    Some(wait) => {
                        // Nothing is counted for a refused attempt, so a full counter never spills into the others.
                        tx.rollback().await?;
                        Ok(Reservation::Refused {
                            retry_after: wait.max(1),
                        })
                    }
                }
            }

            pub(crate) async fn refund(
                pool: &$pool,
                keys: &[TokenHash],
                reserved_at: i64,
            ) -> Result<(), StoreError> {
                for key in keys {
                    // A window that started after `reserved_at` is a later one: the attempt was not counted there.
                    sqlx::query(
                        "UPDATE sign_in_attempts SET attempts = attempts - 1 \
                         WHERE counter_key = $1 AND attempts > 0 AND started_at <= $2",
                    )
                    .bind(key.0.as_slice())
                    .bind(reserved_at)
                    .execute(pool)
                    .await?;
                }
                Ok(())
            }

            pub(crate) async fn clear(pool: &$pool, keys: &[TokenHash]) -> Result<(), StoreError> {
                for key in keys {
                    sqlx::query("DELETE FROM sign_in_attempts WHERE counter_key = $1")
                        .bind(key.0.as_slice())
                        .execute(pool)
                        .await?;
                }
                Ok(())
            }
        }
    };
}
pub(crate) use attempts_impl;

/// The [`Store`](crate::store::Store) methods of this noun, added to those `collect!`
/// has gathered; it goes on with the rest of the list.
macro_rules! methods {
    ($store:ty; [$($methods:tt)*]; $($nouns:tt)*) => {
        crate::store::shared::collect::collect! {
            $store;
            [
                $($methods)*

                #[tracing::instrument(level = "error", skip_all)]
                async fn reserve_attempts(
                    &self,
                    counters: &[AttemptCounter],
                    now: i64,
                ) -> Result<Reservation, StoreError> {
                    attempts::reserve(&self.pool, counters, now).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn refund_attempts(
                    &self,
                    keys: &[TokenHash],
                    reserved_at: i64,
                ) -> Result<(), StoreError> {
                    attempts::refund(&self.pool, keys, reserved_at).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn clear_attempts(&self, keys: &[TokenHash]) -> Result<(), StoreError> {
                    attempts::clear(&self.pool, keys).await
                }
            ];
            $($nouns)*
        }
    };
}
pub(crate) use methods;
