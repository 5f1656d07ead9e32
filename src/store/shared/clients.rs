//! The client operations both backends share (generated per backend by [`clients_impl!`]):
//! registered clients and their secrets.

/// The `clients` module of a backend with pool `$pool`.
macro_rules! clients_impl {
    ($pool:ty, $conn:ty) => {
        mod clients {
            //! Registered clients (RFC 6749 §2, RFC 7591 metadata).

            use crate::domain::client::{Client, ClientId, SealedSecret};
            use crate::domain::secret::TokenHash;
            use crate::domain::api::Audience;
            use crate::store::rows::{ClientColumns, ClientRow, client_columns, convert_all};
            use crate::store::{StoreError, conflict_as};

            /// [`Store::create_client`](crate::store::Store::create_client).
            pub(crate) async fn create_client(
                conn: &mut $conn,
                client: &Client,
            ) -> Result<(), StoreError> {
                let cols = ClientColumns::of(client);
                let done = sqlx::query(concat!(
                    "INSERT INTO clients (",
                    client_columns!(),
                    ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30 \
                     WHERE NOT EXISTS (SELECT 1 FROM users WHERE user_id = $1)"
                ))
                .bind(client.client_id.as_str())
                .bind(&client.client_name)
                .bind(cols.secret_hash)
                .bind(client.auth_method.as_str())
                .bind(cols.redirect_uris)
                .bind(cols.post_logout_redirect_uris)
                .bind(cols.grant_types)
                .bind(cols.scopes)
                .bind(client.require_pkce)
                .bind(client.skip_consent)
                .bind(client.introspect_any)
                .bind(client.id_token_alg.map(|alg| alg.as_str()))
                .bind(client.created_at)
                .bind(client.updated_at)
                .bind(client.application_type.as_str())
                .bind(&cols.resources)
                .bind(client.default_resource.as_ref().map(Audience::as_str))
                .bind(client.api.as_ref().map(Audience::as_str))
                .bind(&cols.may_exchange_for)
                .bind(client.require_par)
                .bind(client.jwks.as_deref())
                .bind(client.jwks_uri.as_deref())
                .bind(client.backchannel_logout_uri.as_deref())
                .bind(client.backchannel_logout_session_required)
                .bind(client.sealed_secret.as_ref().map(SealedSecret::as_bytes))
                .bind(client.require_dpop)
                .bind(client.tls_bound_tokens)
                .bind(client.tls_subject.as_ref().map(|s| s.kind()))
                .bind(client.tls_subject.as_ref().map(|s| s.value()))
                .bind(client.require_mfa)
                .execute(&mut *conn)
                .await
                .map_err(conflict_as(|| {
                    format!("a client with id '{}' already exists", client.client_id)
                }))?;
                // RFC 9068 §5: a client id must never equal a user's `sub`, so a client's own token can never
                // pass for a user's.
                if done.rows_affected() == 0 {
                    return Err(StoreError::Conflict(format!(
                        "the id '{}' belongs to a user; choose another client id",
                        client.client_id
                    )));
                }
                Ok(())
            }

            /// [`Store::find_client`](crate::store::Store::find_client).
            pub(crate) async fn find_client(
                pool: &$pool,
                client_id: &ClientId,
            ) -> Result<Option<Client>, StoreError> {
                let row: Option<ClientRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    client_columns!(),
                    " FROM clients WHERE client_id = $1"
                ))
                .bind(client_id.as_str())
                .fetch_optional(pool)
                .await?;
                row.map(Client::try_from).transpose()
            }

            /// [`Store::list_clients`](crate::store::Store::list_clients).
            pub(crate) async fn list_clients(pool: &$pool) -> Result<Vec<Client>, StoreError> {
                let rows: Vec<ClientRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    client_columns!(),
                    " FROM clients ORDER BY client_name, client_id"
                ))
                .fetch_all(pool)
                .await?;
                convert_all(rows)
            }

            /// [`Store::update_client`](crate::store::Store::update_client).
            pub(crate) async fn update_client(
                conn: &mut $conn,
                client: &Client,
            ) -> Result<bool, StoreError> {
                let cols = ClientColumns::of(client);
                let done = sqlx::query(
                    "UPDATE clients SET client_name = $1, auth_method = $2, redirect_uris = $3, \
                     post_logout_redirect_uris = $4, grant_types = $5, scopes = $6, require_pkce = $7, \
                     skip_consent = $8, introspect_any = $9, id_token_alg = $10, updated_at = $11, \
                     application_type = $13, resources = $14, default_resource = $15, api = $16, \
                     may_exchange_for = $17, require_par = $18, jwks = $19, jwks_uri = $20, \
                     backchannel_logout_uri = $21, backchannel_logout_session_required = $22, require_dpop = $23, tls_bound_tokens = $24, \
                     tls_subject_kind = $25, tls_subject_value = $26, require_mfa = $27, \
                     sealed_secret = CASE WHEN $2 = 'client_secret_jwt' THEN sealed_secret END \
                     WHERE client_id = $12",
                )
                .bind(&client.client_name)
                .bind(client.auth_method.as_str())
                .bind(cols.redirect_uris)
                .bind(cols.post_logout_redirect_uris)
                .bind(cols.grant_types)
                .bind(cols.scopes)
                .bind(client.require_pkce)
                .bind(client.skip_consent)
                .bind(client.introspect_any)
                .bind(client.id_token_alg.map(|alg| alg.as_str()))
                .bind(client.updated_at)
                .bind(client.client_id.as_str())
                .bind(client.application_type.as_str())
                .bind(&cols.resources)
                .bind(client.default_resource.as_ref().map(Audience::as_str))
                .bind(client.api.as_ref().map(Audience::as_str))
                .bind(&cols.may_exchange_for)
                .bind(client.require_par)
                .bind(client.jwks.as_deref())
                .bind(client.jwks_uri.as_deref())
                .bind(client.backchannel_logout_uri.as_deref())
                .bind(client.backchannel_logout_session_required)
                .bind(client.require_dpop)
                .bind(client.tls_bound_tokens)
                .bind(client.tls_subject.as_ref().map(|s| s.kind()))
                .bind(client.tls_subject.as_ref().map(|s| s.value()))
                .bind(client.require_mfa)
                .execute(&mut *conn)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            /// [`Store::set_client_secret`](crate::store::Store::set_client_secret).
            pub(crate) async fn set_client_secret(
                conn: &mut $conn,
                client_id: &ClientId,
                secret_hash: &TokenHash,
                sealed: Option<&SealedSecret>,
                now: i64,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE clients SET secret_hash = $1, sealed_secret = $4, updated_at = $2 WHERE client_id = $3",
                )
                .bind(secret_hash.0.as_slice())
                .bind(now)
                .bind(client_id.as_str())
                .bind(sealed.map(SealedSecret::as_bytes))
                .execute(&mut *conn)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            /// [`Store::delete_client`](crate::store::Store::delete_client).
            pub(crate) async fn delete_client(
                conn: &mut $conn,
                client_id: &ClientId,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM clients WHERE client_id = $1")
                    .bind(client_id.as_str())
                    .execute(&mut *conn)
                    .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}
pub(crate) use clients_impl;

/// The [`Store`](crate::store::Store) methods of this noun, added to those `collect!`
/// has gathered; it goes on with the rest of the list.
macro_rules! methods {
    ($store:ty; [$($methods:tt)*]; $($nouns:tt)*) => {
        crate::store::shared::collect::collect! {
            $store;
            [
                $($methods)*

                #[tracing::instrument(level = "error", skip_all)]
                async fn create_client(&self, client: &Client) -> Result<(), StoreError> {
                    clients::create_client(&mut *self.pool.acquire().await?, client).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_client(&self, client_id: &ClientId) -> Result<Option<Client>, StoreError> {
                    clients::find_client(&self.pool, client_id).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
                    clients::list_clients(&self.pool).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn update_client(&self, client: &Client) -> Result<bool, StoreError> {
                    clients::update_client(&mut *self.pool.acquire().await?, client).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn set_client_secret(
                    &self,
                    client_id: &ClientId,
                    secret_hash: &TokenHash,
                    sealed: Option<&SealedSecret>,
                    now: i64,
                ) -> Result<bool, StoreError> {
                    clients::set_client_secret(&mut *self.pool.acquire().await?, client_id, secret_hash, sealed, now).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn delete_client(&self, client_id: &ClientId) -> Result<bool, StoreError> {
                    clients::delete_client(&mut *self.pool.acquire().await?, client_id).await
                }
            ];
            $($nouns)*
        }
    };
}
pub(crate) use methods;
