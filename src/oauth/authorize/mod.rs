//! The authorization endpoint's decisions (RFC 6749 §4.1.1, RFC 7636, OIDC Core §3.1.2, RFC 8252).
//!
//! [`start`] turns the raw parameters into a [`PendingAuthorization`]: the client and redirect URI are
//! checked first, and when either is in doubt the answer is a page, never a redirect. [`next_step`] is
//! the pure decision — sign in, consent, or issue a code — over the pending request, the browser's
//! sign-in and the remembered consent; [`resume`] gathers those and acts on it.

mod request;

pub use request::{quoted_name, validate};

use request::collect;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::resource::{entitled_scope, has_rbac_scope};
use super::{Context, active_user};
use crate::audit;
use crate::domain::api::Audience;
use crate::domain::audit::{AuditEvent, EventType};
use crate::domain::authn::{Acr, Authentication};
use crate::domain::claims_request::ClaimsRequest;
use crate::domain::client::{Client, ClientId, GrantType};
use crate::domain::grant::{AuthorizationCode, CODE_PREFIX, GrantId, GrantKind};
use crate::domain::scope::ScopeSet;
use crate::domain::secret::{TokenHash, random_token};
use crate::domain::user::UserId;
use crate::error::{AuthorizeError, ErrorCode};

/// How long a user has to sign in and consent before the request must be started again.
pub const PENDING_TTL: i64 = 10 * 60;

/// The longest `state`, `nonce` or `login_hint` accepted.
pub const MAX_ECHOED_LEN: usize = 2048;

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

/// A validated authorization request, kept server-side in the browser session while the user signs
/// in and consents, so nothing a user could edit into an open redirect travels through the browser.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingAuthorization {
    /// Random id carried by the consent form, so a stale tab cannot approve a newer request.
    pub id: String,
    /// The client.
    pub client_id: String,
    /// The redirect URI as presented (it matched a registered one), or the one registered URI.
    pub redirect_uri: String,
    /// Whether the request carried `redirect_uri` (RFC 6749 §4.1.3 then requires it at the token endpoint).
    pub redirect_uri_sent: bool,
    /// Requested scope.
    pub scope: String,
    /// The APIs the authorization covers (RFC 8707 `resource`, or inferred from the scopes).
    #[serde(default)]
    pub resources: Vec<String>,
    /// Opaque client state, echoed back.
    pub state: Option<String>,
    /// OIDC nonce.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// RFC 9449 §10 `dpop_jkt`: the DPoP key the code will be bound to.
    #[serde(default)]
    pub dpop_jkt: Option<String>,
    /// `prompt`.
    pub prompt: Prompt,
    /// `max_age` in seconds.
    pub max_age: Option<i64>,
    /// OIDC Core §3.1.2.1 `acr_values`: the first level asked for that Latchkey defines.
    #[serde(default)]
    pub acr: Option<String>,
    /// OIDC Core §5.5 `claims`: the claims asked for one by one (only those Latchkey understands
    /// and the client may be given); its `acr` requests are already folded into [`Self::acr`].
    #[serde(default)]
    pub claims: Option<ClaimsRequest>,
    /// `login_hint`, to prefill the username.
    pub login_hint: Option<String>,
    /// When the request arrived.
    pub created_at: i64,
    /// The user who signed in on the login page for THIS request: satisfies `prompt=login` and
    /// `max_age` for that user only.
    pub authenticated_as: Option<String>,
    /// The user who allowed this request on the consent page: it counts for that user only.
    pub consented_by: Option<String>,
}

impl PendingAuthorization {
    /// Record that `user_id` signed in on the login page for this request. A consent given by
    /// someone else mid-flow does not carry over to them.
    pub fn signed_in_as(mut self, user_id: &str) -> Self {
        if self.consented_by.as_deref() != Some(user_id) {
            self.consented_by = None;
        }
        self.authenticated_as = Some(user_id.to_owned());
        self
    }

    /// What consenting to this request covers: its scopes, and the scopes of the claims it asks
    /// for one by one (OIDC Core §5.5), so a remembered consent counts for them and consent to
    /// them is remembered.
    pub fn consent_scope(&self) -> ScopeSet {
        let requested = ScopeSet::parse(&self.scope).unwrap_or_default();
        let by_claims = self.claims.iter().flat_map(ClaimsRequest::scopes);
        requested
            .iter()
            .map(str::to_owned)
            .chain(by_claims.map(str::to_owned))
            .collect()
    }

