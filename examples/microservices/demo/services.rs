//! The four services, each trusting tokens in its own way.
//!
//! - A trusts the gateway (it reads the identity the gateway verified, and requires
//!   [`SHOP_SCOPE`](super::SHOP_SCOPE)) and calls D with its own token,
//!   and, for a signed-in user, on the user's behalf with a token exchanged for D (RFC 8693). Its
//!   client certificate authenticates it to Latchkey (RFC 8705 `tls_client_auth`, no secret) and
//!   to D, and its tokens are bound to it.
//! - B verifies the JWT itself (its own API) and requires [`ORDERS_SCOPE`](super::ORDERS_SCOPE); writes
//!   also need the role [`ORDERS_ADMIN_ROLE`](super::ORDERS_ADMIN_ROLE). A token bound to a DPoP
//!   key (the BFF's) is accepted only with a proof of that key (RFC 9449 §7).
//! - C's API issues reference tokens: C asks Latchkey's introspection endpoint (RFC 7662) on every
//!   request, as its API's own client; revocation takes effect at once.
//! - D is its own API: it accepts tokens for its audience only, either a service's client-credentials
//!   token carrying [`INVENTORY_SCOPE`](super::INVENTORY_SCOPE) or a user's token exchanged by a
//!   service (with `act`). It serves mutual TLS only, and a token only over a connection with the
//!   certificate the token is bound to (RFC 8705 §3).

use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::bearer::{BearerError, Presented, REALM, access_token, bearer_token};
use super::dpop::{DpopError, DpopVerifier, Expected};
use super::mtls::{PeerCertificate, serve_mtls};
use super::pki::{DemoPki, Identity};
use super::provider::{AccessClaims, Provider};
use super::{
    ClientCredentials, DemoError, INVENTORY_SCOPE, ORDERS_ADMIN_ROLE, ORDERS_SCOPE,
    RENEW_BEFORE_SECONDS, REPORTS_SCOPE, Running, SHOP_SCOPE, Trust, serve,
};

/// The identity headers the gateway sets after verifying a token (and strips from incoming requests).
pub const SUB_HEADER: &str = "x-authenticated-sub";
/// See [`SUB_HEADER`].
pub const CLIENT_ID_HEADER: &str = "x-authenticated-client-id";
/// See [`SUB_HEADER`].
pub const SCOPE_HEADER: &str = "x-authenticated-scope";
/// See [`SUB_HEADER`]: the token's roles, space-separated.
pub const ROLES_HEADER: &str = "x-authenticated-roles";

/// A service's routes: every path answers with `handler`, plus `/healthz`.
fn routes<S: Clone + Send + Sync + 'static>(
    handler: axum::routing::MethodRouter<S>,
    state: S,
) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/", handler.clone())
        .route("/{*path}", handler)
        .with_state(state)
}

// --- Service A ---------------------------------------------------------------------------------

struct ServiceA {
    provider: Arc<Provider>,
    token: ServiceToken,
    /// A's client, for token exchange.
    credentials: ClientCredentials,
    service_d: String,
    service_d_audience: String,
}

/// RFC 8693 §2.1 `grant_type`.
const TOKEN_EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// RFC 8693 §3: an OAuth access token.
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// Service A, behind `/service1`: it does not verify tokens itself but trusts the identity headers
/// the gateway sets, so it must only be reachable through the gateway. It calls Service D with a
/// token of its own, obtained with client credentials for D's API (RFC 8707 `resource`) and cached
/// until shortly before it expires. For a user's request it also calls D on the user's behalf: it
/// exchanges the user's access token for one for D (RFC 8693), whose `sub` is the user and `act.sub`
/// is A. Its HTTP client presents `certificate` to Latchkey and to D: it authenticates A
/// (`tls_client_auth`, RFC 8705 §2.1), and Latchkey binds A's tokens to it (§3), so D accepts them
/// only over a connection with that certificate.
pub async fn start_service_a(
    listener: TcpListener,
    trust: &Trust,
    credentials: ClientCredentials,
    certificate: &Identity,
    service_d: &str,
    service_d_audience: &str,
) -> Result<Running, DemoError> {
    let provider = Provider::discover_as(trust, Some(certificate)).await?;
    let state = Arc::new(ServiceA {
        token: ServiceToken::new(
            provider.clone(),
            credentials.clone(),
            INVENTORY_SCOPE,
            Some(service_d_audience.to_owned()),
        ),
        credentials,
        provider,
        service_d: format!("{}/inventory", service_d.trim_end_matches('/')),
        service_d_audience: service_d_audience.to_owned(),
    });
    serve(listener, routes(get(service_a), state))
}

