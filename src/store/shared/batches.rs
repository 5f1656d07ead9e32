//! Deleting in bounded batches, for housekeeping (generated per backend by [`batches_impl!`]).

/// The `batches` module of a backend with pool `$pool`.
macro_rules! batches_impl {
    ($pool:ty) => {
        mod batches {
            //! One DELETE split into bounded batches, so housekeeping never holds a long lock.

            use crate::domain::grant::HOUSEKEEPING_BATCH;

            /// Delete the rows of `table` (primary key `key`, its columns separated by commas) that
            /// match `condition` (binding `$1` to `bound`) in batches of [`HOUSEKEEPING_BATCH`]:
            /// `DELETE … WHERE key IN (SELECT key … LIMIT n)`, repeated until a batch deletes
            /// fewer. Each batch is its own statement, so a pass never holds a table's lock
            /// (SQLite: the database's) for longer than one batch takes, and requests go on in
            /// between. Answers how many rows went.
            pub(crate) async fn delete_in_batches(
                pool: &$pool,
                table: &str,
                key: &str,
                condition: &str,
                bound: i64,
            ) -> Result<u64, sqlx::Error> {
                // A composite key (`a, b`) is compared as a row value: `(a, b) IN (SELECT a, b …)`.
                let row = if key.contains(',') { format!("({key})") } else { key.to_owned() };
                let sql = format!(
                    "DELETE FROM {table} WHERE {row} IN \
                     (SELECT {key} FROM {table} WHERE {condition} LIMIT {HOUSEKEEPING_BATCH})"
                );
                let mut deleted = 0;
                loop {
                    let batch = sqlx::query(&sql).bind(bound).execute(pool).await?.rows_affected();
                    deleted += batch;
                    // Fewer than a batch: nothing is left (or another instance took the rest).
                    if batch < HOUSEKEEPING_BATCH {
                        return Ok(deleted);
                    }
                }
            }
        }
    };
}
pub(crate) use batches_impl;
