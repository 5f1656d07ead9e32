//! The API gateway: `/service1`, `/service2` and `/service3` forward the request, with its bearer token,
//! to Services A, B and C. Each service is its own API: the gateway verifies a JWT locally and checks
//! that its `aud` is the route's API; a route whose API issues reference tokens leaves the check to its
//! service, which introspects. `/verify` answers the same question for another proxy in front. The BFF
//! routes (see `bff.rs`) live here too.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::{Body, to_bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde::Deserialize;
use serde_json::json;
use tokio::net::TcpListener;

use super::bearer::{BearerError, bearer_token};
use super::bff::{self, Bff};
use super::dpop::DpopKey;
use super::provider::{AccessClaims, Provider, Rejected};
use super::services::{CLIENT_ID_HEADER, ROLES_HEADER, SCOPE_HEADER, SUB_HEADER};
use super::{ClientCredentials, DemoError, Running, Trust, serve};

/// The largest request body forwarded.
pub(super) const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How the gateway checks the tokens of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// A JWT the gateway verifies itself (RFC 9068 §4), whose `aud` must be the route's API.
    AtGateway,
    /// A reference token (RFC 8707 API created `--token-format opaque`): only Latchkey can read it,
    /// so the gateway forwards it and the service introspects it (RFC 7662).
    ByService,
}

/// A service behind the gateway.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// Its base URL.
    pub url: String,
    /// Its API: the `aud` its tokens must carry, and the `resource` the BFF asks for on its behalf.
    pub audience: String,
    /// Who checks its tokens.
    pub check: Check,
    /// The BFF binds its tokens for this API to its DPoP key (RFC 9449), and proves it holds the
    /// key on every call.
    pub dpop: bool,
}

impl Upstream {
    /// A service whose JWTs the gateway verifies.
    pub fn verified(url: &str, audience: &str) -> Self {
        Self {
            url: url.to_owned(),
            audience: audience.to_owned(),
            check: Check::AtGateway,
            dpop: false,
        }
    }

    /// The same, with the BFF's tokens for it bound to the BFF's DPoP key.
    pub fn with_dpop(self) -> Self {
        Self { dpop: true, ..self }
    }

    /// A service that introspects its (reference) tokens itself.
    pub fn introspected(url: &str, audience: &str) -> Self {
        Self {
            check: Check::ByService,
            ..Self::verified(url, audience)
        }
    }
}

/// Where the gateway forwards each route.
#[derive(Debug, Clone)]
pub struct Upstreams {
    /// Service A, behind `/service1`.
    pub service1: Upstream,
    /// Service B, behind `/service2`.
    pub service2: Upstream,
    /// Service C, behind `/service3`.
    pub service3: Upstream,
}

impl Upstreams {
    /// The service behind `route`.
    pub fn of(&self, route: Route) -> &Upstream {
        match route {
            Route::Service1 => &self.service1,
            Route::Service2 => &self.service2,
            Route::Service3 => &self.service3,
        }
    }

    /// Every API behind the gateway, in route order: the `resource`s the BFF asks for (RFC 8707 §2).
    pub fn audiences(&self) -> Vec<String> {
        Route::ALL
            .iter()
            .map(|route| self.of(*route).audience.clone())
            .collect()
    }

    /// The APIs whose BFF tokens are bound to its DPoP key.
    pub fn dpop_audiences(&self) -> Vec<String> {
        Route::ALL
            .iter()
            .map(|route| self.of(*route))
            .filter(|upstream| upstream.dpop)
            .map(|upstream| upstream.audience.clone())
            .collect()
    }
}

/// The gateway's configuration beyond [`Trust`].
pub struct GatewayConfig {
    /// The services behind it.
    pub upstreams: Upstreams,
    /// The BFF's client: confidential, registered for `authorization_code` and `refresh_token` with the
    /// redirect URI `{public_url}/callback` and the post-logout redirect URI `{public_url}/logged-out`.
    pub bff: ClientCredentials,
    /// The BFF's DPoP key, for the upstreams marked [`Upstream::dpop`].
    pub bff_dpop: DpopKey,
    /// The scope the BFF asks for (its tokens are for the APIs behind the routes).
    pub bff_scope: String,
    /// The gateway's public base URL; defaults to `http://` + the listener's address.
    pub public_url: Option<String>,
}

