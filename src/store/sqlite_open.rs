//! Opening a SQLite database: the one-off file set-up apart from the pool.
//!
//! Creating the file and switching it to WAL writes and fsyncs it (several fsyncs under the default
//! `synchronous = FULL`); on a busy disk that can take seconds. sqlx runs a connection's PRAGMAs
//! while establishing it, inside the pool's acquire timeout, so that set-up used to be timed as
//! "waiting for a free connection" and a slow disk surfaced as `PoolTimedOut`. Here it runs once on
//! a connection of its own, where waiting is bounded by SQLite's busy timeout and reported as what
//! it is; pooled connections then open an existing WAL file and write nothing.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{ConnectOptions, Connection};

use super::StoreError;

/// How long a connection waits for another's lock (SQLite `busy_timeout`).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How much of the database file each connection reads through a memory map (SQLite `mmap_size`,
/// bytes): a page found there costs no `read` system call and no copy into the connection's own
/// cache, which SQLite empties whenever another connection has written. With millions of grants
/// (the scale benchmark), lookups touch pages all over a file of gigabytes. The mapping is the
/// operating system's page cache, shared by every connection, and counts as resident only where
/// it was read. SQLite's build caps it at just under 2 GiB; pages past that are read as before.
const MMAP_SIZE: &str = "2147418112";

/// Each connection's page cache (SQLite `cache_size`; negative: KiB), 8 MiB rather than SQLite's
/// 2 MiB, for what is past the mapping and what the write-ahead log holds. Filled only as pages
/// are read, so a small database never uses it all.
const CACHE_SIZE_KIB: &str = "-8192";

/// Open the database at `url` (a file, created if missing, in WAL mode; or in memory) as a pool of at
/// most `max_connections`, each acquired within `acquire_timeout`.
pub(super) async fn open(
    url: &str,
    max_connections: u32,
    acquire_timeout: Duration,
) -> Result<SqlitePool, StoreError> {
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let options = SqliteConnectOptions::from_str(url)?
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true)
        .pragma("mmap_size", MMAP_SIZE)
        .pragma("cache_size", CACHE_SIZE_KIB);
    if in_memory {
        // Every connection to `:memory:` is its own database, so an in-memory store has exactly one.
        return Ok(SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .acquire_timeout(acquire_timeout)
            .connect_with(options.journal_mode(SqliteJournalMode::Memory))
            .await?);
    }
    create_private(options.get_filename())?;
    let prepared = prepare_file(options.clone()).await?;
    let pool = SqlitePoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        .connect_with(options)
        .await;
    // Closed only now, so the WAL file stays in place for the pool's first connection.
    let _ = prepared.close().await;
    Ok(pool?)
}

/// Create the database file, if it does not exist yet, readable and writable by its owner only (mode
/// 0600), like the key secret file beside it: it holds password hashes and session data. SQLite
/// gives the `-wal` and `-shm` files it creates later the database file's mode. An existing file's
/// mode is left as the operator set it.
fn create_private(path: &std::path::Path) -> Result<(), StoreError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(sqlx::Error::Io(e).into()),
    }
}

/// Create the file if missing and put it in WAL mode (a property of the file, kept by every later
/// connection), on one connection outside the pool. `synchronous = NORMAL` is in force before the
/// journal mode changes, so the switch does fewer fsyncs. Slowness is logged, not hidden.
async fn prepare_file(options: SqliteConnectOptions) -> Result<SqliteConnection, StoreError> {
    let started = Instant::now();
    let mut conn = options.create_if_missing(true).connect().await?;
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode = WAL")
        .fetch_one(&mut conn)
        .await?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(%mode, "the SQLite database could not be switched to WAL mode");
    }
    let took = started.elapsed();
    if took > Duration::from_secs(1) {
        tracing::warn!(
            seconds = took.as_secs_f64(),
            "opening the SQLite database took over a second: the disk is slow or busy"
        );
    }
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh database file, and a connection holding an exclusive lock on it for `hold`: what a
    /// slow first set-up looks like from the pool's side.
    async fn locked_fresh_file(dir: &tempfile::TempDir, hold: Duration) -> String {
        let path = dir.path().join("latchkey.db");
        let url = format!("sqlite://{}", path.display());
        let mut blocker = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true)
            .connect()
            .await
            .unwrap();
        sqlx::query("CREATE TABLE filler (x INTEGER)")
            .execute(&mut blocker)
            .await
            .unwrap();
        sqlx::query("BEGIN EXCLUSIVE")
            .execute(&mut blocker)
            .await
            .unwrap();
        tokio::spawn(async move {
            tokio::time::sleep(hold).await;
            sqlx::query("COMMIT").execute(&mut blocker).await.unwrap();
            blocker.close().await.unwrap();
        });
        url
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_first_set_up_is_not_counted_as_waiting_for_a_pooled_connection() {
        let dir = tempfile::tempdir().unwrap();
        // The set-up waits 1.5 s for the file; acquiring a pooled connection may take 1 s at most.
        let url = locked_fresh_file(&dir, Duration::from_millis(1500)).await;
        let pool = open(&url, 5, Duration::from_secs(1)).await.unwrap();
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(mode, "wal");
    }

    #[tokio::test]
    async fn a_new_file_is_created_in_wal_mode_and_pooled_connections_share_it() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("new.db").display());
        let pool = open(&url, 2, Duration::from_secs(5)).await.unwrap();
        let (mut a, mut b) = (pool.acquire().await.unwrap(), pool.acquire().await.unwrap());
        for conn in [&mut a, &mut b] {
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut **conn)
                .await
                .unwrap();
            assert_eq!(mode, "wal");
            let fk: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
                .fetch_one(&mut **conn)
                .await
                .unwrap();
            assert_eq!(fk, 1);
        }
    }
}