    fn fail(&self, code: ErrorCode, description: impl Into<String>) -> AuthorizeError {
        AuthorizeError::Redirect {
            redirect_uri: self.redirect_uri.clone(),
            state: self.state.clone(),
            code,
            description: description.into(),
        }
    }
}

/// The browser's signed-in user, as the session records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignIn {
    /// The user's `sub`.
    pub user_id: UserId,
    /// When they authenticated (OIDC Core §2 `auth_time`).
    pub auth_time: i64,
    /// How they authenticated (RFC 8176 `amr`, and so the `acr`).
    pub authentication: Authentication,
    /// The session's `sid` (OIDC Back-Channel Logout §2.1), carried into the code.
    pub sid: Option<String>,
}

/// What the request needs next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Show the login page.
    Login,
    /// The user is signed in, but less strongly than the request needs: ask for the second factor.
    SecondFactor,
    /// Show the consent page.
    Consent,
    /// Issue a code to this signed-in user.
    IssueCode,
}

/// What the user agent is told to do next.
#[derive(Debug)]
pub enum Outcome {
    /// Keep the request and show the login page.
    Login(PendingAuthorization),
    /// Keep the request and ask the signed-in user for their second factor (or to enrol one).
    SecondFactor(PendingAuthorization),
    /// Keep the request and show the consent page.
    Consent(PendingAuthorization),
    /// The request is finished: redirect to the client (RFC 6749 §4.1.2) with a code.
    Redirect(String),
}

/// Build the client redirect: the redirect URI plus response parameters (RFC 6749 §4.1.2) and `iss`
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

/// RFC 6749 §4.1.2.1: where an error is sent back to the client, with `error_description`, `state`
/// and `iss`. `None` for errors shown as a page.
pub fn error_location(err: &AuthorizeError, issuer: &str) -> Option<String> {
    let AuthorizeError::Redirect {
        redirect_uri,
        state,
        code,
        description,
    } = err
    else {
        return None;
    };
    let mut params = vec![
        ("error", code.as_str()),
        ("error_description", description.as_str()),
    ];
    if let Some(state) = state {
        params.push(("state", state));
    }
    Some(client_redirect(redirect_uri, &params, issuer))
}

const UNKNOWN_CLIENT: &str =
    "The application that sent you here is not registered (unknown client_id).";

/// RFC 6749 §4.1.1: check an authorization request's client and parameters.
pub async fn start(
    ctx: &Context<'_>,
    pairs: Vec<(String, String)>,
) -> Result<PendingAuthorization, AuthorizeError> {
    let (params, repeated) = collect(pairs);
    // RFC 6749 §4.1.2.1: never redirect when the client or redirect URI is in doubt.
    if matches!(repeated.as_deref(), Some("client_id" | "redirect_uri")) {
        return Err(AuthorizeError::BadClient(
            "The request repeats client_id or redirect_uri.",
        ));
    }
    let raw_id = params
        .get("client_id")
        .filter(|v| !v.is_empty())
        .ok_or(AuthorizeError::BadClient("The request has no client_id."))?;
    // Parsed at the edge: a malformed id (control characters, NUL) never reaches the store.
    let client_id =
        ClientId::parse(raw_id).map_err(|_| AuthorizeError::BadClient(UNKNOWN_CLIENT))?;
    let client = ctx
        .clients
        .find(ctx.store, &client_id, ctx.now)
        .await?
        .ok_or(AuthorizeError::BadClient(UNKNOWN_CLIENT))?;
    let catalog = ctx.catalog.get(ctx.store, ctx.now).await?;
    if let Some(request_uri) = params.get("request_uri").filter(|v| !v.is_empty()) {
        return pushed(ctx, &client, &catalog, request_uri).await;
    }
    let pending = validate(&client, &catalog, &params, repeated, ctx.now)?;
    // RFC 9126 §5, §6: a server, or a client, that requires pushed requests refuses every other.
    if ctx.settings.require_par || client.require_par {
        return Err(pending.fail(
            ErrorCode::InvalidRequest,
            "this server accepts only pushed authorization requests (RFC 9126): send the request to the pushed_authorization_request_endpoint first",
        ));
    }
    Ok(pending)
}

