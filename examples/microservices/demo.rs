//! A microservice system secured by Latchkey: an API gateway with a backend-for-frontend (BFF), and four
//! services that each use a different way of trusting a token.
//!
//! Every component is configured only with the issuer (it discovers the rest from
//! `{issuer}/.well-known/openid-configuration`) and, where it needs them, its own client credentials.
//! Each `start_*` function serves one component on the listener it is given and returns its URL.
//!
//! Each service is its own API (RFC 8707): a token is for one of them, named by its `aud`.
//!
//! | component | route | how it decides |
//! |---|---|---|
//! | gateway | `/service1`, `/service2` | verifies the bearer JWT locally (JWKS, `typ`, `iss`, `exp`, and `aud`: that route's API), then forwards |
//! | gateway | `/service3` | forwards: C's API issues reference tokens, which only Latchkey can read |
//! | BFF (on the gateway) | `/login`, `/app/service1..3`, `/logout` | tokens kept server-side (one access token per API), browser holds a cookie |
//! | Service A | behind `/service1` | trusts the gateway; authenticates to Latchkey and to D with its client certificate (mutual TLS); calls D with its own certificate-bound token, and for a user with an exchanged one |
//! | Service B | behind `/service2` | verifies the JWT itself: its own API, `orders:read`, and the role `orders-admin` to write; a DPoP-bound token (the BFF's) only with a proof of its key |
//! | Service C | behind `/service3` | introspects every (reference) token as its API's own client |
//! | Service D | reached from A only, over mutual TLS | its own API: tokens bound to the certificate of the connection (`cnf.x5t#S256`), a service's with `inventory:read` or a user's exchanged by a service |
//!
//! The certificates come from the demo's own CA (`pki.rs`): Latchkey's server certificate, A's
//! client certificate and D's server certificate.
//!
//! This file is shared by the example's `main.rs` and by the integration test
//! (`tests/api/microservices.rs`), which includes it with `#[path]`.

use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

#[path = "demo/bearer.rs"]
mod bearer;
#[path = "demo/bff.rs"]
mod bff;
#[path = "demo/dpop.rs"]
pub mod dpop;
#[path = "demo/gateway.rs"]
mod gateway;
#[path = "demo/mtls.rs"]
pub mod mtls;
#[path = "demo/pki.rs"]
pub mod pki;
#[path = "demo/provider.rs"]
mod provider;
#[path = "demo/services.rs"]
mod services;

pub use gateway::{GatewayConfig, Upstream, Upstreams, start_gateway};
pub use services::{start_service_a, start_service_b, start_service_c, start_service_d};

/// The scope of Service A's API.
pub const SHOP_SCOPE: &str = "shop:read";
/// The scope Service B requires of every caller.
pub const ORDERS_SCOPE: &str = "orders:read";
/// The scope of Service C's API.
pub const REPORTS_SCOPE: &str = "reports:read";
/// The machine scope Service D requires; only Service A's own client-credentials token carries it.
pub const INVENTORY_SCOPE: &str = "inventory:read";
/// The role Service B requires for writes (an access token's `roles`, RFC 9068 §2.2.3.1).
pub const ORDERS_ADMIN_ROLE: &str = "orders-admin";
/// Tokens are renewed this many seconds before they expire (Service A's own token, the BFF's user token).
pub const RENEW_BEFORE_SECONDS: i64 = 30;

/// The current time in seconds since the Unix epoch. Injected so that tests can share Latchkey's
/// fixed clock and move time instead of sleeping.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// What every component needs to trust Latchkey's tokens.
#[derive(Clone)]
pub struct Trust {
    /// The issuer, exactly as Latchkey is configured (`--issuer`); discovery starts from it.
    pub issuer: String,
    /// The time source.
    pub clock: Clock,
    /// The roots trusted for HTTPS besides Mozilla's: the demo CA, which signed Latchkey's and
    /// Service D's certificates.
    pub roots: Vec<CertificateDer<'static>>,
}

/// Each service's API, as registered with `latchkey api create --audience`: the `aud` of every token
/// it accepts (RFC 8707, RFC 9068 §4).
#[derive(Debug, Clone)]
pub struct Apis {
    /// Service A's (`shop:read`).
    pub service_a: String,
    /// Service B's (`orders:read`; the role `orders-admin` belongs to it).
    pub service_b: String,
    /// Service C's (`reports:read`), created `--token-format opaque`: reference tokens.
    pub service_c: String,
    /// Service D's (`inventory:read`).
    pub service_d: String,
}

impl Default for Apis {
    /// The audiences `register.sh` registers.
    fn default() -> Self {
        Self {
            service_a: "https://shop.demo.example".into(),
            service_b: "https://orders.demo.example".into(),
            service_c: "https://reports.demo.example".into(),
            service_d: "https://inventory.demo.example".into(),
        }
    }
}

