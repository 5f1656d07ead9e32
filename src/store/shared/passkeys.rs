//! Passkeys both backends share (generated per backend by [`passkeys_impl!`]): WebAuthn credentials,
//! each user's user handle, and ceremonies begun and not yet finished.

/// The `passkeys` module of a backend with pool `$pool`.
macro_rules! passkeys_impl {
    ($pool:ty, $conn:ty) => {
        mod passkeys {
            //! Passkeys and their ceremonies.

            use crate::domain::passkey::{Ceremony, Passkey, Purpose};
            use crate::domain::secret::TokenHash;
            use crate::domain::user::UserId;
            use crate::store::StoreError;

            #[derive(sqlx::FromRow)]
            struct PasskeyRow {
                credential_id: Vec<u8>,
                user_id: String,
                name: String,
                static_state: Vec<u8>,
                dynamic_state: Vec<u8>,
                transports: i64,
                created_at: i64,
                last_used_at: Option<i64>,
            }

            impl PasskeyRow {
                fn into_passkey(self) -> Passkey {
                    Passkey {
                        credential_id: self.credential_id,
                        user_id: UserId::from_stored(self.user_id),
                        name: self.name,
                        static_state: self.static_state,
                        dynamic_state: self.dynamic_state,
                        // Written from a u8; a value out of range reads as "no transports known".
                        transports: u8::try_from(self.transports).unwrap_or(0),
                        created_at: self.created_at,
                        last_used_at: self.last_used_at,
                    }
                }
            }

            const COLUMNS: &str = "credential_id, user_id, name, static_state, dynamic_state, \
                                   transports, created_at, last_used_at";

            /// [`Store::passkey_user_handle`](crate::store::Store::passkey_user_handle).
            pub(crate) async fn passkey_user_handle(
                pool: &$pool,
                user_id: &UserId,
                candidate: &[u8],
            ) -> Result<Vec<u8>, StoreError> {
                sqlx::query(
                    "INSERT INTO passkey_users (user_id, handle) VALUES ($1, $2) \
                     ON CONFLICT (user_id) DO NOTHING",
                )
                .bind(user_id.as_str())
                .bind(candidate)
                .execute(pool)
                .await?;
                let (handle,): (Vec<u8>,) =
                    sqlx::query_as("SELECT handle FROM passkey_users WHERE user_id = $1")
                        .bind(user_id.as_str())
                        .fetch_one(pool)
                        .await?;
                Ok(handle)
            }

            /// [`Store::add_passkey`](crate::store::Store::add_passkey).
            pub(crate) async fn add_passkey(
                pool: &$pool,
                passkey: &Passkey,
                recovery_codes: Option<&[TokenHash]>,
                audit: crate::domain::audit::InTransaction<'_>,
            ) -> Result<bool, StoreError> {
                let mut tx = pool.begin().await?;
                let done = sqlx::query(
                    "INSERT INTO passkeys (credential_id, user_id, name, static_state, \
                     dynamic_state, transports, created_at, last_used_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, NULL) \
                     ON CONFLICT (credential_id) DO NOTHING",
                )
                .bind(passkey.credential_id.as_slice())
                .bind(passkey.user_id.as_str())
                .bind(&passkey.name)
                .bind(passkey.static_state.as_slice())
                .bind(passkey.dynamic_state.as_slice())
                .bind(i64::from(passkey.transports))
                .bind(passkey.created_at)
                .execute(&mut *tx)
                .await?;
                if done.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                if let Some(codes) = recovery_codes {
                    super::factors::replace_codes(
                        &mut tx,
                        &passkey.user_id,
                        codes,
                        passkey.created_at,
                    )
                    .await?;
                }
                super::audit::insert_in(&mut tx, audit.done).await?;
                tx.commit().await?;
                Ok(true)
            }

            /// [`Store::list_passkeys`](crate::store::Store::list_passkeys).
            pub(crate) async fn list_passkeys(
                pool: &$pool,
                user_id: &UserId,
            ) -> Result<Vec<Passkey>, StoreError> {
                let rows: Vec<PasskeyRow> = sqlx::query_as(&format!(
                    "SELECT {COLUMNS} FROM passkeys WHERE user_id = $1 \
                     ORDER BY created_at, credential_id"
                ))
                .bind(user_id.as_str())
                .fetch_all(pool)
                .await?;
                Ok(rows.into_iter().map(PasskeyRow::into_passkey).collect())
            }

            /// [`Store::find_passkey`](crate::store::Store::find_passkey).
            pub(crate) async fn find_passkey(
                pool: &$pool,
                credential_id: &[u8],
            ) -> Result<Option<(Passkey, Vec<u8>)>, StoreError> {
                let row: Option<PasskeyRow> = sqlx::query_as(&format!(
                    "SELECT {COLUMNS} FROM passkeys WHERE credential_id = $1"
                ))
                .bind(credential_id)
                .fetch_optional(pool)
                .await?;
                let Some(row) = row else {
                    return Ok(None);
                };
                let handle: Option<(Vec<u8>,)> =
                    sqlx::query_as("SELECT handle FROM passkey_users WHERE user_id = $1")
                        .bind(&row.user_id)
                        .fetch_optional(pool)
                        .await?;
                Ok(handle.map(|(handle,)| (row.into_passkey(), handle)))
            }

            /// [`Store::use_passkey`](crate::store::Store::use_passkey): compare and swap.
            pub(crate) async fn use_passkey(
                pool: &$pool,
                credential_id: &[u8],
                seen: &[u8],
                dynamic_state: &[u8],
                now: i64,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE passkeys SET dynamic_state = $3, last_used_at = $4 \
                     WHERE credential_id = $1 AND dynamic_state = $2",
                )
                .bind(credential_id)
                .bind(seen)
                .bind(dynamic_state)
                .bind(now)
                .execute(pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            /// [`Store::remove_passkey`](crate::store::Store::remove_passkey).
            pub(crate) async fn remove_passkey(
                pool: &$pool,
                user_id: &UserId,
                credential_id: &[u8],
                audit: crate::domain::audit::InTransaction<'_>,
            ) -> Result<bool, StoreError> {
                let mut tx = pool.begin().await?;
                let done =
                    sqlx::query("DELETE FROM passkeys WHERE user_id = $1 AND credential_id = $2")
                        .bind(user_id.as_str())
                        .bind(credential_id)
                        .execute(&mut *tx)
                        .await?;
                if done.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                super::factors::drop_orphan_codes(&mut tx, user_id).await?;
                super::audit::insert_in(&mut tx, audit.done).await?;
                tx.commit().await?;
                Ok(true)
            }

            /// [`Store::begin_passkey_ceremony`](crate::store::Store::begin_passkey_ceremony).
            pub(crate) async fn begin_passkey_ceremony(
                pool: &$pool,
                ceremony_hash: &TokenHash,
                ceremony: &Ceremony,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO passkey_ceremonies (ceremony_hash, purpose, user_id, state, \
                     expires_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(ceremony_hash.0.as_slice())
                .bind(ceremony.purpose.as_str())
                .bind(ceremony.user_id.as_ref().map(UserId::as_str))
                .bind(ceremony.state.as_slice())
                .bind(ceremony.expires_at)
                .execute(pool)
                .await?;
                Ok(())
            }

            /// [`Store::take_passkey_ceremony`](crate::store::Store::take_passkey_ceremony): one
            /// DELETE … RETURNING, so of concurrent finishes exactly one gets the ceremony.
            pub(crate) async fn take_passkey_ceremony(
                pool: &$pool,
                ceremony_hash: &TokenHash,
                now: i64,
            ) -> Result<Option<Ceremony>, StoreError> {
                let row: Option<(String, Option<String>, Vec<u8>, i64)> = sqlx::query_as(
                    "DELETE FROM passkey_ceremonies WHERE ceremony_hash = $1 \
                     RETURNING purpose, user_id, state, expires_at",
                )
                .bind(ceremony_hash.0.as_slice())
                .fetch_optional(pool)
                .await?;
                Ok(row.and_then(|(purpose, user_id, state, expires_at)| {
                    Some(Ceremony {
                        purpose: Purpose::parse(&purpose)?,
                        user_id: user_id.map(UserId::from_stored),
                        state,
                        expires_at,
                    })
                    .filter(|c| c.expires_at > now)
                }))
            }
        }
    };
}
pub(crate) use passkeys_impl;

/// The [`Store`](crate::store::Store) methods of this noun, added to those `collect!`
/// has gathered; it goes on with the rest of the list.
macro_rules! methods {
    ($store:ty; [$($methods:tt)*]; $($nouns:tt)*) => {
        crate::store::shared::collect::collect! {
            $store;
            [
                $($methods)*

                #[tracing::instrument(level = "error", skip_all)]
                async fn passkey_user_handle(
                    &self,
                    user_id: &UserId,
                    candidate: &[u8],
                ) -> Result<Vec<u8>, StoreError> {
                    passkeys::passkey_user_handle(&self.pool, user_id, candidate).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn add_passkey(
                    &self,
                    passkey: &crate::domain::passkey::Passkey,
                    recovery_codes: Option<&[TokenHash]>,
                    audit: crate::domain::audit::InTransaction<'_>,
                ) -> Result<bool, StoreError> {
                    passkeys::add_passkey(&self.pool, passkey, recovery_codes, audit).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn list_passkeys(
                    &self,
                    user_id: &UserId,
                ) -> Result<Vec<crate::domain::passkey::Passkey>, StoreError> {
                    passkeys::list_passkeys(&self.pool, user_id).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_passkey(
                    &self,
                    credential_id: &[u8],
                ) -> Result<Option<(crate::domain::passkey::Passkey, Vec<u8>)>, StoreError> {
                    passkeys::find_passkey(&self.pool, credential_id).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn use_passkey(
                    &self,
                    credential_id: &[u8],
                    seen: &[u8],
                    dynamic_state: &[u8],
                    now: i64,
                ) -> Result<bool, StoreError> {
                    passkeys::use_passkey(&self.pool, credential_id, seen, dynamic_state, now).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn remove_passkey(
                    &self,
                    user_id: &UserId,
                    credential_id: &[u8],
                    audit: crate::domain::audit::InTransaction<'_>,
                ) -> Result<bool, StoreError> {
                    passkeys::remove_passkey(&self.pool, user_id, credential_id, audit).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn begin_passkey_ceremony(
                    &self,
                    ceremony_hash: &TokenHash,
                    ceremony: &crate::domain::passkey::Ceremony,
                ) -> Result<(), StoreError> {
                    passkeys::begin_passkey_ceremony(&self.pool, ceremony_hash, ceremony).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn take_passkey_ceremony(
                    &self,
                    ceremony_hash: &TokenHash,
                    now: i64,
                ) -> Result<Option<crate::domain::passkey::Ceremony>, StoreError> {
                    passkeys::take_passkey_ceremony(&self.pool, ceremony_hash, now).await
                }
            ];
            $($nouns)*
        }
    };
}
pub(crate) use methods;
