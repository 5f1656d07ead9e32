//! THE route table, its layers, and `serve`.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, MatchedPath, State};
use axum::http::{HeaderName, HeaderValue, Request, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::Issuer;
use crate::endpoints::admin::openapi;
use crate::endpoints::session::{self, StoreSessions};
use crate::endpoints::{
    account, admin, authorize, consent, device, device_authorization, discovery, health,
    introspect, jwks, login, logout, metrics, page, par, passkey, register, revoke, second_factor,
    token, userinfo,
};
use crate::metrics::{Metrics, UNMATCHED_ROUTE};
use crate::paths::*;
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids: 96 random bits, echoed in `x-request-id` and attached to every log line of the request.
#[derive(Clone, Copy, Default)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _request: &Request<B>) -> Option<RequestId> {
        let id = crate::domain::secret::random_string(12);
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// THE route table, with its layers. Every route lives under the issuer's path (OIDC Discovery §4:
/// the configuration is at `<issuer>/.well-known/openid-configuration`), so an issuer such as
/// `https://id.example.com/tenant` needs no path-stripping proxy.
pub fn router(state: AppState) -> Router {
    let https = state.settings.issuer.is_https();
    let prefix = state.settings.issuer.path().to_owned();
    let sessions =
        SessionManagerLayer::new(StoreSessions::new(state.store.clone(), state.clock.clone()))
            .with_name("latchkey_session")
            .with_http_only(true)
            .with_same_site(SameSite::Lax)
            .with_secure(https)
            // The cookie goes only to this issuer's paths, not to other tenants on the same host.
            .with_path(state.settings.issuer.cookie_path())
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
            OTP_PATH,
            get(second_factor::otp_page).post(second_factor::otp_submit),
        )
        .route(
            OTP_SETUP_PATH,
            get(second_factor::setup_page).post(second_factor::setup_submit),
        )
        .route(OTP_CONTINUE_PATH, post(second_factor::continue_submit))
        .route(PASSKEY_OPTIONS_PATH, post(passkey::options))
        .route(
            PASSKEY_SETUP_PATH,
            get(passkey::setup_page).post(passkey::setup_submit),
        )
        .route(OTP_PASSKEY_PATH, post(passkey::second_factor_submit))
        .route(LOGIN_PASSKEY_PATH, post(passkey::sign_in_submit))
        .route(
            ACCOUNT_PATH,
            get(account::account_page).post(account::account_submit),
        )
        .route(
            CONSENT_PATH,
            get(consent::consent_page).post(consent::consent_submit),
        )
        .route(
            END_SESSION_PATH,
            get(logout::end_session_get).post(logout::end_session_post),
        )
        .route(
            DEVICE_PATH,
            get(device::device_page).post(device::device_submit),
        )
        .layer(sessions)
        .layer(axum::middleware::from_fn(
            session::unavailable_when_save_fails,
        ));
    let (admin_routes, admin_document) = admin_api(&state.settings.issuer);
    // The OAuth API and the admin API: every answer, errors included, is `Cache-Control: no-store`
    // (RFC 6749 §5.1, RFC 7662 §2.2, RFC 6750 §3 and OIDC Core §5.3.2 responses carry tokens or
    // personal data; the admin API's, secrets and personal data).
    let api = Router::new()
        .route(TOKEN_PATH, post(token::token))
        .route(INTROSPECT_PATH, post(introspect::introspect))
        .route(REVOKE_PATH, post(revoke::revoke))
        .route(PAR_PATH, post(par::par))
        .route(
            DEVICE_AUTHORIZATION_PATH,
            post(device_authorization::device_authorization),
        )
        .route(
            USERINFO_PATH,
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .merge(admin_routes);
    // RFC 7591 §3 / RFC 7592 §2: served (and advertised) unless `--registration off`.
    let api = if state.settings.registration.is_enabled() {
        api.route(REGISTER_PATH, post(register::register)).route(
            REGISTRATION_CLIENT_PATH,
            get(register::read)
                .put(register::replace)
                .delete(register::delete),
        )
    } else {
        api
    };
    let api = api
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::PRAGMA,
            HeaderValue::from_static("no-cache"),
        ));
    let routes = Router::new()
        .route(OPENID_CONFIGURATION_PATH, get(discovery::metadata))
        .route(OAUTH_METADATA_PATH, get(discovery::metadata))
        .route(JWKS_PATH, get(jwks::jwks))
        .merge(api)
        .route(
            ADMIN_OPENAPI_PATH,
            get(move || async move { admin_document.response() }),
        )
        .route(STYLESHEET_PATH, get(page::stylesheet))
        .route(PASSKEY_SCRIPT_PATH, get(page::passkey_script))
        .route(HEALTHZ_PATH, get(health::healthz))
        .route(READYZ_PATH, get(health::readyz))
        .merge(pages);
    // `/metrics` beside the OAuth endpoints, unless it has an address of its own (`metrics_router`).
    let routes = if state.settings.metrics_bind.is_none() {
        routes.route(METRICS_PATH, get(metrics::metrics))
    } else {
        routes
    };
    let routes = if prefix.is_empty() {
        routes
    } else {
        Router::new()
            .nest(&prefix, routes)
            // RFC 8414 §3.1: the metadata of an issuer with a path is at the host's root, with the
            // well-known segment inserted before the path.
            .route(
                &format!("{OAUTH_METADATA_PATH}{prefix}"),
                get(discovery::metadata),
            )
    };
    let counted = state.metrics.clone();
    let mut app = routes
        .with_state(state)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(counted, count_request));
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

