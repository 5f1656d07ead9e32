//! `StoreError`, and THE one place a database error is classified: unreachable (503, heals by
//! itself), the input's fault (the client's error), or an internal failure (500).
//!
//! Each failure carries the name of the store operation it happened in. Backend methods are marked
//! `#[tracing::instrument(level = "error", name = "…", skip_all)]` (one line per method); the
//! conversion from `sqlx::Error` reads that span's name, so no method body maps errors by hand.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken (the message names what already exists).
    #[error("{0}")]
    Conflict(String),
    /// The database could not be reached: a connection, pool, I/O or TLS failure, a lock or
    /// serialization conflict, a server shutting down. Answered with 503 and `Retry-After` (RFC 6749
    /// §4.1.2.1 `temporarily_unavailable`); heals by itself when the database is back.
    #[error("{operation}: database unavailable: {source}")]
    Unavailable {
        /// The store operation.
        operation: Operation,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// The database refused a value the request supplied (PostgreSQL SQLSTATE class 22, "data
    /// exception"; SQLite `SQLITE_TOOBIG`): the client's error (RFC 6749 §5.2 `invalid_request`).
    #[error("{operation}: value refused by the database: {source}")]
    Rejected {
        /// The store operation.
        operation: Operation,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// The database answered, but the operation failed: a decode error, a constraint violation, a
    /// bad query. Answered with 500 and a generic body (RFC 6749 §4.1.2.1 `server_error`).
    #[error("{operation}: database error: {source}")]
    Internal {
        /// The store operation.
        operation: Operation,
        /// The driver's error.
        source: sqlx::Error,
    },
    /// Migrations could not be applied.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored record could not be read back into a domain value.
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

/// The tracing target every backend's spans share.
const STORE_TARGET: &str = concat!(env!("CARGO_CRATE_NAME"), "::store::");

/// The store operation a failure happened in (the backend method's name), when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operation(pub Option<&'static str>);

impl Operation {
    /// The store operation running now: the innermost `latchkey::store` span, if any.
    pub fn current() -> Self {
        let span = tracing::Span::current();
        Self(
            span.metadata()
                .filter(|meta| meta.target().starts_with(STORE_TARGET))
                .map(|meta| meta.name()),
        )
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(name) => write!(f, "store operation '{name}'"),
            None => f.write_str("store operation"),
        }
    }
}

/// How a database error is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// The database is unreachable or overloaded: retry later.
    Unavailable = 0,
    /// The input was refused.
    Rejected = 1,
    /// Anything else.
    Internal = 2,
}

/// THE classification of a driver error.
pub fn classify(err: &sqlx::Error) -> Class {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => Class::Unavailable,
        sqlx::Error::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                classify_sqlstate(pg.code())
            } else if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                let code = db.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
                classify_sqlite(code)
            } else {
                Class::Internal
            }
        }
        _ => Class::Internal,
    }
}

/// PostgreSQL (Appendix A, "PostgreSQL Error Codes"): connection exceptions (08), insufficient
/// resources (53), operator intervention (57: shutdown, cancel), system I/O errors (58), and
/// serialization failures and deadlocks (40001, 40P01) are transient; data exceptions (22) are the
/// value's fault.
fn classify_sqlstate(code: &str) -> Class {
    match code.get(..2) {
        Some("08" | "53" | "57" | "58") => Class::Unavailable,
        Some("40") if matches!(code, "40001" | "40P01") => Class::Unavailable,
        Some("22") => Class::Rejected,
        _ => Class::Internal,
    }
}

/// SQLite result codes (sqlite.org/rescode.html), by their primary code (the low byte): BUSY (5),
/// LOCKED (6), NOMEM (7), IOERR (10), FULL (13), CANTOPEN (14) and PROTOCOL (15) are transient or
/// environmental; TOOBIG (18) is the value's fault.
fn classify_sqlite(extended: i32) -> Class {
    match extended & 0xff {
        5 | 6 | 7 | 10 | 13 | 14 | 15 => Class::Unavailable,
        18 => Class::Rejected,
        _ => Class::Internal,
    }
}

/// Driver errors since the process started, by class (unavailable, rejected, internal): every one
/// passes through [`StoreError::from`]. Process-wide, like the database connections they count.
static ERRORS: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

/// The running totals of driver errors, by kind, for `latchkey_store_errors_total{kind}`.
pub fn error_totals() -> Vec<(&'static str, u64)> {
    ["unavailable", "rejected", "internal"]
        .into_iter()
        .zip(&ERRORS)
        .map(|(kind, total)| (kind, total.load(Ordering::Relaxed)))
        .collect()
}

impl From<sqlx::Error> for StoreError {
    fn from(source: sqlx::Error) -> Self {
        let operation = Operation::current();
        let class = classify(&source);
        ERRORS[class as usize].fetch_add(1, Ordering::Relaxed);
        match class {
            Class::Unavailable => Self::Unavailable { operation, source },
            Class::Rejected => Self::Rejected { operation, source },
            Class::Internal => Self::Internal { operation, source },
        }
    }
}

