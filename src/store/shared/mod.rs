//! What the two backends share: every store operation whose SQL is the same on SQLite and
//! PostgreSQL (both take `$1`-style parameters), generated for each backend by [`store_impl!`].
//! What differs is written per backend: opening the pool, the migrations, and refresh-token rotation
//! (PostgreSQL locks the presented row first; SQLite serialises writers and spends it with one
//! conditional UPDATE).
//!
//! Each noun has its file, a macro generating one module of plain functions over the backend's pool:
//! [`accounts`] (passwords, account state, browser sessions), [`attempts`] (the sign-in throttle's
//! counters), [`catalog`] (scopes and APIs), [`clients`], [`devices`] (device authorization requests), [`grants`] (consent, codes, grants, refresh
//! and reference tokens, revocations, housekeeping), [`keys`] (signing keys), [`logouts`] (the back-channel logout outbox), [`roles`] (roles and
//! groups) and [`users`]. `store_impl!` generates them all and implements the trait by calling them.

pub(super) mod account_page;
pub(super) mod accounts;
pub(super) mod attempts;
pub(super) mod audit;
pub(super) mod catalog;
pub(super) mod clients;
pub(super) mod configuration;
pub(super) mod devices;
pub(super) mod factors;
pub(super) mod grants;
pub(super) mod keys;
pub(super) mod logouts;
pub(super) mod registration;
pub(super) mod roles;
pub(super) mod users;

