//! The backend-for-frontend on the gateway: browsers sign in with the authorization code flow (RFC 6749
//! §4.1) with PKCE S256 (RFC 7636), `state` and `nonce`, as a confidential client. The tokens stay here,
//! in an in-memory session; the browser only holds a random `HttpOnly; SameSite=Lax` cookie naming it.
//! Each service behind the gateway is its own API, and an access token is for one API (RFC 8707 §2.2):
//! the sign-in asks for every API with `resource`, the code is redeemed for the first, and the one
//! refresh token mints each other API's token when it is first needed (and again near expiry, RFC 6749
//! §6). `/app/serviceN` forwards the session's token for that service's API; `/logout` ends the
//! session and sends the browser to Latchkey's end-session endpoint. `/backchannel-logout` receives
//! Latchkey's logout tokens (OIDC Back-Channel Logout 1.0): when a user's Latchkey session ends
//! anywhere (signed out elsewhere, or by an administrator), the BFF's sessions of it end too.
//! The tokens for the APIs marked for DPoP (Service B's) are bound to a key the BFF makes at start
//! (RFC 9449): it sends a proof with each token request for them and with each call to them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_lc_rs::digest;
use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{AppendHeaders, Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::json;

use super::dpop::DpopKey;
use super::gateway::{Gateway, MAX_BODY_BYTES, Route, check, forward};
use super::provider::{IdClaims, Provider};
use super::services::TokenResponse;
use super::{ClientCredentials, DemoError, RENEW_BEFORE_SECONDS};

/// The session cookie: a 256-bit random id, nothing else.
pub const SESSION_COOKIE: &str = "bff_session";
/// The cookie binding a sign-in in progress to the browser that started it.
const LOGIN_COOKIE: &str = "bff_login";
/// How long a sign-in may take.
const LOGIN_TTL_SECONDS: i64 = 600;
/// A session ends this long after sign-in even if the refresh token lives longer.
const SESSION_TTL_SECONDS: i64 = 8 * 3600;
/// At most this many sign-ins in progress, so `/login` cannot be used to exhaust memory.
const MAX_PENDING_LOGINS: usize = 10_000;

/// The BFF's client and its sessions.
pub struct Bff {
    credentials: ClientCredentials,
    scope: String,
    /// The APIs the BFF asks for at sign-in (RFC 8707 `resource`); the code is redeemed for the first.
    resources: Vec<String>,
    redirect_uri: String,
    post_logout_redirect_uri: String,
    secure_cookies: bool,
    pending: Mutex<HashMap<String, PendingLogin>>,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    /// The DPoP key, and the APIs whose tokens are bound to it.
    dpop: Option<(DpopKey, Vec<String>)>,
}

/// What `/callback` must check: the request this browser started, and the request to try again once
/// signed in when the sign-in was a step-up (RFC 9470).
struct PendingLogin {
    state: String,
    nonce: String,
    code_verifier: String,
    started_at: i64,
    retry: Option<Retry>,
}

/// A request to a service that was refused for too weak a sign-in, kept to be sent again after the
/// step-up.
struct Retry {
    route: Route,
    method: Method,
    /// The path and query the browser asked for (`/app/service2…`).
    target: String,
    content_type: Option<HeaderValue>,
    body: Bytes,
}

/// A signed-in browser.
struct Session {
    user: IdClaims,
    started_at: i64,
    tokens: tokio::sync::Mutex<Tokens>,
}

/// An access token for one API.
#[derive(Clone)]
struct AccessToken {
    token: String,
    expires_at: i64,
    /// Bound to the BFF's DPoP key (`token_type: DPoP`).
    dpop: bool,
}

impl AccessToken {
    fn from_response(response: &TokenResponse, now: i64) -> Self {
        Self {
            token: response.access_token.clone(),
            expires_at: now + response.expires_in,
            dpop: response.token_type.eq_ignore_ascii_case("dpop"),
        }
    }
}

struct Tokens {
    /// One access token per API, by audience.
    access: HashMap<String, AccessToken>,
    refresh_token: Option<String>,
    id_token: String,
}

impl Bff {
    /// A BFF for the APIs `resources`, whose redirect URIs hang off `public_url`.
    pub fn new(
        credentials: ClientCredentials,
        scope: String,
        resources: Vec<String>,
        public_url: &str,
    ) -> Self {
        Self {
            credentials,
            scope,
            resources,
            redirect_uri: format!("{public_url}/callback"),
            post_logout_redirect_uri: format!("{public_url}/logged-out"),
            secure_cookies: public_url.starts_with("https://"),
            pending: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
            dpop: None,
        }
    }

    /// Bind the tokens for the APIs `audiences` to `key` (RFC 9449).
    pub fn with_dpop(self, key: DpopKey, audiences: Vec<String>) -> Self {
        Self {
            dpop: Some((key, audiences)),
            ..self
        }
    }

    /// The DPoP key, if the tokens for `audience` are bound to it.
    fn dpop_key_for(&self, audience: &str) -> Option<&DpopKey> {
        self.dpop
            .as_ref()
            .filter(|(_, audiences)| audiences.iter().any(|a| a == audience))
            .map(|(key, _)| key)
    }

    /// The DPoP key, for a token bound to it.
    fn dpop_key(&self) -> Option<&DpopKey> {
        self.dpop.as_ref().map(|(key, _)| key)
    }

    /// A proof for a token request to Latchkey's token endpoint, when the tokens for `audience` are
    /// bound to the DPoP key (RFC 9449 §5).
    fn token_request_proof(&self, provider: &Provider, audience: &str) -> Option<String> {
        let key = self.dpop_key_for(audience)?;
        let endpoint = &provider.metadata.token_endpoint;
        match key.proof("POST", endpoint, None, provider.now()) {
            Ok(proof) => Some(proof),
            Err(err) => {
                tracing::warn!(error = %err, "no DPoP proof");
                None
            }
        }
    }

    fn cookie(&self, name: &str, value: &str, max_age: Option<i64>) -> String {
        let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
        if let Some(seconds) = max_age {
            cookie.push_str(&format!("; Max-Age={seconds}"));
        }
        if self.secure_cookies {
            cookie.push_str("; Secure");
        }
        cookie
    }

    fn session(&self, headers: &HeaderMap, now: i64) -> Option<(String, Arc<Session>)> {
        let id = cookie_value(headers, SESSION_COOKIE)?;
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        let session = sessions.get(id)?.clone();
        if now - session.started_at > SESSION_TTL_SECONDS {
            sessions.remove(id);
            return None;
        }
        Some((id.to_owned(), session))
    }

    /// End every session of the provider session `sid` (OIDC Back-Channel Logout §2.7); how many.
    fn end_sessions_of(&self, sid: &str) -> usize {
        let mut sessions = self.sessions.lock().unwrap_or_else(PoisonError::into_inner);
        let before = sessions.len();
        sessions.retain(|_, session| session.user.sid.as_deref() != Some(sid));
        before - sessions.len()
    }

    fn end_session(&self, id: &str) -> Option<Arc<Session>> {
        self.sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(id)
    }

    /// The session's access token for the API `audience`: the one held, or, when there is none or it
    /// expires within [`RENEW_BEFORE_SECONDS`], a new one from the refresh token (RFC 8707 §2.2: the
    /// refresh names the API with `resource`). The lock makes concurrent requests of one session share a
    /// single refresh: Latchkey rotates refresh tokens, and presenting a spent one outside its grace
    /// window revokes the whole grant.
    async fn access_token(
        &self,
        provider: &Provider,
        session: &Session,
        audience: &str,
    ) -> Option<AccessToken> {
        let mut tokens = session.tokens.lock().await;
        let now = provider.now();
        let held = tokens.access.get(audience).cloned();
        if let Some(token) = &held
            && token.expires_at - now > RENEW_BEFORE_SECONDS
        {
            return held;
        }
        let still_valid = held.filter(|token| token.expires_at > now);
        let Some(refresh_token) = tokens.refresh_token.clone() else {
            return still_valid;
        };
        let proof = self.token_request_proof(provider, audience);
        let refreshed: Result<TokenResponse, DemoError> = provider
            .post_form_with_proof(
                &provider.metadata.token_endpoint,
                &self.credentials,
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", &refresh_token),
                    ("resource", audience),
                ],
                proof.as_deref(),
            )
            .await;
        match refreshed {
            Ok(response) => {
                let access = AccessToken::from_response(&response, now);
                tokens.access.insert(audience.to_owned(), access.clone());
                // The old refresh token is spent now; keep the new one (RFC 6749 §6).
                if response.refresh_token.is_some() {
                    tokens.refresh_token = response.refresh_token;
                }
                if let Some(id_token) = response.id_token {
                    tokens.id_token = id_token;
                }
                Some(access)
            }
            Err(err) => {
                tracing::warn!(error = %err, "refresh failed");
                // Refused (revoked, expired grant): the session is over once its tokens are.
                if matches!(err, DemoError::Refused(_)) {
                    tokens.refresh_token = None;
                }
                still_valid
            }
        }
    }
}

