//! The catalog operations both backends share (generated per backend by [`catalog_impl!`]):
//! scopes and APIs (resource servers).

/// The `catalog` module of a backend with pool `$pool`.
macro_rules! catalog_impl {
    ($pool:ty, $conn:ty) => {
        mod catalog {
            //! Scopes (RFC 6749 §3.3) and APIs with their audiences (RFC 8707).

            use crate::domain::scope::Scope;
            use crate::domain::api::{Api, Audience};
            use crate::store::rows::{ApiRow, ScopeRow, api_columns, convert_all};
            use crate::store::{StoreError, conflict_as};

            /// [`Store::create_scope`](crate::store::Store::create_scope).
            pub(crate) async fn create_scope(
                conn: &mut $conn,
                scope: &Scope,
            ) -> Result<(), StoreError> {
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
                .execute(&mut *conn)
                .await
                .map_err(conflict_as(|| {
                    format!("the scope '{}' already exists", scope.name)
                }))?;
                Ok(())
            }

            /// [`Store::list_scopes`](crate::store::Store::list_scopes).
            pub(crate) async fn list_scopes(pool: &$pool) -> Result<Vec<Scope>, StoreError> {
                let rows: Vec<ScopeRow> = sqlx::query_as(
                    "SELECT name, description, builtin, created_at, api, hidden FROM scopes ORDER BY name",
                )
                .fetch_all(pool)
                .await?;
                Ok(rows.into_iter().map(Scope::from).collect())
            }

            /// A scope's description, API and visibility (never a builtin scope's); for
            /// [`Store::apply_configuration`](crate::store::Store::apply_configuration).
            pub(crate) async fn update_scope(
                conn: &mut $conn,
                scope: &Scope,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "UPDATE scopes SET description = $1, api = $2, hidden = $3 \
                     WHERE name = $4 AND NOT builtin",
                )
                .bind(&scope.description)
                .bind(scope.api.as_ref().map(Audience::as_str))
                .bind(scope.hidden)
                .bind(&scope.name)
                .execute(&mut *conn)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            /// [`Store::delete_scope`](crate::store::Store::delete_scope).
            pub(crate) async fn delete_scope(conn: &mut $conn, name: &str) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM scopes WHERE name = $1 AND NOT builtin")
                    .bind(name)
                    .execute(&mut *conn)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            /// [`Store::create_api`](crate::store::Store::create_api).
            pub(crate) async fn create_api(conn: &mut $conn, api: &Api) -> Result<(), StoreError> {
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
                .execute(&mut *conn)
                .await
                .map_err(conflict_as(|| {
                    format!("an API with audience '{}' already exists", api.audience)
                }))?;
                Ok(())
            }

            /// [`Store::list_apis`](crate::store::Store::list_apis).
            pub(crate) async fn list_apis(pool: &$pool) -> Result<Vec<Api>, StoreError> {
                let rows: Vec<ApiRow> = sqlx::query_as(concat!(
                    "SELECT ",
                    api_columns!(),
                    " FROM apis ORDER BY name, audience"
                ))
                .fetch_all(pool)
                .await?;
                convert_all(rows)
            }

            /// [`Store::update_api`](crate::store::Store::update_api).
            pub(crate) async fn update_api(conn: &mut $conn, api: &Api) -> Result<bool, StoreError> {
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
                .execute(&mut *conn)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            /// [`Store::delete_api`](crate::store::Store::delete_api).
            pub(crate) async fn delete_api(
                conn: &mut $conn,
                audience: &Audience,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query(
                    "DELETE FROM apis WHERE audience = $1 \
                     AND NOT EXISTS (SELECT 1 FROM scopes WHERE api = $1) \
                     AND NOT EXISTS (SELECT 1 FROM roles WHERE api = $1)",
                )
                .bind(audience.as_str())
                .execute(&mut *conn)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            /// [`Store::set_scope_api`](crate::store::Store::set_scope_api).
            pub(crate) async fn set_scope_api(
                conn: &mut $conn,
                name: &str,
                api: Option<&Audience>,
            ) -> Result<bool, StoreError> {
                let done = sqlx::query("UPDATE scopes SET api = $1 WHERE name = $2 AND NOT builtin")
                    .bind(api.map(Audience::as_str))
                    .bind(name)
                    .execute(&mut *conn)
                    .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}
pub(crate) use catalog_impl;

/// The [`Store`](crate::store::Store) methods of this noun, added to those `collect!`
/// has gathered; it goes on with the rest of the list.
macro_rules! methods {
    ($store:ty; [$($methods:tt)*]; $($nouns:tt)*) => {
        crate::store::shared::collect::collect! {
            $store;
            [
                $($methods)*

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
            ];
            $($nouns)*
        }
    };
}
pub(crate) use methods;
