//! Client registrations: the rules of creating, changing, deleting a client and rotating its secret,
//! shared by the CLI and the admin API, and the view both show (never the secret's hash).

use serde::Serialize;

use super::{AdminError, find_client};
use crate::domain::api::Audience;
use crate::domain::client::{
    Client, ClientId, ClientSecret, ClientSpec, MIN_HMAC_SECRET_BYTES, SealedSecret,
};
use crate::domain::scope::ScopeSet;
use crate::keys::KeyEncryptionKey;
use crate::store::Store;

/// A client as the CLI prints it and the admin API answers: never its secret hash.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Client)]
pub struct ClientView<'a> {
    /// Its `client_id` (RFC 6749 §2.2).
    client_id: &'a str,
    /// Its display name, shown on the consent page.
    client_name: &'a str,
    /// How it authenticates (RFC 7591 §2 `token_endpoint_auth_method`): `client_secret_basic`,
    /// `client_secret_post`, `client_secret_jwt`, `private_key_jwt`, or `none` for a public client.
    auth_method: &'a str,
    /// Its redirect URIs (RFC 6749 §3.1.2).
    redirect_uris: Vec<&'a str>,
    /// Its post-logout redirect URIs (OIDC RP-Initiated Logout 1.0 §3).
    post_logout_redirect_uris: Vec<&'a str>,
    /// The grant types it may use (RFC 7591 §2).
    grant_types: Vec<&'a str>,
    /// The scopes it may request, space-delimited (RFC 6749 §3.3).
    scope: String,
    /// Whether its authorization requests need PKCE (RFC 7636).
    require_pkce: bool,
    /// A first-party client: users are not asked for consent.
    skip_consent: bool,
    /// A resource server that may introspect any token (RFC 7662 §2.1).
    introspect_any: bool,
    require_par: bool,
    /// Every token request must carry a DPoP proof (RFC 9449 §5.2 `dpop_bound_access_tokens`).
    require_dpop: bool,
    /// Sign-ins for it need two factors (`urn:latchkey:acr:mfa`).
    require_mfa: bool,
    /// Its access tokens are bound to its certificate (RFC 8705 §3.4).
    tls_client_certificate_bound_access_tokens: bool,
    /// RFC 8705 §2.1.2 `tls_client_auth_subject_dn` (a `tls_client_auth` client).
    tls_client_auth_subject_dn: Option<String>,
    /// RFC 8705 §2.1.2 `tls_client_auth_san_dns` (a `tls_client_auth` client).
    tls_client_auth_san_dns: Option<String>,
    /// RFC 8705 §2.1.2 `tls_client_auth_san_uri` (a `tls_client_auth` client).
    tls_client_auth_san_uri: Option<String>,
    /// RFC 8705 §2.1.2 `tls_client_auth_san_ip` (a `tls_client_auth` client).
    tls_client_auth_san_ip: Option<String>,
    /// RFC 8705 §2.1.2 `tls_client_auth_san_email` (a `tls_client_auth` client).
    tls_client_auth_san_email: Option<String>,
    /// Its public keys, a JWK set (RFC 7591 §2 `jwks`), for `private_key_jwt`.
    #[schema(value_type = Option<Object>)]
    jwks: Option<serde_json::Value>,
    /// Where it publishes its public keys instead (RFC 7591 §2 `jwks_uri`).
    jwks_uri: Option<&'a str>,
    /// Where it receives logout tokens (OIDC Back-Channel Logout §2.2).
    backchannel_logout_uri: Option<&'a str>,
    /// Whether it needs `sid` in logout tokens (§2.2).
    backchannel_logout_session_required: bool,
    /// The algorithm of its ID tokens, if not the server's (OIDC Dynamic Registration §2).
    id_token_signed_response_alg: Option<&'static str>,
    /// `web` or `native` (OIDC Dynamic Registration §2).
    application_type: &'static str,
    /// The APIs it may name with `resource` (RFC 8707), by audience.
    resources: Vec<&'a str>,
    /// The API its tokens are for when a request names none.
    default_resource: Option<&'a str>,
    /// The API whose resource server it is: it may introspect that API's tokens.
    api: Option<&'a str>,
    /// The APIs it may exchange a user's access token for (RFC 8693).
    may_exchange_for: Vec<&'a str>,
    /// When it was registered (seconds since the epoch).
    created_at: i64,
    /// When it last changed (seconds since the epoch).
    updated_at: i64,
}

