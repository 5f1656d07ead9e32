//! Dynamic client registration (RFC 7591) and its management (RFC 7592): a client registers its own
//! metadata at `/register` and gets a `client_id`, a secret if it is confidential, and a registration
//! access token with which it reads, replaces and deletes its registration at
//! `/register/{client_id}`.
//!
//! The metadata follows the registration rules every client follows (`Client::from_spec`, as at the
//! CLI); the privileges an operator grants (skipping consent, introspecting any token, roles, APIs,
//! token exchange) cannot be registered this way. Every registration attempt is counted per network
//! in the store before any work ([`MAX_REGISTRATIONS_PER_NETWORK`]).

use std::net::IpAddr;

use serde_json::{Map, Value, json};

use super::Context;
use super::throttle::network_of;
use crate::admin::client::check_kind_kept;
use crate::domain::attempt::{AttemptCounter, Reservation};
use crate::domain::audit::{AuditEvent, EventType};
use crate::domain::client::{
    ApplicationType, Client, ClientId, ClientSecret, ClientSpec, GrantType, RedirectUri,
    SealedSecret,
};
use crate::domain::registration::{REGISTRATION_ACCESS_TOKEN_PREFIX, RegistrationPolicy};
use crate::domain::scope::ScopeSet;
use crate::domain::secret::{TokenHash, random_token};
use crate::error::{ErrorCode, OAuthError};
use crate::paths::REGISTER_PATH;
use crate::store::StoreError;

/// Registrations one network may attempt per [`REGISTRATION_WINDOW`], successful or not: enough for
/// a developer's tries, and a bound on how fast anyone can fill the store or guess initial access
/// tokens (RFC 7591 §5).
pub const MAX_REGISTRATIONS_PER_NETWORK: u32 = 20;

/// The registration counter's window, in seconds: one hour from its first attempt.
pub const REGISTRATION_WINDOW: i64 = 60 * 60;

/// Why a registration request was not served.
#[derive(Debug)]
pub enum RegistrationError {
    /// An RFC 7591 §3.2.2 / RFC 6750 §3.1 refusal.
    Refused(OAuthError),
    /// Too many registrations from the caller's network: retry after this many seconds.
    Throttled {
        /// Seconds until the network's window ends.
        retry_after: i64,
    },
}

impl From<OAuthError> for RegistrationError {
    fn from(err: OAuthError) -> Self {
        Self::Refused(err)
    }
}

impl From<StoreError> for RegistrationError {
    fn from(err: StoreError) -> Self {
        Self::Refused(OAuthError::from(err))
    }
}

/// A registration's answer (RFC 7591 §3.2.1, RFC 7592 §3): the client information response.
#[derive(Debug)]
pub struct Registered {
    /// The client as registered.
    pub client: Client,
    /// Its new secret: only when it was just registered.
    pub client_secret: Option<ClientSecret>,
    /// The registration access token to use from now on.
    pub registration_access_token: String,
}

fn metadata_error(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClientMetadata, description)
}

fn redirect_error(description: impl Into<String>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRedirectUri, description)
}

/// A string field; `null` is absent.
fn string(fields: &Map<String, Value>, name: &str) -> Result<Option<String>, OAuthError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(value)) => Ok(Some(value.clone())),
        Some(_) => Err(metadata_error(format!("{name} must be a string"))),
    }
}

/// A boolean field; `null` or absent is false.
fn boolean(fields: &Map<String, Value>, name: &str) -> Result<bool, OAuthError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(value)) => Ok(*value),
        Some(_) => Err(metadata_error(format!("{name} must be a boolean"))),
    }
}

/// An array-of-strings field; `null` is absent.
fn strings(fields: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>, OAuthError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(value) => Ok(value.clone()),
                _ => Err(metadata_error(format!(
                    "{name} must be an array of strings"
                ))),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(metadata_error(format!(
            "{name} must be an array of strings"
        ))),
    }
}