async fn service_a(State(state): State<Arc<ServiceA>>, headers: HeaderMap) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let Some(sub) = header(SUB_HEADER) else {
        return BearerError::InvalidToken("this service is reached through the gateway only")
            .into_response();
    };
    let granted = header(SCOPE_HEADER).unwrap_or_default();
    if !granted.split(' ').any(|scope| scope == SHOP_SCOPE) {
        return BearerError::InsufficientScope {
            scope: SHOP_SCOPE,
            description: "this resource requires the shop:read scope",
        }
        .into_response();
    }
    let client_id = header(CLIENT_ID_HEADER);
    // A user's request (RFC 9068 §2.2: `sub` is not the client): D is also asked on the user's behalf.
    let user_token = (client_id.as_deref() != Some(sub.as_str()))
        .then(|| bearer_token(&headers).ok())
        .flatten();
    let on_behalf = match user_token {
        Some(token) => match call_service_d_for_user(&state, token).await {
            Ok(answer) => Some(answer),
            Err(err) => {
                tracing::warn!(error = %err, "service A could not call service D for the user");
                return (
                    StatusCode::BAD_GATEWAY,
                    Json(json!({ "error": "inventory_unavailable" })),
                )
                    .into_response();
            }
        },
        None => None,
    };
    match call_service_d(&state).await {
        Ok(inventory) => Json(json!({
            "service": "A",
            "sub": sub,
            "client_id": client_id,
            "inventory": inventory,
            "inventory_for_user": on_behalf,
        }))
        .into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "service A could not call service D");
            (
                StatusCode::BAD_GATEWAY,
                Json(json!({ "error": "inventory_unavailable" })),
            )
                .into_response()
        }
    }
}

/// Exchange the user's access token for one for D's API (RFC 8693 §2.1; `act` will name A) and call D
/// with it. The exchanged token lives no longer than the user's, so it is not cached.
async fn call_service_d_for_user(state: &ServiceA, user_token: &str) -> Result<Value, DemoError> {
    let exchanged: TokenResponse = state
        .provider
        .post_form(
            &state.provider.metadata.token_endpoint,
            &state.credentials,
            &[
                ("grant_type", TOKEN_EXCHANGE),
                ("subject_token", user_token),
                ("subject_token_type", ACCESS_TOKEN_TYPE),
                ("resource", &state.service_d_audience),
            ],
        )
        .await?;
    let response = state
        .provider
        .http
        .get(&state.service_d)
        .bearer_auth(&exchanged.access_token)
        .send()
        .await?;
    if !response.status().is_success() {
        return Err(DemoError::Refused(format!(
            "service D answered {} to an exchanged token",
            response.status()
        )));
    }
    Ok(response.json().await?)
}

/// Call D with A's own token; if D refuses it (revoked, or signed by a key D has not seen), get a new
/// token once and retry.
async fn call_service_d(state: &ServiceA) -> Result<Value, DemoError> {
    for attempt in 0..2 {
        let token = state.token.get().await?;
        let response = state
            .provider
            .http
            .get(&state.service_d)
            .bearer_auth(&token)
            .send()
            .await?;
        if response.status() == StatusCode::UNAUTHORIZED && attempt == 0 {
            state.token.forget(&token).await;
            continue;
        }
        if !response.status().is_success() {
            return Err(DemoError::Refused(format!(
                "service D answered {}",
                response.status()
            )));
        }
        return Ok(response.json().await?);
    }
    Err(DemoError::Refused("service D refused a fresh token".into()))
}