/// The BFF's routes (the `/app/serviceN` ones are added by the gateway with [`app_route`]).
pub fn routes() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/logout", post(logout))
        .route("/backchannel-logout", post(backchannel_logout))
        .route("/logged-out", get(logged_out))
        .route("/app/me", get(me))
}

const HOME_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Latchkey demo</title></head>
<body>
<h1>Latchkey microservices demo</h1>
<p><a href="/login">Sign in</a> · <a href="/app/me">Who am I?</a></p>
<ul>
<li><a href="/app/service1">/app/service1</a> (Service A, which calls Service D with its own token and on your behalf)</li>
<li><a href="/app/service2">/app/service2</a> (Service B, requires orders:read)</li>
<li><a href="/app/service3">/app/service3</a> (Service C, introspects every reference token)</li>
</ul>
<form method="post" action="/app/service2"><button type="submit">Write an order at Service B</button>
(needs the role orders-admin and a sign-in with a second factor: you are asked for your code)</form>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>
</body></html>
"#;

const SIGNED_OUT_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Signed out</title></head>
<body><h1>Signed out</h1><p><a href="/">Back to the demo</a></p></body></html>
"#;

/// A page with headers that keep it out of caches and frames. Its forms post to the gateway only, but
/// `/logout` answers with a redirect to Latchkey's end-session endpoint, and browsers apply
/// `form-action` to the redirects a form submission follows too (CSP Level 3, `form-action`):
/// `form_target` names that origin.
fn page(html: &'static str, form_target: Option<&str>) -> Response {
    let csp = format!(
        "default-src 'none'; form-action 'self'{}; frame-ancestors 'none'",
        form_target
            .map(|origin| format!(" {origin}"))
            .unwrap_or_default()
    );
    let mut response = ([(header::CACHE_CONTROL, "no-store")], Html(html)).into_response();
    // The origin comes from a parsed URL: no quotes, semicolons or control characters.
    if let Ok(value) = HeaderValue::from_str(&csp) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

async fn home(State(state): State<Arc<Gateway>>) -> Response {
    let end_session = state
        .provider
        .metadata
        .end_session_endpoint
        .as_deref()
        .and_then(|endpoint| url::Url::parse(endpoint).ok())
        .map(|url| url.origin().ascii_serialization());
    page(HOME_PAGE, end_session.as_deref())
}

async fn logged_out() -> Response {
    page(SIGNED_OUT_PAGE, None)
}

/// A JSON error from the BFF itself.
fn failure(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        [(header::CACHE_CONTROL, "no-store")],
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

/// 401 for a browser without a session. The `Cookie` challenge (no standard scheme exists for cookie
/// sessions) tells a frontend where to send the user.
fn not_signed_in() -> Response {
    let mut response = failure(
        StatusCode::UNAUTHORIZED,
        "login_required",
        "sign in at /login first",
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Cookie realm=\"latchkey-demo\", form-action=\"/login\""),
    );
    response
}

/// 256 random bits, base64url.
fn random_value() -> Option<String> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).ok()?;
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

