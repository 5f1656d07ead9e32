//! The account operations both backends share (generated per backend by [`accounts_impl!`]):
//! browser sessions keyed by the SHA-256 of their id and linked to their user, and the user changes
//! that sign a user out everywhere in one transaction.

/// The `accounts` module of a backend with pool `$pool` and connection `$conn`.
macro_rules! accounts_impl {
    ($pool:ty, $conn:ty) => {
        mod accounts {
            //! Browser sessions (keyed by the SHA-256 of their id, linked to their signed-in user),
            //! and the user changes that sign a user out everywhere in one transaction.

            use crate::domain::account::SessionRecord;
            use crate::domain::grant::SignOut;
            use crate::domain::secret::TokenHash;
            use crate::domain::user::UserId;
            use crate::store::StoreError;

            /// [`Store::set_user_password`](crate::store::Store::set_user_password).
            pub(crate) async fn set_user_password(
                pool: &$pool,
                user_id: &UserId,
                password_hash: &str,
                now: i64,
                keep_until: i64,
                audit: crate::domain::audit::InTransaction<'_>,
            ) -> Result<Option<SignOut>, StoreError> {
                let mut tx = pool.begin().await?;
                let done =
                    sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE user_id = $3")
                        .bind(password_hash)
                        .bind(now)
                        .bind(user_id.as_str())
                        .execute(&mut *tx)
                        .await?;
                sign_out_if_updated(tx, done.rows_affected(), user_id, now, keep_until, audit).await
            }

            /// [`Store::disable_user`](crate::store::Store::disable_user).
            pub(crate) async fn disable_user(
                pool: &$pool,
                user_id: &UserId,
                now: i64,
                keep_until: i64,
                audit: crate::domain::audit::InTransaction<'_>,
            ) -> Result<Option<SignOut>, StoreError> {
                let mut tx = pool.begin().await?;
                let done = sqlx::query("UPDATE users SET disabled = TRUE, updated_at = $1 WHERE user_id = $2")
                    .bind(now)
                    .bind(user_id.as_str())
                    .execute(&mut *tx)
                    .await?;
                sign_out_if_updated(tx, done.rows_affected(), user_id, now, keep_until, audit).await
            }

            /// [`Store::enable_user`](crate::store::Store::enable_user).
            pub(crate) async fn enable_user(
                pool: &$pool,
                user_id: &UserId,
                now: i64,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE users SET disabled = FALSE, updated_at = $1 WHERE user_id = $2")
                    .bind(now)
                    .bind(user_id.as_str())
                    .execute(pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            /// [`Store::revoke_user_sessions`](crate::store::Store::revoke_user_sessions).
            pub(crate) async fn revoke_user_sessions(
                pool: &$pool,
                user_id: &UserId,
                now: i64,
                keep_until: i64,
                audit: crate::domain::audit::InTransaction<'_>,
            ) -> Result<Option<SignOut>, StoreError> {
                let mut tx = pool.begin().await?;
                // Writes first and the existence check last, as on SQLite: an unknown user rolls it all back.
                let signed_out = sign_out(&mut tx, user_id.as_str(), now, keep_until).await?;
                let (exists,): (bool,) =
                    sqlx::query_as("SELECT EXISTS (SELECT 1 FROM users WHERE user_id = $1)")
                        .bind(user_id.as_str())
                        .fetch_one(&mut *tx)
                        .await?;
                if !exists {
                    tx.rollback().await?;
                    return Ok(None);
                }
                super::audit::insert_in(&mut tx, audit.done).await?;
                tx.commit().await?;
                Ok(Some(signed_out))
            }

            /// The database the backend's connection talks to.
            type Db = <$conn as sqlx::Connection>::Database;

            /// `sql` with `session`'s columns bound as `$1` (the id's hash) to `$8`, in the order
            /// of `sessions`' columns below; further parameters follow from `$9`.
            fn bind_session<'q>(
                sql: &'q str,
                session: &SessionRecord<'q>,
            ) -> sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>> {
                sqlx::query(sql)
                    .bind(session.id_hash.0.as_slice())
                    .bind(session.user_id.map(UserId::as_str))
                    .bind(session.data)
                    .bind(session.expires_at)
                    .bind(session.sid)
                    .bind(session.device.signed_in_at)
                    .bind(session.device.address.as_deref())
                    .bind(session.device.user_agent.as_deref())
            }

            /// [`Store::create_session`](crate::store::Store::create_session).
            pub(crate) async fn create_session(
                pool: &$pool,
                session: &SessionRecord<'_>,
            ) -> Result<bool, StoreError> {
                let done = bind_session(
                    "INSERT INTO sessions (id_hash, user_id, data, expiry_date, sid, signed_in_at, address, user_agent) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (id_hash) DO NOTHING",
                    session,
                )
                .execute(pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            /// [`Store::save_session`](crate::store::Store::save_session).
            pub(crate) async fn save_session(
                pool: &$pool,
                session: &SessionRecord<'_>,
            ) -> Result<bool, StoreError> {
                let done = bind_session(
                    "UPDATE sessions SET user_id = $2, data = $3, expiry_date = $4, sid = $5, \
                     signed_in_at = $6, address = $7, user_agent = $8 WHERE id_hash = $1",
                    session,
                )
                .execute(pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            /// [`Store::rename_session`](crate::store::Store::rename_session).
            pub(crate) async fn rename_session(
                pool: &$pool,
                from: &TokenHash,
                session: &SessionRecord<'_>,
            ) -> Result<bool, StoreError> {
                let done = bind_session(
                    "UPDATE sessions SET id_hash = $1, user_id = $2, data = $3, expiry_date = $4, \
                     sid = $5, signed_in_at = $6, address = $7, user_agent = $8 \
                     WHERE id_hash = $9 AND NOT EXISTS (SELECT 1 FROM sessions WHERE id_hash = $1)",
                    session,
                )
                .bind(from.0.as_slice())
                .execute(pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            /// [`Store::load_session`](crate::store::Store::load_session).
            pub(crate) async fn load_session(
                pool: &$pool,
                id_hash: &TokenHash,
                now: i64,
            ) -> Result<Option<Vec<u8>>, StoreError> {
                let row: Option<(Vec<u8>,)> =
                    sqlx::query_as("SELECT data FROM sessions WHERE id_hash = $1 AND expiry_date > $2")
                        .bind(id_hash.0.as_slice())
                        .bind(now)
                        .fetch_optional(pool)
                        .await?;
                Ok(row.map(|(data,)| data))
            }

            /// [`Store::delete_session`](crate::store::Store::delete_session).
            pub(crate) async fn delete_session(pool: &$pool, id_hash: &TokenHash) -> Result<(), StoreError> {
                sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
                    .bind(id_hash.0.as_slice())
                    .execute(pool)
                    .await?;
                Ok(())
            }

            /// Sign `user_id` out everywhere inside the caller's transaction (see
            /// [`Store::revoke_user_sessions`](crate::store::Store::revoke_user_sessions)).
            /// The end of an update of one user's row in `tx`: sign the user out everywhere and commit
            /// when the row was there (`updated` is 1), else roll back and answer `None`.
            async fn sign_out_if_updated(
                mut tx: sqlx::Transaction<'static, <$conn as sqlx::Connection>::Database>,
                updated: u64,
                user_id: &UserId,
                now: i64,
                keep_until: i64,
                audit: crate::domain::audit::InTransaction<'_>,
            ) -> Result<Option<SignOut>, StoreError> {
                if updated != 1 {
                    tx.rollback().await?;
                    return Ok(None);
                }
                let signed_out = sign_out(&mut tx, user_id.as_str(), now, keep_until).await?;
                super::audit::insert_in(&mut tx, audit.done).await?;
                tx.commit().await?;
                Ok(Some(signed_out))
            }

            async fn sign_out(
                tx: &mut $conn,
                user_id: &str,
                now: i64,
                keep_until: i64,
            ) -> Result<SignOut, sqlx::Error> {
                // Back-Channel Logout §2.7: the clients the user signed in to in these sessions are told.
                super::logouts::queue(tx, super::logouts::Ending::User(user_id), now).await?;
                let sessions = sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                let authorization_codes =
                    sqlx::query("DELETE FROM authorization_codes WHERE user_id = $1 AND consumed_at IS NULL")
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                let grants =
                    sqlx::query("UPDATE grants SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
                        .bind(now)
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                // Every grant of the user, revoked before or not: access tokens carry the grant id (`gid`), and
                // a record kept too briefly by an earlier revocation is extended.
                sqlx::query(
                    "INSERT INTO revocations (id, expires_at) SELECT grant_id, $1 FROM grants WHERE user_id = $2 \
                     ON CONFLICT (id) DO UPDATE SET expires_at = CASE WHEN revocations.expires_at > excluded.expires_at \
                     THEN revocations.expires_at ELSE excluded.expires_at END",
                )
                .bind(keep_until)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
                Ok(SignOut {
                    sessions,
                    grants,
                    authorization_codes,
                })
            }
        }
    };
}
pub(crate) use accounts_impl;

/// The [`Store`](crate::store::Store) methods of this noun, added to those `collect!`
/// has gathered; it goes on with the rest of the list.
macro_rules! methods {
    ($store:ty; [$($methods:tt)*]; $($nouns:tt)*) => {
        crate::store::shared::collect::collect! {
            $store;
            [
                $($methods)*

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
                async fn create_session(
                    &self,
                    session: &crate::domain::account::SessionRecord<'_>,
                ) -> Result<bool, StoreError> {
                    accounts::create_session(&self.pool, session).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn save_session(
                    &self,
                    session: &crate::domain::account::SessionRecord<'_>,
                ) -> Result<bool, StoreError> {
                    accounts::save_session(&self.pool, session).await
                }

                #[tracing::instrument(level = "error", skip_all)]
                async fn rename_session(
                    &self,
                    from: &TokenHash,
                    session: &crate::domain::account::SessionRecord<'_>,
                ) -> Result<bool, StoreError> {
                    accounts::rename_session(&self.pool, from, session).await
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
            ];
            $($nouns)*
        }
    };
}
pub(crate) use methods;
