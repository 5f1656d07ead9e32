//! The SQLite backend: the embedded default (`sqlite://latchkey.db`). Its own parts are opening the
//! database (WAL, a private file) and refresh-token rotation; every other operation is shared with
//! PostgreSQL (`shared.rs`).

use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::SqlitePool;

use super::StoreError;
use super::shared::store_impl;

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

/// A SQLite database file (WAL mode), or an in-memory database for throwaway use.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Open (creating if missing, mode 0600) the database at `url` (see `sqlite_open`).
    #[tracing::instrument(level = "error", skip_all)]
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let pool = super::sqlite_open::open(url, max_connections, ACQUIRE_TIMEOUT).await?;
        Ok(Self { pool })
    }
}

/// How long a request waits for a pooled connection before the store counts as unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

store_impl!(
    SqliteStore,
    sqlx::SqlitePool,
    sqlx::SqliteConnection,
    MIGRATOR,
    {
        #[tracing::instrument(level = "error", skip_all)]
        async fn revocations_since(
            &self,
            since: RevocationCursor,
            now: i64,
            each: RevocationSink<'_>,
        ) -> Result<RevocationCursor, StoreError> {
            // One writer at a time: stamps are committed in order, so every record stamped at or
            // below the last committed number is visible to the read below. (Read first: a
            // writer that commits in between is read twice, never missed.)
            let (last,): (i64,) = sqlx::query_as("SELECT last FROM revocation_sequence")
                .fetch_one(&self.pool)
                .await?;
            let next = last.saturating_add(1).max(since.0);
            grants::revocations_stamped_since(&self.pool, since.0, next, now, each).await?;
            Ok(RevocationCursor(next))
        }

        async fn listen_for_revocations(
            &self,
        ) -> Result<Option<Box<dyn super::RevocationListener>>, StoreError> {
            Ok(None)
        }

        #[tracing::instrument(level = "error", skip_all)]
        async fn rotate_refresh_token(
            &self,
            presented: &TokenHash,
            next: &NewRefreshToken,
            now: i64,
            grace_since: i64,
            keep_until: i64,
            audit: crate::domain::audit::InTransaction<'_>,
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
                        grants::revoke(&mut tx, &grant_id, now, keep_until).await?;
                        audit::insert_in(&mut tx, audit.misuse).await?;
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
            grants::store_successor(&mut tx, next).await?;
            audit::insert_in(&mut tx, audit.done).await?;
            tx.commit().await?;
            Ok(outcome)
        }
    }
);