/// RFC 9126 §4: the request pushed as `request_uri` by `client`, taken out of the store (it is
/// single-use and bound to its client). Only the pushed parameters count: anything sent beside the
/// request_uri is ignored, never merged. An unknown, used, expired or another client's request_uri
/// is an error page: without the request, its redirect URI is unknown.
async fn pushed(
    ctx: &Context<'_>,
    client: &Client,
    catalog: &crate::catalog::Catalog,
    request_uri: &str,
) -> Result<PendingAuthorization, AuthorizeError> {
    let unknown = AuthorizeError::BadClient(
        "The request_uri is unknown, expired, already used, or belongs to another application. Start again from the application.",
    );
    if !request_uri.starts_with(crate::domain::grant::REQUEST_URI_PREFIX) {
        return Err(unknown);
    }
    let Some(stored) = ctx
        .store
        .consume_pushed_request(&TokenHash::of(request_uri), &client.client_id, ctx.now)
        .await?
    else {
        return Err(unknown);
    };
    let params: std::collections::HashMap<String, String> =
        serde_json::from_str(&stored).map_err(|_| {
            AuthorizeError::Store(crate::store::StoreError::Corrupt(
                "a pushed authorization request is not a JSON object".into(),
            ))
        })?;
    validate(client, catalog, &params, None, ctx.now)
}

/// The level of sign-in a request needs: what it asked for with `acr_values`, and at least two
/// factors where `--require-mfa` says so.
pub fn required_acr(pending: &PendingAuthorization, require_mfa: bool) -> Acr {
    let asked = pending
        .acr
        .as_deref()
        .and_then(Acr::parse)
        .unwrap_or(Acr::Pwd);
    if require_mfa {
        asked.max(Acr::Mfa)
    } else {
        asked
    }
}

/// The pure decision: what does this pending request need next, given the browser's sign-in (of a
/// user already known to be active), the level of sign-in it needs, the scopes that user once
/// allowed this client, and `now`?
pub fn next_step(
    pending: &PendingAuthorization,
    client: &Client,
    signed_in: Option<&SignIn>,
    required: Acr,
    remembered: Option<&ScopeSet>,
    now: i64,
) -> Result<Step, AuthorizeError> {
    if now - pending.created_at > PENDING_TTL {
        return Err(AuthorizeError::NothingPending);
    }
    // The registration may have changed while the user was signing in.
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(pending.fail(
            ErrorCode::UnauthorizedClient,
            "this client is not registered for authorization_code",
        ));
    }
    let fresh = |s: &&SignIn| {
        // A sign-in made on the login page for this very request satisfies `prompt=login` and
        // `max_age` (even `max_age=0`), however long the password check took (OIDC Core §3.1.2.1).
        let for_this_request = pending.authenticated_as.as_deref() == Some(s.user_id.as_str());
        for_this_request
            || (!pending.prompt.login
                && pending
                    .max_age
                    .is_none_or(|max| now.saturating_sub(s.auth_time) <= max))
    };
    let Some(user) = signed_in.filter(fresh) else {
        // OIDC Core §3.1.2.6 login_required.
        if pending.prompt.none {
            return Err(pending.fail(ErrorCode::LoginRequired, "the user is not signed in"));
        }
        return Ok(Step::Login);
    };
    // OIDC Core §5.5.1: `sub` asked for with a value allows only that user. Someone else signed in
    // is asked to sign in as them; someone else who just signed in for this request is refused.
    if let Some(subjects) = pending
        .claims
        .as_ref()
        .and_then(ClaimsRequest::required_subjects)
        && !subjects.contains(&user.user_id.as_str())
    {
        if pending.authenticated_as.as_deref() == Some(user.user_id.as_str()) {
            return Err(pending.fail(
                ErrorCode::AccessDenied,
                "the user who signed in is not the one the sub claim request names",
            ));
        }
        if pending.prompt.none {
            return Err(pending.fail(
                ErrorCode::LoginRequired,
                "the signed-in user is not the one the sub claim request names",
            ));
        }
        return Ok(Step::Login);
    }
    // RFC 9470 §3, OIDC Core §3.1.2.1: a sign-in weaker than needed is stepped up, asking only for
    // what is missing; without a page to show, `interaction_required`.
    if user.authentication.acr() < required {
        if pending.prompt.none {
            return Err(pending.fail(
                ErrorCode::InteractionRequired,
                "the user must sign in with a second factor",
            ));
        }
        return Ok(Step::SecondFactor);
    }
    // OIDC Core §5.5: claims asked for one by one need consent as their scopes would.
    let requested = pending.consent_scope();
    let consent_needed = if pending.consented_by.as_deref() == Some(user.user_id.as_str()) {
        false
    } else if client.is_native_public() {
        // RFC 8252 §8.6: a native app's identity cannot be assured, so its authorization is never
        // silent: no skipped consent and no remembered consent.
        true
    } else if client.skip_consent {
        false
    } else {
        pending.prompt.consent || !remembered.is_some_and(|r| requested.is_subset(r))
    };
    if consent_needed {
        // OIDC Core §3.1.2.6 consent_required.
        if pending.prompt.none {
            return Err(pending.fail(ErrorCode::ConsentRequired, "the user has not consented"));
        }
        return Ok(Step::Consent);
    }
    Ok(Step::IssueCode)
}

