//! The soak (`--soak DURATION`): one server per backend with short lifetimes and a short
//! housekeeping interval, under a paced, realistic mix (sign-ins, code flows, refreshes with
//! rotation, revocations, client credentials, introspection), while the row count of every table
//! housekeeping cleans is read from the database at each sample: they must level off. Every request's
//! latency is kept with its time, so token latency during housekeeping passes can be set against the
//! rest.

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::phases::{self, Credentials};
use crate::server::{Server, Setup};
use crate::soak_report::{Op, RowSample, SoakResult};

/// How often the server's `/metrics` is read to see a housekeeping pass end.
const METRICS_POLL: Duration = Duration::from_millis(100);
/// Refreshes per grant before its fate (revoked, its access token revoked, or left to expire).
const REFRESHES_PER_GRANT: u32 = 3;
/// Tables that housekeeping does not clean, counted to show they stay as registered.
const CONSTANT_TABLES: [&str; 2] = ["users", "clients"];

/// The lifetimes and housekeeping interval of the soak's server, all multiples of one unit: a
/// thirtieth of the soak (5 s to 60 s). The longest a row can outlive its cause is about ten units (a
/// grant lives six, its revocation record three more, plus one interval before the pass that
/// deletes it), so every table reaches its steady state within the first third of the soak, and the
/// verdict compares the second and last thirds (see `soak_report::verdict`). Authorization codes
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

/// One grant of a signed-in user, held by the "app" between refreshes.
struct Grant {
    refresh_token: String,
    access_token: String,
    due: Instant,
    refreshes: u32,
    serial: u64,
}

/// What every task of the mix shares.
struct Mix {
    base: String,
    http: reqwest::Client,
    web: Credentials,
    service: Credentials,
    gateway: Credentials,
    /// Time zero of the samples.
    start: Instant,
    /// The refresh period of a grant (one unit).
    refresh_every: Duration,
    stop: AtomicBool,
    ops: Mutex<Vec<Op>>,
    grants: Mutex<VecDeque<Grant>>,
    serial: AtomicU64,
    last_service_token: Mutex<Option<String>>,
}

