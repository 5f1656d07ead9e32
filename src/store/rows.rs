//! Row types shared by both backends, and their conversion to and from domain values.

use crate::domain::api::{Api, Audience};
use crate::domain::authn::Authentication;
use crate::domain::claims_request::ClaimsRequest;
use crate::domain::client::{Client, ClientId, RedirectUri, SealedSecret};
use crate::domain::device::{DeviceAuthorization, DeviceStatus};
use crate::domain::grant::{AuthorizationCode, GrantId, RefreshTokenState};
use crate::domain::scope::{Scope, ScopeSet};
use crate::domain::secret::TokenHash;
use crate::domain::user::{User, UserId};

use super::{KeyState, SigningKeyRecord, StoreError};

/// The client columns, in the order every backend selects and inserts them.
macro_rules! client_columns {
    () => {
        "client_id, client_name, secret_hash, auth_method, redirect_uris, post_logout_redirect_uris, \
         grant_types, scopes, require_pkce, skip_consent, introspect_any, id_token_alg, created_at, updated_at, \
         application_type, resources, default_resource, api, may_exchange_for, require_par, jwks, jwks_uri, \
         backchannel_logout_uri, backchannel_logout_session_required, sealed_secret, require_dpop, \
         tls_bound_tokens, tls_subject_kind, tls_subject_value, require_mfa"
    };
}
pub(crate) use client_columns;

/// The user columns.
macro_rules! user_columns {
    () => {
        "user_id, username, email, email_verified, name, password_hash, disabled, created_at, updated_at"
    };
}
pub(crate) use user_columns;

/// The signing key columns.
macro_rules! key_columns {
    () => {
        "kid, alg, state, private_key, public_jwk, created_at, activated_at, retired_at"
    };
}
pub(crate) use key_columns;

#[derive(sqlx::FromRow)]
pub(crate) struct ClientRow {
    client_id: String,
    client_name: String,
    secret_hash: Option<Vec<u8>>,
    auth_method: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    grant_types: String,
    scopes: String,
    require_pkce: bool,
    skip_consent: bool,
    introspect_any: bool,
    id_token_alg: Option<String>,
    created_at: i64,
    updated_at: i64,
    application_type: String,
    resources: String,
    default_resource: Option<String>,
    api: Option<String>,
    may_exchange_for: String,
    require_par: bool,
    require_dpop: bool,
    tls_bound_tokens: bool,
    require_mfa: bool,
    tls_subject_kind: Option<String>,
    tls_subject_value: Option<String>,
    jwks: Option<String>,
    jwks_uri: Option<String>,
    backchannel_logout_uri: Option<String>,
    backchannel_logout_session_required: bool,
    sealed_secret: Option<Vec<u8>>,
}

/// A client flattened into column values.
pub(crate) struct ClientColumns {
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub grant_types: String,
    pub scopes: String,
    pub secret_hash: Option<Vec<u8>>,
    pub resources: String,
    pub may_exchange_for: String,
}