/// The gateway's state.
pub struct Gateway {
    /// Latchkey, as the gateway sees it.
    pub provider: Arc<Provider>,
    /// The BFF's sessions and client.
    pub bff: Bff,
    /// The services behind the routes.
    pub upstreams: Upstreams,
}

/// A route of the gateway and the service behind it.
#[derive(Debug, Clone, Copy)]
pub enum Route {
    /// `/service1` → A.
    Service1,
    /// `/service2` → B.
    Service2,
    /// `/service3` → C.
    Service3,
}

impl Route {
    /// Every route, in order.
    pub const ALL: [Self; 3] = [Self::Service1, Self::Service2, Self::Service3];

    /// The path segment, `service1` …
    fn name(self) -> &'static str {
        match self {
            Self::Service1 => "service1",
            Self::Service2 => "service2",
            Self::Service3 => "service3",
        }
    }
}

/// Serve the gateway and its BFF.
pub async fn start_gateway(
    listener: TcpListener,
    trust: &Trust,
    config: GatewayConfig,
) -> Result<Running, DemoError> {
    let provider = Provider::discover(trust).await?;
    let public_url = match config.public_url {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => format!("http://{}", listener.local_addr()?),
    };
    let state = Arc::new(Gateway {
        bff: Bff::new(
            config.bff,
            config.bff_scope,
            config.upstreams.audiences(),
            &public_url,
        )
        .with_dpop(config.bff_dpop, config.upstreams.dpop_audiences()),
        provider,
        upstreams: config.upstreams,
    });
    serve(listener, router(state))
}

fn router(state: Arc<Gateway>) -> Router {
    let mut router = bff::routes()
        .route("/healthz", get(healthz))
        .route("/verify", any(verify));
    for route in Route::ALL {
        let bearer = move |State(state): State<Arc<Gateway>>, request: Request| async move {
            bearer_route(&state, route, request).await
        };
        let cookie = move |State(state): State<Arc<Gateway>>, request: Request| async move {
            bff::app_route(&state, route, request).await
        };
        let name = route.name();
        router = router
            .route(&format!("/{name}"), any(bearer))
            .route(&format!("/{name}/{{*rest}}"), any(bearer))
            .route(&format!("/app/{name}"), any(cookie))
            .route(&format!("/app/{name}/{{*rest}}"), any(cookie));
    }
    router.with_state(state)
}

/// `GET /healthz`, with the JWKS cache's counters.
async fn healthz(State(state): State<Arc<Gateway>>) -> Json<serde_json::Value> {
    let (keys, fetches) = state.provider.jwks.stats().await;
    Json(json!({ "status": "ok", "jwks": { "keys": keys, "fetches": fetches } }))
}

/// What a route behind the proxy requires, from `/verify`'s query: `aud` (the API the token must be
/// for) and `role` (a role the caller must hold; none by default).
#[derive(Debug, Default, Deserialize)]
struct Requirement {
    aud: Option<String>,
    role: Option<String>,
}

/// `/verify`: the gateway as a verifier for another proxy (NGINX `auth_request`, Traefik `forwardAuth`,
/// Envoy `ext_authz`): 204 with the identity headers for a valid bearer token, 401 otherwise, 403 when
/// the token lacks the route's `role`. Each proxy route names its own requirement in the query
/// (`/verify?aud=https://orders.example.com&role=orders-admin`). Those proxies pass only 2xx, 401 and
/// 403 through, so a malformed header or query (one without `aud` included: every token is for one
/// API, RFC 8707) is a 401 here, not RFC 6750's 400.
async fn verify(
    State(state): State<Arc<Gateway>>,
    requirement: Result<Query<Requirement>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    let Ok(Query(requirement)) = requirement else {
        return BearerError::InvalidToken("the verifier's query is malformed").into_response();
    };
    let Some(audience) = requirement.aud.as_deref() else {
        return BearerError::InvalidToken("the verifier's query names no aud").into_response();
    };
    let token = match bearer_token(&headers) {
        Ok(token) => token,
        Err(BearerError::Malformed) => {
            return BearerError::InvalidToken("the Authorization header is malformed")
                .into_response();
        }
        Err(err) => return err.into_response(),
    };
    let claims = match state.provider.verify_access_token(token, audience).await {
        Ok(claims) => claims,
        Err(rejected) => return BearerError::from(rejected).into_response(),
    };
    if let Some(role) = &requirement.role
        && !claims.has_role(role)
    {
        return BearerError::MissingRole("the token lacks the role this route requires")
            .into_response();
    }
    (
        StatusCode::NO_CONTENT,
        [
            (SUB_HEADER, claims.sub),
            (CLIENT_ID_HEADER, claims.client_id),
            (SCOPE_HEADER, claims.scope),
            (ROLES_HEADER, claims.roles.join(" ")),
        ],
    )
        .into_response()
}

