//! The soak (`--soak DURATION`): one server per backend with short lifetimes and a short
//! housekeeping interval, under a paced, realistic mix (sign-ins, code flows, refreshes with
//! rotation, revocations, client credentials, introspection), while the row count of every table
//! housekeeping cleans is read from the database at each sample: they must level off. Every request's
//! latency is kept with its time, so token latency during housekeeping passes can be set against the
//! rest.

mod mix;
mod report;

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

pub use self::mix::code_flow;
use self::mix::{Mix, app, gateway, service, users};
use self::report::{RowSample, SoakResult};
use crate::phases::Credentials;
use crate::server::{Server, Setup};

/// How often the server's `/metrics` is read to see a housekeeping pass end.
const METRICS_POLL: Duration = Duration::from_millis(100);
/// Tables that housekeeping does not clean, counted to show they stay as registered.
const CONSTANT_TABLES: [&str; 2] = ["users", "clients"];

/// The lifetimes and housekeeping interval of the soak's server, all multiples of one unit: a
/// thirtieth of the soak (5 s to 60 s). The longest a row can outlive its cause is about ten units (a
/// grant lives six, its revocation record three more, plus one interval before the pass that
/// deletes it), so every table reaches its steady state within the first third of the soak, and the
/// verdict compares the second and last thirds (see `report::verdict`). Authorization codes
/// have a fixed 60 s lifetime, which a soak of 3 minutes or more also covers.
pub fn settings(soak: Duration) -> Vec<(&'static str, String)> {
    let unit = (soak.as_secs() / 30).clamp(5, 60);
    let secs = |n: u64| format!("{}s", n * unit);
    vec![
        ("LATCHKEY_ACCESS_TOKEN_TTL", secs(2)),
        ("LATCHKEY_ID_TOKEN_TTL", secs(2)),
        ("LATCHKEY_REFRESH_TOKEN_TTL", secs(3)),
        ("LATCHKEY_REFRESH_TOKEN_ABSOLUTE_TTL", secs(6)),
        ("LATCHKEY_SESSION_TTL", secs(3)),
        ("LATCHKEY_AUDIT_RETENTION", secs(4)),
        ("LATCHKEY_GC_INTERVAL", secs(1)),
    ]
}

/// Each table's `latchkey_housekeeping_deleted_rows_total` in a `/metrics` answer.
fn deleted_rows(metrics: &str) -> BTreeMap<String, u64> {
    metrics
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("latchkey_housekeeping_deleted_rows_total{table=\"")?;
            let (table, rest) = rest.split_once('"')?;
            let value = rest.rsplit(' ').next()?.parse::<f64>().ok()?;
            Some((table.to_owned(), value as u64))
        })
        .collect()
}

