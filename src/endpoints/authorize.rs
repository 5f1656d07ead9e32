//! `GET/POST /authorize`: the authorization endpoint (RFC 6749 §4.1.1, RFC 7636, OIDC Core §3.1.2).
//!
//! The client and redirect URI are checked first; when either is bad an error page is shown and the
//! browser is NEVER redirected. Every later error is redirected to the client (RFC 6749 §4.1.2.1) with
//! `iss` (RFC 9207). A valid request is kept server-side in the session while the user signs in and
//! consents, so nothing a user could edit into an open redirect ever travels through the browser.

use std::collections::HashMap;

use axum::extract::{Form, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use super::page::PageError;
use super::session::{BrowserSession, SignedIn};
use crate::domain::grant::{AuthorizationCode, CODE_PREFIX, USER_GRANT_PREFIX};
use crate::domain::pkce::is_valid_s256_challenge;
use crate::domain::scope::ScopeSet;
use crate::domain::secret::{TokenHash, random_string, random_token};
use crate::error::ErrorCode;
use crate::paths::{CONSENT_PATH, LOGIN_PATH};
use crate::state::AppState;

/// OIDC Core §3.1.2.1 `prompt` values Latchkey honours.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Prompt {
    /// `none`: never show a page.
    pub none: bool,
    /// `login`: authenticate again.
    pub login: bool,
    /// `consent`: ask again.
    pub consent: bool,
}

/// A validated authorization request, kept in the session while the user signs in and consents.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingAuthorization {
    /// Random id carried by the consent form, so a stale tab cannot approve a newer request.
    pub id: String,
    /// The client.
    pub client_id: String,
    /// The redirect URI as presented (it matched a registered one).
    pub redirect_uri: String,
    /// Requested scope.
    pub scope: String,
    /// Opaque client state, echoed back.
    pub state: Option<String>,
    /// OIDC nonce.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// `prompt`.
    pub prompt: Prompt,
    /// `max_age` in seconds.
    pub max_age: Option<i64>,
    /// `login_hint`, to prefill the username.
    pub login_hint: Option<String>,
    /// When the request arrived.
    pub created_at: i64,
    /// Set when the user signed in on the login page for this request: satisfies `prompt=login`.
    pub authenticated: bool,
    /// Set once the user allowed this request on the consent page.
    pub consented: bool,
}

/// What the user agent is told to do next.
pub enum Outcome {
    /// Show the login page.
    Login,
    /// Show the consent page.
    Consent,
    /// Redirect to the client (with a code or an error).
    Client(String),
}

impl Outcome {
    /// The 303 redirect for this outcome.
    pub fn into_response(self, state: &AppState) -> Response {
        let location = match self {
            Self::Login => state.settings.issuer.endpoint(LOGIN_PATH),
            Self::Consent => state.settings.issuer.endpoint(CONSENT_PATH),
            Self::Client(url) => url,
        };
        Redirect::to(&location).into_response()
    }
}

/// Build the client redirect: the registered URI plus response parameters (RFC 6749 §4.1.2) and `iss`
/// (RFC 9207 §2). The URI's own query is kept.
pub fn client_redirect(redirect_uri: &str, params: &[(&str, &str)], issuer: &str) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (name, value) in params {
                    query.append_pair(name, value);
                }
                query.append_pair("iss", issuer);
            }
            url.to_string()
        }
        // Registered URIs were validated as absolute; this branch is unreachable in practice.
        Err(_) => redirect_uri.to_owned(),
    }
}

/// An RFC 6749 §4.1.2.1 error sent back to the client.
pub fn error_redirect(
    state: &AppState,
    pending: &PendingAuthorization,
    code: ErrorCode,
    description: &str,
) -> Outcome {
    let mut params = vec![("error", code.as_str()), ("error_description", description)];
    if let Some(client_state) = &pending.state {
        params.push(("state", client_state));
    }
    Outcome::Client(client_redirect(
        &pending.redirect_uri,
        &params,
        state.settings.issuer.as_str(),
    ))
}

