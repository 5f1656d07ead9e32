//! Latchkey's benchmark: starts the release binary on loopback on each backend, registers its own
//! clients and user, measures every phase with a fixed concurrency and bounded time, and reports
//! throughput as a fraction of the in-process ceilings measured in the same run.
//!
//! Run it with `bench/run.sh` (which builds the release binary and, when it can, a PostgreSQL).

mod ceiling;
mod cluster;
mod load;
mod phases;
mod profile;
mod protection;
mod register;
mod report;
mod scale;
mod scale_report;
mod seed;
mod server;
mod soak;
mod versus_node;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use clap::Parser;

use crate::load::Measured;
use crate::phases::{Credentials, Shape};
use crate::report::{BackendResult, Report};
use crate::server::{Server, Setup};
pub use register::{Clients, OPAQUE_API, RBAC_API, RBAC_ROLES, creds, register};

/// Benchmark a release build of Latchkey.
#[derive(Parser)]
struct Args {
    /// The `latchkey` release binary.
    #[arg(long, default_value = "target/release/latchkey")]
    binary: PathBuf,
    /// Also benchmark PostgreSQL at this server URL (a fresh database is created on it).
    #[arg(long, env = "LATCHKEY_BENCH_POSTGRES_URL")]
    postgres_url: Option<String>,
    /// Measured seconds per phase.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Warm-up seconds before each phase is measured.
    #[arg(long, default_value_t = 1)]
    warmup: u64,
    /// Concurrent connections per phase.
    #[arg(long, default_value_t = 32)]
    workers: usize,
    /// Concurrent sign-in workers in the password storm.
    #[arg(long, default_value_t = 8)]
    sign_in_workers: usize,
    /// Run only these phases (comma-separated keys as in the JSON: discovery, jwks,
    /// client_credentials_rs256, client_credentials_rs256_half_load, introspection,
    /// client_credentials_rbac_es256, introspection_reference, code_flows, sign_ins,
    /// client_credentials_es256, client_credentials_es256_dpop, client_credentials_es256_tls,
    /// client_credentials_es256_mtls, client_credentials_eddsa, client_credentials_rs256_audited).
    #[arg(long, value_delimiter = ',')]
    only: Option<Vec<String>>,
    /// Scale mode: at each `--scale-steps` multiple m, seed each backend's store with N·m users,
    /// N·m/10 clients, 10·N·m grants and refresh tokens, N·m revocations and sessions, roles and
    /// audit events, check it through the server, and run the phases; writes scale.md and scale.json.
    #[arg(long, value_name = "N")]
    scale: Option<u64>,
    /// The store sizes of the scale mode, as multiples of `--scale`.
    #[arg(long, value_delimiter = ',', default_value = "1,10,100")]
    scale_steps: Vec<u64>,
    /// In scale mode, the most users SQLite is seeded with: larger sizes run on PostgreSQL only.
    #[arg(long, value_name = "USERS")]
    scale_max_sqlite: Option<u64>,
    /// Where the Markdown and JSON results go.
    #[arg(long, default_value = "bench/results")]
    out: PathBuf,
    /// Record where the CPU goes during each phase (`perf record` of the whole machine) and
    /// summarise it in `profiles.md`: each process's share, and the server's hottest functions.
    #[arg(long)]
    profile: bool,
    /// Run only the soak, this long (`10m`, `90s`) on each backend: a paced mix with short lifetimes,
    /// row counts sampled (`soak.md`, `soak.json`).
    #[arg(long, value_parser = humantime::parse_duration)]
    soak: Option<Duration>,
    /// Between the soak's samples.
    #[arg(long, value_parser = humantime::parse_duration, default_value = "60s")]
    soak_sample: Duration,
    /// With 2: run only the two-instance measurements, two servers over one PostgreSQL
    /// (`instances.md`, `instances.json`; needs PostgreSQL).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=2))]
    instances: u8,
    /// Run only the comparison with node-oidc-provider (`--node-provider`, one Node process):
    /// client_credentials and introspection on it and on Latchkey, interleaved, on each backend
    /// (`versus-node.md`, `versus-node.json`; needs Node.js and `npm ci` in its folder).
    #[arg(long)]
    versus_node: bool,
    /// The node-oidc-provider script `--versus-node` runs with `node`.
    #[arg(long, default_value = "bench/node/provider.mjs")]
    node_provider: PathBuf,
}