/// Continue a pending request: sign-in, then consent, then a code — whichever is still needed.
pub async fn resume(
    ctx: &Context<'_>,
    mut pending: PendingAuthorization,
    signed_in: Option<SignIn>,
) -> Result<Outcome, AuthorizeError> {
    let client = match ClientId::parse(&pending.client_id) {
        Ok(id) => ctx.clients.find(ctx.store, &id, ctx.now).await?,
        Err(_) => None,
    }
    .ok_or(AuthorizeError::BadClient(
        "The application that sent you here is no longer registered.",
    ))?;
    let signed_in = match signed_in {
        Some(s) if active_user(ctx.store, &s.user_id).await?.is_some() => Some(s),
        _ => None,
    };
    // Role-based scopes: once the user is known, the request keeps only the scopes of `--rbac`
    // APIs their roles grant, so the consent page shows what will be granted (RFC 6749 §3.3).
    if let Some(user) = &signed_in {
        let catalog = ctx.catalog.get(ctx.store, ctx.now).await?;
        let requested = ScopeSet::parse(&pending.scope).unwrap_or_default();
        if has_rbac_scope(&catalog, &requested) {
            let authorization = ctx.store.find_authorization(&user.user_id).await?;
            match entitled_scope(&catalog, &requested, &authorization.roles) {
                Ok(entitled) => pending.scope = entitled.to_string(),
                Err(why) => return Err(pending.fail(ErrorCode::InvalidScope, why)),
            }
        }
    }
    let remembered = match &signed_in {
        Some(s) if !client.skip_consent && !client.is_native_public() => ctx
            .store
            .find_consent(&s.user_id, &client.client_id)
            .await?
            .and_then(|scope| ScopeSet::parse(&scope).ok()),
        _ => None,
    };
    let require_mfa = match &signed_in {
        Some(user) => requires_two_factors(ctx, &client, &user.user_id).await?,
        None => ctx.settings.require_mfa || client.require_mfa,
    };
    let required = required_acr(&pending, require_mfa);
    match next_step(
        &pending,
        &client,
        signed_in.as_ref(),
        required,
        remembered.as_ref(),
        ctx.now,
    )? {
        Step::Login => Ok(Outcome::Login(pending)),
        Step::SecondFactor => Ok(Outcome::SecondFactor(pending)),
        Step::Consent => Ok(Outcome::Consent(pending)),
        Step::IssueCode => {
            let Some(user) = signed_in else {
                return Ok(Outcome::Login(pending));
            };
            issue_code(ctx, &pending, &user)
                .await
                .map(Outcome::Redirect)
        }
    }
}

