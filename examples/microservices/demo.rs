//! A microservice system secured by Latchkey: an API gateway with a backend-for-frontend (BFF), and four
//! services that each use a different way of trusting a token.
//!
//! Every component is configured only with the issuer (it discovers the rest from
//! `{issuer}/.well-known/openid-configuration`) and, where it needs them, its own client credentials.
//! Each `start_*` function serves one component on the listener it is given and returns its URL.
//!
//! | component | route | how it decides |
//! |---|---|---|
//! | gateway | `/service1..3` | verifies the bearer JWT locally (JWKS, `typ`, `iss`, `aud`, `exp`), then forwards |
//! | BFF (on the gateway) | `/login`, `/app/service1..3`, `/logout` | tokens kept server-side, browser holds a cookie |
//! | Service A | behind `/service1` | trusts the gateway; calls D with its own client-credentials token |
//! | Service B | behind `/service2` | verifies the JWT itself and requires `orders:read` |
//! | Service C | behind `/service3` | asks Latchkey's introspection endpoint on every request |
//! | Service D | reached from A only | accepts only client-credentials tokens carrying `inventory:read` |
//!
//! This file is shared by the example's `main.rs` and by the integration test
//! (`tests/api/microservices.rs`), which includes it with `#[path]`.

use std::sync::Arc;

use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

#[path = "demo/bearer.rs"]
mod bearer;
#[path = "demo/bff.rs"]
mod bff;
#[path = "demo/gateway.rs"]
mod gateway;
#[path = "demo/provider.rs"]
mod provider;
#[path = "demo/services.rs"]
mod services;

pub use gateway::{GatewayConfig, Upstreams, start_gateway};
pub use services::{start_service_a, start_service_b, start_service_c, start_service_d};

/// The scope Service B requires of every caller.
pub const ORDERS_SCOPE: &str = "orders:read";
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
    /// The `aud` access tokens must carry: Latchkey's `--access-token-audience`, which defaults to the issuer.
    pub audience: String,
    /// The time source.
    pub clock: Clock,
}

/// A client registered with Latchkey, authenticating with `client_secret_basic` (RFC 6749 §2.3.1).
#[derive(Clone)]
pub struct ClientCredentials {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`; never printed.
    pub client_secret: SecretString,
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
}

/// Everything the whole demo needs.
pub struct DemoConfig {
    /// Issuer, audience, clock.
    pub trust: Trust,
    /// The gateway's BFF client (authorization code + refresh token, confidential).
    pub bff: ClientCredentials,
    /// The scope the BFF asks for when a user signs in.
    pub bff_scope: String,
    /// The public base URL of the gateway, if not `http://` + its listener address.
    pub gateway_public_url: Option<String>,
    /// Service A's own client (client credentials, `inventory:read`, for Service D's API; and token
    /// exchange for it).
    pub service_a: ClientCredentials,
    /// Service D's API: the `aud` of every token D accepts (`latchkey api create --audience`).
    pub service_d_audience: String,
    /// Service C's client (`--introspect-any`).
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
    /// Service D (called by A).
    pub service_d: Running,
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
    let service_d = start_service_d(d, &config.trust, &config.service_d_audience).await?;
    let service_a = start_service_a(
        a,
        &config.trust,
        config.service_a,
        &service_d.url,
        &config.service_d_audience,
    )
    .await?;
    let service_b = start_service_b(b, &config.trust).await?;
    let service_c = start_service_c(c, &config.trust, config.service_c).await?;
    let gateway = start_gateway(
        listeners.gateway,
        &config.trust,
        GatewayConfig {
            upstreams: Upstreams {
                service1: service_a.url.clone(),
                service2: service_b.url.clone(),
                service3: service_c.url.clone(),
            },
            bff: config.bff,
            bff_scope: config.bff_scope,
            public_url: config.gateway_public_url,
        },
    )
    .await?;
    Ok(Demo {
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

/// The HTTP client every component uses to reach Latchkey and each other: bounded time, no redirects.
fn http_client() -> Result<reqwest::Client, DemoError> {
    Ok(reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()?)
}