/// RFC 7591 §2: the client metadata of a registration request, checked as far as it can be without
/// the store, and turned into the spec `Client::from_spec` checks. Unknown fields are ignored
/// (§2: "the authorization server MUST ignore any client metadata sent by the client that it does
/// not understand"); privileges are not metadata, so a client cannot grant itself any.
pub fn spec_of(body: &Value, policy: RegistrationPolicy) -> Result<ClientSpec, OAuthError> {
    let Value::Object(fields) = body else {
        return Err(metadata_error("the request body must be a JSON object"));
    };
    let redirect_uris = strings(fields, "redirect_uris")?.unwrap_or_default();
    for uri in &redirect_uris {
        RedirectUri::parse(uri).map_err(|e| redirect_error(e.0))?;
    }
    // §2: grant_types defaults to authorization_code and response_types to code; §2.1: the two
    // must agree.
    let response_types = strings(fields, "response_types")?;
    if let Some(other) = response_types.iter().flatten().find(|t| *t != "code") {
        return Err(metadata_error(format!(
            "response type '{other}' is not supported: only code (RFC 6749 §4.1)"
        )));
    }
    let grant_types =
        strings(fields, "grant_types")?.unwrap_or_else(|| vec!["authorization_code".to_owned()]);
    for grant in &grant_types {
        let allowed = match grant.as_str() {
            "authorization_code" | "refresh_token" => true,
            // Open registration must not let anyone obtain API tokens without a user.
            "client_credentials" => policy != RegistrationPolicy::Open,
            _ => false,
        };
        if !allowed {
            return Err(metadata_error(format!(
                "grant type '{grant}' cannot be registered here (allowed: authorization_code, \
                 refresh_token{})",
                if policy == RegistrationPolicy::Open {
                    ""
                } else {
                    ", client_credentials"
                }
            )));
        }
    }
    let code_grant = grant_types.iter().any(|g| g == "authorization_code");
    if let Some(response_types) = &response_types
        && code_grant != response_types.iter().any(|t| t == "code")
    {
        return Err(metadata_error(
            "grant_types and response_types disagree: authorization_code goes with the code \
             response type (RFC 7591 §2.1)",
        ));
    }
    if code_grant && redirect_uris.is_empty() {
        return Err(redirect_error(
            "the authorization_code grant needs at least one redirect URI (RFC 7591 §2)",
        ));
    }
    let application_type = string(fields, "application_type")?;
    if application_type.as_deref().unwrap_or("web") == ApplicationType::Web.as_str()
        && let Some(uri) = redirect_uris
            .iter()
            .filter_map(|u| RedirectUri::parse(u).ok())
            .find(RedirectUri::is_private_use_scheme)
    {
        return Err(redirect_error(format!(
            "redirect URI '{}' uses a private-use scheme, which only native clients may register \
             (RFC 8252 §7.1): register application_type native",
            uri.as_str()
        )));
    }
    let jwks = match fields.get("jwks") {
        None | Some(Value::Null) => None,
        Some(jwks @ Value::Object(_)) => Some(jwks.to_string()),
        Some(_) => return Err(metadata_error("jwks must be a JWK set (a JSON object)")),
    };
    let scope = string(fields, "scope")?
        .unwrap_or_else(|| if code_grant { "openid" } else { "" }.to_owned());
    Ok(ClientSpec {
        client_name: string(fields, "client_name")?.unwrap_or_default(),
        redirect_uris,
        post_logout_redirect_uris: strings(fields, "post_logout_redirect_uris")?
            .unwrap_or_default(),
        grant_types,
        scope,
        // §2: "If unspecified or omitted, the default is client_secret_basic".
        auth_method: string(fields, "token_endpoint_auth_method")?
            .unwrap_or_else(|| "client_secret_basic".to_owned()),
        id_token_alg: string(fields, "id_token_signed_response_alg")?,
        application_type,
        jwks,
        jwks_uri: string(fields, "jwks_uri")?,
        // RFC 9449 §5.2: the client's tokens are always DPoP-bound (a restriction, not a privilege).
        require_dpop: boolean(fields, "dpop_bound_access_tokens")?,
        // RFC 8705 §3.4: likewise bound to the client's certificate.
        tls_bound_tokens: boolean(fields, "tls_client_certificate_bound_access_tokens")?,
        // RFC 8705 §2.1.2: what names a tls_client_auth client in its certificate.
        tls_subject: crate::domain::client::tls_subject_of([
            string(fields, "tls_client_auth_subject_dn")?.as_deref(),
            string(fields, "tls_client_auth_san_dns")?.as_deref(),
            string(fields, "tls_client_auth_san_uri")?.as_deref(),
            string(fields, "tls_client_auth_san_ip")?.as_deref(),
            string(fields, "tls_client_auth_san_email")?.as_deref(),
        ])
        .map_err(|e| metadata_error(e.0))?,
        // OIDC Back-Channel Logout §2.2.
        backchannel_logout_uri: string(fields, "backchannel_logout_uri")?,
        backchannel_logout_session_required: boolean(
            fields,
            "backchannel_logout_session_required",
        )?,
        ..ClientSpec::default()
    })
}

