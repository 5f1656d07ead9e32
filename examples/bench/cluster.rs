//! Two instances over one PostgreSQL (`--instances 2`): the combined `client_credentials` and
//! introspection throughput of two servers sharing a database and an issuer, beside one server's in
//! the same run, and how long a revocation made at one instance takes to be seen at the other.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};

use crate::load::Measured;
use crate::phases::{self, Credentials, Shape};
use crate::server::Server;

/// Revocations timed per kind.
const ACCESS_TOKEN_ROUNDS: usize = 50;
/// Grant revocations timed (each one code flow first).
const GRANT_ROUNDS: usize = 20;
/// A revocation not seen at the other instance by then counts as failed (the contract is 1 s).
const GIVE_UP: Duration = Duration::from_secs(5);

/// How long revocations took to reach the other instance, ms.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Propagation {
    /// Revocations seen at the other instance.
    pub seen: usize,
    /// Not seen within 5 s.
    pub failed: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Worst.
    pub max_ms: f64,
    /// Introspections at the other instance per revocation, on average (one is the least).
    pub mean_polls: f64,
}

impl Propagation {
    fn of(mut ms: Vec<f64>, failed: usize, polls: usize) -> Self {
        ms.sort_by(f64::total_cmp);
        let rank = |p: f64| crate::load::nearest_rank(&ms, p).unwrap_or(0.0);
        Self {
            seen: ms.len(),
            failed,
            p50_ms: rank(50.0),
            p99_ms: rank(99.0),
            max_ms: ms.last().copied().unwrap_or(0.0),
            mean_polls: polls as f64 / (ms.len() + failed).max(1) as f64,
        }
    }
}

/// The whole measurement.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ClusterResult {
    /// Connections per phase (split between the instances when there are two).
    pub workers: usize,
    /// Measured seconds per phase.
    pub seconds: u64,
    /// `client_credentials` and `introspection`, one instance with every worker.
    pub one_instance: BTreeMap<String, Measured>,
    /// The same on two instances at once, each with half the workers: `…_a`, `…_b` and the sum
    /// (`…`, whose percentiles are the slower instance's).
    pub two_instances: BTreeMap<String, Measured>,
    /// `access_token` (`/revoke` of a client-credentials token at A) and `grant` (`/revoke` of a
    /// code flow's refresh token at A, its access token watched): until introspection at B says
    /// inactive.
    pub revocation: BTreeMap<String, Propagation>,
}

/// Two instances' results as one: throughputs and counts summed, percentiles the worse of the two.
fn combined(a: &Measured, b: &Measured) -> Measured {
    Measured {
        ok: a.ok + b.ok,
        failed: a.failed + b.failed,
        seconds: a.seconds,
        per_second: a.per_second + b.per_second,
        p50_ms: a.p50_ms.max(b.p50_ms),
        p90_ms: a.p90_ms.max(b.p90_ms),
        p99_ms: a.p99_ms.max(b.p99_ms),
        max_ms: a.max_ms.max(b.max_ms),
    }
}

/// Whether introspection at `base` calls `token` active.
async fn active(
    http: &reqwest::Client,
    base: &str,
    gateway: &Credentials,
    token: &str,
) -> Result<bool> {
    let body: serde_json::Value = http
        .post(format!("{base}/introspect"))
        .basic_auth(&gateway.id, Some(&gateway.secret))
        .form(&[("token", token)])
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    body["active"]
        .as_bool()
        .ok_or_else(|| anyhow!("no active in {body}"))
}

/// Revoke `revoked` at `a` as `owner`, then introspect `watched` at `b` back to back until it is
/// inactive: the time from `/revoke`'s answer to the first inactive answer, and the polls it took.
async fn propagate(
    http: &reqwest::Client,
    (a, b): (&str, &str),
    owner: &Credentials,
    gateway: &Credentials,
    (revoked, watched): (&str, &str),
) -> Result<(Option<f64>, usize)> {
    if !active(http, b, gateway, watched).await? {
        return Err(anyhow!("a fresh token is not active at the other instance"));
    }
    http.post(format!("{a}/revoke"))
        .basic_auth(&owner.id, Some(&owner.secret))
        .form(&[("token", revoked)])
        .send()
        .await?
        .error_for_status()?;
    let revoked_at = Instant::now();
    let mut polls = 0;
    while revoked_at.elapsed() < GIVE_UP {
        polls += 1;
        if !active(http, b, gateway, watched).await? {
            return Ok((Some(revoked_at.elapsed().as_secs_f64() * 1000.0), polls));
        }
    }
    Ok((None, polls))
}