/// The value of cookie `name` in the request.
fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// The body of a back-channel logout request (§2.5).
#[derive(Deserialize)]
struct LogoutRequest {
    logout_token: String,
}

/// `POST /backchannel-logout` (OIDC Back-Channel Logout §2.5–§2.8): verify the logout token and end
/// the sessions of the provider session it names. 200 when done (also when no session was left),
/// 400 with an OAuth error for a token that is not valid. The request comes from Latchkey, never
/// from a browser, so there is no cookie and no CSRF token.
async fn backchannel_logout(
    State(state): State<Arc<Gateway>>,
    axum::extract::Form(request): axum::extract::Form<LogoutRequest>,
) -> Response {
    let verified = state
        .provider
        .verify_logout_token(&request.logout_token, &state.bff.credentials.client_id)
        .await;
    match verified {
        Ok(claims) => {
            let sid = claims.sid.unwrap_or_default();
            let ended = state.bff.end_sessions_of(&sid);
            tracing::info!(sub = ?claims.sub, ended, "back-channel logout");
            ([(header::CACHE_CONTROL, "no-store")], StatusCode::OK).into_response()
        }
        Err(rejected) => failure(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            rejected.description(),
        ),
    }
}

/// `GET /login`: start the authorization code flow.
async fn login(State(state): State<Arc<Gateway>>) -> Response {
    start_login(&state, None, None)
}

