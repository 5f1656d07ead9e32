//! The role and group operations both backends share (generated per backend by [`roles_impl!`]):
//! roles, groups, the links between them and users and clients, and the one query that reads a
//! user's effective roles and groups at token issuance.

/// The `roles` module of a backend with pool `$pool`.
macro_rules! roles_impl {
    ($pool:ty, $conn:ty) => {
        mod roles {
            //! Roles, groups and their links (RFC 9068 §2.2.3.1).

            use crate::domain::api::Audience;
            use crate::domain::client::ClientId;
            use crate::domain::group::{Group, GroupName};
            use crate::domain::role::{
                Assignment, Authorization, GroupContents, Role, RoleHolders, RoleName,
            };
            use crate::domain::user::UserId;
            use crate::store::{StoreError, conflict_as};

            /// [`Store::create_role`](crate::store::Store::create_role).
            pub(crate) async fn create_role(conn: &mut $conn, role: &Role) -> Result<(), StoreError> {
                // The role and the scopes it grants, together.
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                sqlx::query(
                    "INSERT INTO roles (name, description, created_at, api, require_mfa) VALUES ($1, $2, $3, $4, $5)",
                )
                    .bind(role.name.as_str())
                    .bind(role.description.as_deref())
                    .bind(role.created_at)
                    .bind(role.api.as_ref().map(Audience::as_str))
                    .bind(role.require_mfa)
                    .execute(&mut *tx)
                    .await
                    .map_err(conflict_as(|| format!("the role '{}' already exists", role.name)))?;
                for scope in &role.scopes {
                    sqlx::query("INSERT INTO role_scopes (role_name, scope) VALUES ($1, $2)")
                        .bind(role.name.as_str())
                        .bind(scope)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            /// [`Store::find_role`](crate::store::Store::find_role).
            pub(crate) async fn find_role(
                pool: &$pool,
                name: &RoleName,
            ) -> Result<Option<Role>, StoreError> {
                let row: Option<RoleRow> =
                    sqlx::query_as("SELECT name, description, created_at, api, require_mfa FROM roles WHERE name = $1")
                        .bind(name.as_str())
                        .fetch_optional(pool)
                        .await?;
                let mut found: Vec<Role> = row.into_iter().map(role).collect();
                with_scopes(pool, &mut found).await?;
                Ok(found.pop())
            }

            /// [`Store::list_roles`](crate::store::Store::list_roles).
            pub(crate) async fn list_roles(pool: &$pool) -> Result<Vec<Role>, StoreError> {
                let rows: Vec<RoleRow> =
                    sqlx::query_as("SELECT name, description, created_at, api, require_mfa FROM roles ORDER BY name")
                        .fetch_all(pool)
                        .await?;
                let mut roles: Vec<Role> = rows.into_iter().map(role).collect();
                with_scopes(pool, &mut roles).await?;
                Ok(roles)
            }

            /// A `roles` row: name, description, created_at, api, require_mfa.
            type RoleRow = (String, Option<String>, i64, Option<String>, bool);

            fn role((name, description, created_at, api, require_mfa): RoleRow) -> Role {
                Role {
                    name: RoleName::from_stored(name),
                    description,
                    api: api.map(Audience::from_stored),
                    scopes: Vec::new(),
                    require_mfa,
                    created_at,
                }
            }

            /// Fill in the scopes each role grants (one query for all of them).
            async fn with_scopes(pool: &$pool, roles: &mut [Role]) -> Result<(), StoreError> {
                if roles.is_empty() {
                    return Ok(());
                }
                let rows: Vec<(String, String)> =
                    sqlx::query_as("SELECT role_name, scope FROM role_scopes ORDER BY scope")
                        .fetch_all(pool)
                        .await?;
                for (role_name, scope) in rows {
                    if let Some(role) = roles.iter_mut().find(|r| r.name.as_str() == role_name) {
                        role.scopes.push(scope);
                    }
                }
                Ok(())
            }

            /// A role's description, API and the scopes it grants, together; for
            /// [`Store::apply_configuration`](crate::store::Store::apply_configuration).
            pub(crate) async fn update_role(conn: &mut $conn, role: &Role) -> Result<bool, StoreError> {
                let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                let done = sqlx::query("UPDATE roles SET description = $1, api = $2, require_mfa = $4 WHERE name = $3")
                    .bind(role.description.as_deref())
                    .bind(role.api.as_ref().map(Audience::as_str))
                    .bind(role.name.as_str())
                    .bind(role.require_mfa)
                    .execute(&mut *tx)
                    .await?;
                if done.rows_affected() != 1 {
                    return Ok(false);
                }
                sqlx::query("DELETE FROM role_scopes WHERE role_name = $1")
                    .bind(role.name.as_str())
                    .execute(&mut *tx)
                    .await?;
                for scope in &role.scopes {
                    sqlx::query("INSERT INTO role_scopes (role_name, scope) VALUES ($1, $2)")
                        .bind(role.name.as_str())
                        .bind(scope)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(true)
            }

            /// [`Store::list_assignments`](crate::store::Store::list_assignments): every role and
            /// membership link, one query per kind.
            pub(crate) async fn list_assignments(pool: &$pool) -> Result<Vec<Assignment>, StoreError> {
                let mut links = Vec::new();
                let rows: Vec<(String, String)> =
                    sqlx::query_as("SELECT user_id, role_name FROM user_roles ORDER BY user_id, role_name")
                        .fetch_all(pool)
                        .await?;
                links.extend(rows.into_iter().map(|(user, role)| {
                    Assignment::UserRole(UserId::from_stored(user), RoleName::from_stored(role))
                }));
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT client_id, role_name FROM client_roles ORDER BY client_id, role_name",
                )
                .fetch_all(pool)
                .await?;
                links.extend(rows.into_iter().map(|(client, role)| {
                    Assignment::ClientRole(ClientId::from_stored(client), RoleName::from_stored(role))
                }));
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT group_name, user_id FROM group_members ORDER BY group_name, user_id",
                )
                .fetch_all(pool)
                .await?;
                links.extend(rows.into_iter().map(|(group, user)| {
                    Assignment::GroupMember(GroupName::from_stored(group), UserId::from_stored(user))
                }));
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT group_name, role_name FROM group_roles ORDER BY group_name, role_name",
                )
                .fetch_all(pool)
                .await?;
                links.extend(rows.into_iter().map(|(group, role)| {
                    Assignment::GroupRole(GroupName::from_stored(group), RoleName::from_stored(role))
                }));
                Ok(links)
            }

            /// [`Store::delete_role`](crate::store::Store::delete_role).
            pub(crate) async fn delete_role(conn: &mut $conn, name: &RoleName) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM roles WHERE name = $1")
                    .bind(name.as_str())
                    .execute(&mut *conn)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            /// [`Store::find_role_holders`](crate::store::Store::find_role_holders).
            pub(crate) async fn find_role_holders(
                pool: &$pool,
                name: &RoleName,
            ) -> Result<RoleHolders, StoreError> {
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT 'user', u.username FROM user_roles r JOIN users u ON u.user_id = r.user_id \
                     WHERE r.role_name = $1 \
                     UNION ALL SELECT 'client', client_id FROM client_roles WHERE role_name = $1 \
                     UNION ALL SELECT 'group', group_name FROM group_roles WHERE role_name = $1 \
                     ORDER BY 1, 2",
                )
                .bind(name.as_str())
                .fetch_all(pool)
                .await?;
                let mut holders = RoleHolders::default();
                for (kind, holder) in rows {
                    match kind.as_str() {
                        "user" => holders.users.push(holder),
                        "client" => holders.clients.push(ClientId::from_stored(holder)),
                        _ => holders.groups.push(GroupName::from_stored(holder)),
                    }
                }
                holders.users.sort();
                holders.clients.sort_by(|a, b| a.as_str().cmp(b.as_str()));
                holders.groups.sort();
                Ok(holders)
            }

            /// [`Store::create_group`](crate::store::Store::create_group).
            pub(crate) async fn create_group(conn: &mut $conn, group: &Group) -> Result<(), StoreError> {
                sqlx::query("INSERT INTO groups (name, created_at) VALUES ($1, $2)")
                    .bind(group.name.as_str())
                    .bind(group.created_at)
                    .execute(&mut *conn)
                    .await
                    .map_err(conflict_as(|| format!("the group '{}' already exists", group.name)))?;
                Ok(())
            }

            /// [`Store::find_group`](crate::store::Store::find_group).
            pub(crate) async fn find_group(
                pool: &$pool,
                name: &GroupName,
            ) -> Result<Option<Group>, StoreError> {
                let row: Option<(String, i64)> =
                    sqlx::query_as("SELECT name, created_at FROM groups WHERE name = $1")
                        .bind(name.as_str())
                        .fetch_optional(pool)
                        .await?;
                Ok(row.map(group))
            }

            /// [`Store::list_groups`](crate::store::Store::list_groups).
            pub(crate) async fn list_groups(pool: &$pool) -> Result<Vec<Group>, StoreError> {
                let rows: Vec<(String, i64)> =
                    sqlx::query_as("SELECT name, created_at FROM groups ORDER BY name")
                        .fetch_all(pool)
                        .await?;
                Ok(rows.into_iter().map(group).collect())
            }

            fn group((name, created_at): (String, i64)) -> Group {
                Group {
                    name: GroupName::from_stored(name),
                    created_at,
                }
            }

            /// [`Store::delete_group`](crate::store::Store::delete_group).
            pub(crate) async fn delete_group(conn: &mut $conn, name: &GroupName) -> Result<bool, StoreError> {
                let done = sqlx::query("DELETE FROM groups WHERE name = $1")
                    .bind(name.as_str())
                    .execute(&mut *conn)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            /// [`Store::find_group_contents`](crate::store::Store::find_group_contents).
            pub(crate) async fn find_group_contents(
                pool: &$pool,
                name: &GroupName,
            ) -> Result<GroupContents, StoreError> {
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT 'member', u.username FROM group_members m JOIN users u ON u.user_id = m.user_id \
                     WHERE m.group_name = $1 \
                     UNION ALL SELECT 'role', role_name FROM group_roles WHERE group_name = $1 \
                     ORDER BY 1, 2",
                )
                .bind(name.as_str())
                .fetch_all(pool)
                .await?;
                let mut contents = GroupContents::default();
                for (kind, item) in rows {
                    match kind.as_str() {
                        "member" => contents.members.push(item),
                        _ => contents.roles.push(RoleName::from_stored(item)),
                    }
                }
                contents.members.sort();
                contents.roles.sort();
                Ok(contents)
            }

            /// [`Store::add_assignment`](crate::store::Store::add_assignment): one conditional
            /// INSERT, so a link to something deleted meanwhile is never written.
            pub(crate) async fn add_assignment(
                conn: &mut $conn,
                assignment: &Assignment,
            ) -> Result<bool, StoreError> {
                let (sql, first, second) = match assignment {
                    Assignment::UserRole(user_id, role) => (
                        "INSERT INTO user_roles (user_id, role_name) SELECT $1, $2 \
                         WHERE EXISTS (SELECT 1 FROM users WHERE user_id = $1) \
                         AND EXISTS (SELECT 1 FROM roles WHERE name = $2) \
                         ON CONFLICT (user_id, role_name) DO NOTHING",
                        user_id.as_str(),
                        role.as_str(),
                    ),
                    Assignment::ClientRole(client_id, role) => (
                        "INSERT INTO client_roles (client_id, role_name) SELECT $1, $2 \
                         WHERE EXISTS (SELECT 1 FROM clients WHERE client_id = $1) \
                         AND EXISTS (SELECT 1 FROM roles WHERE name = $2) \
                         ON CONFLICT (client_id, role_name) DO NOTHING",
                        client_id.as_str(),
                        role.as_str(),
                    ),
                    Assignment::GroupMember(group, user_id) => (
                        "INSERT INTO group_members (group_name, user_id) SELECT $1, $2 \
                         WHERE EXISTS (SELECT 1 FROM groups WHERE name = $1) \
                         AND EXISTS (SELECT 1 FROM users WHERE user_id = $2) \
                         ON CONFLICT (group_name, user_id) DO NOTHING",
                        group.as_str(),
                        user_id.as_str(),
                    ),
                    Assignment::GroupRole(group, role) => (
                        "INSERT INTO group_roles (group_name, role_name) SELECT $1, $2 \
                         WHERE EXISTS (SELECT 1 FROM groups WHERE name = $1) \
                         AND EXISTS (SELECT 1 FROM roles WHERE name = $2) \
                         ON CONFLICT (group_name, role_name) DO NOTHING",
                        group.as_str(),
                        role.as_str(),
                    ),
                };
                let done = sqlx::query(sql).bind(first).bind(second).execute(&mut *conn).await?;
                Ok(done.rows_affected() == 1)
            }

            /// [`Store::remove_assignment`](crate::store::Store::remove_assignment).
            pub(crate) async fn remove_assignment(
                conn: &mut $conn,
                assignment: &Assignment,
            ) -> Result<bool, StoreError> {
                let (sql, first, second) = match assignment {
                    Assignment::UserRole(user_id, role) => (
                        "DELETE FROM user_roles WHERE user_id = $1 AND role_name = $2",
                        user_id.as_str(),
                        role.as_str(),
                    ),
                    Assignment::ClientRole(client_id, role) => (
                        "DELETE FROM client_roles WHERE client_id = $1 AND role_name = $2",
                        client_id.as_str(),
                        role.as_str(),
                    ),
                    Assignment::GroupMember(group, user_id) => (
                        "DELETE FROM group_members WHERE group_name = $1 AND user_id = $2",
                        group.as_str(),
                        user_id.as_str(),
                    ),
                    Assignment::GroupRole(group, role) => (
                        "DELETE FROM group_roles WHERE group_name = $1 AND role_name = $2",
                        group.as_str(),
                        role.as_str(),
                    ),
                };
                let done = sqlx::query(sql).bind(first).bind(second).execute(&mut *conn).await?;
                Ok(done.rows_affected() == 1)
            }

            /// [`Store::find_authorization`](crate::store::Store::find_authorization): ONE query
            /// (a UNION) for the user's own roles, their groups, and their groups' roles.
            pub(crate) async fn find_authorization(
                pool: &$pool,
                user_id: &UserId,
            ) -> Result<Authorization, StoreError> {
                let rows: Vec<(String, String)> = sqlx::query_as(
                    "SELECT 'role', role_name FROM user_roles WHERE user_id = $1 \
                     UNION SELECT 'group', group_name FROM group_members WHERE user_id = $1 \
                     UNION SELECT 'group_role', g.role_name FROM group_members m \
                     JOIN group_roles g ON g.group_name = m.group_name WHERE m.user_id = $1 \
                     ORDER BY 1, 2",
                )
                .bind(user_id.as_str())
                .fetch_all(pool)
                .await?;
                let mut authorization = Authorization::default();
                for (kind, name) in rows {
                    match kind.as_str() {
                        "role" => {
                            authorization.direct_roles.push(RoleName::from_stored(name.clone()));
                            authorization.roles.push(RoleName::from_stored(name));
                        }
                        "group" => authorization.groups.push(GroupName::from_stored(name)),
                        _ => authorization.roles.push(RoleName::from_stored(name)),
                    }
                }
                // Sorted here, not by the database's collation, so both backends agree.
                authorization.roles.sort();
                authorization.roles.dedup();
                authorization.direct_roles.sort();
                authorization.groups.sort();
                Ok(authorization)
            }

            /// [`Store::find_client_roles`](crate::store::Store::find_client_roles).
            pub(crate) async fn find_client_roles(
                pool: &$pool,
                client_id: &ClientId,
            ) -> Result<Vec<RoleName>, StoreError> {
                let rows: Vec<(String,)> = sqlx::query_as(
                    "SELECT role_name FROM client_roles WHERE client_id = $1 ORDER BY role_name",
                )
                .bind(client_id.as_str())
                .fetch_all(pool)
                .await?;
                let mut roles: Vec<RoleName> =
                    rows.into_iter().map(|(name,)| RoleName::from_stored(name)).collect();
                roles.sort();
                Ok(roles)
            }
        }
    };
}
pub(crate) use roles_impl;

/// The [`Store`](crate::store::Store) methods of this noun, added to those `collect!`
/// has gathered; it goes on with the rest of the list.
macro_rules! methods {
    ($store:ty; [$($methods:tt)*]; $($nouns:tt)*) => {
        crate::store::shared::collect::collect! {
            $store;
            [
                $($methods)*

                #[tracing::instrument(level = "error", skip_all)]
                async fn list_assignments(&self) -> Result<Vec<Assignment>, StoreError> {
                    roles::list_assignments(&self.pool).await
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
            ];
            $($nouns)*
        }
    };
}
pub(crate) use methods;