async fn scrape(http: &reqwest::Client, base: &str) -> Option<BTreeMap<String, u64>> {
    let text = http
        .get(format!("{base}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    Some(deleted_rows(&text))
}

/// Reads `/metrics` every `METRICS_POLL`: the times at which a pass's deletions first showed (its
/// end, to within one poll) and the last counts.
async fn watch_passes(mix: Arc<Mix>) -> (Vec<f64>, BTreeMap<String, u64>) {
    let mut ends = Vec::new();
    let mut last = scrape(&mix.http, &mix.base).await.unwrap_or_default();
    while !mix.stopped() {
        tokio::time::sleep(METRICS_POLL).await;
        let Some(now) = scrape(&mix.http, &mix.base).await else {
            continue;
        };
        if now != last {
            ends.push(mix.start.elapsed().as_secs_f64());
            last = now;
        }
    }
    (ends, last)
}

/// A read-only connection to the server's database, for row counts.
enum Counter {
    Postgres(sqlx::PgConnection),
    Sqlite(sqlx::SqliteConnection),
}

impl Counter {
    async fn open(database_url: &str) -> Result<Self> {
        use sqlx::Connection;
        if database_url.starts_with("sqlite:") {
            let url = format!("{database_url}?mode=ro");
            return Ok(Self::Sqlite(sqlx::SqliteConnection::connect(&url).await?));
        }
        let mut connection = sqlx::PgConnection::connect(database_url).await?;
        sqlx::query("SET default_transaction_read_only = on")
            .execute(&mut connection)
            .await?;
        Ok(Self::Postgres(connection))
    }

    async fn count(&mut self, table: &str) -> Result<i64> {
        // The names come from the server's own metrics labels and `CONSTANT_TABLES`.
        let sql = format!(r#"SELECT COUNT(*) FROM "{table}""#);
        Ok(match self {
            Self::Postgres(c) => sqlx::query_scalar(&sql).fetch_one(c).await?,
            Self::Sqlite(c) => sqlx::query_scalar(&sql).fetch_one(c).await?,
        })
    }
}

/// The soak on one backend: start the server with `settings`, run the mix for `duration`, sample
/// every `sample`.
pub async fn run(
    name: &str,
    setup: &Setup,
    clients: &crate::Clients,
    soak_web: Credentials,
    duration: Duration,
    sample: Duration,
) -> Result<SoakResult> {
    let settings = settings(duration);
    let env: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let server = Server::start(setup, &env).await?;
    // The housekeeping task starts between the process's start and its first ready answer: take the
    // earliest, so a pass's window (from its scheduled start) can only be too wide, never miss it.
    let spawned = Instant::now() - server.start_to_ready;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
        .build()?;
    let unit = Duration::from_secs((duration.as_secs() / 30).clamp(5, 60));
    let tables: Vec<String> = scrape(&http, &server.base)
        .await
        .ok_or_else(|| anyhow!("no housekeeping counters at /metrics"))?
        .into_keys()
        .chain(CONSTANT_TABLES.iter().map(|t| (*t).to_owned()))
        .collect();
    let mut counter = Counter::open(&setup.database_url).await?;
    let mix = Arc::new(Mix {
        base: server.base.clone(),
        http,
        web: soak_web,
        service: clients.service.clone(),
        gateway: clients.gateway.clone(),
        start: Instant::now(),
        refresh_every: unit,
        stop: AtomicBool::new(false),
        ops: Mutex::new(Vec::new()),
        grants: Mutex::new(VecDeque::new()),
        serial: AtomicU64::new(0),
        last_service_token: Mutex::new(None),
    });
    eprintln!(
        "[{name}] soak for {} s, a sample every {} s; settings: {}",
        duration.as_secs(),
        sample.as_secs(),
        settings
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let mut tasks = Vec::new();
    // Two users a second (argon2id each), 20 client-credentials tokens a second, 10 introspections.
    for n in 0..2 {
        let offset = Duration::from_millis(500 * n);
        tasks.push(tokio::spawn(users(
            Arc::clone(&mix),
            Duration::from_secs(1),
            offset,
        )));
        tasks.push(tokio::spawn(app(Arc::clone(&mix))));
    }
    tasks.push(tokio::spawn(service(
        Arc::clone(&mix),
        Duration::from_millis(50),
    )));
    tasks.push(tokio::spawn(gateway(
        Arc::clone(&mix),
        Duration::from_millis(100),
    )));
    let watcher = tokio::spawn(watch_passes(Arc::clone(&mix)));

    let mut samples = Vec::new();
    let mut at = mix.start;
    loop {
        tokio::time::sleep_until(at.into()).await;
        let mut rows = BTreeMap::new();
        for table in &tables {
            rows.insert(table.clone(), counter.count(table).await?);
        }
        let row_sample = RowSample {
            at_s: mix.start.elapsed().as_secs_f64(),
            rss_mib: server.rss_mib(),
            rows,
        };
        eprintln!(
            "[{name}] {:>5.0} s  RSS {:.1} MiB  {}",
            row_sample.at_s,
            row_sample.rss_mib,
            row_sample
                .rows
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(t, n)| format!("{t}={n}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        samples.push(row_sample);
        if at >= mix.start + duration {
            break;
        }
        at = (at + sample).min(mix.start + duration);
    }
    mix.stop.store(true, Ordering::Relaxed);
    for task in tasks {
        let _ = task.await;
    }
    let (ends, deleted) = watcher.await.unwrap_or_default();
    let peak_rss_mib = server.peak_rss_mib();
    server.stop();
    let ops = std::mem::take(&mut *mix.ops.lock().map_err(|_| anyhow!("poisoned"))?);
    let interval = unit.as_secs_f64();
    let spawned_s = -(mix.start.duration_since(spawned).as_secs_f64());
    Ok(SoakResult::new(
        name,
        duration,
        sample,
        settings,
        samples,
        ops,
        report::pass_windows(&ends, spawned_s, interval),
        deleted,
        peak_rss_mib,
    ))
}

/// A backend ready for the soak or the instances: a fresh database, its schema and keys (one start and
/// stop), `register`'s clients and user, and a web client that also gets refresh tokens.
pub async fn prepare(
    args: &crate::Args,
    dir: &std::path::Path,
    postgres_url: Option<&str>,
) -> Result<(Setup, crate::Clients, Credentials)> {
    let setup = Setup {
        binary: args.binary.clone(),
        database_url: crate::server::fresh_database(dir, postgres_url).await?,
        dir: dir.to_path_buf(),
        secret: crate::SECRET.to_owned(),
    };
    Server::start(&setup, &[]).await?.stop();
    let clients = crate::register(&setup)?;
    let web = crate::creds(&setup.cli(
        &[
            "client",
            "create",
            "--name",
            "bench-refreshing-web",
            "--redirect-uri",
            crate::REDIRECT_URI,
            "--scope",
            "openid",
            "--skip-consent",
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
        ],
        None,
    )?)?;
    Ok((setup, clients, web))
}

/// `--soak`: the soak on SQLite, then on PostgreSQL if there is one; `soak.md` and `soak.json` in
/// `--out`.
pub async fn run_all(args: &crate::Args, duration: Duration, sample: Duration) -> Result<()> {
    if duration < Duration::from_secs(180) {
        eprintln!(
            "note: authorization codes live a fixed 60 s, so a soak under 3 minutes cannot see their table level off"
        );
    }
    let mut results = Vec::new();
    let backends = [("sqlite", None), ("postgres", args.postgres_url.as_deref())];
    for (name, url) in backends {
        if name == "postgres" && url.is_none() {
            continue;
        }
        let dir = tempfile::tempdir()?;
        let (setup, clients, web) = prepare(args, dir.path(), url).await?;
        results.push(run(name, &setup, &clients, web, duration, sample).await?);
    }
    let mut markdown = String::from(
        "# Soak: row counts under a steady mix with short lifetimes\n\n\
         Each sample counts the rows of every table housekeeping cleans (and `users`, `clients`) in \
         the database directly. A table has levelled off when the mean of the last third of the \
         samples is at most 10% (plus 10 rows) above the mean of the middle third.\n\n",
    );
    for result in &results {
        markdown.push_str(&result.markdown());
        markdown.push('\n');
    }
    println!("{markdown}");
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("soak.md"), &markdown)?;
    std::fs::write(
        args.out.join("soak.json"),
        serde_json::to_string_pretty(&results)?,
    )?;
    eprintln!("wrote {0}/soak.md and {0}/soak.json", args.out.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleted_rows_are_read_per_table_from_the_metrics_text() {
        let text = "# TYPE latchkey_housekeeping_deleted_rows_total counter\n\
            latchkey_housekeeping_deleted_rows_total{table=\"sessions\"} 12\n\
            latchkey_housekeeping_deleted_rows_total{table=\"grants\"} 0\n\
            latchkey_http_requests_total{route=\"/token\"} 5\n";
        let rows = deleted_rows(text);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows["sessions"], 12);
        assert_eq!(rows["grants"], 0);
    }

    #[test]
    fn lifetimes_are_a_thirtieth_of_the_soak_within_bounds() {
        let ten_minutes = settings(Duration::from_secs(600));
        assert!(ten_minutes.contains(&("LATCHKEY_GC_INTERVAL", "20s".into())));
        assert!(ten_minutes.contains(&("LATCHKEY_REFRESH_TOKEN_ABSOLUTE_TTL", "120s".into())));
        let short = settings(Duration::from_secs(60));
        assert!(short.contains(&("LATCHKEY_GC_INTERVAL", "5s".into())));
    }
}
