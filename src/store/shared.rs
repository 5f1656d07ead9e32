//! What the two backends share: every store operation whose SQL is the same on SQLite and
//! PostgreSQL (both take `$1`-style parameters), generated for each backend by [`store_impl!`].
//! What differs is written per backend: opening the pool, the migrations, and refresh-token rotation
//! (PostgreSQL locks the presented row first; SQLite serialises writers and spends it with one
//! conditional UPDATE).

/// Implement [`Store`](crate::store::Store) for `$store` (with pool `$pool`, connection `$conn` and
/// migrator `$migrator`): the shared operations, plus the backend's own `{ … }` methods.
macro_rules! store_impl {
    ($store:ty, $pool:ty, $conn:ty, $migrator:path, { $($own:tt)* }) => {
        crate::store::shared_accounts::accounts_impl!($pool, $conn);
        crate::store::shared_attempts::attempts_impl!($pool);
        crate::store::shared_roles::roles_impl!($pool);

        mod grants {
            //! Steps of the grant transactions that both backends take in the same way.

            use crate::domain::grant::NewRefreshToken;

            /// Revoke a grant and record the revocation until `keep_until` (a longer record stays).
            pub(crate) async fn revoke(
                tx: &mut $conn,
                grant_id: &str,
                now: i64,
                keep_until: i64,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "UPDATE grants SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL",
                )
                .bind(now)
                .bind(grant_id)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "INSERT INTO revocations (id, expires_at) VALUES ($1, $2) \
                     ON CONFLICT (id) DO UPDATE SET expires_at = CASE \
                     WHEN revocations.expires_at > excluded.expires_at THEN revocations.expires_at \
                     ELSE excluded.expires_at END",
                )
                .bind(grant_id)
                .bind(keep_until)
                .execute(&mut *tx)
                .await?;
                Ok(())
            }

            /// Store a rotated refresh token's successor and extend its grant to cover it.
            pub(crate) async fn store_successor(
                tx: &mut $conn,
                next: &NewRefreshToken,
            ) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "INSERT INTO refresh_tokens (token_hash, grant_id, scope, created_at, expires_at, \
                     rotated_at, successor_hash) VALUES ($1, $2, $3, $4, $5, NULL, NULL)",
                )
                .bind(next.token_hash.0.as_slice())
                .bind(next.grant_id.as_str())
                .bind(next.scope.to_string())
                .bind(next.created_at)
                .bind(next.expires_at)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE grants SET expires_at = $1 WHERE grant_id = $2 AND expires_at < $1")
                    .bind(next.expires_at)
                    .bind(next.grant_id.as_str())
                    .execute(&mut *tx)
                    .await?;
                Ok(())
            }
        }

        const _: () = {
            use async_trait::async_trait;

            use crate::domain::attempt::{AttemptCounter, Reservation};
            use crate::domain::client::{Client, ClientId};
            use crate::domain::grant::{
                AuthorizationCode, Grant, GrantId, Housekeeping, ReferenceToken, NewRefreshToken, Redemption,
                RefreshTokenState, Rotation, SignOut,
            };
            use crate::domain::group::{Group, GroupName};
            use crate::domain::role::{
                Assignment, Authorization, GroupContents, Role, RoleHolders, RoleName,
            };
            use crate::domain::scope::Scope;
            use crate::domain::secret::TokenHash;
            use crate::domain::user::{User, UserId};
            use crate::domain::api::{Api, Audience};
            use crate::store::rows::{
                ApiRow, ClientColumns, ClientRow, CodeRow, KeyRow, RefreshRow, ScopeRow, UserRow,
                api_columns, audiences_json, client_columns, code_columns, convert_all, key_columns,
                user_columns,
            };
            use crate::store::{SigningKeyRecord, Store, StoreError, conflict_as};

            /// Unredeemed codes go when they expire; a consumed code stays while its grant lives, so a replay
            /// still finds it and revokes what it produced (RFC 6749 §4.1.2, RFC 9700 §4.2.1).
            const CODES_PAST_REPLAY_DETECTION: &str = "DELETE FROM authorization_codes WHERE expires_at <= $1 \
                 AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.grant_id = authorization_codes.grant_id)";
            #[async_trait]
            impl Store for $store {

                #[tracing::instrument(level = "error", skip_all)]
                async fn migrate(&self) -> Result<(), StoreError> {
                    $migrator.run(&self.pool).await?;
                    Ok(())
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn ping(&self) -> Result<(), StoreError> {
                    sqlx::query("SELECT 1").execute(&self.pool).await?;
                    Ok(())
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn create_client(&self, client: &Client) -> Result<(), StoreError> {
                    let cols = ClientColumns::of(client);
                    let done = sqlx::query(concat!(
                        "INSERT INTO clients (",
                        client_columns!(),
                        ") SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19 \
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
                    .execute(&self.pool)
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

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_client(&self, client_id: &ClientId) -> Result<Option<Client>, StoreError> {
                    let row: Option<ClientRow> = sqlx::query_as(concat!(
                        "SELECT ",
                        client_columns!(),
                        " FROM clients WHERE client_id = $1"
                    ))
                    .bind(client_id.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                    row.map(Client::try_from).transpose()
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
                    let rows: Vec<ClientRow> = sqlx::query_as(concat!(
                        "SELECT ",
                        client_columns!(),
                        " FROM clients ORDER BY client_name, client_id"
                    ))
                    .fetch_all(&self.pool)
                    .await?;
                    convert_all(rows)
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn update_client(&self, client: &Client) -> Result<bool, StoreError> {
                    let cols = ClientColumns::of(client);
                    let done = sqlx::query(
                        "UPDATE clients SET client_name = $1, auth_method = $2, redirect_uris = $3, \
                         post_logout_redirect_uris = $4, grant_types = $5, scopes = $6, require_pkce = $7, \
                         skip_consent = $8, introspect_any = $9, id_token_alg = $10, updated_at = $11, \
                         application_type = $13, resources = $14, default_resource = $15, api = $16, \
                         may_exchange_for = $17 WHERE client_id = $12",
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
                    .execute(&self.pool)
                    .await?;
                    Ok(done.rows_affected() == 1)
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn set_client_secret(
                    &self,
                    client_id: &ClientId,
                    secret_hash: &TokenHash,
                    now: i64,
                ) -> Result<bool, StoreError> {
                    let done = sqlx::query(
                        "UPDATE clients SET secret_hash = $1, updated_at = $2 WHERE client_id = $3",
                    )
                    .bind(secret_hash.0.as_slice())
                    .bind(now)
                    .bind(client_id.as_str())
                    .execute(&self.pool)
                    .await?;
                    Ok(done.rows_affected() == 1)
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn delete_client(&self, client_id: &ClientId) -> Result<bool, StoreError> {
                    let done = sqlx::query("DELETE FROM clients WHERE client_id = $1")
                        .bind(client_id.as_str())
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn create_user(&self, user: &User) -> Result<(), StoreError> {
                    sqlx::query(concat!(
                        "INSERT INTO users (",
                        user_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                    ))
                    .bind(user.user_id.as_str())
                    .bind(&user.username)
                    .bind(&user.email)
                    .bind(user.email_verified)
                    .bind(&user.name)
                    .bind(&user.password_hash)
                    .bind(user.disabled)
                    .bind(user.created_at)
                    .bind(user.updated_at)
                    .execute(&self.pool)
                    .await
                    .map_err(conflict_as(|| {
                        format!("the username '{}' is taken", user.username)
                    }))?;
                    Ok(())
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_user(&self, user_id: &UserId) -> Result<Option<User>, StoreError> {
                    let row: Option<UserRow> = sqlx::query_as(concat!(
                        "SELECT ",
                        user_columns!(),
                        " FROM users WHERE user_id = $1"
                    ))
                    .bind(user_id.as_str())
                    .fetch_optional(&self.pool)
                    .await?;
                    Ok(row.map(User::from))
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
                    let row: Option<UserRow> = sqlx::query_as(concat!(
                        "SELECT ",
                        user_columns!(),
                        " FROM users WHERE username = $1"
                    ))
                    .bind(username)
                    .fetch_optional(&self.pool)
                    .await?;
                    Ok(row.map(User::from))
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn list_users(&self) -> Result<Vec<User>, StoreError> {
                    let rows: Vec<UserRow> = sqlx::query_as(concat!(
                        "SELECT ",
                        user_columns!(),
                        " FROM users ORDER BY username"
                    ))
                    .fetch_all(&self.pool)
                    .await?;
                    Ok(rows.into_iter().map(User::from).collect())
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn set_user_password(
                    &self,
                    user_id: &UserId,
                    password_hash: &str,
                    now: i64,
                    keep_until: i64,
                ) -> Result<Option<SignOut>, StoreError> {
                    accounts::set_user_password(&self.pool, user_id, password_hash, now, keep_until).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn disable_user(
                    &self,
                    user_id: &UserId,
                    now: i64,
                    keep_until: i64,
                ) -> Result<Option<SignOut>, StoreError> {
                    accounts::disable_user(&self.pool, user_id, now, keep_until).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn enable_user(&self, user_id: &UserId, now: i64) -> Result<bool, StoreError> {
                    accounts::enable_user(&self.pool, user_id, now).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn revoke_user_sessions(
                    &self,
                    user_id: &UserId,
                    now: i64,
                    keep_until: i64,
                ) -> Result<Option<SignOut>, StoreError> {
                    accounts::revoke_user_sessions(&self.pool, user_id, now, keep_until).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn delete_user(&self, user_id: &UserId) -> Result<bool, StoreError> {
                    let done = sqlx::query("DELETE FROM users WHERE user_id = $1")
                        .bind(user_id.as_str())
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn create_scope(&self, scope: &Scope) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO scopes (name, description, builtin, created_at, api, hidden) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&scope.name)
                    .bind(&scope.description)
                    .bind(scope.builtin)
                    .bind(scope.created_at)
                    .bind(scope.api.as_ref().map(Audience::as_str))
                    .bind(scope.hidden)
                    .execute(&self.pool)
                    .await
                    .map_err(conflict_as(|| {
                        format!("the scope '{}' already exists", scope.name)
                    }))?;
                    Ok(())
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn list_scopes(&self) -> Result<Vec<Scope>, StoreError> {
                    let rows: Vec<ScopeRow> = sqlx::query_as(
                        "SELECT name, description, builtin, created_at, api, hidden FROM scopes ORDER BY name",
                    )
                    .fetch_all(&self.pool)
                    .await?;
                    Ok(rows.into_iter().map(Scope::from).collect())
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn delete_scope(&self, name: &str) -> Result<bool, StoreError> {
                    let done = sqlx::query("DELETE FROM scopes WHERE name = $1 AND NOT builtin")
                        .bind(name)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn create_role(&self, role: &Role) -> Result<(), StoreError> {
                    roles::create_role(&self.pool, role).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_role(&self, name: &RoleName) -> Result<Option<Role>, StoreError> {
                    roles::find_role(&self.pool, name).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn list_roles(&self) -> Result<Vec<Role>, StoreError> {
                    roles::list_roles(&self.pool).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn delete_role(&self, name: &RoleName) -> Result<bool, StoreError> {
                    roles::delete_role(&self.pool, name).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_role_holders(&self, name: &RoleName) -> Result<RoleHolders, StoreError> {
                    roles::find_role_holders(&self.pool, name).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn create_group(&self, group: &Group) -> Result<(), StoreError> {
                    roles::create_group(&self.pool, group).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_group(&self, name: &GroupName) -> Result<Option<Group>, StoreError> {
                    roles::find_group(&self.pool, name).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn list_groups(&self) -> Result<Vec<Group>, StoreError> {
                    roles::list_groups(&self.pool).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn delete_group(&self, name: &GroupName) -> Result<bool, StoreError> {
                    roles::delete_group(&self.pool, name).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_group_contents(&self, name: &GroupName) -> Result<GroupContents, StoreError> {
                    roles::find_group_contents(&self.pool, name).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn add_assignment(&self, assignment: &Assignment) -> Result<bool, StoreError> {
                    roles::add_assignment(&self.pool, assignment).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn remove_assignment(&self, assignment: &Assignment) -> Result<bool, StoreError> {
                    roles::remove_assignment(&self.pool, assignment).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_authorization(&self, user_id: &UserId) -> Result<Authorization, StoreError> {
                    roles::find_authorization(&self.pool, user_id).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_client_roles(&self, client_id: &ClientId) -> Result<Vec<RoleName>, StoreError> {
                    roles::find_client_roles(&self.pool, client_id).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
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
                    .execute(&self.pool)
                    .await
                    .map_err(conflict_as(|| {
                        format!("{} already has a {} key", key.alg, key.state.as_str())
                    }))?;
                    Ok(())
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
                    let rows: Vec<KeyRow> = sqlx::query_as(concat!(
                        "SELECT ",
                        key_columns!(),
                        " FROM signing_keys ORDER BY created_at DESC, kid"
                    ))
                    .fetch_all(&self.pool)
                    .await?;
                    convert_all(rows)
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn rotate_signing_keys(
                    &self,
                    new_next: &SigningKeyRecord,
                    now: i64,
                ) -> Result<Option<String>, StoreError> {
                    let mut tx = self.pool.begin().await?;
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

                #[tracing::instrument(level = "error", skip_all)]
                async fn create_session(
                    &self,
                    id_hash: &TokenHash,
                    user_id: Option<&UserId>,
                    data: &[u8],
                    expires_at: i64,
                ) -> Result<bool, StoreError> {
                    accounts::create_session(&self.pool, id_hash, user_id, data, expires_at).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn save_session(
                    &self,
                    id_hash: &TokenHash,
                    user_id: Option<&UserId>,
                    data: &[u8],
                    expires_at: i64,
                ) -> Result<bool, StoreError> {
                    accounts::save_session(&self.pool, id_hash, user_id, data, expires_at).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn load_session(
                    &self,
                    id_hash: &TokenHash,
                    now: i64,
                ) -> Result<Option<Vec<u8>>, StoreError> {
                    accounts::load_session(&self.pool, id_hash, now).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn delete_session(&self, id_hash: &TokenHash) -> Result<(), StoreError> {
                    accounts::delete_session(&self.pool, id_hash).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_consent(
                    &self,
                    user_id: &UserId,
                    client_id: &ClientId,
                ) -> Result<Option<String>, StoreError> {
                    let row: Option<(String,)> =
                        sqlx::query_as("SELECT scope FROM consents WHERE user_id = $1 AND client_id = $2")
                            .bind(user_id.as_str())
                            .bind(client_id.as_str())
                            .fetch_optional(&self.pool)
                            .await?;
                    Ok(row.map(|(scope,)| scope))
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn save_consent(
                    &self,
                    user_id: &UserId,
                    client_id: &ClientId,
                    scope: &str,
                    now: i64,
                ) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
                    )
                    .bind(user_id.as_str())
                    .bind(client_id.as_str())
                    .bind(scope)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn create_authorization_code(&self, code: &AuthorizationCode) -> Result<(), StoreError> {
                    sqlx::query(concat!(
                        "INSERT INTO authorization_codes (",
                        code_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, $12, $13)"
                    ))
                    .bind(code.code_hash.0.as_slice())
                    .bind(code.grant_id.as_str())
                    .bind(code.client_id.as_str())
                    .bind(code.user_id.as_str())
                    .bind(&code.redirect_uri)
                    .bind(code.scope.to_string())
                    .bind(&code.nonce)
                    .bind(&code.code_challenge)
                    .bind(code.auth_time)
                    .bind(code.created_at)
                    .bind(code.expires_at)
                    .bind(code.redirect_uri_sent)
                    .bind(audiences_json(&code.resources))
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_authorization_code(
                    &self,
                    code_hash: &TokenHash,
                ) -> Result<Option<AuthorizationCode>, StoreError> {
                    let row: Option<CodeRow> = sqlx::query_as(concat!(
                        "SELECT ",
                        code_columns!(),
                        " FROM authorization_codes WHERE code_hash = $1"
                    ))
                    .bind(code_hash.0.as_slice())
                    .fetch_optional(&self.pool)
                    .await?;
                    row.map(AuthorizationCode::try_from).transpose()
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn redeem_authorization_code(
                    &self,
                    code_hash: &TokenHash,
                    grant: &Grant,
                    refresh_token: Option<&NewRefreshToken>,
                    now: i64,
                ) -> Result<Redemption, StoreError> {
                    let mut tx = self.pool.begin().await?;
                    // The conditional UPDATE is the atomic consume: one statement, so concurrent callers serialise on it.
                    let consumed = sqlx::query(
                        "UPDATE authorization_codes SET consumed_at = $1 WHERE code_hash = $2 AND consumed_at IS NULL",
                    )
                    .bind(now)
                    .bind(code_hash.0.as_slice())
                    .execute(&mut *tx)
                    .await?;
                    if consumed.rows_affected() != 1 {
                        tx.rollback().await?;
                        return Ok(Redemption::AlreadyUsed);
                    }
                    sqlx::query(
                        "INSERT INTO grants (grant_id, client_id, user_id, scope, auth_time, created_at, expires_at, \
                         revoked_at, resources) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, $8)",
                    )
                    .bind(grant.grant_id.as_str())
                    .bind(grant.client_id.as_str())
                    .bind(grant.user_id.as_ref().map(UserId::as_str))
                    .bind(grant.scope.to_string())
                    .bind(grant.auth_time)
                    .bind(grant.created_at)
                    .bind(grant.expires_at)
                    .bind(audiences_json(&grant.resources))
                    .execute(&mut *tx)
                    .await?;
                    if let Some(token) = refresh_token {
                        sqlx::query(
                            "INSERT INTO refresh_tokens (token_hash, grant_id, scope, created_at, expires_at, rotated_at, successor_hash) \
                             VALUES ($1, $2, $3, $4, $5, NULL, NULL)",
                        )
                        .bind(token.token_hash.0.as_slice())
                        .bind(token.grant_id.as_str())
                        .bind(token.scope.to_string())
                        .bind(token.created_at)
                        .bind(token.expires_at)
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(Redemption::Redeemed)
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn revoke_grant(
                    &self,
                    grant_id: &GrantId,
                    now: i64,
                    keep_until: i64,
                ) -> Result<(), StoreError> {
                    let mut tx = self.pool.begin().await?;
                    grants::revoke(&mut tx, grant_id.as_str(), now, keep_until).await?;
                    tx.commit().await?;
                    Ok(())
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn is_revoked(&self, jti: &str, grant_id: &GrantId) -> Result<bool, StoreError> {
                    let (count,): (i64,) =
                        sqlx::query_as("SELECT COUNT(*) FROM revocations WHERE id = $1 OR id = $2")
                            .bind(jti)
                            .bind(grant_id.as_str())
                            .fetch_one(&self.pool)
                            .await?;
                    Ok(count > 0)
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_refresh_token(
                    &self,
                    token_hash: &TokenHash,
                ) -> Result<Option<RefreshTokenState>, StoreError> {
                    let row: Option<RefreshRow> = sqlx::query_as(
                        "SELECT r.grant_id, g.client_id, g.user_id, r.scope, g.auth_time, r.created_at, r.expires_at, \
                         r.rotated_at, g.revoked_at, g.created_at AS grant_created_at, g.resources FROM refresh_tokens r JOIN grants g ON g.grant_id = r.grant_id \
                         WHERE r.token_hash = $1",
                    )
                    .bind(token_hash.0.as_slice())
                    .fetch_optional(&self.pool)
                    .await?;
                    row.map(RefreshTokenState::try_from).transpose()
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn revoke_access_token(&self, jti: &str, expires_at: i64) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO revocations (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(jti)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn housekeep(&self, now: i64, spent_before: i64) -> Result<Housekeeping, StoreError> {
                    let run = |sql: &'static str, first: i64, second: Option<i64>| {
                        let pool = self.pool.clone();
                        async move {
                            let mut query = sqlx::query(sql).bind(first);
                            if let Some(second) = second {
                                query = query.bind(second);
                            }
                            query.execute(&pool).await.map(|done| done.rows_affected())
                        }
                    };
                    Ok(Housekeeping {
                        authorization_codes: run(CODES_PAST_REPLAY_DETECTION, now, None).await?,
                        refresh_tokens: run(
                            "DELETE FROM refresh_tokens WHERE expires_at <= $1 OR (rotated_at IS NOT NULL AND rotated_at < $2)",
                            now,
                            Some(spent_before),
                        )
                        .await?,
                        revocations: run("DELETE FROM revocations WHERE expires_at <= $1", now, None).await?,
                        grants: run(
                            "DELETE FROM grants WHERE expires_at <= $1 \
                             AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = grants.grant_id)",
                            now,
                            None,
                        )
                        .await?,
                        sessions: run("DELETE FROM sessions WHERE expiry_date <= $1", now, None).await?,
                        reference_tokens: run(
                            "DELETE FROM reference_tokens WHERE expires_at <= $1",
                            now,
                            None,
                        )
                        .await?,
                        sign_in_attempts: run(
                            "DELETE FROM sign_in_attempts WHERE expires_at <= $1",
                            now,
                            None,
                        )
                        .await?,
                    })
                }
                #[tracing::instrument(level = "error", skip_all)]
                async fn create_api(&self, api: &Api) -> Result<(), StoreError> {
                    sqlx::query(concat!(
                        "INSERT INTO apis (",
                        api_columns!(),
                        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                    ))
                    .bind(api.audience.as_str())
                    .bind(&api.name)
                    .bind(api.access_token_ttl)
                    .bind(api.access_token_alg.map(|alg| alg.as_str()))
                    .bind(api.created_at)
                    .bind(api.updated_at)
                    .bind(api.token_format.as_str())
                    .bind(api.rbac)
                    .execute(&self.pool)
                    .await
                    .map_err(conflict_as(|| {
                        format!("an API with audience '{}' already exists", api.audience)
                    }))?;
                    Ok(())
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn list_apis(&self) -> Result<Vec<Api>, StoreError> {
                    let rows: Vec<ApiRow> = sqlx::query_as(concat!(
                        "SELECT ",
                        api_columns!(),
                        " FROM apis ORDER BY name, audience"
                    ))
                    .fetch_all(&self.pool)
                    .await?;
                    convert_all(rows)
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn update_api(&self, api: &Api) -> Result<bool, StoreError> {
                    let done = sqlx::query(
                        "UPDATE apis SET name = $1, access_token_ttl = $2, access_token_alg = $3, \
                         updated_at = $4, token_format = $6, rbac = $7 WHERE audience = $5",
                    )
                    .bind(&api.name)
                    .bind(api.access_token_ttl)
                    .bind(api.access_token_alg.map(|alg| alg.as_str()))
                    .bind(api.updated_at)
                    .bind(api.audience.as_str())
                    .bind(api.token_format.as_str())
                    .bind(api.rbac)
                    .execute(&self.pool)
                    .await?;
                    Ok(done.rows_affected() == 1)
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn delete_api(&self, audience: &Audience) -> Result<bool, StoreError> {
                    let done = sqlx::query(
                        "DELETE FROM apis WHERE audience = $1 \
                         AND NOT EXISTS (SELECT 1 FROM scopes WHERE api = $1) \
                         AND NOT EXISTS (SELECT 1 FROM roles WHERE api = $1)",
                    )
                    .bind(audience.as_str())
                    .execute(&self.pool)
                    .await?;
                    Ok(done.rows_affected() == 1)
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn set_scope_api(
                    &self,
                    name: &str,
                    api: Option<&Audience>,
                ) -> Result<bool, StoreError> {
                    let done = sqlx::query("UPDATE scopes SET api = $1 WHERE name = $2 AND NOT builtin")
                        .bind(api.map(Audience::as_str))
                        .bind(name)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn create_reference_token(&self, token: &ReferenceToken) -> Result<(), StoreError> {
                    sqlx::query(
                        "INSERT INTO reference_tokens (token_hash, jti, client_id, claims, expires_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(token.token_hash.0.as_slice())
                    .bind(&token.jti)
                    .bind(token.client_id.as_str())
                    .bind(&token.claims)
                    .bind(token.expires_at)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_reference_token(
                    &self,
                    token_hash: &TokenHash,
                ) -> Result<Option<ReferenceToken>, StoreError> {
                    let row: Option<(String, String, String, i64)> = sqlx::query_as(
                        "SELECT jti, client_id, claims, expires_at FROM reference_tokens WHERE token_hash = $1",
                    )
                    .bind(token_hash.0.as_slice())
                    .fetch_optional(&self.pool)
                    .await?;
                    Ok(row.map(|(jti, client_id, claims, expires_at)| ReferenceToken {
                        token_hash: token_hash.clone(),
                        jti,
                        client_id: ClientId::from_stored(client_id),
                        claims,
                        expires_at,
                    }))
                }

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

                $($own)*
            }
        };
    };
}
pub(crate) use store_impl;