/// A service's own access token (RFC 6749 §4.4), cached until [`RENEW_BEFORE_SECONDS`] before it expires.
pub struct ServiceToken {
    provider: Arc<Provider>,
    credentials: ClientCredentials,
    scope: &'static str,
    /// The API the token is for (RFC 8707 `resource`), if not the server's default audience.
    resource: Option<String>,
    cached: tokio::sync::Mutex<Option<(String, i64)>>,
}

/// A successful token response (RFC 6749 §5.1).
#[derive(Deserialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// `Bearer`, or `DPoP` for a token bound to the request's DPoP key (RFC 9449 §5).
    #[serde(default)]
    pub token_type: String,
    /// Its lifetime in seconds.
    pub expires_in: i64,
    /// A refresh token, for the authorization code and refresh grants.
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// An ID token, when `openid` was granted.
    #[serde(default)]
    pub id_token: Option<String>,
}

impl ServiceToken {
    fn new(
        provider: Arc<Provider>,
        credentials: ClientCredentials,
        scope: &'static str,
        resource: Option<String>,
    ) -> Self {
        Self {
            provider,
            credentials,
            scope,
            resource,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// The cached token, or a new one. The lock makes concurrent callers share one token request.
    async fn get(&self) -> Result<String, DemoError> {
        let mut cached = self.cached.lock().await;
        let now = self.provider.now();
        if let Some((token, expires_at)) = cached.as_ref()
            && expires_at - now > RENEW_BEFORE_SECONDS
        {
            return Ok(token.clone());
        }
        let mut form = vec![("grant_type", "client_credentials"), ("scope", self.scope)];
        if let Some(resource) = &self.resource {
            form.push(("resource", resource));
        }
        let response: TokenResponse = self
            .provider
            .post_form(
                &self.provider.metadata.token_endpoint,
                &self.credentials,
                &form,
            )
            .await?;
        *cached = Some((response.access_token.clone(), now + response.expires_in));
        Ok(response.access_token)
    }

    /// Drop `token` from the cache (unless another caller already replaced it).
    async fn forget(&self, token: &str) {
        let mut cached = self.cached.lock().await;
        if cached.as_ref().is_some_and(|(t, _)| t == token) {
            *cached = None;
        }
    }
}

// --- Service B ---------------------------------------------------------------------------------

/// Service B and the API it serves.
struct ServiceB {
    provider: Arc<Provider>,
    audience: String,
    /// B's own base URL: the `htu` of DPoP proofs names it (RFC 9449 §4.3).
    url: String,
    dpop: DpopVerifier,
}

/// Service B, behind `/service2`: verifies every JWT itself (defence in depth: it does not rely on the
/// gateway), for its own API `audience`, and requires the `orders:read` scope; a write (`POST`) also
/// requires the role `orders-admin` in the token's `roles` (a role of B's API, so only tokens for B
/// carry it). A token bound to a DPoP key (`cnf.jkt`: the BFF binds its tokens for B) is accepted
/// only with the `DPoP` scheme and a proof of that key for the request (RFC 9449 §7.1).
pub async fn start_service_b(
    listener: TcpListener,
    trust: &Trust,
    audience: &str,
) -> Result<Running, DemoError> {
    let state = Arc::new(ServiceB {
        provider: Provider::discover(trust).await?,
        audience: audience.to_owned(),
        url: format!("http://{}", listener.local_addr()?),
        dpop: DpopVerifier::default(),
    });
    serve(
        listener,
        routes(get(service_b).post(service_b_write), state),
    )
}

/// A refusal by B: RFC 6750's `Bearer` challenge, or RFC 9449's `DPoP` one for a DPoP request or a
/// DPoP-bound token.
enum Refusal {
    Bearer(BearerError),
    Dpop(DpopError),
}

impl From<BearerError> for Refusal {
    fn from(err: BearerError) -> Self {
        Self::Bearer(err)
    }
}

impl From<DpopError> for Refusal {
    fn from(err: DpopError) -> Self {
        Self::Dpop(err)
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Self::Bearer(err) => err.into_response(),
            Self::Dpop(err) => err.into_response(),
        }
    }
}

/// The token of a request to B, for B's API, with `orders:read`, presented as its binding requires.
async fn orders_reader(
    state: &ServiceB,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<AccessClaims, Refusal> {
    let presented = access_token(headers)?;
    let (token, dpop_scheme) = match presented {
        Presented::Bearer(token) => (token, false),
        Presented::Dpop(token) => (token, true),
    };
    let claims = match state
        .provider
        .verify_access_token(token, &state.audience)
        .await
    {
        Ok(claims) => claims,
        Err(rejected) if dpop_scheme => {
            return Err(DpopError::InvalidToken(rejected.description()).into());
        }
        Err(rejected) => return Err(BearerError::from(rejected).into()),
    };
    let jkt = claims.cnf.as_ref().and_then(|cnf| cnf.jkt.as_deref());
    match (dpop_scheme, jkt) {
        (false, None) => {}
        // RFC 9449 §7.2: a bound token is no bearer token.
        (false, Some(_)) => {
            return Err(DpopError::InvalidToken(
                "this access token is DPoP-bound: send it with the DPoP scheme and a proof",
            )
            .into());
        }
        (true, None) => {
            return Err(DpopError::InvalidToken(
                "the access token is not bound to the DPoP proof's key",
            )
            .into());
        }
        (true, Some(jkt)) => {
            // §4.3 check 1: exactly one proof.
            let mut proofs = headers.get_all("dpop").iter();
            let (Some(proof), None) = (proofs.next(), proofs.next()) else {
                return Err(DpopError::InvalidProof("send exactly one DPoP proof").into());
            };
            let proof = proof
                .to_str()
                .map_err(|_| DpopError::InvalidProof("the DPoP proof is not a JWT"))?;
            let url = format!("{}{}", state.url, uri.path());
            let expected = Expected {
                method: method.as_str(),
                url: &url,
                access_token: token,
                jkt,
            };
            state.dpop.verify(proof, &expected, state.provider.now())?;
        }
    }
    if !claims.has_scope(ORDERS_SCOPE) {
        return Err(BearerError::InsufficientScope {
            scope: ORDERS_SCOPE,
            description: "this resource requires the orders:read scope",
        }
        .into());
    }
    Ok(claims)
}

/// The sign-in level B's writes need of a user (Latchkey's two-factor level).
pub const WRITE_ACR: &str = "urn:latchkey:acr:mfa";

/// RFC 9470 §3: 401 `insufficient_user_authentication`, with the `acr_values` the caller should ask
/// Latchkey for, in the scheme the token came with (RFC 9449 §7.1 for DPoP, with its `algs`).
fn step_up(dpop: bool) -> Response {
    let description = "writing orders needs a sign-in with a second factor";
    let (scheme, algs) = if dpop {
        ("DPoP", format!(", algs=\"{}\"", super::dpop::ALGS_LIST))
    } else {
        ("Bearer", String::new())
    };
    let challenge = format!(
        "{scheme} realm=\"{REALM}\"{algs}, error=\"insufficient_user_authentication\", \
         error_description=\"{description}\", acr_values=\"{WRITE_ACR}\""
    );
    let body = json!({
        "error": "insufficient_user_authentication",
        "error_description": description,
        "acr_values": WRITE_ACR,
    });
    let mut response = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    // Every value above is a constant: no quotes or control characters.
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// `POST` to B: an order written, for a caller with the role `orders-admin`. Without it, 403: the
/// token is good but its holder may not write. A user's token must also come from a two-factor
/// sign-in (RFC 9470): otherwise 401 `insufficient_user_authentication`, which the BFF answers by
/// asking Latchkey for that level and trying again.
async fn service_b_write(
    State(state): State<Arc<ServiceB>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let claims = match orders_reader(&state, &method, &uri, &headers).await {
        Ok(claims) => claims,
        Err(err) => return err.into_response(),
    };
    if !claims.has_role(ORDERS_ADMIN_ROLE) {
        return BearerError::MissingRole("writing orders requires the role orders-admin")
            .into_response();
    }
    // RFC 9470: a write on a user's behalf needs a two-factor sign-in. A service's own token
    // (no `acr`: no user signed in) is judged by its role alone.
    if let Some(acr) = &claims.acr
        && acr != WRITE_ACR
    {
        let dpop = matches!(access_token(&headers), Ok(Presented::Dpop(_)));
        return step_up(dpop);
    }
    Json(json!({
        "service": "B",
        "sub": claims.sub,
        "roles": claims.roles,
        "written": true,
    }))
    .into_response()
}

async fn service_b(
    State(state): State<Arc<ServiceB>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let claims = match orders_reader(&state, &method, &uri, &headers).await {
        Ok(claims) => claims,
        Err(refusal) => return refusal.into_response(),
    };
    let mut body = json!({
        "service": "B",
        "sub": claims.sub,
        "client_id": claims.client_id,
        "scope": claims.scope,
        "exp": claims.exp,
        "orders": [{ "id": 1042, "item": "brass latch", "quantity": 3 }],
    });
    // What the token was bound to, if anything (the BFF's: its DPoP key).
    if let Some(cnf) = claims.cnf {
        body["cnf"] = json!(cnf);
    }
    Json(body).into_response()
}

// --- Service C ---------------------------------------------------------------------------------

struct ServiceC {
    provider: Arc<Provider>,
    credentials: ClientCredentials,
    introspection_endpoint: String,
    audience: String,
}

/// Service C, behind `/service3`, serves an API whose tokens are reference tokens (`lk_at_…`, created
/// `--token-format opaque`): only Latchkey can read them. C asks about every token (RFC 7662) as its
/// API's own resource-server client (`client create --api`), which learns about tokens for its API and
/// gets `active: false` for any other (RFC 7662 §4). A revoked token is refused at once, at the price
/// of one call per request.
pub async fn start_service_c(
    listener: TcpListener,
    trust: &Trust,
    credentials: ClientCredentials,
    audience: &str,
) -> Result<Running, DemoError> {
    let provider = Provider::discover(trust).await?;
    let introspection_endpoint = provider
        .metadata
        .introspection_endpoint
        .clone()
        .ok_or_else(|| DemoError::Discovery("no introspection_endpoint advertised".into()))?;
    let state = Arc::new(ServiceC {
        provider,
        credentials,
        introspection_endpoint,
        audience: audience.to_owned(),
    });
    serve(listener, routes(get(service_c), state))
}

async fn service_c(State(state): State<Arc<ServiceC>>, headers: HeaderMap) -> Response {
    let token = match bearer_token(&headers) {
        Ok(token) => token,
        Err(err) => return err.into_response(),
    };
    let answer: Result<Value, DemoError> = state
        .provider
        .post_form(
            &state.introspection_endpoint,
            &state.credentials,
            &[("token", token), ("token_type_hint", "access_token")],
        )
        .await;
    let answer = match answer {
        Ok(answer) => answer,
        Err(err) => {
            tracing::warn!(error = %err, "introspection failed");
            return (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "error": "temporarily_unavailable" })),
            )
                .into_response();
        }
    };
    // RFC 7662 §2.2: only `active` is guaranteed; an access token must also be for our API (Latchkey
    // already answers `active: false` to C for another API's tokens; checked here all the same).
    let audience = state.audience.as_str();
    let aud_ok = match &answer["aud"] {
        Value::String(aud) => aud == audience,
        Value::Array(auds) => auds.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    };
    if answer["active"] != true || answer["token_type"] == "refresh_token" {
        return BearerError::InvalidToken(
            "the token is not active (expired, revoked, or for another API)",
        )
        .into_response();
    }
    if !aud_ok {
        return BearerError::InvalidToken("the token is not meant for this audience")
            .into_response();
    }
    let granted = answer["scope"].as_str().unwrap_or_default();
    if !granted.split(' ').any(|scope| scope == REPORTS_SCOPE) {
        return BearerError::InsufficientScope {
            scope: REPORTS_SCOPE,
            description: "this resource requires the reports:read scope",
        }
        .into_response();
    }
    let mut body = json!({
        "service": "C",
        "aud": answer["aud"],
        "sub": answer["sub"],
        "client_id": answer["client_id"],
        "scope": answer["scope"],
        "exp": answer["exp"],
    });
    // Latchkey names the user for user tokens; client-credentials tokens have none.
    if let Some(username) = answer["username"].as_str() {
        body["username"] = json!(username);
    }
    Json(body).into_response()
}

