//! Second factors both backends share (generated per backend by [`factors_impl!`]): a user's TOTP
//! secret (sealed), its replay guard, and single-use recovery codes.

/// The `factors` module of a backend with pool `$pool` and connection `$conn`.
macro_rules! factors_impl {
    ($pool:ty, $conn:ty) => {
        mod factors {
            //! TOTP factors and recovery codes.

            use crate::domain::mfa::TotpFactor;
            use crate::domain::secret::TokenHash;
            use crate::domain::user::UserId;
            use crate::store::StoreError;

            #[derive(sqlx::FromRow)]
            struct TotpRow {
                user_id: String,
                sealed_secret: Vec<u8>,
                confirmed_at: Option<i64>,
                last_step: i64,
                created_at: i64,
            }

            /// [`Store::begin_totp`](crate::store::Store::begin_totp): a new unconfirmed secret
            /// replaces an unconfirmed one, never a confirmed one (one conditional upsert).
            pub(crate) async fn begin_totp(
                pool: &$pool,
                user_id: &UserId,
                sealed_secret: &[u8],
                now: i64,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "INSERT INTO user_totp (user_id, sealed_secret, confirmed_at, last_step, created_at) \
                     VALUES ($1, $2, NULL, 0, $3) \
                     ON CONFLICT (user_id) DO UPDATE SET sealed_secret = excluded.sealed_secret, \
                     last_step = 0, created_at = excluded.created_at \
                     WHERE user_totp.confirmed_at IS NULL",
                )
                .bind(user_id.as_str())
                .bind(sealed_secret)
                .bind(now)
                .execute(pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            /// [`Store::find_totp`](crate::store::Store::find_totp).
            pub(crate) async fn find_totp(
                pool: &$pool,
                user_id: &UserId,
            ) -> Result<Option<TotpFactor>, StoreError> {
                let row: Option<TotpRow> = sqlx::query_as(
                    "SELECT user_id, sealed_secret, confirmed_at, last_step, created_at \
                     FROM user_totp WHERE user_id = $1",
                )
                .bind(user_id.as_str())
                .fetch_optional(pool)
                .await?;
                Ok(row.map(|r| TotpFactor {
                    user_id: UserId::from_stored(r.user_id),
                    sealed_secret: r.sealed_secret,
                    confirmed_at: r.confirmed_at,
                    last_step: r.last_step,
                    created_at: r.created_at,
                }))
            }

            /// [`Store::use_totp_step`](crate::store::Store::use_totp_step): one conditional
            /// UPDATE, so of two requests with the same code (or an older one) only one passes.
            pub(crate) async fn use_totp_step(
                pool: &$pool,
                user_id: &UserId,
                step: i64,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE user_totp SET last_step = $2 \
                     WHERE user_id = $1 AND confirmed_at IS NOT NULL AND last_step < $2",
                )
                .bind(user_id.as_str())
                .bind(step)
                .execute(pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            /// [`Store::confirm_totp`](crate::store::Store::confirm_totp): the factor is confirmed
            /// and the recovery codes replaced in one transaction.
            pub(crate) async fn confirm_totp(
                pool: &$pool,
                user_id: &UserId,
                step: i64,
                recovery_codes: &[TokenHash],
                now: i64,
                audit: crate::domain::audit::InTransaction<'_>,
            ) -> Result<bool, StoreError> {
                let mut tx = pool.begin().await?;
                let done = sqlx::query(
                    "UPDATE user_totp SET confirmed_at = $3, last_step = $2 \
                     WHERE user_id = $1 AND confirmed_at IS NULL AND last_step < $2",
                )
                .bind(user_id.as_str())
                .bind(step)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                replace_codes(&mut tx, user_id, recovery_codes, now).await?;
                super::audit::insert_in(&mut tx, audit.done).await?;
                tx.commit().await?;
                Ok(true)
            }

            pub(crate) async fn replace_codes(
                tx: &mut $conn,
                user_id: &UserId,
                recovery_codes: &[TokenHash],
                now: i64,
            ) -> Result<(), sqlx::Error> {
                sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                    .bind(user_id.as_str())
                    .execute(&mut *tx)
                    .await?;
                for code in recovery_codes {
                    sqlx::query(
                        "INSERT INTO recovery_codes (user_id, code_hash, created_at, used_at) \
                         VALUES ($1, $2, $3, NULL)",
                    )
                    .bind(user_id.as_str())
                    .bind(code.0.as_slice())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                }
                Ok(())
            }

            /// [`Store::replace_recovery_codes`](crate::store::Store::replace_recovery_codes).
            pub(crate) async fn replace_recovery_codes(
                pool: &$pool,
                user_id: &UserId,
                recovery_codes: &[TokenHash],
                now: i64,
                audit: crate::domain::audit::InTransaction<'_>,
            ) -> Result<(), StoreError> {
                let mut tx = pool.begin().await?;
                replace_codes(&mut tx, user_id, recovery_codes, now).await?;
                super::audit::insert_in(&mut tx, audit.done).await?;
                tx.commit().await?;
                Ok(())
            }

            /// [`Store::use_recovery_code`](crate::store::Store::use_recovery_code): one
            /// conditional UPDATE, so a code is spent once even under concurrent requests.
            pub(crate) async fn use_recovery_code(
                pool: &$pool,
                user_id: &UserId,
                code_hash: &TokenHash,
                now: i64,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE recovery_codes SET used_at = $3 \
                     WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
                )
                .bind(user_id.as_str())
                .bind(code_hash.0.as_slice())
                .bind(now)
                .execute(pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            /// [`Store::count_recovery_codes`](crate::store::Store::count_recovery_codes).
            pub(crate) async fn count_recovery_codes(
                pool: &$pool,
                user_id: &UserId,
            ) -> Result<i64, StoreError> {
                let (count,): (i64,) = sqlx::query_as(
                    "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
                )
                .bind(user_id.as_str())
                .fetch_one(pool)
                .await?;
                Ok(count)
            }

            /// [`Store::remove_totp`](crate::store::Store::remove_totp).
            pub(crate) async fn remove_totp(
                pool: &$pool,
                user_id: &UserId,
                audit: crate::domain::audit::InTransaction<'_>,
            ) -> Result<bool, StoreError> {
                let mut tx = pool.begin().await?;
                let totp = sqlx::query("DELETE FROM user_totp WHERE user_id = $1")
                    .bind(user_id.as_str())
                    .execute(&mut *tx)
                    .await?;
                if totp.rows_affected() == 0 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                drop_orphan_codes(&mut tx, user_id).await?;
                super::audit::insert_in(&mut tx, audit.done).await?;
                tx.commit().await?;
                Ok(true)
            }

            /// Recovery codes recover a second factor: with none left (no confirmed app, no
            /// passkey), they go too.
            pub(crate) async fn drop_orphan_codes(
                tx: &mut $conn,
                user_id: &UserId,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "DELETE FROM recovery_codes WHERE user_id = $1 \
                     AND NOT EXISTS (SELECT 1 FROM passkeys WHERE user_id = $1) \
                     AND NOT EXISTS (SELECT 1 FROM user_totp WHERE user_id = $1 \
                                     AND confirmed_at IS NOT NULL)",
                )
                .bind(user_id.as_str())
                .execute(&mut *tx)
                .await?;
                Ok(())
            }

            /// [`Store::reset_second_factors`](crate::store::Store::reset_second_factors).
            pub(crate) async fn reset_second_factors(
                pool: &$pool,
                user_id: &UserId,
                audit: crate::domain::audit::InTransaction<'_>,
            ) -> Result<bool, StoreError> {
                let mut tx = pool.begin().await?;
                let totp = sqlx::query("DELETE FROM user_totp WHERE user_id = $1")
                    .bind(user_id.as_str())
                    .execute(&mut *tx)
                    .await?;
                let codes = sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
                    .bind(user_id.as_str())
                    .execute(&mut *tx)
                    .await?;
                let passkeys = sqlx::query("DELETE FROM passkeys WHERE user_id = $1")
                    .bind(user_id.as_str())
                    .execute(&mut *tx)
                    .await?;
                let removed =
                    totp.rows_affected() + codes.rows_affected() + passkeys.rows_affected() > 0;
                if !removed {
                    tx.rollback().await?;
                    return Ok(false);
                }
                super::audit::insert_in(&mut tx, audit.done).await?;
                tx.commit().await?;
                Ok(true)
            }
        }
    };
}
pub(crate) use factors_impl;

/// The [`Store`](crate::store::Store) methods of this noun, added to those `collect!`
/// has gathered; it goes on with the rest of the list.
macro_rules! methods {
    ($store:ty; [$($methods:tt)*]; $($nouns:tt)*) => {
        crate::store::shared::collect::collect! {
            $store;
            [
                $($methods)*

                #[tracing::instrument(level = "error", skip_all)]
                async fn begin_totp(
                    &self,
                    user_id: &UserId,
                    sealed_secret: &[u8],
                    now: i64,
                ) -> Result<bool, StoreError> {
                    factors::begin_totp(&self.pool, user_id, sealed_secret, now).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_totp(
                    &self,
                    user_id: &UserId,
                ) -> Result<Option<crate::domain::mfa::TotpFactor>, StoreError> {
                    factors::find_totp(&self.pool, user_id).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn use_totp_step(&self, user_id: &UserId, step: i64) -> Result<bool, StoreError> {
                    factors::use_totp_step(&self.pool, user_id, step).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn confirm_totp(
                    &self,
                    user_id: &UserId,
                    step: i64,
                    recovery_codes: &[TokenHash],
                    now: i64,
                    audit: crate::domain::audit::InTransaction<'_>,
                ) -> Result<bool, StoreError> {
                    factors::confirm_totp(&self.pool, user_id, step, recovery_codes, now, audit).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn replace_recovery_codes(
                    &self,
                    user_id: &UserId,
                    recovery_codes: &[TokenHash],
                    now: i64,
                    audit: crate::domain::audit::InTransaction<'_>,
                ) -> Result<(), StoreError> {
                    factors::replace_recovery_codes(&self.pool, user_id, recovery_codes, now, audit).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn use_recovery_code(
                    &self,
                    user_id: &UserId,
                    code_hash: &TokenHash,
                    now: i64,
                ) -> Result<bool, StoreError> {
                    factors::use_recovery_code(&self.pool, user_id, code_hash, now).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn count_recovery_codes(&self, user_id: &UserId) -> Result<i64, StoreError> {
                    factors::count_recovery_codes(&self.pool, user_id).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn remove_totp(
                    &self,
                    user_id: &UserId,
                    audit: crate::domain::audit::InTransaction<'_>,
                ) -> Result<bool, StoreError> {
                    factors::remove_totp(&self.pool, user_id, audit).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn reset_second_factors(
                    &self,
                    user_id: &UserId,
                    audit: crate::domain::audit::InTransaction<'_>,
                ) -> Result<bool, StoreError> {
                    factors::reset_second_factors(&self.pool, user_id, audit).await
                }
            ];
            $($nouns)*
        }
    };
}
pub(crate) use methods;