const PASSWORD: &str = "bench password 0123456789";
const SECRET: &str = "benchmark-key-encryption-secret-0123456789";
const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";
/// A fresh database in `dir` (or on `postgres_url`), started once (schema and keys, timed into
/// `result.first_start_ms`) and registered.
async fn prepare(
    args: &Args,
    dir: &Path,
    postgres_url: Option<&str>,
    result: &mut BackendResult,
) -> Result<(Setup, Clients)> {
    let setup = Setup {
        binary: args.binary.clone(),
        database_url: server::fresh_database(dir, postgres_url).await?,
        dir: dir.to_path_buf(),
        secret: SECRET.to_owned(),
    };
    // First start creates the schema and keys; the measured start finds them present.
    let first = Server::start(&setup, &[]).await?;
    result.first_start_ms = first.start_to_ready.as_secs_f64() * 1000.0;
    first.stop();
    let clients = register(&setup)?;
    Ok((setup, clients))
}

async fn bench_backend(
    args: &Args,
    name: &str,
    postgres_url: Option<&str>,
) -> Result<BackendResult> {
    let dir = tempfile::tempdir()?;
    let mut result = BackendResult::new(name);
    let (setup, clients) = prepare(args, dir.path(), postgres_url, &mut result).await?;
    run_phases(args, &setup, clients, &mut result).await?;
    Ok(result)
}

