//! The PostgreSQL backend: production, several instances sharing one database. Its own parts are
//! opening the pool and refresh-token rotation; every other operation is shared with SQLite
//! (`shared.rs`).

use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgPool, PgPoolOptions};

use super::StoreError;
use super::shared::store_impl;

static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// A PostgreSQL database shared by every Latchkey instance.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Connect a pool to `url`.
    #[tracing::instrument(level = "error", skip_all)]
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        Ok(Self { pool })
    }
}

/// The channel revocations are announced on (`migrations/postgres/0030_revocation_sequence.sql`).
const REVOCATION_CHANNEL: &str = "latchkey_revocations";

/// `LISTEN latchkey_revocations` on a connection of its own, outside the pool (which it would
/// otherwise hold for good: with `--database-max-connections 1`, the only one).
struct RevocationNotices(sqlx::postgres::PgListener);

#[async_trait::async_trait]
impl super::RevocationListener for RevocationNotices {
    async fn wait(&mut self) -> Result<(), StoreError> {
        // `None`: the connection was lost and has been remade; notices sent meanwhile are gone, so
        // the caller must catch up as if one had come.
        self.0.try_recv().await?;
        Ok(())
    }
}

store_impl!(PostgresStore, sqlx::PgPool, sqlx::PgConnection, MIGRATOR, {
    #[tracing::instrument(level = "error", skip_all)]
    async fn revocations_since(
        &self,
        since: RevocationCursor,
        now: i64,
        each: RevocationSink<'_>,
    ) -> Result<RevocationCursor, StoreError> {
        // Each record is stamped with its writer's transaction id. The oldest transaction still
        // open now bounds what can still appear: every older one has ended, so its records are
        // visible to the read below; a record of one still open is stamped at or above it and is
        // read next time. (Taken before the read: a writer that commits in between is read twice,
        // never missed.)
        // Every transaction that committed before this snapshot has an id below its `xmax`; one
        // that commits later is at or above `xmin` and is read next time, so the read stops at `xmax`.
        let (next, until): (i64, i64) = sqlx::query_as(
            "SELECT pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint \
             FROM pg_current_snapshot() AS s",
        )
        .fetch_one(&self.pool)
        .await?;
        let next = next.max(since.0);
        grants::revocations_stamped_since(&self.pool, since.0, until.max(next), now, each).await?;
        Ok(RevocationCursor(next))
    }

    #[tracing::instrument(level = "error", skip_all)]
    async fn listen_for_revocations(
        &self,
    ) -> Result<Option<Box<dyn super::RevocationListener>>, StoreError> {
        let own = PgPoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .acquire_timeout(Duration::from_secs(5))
            .connect_with((*self.pool.connect_options()).clone())
            .await?;
        let mut listener = sqlx::postgres::PgListener::connect_with(&own).await?;
        listener.listen(REVOCATION_CHANNEL).await?;
        Ok(Some(Box::new(RevocationNotices(listener))))
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
        // Lock the presented token's row first: concurrent refreshes of one token queue here, and
        // every transaction takes row locks in chain order (older token, then its successor), so
        // they can never wait on each other in a cycle.
        let row: Option<(Option<i64>, Option<Vec<u8>>, String, i64)> = sqlx::query_as(
            "SELECT rotated_at, successor_hash, grant_id, expires_at FROM refresh_tokens \
             WHERE token_hash = $1 FOR UPDATE",
        )
        .bind(presented.0.as_slice())
        .fetch_optional(&mut *tx)
        .await?;
        let outcome = match row {
            None => Rotation::Refused,
            Some((None, _, _, expires_at)) if expires_at > now => {
                sqlx::query(
                    "UPDATE refresh_tokens SET rotated_at = $1, successor_hash = $2 WHERE token_hash = $3",
                )
                .bind(now)
                .bind(next.token_hash.0.as_slice())
                .bind(presented.0.as_slice())
                .execute(&mut *tx)
                .await?;
                Rotation::Rotated
            }
            Some((None, _, _, _)) => Rotation::Refused,
            Some((Some(rotated_at), Some(successor), _, _)) if rotated_at >= grace_since => {
                // Within the grace window: retire the successor if it was never used.
                let retired = sqlx::query(
                    "UPDATE refresh_tokens SET rotated_at = $1, successor_hash = $2 \
                     WHERE token_hash = $3 AND rotated_at IS NULL",
                )
                .bind(now)
                .bind(next.token_hash.0.as_slice())
                .bind(successor.as_slice())
                .execute(&mut *tx)
                .await?;
                if retired.rows_affected() == 1 {
                    sqlx::query(
                        "UPDATE refresh_tokens SET successor_hash = $1 WHERE token_hash = $2",
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
            Some((Some(_), _, grant_id, _)) => {
                grants::revoke(&mut tx, &grant_id, now, keep_until).await?;
                audit::insert_in(&mut tx, audit.misuse).await?;
                tx.commit().await?;
                return Ok(Rotation::Reused);
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
});