/// Whether `user_id`'s sign-in for `client` needs two factors: the server (`--require-mfa`), the
/// client (`client create --require-mfa`) or a role the user holds, directly or through a group
/// (`role create --require-mfa`), says so. The user's roles are read only when some role asks.
pub async fn requires_two_factors(
    ctx: &Context<'_>,
    client: &Client,
    user_id: &UserId,
) -> Result<bool, crate::store::StoreError> {
    if ctx.settings.require_mfa || client.require_mfa {
        return Ok(true);
    }
    let catalog = ctx.catalog.get(ctx.store, ctx.now).await?;
    if !catalog.any_role_requires_mfa() {
        return Ok(false);
    }
    let authorization = ctx.store.find_authorization(user_id).await?;
    Ok(authorization
        .roles
        .iter()
        .any(|role| catalog.role_requires_mfa(role.as_str())))
}

/// The user allowed (or denied) the pending request on the consent page.
pub async fn decide_consent(
    ctx: &Context<'_>,
    mut pending: PendingAuthorization,
    signed_in: SignIn,
    allow: bool,
) -> Result<Outcome, AuthorizeError> {
    let event = |event_type| {
        AuditEvent::new(event_type, ctx.now, format!("user:{}", signed_in.user_id))
            .user(signed_in.user_id.to_string())
            .client(pending.client_id.clone())
    };
    if !allow {
        audit::record_or_log(
            ctx.store,
            event(EventType::ConsentDenied).detail(json!({ "scope": pending.scope })),
        )
        .await;
        // RFC 6749 §4.1.2.1: the resource owner denied the request.
        return Err(pending.fail(ErrorCode::AccessDenied, "the user denied access"));
    }
    let Ok(client_id) = ClientId::parse(&pending.client_id) else {
        return Err(AuthorizeError::BadClient(
            "The application that sent you here is no longer registered.",
        ));
    };
    let remembered = ctx
        .store
        .find_consent(&signed_in.user_id, &client_id)
        .await?
        .and_then(|scope| ScopeSet::parse(&scope).ok())
        .unwrap_or_default();
    let asked = pending.consent_scope();
    let granted: ScopeSet = remembered
        .iter()
        .chain(asked.iter())
        .map(str::to_owned)
        .collect();
    ctx.store
        .save_consent(
            &signed_in.user_id,
            &client_id,
            &granted.to_string(),
            ctx.now,
        )
        .await?;
    audit::record_or_log(
        ctx.store,
        event(EventType::ConsentGiven)
            .detail(json!({ "scope": pending.scope, "remembered": granted.to_string() })),
    )
    .await;
    pending.consented_by = Some(signed_in.user_id.to_string());
    resume(ctx, pending, Some(signed_in)).await
}

/// RFC 6749 §4.1.2: store a code for `user` and build the redirect that carries it.
async fn issue_code(
    ctx: &Context<'_>,
    pending: &PendingAuthorization,
    user: &SignIn,
) -> Result<String, AuthorizeError> {
    let code = random_token(CODE_PREFIX);
    ctx.store
        .create_authorization_code(&AuthorizationCode {
            code_hash: TokenHash::of(&code),
            grant_id: GrantId::generate(GrantKind::User),
            client_id: ClientId::parse(&pending.client_id).map_err(|_| {
                AuthorizeError::BadClient(
                    "The application that sent you here is no longer registered.",
                )
            })?,
            user_id: user.user_id.clone(),
            redirect_uri: pending.redirect_uri.clone(),
            redirect_uri_sent: pending.redirect_uri_sent,
            resources: pending
                .resources
                .iter()
                .map(|r| Audience::from_stored(r.clone()))
                .collect(),
            scope: ScopeSet::parse(&pending.scope).unwrap_or_default(),
            nonce: pending.nonce.clone(),
            code_challenge: pending.code_challenge.clone(),
            auth_time: user.auth_time,
            authentication: user.authentication.clone(),
            sid: user.sid.clone(),
            dpop_jkt: pending.dpop_jkt.clone(),
            requested_claims: pending.claims.clone(),
            created_at: ctx.now,
            expires_at: ctx.now + ctx.settings.lifetimes.authorization_code,
            consumed_at: None,
        })
        .await?;
    let mut params = vec![("code", code.as_str())];
    if let Some(client_state) = &pending.state {
        params.push(("state", client_state));
    }
    Ok(client_redirect(
        &pending.redirect_uri,
        &params,
        ctx.settings.issuer.as_str(),
    ))
}

#[cfg(test)]
mod tests;
