//! The microservices demo: an API gateway with a BFF, and Services A–D, all secured by a running
//! Latchkey. See `examples/microservices/README.md`.
//!
//! ```sh
//! cargo run --example microservices -- --write-pki     # the demo's CA and certificates, in ./pki
//! cargo run --example microservices -- --issuer https://127.0.0.1:8443
//! ```

mod demo;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use latchkey::clock::{Clock, SystemClock};
use secrecy::SecretString;

/// Every flag is also an environment variable; `register.sh` writes the `DEMO_*` ones to `demo.env`.
#[derive(Debug, Parser)]
#[command(about = "A gateway, a BFF and four services secured by Latchkey")]
struct Args {
    /// Latchkey's issuer, exactly as it is configured; everything else is discovered from it.
    #[arg(long, env = "DEMO_ISSUER", default_value = "https://127.0.0.1:8443")]
    issuer: String,
    /// The demo's CA and certificates (PEM): Latchkey's server certificate, Service A's client
    /// certificate, Service D's server certificate. Made here when the directory has none.
    #[arg(long, env = "DEMO_PKI_DIR", default_value = "pki")]
    pki_dir: PathBuf,
    /// Only make the certificates in --pki-dir (if it has none yet) and exit: Latchkey is started
    /// with them before the demo.
    #[arg(long)]
    write_pki: bool,
    /// Service A's API (its audience), as registered with `latchkey api create`.
    #[arg(
        long,
        env = "DEMO_SERVICE_A_AUDIENCE",
        default_value = "https://shop.demo.example"
    )]
    service_a_audience: String,
    /// Service B's API.
    #[arg(
        long,
        env = "DEMO_SERVICE_B_AUDIENCE",
        default_value = "https://orders.demo.example"
    )]
    service_b_audience: String,
    /// Service C's API (created with --token-format opaque).
    #[arg(
        long,
        env = "DEMO_SERVICE_C_AUDIENCE",
        default_value = "https://reports.demo.example"
    )]
    service_c_audience: String,
    /// Service D's API.
    #[arg(
        long,
        env = "DEMO_SERVICE_D_AUDIENCE",
        default_value = "https://inventory.demo.example"
    )]
    service_d_audience: String,
    /// Where the gateway listens. Its URL is registered with Latchkey (redirect and post-logout URIs).
    #[arg(long, env = "DEMO_GATEWAY_BIND", default_value = "127.0.0.1:8000")]
    gateway_bind: SocketAddr,
    /// The gateway's public base URL, if it is not `http://` + --gateway-bind.
    #[arg(long, env = "DEMO_GATEWAY_URL")]
    gateway_url: Option<String>,
    /// The scope the BFF asks for when a user signs in (for the APIs of A, B and C).
    #[arg(
        long,
        env = "DEMO_BFF_SCOPE",
        default_value = "openid profile shop:read orders:read reports:read"
    )]
    bff_scope: String,
    /// The gateway's BFF client id.
    #[arg(long, env = "DEMO_BFF_CLIENT_ID", default_value = "demo-gateway")]
    bff_client_id: String,
    /// Its secret (prefer the environment variable: flags show in `ps`).
    #[arg(
        long,
        env = "DEMO_BFF_CLIENT_SECRET",
        hide_env_values = true,
        required_unless_present = "write_pki"
    )]
    bff_client_secret: Option<SecretString>,
    /// Service A's client id. A has no secret: its client certificate authenticates it
    /// (`tls_client_auth`, RFC 8705 §2.1).
    #[arg(
        long,
        env = "DEMO_SERVICE_A_CLIENT_ID",
        default_value = "demo-service-a"
    )]
    service_a_client_id: String,
    /// Service C's client id (its API's own client: `client create --api`).
    #[arg(
        long,
        env = "DEMO_SERVICE_C_CLIENT_ID",
        default_value = "demo-service-c"
    )]
    service_c_client_id: String,
    /// Its secret.
    #[arg(
        long,
        env = "DEMO_SERVICE_C_CLIENT_SECRET",
        hide_env_values = true,
        required_unless_present = "write_pki"
    )]
    service_c_client_secret: Option<SecretString>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DEMO_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> Result<(), String> {
    let (pki, created) =
        demo::pki::DemoPki::load_or_create(&args.pki_dir).map_err(|err| err.to_string())?;
    let dir = args.pki_dir.display();
    if created {
        println!("wrote the demo CA and certificates to {dir}/");
    } else {
        println!("using the demo CA and certificates in {dir}/");
    }
    if args.write_pki {
        println!(
            "start Latchkey with --tls-cert {dir}/latchkey.pem --tls-key {dir}/latchkey.key --mtls-ca {dir}/ca.pem"
        );
        return Ok(());
    }
    // Both are required unless --write-pki (clap checks it).
    let credentials =
        |client_id: String, client_secret: Option<SecretString>| demo::ClientCredentials {
            client_id,
            client_secret,
        };
    let config = demo::DemoConfig {
        trust: demo::Trust {
            issuer: args.issuer,
            clock: Arc::new(|| SystemClock.now()),
            roots: vec![pki.ca.clone()],
        },
        apis: demo::Apis {
            service_a: args.service_a_audience,
            service_b: args.service_b_audience,
            service_c: args.service_c_audience,
            service_d: args.service_d_audience,
        },
        bff: credentials(args.bff_client_id, args.bff_client_secret),
        bff_scope: args.bff_scope,
        gateway_public_url: args.gateway_url,
        service_a: demo::ClientCredentials {
            client_id: args.service_a_client_id,
            client_secret: None,
        },
        service_c: credentials(args.service_c_client_id, args.service_c_client_secret),
        pki,
    };
    let listeners = demo::Listeners::bind(args.gateway_bind)
        .await
        .map_err(|err| {
            format!(
                "cannot listen on {} (--gateway-bind): {err}",
                args.gateway_bind
            )
        })?;
    let running = demo::start(config, listeners)
        .await
        .map_err(|err| err.to_string())?;
    println!("gateway + BFF  {}", running.gateway.url);
    println!("  sign in      {}/login", running.gateway.url);
    println!(
        "  bearer       {0}/service1  {0}/service2  {0}/service3",
        running.gateway.url
    );
    println!(
        "service A      {}  (behind /service1; calls D with its certificate, {})",
        running.service_a.url,
        demo::pki::SERVICE_A_URI
    );
    println!(
        "service B      {}  (behind /service2; needs {}, and the role {} to POST; DPoP from the BFF)",
        running.service_b.url,
        demo::ORDERS_SCOPE,
        demo::ORDERS_ADMIN_ROLE
    );
    println!(
        "service C      {}  (behind /service3; introspects its reference tokens)",
        running.service_c.url
    );
    println!(
        "service D      {}  (called by A over mutual TLS; needs {} and a token bound to the caller's certificate)",
        running.service_d.url,
        demo::INVENTORY_SCOPE
    );
    println!("BFF DPoP key   jkt {}", running.bff_dpop_jkt);
    println!("Ctrl-C to stop.");
    let failed = tokio::select! {
        _ = tokio::signal::ctrl_c() => return Ok(()),
        result = running.gateway.task => ("gateway", result),
        result = running.service_a.task => ("service A", result),
        result = running.service_b.task => ("service B", result),
        result = running.service_c.task => ("service C", result),
        result = running.service_d.task => ("service D", result),
    };
    let (name, result) = failed;
    let why = match result {
        Ok(Ok(())) => "stopped".to_owned(),
        Ok(Err(err)) => err.to_string(),
        Err(err) => err.to_string(),
    };
    Err(format!("{name} stopped: {why}"))
}