/// Build the client of `spec` as `client_id`, checking every registration rule and that it asks
/// only for scopes discovery offers.
async fn client_of(
    ctx: &Context<'_>,
    client_id: ClientId,
    spec: &ClientSpec,
    created_at: i64,
) -> Result<Client, OAuthError> {
    let mut spec = spec.clone();
    if spec.client_name.trim().is_empty() {
        spec.client_name = client_id.to_string();
    }
    let client =
        Client::from_spec(client_id, &spec, created_at).map_err(|e| metadata_error(e.0))?;
    let catalog = ctx.catalog.get(ctx.store, ctx.now).await?;
    let offered: ScopeSet = catalog
        .supported_scopes()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let unknown: Vec<&str> = client.scopes.difference(&offered).collect();
    if !unknown.is_empty() {
        return Err(metadata_error(format!(
            "scope(s) not offered to registered clients: {} (see scopes_supported)",
            unknown.join(" ")
        )));
    }
    Ok(client)
}

/// The counter a registration from `address` is charged to.
fn counter(address: IpAddr) -> AttemptCounter {
    AttemptCounter {
        key: TokenHash::of(&format!("registration\n{}", network_of(address))),
        limit: MAX_REGISTRATIONS_PER_NETWORK,
        window: REGISTRATION_WINDOW,
    }
}

/// RFC 7591 §3: register a client from the metadata `body`, sent from `address` with the initial
/// access token `initial` (required with `--registration token`). The attempt is counted for the
/// caller's network before anything else is done; the initial access token is checked before the
/// metadata, and spent in the same transaction that registers the client.
pub async fn register(
    ctx: &Context<'_>,
    address: IpAddr,
    initial: Option<&str>,
    body: &Value,
) -> Result<Registered, RegistrationError> {
    let policy = ctx.settings.registration;
    if let Reservation::Refused { retry_after } = ctx
        .store
        .reserve_attempts(std::slice::from_ref(&counter(address)), ctx.now)
        .await?
    {
        return Err(RegistrationError::Throttled { retry_after });
    }
    let initial_hash = match (policy, initial) {
        (RegistrationPolicy::Off, _) => {
            return Err(OAuthError::invalid_request("dynamic registration is off").into());
        }
        (RegistrationPolicy::Token, None) => return Err(OAuthError::missing_bearer().into()),
        (RegistrationPolicy::Token, Some(token)) => {
            let hash = TokenHash::of(token);
            let usable = ctx
                .store
                .find_registration_token(&hash)
                .await?
                .is_some_and(|t| t.is_usable(ctx.now));
            if !usable {
                return Err(refused_initial_token().into());
            }
            Some(hash)
        }
        // An open server ignores an initial access token it never issued.
        (RegistrationPolicy::Open, _) => None,
    };
    let spec = spec_of(body, policy)?;
    let mut client = client_of(ctx, ClientId::generate(), &spec, ctx.now).await?;
    let client_secret = client.auth_method.has_secret().then(ClientSecret::generate);
    client.secret_hash = client_secret.as_ref().map(ClientSecret::hash);
    if let Some(secret) = &client_secret {
        client.sealed_secret = sealed(ctx, &client, secret)?;
    }
    let registration_access_token = random_token(REGISTRATION_ACCESS_TOKEN_PREFIX);
    if !ctx
        .store
        .register_client(
            &client,
            &TokenHash::of(&registration_access_token),
            initial_hash.as_ref(),
            ctx.now,
        )
        .await?
    {
        return Err(refused_initial_token().into());
    }
    let actor = if initial_hash.is_some() {
        "registration:token"
    } else {
        "registration:open"
    };
    let event = AuditEvent::new(EventType::ClientRegistration, ctx.now, actor)
        .client(client.client_id.to_string())
        .with("action", "registered")
        .with("network", network_of(address).to_string())
        .with("registration", crate::admin::client::registration(&client));
    crate::audit::record_or_log(ctx.store, event).await;
    Ok(Registered {
        client,
        client_secret,
        registration_access_token,
    })
}

/// The sealed copy of a new `secret` a `client_secret_jwt` client keeps (OIDC Core §9: the server
/// MACs with it); `None` for every other method.
fn sealed(
    ctx: &Context<'_>,
    client: &Client,
    secret: &ClientSecret,
) -> Result<Option<SealedSecret>, OAuthError> {
    if !client.auth_method.needs_sealed_secret() {
        return Ok(None);
    }
    ctx.keys
        .kek()
        .seal_client_secret(&client.client_id, secret.expose())
        .map(Some)
        .map_err(|err| {
            tracing::error!(error = %err, "registration: sealing a client secret failed");
            OAuthError::server_error()
        })
}

