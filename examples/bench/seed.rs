//! The scale mode's store: rows written in bulk straight through SQL (the Store would take hours
//! for millions), shaped as the server writes them, then counted. PostgreSQL makes each row on the
//! server (`generate_series`); SQLite with a recursive CTE, a million rows per statement.
//!
//! Users and clients are copies of the benchmark's own `bench` user and `bench-web` client (every
//! column, so the rows stay valid as the schema grows), under new ids and names: each seeded user
//! has the `bench` user's argon2id hash, made by the server (so the benchmark's password), and each
//! seeded client `bench-web`'s secret and redirect URI.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;
use std::time::Instant;

use anyhow::{Context, Result, anyhow};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, Row, SqlitePool};

/// Rows per statement.
const CHUNK: u64 = 1_000_000;

/// What `--scale N` seeds for `users` = N (× the step).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Plan {
    /// Users (each with a role).
    pub users: u64,
    /// Clients: one per ten users.
    pub clients: u64,
    /// Grants, each with one refresh token: ten per user. One in ten has expired.
    pub grants: u64,
    /// Revocations: one per user, half access-token `jti`s, half grants; all expire within the hour.
    pub revocations: u64,
    /// Browser sessions: one per user. One in ten has expired.
    pub sessions: u64,
    /// Roles: one per hundred users (at least ten).
    pub roles: u64,
    /// Audit events: two per user (a sign-in and a grant).
    pub audit_events: u64,
}

impl Plan {
    /// The rows for `users` users.
    pub fn new(users: u64) -> Self {
        let users = users.max(2);
        Self {
            users,
            clients: (users / 10).max(1),
            grants: users * 10,
            revocations: users,
            sessions: users,
            roles: (users / 100).max(10),
            audit_events: users * 2,
        }
    }
}

/// The id of seeded grant `n` (1-based): a user's grant (`gr_`).
pub fn grant_id(n: u64) -> String {
    format!("gr_scale{n:014}")
}

/// The username of seeded user `n`.
pub fn username(n: u64) -> String {
    format!("scale-user-{n}")
}

/// The id of seeded user `n`.
pub fn user_id(n: u64) -> String {
    format!("u{n:021}")
}

/// The id of seeded client `n`.
pub fn client_id(n: u64) -> String {
    format!("c{n:021}")
}

/// Seeded grant `n`'s user and client numbers.
pub fn grant_owner(plan: &Plan, n: u64) -> (u64, u64) {
    (1 + (n - 1) % plan.users, 1 + (n - 1) % plan.clients)
}

/// Whether seeded grant `n` has expired (with its refresh token).
pub fn grant_expired(n: u64) -> bool {
    n.is_multiple_of(10)
}

/// Whether seeded grant `n` is revoked: revocation `k` of the even ones names grant `5k + 1`.
pub fn grant_revoked(plan: &Plan, n: u64) -> bool {
    n % 10 == 1 && n >= 11 && n <= 10 * (plan.revocations / 2) + 1
}

/// A connection to the store under test, with the little SQL that differs between the backends.
pub enum Db {
    /// PostgreSQL.
    Postgres(PgPool),
    /// SQLite, one connection, no fsync (a throwaway file).
    Sqlite(SqlitePool),
}