/// The admin API's routes (`/admin/v1/…`) and its OpenAPI document. `routes!` registers each
/// handler at the path and methods of its `#[utoipa::path]` and adds that operation to the document,
/// so a route cannot be served undocumented nor documented unserved. The handlers of one `routes!`
/// share one path.
fn admin_api(issuer: &Issuer) -> (Router<AppState>, openapi::Document) {
    use admin::{
        apis, audit_events, clients, configuration, groups, registration_tokens, roles, scopes,
        users,
    };
    let (routes, document) = OpenApiRouter::with_openapi(openapi::frame())
        .routes(routes!(clients::list_clients, clients::create_client))
        .routes(routes!(
            clients::show_client,
            clients::update_client,
            clients::delete_client
        ))
        .routes(routes!(clients::rotate_client_secret))
        .routes(routes!(roles::add_client_role, roles::remove_client_role))
        .routes(routes!(users::list_users, users::create_user))
        .routes(routes!(users::show_user, users::delete_user))
        .routes(routes!(users::set_user_password))
        .routes(routes!(users::disable_user))
        .routes(routes!(users::enable_user))
        .routes(routes!(users::revoke_user_sessions))
        .routes(routes!(users::reset_user_mfa))
        .routes(routes!(roles::add_user_role, roles::remove_user_role))
        .routes(routes!(apis::list_apis, apis::create_api))
        .routes(routes!(apis::show_api, apis::update_api, apis::delete_api))
        .routes(routes!(scopes::list_scopes, scopes::create_scope))
        .routes(routes!(scopes::delete_scope))
        .routes(routes!(roles::list_roles, roles::create_role))
        .routes(routes!(
            roles::show_role,
            roles::update_role,
            roles::delete_role
        ))
        .routes(routes!(groups::list_groups, groups::create_group))
        .routes(routes!(groups::show_group, groups::delete_group))
        .routes(routes!(
            groups::add_group_member,
            groups::remove_group_member
        ))
        .routes(routes!(groups::add_group_role, groups::remove_group_role))
        .routes(routes!(scopes::list_keys))
        .routes(routes!(scopes::rotate_key))
        .routes(routes!(
            registration_tokens::list_registration_tokens,
            registration_tokens::create_registration_token
        ))
        .routes(routes!(registration_tokens::revoke_registration_token))
        .routes(routes!(audit_events::list_audit_events))
        .routes(routes!(configuration::export))
        // A configuration may be large: its body limit is its own (read once the caller is an admin).
        .merge(
            OpenApiRouter::new()
                .routes(routes!(configuration::apply))
                .layer(DefaultBodyLimit::max(configuration::MAX_APPLY_BYTES)),
        )
        .split_for_parts();
    let document = openapi::complete(document, issuer);
    (routes, openapi::Document::render(&document))
}

/// Count a request in the metrics under its route template (`MatchedPath`, never the raw path),
/// method and status class, with its latency.
async fn count_request(
    State(metrics): State<Arc<Metrics>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    // The template's `Arc<str>` is shared with the router: cloning it copies no text.
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    metrics.request(
        route.as_ref().map_or(UNMATCHED_ROUTE, MatchedPath::as_str),
        &method,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// `/metrics` alone, for `--metrics-bind`: a listener of its own (at the root, whatever the issuer's
/// path), so that the scraper can reach it on an address the public cannot.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route(METRICS_PATH, get(metrics::metrics))
        .with_state(state)
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

/// Serve plain HTTP until Ctrl-C / SIGTERM, then drain in-flight requests.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState) -> std::io::Result<()> {
    serve_on(crate::tls::Listener::plain(listener)?, state).await
}

/// Serve on a plain or TLS listener until Ctrl-C / SIGTERM, then drain in-flight requests; the
/// background tasks (logout delivery, key refresh, housekeeping) run meanwhile.
pub async fn serve_on(listener: crate::tls::Listener, state: AppState) -> std::io::Result<()> {
    let deliverer = crate::logout_delivery::Deliverer::new(
        state.store.clone(),
        state.keys.clone(),
        state.settings.clone(),
        state.clients.clone(),
        state.clock.clone(),
        state.metrics.clone(),
    )
    .map_err(std::io::Error::other)?
    .spawn(state.logouts.clone());
    let refresh = state.keys.clone().spawn_refresh(
        state.store.clone(),
        state.clock.clone(),
        state.settings.key_refresh_interval,
    );
    let housekeeping = crate::housekeeping::spawn(
        state.store.clone(),
        state.clock.clone(),
        state.metrics.clone(),
        state.settings.clone(),
    );
    let revocations = state
        .revocations
        .clone()
        .spawn(state.store.clone(), state.clock.clone());
    let issuance_log = state.issuance_log.clone();
    let proxy = state.settings.transport.proxy.clone();
    let result = crate::tls::serve(listener, router(state), proxy, shutdown_signal()).await;
    // Token-issuance audit events still queued are written before the process ends.
    if let Some(log) = &issuance_log {
        log.flush().await;
    }
    refresh.abort();
    housekeeping.abort();
    deliverer.abort();
    revocations.abort();
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