// --- Service D ---------------------------------------------------------------------------------

struct ServiceD {
    provider: Arc<Provider>,
    audience: String,
}

/// Service D, called by A only, is its own API: it verifies the JWT itself and accepts only tokens
/// for its `audience` (RFC 9068 §4): a service's client-credentials token (`sub` is the client)
/// carrying `inventory:read`, or a user's token a service obtained by token exchange (RFC 8693: `sub`
/// is the user, `act` the service). A user's token straight from the gateway is not for D's audience.
/// D serves HTTPS with its certificate from `pki` and requires a client certificate of the demo CA
/// (mutual TLS); it accepts only tokens bound to the certificate of the request's own connection
/// (`cnf.x5t#S256`, RFC 8705 §3), so a token taken from A is useless without A's private key.
pub async fn start_service_d(
    listener: TcpListener,
    trust: &Trust,
    audience: &str,
    pki: &DemoPki,
) -> Result<Running, DemoError> {
    let provider = Provider::discover(trust).await?;
    let state = Arc::new(ServiceD {
        provider,
        audience: audience.to_owned(),
    });
    serve_mtls(
        listener,
        &pki.service_d,
        &pki.ca,
        routes(get(service_d), state),
    )
}

async fn service_d(
    State(state): State<Arc<ServiceD>>,
    ConnectInfo(peer): ConnectInfo<PeerCertificate>,
    headers: HeaderMap,
) -> Response {
    let result = async {
        let claims = state
            .provider
            .verify_access_token(bearer_token(&headers)?, &state.audience)
            .await?;
        // RFC 8705 §3: the token must be bound to this connection's certificate.
        let bound = claims.cnf.as_ref().and_then(|cnf| cnf.x5t_s256.as_deref());
        match (bound, peer.thumbprint()) {
            (None, _) => {
                return Err(BearerError::InvalidToken(
                    "only certificate-bound tokens are accepted here",
                ));
            }
            (Some(bound), Some(presented)) if bound == presented => {}
            (Some(_), _) => {
                return Err(BearerError::InvalidToken(
                    "the token is bound to another certificate than this connection's",
                ));
            }
        }
        // On a user's behalf: the exchanged token names the service acting for the user.
        if let Some(act) = &claims.act {
            return Ok(Json(json!({
                "service": "D",
                "sub": claims.sub,
                "act": act,
                "cnf": claims.cnf,
                "items": [{ "sku": "LATCH-7", "in_stock": 12 }],
            })));
        }
        if !claims.is_client_credentials() {
            return Err(BearerError::InsufficientScope {
                scope: INVENTORY_SCOPE,
                description: "only services' own client-credentials tokens are accepted here",
            });
        }
        if !claims.has_scope(INVENTORY_SCOPE) {
            return Err(BearerError::InsufficientScope {
                scope: INVENTORY_SCOPE,
                description: "this resource requires the inventory:read scope",
            });
        }
        Ok(Json(json!({
            "service": "D",
            "caller": claims.client_id,
            "caller_token_jti": claims.jti,
            "cnf": claims.cnf,
            "items": [{ "sku": "LATCH-7", "in_stock": 12 }],
        })))
    };
    result.await.into_response()
}