impl Db {
    /// Connect to `url` (the server must not be running on SQLite).
    pub async fn open(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            // A page cache of 1 GiB (the default is 2 MiB): the indexes of tables of millions of
            // rows, written in no order of theirs, would otherwise be read back for every row.
            let options = SqliteConnectOptions::from_str(url)?
                .synchronous(SqliteSynchronous::Off)
                .pragma("cache_size", "-1048576");
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await?;
            Ok(Self::Sqlite(pool))
        } else {
            Ok(Self::Postgres(PgPool::connect(url).await?))
        }
    }

    /// Close the pool.
    pub async fn close(self) {
        match self {
            Self::Postgres(pool) => pool.close().await,
            Self::Sqlite(pool) => pool.close().await,
        }
    }

    /// Run `sql`; the rows it changed.
    pub async fn execute(&self, sql: &str) -> Result<u64> {
        let done = match self {
            Self::Postgres(pool) => sqlx::query(sql).execute(pool).await?.rows_affected(),
            Self::Sqlite(pool) => sqlx::query(sql).execute(pool).await?.rows_affected(),
        };
        Ok(done)
    }

    /// Run `sql` with one text parameter (`$1`).
    pub async fn execute_text(&self, sql: &str, text: &str) -> Result<u64> {
        let done = match self {
            Self::Postgres(pool) => sqlx::query(sql).bind(text).execute(pool).await?,
            Self::Sqlite(pool) => {
                return Ok(sqlx::query(sql)
                    .bind(text)
                    .execute(pool)
                    .await?
                    .rows_affected());
            }
        };
        Ok(done.rows_affected())
    }

    /// Run `sql` with one text and one blob parameter (`$1`, `$2`).
    pub async fn execute_with(&self, sql: &str, text: &str, blob: &[u8]) -> Result<u64> {
        let done = match self {
            Self::Postgres(pool) => sqlx::query(sql)
                .bind(text)
                .bind(blob)
                .execute(pool)
                .await?
                .rows_affected(),
            Self::Sqlite(pool) => sqlx::query(sql)
                .bind(text)
                .bind(blob)
                .execute(pool)
                .await?
                .rows_affected(),
        };
        Ok(done)
    }

    /// The one integer `sql` returns.
    pub async fn scalar(&self, sql: &str) -> Result<i64> {
        let value = match self {
            Self::Postgres(pool) => sqlx::query(sql).fetch_one(pool).await?.try_get(0)?,
            Self::Sqlite(pool) => sqlx::query(sql).fetch_one(pool).await?.try_get(0)?,
        };
        Ok(value)
    }

    /// The database's time, Unix seconds (the store's clock, read where the server reads it).
    pub async fn now(&self) -> Result<i64> {
        match self {
            Self::Postgres(_) => {
                self.scalar("SELECT extract(epoch FROM now())::bigint")
                    .await
            }
            Self::Sqlite(_) => self.scalar("SELECT unixepoch()").await,
        }
    }

    /// Bring the freshly written tables to a settled state, as a store in service is: statistics
    /// for the planner, and on PostgreSQL a vacuum too. Without it autovacuum takes up millions of
    /// newly inserted rows while the phases run, and on a small machine slows every phase alike.
    async fn settle(&self) -> Result<()> {
        match self {
            Self::Postgres(_) => self.execute("VACUUM (ANALYZE)").await?,
            Self::Sqlite(_) => self.execute("ANALYZE").await?,
        };
        Ok(())
    }

    /// `table`'s columns, in order.
    async fn columns(&self, table: &str) -> Result<Vec<String>> {
        let names = match self {
            Self::Postgres(pool) => sqlx::query(
                "SELECT column_name::text FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            )
            .bind(table)
            .fetch_all(pool)
            .await?
            .iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()?,
            Self::Sqlite(pool) => sqlx::query("SELECT name FROM pragma_table_info($1)")
                .bind(table)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|row| row.try_get(0))
                .collect::<Result<_, _>>()?,
        };
        Ok(names)
    }

    /// `expr` (an integer) as `prefix` and `width` digits, zero-padded: the ids of [`user_id`] and
    /// the others, in SQL.
    fn padded(&self, prefix: &str, expr: &str, width: usize) -> String {
        match self {
            Self::Postgres(_) => format!("('{prefix}' || lpad(({expr})::text, {width}, '0'))"),
            Self::Sqlite(_) => format!("printf('{prefix}%0{width}d', {expr})"),
        }
    }

    /// 32 bytes standing for a SHA-256 of a secret nobody holds, distinct per `n` and `salt`.
    fn digest(&self, expr: &str, salt: u64) -> String {
        match self {
            Self::Postgres(_) => format!("sha256(int8send(({expr}) * 8 + {salt}))"),
            Self::Sqlite(_) => "randomblob(32)".to_owned(),
        }
    }

    /// Text as the bytes of a `BYTEA` / `BLOB` column.
    fn bytes(&self, expr: &str) -> String {
        match self {
            Self::Postgres(_) => format!("convert_to({expr}, 'UTF8')"),
            Self::Sqlite(_) => format!("CAST({expr} AS BLOB)"),
        }
    }

    /// `INSERT INTO table (columns) SELECT values FROM <n from first to last> [, from] [WHERE]`.
    async fn insert_series(
        &self,
        table: &str,
        columns: &[(impl AsRef<str>, String)],
        from: &str,
        count: u64,
    ) -> Result<()> {
        let names: Vec<&str> = columns.iter().map(|(name, _)| name.as_ref()).collect();
        let values: Vec<&str> = columns.iter().map(|(_, value)| value.as_str()).collect();
        let (names, values) = (names.join(", "), values.join(", "));
        let mut first = 1;
        while first <= count {
            let last = (first + CHUNK - 1).min(count);
            let sql = match self {
                Self::Postgres(_) => format!(
                    "INSERT INTO {table} ({names}) SELECT {values} \
                     FROM generate_series({first}::bigint, {last}::bigint) AS s(n){from}"
                ),
                Self::Sqlite(_) => format!(
                    "WITH RECURSIVE s(n) AS (SELECT {first} UNION ALL SELECT n + 1 FROM s WHERE n < {last}) \
                     INSERT INTO {table} ({names}) SELECT {values} FROM s{from}"
                ),
            };
            let inserted = self
                .execute(&sql)
                .await
                .with_context(|| format!("seeding {table}"))?;
            if inserted != last - first + 1 {
                return Err(anyhow!(
                    "seeding {table}: {inserted} rows, not {}",
                    last - first + 1
                ));
            }
            first = last + 1;
        }
        if let Self::Sqlite(_) = self {
            // Keep the write-ahead log from growing to the size of the whole table.
            self.execute("PRAGMA wal_checkpoint(TRUNCATE)").await?;
        }
        Ok(())
    }

    /// Copy the row of `table` where `key` = `value` for each `n`, with `changed` columns replaced.
    async fn copy_series(
        &self,
        table: &str,
        key: &str,
        value: &str,
        changed: &[(&str, String)],
        count: u64,
    ) -> Result<()> {
        let columns: Vec<(String, String)> = self
            .columns(table)
            .await?
            .into_iter()
            .map(|column| {
                let value = changed
                    .iter()
                    .find(|(name, _)| *name == column)
                    .map_or_else(|| format!("o.{column}"), |(_, value)| value.clone());
                (column, value)
            })
            .collect();
        let from = format!(", {table} o WHERE o.{key} = '{value}'");
        self.insert_series(table, &columns, &from, count).await
    }

    /// The store's size on disk, bytes: the PostgreSQL database, or the SQLite file and its logs.
    pub async fn disk_bytes(&self, dir: &Path) -> Result<u64> {
        match self {
            Self::Postgres(_) => {
                let bytes = self
                    .scalar("SELECT pg_database_size(current_database())")
                    .await?;
                Ok(u64::try_from(bytes)?)
            }
            Self::Sqlite(_) => Ok(std::fs::read_dir(dir)?
                .filter_map(Result::ok)
                .filter(|entry| {
                    entry
                        .file_name()
                        .to_string_lossy()
                        .starts_with("latchkey.db")
                })
                .filter_map(|entry| entry.metadata().ok())
                .map(|meta| meta.len())
                .sum()),
        }
    }
}