fn refused_initial_token() -> OAuthError {
    OAuthError::invalid_token("the initial access token is unknown, expired or used up")
}

/// RFC 7592 §2: the registration access token `presented` must be the one of `client_id`; a wrong
/// token, another client's, or one for a client that is gone is `invalid_token` (401), with no hint
/// of which.
async fn authorized(
    ctx: &Context<'_>,
    client_id: &str,
    presented: &str,
) -> Result<Client, OAuthError> {
    let refused = || OAuthError::invalid_token("the registration access token is not valid");
    let owner = ctx
        .store
        .find_registration(&TokenHash::of(presented))
        .await?
        .ok_or_else(refused)?;
    if owner.as_str() != client_id {
        return Err(refused());
    }
    ctx.store.find_client(&owner).await?.ok_or_else(refused)
}

/// Replace the registration access token of `client` (RFC 7592 §3: "the authorization server MAY
/// issue a new registration access token"), so that a token stays useful for one request only;
/// of concurrent requests with one token, one succeeds.
async fn rotate(ctx: &Context<'_>, client: &Client, presented: &str) -> Result<String, OAuthError> {
    let next = random_token(REGISTRATION_ACCESS_TOKEN_PREFIX);
    let rotated = ctx
        .store
        .rotate_registration_access_token(
            &client.client_id,
            &TokenHash::of(presented),
            &TokenHash::of(&next),
        )
        .await?;
    if !rotated {
        return Err(OAuthError::invalid_token(
            "the registration access token is not valid",
        ));
    }
    Ok(next)
}

fn managed(ctx: &Context<'_>, client: &Client, action: &str) -> AuditEvent {
    AuditEvent::new(
        EventType::ClientRegistration,
        ctx.now,
        format!("client:{}", client.client_id),
    )
    .client(client.client_id.to_string())
    .with("action", action)
}

/// RFC 7592 §2.1: read the registration of `client_id`.
pub async fn read(
    ctx: &Context<'_>,
    client_id: &str,
    presented: &str,
) -> Result<Registered, OAuthError> {
    let client = authorized(ctx, client_id, presented).await?;
    let registration_access_token = rotate(ctx, &client, presented).await?;
    crate::audit::record_or_log(ctx.store, managed(ctx, &client, "read")).await;
    Ok(Registered {
        client,
        client_secret: None,
        registration_access_token,
    })
}

/// RFC 7592 §2.2: replace the registration of `client_id` with the metadata `body` (fields left out
/// take their defaults). The body's `client_id` must be the client's; a `client_secret` in it, if
/// any, must be its secret (§2.2). The client stays confidential or public, with its secret.
pub async fn replace(
    ctx: &Context<'_>,
    client_id: &str,
    presented: &str,
    body: &Value,
) -> Result<Registered, OAuthError> {
    let existing = authorized(ctx, client_id, presented).await?;
    if body.get("client_id").and_then(Value::as_str) != Some(client_id) {
        return Err(OAuthError::invalid_request(
            "the body's client_id must be the client's (RFC 7592 §2.2)",
        ));
    }
    if let Some(secret) = body.get("client_secret").and_then(Value::as_str)
        && !existing.secret_matches(secret)
    {
        return Err(OAuthError::invalid_request(
            "the body's client_secret is not the client's (RFC 7592 §2.2)",
        ));
    }
    let spec = spec_of(body, ctx.settings.registration)?;
    let mut updated =
        client_of(ctx, existing.client_id.clone(), &spec, existing.created_at).await?;
    check_kind_kept(&existing, &updated).map_err(|e| metadata_error(e.to_string()))?;
    // Restrictions only an operator sets (no registration metadata names them) stay: a client
    // cannot lift its own requirement of two factors or of pushed requests (RFC 7592 §2.2 lets
    // the server keep values it manages).
    updated.require_mfa = existing.require_mfa;
    updated.require_par = existing.require_par;
    updated.secret_hash = existing.secret_hash.clone();
    updated.sealed_secret = existing
        .sealed_secret
        .clone()
        .filter(|_| updated.auth_method.needs_sealed_secret());
    updated.updated_at = ctx.now;
    // RFC 7592 §2.2 lets the server issue a new secret: a client moving to client_secret_jwt needs
    // one, since the digest it has cannot key a MAC.
    let client_secret =
        crate::admin::client::lacks_sealed_secret(&updated).then(ClientSecret::generate);
    if let Some(secret) = &client_secret {
        updated.secret_hash = Some(secret.hash());
        updated.sealed_secret = sealed(ctx, &updated, secret)?;
    }
    let registration_access_token = rotate(ctx, &existing, presented).await?;
    if !ctx.store.update_client(&updated).await? {
        return Err(OAuthError::invalid_token(
            "the registration access token is not valid",
        ));
    }
    if let Some(hash) = &updated.secret_hash
        && client_secret.is_some()
    {
        ctx.store
            .set_client_secret(
                &updated.client_id,
                hash,
                updated.sealed_secret.as_ref(),
                ctx.now,
            )
            .await?;
    }
    let event = managed(ctx, &updated, "updated")
        .with("registration", crate::admin::client::registration(&updated));
    crate::audit::record_or_log(ctx.store, event).await;
    Ok(Registered {
        client: updated,
        client_secret,
        registration_access_token,
    })
}