/// Send the browser to Latchkey's authorization endpoint, with `acr_values` when a service asked for
/// a stronger sign-in (RFC 9470 §4, OIDC Core §3.1.2.1), and `retry` to send again afterwards.
fn start_login(state: &Gateway, acr_values: Option<&str>, retry: Option<Retry>) -> Response {
    let bff = &state.bff;
    let (Some(login_id), Some(csrf_state), Some(nonce), Some(code_verifier)) = (
        random_value(),
        random_value(),
        random_value(),
        random_value(),
    ) else {
        return no_randomness().into_response();
    };
    let now = state.provider.now();
    {
        let mut pending = bff.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.retain(|_, login| now - login.started_at < LOGIN_TTL_SECONDS);
        if pending.len() >= MAX_PENDING_LOGINS {
            return failure(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "too many sign-ins in progress",
            );
        }
        pending.insert(
            login_id.clone(),
            PendingLogin {
                state: csrf_state.clone(),
                nonce: nonce.clone(),
                code_verifier: code_verifier.clone(),
                started_at: now,
                retry,
            },
        );
    }
    // RFC 7636 §4.2: S256.
    let challenge =
        URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, code_verifier.as_bytes()));
    let Ok(mut url) = url::Url::parse(&state.provider.metadata.authorization_endpoint) else {
        return failure(
            StatusCode::BAD_GATEWAY,
            "server_error",
            "bad authorization_endpoint",
        );
    };
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &bff.credentials.client_id)
        .append_pair("redirect_uri", &bff.redirect_uri)
        .append_pair("scope", &bff.scope)
        .append_pair("state", &csrf_state)
        .append_pair("nonce", &nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    // RFC 8707 §2: the APIs the grant covers; each token will be for one of them.
    for resource in &bff.resources {
        url.query_pairs_mut().append_pair("resource", resource);
    }
    if let Some(acr_values) = acr_values {
        url.query_pairs_mut().append_pair("acr_values", acr_values);
    }
    (
        AppendHeaders([(
            header::SET_COOKIE,
            bff.cookie(LOGIN_COOKIE, &login_id, Some(LOGIN_TTL_SECONDS)),
        )]),
        Redirect::to(url.as_str()),
    )
        .into_response()
}

