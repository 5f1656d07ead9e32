//! What the two backends share: every store operation whose SQL is the same on SQLite and
//! PostgreSQL (both take `$1`-style parameters), generated for each backend by [`store_impl!`].
//! What differs is written per backend: opening the pool, the migrations, and refresh-token rotation
//! (PostgreSQL locks the presented row first; SQLite serialises writers and spends it with one
//! conditional UPDATE).
//!
//! Each noun has its file, a macro generating one module of plain functions over the backend's pool:
//! [`accounts`] (passwords, account state, browser sessions), [`attempts`] (the sign-in throttle's
//! counters), [`batches`] (housekeeping's DELETEs in bounded batches), [`catalog`] (scopes and APIs), [`clients`], [`devices`] (device authorization requests), [`grants`] (consent, codes, grants, refresh
//! and reference tokens, revocations, housekeeping), [`keys`] (signing keys), [`logouts`] (the back-channel logout outbox), [`roles`] (roles and
//! groups), [`users`], [`factors`] (second factors), [`passkeys`] and [`account_page`] (a user's sessions and
//! applications). Each file also has the trait methods of its noun (its `methods!` macro), so the
//! trait's implementation is split by noun too: `store_impl!` generates the modules and `collect!`
//! ([`collect`]) gathers the methods into the one `impl Store`.

pub(super) mod account_page;
pub(super) mod accounts;
pub(super) mod attempts;
pub(super) mod audit;
pub(super) mod batches;
pub(super) mod catalog;
pub(super) mod clients;
pub(super) mod collect;
pub(super) mod configuration;
pub(super) mod devices;
pub(super) mod factors;
pub(super) mod grants;
pub(super) mod keys;
pub(super) mod logouts;
pub(super) mod passkeys;
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
        crate::store::shared::batches::batches_impl!($pool);
        crate::store::shared::grants::grants_impl!($pool, $conn);
        crate::store::shared::devices::devices_impl!($pool);
        crate::store::shared::factors::factors_impl!($pool, $conn);
        crate::store::shared::passkeys::passkeys_impl!($pool, $conn);
        crate::store::shared::logouts::logouts_impl!($pool, $conn);
        crate::store::shared::attempts::attempts_impl!($pool);
        crate::store::shared::audit::audit_impl!($pool, $conn);
        crate::store::shared::roles::roles_impl!($pool, $conn);
        crate::store::shared::configuration::configuration_impl!($pool, $conn);
        crate::store::shared::registration::registration_impl!($pool, $conn);

        crate::store::shared::collect::collect! {
            $store;
            [
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

                fn pool_status(&self) -> crate::store::PoolStatus {
                    crate::store::PoolStatus {
                        size: self.pool.size(),
                        idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
                        max: self.pool.options().get_max_connections(),
                    }
                }
                $($own)*
            ];
            [crate::store::shared::accounts]
            [crate::store::shared::account_page]
            [crate::store::shared::clients]
            [crate::store::shared::users]
            [crate::store::shared::catalog]
            [crate::store::shared::keys]
            [crate::store::shared::grants]
            [crate::store::shared::devices]
            [crate::store::shared::factors]
            [crate::store::shared::passkeys]
            [crate::store::shared::logouts]
            [crate::store::shared::attempts]
            [crate::store::shared::audit]
            [crate::store::shared::roles]
            [crate::store::shared::configuration]
            [crate::store::shared::registration]
        }
    };
}
pub(crate) use store_impl;
