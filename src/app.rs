//! The application: shared state, every path constant, THE route table, its layers, and `serve`.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, Request, header};
use axum::routing::{get, post};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

use crate::client_cache::ClientCache;
use crate::clock::Clock;
use crate::config::Settings;
use crate::endpoints::login::{LoginThrottle, PasswordSlots};
use crate::endpoints::session::StoreSessions;
use crate::endpoints::{
    authorize, consent, discovery, health, introspect, jwks, login, logout, page, revoke, token,
    userinfo,
};
use crate::keys::{KeyEncryptionKey, KeyError, KeyRing, SigningAlg};
use crate::store::{self, Store, StoreError};

/// OIDC Discovery 1.0 §4.
pub const OPENID_CONFIGURATION_PATH: &str = "/.well-known/openid-configuration";
/// RFC 8414 §3.
pub const OAUTH_METADATA_PATH: &str = "/.well-known/oauth-authorization-server";
/// The `jwks_uri` (RFC 7517 §5).
pub const JWKS_PATH: &str = "/jwks";
/// RFC 6749 §3.1 authorization endpoint.
pub const AUTHORIZE_PATH: &str = "/authorize";
/// RFC 6749 §3.2 token endpoint.
pub const TOKEN_PATH: &str = "/token";
/// RFC 7662 introspection endpoint.
pub const INTROSPECT_PATH: &str = "/introspect";
/// RFC 7009 revocation endpoint.
pub const REVOKE_PATH: &str = "/revoke";
/// OIDC Core §5.3 UserInfo endpoint.
pub const USERINFO_PATH: &str = "/userinfo";
/// OIDC RP-Initiated Logout §2 end-session endpoint.
pub const END_SESSION_PATH: &str = "/end_session";
/// The sign-in page.
pub const LOGIN_PATH: &str = "/login";
/// The consent page.
pub const CONSENT_PATH: &str = "/consent";
/// The pages' stylesheet.
pub const STYLESHEET_PATH: &str = "/static/style.css";
/// Liveness.
pub const HEALTHZ_PATH: &str = "/healthz";
/// Readiness: the store answers and keys are loaded.
pub const READYZ_PATH: &str = "/readyz";

/// The largest request body accepted (form posts are small; this bounds hostile input).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Everything a handler may need, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The signing and verification keys.
    pub keys: Arc<KeyRing>,
    /// Validated configuration.
    pub settings: Arc<Settings>,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// The discovery document, serialised once.
    pub metadata: Arc<str>,
    /// Failed sign-in counters.
    pub login_throttle: Arc<LoginThrottle>,
    /// Bounded argon2 work.
    pub passwords: Arc<PasswordSlots>,
    /// Client registrations for the hot endpoints.
    pub clients: Arc<ClientCache>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A setting is wrong.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Store(#[from] StoreError),
    /// Signing keys could not be loaded or created.
    #[error("signing keys: {0}")]
    Keys(#[from] KeyError),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

impl AppState {
    /// Connect the store, apply migrations, load (creating on first start) the signing keys.
    pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> Result<Self, StartError> {
        let kek = KeyEncryptionKey::load(&settings.key_secret)?;
        let store = store::connect(&settings).await?;
        store.migrate().await?;
        let keys = Arc::new(KeyRing::new(kek, settings.key_retention()));
        // Every algorithm has keys, published in the JWKS, so a client's ID-token override or a
        // change of the server setting never meets an unknown key.
        for alg in SigningAlg::ALL {
            for kid in keys.ensure(store.as_ref(), alg, clock.now()).await? {
                tracing::info!(%kid, %alg, "created signing key (first start, or a state was missing)");
            }
        }
        keys.refresh(store.as_ref(), clock.now()).await?;
        let metadata = discovery::document(&settings).into();
        let client_cache_ttl = settings.client_cache_ttl;
        Ok(Self {
            store,
            keys,
            settings: Arc::new(settings),
            clock,
            metadata,
            login_throttle: Arc::new(LoginThrottle::default()),
            clients: Arc::new(ClientCache::new(client_cache_ttl)),
            passwords: Arc::new(PasswordSlots::new(
                std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            )),
        })
    }
}

/// Request ids: 96 random bits, echoed in `x-request-id` and attached to every log line of the request.
#[derive(Clone, Copy, Default)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let id = crate::domain::secret::random_string(12);
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// THE route table, with its layers.
pub fn router(state: AppState) -> Router {
    let https = state.settings.issuer.is_https();
    let sessions =
        SessionManagerLayer::new(StoreSessions::new(state.store.clone(), state.clock.clone()))
            .with_name("latchkey_session")
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_secure(https)
            .with_path("/")
            .with_expiry(Expiry::OnInactivity(time::Duration::seconds(
                state.settings.lifetimes.session,
            )));
    // Pages that use the browser session; the API endpoints never touch it.
    let pages = Router::new()
        .route(
            AUTHORIZE_PATH,
            get(authorize::authorize_get).post(authorize::authorize_post),
        )
        .route(LOGIN_PATH, get(login::login_page).post(login::login_submit))
        .route(
            CONSENT_PATH,
            get(consent::consent_page).post(consent::consent_submit),
        )
        .route(
            END_SESSION_PATH,
            get(logout::end_session_get).post(logout::end_session_post),
        )
        .layer(sessions);
    let mut app = Router::new()
        .route(OPENID_CONFIGURATION_PATH, get(discovery::metadata))
        .route(OAUTH_METADATA_PATH, get(discovery::metadata))
        .route(JWKS_PATH, get(jwks::jwks))
        .route(TOKEN_PATH, post(token::token))
        .route(INTROSPECT_PATH, post(introspect::introspect))
        .route(REVOKE_PATH, post(revoke::revoke))
        .route(
            USERINFO_PATH,
            get(userinfo::userinfo_get).post(userinfo::userinfo_post),
        )
        .route(STYLESHEET_PATH, get(page::stylesheet))
        .route(HEALTHZ_PATH, get(health::healthz))
        .route(READYZ_PATH, get(health::readyz))
        .merge(pages)
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES));
    app = security_headers(app);
    if https {
        app = app.layer(SetResponseHeaderLayer::if_not_present(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000"),
        ));
    }
    app.layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let id = request
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                // The path only: query strings can carry codes and tokens.
                tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %id)
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, RandomRequestId))
}

/// Headers every response carries; pages set their own, looser `Content-Security-Policy` first.
fn security_headers(app: Router) -> Router {
    let header = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    app.layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(header(header::REFERRER_POLICY, "no-referrer"))
        .layer(header(header::X_FRAME_OPTIONS, "DENY"))
        .layer(header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        ))
}

/// Serve until Ctrl-C / SIGTERM, then drain in-flight requests.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    let refresh = state.keys.clone().spawn_refresh(
        state.store.clone(),
        state.clock.clone(),
        state.settings.key_refresh_interval,
    );
    let housekeeping = crate::housekeeping::spawn(
        state.store.clone(),
        state.clock.clone(),
        state.settings.gc_interval,
    );
    let result = axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await;
    refresh.abort();
    housekeeping.abort();
    result
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down; draining in-flight requests");
}
