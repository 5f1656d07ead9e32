//! The device authorization grant's requests (RFC 8628), generated per backend by
//! [`devices_impl!`]: the SQL is the same on SQLite and PostgreSQL. Every change of state is one
//! conditional UPDATE on `status`, so two approvals, or two redemptions, cannot both happen.

/// The `devices` module of a backend with pool `$pool`.
macro_rules! devices_impl {
    ($pool:ty) => {
        mod devices {
            //! Device authorization requests: created, decided on the device page, polled and
            //! redeemed at the token endpoint.

            use crate::domain::client::ClientId;
            use crate::domain::device::{
                DeviceAuthorization, DeviceDecision, DevicePoll, SLOW_DOWN_STEP,
            };
            use crate::domain::grant::{Grant, NewRefreshToken, Redemption};
            use crate::domain::secret::TokenHash;
            use crate::store::rows::{DeviceRow, audiences_json, device_columns};
            use crate::store::{StoreError, conflict_as};

            /// [`Store::create_device_authorization`](crate::store::Store::create_device_authorization).
            pub(crate) async fn create(
                pool: &$pool,
                request: &DeviceAuthorization,
            ) -> Result<(), StoreError> {
                sqlx::query(
                    "INSERT INTO device_authorizations (device_code_hash, user_code_hash, client_id, scope, \
                     resources, device_address, created_at, expires_at, poll_interval, last_polled_at, \
                     too_fast, status, user_id, auth_time) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, FALSE, $10, NULL, NULL)",
                )
                .bind(request.device_code_hash.0.as_slice())
                .bind(request.user_code_hash.0.as_slice())
                .bind(request.client_id.as_str())
                .bind(request.scope.to_string())
                .bind(audiences_json(&request.resources))
                .bind(&request.device_address)
                .bind(request.created_at)
                .bind(request.expires_at)
                .bind(request.interval)
                .bind(request.status.as_str())
                .execute(pool)
                .await
                .map_err(conflict_as(|| "the user code is taken".to_owned()))?;
                Ok(())
            }

            /// [`Store::find_device_authorization`](crate::store::Store::find_device_authorization).
            pub(crate) async fn find_pending(
                pool: &$pool,
                user_code_hash: &TokenHash,
                now: i64,
            ) -> Result<Option<DeviceAuthorization>, StoreError> {
                let row: Option<DeviceRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    device_columns!(),
                    " FROM device_authorizations WHERE user_code_hash = $1 AND status = 'pending' \
                     AND expires_at > $2"
                ))
                .bind(user_code_hash.0.as_slice())
                .bind(now)
                .fetch_optional(pool)
                .await?;
                row.map(DeviceAuthorization::try_from).transpose()
            }

            /// [`Store::decide_device_authorization`](crate::store::Store::decide_device_authorization):
            /// one conditional UPDATE, so a request is approved or denied at most once.
            pub(crate) async fn decide(
                pool: &$pool,
                user_code_hash: &TokenHash,
                decision: &DeviceDecision,
                now: i64,
            ) -> Result<bool, StoreError> {
                let done = match decision {
                    DeviceDecision::Approve {
                        user_id,
                        auth_time,
                        authentication,
                        scope,
                    } => {
                        sqlx::query(
                            "UPDATE device_authorizations SET status = 'approved', user_id = $2, \
                             auth_time = $3, scope = $4, amr = $6 \
                             WHERE user_code_hash = $1 AND status = 'pending' AND expires_at > $5",
                        )
                        .bind(user_code_hash.0.as_slice())
                        .bind(user_id.as_str())
                        .bind(*auth_time)
                        .bind(scope.to_string())
                        .bind(now)
                        .bind(authentication.to_stored())
                        .execute(pool)
                        .await?
                    }
                    DeviceDecision::Deny { user_id } => {
                        sqlx::query(
                            "UPDATE device_authorizations SET status = 'denied', user_id = $2 \
                             WHERE user_code_hash = $1 AND status = 'pending' AND expires_at > $3",
                        )
                        .bind(user_code_hash.0.as_slice())
                        .bind(user_id.as_str())
                        .bind(now)
                        .execute(pool)
                        .await?
                    }
                };
                Ok(done.rows_affected() == 1)
            }

            /// [`Store::poll_device_authorization`](crate::store::Store::poll_device_authorization):
            /// the poll is counted and the interval grown in the same UPDATE that reads the row
            /// (every SET expression sees the row as it was), so concurrent polls cannot both pass
            /// as "in time".
            pub(crate) async fn poll(
                pool: &$pool,
                device_code_hash: &TokenHash,
                client_id: &ClientId,
                now: i64,
            ) -> Result<Option<DevicePoll>, StoreError> {
                let row: Option<DeviceRow> = sqlx::query_as(concat!(
                    "UPDATE device_authorizations SET \
                     too_fast = CASE WHEN status = 'pending' AND last_polled_at IS NOT NULL \
                                AND $3 < last_polled_at + poll_interval THEN TRUE ELSE FALSE END, \
                     poll_interval = CASE WHEN status = 'pending' AND last_polled_at IS NOT NULL \
                                AND $3 < last_polled_at + poll_interval THEN poll_interval + $4 \
                                ELSE poll_interval END, \
                     last_polled_at = $3 \
                     WHERE device_code_hash = $1 AND client_id = $2 RETURNING ",
                    device_columns!()
                ))
                .bind(device_code_hash.0.as_slice())
                .bind(client_id.as_str())
                .bind(now)
                .bind(SLOW_DOWN_STEP)
                .fetch_optional(pool)
                .await?;
                row.map(|row| {
                    let too_fast = row.too_fast;
                    DeviceAuthorization::try_from(row)
                        .map(|request| DevicePoll { request, too_fast })
                })
                .transpose()
            }

            /// [`Store::redeem_device_authorization`](crate::store::Store::redeem_device_authorization):
            /// the conditional UPDATE from `approved` to `redeemed` is the atomic consume; the
            /// grant, its refresh token and the audit event commit with it.
            pub(crate) async fn redeem(
                pool: &$pool,
                device_code_hash: &TokenHash,
                grant: &Grant,
                refresh_token: Option<&NewRefreshToken>,
                audit: crate::domain::audit::InTransaction<'_>,
            ) -> Result<Redemption, StoreError> {
                let mut tx = pool.begin().await?;
                let consumed = sqlx::query(
                    "UPDATE device_authorizations SET status = 'redeemed' \
                     WHERE device_code_hash = $1 AND status = 'approved'",
                )
                .bind(device_code_hash.0.as_slice())
                .execute(&mut *tx)
                .await?;
                if consumed.rows_affected() != 1 {
                    tx.rollback().await?;
                    return Ok(Redemption::AlreadyUsed);
                }
                super::grants::insert_grant(&mut tx, grant, refresh_token).await?;
                super::audit::insert_in(&mut tx, audit.done).await?;
                tx.commit().await?;
                Ok(Redemption::Redeemed)
            }
        }
    };
}
pub(crate) use devices_impl;

/// The [`Store`](crate::store::Store) methods of this noun, added to those `collect!`
/// has gathered; it goes on with the rest of the list.
macro_rules! methods {
    ($store:ty; [$($methods:tt)*]; $($nouns:tt)*) => {
        crate::store::shared::collect::collect! {
            $store;
            [
                $($methods)*

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
            ];
            $($nouns)*
        }
    };
}
pub(crate) use methods;
