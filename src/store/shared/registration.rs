//! Dynamic client registration (RFC 7591, RFC 7592), generated per backend by
//! [`registration_impl!`]: initial access tokens and the registration access tokens of clients.

/// The `registration` module of a backend with pool `$pool` and connection `$conn`.
macro_rules! registration_impl {
    ($pool:ty, $conn:ty) => {
        mod registration {
            use crate::domain::client::{Client, ClientId};
            use crate::domain::registration::RegistrationToken;
            use crate::domain::secret::TokenHash;
            use crate::store::{StoreError, conflict_as};

            /// A stored initial access token.
            #[derive(sqlx::FromRow)]
            struct TokenRow {
                token_id: String,
                created_at: i64,
                expires_at: Option<i64>,
                max_uses: Option<i64>,
                uses: i64,
            }

            impl From<TokenRow> for RegistrationToken {
                fn from(row: TokenRow) -> Self {
                    let count = |n: i64| u32::try_from(n.max(0)).unwrap_or(u32::MAX);
                    Self {
                        token_id: row.token_id,
                        created_at: row.created_at,
                        expires_at: row.expires_at,
                        max_uses: row.max_uses.map(count),
                        uses: count(row.uses),
                    }
                }
            }

            const COLUMNS: &str = "token_id, created_at, expires_at, max_uses, uses";

            /// [`Store::create_registration_token`](crate::store::Store::create_registration_token).
            pub(crate) async fn create_token(
                pool: &$pool,
                token: &RegistrationToken,
                token_hash: &TokenHash,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO registration_tokens \
                     (token_id, token_hash, created_at, expires_at, max_uses, uses) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(&token.token_id)
                .bind(token_hash.0.as_slice())
                .bind(token.created_at)
                .bind(token.expires_at)
                .bind(token.max_uses.map(i64::from))
                .bind(i64::from(token.uses))
                .execute(pool)
                .await
                .map_err(conflict_as(|| {
                    format!("a registration token '{}' already exists", token.token_id)
                }))?;
                Ok(())
            }

            /// [`Store::list_registration_tokens`](crate::store::Store::list_registration_tokens).
            pub(crate) async fn list_tokens(
                pool: &$pool,
            ) -> Result<Vec<RegistrationToken>, StoreError> {
                let rows: Vec<TokenRow> = sqlx::query_as(&format!(
                    "SELECT {COLUMNS} FROM registration_tokens ORDER BY created_at, token_id"
                ))
                .fetch_all(pool)
                .await?;
                Ok(rows.into_iter().map(RegistrationToken::from).collect())
            }

            /// [`Store::find_registration_token`](crate::store::Store::find_registration_token).
            pub(crate) async fn find_token(
                pool: &$pool,
                token_hash: &TokenHash,
            ) -> Result<Option<RegistrationToken>, StoreError> {
                let row: Option<TokenRow> = sqlx::query_as(&format!(
                    "SELECT {COLUMNS} FROM registration_tokens WHERE token_hash = $1"
                ))
                .bind(token_hash.0.as_slice())
                .fetch_optional(pool)
                .await?;
                Ok(row.map(RegistrationToken::from))
            }

            /// [`Store::delete_registration_token`](crate::store::Store::delete_registration_token).
            pub(crate) async fn delete_token(
                pool: &$pool,
                token_id: &str,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM registration_tokens WHERE token_id = $1")
                    .bind(token_id)
                    .execute(pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            /// [`Store::register_client`](crate::store::Store::register_client).
            pub(crate) async fn register_client(
                pool: &$pool,
                client: &Client,
                access_token_hash: &TokenHash,
                initial: Option<&TokenHash>,
                now: i64,
            ) -> Result<bool, StoreError> {
                let mut tx = pool.begin().await?;
                let mut token_id: Option<String> = None;
                if let Some(initial) = initial {
                    // One conditional UPDATE spends a use: of concurrent registrations with a token
                    // that has one use left, exactly one gets it.
                    token_id = sqlx::query_scalar(
                        "UPDATE registration_tokens SET uses = uses + 1 \
                         WHERE token_hash = $1 AND (expires_at IS NULL OR expires_at > $2) \
                         AND (max_uses IS NULL OR uses < max_uses) RETURNING token_id",
                    )
                    .bind(initial.0.as_slice())
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if token_id.is_none() {
                        tx.rollback().await?;
                        return Ok(false);
                    }
                }
                super::clients::create_client(&mut *tx, client).await?;
                sqlx::query(
                    "INSERT INTO client_registrations \
                     (client_id, access_token_hash, token_id, created_at) VALUES ($1, $2, $3, $4)",
                )
                .bind(client.client_id.as_str())
                .bind(access_token_hash.0.as_slice())
                .bind(token_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(true)
            }

            /// [`Store::find_registration`](crate::store::Store::find_registration).
            pub(crate) async fn find_registration(
                pool: &$pool,
                access_token_hash: &TokenHash,
            ) -> Result<Option<ClientId>, StoreError> {
                let client_id: Option<String> = sqlx::query_scalar(
                    "SELECT client_id FROM client_registrations WHERE access_token_hash = $1",
                )
                .bind(access_token_hash.0.as_slice())
                .fetch_optional(pool)
                .await?;
                Ok(client_id.map(ClientId::from_stored))
            }

            /// [`Store::rotate_registration_access_token`](crate::store::Store::rotate_registration_access_token).
            pub(crate) async fn rotate_access_token(
                pool: &$pool,
                client_id: &ClientId,
                current: &TokenHash,
                next: &TokenHash,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE client_registrations SET access_token_hash = $1 \
                     WHERE client_id = $2 AND access_token_hash = $3",
                )
                .bind(next.0.as_slice())
                .bind(client_id.as_str())
                .bind(current.0.as_slice())
                .execute(pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}
pub(crate) use registration_impl;

/// The [`Store`](crate::store::Store) methods of this noun, added to those `collect!`
/// has gathered; it goes on with the rest of the list.
macro_rules! methods {
    ($store:ty; [$($methods:tt)*]; $($nouns:tt)*) => {
        crate::store::shared::collect::collect! {
            $store;
            [
                $($methods)*

                #[tracing::instrument(level = "error", skip_all)]
                async fn create_registration_token(
                    &self,
                    token: &crate::domain::registration::RegistrationToken,
                    token_hash: &TokenHash,
                ) -> Result<(), StoreError> {
                    registration::create_token(&self.pool, token, token_hash).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn list_registration_tokens(
                    &self,
                ) -> Result<Vec<crate::domain::registration::RegistrationToken>, StoreError> {
                    registration::list_tokens(&self.pool).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_registration_token(
                    &self,
                    token_hash: &TokenHash,
                ) -> Result<Option<crate::domain::registration::RegistrationToken>, StoreError> {
                    registration::find_token(&self.pool, token_hash).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn delete_registration_token(&self, token_id: &str) -> Result<bool, StoreError> {
                    registration::delete_token(&self.pool, token_id).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn register_client(
                    &self,
                    client: &Client,
                    access_token_hash: &TokenHash,
                    initial: Option<&TokenHash>,
                    now: i64,
                ) -> Result<bool, StoreError> {
                    registration::register_client(&self.pool, client, access_token_hash, initial, now).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_registration(
                    &self,
                    access_token_hash: &TokenHash,
                ) -> Result<Option<ClientId>, StoreError> {
                    registration::find_registration(&self.pool, access_token_hash).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn rotate_registration_access_token(
                    &self,
                    client_id: &ClientId,
                    current: &TokenHash,
                    next: &TokenHash,
                ) -> Result<bool, StoreError> {
                    registration::rotate_access_token(&self.pool, client_id, current, next).await
                }
            ];
            $($nouns)*
        }
    };
}
pub(crate) use methods;