/// `/serviceN…`: RFC 6750 bearer authentication, checked as the route's service requires, then
/// forwarded.
async fn bearer_route(state: &Gateway, route: Route, request: Request) -> Response {
    let token = match bearer_token(request.headers()) {
        Ok(token) => token.to_owned(),
        Err(err) => return err.into_response(),
    };
    match check(state, route, &token).await {
        Ok(claims) => forward(state, route, request, &token, claims.as_ref(), None).await,
        Err(rejected) => BearerError::from(rejected).into_response(),
    }
}

/// The gateway's check of a token for `route`: a JWT for the route's API is verified here, and its
/// claims returned; a token for a service that introspects is left to it (`None`).
pub async fn check(
    state: &Gateway,
    route: Route,
    token: &str,
) -> Result<Option<AccessClaims>, Rejected> {
    let upstream = state.upstreams.of(route);
    match upstream.check {
        Check::AtGateway => state
            .provider
            .verify_access_token(token, &upstream.audience)
            .await
            .map(Some),
        Check::ByService => Ok(None),
    }
}

/// Forward `request` to the service behind `route` with `token` and the identity the gateway verified
/// (if it did). Only the headers listed here travel upstream, so a caller cannot forge the identity
/// headers. With `dpop`, the token is bound to that key: it goes with the `DPoP` scheme and a fresh
/// proof for this request (RFC 9449 §7.1).
pub async fn forward(
    state: &Gateway,
    route: Route,
    request: Request,
    token: &str,
    claims: Option<&AccessClaims>,
    dpop: Option<&DpopKey>,
) -> Response {
    let (parts, body) = request.into_parts();
    let upstream = &state.upstreams.of(route).url;
    // `/service1/x` and `/app/service1/x` both become `/x` upstream.
    let path = parts.uri.path();
    let rest = path
        .find(route.name())
        .map_or("", |at| &path[at + route.name().len()..]);
    let mut url = format!(
        "{}{}",
        upstream.trim_end_matches('/'),
        if rest.is_empty() { "/" } else { rest }
    );
    if let Some(query) = parts.uri.query() {
        url.push('?');
        url.push_str(query);
    }
    let Ok(body) = to_bytes(body, MAX_BODY_BYTES).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let mut upstream_request = match dpop {
        None => state
            .provider
            .http
            .request(parts.method, url)
            .bearer_auth(token),
        Some(key) => {
            let now = state.provider.now();
            let Ok(proof) = key.proof(parts.method.as_str(), &url, Some(token), now) else {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            };
            state
                .provider
                .http
                .request(parts.method, url)
                .header(header::AUTHORIZATION, format!("DPoP {token}"))
                .header("DPoP", proof)
        }
    }
    .body(body);
    if let Some(claims) = claims {
        upstream_request = upstream_request
            .header(SUB_HEADER, &claims.sub)
            .header(CLIENT_ID_HEADER, &claims.client_id)
            .header(SCOPE_HEADER, &claims.scope);
    }
    for name in [header::CONTENT_TYPE, header::ACCEPT] {
        if let Some(value) = parts.headers.get(&name) {
            upstream_request = upstream_request.header(name, value);
        }
    }
    let response = match upstream_request.send().await {
        Ok(response) => response,
        Err(err) => {
            tracing::warn!(error = %err, route = route.name(), "upstream unreachable");
            return (
                StatusCode::BAD_GATEWAY,
                Json(json!({ "error": "upstream_unavailable" })),
            )
                .into_response();
        }
    };
    let status = response.status();
    let copied: Vec<(header::HeaderName, HeaderValue)> = [
        header::CONTENT_TYPE,
        header::WWW_AUTHENTICATE,
        header::CACHE_CONTROL,
    ]
    .into_iter()
    .filter_map(|name| {
        let value = response.headers().get(&name)?.clone();
        Some((name, value))
    })
    .collect();
    let Ok(bytes) = response.bytes().await else {
        return StatusCode::BAD_GATEWAY.into_response();
    };
    let mut out = Response::new(Body::from(bytes));
    *out.status_mut() = status;
    out.headers_mut().extend(copied);
    out
}