/// The authorization response (RFC 6749 §4.1.2, RFC 9207).
#[derive(Deserialize)]
struct Callback {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
}

/// `GET /callback`: start a session for the signed-in user and send the browser home.
async fn callback(
    State(state): State<Arc<Gateway>>,
    headers: HeaderMap,
    Query(response): Query<Callback>,
) -> Response {
    match sign_in(&state, &headers, response).await {
        Ok((session_id, retry)) => {
            let cookies = AppendHeaders([
                (
                    header::SET_COOKIE,
                    state.bff.cookie(SESSION_COOKIE, &session_id, None),
                ),
                (
                    header::SET_COOKIE,
                    state.bff.cookie(LOGIN_COOKIE, "", Some(0)),
                ),
            ]);
            // After a step-up, the request that needed it, with the new session's token.
            let answer = match retry {
                Some(retry) => send_again(&state, &session_id, retry).await,
                None => Redirect::to("/").into_response(),
            };
            (cookies, answer).into_response()
        }
        Err(refusal) => refusal.into_response(),
    }
}

/// Send a request refused for too weak a sign-in again, as the new session (once: a second refusal
/// goes back to the browser as it is).
async fn send_again(state: &Gateway, session_id: &str, retry: Retry) -> Response {
    let Some(session) = state
        .bff
        .sessions
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(session_id)
        .cloned()
    else {
        return not_signed_in();
    };
    let mut request = Request::new(Body::from(retry.body));
    *request.method_mut() = retry.method;
    match retry.target.parse() {
        Ok(uri) => *request.uri_mut() = uri,
        Err(_) => return not_signed_in(),
    }
    if let Some(content_type) = retry.content_type {
        request
            .headers_mut()
            .insert(header::CONTENT_TYPE, content_type);
    }
    call_service(state, retry.route, session_id, &session, request).await
}

/// Why a sign-in was refused: a JSON error answer.
struct Refusal {
    status: StatusCode,
    error: String,
    description: &'static str,
}

impl Refusal {
    fn new(status: StatusCode, error: &str, description: &'static str) -> Self {
        Self {
            status,
            error: error.to_owned(),
            description,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        failure(self.status, &self.error, self.description)
    }
}

/// Check that the authorization response answers this browser's request, redeem the code, verify the ID
/// token, and store a session under a new id (never one the browser chose: no fixation).
async fn sign_in(
    state: &Gateway,
    headers: &HeaderMap,
    response: Callback,
) -> Result<(String, Option<Retry>), Refusal> {
    let bff = &state.bff;
    let provider = &state.provider;
    let now = provider.now();
    let pending = cookie_value(headers, LOGIN_COOKIE)
        .and_then(|id| {
            bff.pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(id)
        })
        .filter(|p| now - p.started_at < LOGIN_TTL_SECONDS)
        .ok_or_else(|| {
            bad_request("no sign-in in progress in this browser; start again at /login")
        })?;
    let code = checked_code(&pending, response, &provider.metadata.issuer)?;
    let retry = pending.retry;
    let bad_gateway =
        |description| Refusal::new(StatusCode::BAD_GATEWAY, "server_error", description);
    // RFC 8707 §2.2: the first access token is for the first API; the others come from the refresh token.
    let first_api = bff
        .resources
        .first()
        .map(String::as_str)
        .unwrap_or_default();
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", bff.redirect_uri.as_str()),
        ("code_verifier", pending.code_verifier.as_str()),
    ];
    if !first_api.is_empty() {
        form.push(("resource", first_api));
    }
    let proof = bff.token_request_proof(provider, first_api);
    let tokens: TokenResponse = provider
        .post_form_with_proof(
            &provider.metadata.token_endpoint,
            &bff.credentials,
            &form,
            proof.as_deref(),
        )
        .await
        .map_err(|err| {
            tracing::warn!(error = %err, "code redemption failed");
            bad_gateway("the code could not be redeemed")
        })?;
    let access = AccessToken::from_response(&tokens, now);
    let id_token = tokens
        .id_token
        .ok_or_else(|| bad_gateway("no ID token (is openid granted?)"))?;
    let user = provider
        .verify_id_token(&id_token, &bff.credentials.client_id, &pending.nonce)
        .await
        .map_err(|rejected| {
            tracing::warn!(why = rejected.description(), "ID token refused");
            bad_gateway("the ID token is not valid")
        })?;
    let session_id = random_value().ok_or_else(no_randomness)?;
    tracing::info!(sub = %user.sub, "signed in through the BFF");
    let session = Arc::new(Session {
        user,
        started_at: now,
        tokens: tokio::sync::Mutex::new(Tokens {
            access: HashMap::from([(first_api.to_owned(), access)]),
            refresh_token: tokens.refresh_token,
            id_token,
        }),
    });
    let mut sessions = bff.sessions.lock().unwrap_or_else(PoisonError::into_inner);
    sessions.retain(|_, s| now - s.started_at <= SESSION_TTL_SECONDS);
    if let Some(old) = cookie_value(headers, SESSION_COOKIE) {
        sessions.remove(old);
    }
    sessions.insert(session_id.clone(), session);
    Ok((session_id, retry))
}