/// Collect parameters, refusing repeats (RFC 6749 §3.1: parameters MUST NOT be included more than once).
fn collect(pairs: Vec<(String, String)>) -> (HashMap<String, String>, Option<String>) {
    let mut params = HashMap::new();
    let mut repeated = None;
    for (name, value) in pairs {
        match params.entry(name) {
            std::collections::hash_map::Entry::Occupied(entry) => {
                repeated.get_or_insert_with(|| entry.key().clone());
            }
            std::collections::hash_map::Entry::Vacant(entry) => {
                entry.insert(value);
            }
        }
    }
    (params, repeated)
}

/// `GET /authorize`.
pub async fn authorize_get(
    State(state): State<AppState>,
    session: BrowserSession,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect();
    authorize(state, session, pairs).await
}

/// `POST /authorize` (OIDC Core §3.1.2.1: form-serialised parameters).
pub async fn authorize_post(
    State(state): State<AppState>,
    session: BrowserSession,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    authorize(state, session, pairs).await
}

async fn authorize(
    state: AppState,
    session: BrowserSession,
    pairs: Vec<(String, String)>,
) -> Response {
    let now = state.clock.now();
    let pending = match validate(&state, pairs, now).await {
        Ok(Ok(pending)) => pending,
        Ok(Err(outcome)) => return outcome.into_response(&state),
        Err(page) => return page.into_response(),
    };
    match resume(&state, &session, pending).await {
        Ok(outcome) => outcome.into_response(&state),
        Err(page) => page.into_response(),
    }
}

fn bad_client(message: &str) -> PageError {
    PageError::bad_request("Invalid sign-in request", message)
}