/// A client registered with Latchkey, authenticating with `client_secret_basic` (RFC 6749 §2.3.1),
/// or, without a secret, with `tls_client_auth` (RFC 8705 §2.1): the certificate of its connection
/// authenticates it, and the form names it with `client_id`.
#[derive(Clone)]
pub struct ClientCredentials {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`; never printed. `None` for a `tls_client_auth` client.
    pub client_secret: Option<SecretString>,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

/// A component serving in the background.
pub struct Running {
    /// Its base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    /// The server task; it ends only if the server fails.
    pub task: JoinHandle<std::io::Result<()>>,
}

/// Why a component could not start or could not talk to Latchkey.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The discovery document is missing, unreadable, or describes another issuer.
    #[error("discovery: {0}")]
    Discovery(String),
    /// An HTTP call to Latchkey or a service failed.
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    /// A listener could not be read.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// Latchkey or a service refused a request (a 4xx, such as an OAuth error response).
    #[error("refused: {0}")]
    Refused(String),
    /// Latchkey or a service failed to answer a request (a 5xx).
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A certificate, key or TLS setting could not be made, read or used.
    #[error("pki: {0}")]
    Pki(String),
}

/// Everything the whole demo needs.
pub struct DemoConfig {
    /// Issuer and clock.
    pub trust: Trust,
    /// Each service's API.
    pub apis: Apis,
    /// The gateway's BFF client (authorization code + refresh token, confidential).
    pub bff: ClientCredentials,
    /// The scope the BFF asks for when a user signs in (for the APIs of `/service1..3`).
    pub bff_scope: String,
    /// The public base URL of the gateway, if not `http://` + its listener address.
    pub gateway_public_url: Option<String>,
    /// Service A's own client (client credentials, `inventory:read`, for Service D's API; and token
    /// exchange for it), registered `tls_client_auth` with certificate-bound tokens: no secret.
    pub service_a: ClientCredentials,
    /// The demo's certificates: A's client certificate (to Latchkey and to D), D's server
    /// certificate, and the CA D requires its clients' certificates to chain to.
    pub pki: pki::DemoPki,
    /// Service C's client: its API's own resource-server client (`client create --api`), which may
    /// introspect the tokens for that API.
    pub service_c: ClientCredentials,
}

/// The running demo.
pub struct Demo {
    /// The gateway and its BFF.
    pub gateway: Running,
    /// Service A (`/service1`).
    pub service_a: Running,
    /// Service B (`/service2`).
    pub service_b: Running,
    /// Service C (`/service3`).
    pub service_c: Running,
    /// Service D (called by A, over mutual TLS).
    pub service_d: Running,
    /// The RFC 7638 thumbprint of the BFF's DPoP key: the `cnf.jkt` of its tokens for B's API.
    pub bff_dpop_jkt: String,
}

/// The listeners the demo serves on: the gateway's (its URL is registered with Latchkey as the BFF's
/// redirect URI) and one per service.
pub struct Listeners {
    /// The gateway.
    pub gateway: TcpListener,
    /// Services A, B, C and D, in that order.
    pub services: [TcpListener; 4],
}

impl Listeners {
    /// The gateway on `gateway`, the services on loopback ports chosen by the system.
    pub async fn bind(gateway: std::net::SocketAddr) -> std::io::Result<Self> {
        let gateway = TcpListener::bind(gateway).await?;
        let loopback = || TcpListener::bind(("127.0.0.1", 0));
        Ok(Self {
            gateway,
            services: [
                loopback().await?,
                loopback().await?,
                loopback().await?,
                loopback().await?,
            ],
        })
    }
}

/// Start Service D, then A (which calls D), B and C, then the gateway in front of A, B and C.
pub async fn start(config: DemoConfig, listeners: Listeners) -> Result<Demo, DemoError> {
    let [a, b, c, d] = listeners.services;
    let apis = &config.apis;
    let service_d = start_service_d(d, &config.trust, &apis.service_d, &config.pki).await?;
    let service_a = start_service_a(
        a,
        &config.trust,
        config.service_a,
        &config.pki.service_a,
        &service_d.url,
        &apis.service_d,
    )
    .await?;
    let service_b = start_service_b(b, &config.trust, &apis.service_b).await?;
    let service_c = start_service_c(c, &config.trust, config.service_c, &apis.service_c).await?;
    // The BFF's DPoP key lives as long as the process: its tokens for B's API are bound to it.
    let bff_dpop = dpop::DpopKey::generate()?;
    let bff_dpop_jkt = bff_dpop.jkt.clone();
    let gateway = start_gateway(
        listeners.gateway,
        &config.trust,
        GatewayConfig {
            upstreams: Upstreams {
                service1: Upstream::verified(&service_a.url, &apis.service_a),
                service2: Upstream::verified(&service_b.url, &apis.service_b).with_dpop(),
                service3: Upstream::introspected(&service_c.url, &apis.service_c),
            },
            bff: config.bff,
            bff_dpop,
            bff_scope: config.bff_scope,
            public_url: config.gateway_public_url,
        },
    )
    .await?;
    Ok(Demo {
        bff_dpop_jkt,
        gateway,
        service_a,
        service_b,
        service_c,
        service_d,
    })
}

/// Serve `router` on `listener` in the background.
fn serve(listener: TcpListener, router: axum::Router) -> Result<Running, DemoError> {
    let url = format!("http://{}", listener.local_addr()?);
    let task = tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(Running { url, task })
}

/// The HTTP client a component uses to reach Latchkey and the services: bounded time, no
/// redirects, the demo CA trusted, and `identity` presented to servers that ask for a certificate.
fn http_client(
    trust: &Trust,
    identity: Option<&pki::Identity>,
) -> Result<reqwest::Client, DemoError> {
    // reqwest's rustls has no crypto provider of its own here (see Cargo.toml): the config is
    // built on aws-lc-rs, Latchkey's.
    Ok(reqwest::Client::builder()
        .use_preconfigured_tls(mtls::client_config(&trust.roots, identity)?)
        .timeout(std::time::Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}
