//! The user operations both backends share (generated per backend by [`users_impl!`]):
//! creating, finding, listing and deleting users.

/// The `users` module of a backend with pool `$pool`.
macro_rules! users_impl {
    ($pool:ty, $conn:ty) => {
        mod users {
            //! Users.

            use crate::domain::user::{User, UserId};
            use crate::store::rows::{UserRow, user_columns};
            use crate::store::{StoreError, conflict_as};

            /// [`Store::create_user`](crate::store::Store::create_user).
            pub(crate) async fn create_user(
                conn: &mut $conn,
                user: &User,
            ) -> Result<(), StoreError> {
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
                .execute(&mut *conn)
                .await
                .map_err(conflict_as(|| {
                    format!("the username '{}' is taken", user.username)
                }))?;
                Ok(())
            }

            /// [`Store::find_user`](crate::store::Store::find_user).
            pub(crate) async fn find_user(
                pool: &$pool,
                user_id: &UserId,
            ) -> Result<Option<User>, StoreError> {
                let row: Option<UserRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users WHERE user_id = $1"
                ))
                .bind(user_id.as_str())
                .fetch_optional(pool)
                .await?;
                Ok(row.map(User::from))
            }

            /// [`Store::find_user_by_username`](crate::store::Store::find_user_by_username).
            pub(crate) async fn find_user_by_username(
                pool: &$pool,
                username: &str,
            ) -> Result<Option<User>, StoreError> {
                let row: Option<UserRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users WHERE username = $1"
                ))
                .bind(username)
                .fetch_optional(pool)
                .await?;
                Ok(row.map(User::from))
            }

            /// [`Store::list_users`](crate::store::Store::list_users).
            pub(crate) async fn list_users(pool: &$pool) -> Result<Vec<User>, StoreError> {
                let rows: Vec<UserRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    user_columns!(),
                    " FROM users ORDER BY username"
                ))
                .fetch_all(pool)
                .await?;
                Ok(rows.into_iter().map(User::from).collect())
            }

            /// A user's e-mail address (and whether it is verified) and name; for
            /// [`Store::apply_configuration`](crate::store::Store::apply_configuration).
            pub(crate) async fn update_user_profile(
                conn: &mut $conn,
                user: &User,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE users SET email = $1, email_verified = $2, name = $3, updated_at = $4 \
                     WHERE user_id = $5",
                )
                .bind(&user.email)
                .bind(user.email_verified)
                .bind(&user.name)
                .bind(user.updated_at)
                .bind(user.user_id.as_str())
                .execute(&mut *conn)
                .await
                .map_err(conflict_as(|| {
                    format!("the username '{}' is taken", user.username)
                }))?;
                Ok(done.rows_affected() == 1)
            }

            /// [`Store::delete_user`](crate::store::Store::delete_user).
            pub(crate) async fn delete_user(
                conn: &mut $conn,
                user_id: &UserId,
                now: i64,
            ) -> Result<bool, StoreError> {
                // Back-Channel Logout §2.7: the clients the user is signed in to are told.
                super::logouts::queue(
                    &mut *conn,
                    super::logouts::Ending::User(user_id.as_str()),
                    now,
                )
                .await?;
                let done = sqlx::query("DELETE FROM users WHERE user_id = $1")
                    .bind(user_id.as_str())
                    .execute(&mut *conn)
                    .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}
pub(crate) use users_impl;

/// The [`Store`](crate::store::Store) methods of this noun, added to those `collect!`
/// has gathered; it goes on with the rest of the list.
macro_rules! methods {
    ($store:ty; [$($methods:tt)*]; $($nouns:tt)*) => {
        crate::store::shared::collect::collect! {
            $store;
            [
                $($methods)*

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
                async fn delete_user(&self, user_id: &UserId, now: i64) -> Result<bool, StoreError> {
                    let mut tx = self.pool.begin().await?;
                    let deleted = users::delete_user(&mut tx, user_id, now).await?;
                    tx.commit().await?;
                    Ok(deleted)
                }
            ];
            $($nouns)*
        }
    };
}
pub(crate) use methods;