/// `--instances 2`: on PostgreSQL only (two processes over one SQLite file is not a deployment
/// Latchkey offers); `instances.md` and `instances.json` in `--out`.
pub async fn run(args: &crate::Args) -> Result<()> {
    let url = args
        .postgres_url
        .as_deref()
        .ok_or_else(|| anyhow!("--instances 2 needs PostgreSQL (--postgres-url)"))?;
    let dir = tempfile::tempdir()?;
    let (setup, clients, web) = crate::soak::prepare(args, dir.path(), Some(url)).await?;
    let a = Server::start(&setup, &[]).await?;
    // The same issuer, so that each instance accepts the other's tokens.
    let b = Server::start(&setup, &[("LATCHKEY_ISSUER", a.base.as_str())]).await?;
    let shape = Shape {
        workers: args.workers,
        warmup: Duration::from_secs(args.warmup),
        duration: Duration::from_secs(args.seconds),
    };
    let half = Shape {
        workers: (args.workers / 2).max(1),
        ..shape
    };
    let (mut one, mut two) = (BTreeMap::new(), BTreeMap::new());

    let m = phases::client_credentials(&a.base, &clients.service, shape, None).await?;
    eprintln!("[one instance] client_credentials {:.0}/s", m.per_second);
    one.insert("client_credentials".to_owned(), m);
    let (ma, mb) = tokio::join!(
        phases::client_credentials(&a.base, &clients.service, half, None),
        phases::client_credentials(&b.base, &clients.service, half, None),
    );
    let (ma, mb) = (ma?, mb?);
    eprintln!(
        "[two instances] client_credentials {:.0}/s + {:.0}/s",
        ma.per_second, mb.per_second
    );
    two.insert("client_credentials".to_owned(), combined(&ma, &mb));
    two.insert("client_credentials_a".to_owned(), ma);
    two.insert("client_credentials_b".to_owned(), mb);

    let token = phases::one_token(&a.base, &clients.service).await?;
    let m = phases::introspection(&a.base, &clients.gateway, &token, shape).await?;
    eprintln!("[one instance] introspection {:.0}/s", m.per_second);
    one.insert("introspection".to_owned(), m);
    let (ma, mb) = tokio::join!(
        phases::introspection(&a.base, &clients.gateway, &token, half),
        phases::introspection(&b.base, &clients.gateway, &token, half),
    );
    let (ma, mb) = (ma?, mb?);
    eprintln!(
        "[two instances] introspection {:.0}/s + {:.0}/s",
        ma.per_second, mb.per_second
    );
    two.insert("introspection".to_owned(), combined(&ma, &mb));
    two.insert("introspection_a".to_owned(), ma);
    two.insert("introspection_b".to_owned(), mb);

    let http = reqwest::Client::new();
    let pair = (a.base.as_str(), b.base.as_str());
    let (mut ms, mut failed, mut polls) = (Vec::new(), 0, 0);
    for _ in 0..ACCESS_TOKEN_ROUNDS {
        let token = phases::one_token(&a.base, &clients.service).await?;
        let (took, n) = propagate(
            &http,
            pair,
            &clients.service,
            &clients.gateway,
            (&token, &token),
        )
        .await?;
        polls += n;
        took.map_or_else(|| failed += 1, |t| ms.push(t));
    }
    let mut revocation = BTreeMap::new();
    revocation.insert(
        "access_token".to_owned(),
        Propagation::of(ms, failed, polls),
    );

    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()?;
    if !phases::sign_in(&browser, &a.base, "bench", crate::PASSWORD).await {
        return Err(anyhow!("could not sign the benchmark user in"));
    }
    let (mut ms, mut failed, mut polls) = (Vec::new(), 0, 0);
    for _ in 0..GRANT_ROUNDS {
        let body =
            crate::soak::code_flow(&browser, &a.base, &web, crate::REDIRECT_URI, "openid").await?;
        let (Some(refresh), Some(access)) = (
            body["refresh_token"].as_str(),
            body["access_token"].as_str(),
        ) else {
            return Err(anyhow!("the code flow gave no refresh token: {body}"));
        };
        let (took, n) = propagate(&http, pair, &web, &clients.gateway, (refresh, access)).await?;
        polls += n;
        took.map_or_else(|| failed += 1, |t| ms.push(t));
    }
    revocation.insert("grant".to_owned(), Propagation::of(ms, failed, polls));
    a.stop();
    b.stop();

    let result = ClusterResult {
        workers: args.workers,
        seconds: args.seconds,
        one_instance: one,
        two_instances: two,
        revocation,
    };
    let markdown = markdown(&result);
    println!("{markdown}");
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("instances.md"), &markdown)?;
    std::fs::write(
        args.out.join("instances.json"),
        serde_json::to_string_pretty(&result)?,
    )?;
    eprintln!(
        "wrote {0}/instances.md and {0}/instances.json",
        args.out.display()
    );
    Ok(())
}

fn markdown(result: &ClusterResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Two instances over one PostgreSQL\n\n{} connections, {} s measured per phase; on two \
         instances each has half the connections, and the p99 is the slower instance's.\n\n\
         | phase | instances | ops/s | p50 ms | p99 ms | of one instance |\n|---|---|---:|---:|---:|---:|",
        result.workers, result.seconds
    );
    for key in ["client_credentials", "introspection"] {
        let Some(one) = result.one_instance.get(key) else {
            continue;
        };
        let _ = writeln!(
            out,
            "| {key} | one | {:.0} | {:.2} | {:.2} | — |",
            one.per_second, one.p50_ms, one.p99_ms
        );
        for (suffix, label) in [("_a", "A"), ("_b", "B"), ("", "A + B")] {
            if let Some(m) = result.two_instances.get(&format!("{key}{suffix}")) {
                let failed = m.failed_note();
                let _ = writeln!(
                    out,
                    "| {key} | {label}{failed} | {:.0} | {:.2} | {:.2} | {:.0}% |",
                    m.per_second,
                    m.p50_ms,
                    m.p99_ms,
                    100.0 * m.per_second / one.per_second
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "\nRevocation at A, seen by introspection at B: from `/revoke`'s answer at A to the first \
         `active: false` at B, introspecting back to back (the contract is 1 s).\n\n\
         | revoked | rounds | p50 ms | p99 ms | max ms | not seen in 5 s | introspections per round |\n\
         |---|---:|---:|---:|---:|---:|---:|"
    );
    for (key, label) in [
        ("access_token", "an access token (its `jti`)"),
        (
            "grant",
            "a refresh token (the whole grant; its access token watched)",
        ),
    ] {
        if let Some(p) = result.revocation.get(key) {
            let _ = writeln!(
                out,
                "| {label} | {} | {:.2} | {:.2} | {:.2} | {} | {:.1} |",
                p.seen + p.failed,
                p.p50_ms,
                p.p99_ms,
                p.max_ms,
                p.failed,
                p.mean_polls
            );
        }
    }
    out
}
