//! What the account page reads and changes, shared by both backends (generated per backend by
//! [`account_page_impl!`]): a user's live browser sessions, ending one of them, the applications
//! they have connected, and revoking one's consent with its grants. Each change is one transaction,
//! its audit event committed with it.

/// The `account_page` module of a backend with pool `$pool` and connection `$conn`.
macro_rules! account_page_impl {
    ($pool:ty, $conn:ty) => {
        mod account_page {
            //! A user's sessions and connected applications, as the account page shows and ends them.

            use crate::domain::account::{ConnectedApp, ConsentRevocation, SessionDevice, UserSession};
            use crate::domain::audit::InTransaction;
            use crate::domain::client::ClientId;
            use crate::domain::user::UserId;
            use crate::store::StoreError;

            #[derive(sqlx::FromRow)]
            struct SessionRow {
                sid: Option<String>,
                signed_in_at: Option<i64>,
                address: Option<String>,
                user_agent: Option<String>,
                expiry_date: i64,
            }

            #[derive(sqlx::FromRow)]
            struct AppRow {
                client_id: String,
                client_name: String,
                scope: Option<String>,
                consented_at: Option<i64>,
            }

            /// [`Store::list_user_sessions`](crate::store::Store::list_user_sessions).
            pub(crate) async fn list_user_sessions(
                pool: &$pool,
                user_id: &UserId,
                now: i64,
            ) -> Result<Vec<UserSession>, StoreError> {
                let rows: Vec<SessionRow> = sqlx::query_as(
                    "SELECT sid, signed_in_at, address, user_agent, expiry_date FROM sessions \
                     WHERE user_id = $1 AND expiry_date > $2 \
                     ORDER BY signed_in_at DESC, expiry_date DESC",
                )
                .bind(user_id.as_str())
                .bind(now)
                .fetch_all(pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|r| UserSession {
                        sid: r.sid,
                        device: SessionDevice {
                            signed_in_at: r.signed_in_at,
                            address: r.address,
                            user_agent: r.user_agent,
                        },
                        expires_at: r.expiry_date,
                    })
                    .collect())
            }

            /// Which of a user's grants: those of one browser session, or of one client.
            #[derive(Clone, Copy)]
            enum GrantsOf {
                Session,
                Client,
            }

            impl GrantsOf {
                /// The `grants` column the key is compared with (a constant, never input).
                fn column(self) -> &'static str {
                    match self {
                        Self::Session => "sid",
                        Self::Client => "client_id",
                    }
                }
            }

            /// Revoke the grants of `user_id` of `which` (`key`: the session's `sid` or the client's
            /// id) and record their revocation until `keep_until`; how many were live.
            async fn revoke_grants(
                tx: &mut $conn,
                user_id: &UserId,
                which: GrantsOf,
                key: &str,
                now: i64,
                keep_until: i64,
            ) -> Result<u64, sqlx::Error> {
                let column = which.column();
                let revoked = sqlx::query(&format!(
                    "UPDATE grants SET revoked_at = $1 \
                     WHERE user_id = $2 AND {column} = $3 AND revoked_at IS NULL"
                ))
                .bind(now)
                .bind(user_id.as_str())
                .bind(key)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                // Access tokens carry their grant id (`gid`): introspection finds it here.
                sqlx::query(&format!(
                    "INSERT INTO revocations (id, expires_at) \
                     SELECT grant_id, $1 FROM grants WHERE user_id = $2 AND {column} = $3 \
                     ON CONFLICT (id) DO UPDATE SET expires_at = CASE \
                     WHEN revocations.expires_at > excluded.expires_at THEN revocations.expires_at \
                     ELSE excluded.expires_at END"
                ))
                .bind(keep_until)
                .bind(user_id.as_str())
                .bind(key)
                .execute(&mut *tx)
                .await?;
                Ok(revoked)
            }

            /// [`Store::end_user_session`](crate::store::Store::end_user_session).
            pub(crate) async fn end_user_session(
                pool: &$pool,
                user_id: &UserId,
                sid: &str,
                now: i64,
                keep_until: i64,
                audit: InTransaction<'_>,
            ) -> Result<bool, StoreError> {
                let mut tx = pool.begin().await?;
                let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND sid = $2")
                    .bind(user_id.as_str())
                    .bind(sid)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if ended == 0 {
                    tx.rollback().await?;
                    return Ok(false);
                }
                super::logouts::queue(&mut tx, super::logouts::Ending::Session(sid), now).await?;
                revoke_grants(&mut tx, user_id, GrantsOf::Session, sid, now, keep_until).await?;
                sqlx::query(
                    "DELETE FROM authorization_codes WHERE user_id = $1 AND sid = $2 AND consumed_at IS NULL",
                )
                .bind(user_id.as_str())
                .bind(sid)
                .execute(&mut *tx)
                .await?;
                super::audit::insert_in(&mut tx, audit.done).await?;
                tx.commit().await?;
                Ok(true)
            }

            /// [`Store::list_connected_apps`](crate::store::Store::list_connected_apps).
            pub(crate) async fn list_connected_apps(
                pool: &$pool,
                user_id: &UserId,
                now: i64,
            ) -> Result<Vec<ConnectedApp>, StoreError> {
                let rows: Vec<AppRow> = sqlx::query_as(
                    "SELECT c.client_id, c.client_name, \
                     COALESCE(co.scope, (SELECT g.scope FROM grants g WHERE g.client_id = c.client_id \
                       AND g.user_id = $1 AND g.revoked_at IS NULL AND g.expires_at > $2 \
                       ORDER BY g.created_at DESC LIMIT 1)) AS scope, \
                     co.granted_at AS consented_at \
                     FROM clients c LEFT JOIN consents co ON co.client_id = c.client_id AND co.user_id = $1 \
                     WHERE co.user_id IS NOT NULL OR EXISTS (SELECT 1 FROM grants g \
                       WHERE g.client_id = c.client_id AND g.user_id = $1 \
                       AND g.revoked_at IS NULL AND g.expires_at > $2) \
                     ORDER BY c.client_name, c.client_id",
                )
                .bind(user_id.as_str())
                .bind(now)
                .fetch_all(pool)
                .await?;
                Ok(rows
                    .into_iter()
                    .map(|r| ConnectedApp {
                        client_id: r.client_id,
                        client_name: r.client_name,
                        scope: r.scope.unwrap_or_default(),
                        consented_at: r.consented_at,
                    })
                    .collect())
            }

            /// [`Store::revoke_consent`](crate::store::Store::revoke_consent).
            pub(crate) async fn revoke_consent(
                pool: &$pool,
                user_id: &UserId,
                client_id: &ClientId,
                now: i64,
                keep_until: i64,
                audit: InTransaction<'_>,
            ) -> Result<ConsentRevocation, StoreError> {
                let mut tx = pool.begin().await?;
                let consent = sqlx::query("DELETE FROM consents WHERE user_id = $1 AND client_id = $2")
                    .bind(user_id.as_str())
                    .bind(client_id.as_str())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected()
                    > 0;
                sqlx::query(
                    "DELETE FROM authorization_codes WHERE user_id = $1 AND client_id = $2 AND consumed_at IS NULL",
                )
                .bind(user_id.as_str())
                .bind(client_id.as_str())
                .execute(&mut *tx)
                .await?;
                let grants =
                    revoke_grants(&mut tx, user_id, GrantsOf::Client, client_id.as_str(), now, keep_until).await?;
                let revocation = ConsentRevocation { consent, grants };
                if revocation == ConsentRevocation::default() {
                    tx.rollback().await?;
                    return Ok(revocation);
                }
                super::audit::insert_in(&mut tx, audit.done).await?;
                tx.commit().await?;
                Ok(revocation)
            }
        }
    };
}
pub(crate) use account_page_impl;

/// The [`Store`](crate::store::Store) methods of this noun, added to those `collect!`
/// has gathered; it goes on with the rest of the list.
macro_rules! methods {
    ($store:ty; [$($methods:tt)*]; $($nouns:tt)*) => {
        crate::store::shared::collect::collect! {
            $store;
            [
                $($methods)*

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
            ];
            $($nouns)*
        }
    };
}
pub(crate) use methods;
