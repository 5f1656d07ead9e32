//! `--versus-node`: node-oidc-provider (`bench/node/provider.mjs`, one Node process) beside Latchkey in
//! one run, with the same load generator, connections and seconds: `client_credentials` RS256 JWTs
//! and introspection, each node phase measured just before the Latchkey phase it is set against, on
//! every backend the run has; the ratios Latchkey / node against the issue's targets, with both
//! servers' memory (`versus-node.md`, `versus-node.json`).

mod provider;
mod report;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use self::provider::{NodeProvider, versions};
use self::report::{NodeInfo, Pairing, Sample, VersusNode, compare, markdown};
use crate::load::{Measured, run as load};
use crate::phases::{self, Credentials, Shape};
use crate::report::BackendResult;
use crate::server::{self, Server};

/// provider.mjs's resource server whose `client_credentials` tokens are RS256 JWTs.
const JWT_API: &str = "https://jwt.bench.example";
/// provider.mjs's resource server whose tokens are opaque, kept in the provider's store.
const OPAQUE_API: &str = "https://opaque.bench.example";
/// The scope node's token requests ask for (Latchkey's service client gets it without asking).
const SCOPE: &str = "orders:read";
/// Clock ticks per second in `/proc/PID/stat` (the kernel's USER_HZ, 100 on Linux).
const USER_HZ: f64 = 100.0;

/// User plus system CPU seconds of all threads, from the text of `/proc/PID/stat`.
fn cpu_seconds(stat: &str) -> Option<f64> {
    // The command name (field 2) may hold spaces: count from the ')' that closes it, after which
    // the state is field 3, so utime (14) and stime (15) are the 12th and 13th.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: f64 = fields.next()?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// Process `pid`'s CPU seconds so far, if its `/proc` entry can be read.
fn process_cpu_seconds(pid: u32) -> Option<f64> {
    cpu_seconds(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Run `phase` and read process `pid`'s CPU time either side of it.
async fn sample(pid: u32, phase: impl Future<Output = Result<Measured>>) -> Result<Sample> {
    let (before, began) = (process_cpu_seconds(pid), Instant::now());
    let measured = phase.await?;
    let cpu_cores = match (before, process_cpu_seconds(pid)) {
        (Some(a), Some(b)) => (b - a) / began.elapsed().as_secs_f64(),
        _ => f64::NAN,
    };
    Ok(Sample {
        measured,
        cpu_cores,
    })
}

/// node's `client_credentials` request body: the scope, and the resource whose tokens it wants.
fn node_token_form(resource: &str) -> [(&'static str, &str); 3] {
    [
        ("grant_type", "client_credentials"),
        ("scope", SCOPE),
        ("resource", resource),
    ]
}

/// One node-oidc-provider `client_credentials` token for `resource`.
async fn node_token(http: &reqwest::Client, node: &NodeProvider, resource: &str) -> Result<String> {
    let response = http
        .post(format!("{}/token", node.base))
        .basic_auth(&node.service.id, Some(&node.service.secret))
        .form(&node_token_form(resource))
        .send()
        .await?;
    let status = response.status();
    let body: serde_json::Value = response.json().await?;
    body["access_token"]
        .as_str()
        .filter(|_| status.is_success())
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("node-oidc-provider refused a token: {status} {body}"))
}

/// node-oidc-provider's `client_credentials` for `JWT_API` (RS256 JWTs), closed loop; a non-2xx
/// answer counts as failed, as in Latchkey's phase.
async fn node_client_credentials(node: &NodeProvider, shape: Shape) -> Result<Measured> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;
    let url = Arc::new(format!("{}/token", node.base));
    let service = Arc::new(node.service.clone());
    Ok(load(
        shape.workers,
        shape.warmup,
        shape.duration,
        None,
        move |_| {
            let (http, url, service) = (http.clone(), Arc::clone(&url), Arc::clone(&service));
            async move {
                match http
                    .post(url.as_str())
                    .basic_auth(&service.id, Some(&service.secret))
                    .form(&node_token_form(JWT_API))
                    .send()
                    .await
                {
                    Ok(response) => {
                        response.status().is_success() && response.bytes().await.is_ok()
                    }
                    Err(_) => false,
                }
            }
        },
    )
    .await)
}

/// A JWT's header and claims.
fn jwt_parts(token: &str) -> Result<(serde_json::Value, serde_json::Value)> {
    let part = |n: usize| -> Result<serde_json::Value> {
        let encoded = token
            .split('.')
            .nth(n)
            .ok_or_else(|| anyhow!("not a JWT: {token}"))?;
        Ok(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(encoded)?)?)
    };
    Ok((part(0)?, part(1)?))
}

/// Check that `token` is a JWT signed RS256, so both servers are measured signing alike.
fn expect_rs256(server: &str, token: &str) -> Result<()> {
    let (header, claims) = jwt_parts(token)?;
    if header["alg"] != "RS256" {
        bail!("{server}'s access token is not signed RS256: {header} {claims}");
    }
    Ok(())
}

/// `POST /introspect` of `token` as `caller`: the status and the body.
async fn introspect(
    http: &reqwest::Client,
    base: &str,
    caller: &Credentials,
    token: &str,
) -> Result<(u16, serde_json::Value)> {
    let response = http
        .post(format!("{base}/introspect"))
        .basic_auth(&caller.id, Some(&caller.secret))
        .form(&[("token", token)])
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or_default()))
}

