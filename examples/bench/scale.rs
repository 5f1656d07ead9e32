//! `--scale N`: every phase at each store size. For each backend and each `--scale-steps` multiple
//! m: a fresh database, its first start and the benchmark's registrations, N·m users (and all that
//! goes with them, [`seed::Plan`]) written in bulk, checked through the server, then the phases
//! exactly as the normal run measures them. The database is dropped after each size.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::phases::{self, Credentials, Shape};
use crate::report::BackendResult;
use crate::scale_report::{ScaleBackend, ScaleReport, ScaleStep};
use crate::seed::{self, Db, Plan};
use crate::server::{Server, Setup};
use crate::{Args, Clients, PASSWORD, REDIRECT_URI, protection};

/// Run the scale mode with `users` users at the smallest size, and write `scale.md` / `scale.json`.
pub fn run(args: &Args, users: u64) -> Result<()> {
    if args.scale_steps.is_empty() || args.scale_steps.contains(&0) {
        bail!("--scale-steps needs one or more positive multiples");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut backends = vec![
        runtime
            .block_on(scale_backend(args, "sqlite", None, users))
            .context("SQLite scale run")?,
    ];
    if let Some(url) = &args.postgres_url {
        backends.push(
            runtime
                .block_on(scale_backend(args, "postgres", Some(url), users))
                .context("PostgreSQL scale run")?,
        );
    }
    let report = ScaleReport::new(
        users,
        &args.scale_steps,
        backends,
        args.workers,
        args.seconds,
    );
    let markdown = report.markdown();
    println!("{markdown}");
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("scale.md"), &markdown)?;
    std::fs::write(
        args.out.join("scale.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    eprintln!("wrote {0}/scale.md and {0}/scale.json", args.out.display());
    Ok(())
}

async fn scale_backend(
    args: &Args,
    name: &str,
    postgres_url: Option<&str>,
    users: u64,
) -> Result<ScaleBackend> {
    let mut steps = Vec::new();
    for &multiple in &args.scale_steps {
        let size = users * multiple;
        if postgres_url.is_none() && args.scale_max_sqlite.is_some_and(|max| size > max) {
            eprintln!("[{name}] {size} users: past --scale-max-sqlite, not run");
            continue;
        }
        eprintln!("[{name}] {size} users ({multiple}×)");
        let dir = tempfile::tempdir()?;
        let step = scale_step(args, name, dir.path(), postgres_url, multiple, size).await;
        // Whatever happened, the database goes: a million users take gigabytes.
        if let Some(server_url) = postgres_url {
            seed::drop_database(server_url, &crate::server::database_name()).await?;
        }
        drop(dir);
        steps.push(step.with_context(|| format!("{size} users"))?);
    }
    Ok(ScaleBackend {
        backend: name.to_owned(),
        steps,
    })
}

/// One size: prepare, seed, check through the server, measure every phase.
async fn scale_step(
    args: &Args,
    name: &str,
    dir: &Path,
    postgres_url: Option<&str>,
    multiple: u64,
    users: u64,
) -> Result<ScaleStep> {
    let mut result = BackendResult::new(name);
    let (setup, clients) = crate::prepare(args, dir, postgres_url, &mut result).await?;

    // An access token to be revoked by its `jti` among the seeded revocations.
    let server = Server::start(&setup, &[]).await?;
    let revoked_token = phases::one_token(&server.base, &clients.service).await?;
    server.stop();
    let claims = protection::claims(&revoked_token)?;
    let (jti, exp) = (
        claims["jti"].as_str().ok_or_else(|| anyhow!("no jti"))?,
        claims["exp"].as_i64().ok_or_else(|| anyhow!("no exp"))?,
    );

    let plan = Plan::new(users);
    let db = Db::open(&setup.database_url).await?;
    let began = Instant::now();
    seed::seed(&db, &plan, "bench-web").await?;
    seed::revoke_jti(&db, jti, exp).await?;
    let probes = Probes::new(&plan);
    for (n, token) in probes.all() {
        seed::know_refresh_token(&db, n, &token).await?;
    }
    let seed_seconds = began.elapsed().as_secs_f64();
    let rows = seed::count_rows(&db).await?;
    let disk_mib = db.disk_bytes(dir).await? as f64 / 1024.0 / 1024.0;
    db.close().await;
    eprintln!("[{name}] seeded in {seed_seconds:.1} s, {disk_mib:.0} MiB on disk: {rows:?}");

    // The first start against the seeded store: it serves at once, and its revocation cache
    // fills from every row in the background.
    let server = Server::start(&setup, &[]).await?;
    let seeded_start_ms = server.start_to_ready.as_secs_f64() * 1000.0;
    let seeded_cache_filled_ms = server.revocations_read_ms();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seeded_idle_rss_mib = server.rss_mib();
    eprintln!(
        "[{name}] seeded store: ready in {seeded_start_ms:.0} ms, revocation cache filled at \
         {seeded_cache_filled_ms:.0} ms, idle RSS {seeded_idle_rss_mib:.1} MiB"
    );
    let checked = check(
        &server.base,
        &setup,
        &clients,
        &plan,
        &probes,
        &revoked_token,
    )
    .await;
    server.stop();
    checked.context("the seeded store does not work through the server")?;
    eprintln!("[{name}] seeded rows checked through the server");

    crate::run_phases(args, &setup, clients, &mut result).await?;
    Ok(ScaleStep {
        multiple,
        plan,
        seed_seconds,
        rows,
        disk_mib,
        seeded_start_ms,
        seeded_cache_filled_ms,
        seeded_idle_rss_mib,
        result,
    })
}

/// Seeded refresh tokens whose plaintext the check knows.
struct Probes {
    /// A live grant's.
    live: (u64, String),
    /// A revoked grant's.
    revoked: (u64, String),
    /// An expired grant's.
    expired: (u64, String),
}

impl Probes {
    fn new(plan: &Plan) -> Self {
        let token = |n: u64| (n, format!("lk_rt_scale-probe-{n}-{}", plan.users));
        // Grant 7 is neither expired nor revoked, 11 is revoked, 10 has expired (see seed.rs).
        debug_assert!(!seed::grant_expired(7) && !seed::grant_revoked(plan, 7));
        debug_assert!(seed::grant_revoked(plan, 11) && seed::grant_expired(10));
        Self {
            live: token(7),
            revoked: token(11),
            expired: token(10),
        }
    }

    fn all(&self) -> [(u64, String); 3] {
        [
            self.live.clone(),
            self.revoked.clone(),
            self.expired.clone(),
        ]
    }
}

/// Through the server: a seeded user signs in and completes code flows with a seeded client; a
/// seeded refresh token refreshes and the revoked and expired ones do not; the access token seeded
/// as revoked introspects inactive; `latchkey user show` finds a seeded user and their role.
async fn check(
    base: &str,
    setup: &Setup,
    clients: &Clients,
    plan: &Plan,
    probes: &Probes,
    revoked_token: &str,
) -> Result<()> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()?;
    let user = plan.users / 2 + 1;
    if !phases::sign_in(&http, base, &seed::username(user), PASSWORD).await {
        bail!("seeded user {} cannot sign in", seed::username(user));
    }
    let seeded_client = Credentials {
        id: seed::client_id(plan.clients),
        secret: clients.web.secret.clone(),
    };
    let shape = Shape {
        workers: 1,
        warmup: Duration::ZERO,
        duration: Duration::from_millis(300),
    };
    let flows = phases::code_flows(
        base,
        &seeded_client,
        REDIRECT_URI,
        &seed::username(plan.users),
        PASSWORD,
        shape,
    )
    .await?;
    if flows.ok == 0 || flows.failed > 0 {
        bail!(
            "code flows of a seeded user with a seeded client: {} ok, {} failed",
            flows.ok,
            flows.failed
        );
    }

    let refresh = |(n, token): &(u64, String)| {
        let (_, client) = seed::grant_owner(plan, *n);
        http.post(format!("{base}/token"))
            .basic_auth(seed::client_id(client), Some(&clients.web.secret))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", token)])
            .send()
    };
    let live = refresh(&probes.live).await?;
    let status = live.status();
    let body: serde_json::Value = live.json().await?;
    let subject = body["access_token"]
        .as_str()
        .map(protection::claims)
        .transpose()?
        .map(|claims| claims["sub"].clone());
    let (owner, _) = seed::grant_owner(plan, probes.live.0);
    if !status.is_success() || subject != Some(seed::user_id(owner).into()) {
        bail!("a seeded refresh token did not refresh for its user: {status} {body}");
    }
    for (what, probe) in [("revoked", &probes.revoked), ("expired", &probes.expired)] {
        let response = refresh(probe).await?;
        let status = response.status();
        let body: serde_json::Value = response.json().await?;
        if body["error"] != "invalid_grant" {
            bail!("a seeded {what} grant's refresh token was not refused: {status} {body}");
        }
    }

    let introspect = |token: String| {
        http.post(format!("{base}/introspect"))
            .basic_auth(&clients.gateway.id, Some(&clients.gateway.secret))
            .form(&[("token", token)])
            .send()
    };
    let fresh = phases::one_token(base, &clients.service).await?;
    let active = introspect(fresh).await?.json::<serde_json::Value>().await?;
    let revoked = introspect(revoked_token.to_owned())
        .await?
        .json::<serde_json::Value>()
        .await?;
    if active["active"] != true || revoked["active"] != false {
        bail!("introspection: a fresh token {active}, the one seeded as revoked {revoked}");
    }

    let shown = setup.cli(&["user", "show", &seed::username(user)], None)?;
    let text = shown.to_string();
    if !text.contains(&seed::user_id(user)) || !text.contains("scale-role-") {
        bail!("`latchkey user show` on a seeded user: {shown}");
    }
    Ok(())
}