/// Map a unique-constraint violation to `Conflict` with `what`; classify anything else.
pub(crate) fn conflict_as(what: impl FnOnce() -> String) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |err| match err.as_database_error() {
        Some(db) if db.is_unique_violation() => StoreError::Conflict(what()),
        _ => StoreError::from(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::Connection;

    #[test]
    fn connection_pool_io_and_tls_failures_are_unavailable() {
        for err in [
            sqlx::Error::PoolTimedOut,
            sqlx::Error::PoolClosed,
            sqlx::Error::WorkerCrashed,
            sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused)),
            sqlx::Error::Tls("handshake failed".into()),
        ] {
            assert_eq!(classify(&err), Class::Unavailable, "{err}");
        }
    }

    #[test]
    fn decode_and_shape_errors_are_internal() {
        for err in [
            sqlx::Error::RowNotFound,
            sqlx::Error::ColumnNotFound("x".into()),
            sqlx::Error::Decode("bad".into()),
            sqlx::Error::Protocol("odd".into()),
        ] {
            assert_eq!(classify(&err), Class::Internal, "{err}");
        }
    }

    #[test]
    fn postgres_sqlstates_by_class() {
        for (code, class) in [
            ("08006", Class::Unavailable), // connection_failure
            ("53300", Class::Unavailable), // too_many_connections
            ("57P01", Class::Unavailable), // admin_shutdown
            ("40001", Class::Unavailable), // serialization_failure
            ("40P01", Class::Unavailable), // deadlock_detected
            ("22021", Class::Rejected),    // character_not_in_repertoire (NUL)
            ("22001", Class::Rejected),    // string_data_right_truncation
            ("23505", Class::Internal),    // unique_violation (Conflict is mapped before)
            ("23503", Class::Internal),    // foreign_key_violation
            ("42P01", Class::Internal),    // undefined_table
            ("40002", Class::Internal),    // integrity_constraint_violation
        ] {
            assert_eq!(classify_sqlstate(code), class, "{code}");
        }
    }

    #[test]
    fn sqlite_result_codes_by_primary_code() {
        for (code, class) in [
            (5, Class::Unavailable),   // SQLITE_BUSY
            (517, Class::Unavailable), // SQLITE_BUSY_SNAPSHOT
            (266, Class::Unavailable), // SQLITE_IOERR_READ
            (14, Class::Unavailable),  // SQLITE_CANTOPEN
            (18, Class::Rejected),     // SQLITE_TOOBIG
            (2067, Class::Internal),   // SQLITE_CONSTRAINT_UNIQUE
            (787, Class::Internal),    // SQLITE_CONSTRAINT_FOREIGNKEY
            (1, Class::Internal),      // SQLITE_ERROR
            (11, Class::Internal),     // SQLITE_CORRUPT
        ] {
            assert_eq!(classify_sqlite(code), class, "{code}");
        }
    }

    #[tokio::test]
    async fn real_sqlite_errors_are_classified_from_the_driver() {
        let mut conn = sqlx::SqliteConnection::connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL CHECK (n > 0))")
            .execute(&mut conn)
            .await
            .unwrap();
        let check = sqlx::query("INSERT INTO t (id, n) VALUES (1, 0)")
            .execute(&mut conn)
            .await
            .unwrap_err();
        assert!(matches!(
            StoreError::from(check),
            StoreError::Internal { .. }
        ));
        sqlx::query("INSERT INTO t (id, n) VALUES (1, 1)")
            .execute(&mut conn)
            .await
            .unwrap();
        let missing = sqlx::query_scalar::<_, i64>("SELECT nope FROM t")
            .fetch_one(&mut conn)
            .await
            .unwrap_err();
        assert!(matches!(
            StoreError::from(missing),
            StoreError::Internal { .. }
        ));
    }

    #[test]
    fn the_operation_is_the_innermost_store_span() {
        let subscriber = tracing_subscriber::fmt()
            .with_writer(std::io::sink)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let outside = StoreError::from(sqlx::Error::PoolTimedOut);
            assert!(
                matches!(
                    outside,
                    StoreError::Unavailable {
                        operation: Operation(None),
                        ..
                    }
                ),
                "{outside:?}"
            );
            let span = tracing::error_span!(target: "latchkey::store::sqlite", "find_client");
            let _entered = span.enter();
            let err = StoreError::from(sqlx::Error::Decode("bad".into()));
            assert!(
                matches!(
                    err,
                    StoreError::Internal {
                        operation: Operation(Some("find_client")),
                        ..
                    }
                ),
                "{err:?}"
            );
            assert!(
                err.to_string()
                    .starts_with("store operation 'find_client': database error")
            );
        });
    }
}