/// Implement [`Store`](crate::store::Store) for `$store` (with pool `$pool`, connection `$conn` and
/// migrator `$migrator`): the shared operations, plus the backend's own `{ … }` methods.
macro_rules! store_impl {
    ($store:ty, $pool:ty, $conn:ty, $migrator:path, { $($own:tt)* }) => {
        crate::store::shared::accounts::accounts_impl!($pool, $conn);
        crate::store::shared::account_page::account_page_impl!($pool, $conn);
        crate::store::shared::clients::clients_impl!($pool, $conn);
        crate::store::shared::users::users_impl!($pool, $conn);
        crate::store::shared::catalog::catalog_impl!($pool, $conn);
        crate::store::shared::keys::keys_impl!($pool);
        crate::store::shared::grants::grants_impl!($pool, $conn);
        crate::store::shared::devices::devices_impl!($pool);
        crate::store::shared::factors::factors_impl!($pool, $conn);
        crate::store::shared::logouts::logouts_impl!($pool, $conn);
        crate::store::shared::attempts::attempts_impl!($pool);
        crate::store::shared::audit::audit_impl!($pool, $conn);
        crate::store::shared::roles::roles_impl!($pool, $conn);
        crate::store::shared::configuration::configuration_impl!($pool, $conn);
        crate::store::shared::registration::registration_impl!($pool, $conn);

        const _: () = {
            use async_trait::async_trait;

            use crate::domain::attempt::{AttemptCounter, Reservation};
            use crate::domain::client::{Client, ClientId, SealedSecret};
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
            use crate::store::{SigningKeyRecord, Store, StoreError};

            #[async_trait]
            impl Store for $store {
                #[tracing::instrument(level = "error", skip_all)]
                async fn migrate(&self) -> Result<(), StoreError> {
                    $migrator.run(&self.pool).await?;
                    Ok(())
                }


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
                async fn reset_second_factors(
                    &self,
                    user_id: &UserId,
                    audit: crate::domain::audit::InTransaction<'_>,
                ) -> Result<bool, StoreError> {
                    factors::reset_second_factors(&self.pool, user_id, audit).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn ping(&self) -> Result<(), StoreError> {
                    sqlx::query("SELECT 1").execute(&self.pool).await?;
                    Ok(())
                }

                fn pool_status(&self) -> crate::store::PoolStatus {
                    crate::store::PoolStatus {
                        size: self.pool.size(),
                        idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
                        max: self.pool.options().get_max_connections(),
                    }
                }


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

                #[tracing::instrument(level = "error", skip_all)]
                async fn apply_configuration(
                    &self,
                    writes: &[crate::domain::configuration::Write],
                    events: &[crate::domain::audit::AuditEvent],
                ) -> Result<(), StoreError> {
                    configuration::apply_configuration(&self.pool, writes, events).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn list_assignments(&self) -> Result<Vec<Assignment>, StoreError> {
                    roles::list_assignments(&self.pool).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn create_pushed_request(
                    &self,
                    request_hash: &TokenHash,
                    client_id: &ClientId,
                    params: &str,
                    expires_at: i64,
                ) -> Result<(), StoreError> {
                    grants::create_pushed_request(&self.pool, request_hash, client_id, params, expires_at).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn record_dpop_proof(
                    &self,
                    proof_hash: &TokenHash,
                    expires_at: i64,
                ) -> Result<bool, StoreError> {
                    grants::record_dpop_proof(&self.pool, proof_hash, expires_at).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn record_client_assertion(
                    &self,
                    client_id: &ClientId,
                    jti_hash: &TokenHash,
                    expires_at: i64,
                ) -> Result<bool, StoreError> {
                    grants::record_client_assertion(&self.pool, client_id, jti_hash, expires_at).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn consume_pushed_request(
                    &self,
                    request_hash: &TokenHash,
                    client_id: &ClientId,
                    now: i64,
                ) -> Result<Option<String>, StoreError> {
                    grants::consume_pushed_request(&self.pool, request_hash, client_id, now).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn create_device_authorization(
                    &self,
                    request: &crate::domain::device::DeviceAuthorization,
                ) -> Result<(), StoreError> {
                    devices::create(&self.pool, request).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_device_authorization(
                    &self,
                    user_code_hash: &TokenHash,
                    now: i64,
                ) -> Result<Option<crate::domain::device::DeviceAuthorization>, StoreError> {
                    devices::find_pending(&self.pool, user_code_hash, now).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn decide_device_authorization(
                    &self,
                    user_code_hash: &TokenHash,
                    decision: &crate::domain::device::DeviceDecision,
                    now: i64,
                ) -> Result<bool, StoreError> {
                    devices::decide(&self.pool, user_code_hash, decision, now).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn poll_device_authorization(
                    &self,
                    device_code_hash: &TokenHash,
                    client_id: &ClientId,
                    now: i64,
                ) -> Result<Option<crate::domain::device::DevicePoll>, StoreError> {
                    devices::poll(&self.pool, device_code_hash, client_id, now).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn redeem_device_authorization(
                    &self,
                    device_code_hash: &TokenHash,
                    grant: &Grant,
                    refresh_token: Option<&NewRefreshToken>,
                    audit: crate::domain::audit::InTransaction<'_>,
                ) -> Result<Redemption, StoreError> {
                    devices::redeem(&self.pool, device_code_hash, grant, refresh_token, audit).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn create_user(&self, user: &User) -> Result<(), StoreError> {
                    users::create_user(&mut *self.pool.acquire().await?, user).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_user(&self, user_id: &UserId) -> Result<Option<User>, StoreError> {
                    users::find_user(&self.pool, user_id).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
                    users::find_user_by_username(&self.pool, username).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn list_users(&self) -> Result<Vec<User>, StoreError> {
                    users::list_users(&self.pool).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn set_user_password(
                    &self,
                    user_id: &UserId,
                    password_hash: &str,
                    now: i64,
                    keep_until: i64,
                    audit: crate::domain::audit::InTransaction<'_>,
                ) -> Result<Option<SignOut>, StoreError> {
                    accounts::set_user_password(&self.pool, user_id, password_hash, now, keep_until, audit).await
                }


                #[tracing::instrument(level = "error", skip_all)]
                async fn disable_user(
                    &self,
                    user_id: &UserId,
                    now: i64,
                    keep_until: i64,
                    audit: crate::domain::audit::InTransaction<'_>,
                ) -> Result<Option<SignOut>, StoreError> {
                    accounts::disable_user(&self.pool, user_id, now, keep_until, audit).await
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
                    audit: crate::domain::audit::InTransaction<'_>,
                ) -> Result<Option<SignOut>, StoreError> {
                    accounts::revoke_user_sessions(&self.pool, user_id, now, keep_until, audit).await
                }


                #[tracing::instrument(level = "error", skip_all)]
                async fn delete_user(&self, user_id: &UserId, now: i64) -> Result<bool, StoreError> {
                    let mut tx = self.pool.begin().await?;
                    let deleted = users::delete_user(&mut tx, user_id, now).await?;
                    tx.commit().await?;
                    Ok(deleted)
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn create_scope(&self, scope: &Scope) -> Result<(), StoreError> {
                    catalog::create_scope(&mut *self.pool.acquire().await?, scope).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn list_scopes(&self) -> Result<Vec<Scope>, StoreError> {
                    catalog::list_scopes(&self.pool).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn delete_scope(&self, name: &str) -> Result<bool, StoreError> {
                    catalog::delete_scope(&mut *self.pool.acquire().await?, name).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn create_role(&self, role: &Role) -> Result<(), StoreError> {
                    roles::create_role(&mut *self.pool.acquire().await?, role).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn update_role(&self, role: &Role) -> Result<bool, StoreError> {
                    roles::update_role(&mut *self.pool.acquire().await?, role).await
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
                    roles::delete_role(&mut *self.pool.acquire().await?, name).await
                }


                #[tracing::instrument(level = "error", skip_all)]
                async fn find_role_holders(&self, name: &RoleName) -> Result<RoleHolders, StoreError> {
                    roles::find_role_holders(&self.pool, name).await
                }


                #[tracing::instrument(level = "error", skip_all)]
                async fn create_group(&self, group: &Group) -> Result<(), StoreError> {
                    roles::create_group(&mut *self.pool.acquire().await?, group).await
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
                    roles::delete_group(&mut *self.pool.acquire().await?, name).await
                }


                #[tracing::instrument(level = "error", skip_all)]
                async fn find_group_contents(&self, name: &GroupName) -> Result<GroupContents, StoreError> {
                    roles::find_group_contents(&self.pool, name).await
                }


                #[tracing::instrument(level = "error", skip_all)]
                async fn add_assignment(&self, assignment: &Assignment) -> Result<bool, StoreError> {
                    roles::add_assignment(&mut *self.pool.acquire().await?, assignment).await
                }


                #[tracing::instrument(level = "error", skip_all)]
                async fn remove_assignment(&self, assignment: &Assignment) -> Result<bool, StoreError> {
                    roles::remove_assignment(&mut *self.pool.acquire().await?, assignment).await
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
                async fn record_audit_events(&self, events: &[crate::domain::audit::AuditEvent]) -> Result<(), StoreError> {
                    audit::record_audit_events(&self.pool, events).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn list_audit_events(
                    &self,
                    filter: &crate::domain::audit::AuditFilter,
                ) -> Result<Vec<crate::domain::audit::AuditEvent>, StoreError> {
                    audit::list_audit_events(&self.pool, filter).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn delete_audit_events_before(&self, before: i64) -> Result<u64, StoreError> {
                    audit::delete_audit_events_before(&self.pool, before).await
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

                #[tracing::instrument(level = "error", skip_all)]
                async fn create_session(
                    &self,
                    id_hash: &TokenHash,
                    user_id: Option<&UserId>,
                    sid: Option<&str>,
                    device: &crate::domain::account::SessionDevice,
                    data: &[u8],
                    expires_at: i64,
                ) -> Result<bool, StoreError> {
                    accounts::create_session(&self.pool, id_hash, user_id, sid, device, data, expires_at).await
                }


                #[tracing::instrument(level = "error", skip_all)]
                async fn save_session(
                    &self,
                    id_hash: &TokenHash,
                    user_id: Option<&UserId>,
                    sid: Option<&str>,
                    device: &crate::domain::account::SessionDevice,
                    data: &[u8],
                    expires_at: i64,
                ) -> Result<bool, StoreError> {
                    accounts::save_session(&self.pool, id_hash, user_id, sid, device, data, expires_at).await
                }


                #[tracing::instrument(level = "error", skip_all)]
                async fn list_user_sessions(
                    &self,
                    user_id: &UserId,
                    now: i64,
                ) -> Result<Vec<crate::domain::account::UserSession>, StoreError> {
                    account_page::list_user_sessions(&self.pool, user_id, now).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn end_user_session(
                    &self,
                    user_id: &UserId,
                    sid: &str,
                    now: i64,
                    keep_until: i64,
                    audit: crate::domain::audit::InTransaction<'_>,
                ) -> Result<bool, StoreError> {
                    account_page::end_user_session(&self.pool, user_id, sid, now, keep_until, audit).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn list_connected_apps(
                    &self,
                    user_id: &UserId,
                    now: i64,
                ) -> Result<Vec<crate::domain::account::ConnectedApp>, StoreError> {
                    account_page::list_connected_apps(&self.pool, user_id, now).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn revoke_consent(
                    &self,
                    user_id: &UserId,
                    client_id: &ClientId,
                    now: i64,
                    keep_until: i64,
                    audit: crate::domain::audit::InTransaction<'_>,
                ) -> Result<crate::domain::account::ConsentRevocation, StoreError> {
                    account_page::revoke_consent(&self.pool, user_id, client_id, now, keep_until, audit).await
                }

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
                    grants::find_consent(&self.pool, user_id, client_id).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn save_consent(
                    &self,
                    user_id: &UserId,
                    client_id: &ClientId,
                    scope: &str,
                    now: i64,
                ) -> Result<(), StoreError> {
                    grants::save_consent(&self.pool, user_id, client_id, scope, now).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn create_authorization_code(&self, code: &AuthorizationCode) -> Result<(), StoreError> {
                    grants::create_authorization_code(&self.pool, code).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_authorization_code(
                    &self,
                    code_hash: &TokenHash,
                ) -> Result<Option<AuthorizationCode>, StoreError> {
                    grants::find_authorization_code(&self.pool, code_hash).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn redeem_authorization_code(
                    &self,
                    code_hash: &TokenHash,
                    grant: &Grant,
                    refresh_token: Option<&NewRefreshToken>,
                    now: i64,
                    audit: crate::domain::audit::InTransaction<'_>,
                ) -> Result<Redemption, StoreError> {
                    grants::redeem_authorization_code(&self.pool, code_hash, grant, refresh_token, now, audit).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn revoke_grant(
                    &self,
                    grant_id: &GrantId,
                    now: i64,
                    keep_until: i64,
                    audit: crate::domain::audit::InTransaction<'_>,
                ) -> Result<(), StoreError> {
                    grants::revoke_grant(&self.pool, grant_id, now, keep_until, audit).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn is_revoked(&self, jti: &str, grant_id: &GrantId) -> Result<bool, StoreError> {
                    grants::is_revoked(&self.pool, jti, grant_id).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_refresh_token(
                    &self,
                    token_hash: &TokenHash,
                ) -> Result<Option<RefreshTokenState>, StoreError> {
                    grants::find_refresh_token(&self.pool, token_hash).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn revoke_access_token(&self, jti: &str, expires_at: i64) -> Result<(), StoreError> {
                    grants::revoke_access_token(&self.pool, jti, expires_at).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn housekeep(&self, now: i64, spent_before: i64) -> Result<Housekeeping, StoreError> {
                    grants::housekeep(&self.pool, now, spent_before).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn create_api(&self, api: &Api) -> Result<(), StoreError> {
                    catalog::create_api(&mut *self.pool.acquire().await?, api).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn list_apis(&self) -> Result<Vec<Api>, StoreError> {
                    catalog::list_apis(&self.pool).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn update_api(&self, api: &Api) -> Result<bool, StoreError> {
                    catalog::update_api(&mut *self.pool.acquire().await?, api).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn delete_api(&self, audience: &Audience) -> Result<bool, StoreError> {
                    catalog::delete_api(&mut *self.pool.acquire().await?, audience).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn set_scope_api(
                    &self,
                    name: &str,
                    api: Option<&Audience>,
                ) -> Result<bool, StoreError> {
                    catalog::set_scope_api(&mut *self.pool.acquire().await?, name, api).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn create_reference_token(&self, token: &ReferenceToken) -> Result<(), StoreError> {
                    grants::create_reference_token(&self.pool, token).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn find_reference_token(
                    &self,
                    token_hash: &TokenHash,
                ) -> Result<Option<ReferenceToken>, StoreError> {
                    grants::find_reference_token(&self.pool, token_hash).await
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

                $($own)*
            }
        };
    };
}
pub(crate) use store_impl;