/// Whether an introspection answer says active, and what it says in a few words.
fn introspection_answer(status: u16, body: &serde_json::Value) -> (bool, String) {
    let active = status == 200 && body["active"] == true;
    let words = match (body["error"].as_str(), body["error_description"].as_str()) {
        (Some(error), Some(description)) => format!("{status} {error}: {description}"),
        (Some(error), None) => format!("{status} {error}"),
        _ => format!("{status} active: {}", body["active"]),
    };
    (active, words)
}

/// Fail unless introspection at `base` calls `token` active: the measurement must not count errors.
async fn expect_active(
    http: &reqwest::Client,
    server: &str,
    base: &str,
    caller: &Credentials,
    token: &str,
) -> Result<()> {
    let (status, body) = introspect(http, base, caller, token).await?;
    match introspection_answer(status, &body) {
        (true, _) => Ok(()),
        (false, words) => bail!("{server} does not introspect its own token as active: {words}"),
    }
}

/// `--versus-node`: start node-oidc-provider once, then on each backend measure node's phase and
/// Latchkey's in turn; write `versus-node.md` and `versus-node.json` in `--out`.
pub async fn run(args: &crate::Args) -> Result<()> {
    let script = std::fs::canonicalize(&args.node_provider).with_context(|| {
        format!(
            "{} not found (the comparison's node-oidc-provider)",
            args.node_provider.display()
        )
    })?;
    let (node_version, oidc_provider_version) = versions(&script)?;
    let shape = Shape {
        workers: args.workers,
        warmup: Duration::from_secs(args.warmup),
        duration: Duration::from_secs(args.seconds),
    };
    let node = NodeProvider::start(&script).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut info = NodeInfo {
        node_version,
        oidc_provider_version,
        start_to_ready_ms: node.start_to_ready.as_secs_f64() * 1000.0,
        idle_rss_mib: server::status_mib(node.pid(), "VmRSS:"),
        ..NodeInfo::default()
    };
    eprintln!(
        "[node] oidc-provider {} on Node.js {}: ready in {:.0} ms, idle RSS {:.1} MiB",
        info.oidc_provider_version, info.node_version, info.start_to_ready_ms, info.idle_rss_mib
    );

    let http = reqwest::Client::new();
    let jwt = node_token(&http, &node, JWT_API).await?;
    expect_rs256("node-oidc-provider", &jwt)?;
    let (status, body) = introspect(&http, &node.base, &node.gateway, &jwt).await?;
    let (jwt_active, words) = introspection_answer(status, &body);
    eprintln!("[node] introspection of its JWT access token: {words}");
    info.jwt_introspection_answer = words;
    info.introspected_token = if jwt_active { "jwt" } else { "opaque" }.into();

    let mut backends = vec![("sqlite", None)];
    if let Some(url) = args.postgres_url.as_deref() {
        backends.push(("postgres", Some(url)));
    }
    let mut pairings = Vec::new();
    for (name, url) in backends {
        pairings.push(
            pair_backend(args, &node, jwt_active, name, url, shape)
                .await
                .with_context(|| format!("{name} against node-oidc-provider"))?,
        );
    }
    info.peak_rss_mib = server::status_mib(node.pid(), "VmHWM:");
    node.stop();

    let result = VersusNode {
        machine: crate::report::machine(),
        workers: args.workers,
        seconds: args.seconds,
        warmup: args.warmup,
        node: info,
        backends: pairings,
    };
    let markdown = markdown(&result);
    println!("{markdown}");
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(args.out.join("versus-node.md"), &markdown)?;
    std::fs::write(
        args.out.join("versus-node.json"),
        serde_json::to_string_pretty(&result)?,
    )?;
    eprintln!(
        "wrote {0}/versus-node.md and {0}/versus-node.json",
        args.out.display()
    );
    Ok(())
}