/// The code of an authorization response that answers `pending` (RFC 6749 §4.1.2, §10.12; RFC 9207).
fn checked_code(
    pending: &PendingLogin,
    response: Callback,
    issuer: &str,
) -> Result<String, Refusal> {
    // CSRF: the response must answer this browser's request.
    if response.state.as_deref() != Some(pending.state.as_str()) {
        return Err(bad_request(
            "the state does not match the sign-in in progress",
        ));
    }
    // Mix-up defence (RFC 9207 §2.4): Latchkey always sends `iss`.
    if response.iss.as_deref() != Some(issuer) {
        return Err(bad_request(
            "the response does not come from the expected issuer",
        ));
    }
    if let Some(error) = response.error {
        // Only a known shape is echoed, never arbitrary text.
        let error = if error.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') {
            error
        } else {
            "invalid_request".into()
        };
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            &error,
            "Latchkey did not authorize the sign-in",
        ));
    }
    response
        .code
        .ok_or_else(|| bad_request("the response carries no code"))
}

fn bad_request(description: &'static str) -> Refusal {
    Refusal::new(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn no_randomness() -> Refusal {
    Refusal::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "server_error",
        "no randomness",
    )
}

/// `GET /app/me`: who is signed in, from the ID token (never the tokens themselves).
async fn me(State(state): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    match state.bff.session(&headers, state.provider.now()) {
        Some((_, session)) => Json(json!({
            "sub": session.user.sub,
            "preferred_username": session.user.preferred_username,
            "name": session.user.name,
        }))
        .into_response(),
        None => not_signed_in(),
    }
}

/// `/app/serviceN…`: the session's access token for the route's API, obtained or refreshed if needed,
/// checked and forwarded like a bearer request.
pub async fn app_route(state: &Gateway, route: Route, request: Request) -> Response {
    let provider = &state.provider;
    let Some((id, session)) = state.bff.session(request.headers(), provider.now()) else {
        return not_signed_in();
    };
    // The body is kept, in case the service asks for a stronger sign-in and the request must be
    // sent again afterwards.
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, MAX_BODY_BYTES).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let retry = Retry {
        route,
        method: parts.method.clone(),
        target: parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |p| p.as_str().to_owned()),
        content_type: parts.headers.get(header::CONTENT_TYPE).cloned(),
        body: body.clone(),
    };
    let answer = call_service(
        state,
        route,
        &id,
        &session,
        Request::from_parts(parts, Body::from(body)),
    )
    .await;
    // RFC 9470 §4: the service wants a stronger sign-in; ask Latchkey for it (only the missing
    // factor is asked), then send the request again.
    match step_up_asked(&answer) {
        Some(acr_values) => start_login(state, Some(&acr_values), Some(retry)),
        None => answer,
    }
}