/// Every phase `--only` asks for, each on a server started for it against `setup`'s store, into
/// `result` (with the first server's start → ready, its idle and every server's peak RSS).
async fn run_phases(
    args: &Args,
    setup: &Setup,
    clients: Clients,
    result: &mut BackendResult,
) -> Result<()> {
    let name = result.backend.clone();
    let dir = setup.dir.as_path();
    let shape = Shape {
        workers: args.workers,
        warmup: Duration::from_secs(args.warmup),
        duration: Duration::from_secs(args.seconds),
    };
    let Clients {
        service,
        gateway,
        web,
        rbac_service,
        opaque_service,
        opaque_api,
        mtls_service,
    } = clients;

    let server = Server::start(setup, &[]).await?;
    result.start_to_ready_ms = server.start_to_ready.as_secs_f64() * 1000.0;
    tokio::time::sleep(Duration::from_millis(500)).await;
    result.idle_rss_mib = server.rss_mib();
    eprintln!(
        "[{name}] ready in {:.1} ms, idle RSS {:.1} MiB",
        result.start_to_ready_ms, result.idle_rss_mib
    );

    let base = server.base.clone();
    // With --profile, a recording runs from one phase's end to the next one's: each phase's own.
    let profiler = profile::Profiler::new(args.profile, dir)?;
    let phase = |label: &str, measured: &Measured, server: &Server| {
        eprintln!(
            "[{name}] {label}: {:.0}/s p99 {:.2} ms ({} failed), RSS {:.1} MiB",
            measured.per_second,
            measured.p99_ms,
            measured.failed,
            server.rss_mib()
        );
        profiler.phase_done(label, server.pid());
    };
    let wanted = |key: &str| {
        args.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|k| k == key))
    };
    for (key, path) in [
        ("discovery", "/.well-known/openid-configuration"),
        ("jwks", "/jwks"),
    ] {
        if wanted(key) {
            let m = phases::get(&base, path, shape).await?;
            phase(key, &m, &server);
            result.phases.insert(key.into(), m);
        }
    }
    let mut max_rs256 = 0.0;
    if wanted("client_credentials_rs256") || wanted("client_credentials_rs256_half_load") {
        let m = phases::client_credentials(&base, &service, shape, None).await?;
        phase("client_credentials RS256", &m, &server);
        max_rs256 = m.per_second;
        result.phases.insert("client_credentials_rs256".into(), m);
    }

    // Latency at half the maximum load: paced, open loop.
    if max_rs256 > 0.0 && wanted("client_credentials_rs256_half_load") {
        let per_worker = Duration::from_secs_f64(shape.workers as f64 / (max_rs256 / 2.0));
        let m = phases::client_credentials(&base, &service, shape, Some(per_worker)).await?;
        phase("client_credentials RS256 at half load", &m, &server);
        result
            .phases
            .insert("client_credentials_rs256_half_load".into(), m);
    }

    if wanted("introspection") {
        let token = phases::one_token(&base, &service).await?;
        let m = phases::introspection(&base, &gateway, &token, shape).await?;
        phase("introspection", &m, &server);
        result.phases.insert("introspection".into(), m);
    }
    if wanted("client_credentials_rbac_es256") {
        let token = phases::one_token(&base, &rbac_service).await?;
        phases::expect_claims(&token, RBAC_API, RBAC_ROLES)?;
        let m = phases::client_credentials(&base, &rbac_service, shape, None).await?;
        phase("client_credentials, 5 roles, --rbac ES256 API", &m, &server);
        result
            .phases
            .insert("client_credentials_rbac_es256".into(), m);
    }
    if wanted("introspection_reference") {
        let token = phases::one_token(&base, &opaque_service).await?;
        if !token.starts_with("lk_at_") {
            return Err(anyhow!("{OPAQUE_API}'s token is not a reference token"));
        }
        let m = phases::introspection(&base, &opaque_api, &token, shape).await?;
        phase("reference-token introspection", &m, &server);
        result.phases.insert("introspection_reference".into(), m);
    }
    if wanted("code_flows") {
        let m = phases::code_flows(&base, &web, REDIRECT_URI, "bench", PASSWORD, shape).await?;
        phase("authorization-code flows", &m, &server);
        result.phases.insert("code_flows".into(), m);
    }
    if wanted("sign_ins") {
        sign_in_storm(args, &base, &service, shape, result, &phase, &server).await?;
    }
    result.peak_rss_mib = server.peak_rss_mib();
    server.stop();

    for (alg, key) in [
        ("ES256", "client_credentials_es256"),
        ("EdDSA", "client_credentials_eddsa"),
    ] {
        let dpop = alg == "ES256" && wanted("client_credentials_es256_dpop");
        if !wanted(key) && !dpop {
            continue;
        }
        let server = Server::start(setup, &[("LATCHKEY_ACCESS_TOKEN_ALG", alg)]).await?;
        if wanted(key) {
            let m = phases::client_credentials(&server.base, &service, shape, None).await?;
            phase(&format!("client_credentials {alg}"), &m, &server);
            result.phases.insert(key.into(), m);
        }
        if dpop {
            let m = dpop_phase(&server.base, &service, shape).await?;
            phase("client_credentials ES256 with a DPoP proof", &m, &server);
            result
                .phases
                .insert("client_credentials_es256_dpop".into(), m);
        }
        result.peak_rss_mib = result.peak_rss_mib.max(server.peak_rss_mib());
        server.stop();
    }
    if wanted("client_credentials_es256_tls") || wanted("client_credentials_es256_mtls") {
        let pki = protection::Pki::create(dir)?;
        let server =
            Server::start_https(setup, &[("LATCHKEY_ACCESS_TOKEN_ALG", "ES256")], &pki).await?;
        if wanted("client_credentials_es256_tls") {
            let caller = phases::Caller::basic(&service);
            let m = phases::token_requests(pki.client(false)?, &server.base, &caller, shape, None)
                .await?;
            phase("client_credentials ES256 over TLS", &m, &server);
            result
                .phases
                .insert("client_credentials_es256_tls".into(), m);
        }
        if wanted("client_credentials_es256_mtls") {
            let caller = phases::Caller {
                client_id: mtls_service,
                secret: None,
                dpop: None,
            };
            let http = pki.client(true)?;
            let body = phases::one_token_response(&http, &server.base, &caller).await?;
            let token = body["access_token"].as_str().unwrap_or_default();
            if protection::claims(token)?["cnf"]["x5t#S256"]
                .as_str()
                .is_none()
            {
                return Err(anyhow!("the mutual-TLS token is not certificate-bound"));
            }
            let m = phases::token_requests(http, &server.base, &caller, shape, None).await?;
            phase(
                "client_credentials ES256, tls_client_auth, certificate-bound",
                &m,
                &server,
            );
            result
                .phases
                .insert("client_credentials_es256_mtls".into(), m);
        }
        result.peak_rss_mib = result.peak_rss_mib.max(server.peak_rss_mib());
        server.stop();
    }
    // The cost of auditing every token: the events go to the database in batches, off the request path.
    if wanted("client_credentials_rs256_audited") {
        let server = Server::start(setup, &[("LATCHKEY_AUDIT_TOKEN_ISSUANCE", "true")]).await?;
        let m = phases::client_credentials(&server.base, &service, shape, None).await?;
        phase("client_credentials RS256, every token audited", &m, &server);
        result
            .phases
            .insert("client_credentials_rs256_audited".into(), m);
        result.peak_rss_mib = result.peak_rss_mib.max(server.peak_rss_mib());
        server.stop();
    }
    result.profiles = profiler.finish();
    Ok(())
}