/// One backend: a fresh Latchkey store and server; node's `client_credentials`, Latchkey's, node's
/// introspection, Latchkey's, and Latchkey's reference-token introspection, in that order, each
/// token checked (RS256, introspected active) before its phase.
async fn pair_backend(
    args: &crate::Args,
    node: &NodeProvider,
    jwt_active: bool,
    name: &str,
    postgres_url: Option<&str>,
    shape: Shape,
) -> Result<Pairing> {
    let dir = tempfile::tempdir()?;
    let mut first = BackendResult::new(name);
    let (setup, clients) = crate::prepare(args, dir.path(), postgres_url, &mut first).await?;
    let latchkey = Server::start(&setup, &[]).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = latchkey.rss_mib();
    let http = reqwest::Client::new();
    let (mut on_node, mut on_latchkey) = (BTreeMap::new(), BTreeMap::new());
    let log = |server: &str, key: &str, s: &Sample| {
        eprintln!(
            "[{name}] {server} {key}: {:.0}/s p50 {:.2} ms p99 {:.2} ms ({} failed), {:.2} CPU cores",
            s.measured.per_second,
            s.measured.p50_ms,
            s.measured.p99_ms,
            s.measured.failed,
            s.cpu_cores
        );
    };

    let token = phases::one_token(&latchkey.base, &clients.service).await?;
    expect_rs256("Latchkey", &token)?;
    let s = sample(node.pid(), node_client_credentials(node, shape)).await?;
    log("node", "client_credentials", &s);
    on_node.insert("client_credentials".to_owned(), s);
    let s = sample(
        latchkey.pid(),
        phases::client_credentials(&latchkey.base, &clients.service, shape, None),
    )
    .await?;
    log("latchkey", "client_credentials_rs256", &s);
    on_latchkey.insert("client_credentials_rs256".to_owned(), s);

    let token = node_token(&http, node, if jwt_active { JWT_API } else { OPAQUE_API }).await?;
    expect_active(
        &http,
        "node-oidc-provider",
        &node.base,
        &node.gateway,
        &token,
    )
    .await?;
    let s = sample(
        node.pid(),
        phases::introspection(&node.base, &node.gateway, &token, shape),
    )
    .await?;
    log("node", "introspection", &s);
    on_node.insert("introspection".to_owned(), s);

    for (key, caller, resource_server) in [
        ("introspection", &clients.service, &clients.gateway),
        (
            "introspection_reference",
            &clients.opaque_service,
            &clients.opaque_api,
        ),
    ] {
        let token = phases::one_token(&latchkey.base, caller).await?;
        expect_active(&http, "Latchkey", &latchkey.base, resource_server, &token).await?;
        let s = sample(
            latchkey.pid(),
            phases::introspection(&latchkey.base, resource_server, &token, shape),
        )
        .await?;
        log("latchkey", key, &s);
        on_latchkey.insert(key.to_owned(), s);
    }
    let peak = latchkey.peak_rss_mib();
    latchkey.stop();
    Ok(Pairing {
        backend: name.to_owned(),
        latchkey_idle_rss_mib: idle,
        latchkey_peak_rss_mib: peak,
        comparisons: compare(&on_latchkey, &on_node),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_seconds_counts_user_and_system_time_after_the_command_name() {
        // A command name with a space and a parenthesis, as `comm` may be.
        let stat = "4242 (node (x) y) S 1 4242 4242 0 -1 4194304 9000 0 0 0 250 50 0 0 20 0 11 0";
        assert_eq!(cpu_seconds(stat), Some(3.0));
        assert_eq!(cpu_seconds("4242 (node) S 1"), None);
        assert_eq!(cpu_seconds("no parenthesis"), None);
    }

    #[test]
    fn introspection_answer_tells_active_from_refused() {
        let refused = serde_json::json!({
            "error": "unsupported_token_type",
            "error_description": "Structured JWT Tokens cannot be introspected via the introspection_endpoint"
        });
        let (active, words) = introspection_answer(400, &refused);
        assert!(!active);
        assert_eq!(
            words,
            "400 unsupported_token_type: Structured JWT Tokens cannot be introspected via the introspection_endpoint"
        );
        let (active, words) = introspection_answer(200, &serde_json::json!({"active": true}));
        assert!(active);
        assert_eq!(words, "200 active: true");
        let (active, _) = introspection_answer(200, &serde_json::json!({"active": false}));
        assert!(!active);
        // A body that says active under an error status is not taken for an answer.
        let (active, _) = introspection_answer(500, &serde_json::json!({"active": true}));
        assert!(!active);
    }

    #[test]
    fn expect_rs256_reads_the_header() {
        let token = |header: &str| {
            format!(
                "{}.{}.sig",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(r#"{"sub":"s"}"#)
            )
        };
        assert!(expect_rs256("x", &token(r#"{"alg":"RS256","typ":"at+jwt"}"#)).is_ok());
        assert!(expect_rs256("x", &token(r#"{"alg":"ES256"}"#)).is_err());
        assert!(expect_rs256("x", "opaque-token").is_err());
    }
}
