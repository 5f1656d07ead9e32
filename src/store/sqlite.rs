//! The SQLite backend: the embedded default (`sqlite://latchkey.db`).

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::rows::{
    ClientColumns, ClientRow, CodeRow, KeyRow, RefreshRow, ScopeRow, UserRow, client_columns,
    code_columns, convert_all, key_columns, user_columns,
};
use super::{SigningKeyRecord, Store, StoreError, conflict_as};
use crate::domain::attempt::{AttemptCounter, Reservation};
use crate::domain::client::{Client, ClientId};
use crate::domain::grant::{
    AuthorizationCode, Grant, Housekeeping, NewRefreshToken, Redemption, RefreshTokenState,
    Rotation,
};
use crate::domain::scope::Scope;
use crate::domain::secret::TokenHash;
use crate::domain::user::{User, UserId};

mod attempts;

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// A SQLite database file (WAL mode), or an in-memory database for throwaway use.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Open (creating if missing) the database at `url`.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(if in_memory {
                SqliteJournalMode::Memory
            } else {
                SqliteJournalMode::Wal
            })
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        // Every connection to `:memory:` is its own database, so an in-memory store has exactly one.
        let pool = if in_memory {
            SqlitePoolOptions::new()
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None)
        } else {
            SqlitePoolOptions::new().max_connections(max_connections)
        }
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await?;
        Ok(Self { pool })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<(), StoreError> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn create_client(&self, client: &Client) -> Result<(), StoreError> {
        let cols = ClientColumns::of(client);
        sqlx::query(concat!(
            "INSERT INTO clients (",
            client_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
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
        .execute(&self.pool)
        .await
        .map_err(conflict_as(|| {
            format!("a client with id '{}' already exists", client.client_id)
        }))?;
        Ok(())
    }

    async fn find_client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        let row: Option<ClientRow> = sqlx::query_as(concat!(
            "SELECT ",
            client_columns!(),
            " FROM clients WHERE client_id = ?"
        ))
        .bind(client_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(Client::try_from).transpose()
    }

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

    async fn update_client(&self, client: &Client) -> Result<bool, StoreError> {
        let cols = ClientColumns::of(client);
        let done = sqlx::query(
            "UPDATE clients SET client_name = ?, auth_method = ?, redirect_uris = ?, \
             post_logout_redirect_uris = ?, grant_types = ?, scopes = ?, require_pkce = ?, \
             skip_consent = ?, introspect_any = ?, id_token_alg = ?, updated_at = ? WHERE client_id = ?",
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
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_client_secret(
        &self,
        client_id: &ClientId,
        secret_hash: &TokenHash,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE clients SET secret_hash = ?, updated_at = ? WHERE client_id = ?")
                .bind(secret_hash.0.as_slice())
                .bind(now)
                .bind(client_id.as_str())
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_client(&self, client_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM clients WHERE client_id = ?")
            .bind(client_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_user(&self, user: &User) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO users (",
            user_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
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

    async fn find_user(&self, user_id: &str) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE user_id = ?"
        ))
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(User::from))
    }

    async fn find_user_by_username(&self, username: &str) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = sqlx::query_as(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users WHERE username = ?"
        ))
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(User::from))
    }

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

    async fn set_user_password(
        &self,
        user_id: &UserId,
        password_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query("UPDATE users SET password_hash = ?, updated_at = ? WHERE user_id = ?")
                .bind(password_hash)
                .bind(now)
                .bind(user_id.as_str())
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_user_disabled(
        &self,
        user_id: &UserId,
        disabled: bool,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE users SET disabled = ?, updated_at = ? WHERE user_id = ?")
            .bind(disabled)
            .bind(now)
            .bind(user_id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_user(&self, user_id: &UserId) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM users WHERE user_id = ?")
            .bind(user_id.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn create_scope(&self, scope: &Scope) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO scopes (name, description, builtin, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(&scope.name)
        .bind(&scope.description)
        .bind(scope.builtin)
        .bind(scope.created_at)
        .execute(&self.pool)
        .await
        .map_err(conflict_as(|| {
            format!("the scope '{}' already exists", scope.name)
        }))?;
        Ok(())
    }

    async fn list_scopes(&self) -> Result<Vec<Scope>, StoreError> {
        let rows: Vec<ScopeRow> = sqlx::query_as(
            "SELECT name, description, builtin, created_at FROM scopes ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(Scope::from).collect())
    }

    async fn delete_scope(&self, name: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM scopes WHERE name = ? AND builtin = 0")
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO signing_keys (",
            key_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
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

    async fn rotate_signing_keys(
        &self,
        new_next: &SigningKeyRecord,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE signing_keys SET state = 'retired', retired_at = ? WHERE alg = ? AND state = 'active'",
        )
        .bind(now)
        .bind(&new_next.alg)
        .execute(&mut *tx)
        .await?;
        let promoted: Option<(String,)> = sqlx::query_as(
            "UPDATE signing_keys SET state = 'active', activated_at = ? \
             WHERE alg = ? AND state = 'next' RETURNING kid",
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
            ") VALUES (?, ?, 'next', ?, ?, ?, NULL, NULL)"
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

    async fn create_session(
        &self,
        id: &str,
        data: &[u8],
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO sessions (id, data, expiry_date) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(data)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn save_session(&self, id: &str, data: &[u8], expires_at: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id, data, expiry_date) VALUES (?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET data = excluded.data, expiry_date = excluded.expiry_date",
        )
        .bind(id)
        .bind(data)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn load_session(&self, id: &str, now: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let row: Option<(Vec<u8>,)> =
            sqlx::query_as("SELECT data FROM sessions WHERE id = ? AND expiry_date > ?")
                .bind(id)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(data,)| data))
    }

    async fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sessions WHERE id = ?")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn find_consent(
        &self,
        user_id: &str,
        client_id: &str,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> =
            sqlx::query_as("SELECT scope FROM consents WHERE user_id = ? AND client_id = ?")
                .bind(user_id)
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(scope,)| scope))
    }

    async fn save_consent(
        &self,
        user_id: &str,
        client_id: &str,
        scope: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO consents (user_id, client_id, scope, granted_at) VALUES (?, ?, ?, ?) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET scope = excluded.scope, granted_at = excluded.granted_at",
        )
        .bind(user_id)
        .bind(client_id)
        .bind(scope)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn create_authorization_code(&self, code: &AuthorizationCode) -> Result<(), StoreError> {
        sqlx::query(concat!(
            "INSERT INTO authorization_codes (",
            code_columns!(),
            ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)"
        ))
        .bind(code.code_hash.0.as_slice())
        .bind(&code.grant_id)
        .bind(&code.client_id)
        .bind(&code.user_id)
        .bind(&code.redirect_uri)
        .bind(code.scope.to_string())
        .bind(&code.nonce)
        .bind(&code.code_challenge)
        .bind(code.auth_time)
        .bind(code.created_at)
        .bind(code.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn find_authorization_code(
        &self,
        code_hash: &TokenHash,
    ) -> Result<Option<AuthorizationCode>, StoreError> {
        let row: Option<CodeRow> = sqlx::query_as(concat!(
            "SELECT ",
            code_columns!(),
            " FROM authorization_codes WHERE code_hash = ?"
        ))
        .bind(code_hash.0.as_slice())
        .fetch_optional(&self.pool)
        .await?;
        row.map(AuthorizationCode::try_from).transpose()
    }

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
            "UPDATE authorization_codes SET consumed_at = ? WHERE code_hash = ? AND consumed_at IS NULL",
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
            "INSERT INTO grants (grant_id, client_id, user_id, scope, auth_time, created_at, expires_at, revoked_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
        )
        .bind(&grant.grant_id)
        .bind(&grant.client_id)
        .bind(&grant.user_id)
        .bind(grant.scope.to_string())
        .bind(grant.auth_time)
        .bind(grant.created_at)
        .bind(grant.expires_at)
        .execute(&mut *tx)
        .await?;
        if let Some(token) = refresh_token {
            sqlx::query(
                "INSERT INTO refresh_tokens (token_hash, grant_id, scope, created_at, expires_at, rotated_at, successor_hash) \
                 VALUES (?, ?, ?, ?, ?, NULL, NULL)",
            )
            .bind(token.token_hash.0.as_slice())
            .bind(&token.grant_id)
            .bind(token.scope.to_string())
            .bind(token.created_at)
            .bind(token.expires_at)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Redemption::Redeemed)
    }

    async fn revoke_grant(
        &self,
        grant_id: &str,
        now: i64,
        keep_until: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE grants SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL")
            .bind(now)
            .bind(grant_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO revocations (id, expires_at) VALUES (?, ?) \
             ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at",
        )
        .bind(grant_id)
        .bind(keep_until)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn is_revoked(&self, jti: &str, grant_id: &str) -> Result<bool, StoreError> {
        let (count,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM revocations WHERE id = ? OR id = ?")
                .bind(jti)
                .bind(grant_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(count > 0)
    }

    async fn find_refresh_token(
        &self,
        token_hash: &TokenHash,
    ) -> Result<Option<RefreshTokenState>, StoreError> {
        let row: Option<RefreshRow> = sqlx::query_as(
            "SELECT r.grant_id, g.client_id, g.user_id, r.scope, g.auth_time, r.created_at, r.expires_at, \
             r.rotated_at, g.revoked_at FROM refresh_tokens r JOIN grants g ON g.grant_id = r.grant_id \
             WHERE r.token_hash = ?",
        )
        .bind(token_hash.0.as_slice())
        .fetch_optional(&self.pool)
        .await?;
        row.map(RefreshTokenState::try_from).transpose()
    }

    async fn rotate_refresh_token(
        &self,
        presented: &TokenHash,
        next: &NewRefreshToken,
        now: i64,
        grace_since: i64,
        keep_until: i64,
    ) -> Result<Rotation, StoreError> {
        let mut tx = self.pool.begin().await?;
        // The conditional UPDATE is the atomic spend: of concurrent callers, exactly one matches.
        let spent = sqlx::query(
            "UPDATE refresh_tokens SET rotated_at = ?, successor_hash = ? \
             WHERE token_hash = ? AND rotated_at IS NULL AND expires_at > ?",
        )
        .bind(now)
        .bind(next.token_hash.0.as_slice())
        .bind(presented.0.as_slice())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let outcome = if spent.rows_affected() == 1 {
            Rotation::Rotated
        } else {
            let row: Option<(Option<i64>, Option<Vec<u8>>, String)> = sqlx::query_as(
                "SELECT rotated_at, successor_hash, grant_id FROM refresh_tokens WHERE token_hash = ?",
            )
            .bind(presented.0.as_slice())
            .fetch_optional(&mut *tx)
            .await?;
            match row {
                Some((Some(rotated_at), Some(successor), _)) if rotated_at >= grace_since => {
                    // Within the grace window: retire the successor if it was never used.
                    let retired = sqlx::query(
                        "UPDATE refresh_tokens SET rotated_at = ?, successor_hash = ? \
                         WHERE token_hash = ? AND rotated_at IS NULL",
                    )
                    .bind(now)
                    .bind(next.token_hash.0.as_slice())
                    .bind(successor.as_slice())
                    .execute(&mut *tx)
                    .await?;
                    if retired.rows_affected() == 1 {
                        sqlx::query(
                            "UPDATE refresh_tokens SET successor_hash = ? WHERE token_hash = ?",
                        )
                        .bind(next.token_hash.0.as_slice())
                        .bind(presented.0.as_slice())
                        .execute(&mut *tx)
                        .await?;
                        Rotation::Reissued
                    } else {
                        Rotation::Refused
                    }
                }
                Some((Some(_), _, grant_id)) => {
                    sqlx::query("UPDATE grants SET revoked_at = ? WHERE grant_id = ? AND revoked_at IS NULL")
                        .bind(now)
                        .bind(&grant_id)
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query(
                        "INSERT INTO revocations (id, expires_at) VALUES (?, ?) \
                         ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at",
                    )
                    .bind(&grant_id)
                    .bind(keep_until)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    return Ok(Rotation::Reused);
                }
                _ => Rotation::Refused,
            }
        };
        if outcome == Rotation::Refused {
            tx.rollback().await?;
            return Ok(outcome);
        }
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, grant_id, scope, created_at, expires_at, rotated_at, successor_hash) \
             VALUES (?, ?, ?, ?, ?, NULL, NULL)",
        )
        .bind(next.token_hash.0.as_slice())
        .bind(&next.grant_id)
        .bind(next.scope.to_string())
        .bind(next.created_at)
        .bind(next.expires_at)
        .execute(&mut *tx)
        .await?;
        sqlx::query("UPDATE grants SET expires_at = ? WHERE grant_id = ? AND expires_at < ?")
            .bind(next.expires_at)
            .bind(&next.grant_id)
            .bind(next.expires_at)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(outcome)
    }

    async fn revoke_access_token(&self, jti: &str, expires_at: i64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO revocations (id, expires_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING",
        )
        .bind(jti)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

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
            authorization_codes: run("DELETE FROM authorization_codes WHERE expires_at <= ?", now, None).await?,
            refresh_tokens: run(
                "DELETE FROM refresh_tokens WHERE expires_at <= ? OR (rotated_at IS NOT NULL AND rotated_at < ?)",
                now,
                Some(spent_before),
            )
            .await?,
            revocations: run("DELETE FROM revocations WHERE expires_at <= ?", now, None).await?,
            grants: run(
                "DELETE FROM grants WHERE expires_at <= ? \
                 AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.grant_id = grants.grant_id)",
                now,
                None,
            )
            .await?,
            sessions: run("DELETE FROM sessions WHERE expiry_date <= ?", now, None).await?,
            sign_in_attempts: run("DELETE FROM sign_in_attempts WHERE expires_at <= ?", now, None).await?,
        })
    }

    async fn reserve_attempts(
        &self,
        counters: &[AttemptCounter],
        now: i64,
    ) -> Result<Reservation, StoreError> {
        attempts::reserve(&self.pool, counters, now).await
    }

    async fn refund_attempts(
        &self,
        keys: &[TokenHash],
        reserved_at: i64,
    ) -> Result<(), StoreError> {
        attempts::refund(&self.pool, keys, reserved_at).await
    }

    async fn clear_attempts(&self, keys: &[TokenHash]) -> Result<(), StoreError> {
        attempts::clear(&self.pool, keys).await
    }
}