/// Check the request. `Err` is a page (bad client / redirect URI); `Ok(Err)` an error for the client.
async fn validate(
    state: &AppState,
    pairs: Vec<(String, String)>,
    now: i64,
) -> Result<Result<PendingAuthorization, Outcome>, PageError> {
    let (params, repeated) = collect(pairs);
    let get = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };

    // RFC 6749 §4.1.2.1: never redirect when the client or redirect URI is in doubt.
    if matches!(repeated.as_deref(), Some("client_id" | "redirect_uri")) {
        return Err(bad_client("The request repeats client_id or redirect_uri."));
    }
    let client_id = get("client_id").ok_or_else(|| bad_client("The request has no client_id."))?;
    let client = state
        .clients
        .find(state.store.as_ref(), client_id, now)
        .await?
        .ok_or_else(|| {
            bad_client("The application that sent you here is not registered (unknown client_id).")
        })?;
    let redirect_uri = match get("redirect_uri") {
        Some(presented) => client
            .redirect_uri(presented)
            .map(|_| presented.to_owned())
            .ok_or_else(|| {
                bad_client("The redirect_uri is not registered for this application.")
            })?,
        // RFC 6749 §3.1.2.3: may be omitted only when exactly one is registered; OIDC requires it.
        None if client.redirect_uris.len() == 1
            && !get("scope")
                .unwrap_or_default()
                .split(' ')
                .any(|s| s == "openid") =>
        {
            client.redirect_uris[0].as_str().to_owned()
        }
        None => return Err(bad_client("The request has no redirect_uri.")),
    };

    let mut pending = PendingAuthorization {
        id: random_string(16),
        client_id: client.client_id.to_string(),
        redirect_uri,
        scope: String::new(),
        state: get("state").map(str::to_owned),
        nonce: get("nonce").map(str::to_owned),
        code_challenge: None,
        prompt: Prompt::default(),
        max_age: None,
        login_hint: get("login_hint").map(str::to_owned),
        created_at: now,
        authenticated: false,
        consented: false,
    };
    let fail = |pending: &PendingAuthorization, code: ErrorCode, why: &str| {
        Ok(Err(error_redirect(state, pending, code, why)))
    };

    if let Some(name) = repeated {
        return fail(
            &pending,
            ErrorCode::InvalidRequest,
            &format!("{} is repeated", super::extract::quoted_name(&name)),
        );
    }
    // OIDC Core §6: request objects are not supported.
    if params.contains_key("request") || params.contains_key("request_uri") {
        let code = if params.contains_key("request") {
            ErrorCode::RequestNotSupported
        } else {
            ErrorCode::RequestUriNotSupported
        };
        return fail(&pending, code, "request objects are not supported");
    }
    match get("response_type") {
        Some("code") => {}
        None => {
            return fail(
                &pending,
                ErrorCode::InvalidRequest,
                "response_type is required",
            );
        }
        Some(_) => {
            return fail(
                &pending,
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            );
        }
    }
    if get("response_mode").is_some_and(|mode| mode != "query") {
        return fail(
            &pending,
            ErrorCode::InvalidRequest,
            "only response_mode=query is supported",
        );
    }
    let Ok(scope) = ScopeSet::parse(get("scope").unwrap_or_default()) else {
        return fail(&pending, ErrorCode::InvalidScope, "the scope is malformed");
    };
    if scope.is_empty() {
        return fail(&pending, ErrorCode::InvalidScope, "scope is required");
    }
    if !scope.is_subset(&client.scopes) {
        let extra: Vec<&str> = scope.difference(&client.scopes).collect();
        return fail(
            &pending,
            ErrorCode::InvalidScope,
            &format!("the client may not request: {}", extra.join(" ")),
        );
    }
    pending.scope = scope.to_string();

    // RFC 7636 §4.3, RFC 9700 §2.1.1: S256 only, required for public clients and by default for all.
    match (get("code_challenge"), get("code_challenge_method")) {
        (Some(challenge), Some("S256")) if is_valid_s256_challenge(challenge) => {
            pending.code_challenge = Some(challenge.to_owned());
        }
        (Some(_), Some("S256")) => {
            return fail(
                &pending,
                ErrorCode::InvalidRequest,
                "code_challenge is malformed",
            );
        }
        (Some(_), _) => {
            return fail(
                &pending,
                ErrorCode::InvalidRequest,
                "code_challenge_method must be S256 (plain is not allowed)",
            );
        }
        (None, Some(_)) => {
            return fail(
                &pending,
                ErrorCode::InvalidRequest,
                "code_challenge is required with code_challenge_method",
            );
        }
        (None, None) if client.require_pkce => {
            return fail(
                &pending,
                ErrorCode::InvalidRequest,
                "PKCE is required: send code_challenge with code_challenge_method=S256",
            );
        }
        (None, None) => {}
    }

    // OIDC Core §3.1.2.1 prompt: space-delimited; `none` must stand alone.
    for value in get("prompt")
        .unwrap_or_default()
        .split(' ')
        .filter(|v| !v.is_empty())
    {
        match value {
            "none" => pending.prompt.none = true,
            "login" => pending.prompt.login = true,
            "consent" => pending.prompt.consent = true,
            "select_account" => {}
            _ => {
                return fail(
                    &pending,
                    ErrorCode::InvalidRequest,
                    "prompt has an unknown value",
                );
            }
        }
    }
    if pending.prompt.none && (pending.prompt.login || pending.prompt.consent) {
        return fail(
            &pending,
            ErrorCode::InvalidRequest,
            "prompt=none cannot be combined with other values",
        );
    }
    if let Some(raw) = get("max_age") {
        match raw.parse::<i64>() {
            Ok(seconds) if seconds >= 0 => pending.max_age = Some(seconds),
            _ => {
                return fail(
                    &pending,
                    ErrorCode::InvalidRequest,
                    "max_age must be a non-negative integer",
                );
            }
        }
    }
    let too_long = [&pending.state, &pending.nonce, &pending.login_hint]
        .iter()
        .any(|v| v.as_ref().is_some_and(|v| v.len() > 2048));
    if too_long {
        return fail(
            &pending,
            ErrorCode::InvalidRequest,
            "state, nonce or login_hint is too long",
        );
    }
    Ok(Ok(pending))
}