/// DPoP-bound `client_credentials` tokens: a fresh proof signed by the client with every request, its
/// `jti` recorded by the server (RFC 9449 §11.1). The first token is checked to be DPoP-bound.
async fn dpop_phase(base: &str, service: &Credentials, shape: Shape) -> Result<Measured> {
    let caller = phases::Caller {
        dpop: Some(std::sync::Arc::new(protection::DpopKey::generate()?)),
        ..phases::Caller::basic(service)
    };
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let body = phases::one_token_response(&http, base, &caller).await?;
    let token = body["access_token"].as_str().unwrap_or_default();
    if body["token_type"] != "DPoP" || protection::claims(token)?["cnf"]["jkt"].as_str().is_none() {
        return Err(anyhow!(
            "the DPoP token is not bound to the proof's key: {body}"
        ));
    }
    phases::token_requests(http, base, &caller, shape, None).await
}

/// The sign-in storm, with a paced token probe (200 requests/s) measuring the token endpoint meanwhile.
async fn sign_in_storm(
    args: &Args,
    base: &str,
    service: &Credentials,
    shape: Shape,
    result: &mut BackendResult,
    phase: &impl Fn(&str, &Measured, &Server),
    server: &Server,
) -> Result<()> {
    let storm_shape = Shape {
        workers: args.sign_in_workers,
        ..shape
    };
    let probe_shape = Shape {
        workers: 4,
        ..shape
    };
    let (storm, probe) = tokio::join!(
        phases::sign_ins(base, "bench", PASSWORD, storm_shape),
        phases::client_credentials(base, service, probe_shape, Some(Duration::from_millis(20))),
    );
    let (storm, probe) = (storm?, probe?);
    phase("password sign-ins", &storm, server);
    phase("token probe during the storm", &probe, server);
    result.phases.insert("sign_ins".into(), storm);
    result
        .phases
        .insert("token_during_sign_in_storm".into(), probe);
    Ok(())
}

fn main() -> Result<()> {
    // reqwest's rustls has no crypto provider of its own here (see Cargo.toml): use aws-lc-rs,
    // Latchkey's, as the process default.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut args = Args::parse();
    // The server runs in a temporary directory, so the binary's path must not be relative.
    args.binary = std::fs::canonicalize(&args.binary).map_err(|_| {
        anyhow!(
            "{} not found: build it with `cargo build --release`",
            args.binary.display()
        )
    })?;
    if let Some(users) = args.scale {
        return scale::run(&args, users);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    if let Some(duration) = args.soak {
        return runtime.block_on(soak::run_all(&args, duration, args.soak_sample));
    }
    if args.instances == 2 {
        return runtime.block_on(cluster::run(&args));
    }
    if args.versus_node {
        return runtime.block_on(versus_node::run(&args));
    }
    eprintln!("measuring in-process ceilings…");
    let ceilings = ceiling::measure();
    let mut backends = vec![
        runtime
            .block_on(bench_backend(&args, "sqlite", None))
            .context("SQLite run")?,
    ];
    if let Some(url) = &args.postgres_url {
        backends.push(
            runtime
                .block_on(bench_backend(&args, "postgres", Some(url)))
                .context("PostgreSQL run")?,
        );
    }
    let report = Report::new(ceilings, backends, args.workers, args.seconds);
    let markdown = report.markdown();
    println!("{markdown}");
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("latest.md"), &markdown)?;
    std::fs::write(
        args.out.join("latest.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    eprintln!(
        "wrote {0}/latest.md and {0}/latest.json",
        args.out.display()
    );
    if args.profile {
        let profiles: Vec<_> = report
            .backends
            .iter()
            .flat_map(|b| b.profiles.iter().map(|p| (b.backend.clone(), p.clone())))
            .collect();
        std::fs::write(
            args.out.join("profiles.md"),
            profile::markdown(&report.machine, &profiles),
        )?;
        eprintln!("wrote {}/profiles.md", args.out.display());
    }
    Ok(())
}