/// Seed `plan`'s rows (timed by the database's clock), copying the `bench` user and the `web` client; then analyse.
pub async fn seed(db: &Db, plan: &Plan, web: &str) -> Result<()> {
    let now = db.now().await?;
    let user = |expr: &str| db.padded("u", expr, 21);
    let client = |expr: &str| db.padded("c", expr, 21);
    let grant = |expr: &str| db.padded("gr_scale", expr, 14);
    let (users, clients) = (plan.users, plan.clients);
    let step = |what: &str, began: Instant| {
        eprintln!("  seeded {what} in {:.1} s", began.elapsed().as_secs_f64());
    };

    let began = Instant::now();
    db.copy_series(
        "users",
        "username",
        "bench",
        &[
            ("user_id", user("n")),
            ("username", "('scale-user-' || n)".into()),
            ("email", "('scale-user-' || n || '@bench.example')".into()),
            ("name", "('Scale User ' || n)".into()),
            ("created_at", format!("({now} - n % 31536000)")),
            ("updated_at", format!("({now} - n % 86400)")),
        ],
        users,
    )
    .await?;
    step("users", began);

    let began = Instant::now();
    db.copy_series(
        "clients",
        "client_name",
        web,
        &[
            ("client_id", client("n")),
            ("client_name", "('scale-client-' || n)".into()),
            // `bench-web` only redeems codes; the seeded grants' refresh tokens must be usable.
            ("grant_types", "'authorization_code refresh_token'".into()),
            ("created_at", format!("({now} - n % 31536000)")),
            ("updated_at", format!("({now} - n % 86400)")),
        ],
        clients,
    )
    .await?;
    step("clients", began);

    // Created over the last 20 days; live for 30 (the default refresh-token lifetime), except one in
    // ten, expired within the last day (housekeeping's work).
    let created = format!("({now} - (n * 7919) % 1728000)");
    let expires =
        format!("(CASE WHEN n % 10 = 0 THEN {now} - 1 - n % 86400 ELSE {created} + 2592000 END)");
    let began = Instant::now();
    let revoked_until = 10 * (plan.revocations / 2) + 1;
    db.insert_series(
        "grants",
        &[
            ("grant_id", grant("n")),
            ("client_id", client(&format!("1 + (n - 1) % {clients}"))),
            ("user_id", user(&format!("1 + (n - 1) % {users}"))),
            ("scope", "'openid'".into()),
            ("auth_time", created.clone()),
            ("created_at", created.clone()),
            ("expires_at", expires.clone()),
            (
                "revoked_at",
                format!(
                    "(CASE WHEN n % 10 = 1 AND n >= 11 AND n <= {revoked_until} THEN {now} - n % 3600 END)"
                ),
            ),
            ("resources", "'[]'".into()),
            ("amr", "'pwd'".into()),
        ],
        "",
        plan.grants,
    )
    .await?;
    step("grants", began);

    let began = Instant::now();
    db.insert_series(
        "refresh_tokens",
        &[
            ("token_hash", db.digest("n", 1)),
            ("grant_id", grant("n")),
            ("scope", "'openid'".into()),
            ("created_at", created.clone()),
            ("expires_at", expires),
        ],
        "",
        plan.grants,
    )
    .await?;
    step("refresh tokens", began);

    let began = Instant::now();
    let sid = db.padded("sid_scale", "n", 13);
    let signed_in_at = format!("({now} - n % 3600)");
    let address = "('192.0.2.' || (1 + n % 250))";
    let data = format!(
        r#"('{{"signed_in":{{"user_id":"' || {} || '","auth_time":' || {signed_in_at} || ',"authentication":{{"methods":["pwd"]}},"sid":"' || {sid} || '"}},"signed_in_from":{{"address":"' || {address} || '","user_agent":"Firefox on Linux"}}}}')"#,
        user("n")
    );
    db.insert_series(
        "sessions",
        &[
            ("id_hash", db.digest("n", 2)),
            ("user_id", user(&format!("1 + (n - 1) % {users}"))),
            ("data", db.bytes(&data)),
            (
                "expiry_date",
                format!("(CASE WHEN n % 10 = 0 THEN {now} - 1 - n % 3600 ELSE {now} + 1 + (n * 7) % 28800 END)"),
            ),
            ("sid", sid.clone()),
            ("signed_in_at", signed_in_at.clone()),
            ("address", address.into()),
            ("user_agent", "'Firefox on Linux'".into()),
        ],
        "",
        plan.sessions,
    )
    .await?;
    step("sessions", began);

    let began = Instant::now();
    db.insert_series(
        "roles",
        &[
            ("name", "('scale-role-' || n)".into()),
            ("description", "('Scale role ' || n)".into()),
            ("created_at", now.to_string()),
        ],
        "",
        plan.roles,
    )
    .await?;
    let roles = plan.roles;
    db.insert_series(
        "user_roles",
        &[
            ("user_id", user("n")),
            (
                "role_name",
                format!("('scale-role-' || (1 + (n - 1) % {roles}))"),
            ),
        ],
        "",
        users,
    )
    .await?;
    step("roles", began);

    // Over the last 30 days: a password sign-in, then a grant, for each user in turn.
    let began = Instant::now();
    let owner = user(&format!("1 + (n / 2) % {users}"));
    let owner_client = client(&format!("1 + (n / 2) % {clients}"));
    db.insert_series(
        "audit_events",
        &[
            ("at", format!("({now} - (n * 13) % 2592000)")),
            (
                "event_type",
                "(CASE WHEN n % 2 = 0 THEN 'sign_in.succeeded' ELSE 'grant.created' END)".into(),
            ),
            (
                "actor",
                format!("(CASE WHEN n % 2 = 0 THEN 'user:' || {owner} ELSE 'client:' || {owner_client} END)"),
            ),
            ("user_id", owner.clone()),
            (
                "client_id",
                format!("(CASE WHEN n % 2 = 0 THEN NULL ELSE {owner_client} END)"),
            ),
            (
                "detail",
                format!(
                    r#"(CASE WHEN n % 2 = 0 THEN '{{"outcome":"password","username":"scale-user-' || (1 + (n / 2) % {users}) || '","address":"192.0.2.7"}}' ELSE '{{"grant_id":"' || {} || '","grant_type":"authorization_code","scope":"openid"}}' END)"#,
                    grant("n")
                ),
            ),
        ],
        "",
        plan.audit_events,
    )
    .await?;
    step("audit events", began);

    // Half access-token ids, half grants (revocation k, when even, names grant 5k + 1), all
    // expiring within the next hour: the revocation cache holds every one of them.
    // Last, and from a fresh clock: their hour starts when seeding ends.
    let now = db.now().await?;
    let began = Instant::now();
    let revocations = plan.revocations;
    db.insert_series(
        "revocations",
        &[
            (
                "id",
                format!(
                    "(CASE WHEN n % 2 = 0 THEN {} ELSE {} END)",
                    grant("5 * n + 1"),
                    db.padded("jti_scale", "n", 13)
                ),
            ),
            (
                "expires_at",
                format!("({now} + 1 + (n * 3599) / {revocations})"),
            ),
        ],
        "",
        revocations,
    )
    .await?;
    step("revocations", began);

    let began = Instant::now();
    db.settle().await?;
    step("statistics and vacuum", began);
    Ok(())
}

