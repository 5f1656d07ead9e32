//! The signing-key operations both backends share (generated per backend by [`keys_impl!`]):
//! storing, listing and rotating keys.

/// The `keys` module of a backend with pool `$pool`.
macro_rules! keys_impl {
    ($pool:ty) => {
        mod keys {
            //! Signing keys, encrypted at rest, and their life cycle.

            use crate::domain::client::{ClientId, SealedSecret};
            use crate::store::rows::{KeyRow, convert_all, key_columns};
            use crate::store::{SigningKeyRecord, StoreError, conflict_as};

            /// [`Store::insert_signing_key`](crate::store::Store::insert_signing_key).
            pub(crate) async fn insert_signing_key(
                pool: &$pool,
                key: &SigningKeyRecord,
            ) -> Result<(), StoreError> {
                sqlx::query(concat!(
                    "INSERT INTO signing_keys (",
                    key_columns!(),
                    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                ))
                .bind(&key.kid)
                .bind(&key.alg)
                .bind(key.state.as_str())
                .bind(&key.private_key)
                .bind(&key.public_jwk)
                .bind(key.created_at)
                .bind(key.activated_at)
                .bind(key.retired_at)
                .execute(pool)
                .await
                .map_err(conflict_as(|| {
                    format!("{} already has a {} key", key.alg, key.state.as_str())
                }))?;
                Ok(())
            }

            /// [`Store::list_signing_keys`](crate::store::Store::list_signing_keys).
            pub(crate) async fn list_signing_keys(
                pool: &$pool,
            ) -> Result<Vec<SigningKeyRecord>, StoreError> {
                let rows: Vec<KeyRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    key_columns!(),
                    " FROM signing_keys ORDER BY created_at DESC, kid"
                ))
                .fetch_all(pool)
                .await?;
                convert_all(rows)
            }

            /// [`Store::rotate_signing_keys`](crate::store::Store::rotate_signing_keys).
            pub(crate) async fn rotate_signing_keys(
                pool: &$pool,
                new_next: &SigningKeyRecord,
                now: i64,
                expected_active: Option<&str>,
            ) -> Result<Option<String>, StoreError> {
                let mut tx = pool.begin().await?;
                // With `expected_active`, the rotation happens only if that key is still the active
                // one: the UPDATE takes its row lock (PostgreSQL) or the write lock (SQLite), so of
                // several instances rotating at once exactly one retires it; the others find it
                // retired already and change nothing.
                let retired = sqlx::query(
                    "UPDATE signing_keys SET state = 'retired', retired_at = $1 \
                     WHERE alg = $2 AND state = 'active' AND ($3 IS NULL OR kid = $3)",
                )
                .bind(now)
                .bind(&new_next.alg)
                .bind(expected_active)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                if expected_active.is_some() && retired == 0 {
                    tx.rollback().await?;
                    return Ok(None);
                }
                let promoted: Option<(String,)> = sqlx::query_as(
                    "UPDATE signing_keys SET state = 'active', activated_at = $1 \
                     WHERE alg = $2 AND state = 'next' RETURNING kid",
                )
                .bind(now)
                .bind(&new_next.alg)
                .fetch_optional(&mut *tx)
                .await?;
                let Some((promoted,)) = promoted else {
                    tx.rollback().await?;
                    return Ok(None);
                };
                sqlx::query(concat!(
                    "INSERT INTO signing_keys (",
                    key_columns!(),
                    ") VALUES ($1, $2, 'next', $3, $4, $5, NULL, NULL)"
                ))
                .bind(&new_next.kid)
                .bind(&new_next.alg)
                .bind(&new_next.private_key)
                .bind(&new_next.public_jwk)
                .bind(new_next.created_at)
                .execute(&mut *tx)
                .await
                .map_err(conflict_as(|| {
                    "another rotation ran at the same time; try again".to_owned()
                }))?;
                tx.commit().await?;
                Ok(Some(promoted))
            }

            /// [`Store::delete_retired_signing_keys`](crate::store::Store::delete_retired_signing_keys).
            pub(crate) async fn delete_retired_signing_keys(
                pool: &$pool,
                retired_before: i64,
            ) -> Result<u64, StoreError> {
                Ok(sqlx::query(
                    "DELETE FROM signing_keys WHERE state = 'retired' AND retired_at < $1",
                )
                .bind(retired_before)
                .execute(pool)
                .await?
                .rows_affected())
            }

            /// [`Store::rewrap_sealed_secrets`](crate::store::Store::rewrap_sealed_secrets).
            pub(crate) async fn rewrap_sealed_secrets(
                pool: &$pool,
                sealed: &[(String, Vec<u8>)],
                client_secrets: &[(ClientId, SealedSecret, SealedSecret)],
            ) -> Result<(), StoreError> {
                let mut tx = pool.begin().await?;
                let (stored,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM signing_keys")
                    .fetch_one(&mut *tx)
                    .await?;
                if usize::try_from(stored).ok() != Some(sealed.len()) {
                    tx.rollback().await?;
                    return Err(StoreError::Conflict(
                        "the signing keys changed while they were re-encrypted (a rotation?); nothing was changed, run it again".into(),
                    ));
                }
                for (kid, private_key) in sealed {
                    let updated = sqlx::query(
                        "UPDATE signing_keys SET private_key = $1 WHERE kid = $2",
                    )
                    .bind(private_key)
                    .bind(kid)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if updated != 1 {
                        tx.rollback().await?;
                        return Err(StoreError::Conflict(format!(
                            "signing key {kid} changed while the keys were re-encrypted; nothing was changed, run it again"
                        )));
                    }
                }
                let (stored,): (i64,) =
                    sqlx::query_as("SELECT COUNT(*) FROM clients WHERE sealed_secret IS NOT NULL")
                        .fetch_one(&mut *tx)
                        .await?;
                if usize::try_from(stored).ok() != Some(client_secrets.len()) {
                    tx.rollback().await?;
                    return Err(StoreError::Conflict(
                        "the client_secret_jwt clients changed while their secrets were re-encrypted; nothing was changed, run it again".into(),
                    ));
                }
                for (client_id, was, now) in client_secrets {
                    // Only over the sealed secret that was opened: one rotated meanwhile is newer.
                    let updated = sqlx::query(
                        "UPDATE clients SET sealed_secret = $1 WHERE client_id = $2 AND sealed_secret = $3",
                    )
                    .bind(now.as_bytes())
                    .bind(client_id.as_str())
                    .bind(was.as_bytes())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                    if updated != 1 {
                        tx.rollback().await?;
                        return Err(StoreError::Conflict(format!(
                            "the secret of client {client_id} changed while it was re-encrypted; nothing was changed, run it again"
                        )));
                    }
                }
                tx.commit().await?;
                Ok(())
            }
        }
    };
}
pub(crate) use keys_impl;