impl ClientColumns {
    pub(crate) fn of(client: &Client) -> Self {
        let uris = |list: &[RedirectUri]| {
            serde_json::to_string(&list.iter().map(RedirectUri::as_str).collect::<Vec<_>>())
                .unwrap_or_else(|_| "[]".to_owned())
        };
        Self {
            redirect_uris: uris(&client.redirect_uris),
            post_logout_redirect_uris: uris(&client.post_logout_redirect_uris),
            grant_types: client
                .grant_types
                .iter()
                .map(|g| g.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            scopes: client.scopes.to_string(),
            secret_hash: client.secret_hash.as_ref().map(|h| h.0.to_vec()),
            resources: audiences_json(&client.resources),
            may_exchange_for: audiences_json(&client.may_exchange_for),
        }
    }
}

/// A list of audiences as stored: a JSON array of strings.
pub(crate) fn audiences_json(audiences: &[Audience]) -> String {
    serde_json::to_string(&audiences.iter().map(Audience::as_str).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".to_owned())
}

/// A stored JSON array of audiences.
fn audiences_of(raw: &str, what: &str, id: &str) -> Result<Vec<Audience>, StoreError> {
    serde_json::from_str::<Vec<String>>(raw)
        .map(|list| list.into_iter().map(Audience::from_stored).collect())
        .map_err(|_| corrupt(what, id))
}

fn corrupt(what: &str, id: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} of {id}"))
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;

    fn try_from(row: ClientRow) -> Result<Self, StoreError> {
        let id = row.client_id.clone();
        let tls_subject = match (&row.tls_subject_kind, &row.tls_subject_value) {
            (Some(kind), Some(value)) => Some(
                crate::domain::client::TlsSubject::parse(kind, value)
                    .map_err(|_| corrupt("tls_client_auth subject", &id))?,
            ),
            _ => None,
        };
        let uris = |raw: &str| {
            serde_json::from_str::<Vec<String>>(raw)
                .map(|list| list.into_iter().map(RedirectUri::from_stored).collect())
                .map_err(|_| corrupt("redirect URIs", &id))
        };
        let secret_hash = match row.secret_hash {
            Some(bytes) => {
                Some(TokenHash::from_slice(&bytes).ok_or_else(|| corrupt("secret hash", &id))?)
            }
            None => None,
        };
        Ok(Client {
            redirect_uris: uris(&row.redirect_uris)?,
            post_logout_redirect_uris: uris(&row.post_logout_redirect_uris)?,
            grant_types: row
                .grant_types
                .split(' ')
                .filter(|g| !g.is_empty())
                .map(|g| g.parse())
                .collect::<Result<_, _>>()
                .map_err(|_| corrupt("grant types", &id))?,
            scopes: ScopeSet::parse(&row.scopes).map_err(|_| corrupt("scopes", &id))?,
            auth_method: row
                .auth_method
                .parse()
                .map_err(|_| corrupt("auth method", &id))?,
            secret_hash,
            sealed_secret: row.sealed_secret.map(SealedSecret::from_bytes),
            client_id: ClientId::from_stored(row.client_id),
            client_name: row.client_name,
            require_pkce: row.require_pkce,
            skip_consent: row.skip_consent,
            introspect_any: row.introspect_any,
            require_par: row.require_par,
            require_dpop: row.require_dpop,
            require_mfa: row.require_mfa,
            tls_bound_tokens: row.tls_bound_tokens,
            tls_subject,
            jwks: row.jwks,
            jwks_uri: row.jwks_uri,
            backchannel_logout_uri: row.backchannel_logout_uri,
            backchannel_logout_session_required: row.backchannel_logout_session_required,
            id_token_alg: row
                .id_token_alg
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|_| corrupt("id_token_alg", &id))?,
            application_type: row
                .application_type
                .parse()
                .map_err(|_| corrupt("application_type", &id))?,
            resources: audiences_of(&row.resources, "resources", &id)?,
            default_resource: row.default_resource.map(Audience::from_stored),
            api: row.api.map(Audience::from_stored),
            may_exchange_for: audiences_of(&row.may_exchange_for, "may_exchange_for", &id)?,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    user_id: String,
    username: String,
    email: Option<String>,
    email_verified: bool,
    name: Option<String>,
    password_hash: String,
    disabled: bool,
    created_at: i64,
    updated_at: i64,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        User {
            user_id: UserId::from_stored(row.user_id),
            username: row.username,
            email: row.email,
            email_verified: row.email_verified,
            name: row.name,
            password_hash: row.password_hash,
            disabled: row.disabled,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ScopeRow {
    name: String,
    description: String,
    builtin: bool,
    created_at: i64,
    api: Option<String>,
    hidden: bool,
}

impl From<ScopeRow> for Scope {
    fn from(row: ScopeRow) -> Self {
        Scope {
            name: row.name,
            description: row.description,
            builtin: row.builtin,
            created_at: row.created_at,
            api: row.api.map(Audience::from_stored),
            hidden: row.hidden,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct KeyRow {
    kid: String,
    alg: String,
    state: String,
    private_key: Vec<u8>,
    public_jwk: String,
    created_at: i64,
    activated_at: Option<i64>,
    retired_at: Option<i64>,
}

impl TryFrom<KeyRow> for SigningKeyRecord {
    type Error = StoreError;

    fn try_from(row: KeyRow) -> Result<Self, StoreError> {
        Ok(SigningKeyRecord {
            state: KeyState::parse(&row.state).ok_or_else(|| corrupt("state", &row.kid))?,
            kid: row.kid,
            alg: row.alg,
            private_key: row.private_key,
            public_jwk: row.public_jwk,
            created_at: row.created_at,
            activated_at: row.activated_at,
            retired_at: row.retired_at,
        })
    }
}

/// Convert every row, failing on the first corrupt one.
pub(crate) fn convert_all<R, T>(rows: Vec<R>) -> Result<Vec<T>, StoreError>
where
    T: TryFrom<R, Error = StoreError>,
{
    rows.into_iter().map(T::try_from).collect()
}

/// The authorization code columns.
macro_rules! code_columns {
    () => {
        "code_hash, grant_id, client_id, user_id, redirect_uri, scope, nonce, code_challenge, \
         auth_time, created_at, expires_at, consumed_at, redirect_uri_sent, resources, sid, dpop_jkt, amr, claims"
    };
}
pub(crate) use code_columns;

#[derive(sqlx::FromRow)]
pub(crate) struct CodeRow {
    code_hash: Vec<u8>,
    grant_id: String,
    client_id: String,
    user_id: String,
    redirect_uri: String,
    scope: String,
    nonce: Option<String>,
    code_challenge: Option<String>,
    auth_time: i64,
    created_at: i64,
    expires_at: i64,
    consumed_at: Option<i64>,
    redirect_uri_sent: bool,
    resources: String,
    sid: Option<String>,
    dpop_jkt: Option<String>,
    amr: Option<String>,
    claims: Option<String>,
}

impl TryFrom<CodeRow> for AuthorizationCode {
    type Error = StoreError;

    fn try_from(row: CodeRow) -> Result<Self, StoreError> {
        let resources = audiences_of(&row.resources, "resources", &row.grant_id)?;
        let requested_claims = ClaimsRequest::from_stored(row.claims.as_deref())
            .map_err(|_| corrupt("claims", &row.grant_id))?;
        Ok(AuthorizationCode {
            requested_claims,
            code_hash: TokenHash::from_slice(&row.code_hash)
                .ok_or_else(|| corrupt("code hash", &row.grant_id))?,
            scope: ScopeSet::parse(&row.scope).map_err(|_| corrupt("scope", &row.grant_id))?,
            grant_id: GrantId::from_stored(row.grant_id),
            client_id: ClientId::from_stored(row.client_id),
            user_id: UserId::from_stored(row.user_id),
            redirect_uri: row.redirect_uri,
            redirect_uri_sent: row.redirect_uri_sent,
            resources,
            nonce: row.nonce,
            code_challenge: row.code_challenge,
            auth_time: row.auth_time,
            authentication: Authentication::from_stored(row.amr.as_deref()),
            sid: row.sid,
            dpop_jkt: row.dpop_jkt,
            created_at: row.created_at,
            expires_at: row.expires_at,
            consumed_at: row.consumed_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct RefreshRow {
    grant_id: String,
    client_id: String,
    user_id: Option<String>,
    scope: String,
    auth_time: Option<i64>,
    created_at: i64,
    expires_at: i64,
    rotated_at: Option<i64>,
    revoked_at: Option<i64>,
    grant_created_at: i64,
    resources: String,
    sid: Option<String>,
    dpop_jkt: Option<String>,
    cert_thumbprint: Option<String>,
    amr: Option<String>,
    claims: Option<String>,
}

impl TryFrom<RefreshRow> for RefreshTokenState {
    type Error = StoreError;

    fn try_from(row: RefreshRow) -> Result<Self, StoreError> {
        Ok(RefreshTokenState {
            requested_claims: ClaimsRequest::from_stored(row.claims.as_deref())
                .map_err(|_| corrupt("claims", &row.grant_id))?,
            scope: ScopeSet::parse(&row.scope).map_err(|_| corrupt("scope", &row.grant_id))?,
            resources: audiences_of(&row.resources, "resources", &row.grant_id)?,
            grant_id: GrantId::from_stored(row.grant_id),
            client_id: ClientId::from_stored(row.client_id),
            authentication: row
                .user_id
                .is_some()
                .then(|| Authentication::from_stored(row.amr.as_deref())),
            user_id: row.user_id.map(UserId::from_stored),
            auth_time: row.auth_time,
            sid: row.sid,
            dpop_jkt: row.dpop_jkt,
            cert_thumbprint: row.cert_thumbprint,
            created_at: row.created_at,
            expires_at: row.expires_at,
            rotated_at: row.rotated_at,
            grant_revoked: row.revoked_at.is_some(),
            grant_created_at: row.grant_created_at,
        })
    }
}

/// The API columns.
macro_rules! api_columns {
    () => {
        "audience, name, access_token_ttl, access_token_alg, created_at, updated_at, token_format, rbac"
    };
}
pub(crate) use api_columns;

#[derive(sqlx::FromRow)]
pub(crate) struct ApiRow {
    audience: String,
    name: String,
    access_token_ttl: Option<i64>,
    access_token_alg: Option<String>,
    created_at: i64,
    updated_at: i64,
    token_format: String,
    rbac: bool,
}

impl TryFrom<ApiRow> for Api {
    type Error = StoreError;

    fn try_from(row: ApiRow) -> Result<Self, StoreError> {
        Ok(Api {
            access_token_alg: row
                .access_token_alg
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(|_| corrupt("access_token_alg", &row.audience))?,
            token_format: row
                .token_format
                .parse()
                .map_err(|_| corrupt("token_format", &row.audience))?,
            audience: Audience::from_stored(row.audience),
            rbac: row.rbac,
            name: row.name,
            access_token_ttl: row.access_token_ttl,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// The columns of `device_authorizations`, in the order [`DeviceRow`] reads them.
macro_rules! device_columns {
    () => {
        "device_code_hash, user_code_hash, client_id, scope, resources, device_address, created_at, \
         expires_at, poll_interval, status, user_id, auth_time, too_fast, amr"
    };
}
pub(crate) use device_columns;

/// A `device_authorizations` row (RFC 8628).
#[derive(sqlx::FromRow)]
pub(crate) struct DeviceRow {
    device_code_hash: Vec<u8>,
    user_code_hash: Vec<u8>,
    client_id: String,
    scope: String,
    resources: String,
    device_address: String,
    created_at: i64,
    expires_at: i64,
    poll_interval: i64,
    status: String,
    user_id: Option<String>,
    auth_time: Option<i64>,
    pub too_fast: bool,
    amr: Option<String>,
}

impl TryFrom<DeviceRow> for DeviceAuthorization {
    type Error = StoreError;

    fn try_from(row: DeviceRow) -> Result<Self, StoreError> {
        let id = "a device authorization";
        Ok(DeviceAuthorization {
            device_code_hash: TokenHash::from_slice(&row.device_code_hash)
                .ok_or_else(|| corrupt("device code hash", id))?,
            user_code_hash: TokenHash::from_slice(&row.user_code_hash)
                .ok_or_else(|| corrupt("user code hash", id))?,
            client_id: ClientId::from_stored(row.client_id),
            scope: ScopeSet::parse(&row.scope).map_err(|_| corrupt("scope", id))?,
            resources: audiences_of(&row.resources, "resources", id)?,
            device_address: row.device_address,
            created_at: row.created_at,
            expires_at: row.expires_at,
            interval: row.poll_interval,
            status: DeviceStatus::parse(&row.status).ok_or_else(|| corrupt("status", id))?,
            authentication: row
                .user_id
                .is_some()
                .then(|| Authentication::from_stored(row.amr.as_deref())),
            user_id: row.user_id.map(UserId::from_stored),
            auth_time: row.auth_time,
        })
    }
}