/// The `acr_values` of an RFC 9470 `insufficient_user_authentication` challenge, if `answer` is one.
fn step_up_asked(answer: &Response) -> Option<String> {
    if answer.status() != StatusCode::UNAUTHORIZED {
        return None;
    }
    let challenge = answer
        .headers()
        .get(header::WWW_AUTHENTICATE)?
        .to_str()
        .ok()?;
    if !challenge.contains("error=\"insufficient_user_authentication\"") {
        return None;
    }
    let start = challenge.find("acr_values=\"")? + "acr_values=\"".len();
    let values = &challenge[start..][..challenge[start..].find('"')?];
    // Only what an `acr` URN is made of travels on to Latchkey.
    values
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'.' | b'-' | b'_' | b' '))
        .then(|| values.to_owned())
}

/// The session's token for the route's API, checked and forwarded.
async fn call_service(
    state: &Gateway,
    route: Route,
    id: &str,
    session: &Session,
    request: Request,
) -> Response {
    let provider = &state.provider;
    let audience = &state.upstreams.of(route).audience;
    let Some(token) = state.bff.access_token(provider, session, audience).await else {
        state.bff.end_session(id);
        return not_signed_in();
    };
    let dpop = if token.dpop {
        state.bff.dpop_key()
    } else {
        None
    };
    match check(state, route, &token.token).await {
        Ok(claims) => forward(state, route, request, &token.token, claims.as_ref(), dpop).await,
        Err(rejected) => {
            tracing::warn!(
                why = rejected.description(),
                "the session's access token was refused"
            );
            state.bff.end_session(id);
            not_signed_in()
        }
    }
}

/// `POST /logout` (POST, so that with `SameSite=Lax` another site cannot sign the user out): end the
/// session, revoke its refresh token, and send the browser to Latchkey's end-session endpoint
/// (OIDC RP-Initiated Logout 1.0 §2) with `id_token_hint` and the registered post-logout URI.
async fn logout(State(state): State<Arc<Gateway>>, headers: HeaderMap) -> Response {
    let bff = &state.bff;
    let provider = &state.provider;
    let clear = AppendHeaders([(header::SET_COOKIE, bff.cookie(SESSION_COOKIE, "", Some(0)))]);
    let session = cookie_value(&headers, SESSION_COOKIE).and_then(|id| bff.end_session(id));
    let Some(session) = session else {
        return (clear, Redirect::to("/logged-out")).into_response();
    };
    let tokens = session.tokens.lock().await;
    // RFC 7009: revoking the refresh token revokes its grant, so the tokens die with the session.
    if let (Some(endpoint), Some(refresh_token)) = (
        &provider.metadata.revocation_endpoint,
        &tokens.refresh_token,
    ) && let Err(err) = provider
        .post(
            endpoint,
            &bff.credentials,
            &[
                ("token", refresh_token),
                ("token_type_hint", "refresh_token"),
            ],
        )
        .await
    {
        tracing::warn!(error = %err, "could not revoke the refresh token at logout");
    }
    let end_session = provider
        .metadata
        .end_session_endpoint
        .as_deref()
        .and_then(|endpoint| url::Url::parse(endpoint).ok());
    let Some(mut url) = end_session else {
        return (clear, Redirect::to("/logged-out")).into_response();
    };
    url.query_pairs_mut()
        .append_pair("id_token_hint", &tokens.id_token)
        .append_pair("post_logout_redirect_uri", &bff.post_logout_redirect_uri)
        .append_pair("state", &random_value().unwrap_or_default());
    (clear, Redirect::to(url.as_str())).into_response()
}
