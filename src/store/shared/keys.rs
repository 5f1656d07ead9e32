//! The signing-key operations both backends share (generated per backend by [`keys_impl!`]):
//! storing, listing and rotating keys.

/// The `keys` module of a backend with pool `$pool`.
macro_rules! keys_impl {
    ($pool:ty) => {
        mod keys {
            //! Signing keys, encrypted at rest, and their life cycle.

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
            ) -> Result<Option<String>, StoreError> {
                let mut tx = pool.begin().await?;
                sqlx::query(
                    "UPDATE signing_keys SET state = 'retired', retired_at = $1 WHERE alg = $2 AND state = 'active'",
                )
                .bind(now)
                .bind(&new_next.alg)
                .execute(&mut *tx)
                .await?;
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
        }
    };
}
pub(crate) use keys_impl;