/// Every table's rows.
pub async fn count_rows(db: &Db) -> Result<BTreeMap<String, u64>> {
    let mut counts = BTreeMap::new();
    for table in [
        "users",
        "clients",
        "grants",
        "refresh_tokens",
        "revocations",
        "sessions",
        "roles",
        "user_roles",
        "audit_events",
    ] {
        let count = db.scalar(&format!("SELECT COUNT(*) FROM {table}")).await?;
        counts.insert(table.to_owned(), u64::try_from(count)?);
    }
    Ok(counts)
}

/// The SHA-256 of `value`: how the server stores refresh tokens.
pub fn sha256(value: &str) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, value.as_bytes())
        .as_ref()
        .to_vec()
}

/// Give seeded grant `n`'s refresh token the plaintext `token` (its row keeps everything else).
pub async fn know_refresh_token(db: &Db, n: u64, token: &str) -> Result<()> {
    let changed = db
        .execute_with(
            "UPDATE refresh_tokens SET token_hash = $2 WHERE grant_id = $1",
            &grant_id(n),
            &sha256(token),
        )
        .await?;
    if changed != 1 {
        return Err(anyhow!("no seeded refresh token for grant {n}"));
    }
    Ok(())
}

/// Record access token `jti` as revoked until `expires_at`, as `/revoke` does.
pub async fn revoke_jti(db: &Db, jti: &str, expires_at: i64) -> Result<()> {
    db.execute_text(
        &format!("INSERT INTO revocations (id, expires_at) VALUES ($1, {expires_at})"),
        jti,
    )
    .await?;
    Ok(())
}

/// Drop the PostgreSQL database `name` on the server at `server_url`.
pub async fn drop_database(server_url: &str, name: &str) -> Result<()> {
    use sqlx::Connection;
    let mut admin = sqlx::PgConnection::connect(server_url).await?;
    sqlx::query(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
        .execute(&mut admin)
        .await?;
    Ok(())
}