/// RFC 7592 §2.3: delete the registration of `client_id`, with its secret, its registration access
/// token and everything issued to it.
pub async fn delete(ctx: &Context<'_>, client_id: &str, presented: &str) -> Result<(), OAuthError> {
    let client = authorized(ctx, client_id, presented).await?;
    if !ctx.store.delete_client(&client.client_id).await? {
        return Err(OAuthError::invalid_token(
            "the registration access token is not valid",
        ));
    }
    crate::audit::record_or_log(ctx.store, managed(ctx, &client, "deleted")).await;
    Ok(())
}

/// RFC 7591 §3.2.1 / RFC 7592 §3: the client information response: the registered metadata, the
/// `client_id`, the secret when it was just issued, and the registration access token and URI.
pub fn information(ctx: &Context<'_>, registered: &Registered) -> Value {
    let client = &registered.client;
    let mut answer = json!({
        "client_id": client.client_id.as_str(),
        "client_id_issued_at": client.created_at,
        "registration_access_token": registered.registration_access_token,
        "registration_client_uri": ctx
            .settings
            .issuer
            .endpoint(&format!("{REGISTER_PATH}/{}", client.client_id)),
        "client_name": client.client_name,
        "redirect_uris": client.redirect_uris.iter().map(RedirectUri::as_str).collect::<Vec<_>>(),
        "post_logout_redirect_uris": client
            .post_logout_redirect_uris
            .iter()
            .map(RedirectUri::as_str)
            .collect::<Vec<_>>(),
        "grant_types": client.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "response_types": if client.allows_grant(GrantType::AuthorizationCode) {
            vec!["code"]
        } else {
            Vec::new()
        },
        "token_endpoint_auth_method": client.auth_method.as_str(),
        "application_type": client.application_type.as_str(),
        "scope": client.scopes.to_string(),
    });
    if let Some(fields) = answer.as_object_mut() {
        if let Some(secret) = &registered.client_secret {
            fields.insert("client_secret".into(), secret.expose().into());
            // §3.2.1: 0 = the secret does not expire.
            fields.insert("client_secret_expires_at".into(), 0.into());
        }
        if let Some(jwks) = client
            .jwks
            .as_deref()
            .and_then(|raw| serde_json::from_str::<Value>(raw).ok())
        {
            fields.insert("jwks".into(), jwks);
        }
        if let Some(uri) = &client.jwks_uri {
            fields.insert("jwks_uri".into(), uri.as_str().into());
        }
        if let Some(alg) = client.id_token_alg {
            fields.insert("id_token_signed_response_alg".into(), alg.as_str().into());
        }
        if client.require_dpop {
            fields.insert("dpop_bound_access_tokens".into(), true.into());
        }
        if let Some(subject) = &client.tls_subject {
            fields.insert(
                format!("tls_client_auth_{}", subject.kind()),
                subject.value().into(),
            );
        }
        if client.tls_bound_tokens {
            fields.insert(
                "tls_client_certificate_bound_access_tokens".into(),
                true.into(),
            );
        }
        if let Some(uri) = &client.backchannel_logout_uri {
            fields.insert("backchannel_logout_uri".into(), uri.as_str().into());
            fields.insert(
                "backchannel_logout_session_required".into(),
                client.backchannel_logout_session_required.into(),
            );
        }
    }
    answer
}

#[cfg(test)]
mod tests;