/// The [`Store`](crate::store::Store) methods of this noun, added to those `collect!`
/// has gathered; it goes on with the rest of the list.
macro_rules! methods {
    ($store:ty; [$($methods:tt)*]; $($nouns:tt)*) => {
        crate::store::shared::collect::collect! {
            $store;
            [
                $($methods)*

                #[tracing::instrument(level = "error", skip_all)]
                async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
                    keys::insert_signing_key(&self.pool, key).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
                    keys::list_signing_keys(&self.pool).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn rotate_signing_keys(
                    &self,
                    new_next: &SigningKeyRecord,
                    now: i64,
                    expected_active: Option<&str>,
                ) -> Result<Option<String>, StoreError> {
                    keys::rotate_signing_keys(&self.pool, new_next, now, expected_active).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn delete_retired_signing_keys(&self, retired_before: i64) -> Result<u64, StoreError> {
                    keys::delete_retired_signing_keys(&self.pool, retired_before).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn rewrap_sealed_secrets(
                    &self,
                    sealed: &[(String, Vec<u8>)],
                    client_secrets: &[(ClientId, SealedSecret, SealedSecret)],
                ) -> Result<(), StoreError> {
                    keys::rewrap_sealed_secrets(&self.pool, sealed, client_secrets).await
                }
            ];
            $($nouns)*
        }
    };
}
pub(crate) use methods;