impl Mix {
    fn record(&self, kind: &'static str, began: Instant, ok: bool) {
        let op = Op {
            kind,
            at_s: began.duration_since(self.start).as_secs_f64(),
            ms: began.elapsed().as_secs_f64() * 1000.0,
            ok,
        };
        if let Ok(mut ops) = self.ops.lock() {
            ops.push(op);
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// `POST path` with the client's Basic authentication: the JSON body if the answer is 200.
    async fn post(
        &self,
        path: &str,
        client: &Credentials,
        form: &[(&str, &str)],
    ) -> Option<serde_json::Value> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .basic_auth(&client.id, Some(&client.secret))
            .form(form)
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        let bytes = response.bytes().await.ok()?;
        // `/revoke` answers an empty body.
        Some(serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }
}

/// Wait for the next tick of a paced loop; a late loop starts again from now rather than bursting.
async fn tick(next: &mut Instant, period: Duration) {
    let now = Instant::now();
    if *next < now {
        *next = now;
    }
    tokio::time::sleep_until((*next).into()).await;
    *next += period;
}

/// `GET /authorize` for a signed-in session (PKCE, S256), then the code at `/token`: the token
/// response. As in `phases::code_flows`, with `scope` asked for.
pub async fn code_flow(
    http: &reqwest::Client,
    base: &str,
    web: &Credentials,
    redirect_uri: &str,
    scope: &str,
) -> Result<serde_json::Value> {
    let verifier = "bench-soak-code-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ));
    let mut authorize = url::Url::parse(&format!("{base}/authorize"))?;
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &web.id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", scope)
        .append_pair("state", "soak")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let response = http.get(authorize.as_str()).send().await?;
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .ok_or_else(|| anyhow!("/authorize did not redirect: {}", response.status()))?;
    let code = url::Url::parse(location)?
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| anyhow!("no code in {location}"))?;
    let response = http
        .post(format!("{base}/token"))
        .basic_auth(&web.id, Some(&web.secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ])
        .send()
        .await?;
    let status = response.status();
    let body: serde_json::Value = response.json().await?;
    if !status.is_success() {
        return Err(anyhow!("the code was refused: {status} {body}"));
    }
    Ok(body)
}

/// A user every `period`: a new browser, the login form (one argon2id verification), then a code
/// flow asking for a refresh token; the grant goes to the "app".
async fn users(mix: Arc<Mix>, period: Duration, offset: Duration) {
    let mut next = Instant::now() + offset;
    while !mix.stopped() {
        tick(&mut next, period).await;
        let Ok(http) = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
        else {
            continue;
        };
        let began = Instant::now();
        let signed_in = phases::sign_in(&http, &mix.base, "bench", crate::PASSWORD).await;
        mix.record("sign_in", began, signed_in);
        if !signed_in {
            continue;
        }
        let began = Instant::now();
        let flow = code_flow(&http, &mix.base, &mix.web, crate::REDIRECT_URI, "openid").await;
        let tokens = flow.ok().and_then(|body| {
            Some((
                body["refresh_token"].as_str()?.to_owned(),
                body["access_token"].as_str()?.to_owned(),
            ))
        });
        mix.record("code_flow", began, tokens.is_some());
        if let Some((refresh_token, access_token)) = tokens
            && let Ok(mut grants) = mix.grants.lock()
        {
            grants.push_back(Grant {
                refresh_token,
                access_token,
                due: Instant::now() + mix.refresh_every,
                refreshes: 0,
                serial: mix.serial.fetch_add(1, Ordering::Relaxed),
            });
        }
    }
}

/// The application holding the grants: refreshes each one every unit (rotation), and after
/// `REFRESHES_PER_GRANT` refreshes revokes it (`/revoke` of the refresh token: the whole grant),
/// revokes its access token only, or leaves it to expire, a third each.
async fn app(mix: Arc<Mix>) {
    while !mix.stopped() {
        let grant = mix.grants.lock().ok().and_then(|mut grants| {
            if grants.front().is_some_and(|g| g.due <= Instant::now()) {
                grants.pop_front()
            } else {
                None
            }
        });
        let Some(mut grant) = grant else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let began = Instant::now();
        if grant.refreshes < REFRESHES_PER_GRANT {
            let body = mix
                .post(
                    "/token",
                    &mix.web,
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", grant.refresh_token.as_str()),
                    ],
                )
                .await;
            let rotated = body.as_ref().and_then(|body| {
                Some((
                    body["refresh_token"].as_str()?.to_owned(),
                    body["access_token"].as_str()?.to_owned(),
                ))
            });
            mix.record("refresh", began, rotated.is_some());
            if let Some((refresh_token, access_token)) = rotated
                && let Ok(mut grants) = mix.grants.lock()
            {
                grant.refresh_token = refresh_token;
                grant.access_token = access_token;
                grant.refreshes += 1;
                grant.due = Instant::now() + mix.refresh_every;
                grants.push_back(grant);
            }
            continue;
        }
        let (kind, token) = match grant.serial % 3 {
            0 => ("revoke_grant", grant.refresh_token),
            1 => ("revoke_access_token", grant.access_token),
            _ => continue,
        };
        let ok = mix
            .post("/revoke", &mix.web, &[("token", token.as_str())])
            .await
            .is_some();
        mix.record(kind, began, ok);
    }
}

/// The token probe: `client_credentials` every `period`; every 20th token is revoked.
async fn service(mix: Arc<Mix>, period: Duration) {
    let mut next = Instant::now();
    let mut issued = 0u64;
    while !mix.stopped() {
        tick(&mut next, period).await;
        let began = Instant::now();
        let token = mix
            .post(
                "/token",
                &mix.service,
                &[("grant_type", "client_credentials")],
            )
            .await
            .and_then(|body| body["access_token"].as_str().map(str::to_owned));
        mix.record("client_credentials", began, token.is_some());
        let Some(token) = token else { continue };
        issued += 1;
        if issued.is_multiple_of(20) {
            let began = Instant::now();
            let ok = mix
                .post("/revoke", &mix.service, &[("token", token.as_str())])
                .await
                .is_some();
            mix.record("revoke_client_token", began, ok);
        } else if let Ok(mut last) = mix.last_service_token.lock() {
            *last = Some(token);
        }
    }
}

/// A resource server introspecting the latest service token every `period`.
async fn gateway(mix: Arc<Mix>, period: Duration) {
    let mut next = Instant::now() + period / 2;
    while !mix.stopped() {
        tick(&mut next, period).await;
        let token = mix.last_service_token.lock().ok().and_then(|t| t.clone());
        let Some(token) = token else { continue };
        let began = Instant::now();
        let ok = mix
            .post("/introspect", &mix.gateway, &[("token", token.as_str())])
            .await
            .is_some_and(|body| body["active"].is_boolean());
        mix.record("introspection", began, ok);
    }
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
        crate::soak_report::pass_windows(&ends, spawned_s, interval),
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
