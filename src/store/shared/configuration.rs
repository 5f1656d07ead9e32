//! A declarative configuration's writes (`latchkey apply`), generated per backend by
//! [`configuration_impl!`]: every write and its audit events in ONE transaction, so a failure
//! anywhere changes nothing.

/// The `configuration` module of a backend with pool `$pool` and connection `$conn`.
macro_rules! configuration_impl {
    ($pool:ty, $conn:ty) => {
        mod configuration {
            use crate::domain::audit::AuditEvent;
            use crate::domain::configuration::Write;
            use crate::store::StoreError;

            use super::{audit, catalog, clients, roles, users};

            /// [`Store::apply_configuration`](crate::store::Store::apply_configuration).
            pub(crate) async fn apply_configuration(
                pool: &$pool,
                writes: &[Write],
                events: &[AuditEvent],
            ) -> Result<(), StoreError> {
                let mut tx = pool.begin().await?;
                for write in writes {
                    let conn: &mut $conn = &mut tx;
                    let found = match write {
                        Write::CreateScope(scope) => catalog::create_scope(conn, scope).await.map(|()| true)?,
                        Write::UpdateScope(scope) => catalog::update_scope(conn, scope).await?,
                        Write::DeleteScope(name) => catalog::delete_scope(conn, name).await?,
                        Write::CreateApi(api) => catalog::create_api(conn, api).await.map(|()| true)?,
                        Write::UpdateApi(api) => catalog::update_api(conn, api).await?,
                        Write::DeleteApi(audience) => catalog::delete_api(conn, audience).await?,
                        Write::CreateRole(role) => roles::create_role(conn, role).await.map(|()| true)?,
                        Write::UpdateRole(role) => roles::update_role(conn, role).await?,
                        Write::DeleteRole(name) => roles::delete_role(conn, name).await?,
                        Write::CreateGroup(group) => roles::create_group(conn, group).await.map(|()| true)?,
                        Write::DeleteGroup(name) => roles::delete_group(conn, name).await?,
                        Write::CreateClient(client) => clients::create_client(conn, client).await.map(|()| true)?,
                        Write::UpdateClient(client) => clients::update_client(conn, client).await?,
                        Write::SetClientSecret(client_id, hash, sealed, now) => {
                            clients::set_client_secret(conn, client_id, hash, sealed.as_ref(), *now).await?
                        }
                        Write::DeleteClient(client_id) => clients::delete_client(conn, client_id).await?,
                        Write::CreateUser(user) => users::create_user(conn, user).await.map(|()| true)?,
                        Write::UpdateUser(user) => users::update_user_profile(conn, user).await?,
                        Write::DeleteUser(user_id, now) => users::delete_user(conn, user_id, *now).await?,
                        Write::Link(link) => roles::add_assignment(conn, link).await?,
                        Write::Unlink(link) => roles::remove_assignment(conn, link).await?,
                    };
                    // The plan was made from what the store held a moment ago: a write that finds
                    // nothing to change means someone else changed it meanwhile.
                    if !found {
                        return Err(StoreError::Conflict(format!(
                            "the store changed while the configuration was applied ({}); nothing was changed, run it again",
                            write.describe()
                        )));
                    }
                }
                for event in events {
                    audit::insert_in(&mut tx, Some(event)).await?;
                }
                tx.commit().await?;
                Ok(())
            }
        }
    };
}
pub(crate) use configuration_impl;

/// The [`Store`](crate::store::Store) methods of this noun, added to those `collect!`
/// has gathered; it goes on with the rest of the list.
macro_rules! methods {
    ($store:ty; [$($methods:tt)*]; $($nouns:tt)*) => {
        crate::store::shared::collect::collect! {
            $store;
            [
                $($methods)*

                #[tracing::instrument(level = "error", skip_all)]
                async fn apply_configuration(
                    &self,
                    writes: &[crate::domain::configuration::Write],
                    events: &[crate::domain::audit::AuditEvent],
                ) -> Result<(), StoreError> {
                    configuration::apply_configuration(&self.pool, writes, events).await
                }
            ];
            $($nouns)*
        }
    };
}
pub(crate) use methods;