impl<'a> From<&'a Client> for ClientView<'a> {
    fn from(c: &'a Client) -> Self {
        Self {
            client_id: c.client_id.as_str(),
            client_name: &c.client_name,
            auth_method: c.auth_method.as_str(),
            redirect_uris: c.redirect_uris.iter().map(|u| u.as_str()).collect(),
            post_logout_redirect_uris: c
                .post_logout_redirect_uris
                .iter()
                .map(|u| u.as_str())
                .collect(),
            grant_types: c.grant_types.iter().map(|g| g.as_str()).collect(),
            scope: c.scopes.to_string(),
            require_pkce: c.require_pkce,
            skip_consent: c.skip_consent,
            introspect_any: c.introspect_any,
            require_par: c.require_par,
            require_dpop: c.require_dpop,
            require_mfa: c.require_mfa,
            tls_client_certificate_bound_access_tokens: c.tls_bound_tokens,
            tls_client_auth_subject_dn: c.tls_subject.as_ref().and_then(|s| s.field("subject_dn")),
            tls_client_auth_san_dns: c.tls_subject.as_ref().and_then(|s| s.field("san_dns")),
            tls_client_auth_san_uri: c.tls_subject.as_ref().and_then(|s| s.field("san_uri")),
            tls_client_auth_san_ip: c.tls_subject.as_ref().and_then(|s| s.field("san_ip")),
            tls_client_auth_san_email: c.tls_subject.as_ref().and_then(|s| s.field("san_email")),
            jwks: c
                .jwks
                .as_deref()
                .and_then(|raw| serde_json::from_str(raw).ok()),
            jwks_uri: c.jwks_uri.as_deref(),
            backchannel_logout_uri: c.backchannel_logout_uri.as_deref(),
            backchannel_logout_session_required: c.backchannel_logout_session_required,
            id_token_signed_response_alg: c.id_token_alg.map(|alg| alg.as_str()),
            application_type: c.application_type.as_str(),
            resources: c.resources.iter().map(Audience::as_str).collect(),
            default_resource: c.default_resource.as_ref().map(Audience::as_str),
            api: c.api.as_ref().map(Audience::as_str),
            may_exchange_for: c.may_exchange_for.iter().map(Audience::as_str).collect(),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A client's registration as the audit trail records it: its view, which holds no secret.
pub fn registration(client: &Client) -> serde_json::Value {
    serde_json::to_value(ClientView::from(client)).unwrap_or_default()
}

/// Every scope of `scopes` must be among `known`.
fn check_scopes_exist(scopes: &ScopeSet, known: &ScopeSet) -> Result<(), AdminError> {
    let unknown: Vec<&str> = scopes.difference(known).collect();
    if !unknown.is_empty() {
        return Err(AdminError::Invalid(format!(
            "unknown scope(s): {} (create them first with `latchkey scope create`)",
            unknown.join(" ")
        )));
    }
    Ok(())
}

/// Every API of `resources` must be among `apis`.
fn check_apis_exist(resources: &[Audience], apis: &[&Audience]) -> Result<(), AdminError> {
    let unknown: Vec<&str> = resources
        .iter()
        .filter(|r| !apis.contains(r))
        .map(Audience::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(AdminError::Invalid(format!(
            "unknown API(s): {} (register them first with `latchkey api create`)",
            unknown.join(" ")
        )));
    }
    Ok(())
}

/// What a registration refers to must exist: its scopes among `scopes`, its APIs among `apis`.
/// (`latchkey apply` checks against the configuration it is about to write.)
pub(crate) fn check_references_among(
    client: &Client,
    scopes: &ScopeSet,
    apis: &[&Audience],
) -> Result<(), AdminError> {
    check_scopes_exist(&client.scopes, scopes)?;
    check_apis_exist(&client.resources, apis)?;
    check_apis_exist(client.api.as_slice(), apis)?;
    check_apis_exist(&client.may_exchange_for, apis)
}

/// What a registration refers to must be registered: its scopes and APIs.
async fn check_references(store: &dyn Store, client: &Client) -> Result<(), AdminError> {
    let scopes: ScopeSet = store
        .list_scopes()
        .await?
        .into_iter()
        .map(|s| s.name)
        .collect();
    let apis = store.list_apis().await?;
    let audiences: Vec<&Audience> = apis.iter().map(|api| &api.audience).collect();
    check_references_among(client, &scopes, &audiences)
}

/// The sealed copy of `secret` that `client` keeps if it authenticates with `client_secret_jwt`
/// (OIDC Core §9: the server MACs with the secret, so a digest is not enough); `None` for every
/// other method. The secret must be long enough to key HS256 (RFC 7518 §3.2), and sealing needs
/// the key-encryption key (`kek`).
pub(crate) fn seal_secret(
    client: &Client,
    secret: &str,
    kek: Option<&KeyEncryptionKey>,
) -> Result<Option<SealedSecret>, AdminError> {
    if !client.auth_method.needs_sealed_secret() {
        return Ok(None);
    }
    if secret.len() < MIN_HMAC_SECRET_BYTES {
        return Err(AdminError::Invalid(format!(
            "client '{}': a client_secret_jwt secret must be at least {MIN_HMAC_SECRET_BYTES} bytes (RFC 7518 §3.2)",
            client.client_id
        )));
    }
    let kek = kek.ok_or_else(|| {
        AdminError::Invalid(format!(
            "client '{}': client_secret_jwt keeps the secret sealed under the key-encryption secret, \
             which is not available here",
            client.client_id
        ))
    })?;
    Ok(Some(kek.seal_client_secret(&client.client_id, secret)?))
}

/// Register a client from `spec` (with `client_id`, or a generated one). A confidential client gets
/// a secret, returned once and stored only as its hash — and, for `client_secret_jwt`, sealed under
/// `kek` as well.
pub async fn create(
    store: &dyn Store,
    kek: Option<&KeyEncryptionKey>,
    client_id: Option<&str>,
    spec: &ClientSpec,
    now: i64,
) -> Result<(Client, Option<ClientSecret>), AdminError> {
    let client_id = match client_id {
        Some(raw) => ClientId::parse(raw).map_err(|e| AdminError::Invalid(e.0))?,
        None => ClientId::generate(),
    };
    let mut client =
        Client::from_spec(client_id, spec, now).map_err(|e| AdminError::Invalid(e.0))?;
    check_references(store, &client).await?;
    let secret = client.auth_method.has_secret().then(ClientSecret::generate);
    client.secret_hash = secret.as_ref().map(ClientSecret::hash);
    if let Some(secret) = &secret {
        client.sealed_secret = seal_secret(&client, secret.expose(), kek)?;
    }
    store.create_client(&client).await?;
    Ok((client, secret))
}

/// A client stays public (auth method `none`) or confidential: its secret cannot appear or vanish.
pub(crate) fn check_kind_kept(existing: &Client, updated: &Client) -> Result<(), AdminError> {
    if updated.auth_method.is_confidential() != existing.auth_method.is_confidential() {
        return Err(AdminError::Invalid(
            "a client cannot switch between public (none) and confidential; delete and re-create it"
                .into(),
        ));
    }
    Ok(())
}

/// Replace `existing`'s registration with `spec` (its id, secret and creation time stay). A client
/// that moves to `client_secret_jwt` from another method has only its secret's digest, which
/// cannot key a MAC: it authenticates once its secret is rotated (see [`lacks_sealed_secret`]); one
/// that leaves `client_secret_jwt` loses the sealed copy.
pub async fn update(
    store: &dyn Store,
    existing: &Client,
    spec: &ClientSpec,
    now: i64,
) -> Result<Client, AdminError> {
    let mut updated = Client::from_spec(existing.client_id.clone(), spec, existing.created_at)
        .map_err(|e| AdminError::Invalid(e.0))?;
    check_kind_kept(existing, &updated)?;
    check_references(store, &updated).await?;
    updated.secret_hash = existing.secret_hash.clone();
    updated.sealed_secret = existing
        .sealed_secret
        .clone()
        .filter(|_| updated.auth_method.needs_sealed_secret());
    updated.updated_at = now;
    if !store.update_client(&updated).await? {
        return Err(AdminError::Invalid(format!(
            "no client with id '{}'",
            existing.client_id
        )));
    }
    Ok(updated)
}

/// Delete the client `client_id`.
pub async fn delete(store: &dyn Store, client_id: &str) -> Result<ClientId, AdminError> {
    let client = find_client(store, client_id).await?;
    if !store.delete_client(&client.client_id).await? {
        return Err(AdminError::Invalid(format!(
            "no client with id '{}'",
            client.client_id
        )));
    }
    Ok(client.client_id)
}

/// Whether `client` is registered for `client_secret_jwt` but has no sealed secret to check its
/// assertions with (it moved there from another method): it needs `rotate-secret`.
pub fn lacks_sealed_secret(client: &Client) -> bool {
    client.auth_method.needs_sealed_secret() && client.sealed_secret.is_none()
}

/// Give the confidential client `client_id` a new secret; the old one stops working at once. A
/// `client_secret_jwt` client's is sealed under `kek` as well.
pub async fn rotate_secret(
    store: &dyn Store,
    kek: Option<&KeyEncryptionKey>,
    client_id: &str,
    now: i64,
) -> Result<(Client, ClientSecret), AdminError> {
    let client = find_client(store, client_id).await?;
    if !client.auth_method.has_secret() {
        return Err(AdminError::Invalid(format!(
            "client '{}' authenticates with {} and has no secret",
            client.client_id,
            client.auth_method.as_str()
        )));
    }
    let secret = ClientSecret::generate();
    let sealed = seal_secret(&client, secret.expose(), kek)?;
    if !store
        .set_client_secret(&client.client_id, &secret.hash(), sealed.as_ref(), now)
        .await?
    {
        return Err(AdminError::Invalid(format!(
            "no client with id '{}'",
            client.client_id
        )));
    }
    Ok((client, secret))
}