/// Continue a pending authorization: sign-in, then consent, then a code — whichever is still needed.
pub async fn resume(
    state: &AppState,
    session: &BrowserSession,
    pending: PendingAuthorization,
) -> Result<Outcome, PageError> {
    let now = state.clock.now();
    let Some(client) = state
        .clients
        .find(state.store.as_ref(), &pending.client_id, now)
        .await?
    else {
        session.clear_pending().await?;
        return Err(bad_client(
            "The application that sent you here is no longer registered.",
        ));
    };

    let signed_in = match session.signed_in().await? {
        Some(signed_in) => active_user(state, signed_in).await?,
        None => None,
    };
    let fresh_enough = |s: &SignedIn| {
        (pending.authenticated || !pending.prompt.login)
            && pending.max_age.is_none_or(|max| now - s.auth_time <= max)
    };
    let Some(user) = signed_in.filter(|(s, _)| fresh_enough(s)) else {
        if pending.prompt.none {
            session.clear_pending().await?;
            return Ok(error_redirect(
                state,
                &pending,
                ErrorCode::LoginRequired,
                "the user is not signed in",
            ));
        }
        session.set_pending(&pending).await?;
        return Ok(Outcome::Login);
    };
    let (signed_in, user_id) = user;

    let requested = ScopeSet::parse(&pending.scope).unwrap_or_default();
    if !client.skip_consent && !pending.consented {
        let remembered = state
            .store
            .find_consent(&user_id, client.client_id.as_str())
            .await?
            .and_then(|scope| ScopeSet::parse(&scope).ok())
            .unwrap_or_default();
        if pending.prompt.consent || !requested.is_subset(&remembered) {
            if pending.prompt.none {
                session.clear_pending().await?;
                return Ok(error_redirect(
                    state,
                    &pending,
                    ErrorCode::ConsentRequired,
                    "the user has not consented",
                ));
            }
            session.set_pending(&pending).await?;
            return Ok(Outcome::Consent);
        }
    }

    let code = random_token(CODE_PREFIX);
    state
        .store
        .create_authorization_code(&AuthorizationCode {
            code_hash: TokenHash::of(&code),
            grant_id: format!("{USER_GRANT_PREFIX}{}", random_string(16)),
            client_id: pending.client_id.clone(),
            user_id,
            redirect_uri: pending.redirect_uri.clone(),
            scope: requested,
            nonce: pending.nonce.clone(),
            code_challenge: pending.code_challenge.clone(),
            auth_time: signed_in.auth_time,
            created_at: now,
            expires_at: now + state.settings.lifetimes.authorization_code,
            consumed_at: None,
        })
        .await?;
    session.clear_pending().await?;
    let mut params = vec![("code", code.as_str())];
    if let Some(client_state) = &pending.state {
        params.push(("state", client_state));
    }
    Ok(Outcome::Client(client_redirect(
        &pending.redirect_uri,
        &params,
        state.settings.issuer.as_str(),
    )))
}

/// The session's user, if they still exist and are not disabled.
async fn active_user(
    state: &AppState,
    signed_in: SignedIn,
) -> Result<Option<(SignedIn, String)>, PageError> {
    Ok(state
        .store
        .find_user(&signed_in.user_id)
        .await?
        .filter(|user| !user.disabled)
        .map(|user| (signed_in, user.user_id.to_string())))
}

/// Shown when a login or consent form arrives with no authorization request waiting.
pub fn no_pending_request() -> Response {
    PageError {
        status: StatusCode::BAD_REQUEST,
        title: "Nothing to continue",
        message: "This sign-in request has expired or was already completed. Go back to the application and start again.".into(),
        retry_after: None,
    }
    .into_response()
}
