//! One item of the document, checked by the CLI's rules (`crate::admin`) and made into the
//! domain object it describes; references are checked against the configuration about to be
//! written, which the caller passes in.

use secrecy::{ExposeSecret, SecretString};

use super::document::{ApiItem, ClientItem, RoleItem, ScopeItem};
use crate::admin::AdminError;
use crate::admin::api::{NewApi, lifetime};
use crate::admin::role::granted_scopes;
use crate::admin::scope::{NewScope, checked_description};
use crate::domain::alg::SigningAlg;
use crate::domain::api::{Api, Audience};
use crate::domain::client::ClientSpec;
use crate::domain::role::Role;
use crate::domain::scope::Scope;
use crate::domain::secret::TokenHash;
use crate::domain::text::plain_text;

/// A secret an operator supplies for a client: long enough to stand in for the 256 random bits a
/// generated one has, since only its SHA-256 digest is kept (RFC 6749 §10.10, RFC 6819 §5.1.4.2.2).
pub(super) fn supplied_secret(
    client_id: &str,
    raw: &SecretString,
) -> Result<TokenHash, AdminError> {
    let value = raw.expose_secret();
    if value.len() < 32 || value.len() > 512 || !value.chars().all(|c| c.is_ascii_graphic()) {
        return Err(AdminError::Invalid(format!(
            "client '{client_id}': a supplied secret must be 32 to 512 printable ASCII characters without spaces"
        )));
    }
    Ok(TokenHash::of(value))
}

pub(super) fn api_of(item: &ApiItem, now: i64) -> Result<Api, AdminError> {
    let token_ttl = item
        .token_ttl
        .as_deref()
        .map(|raw| {
            crate::config::parse_duration(raw)
                .map_err(|why| AdminError::Invalid(format!("token_ttl: {why}")))
        })
        .transpose()?;
    if let Some(ttl) = token_ttl {
        lifetime(ttl)?;
    }
    let token_alg = item
        .token_alg
        .as_deref()
        .filter(|alg| !alg.is_empty())
        .map(str::parse::<SigningAlg>)
        .transpose()
        .map_err(AdminError::Invalid)?;
    let new = NewApi {
        audience: item.audience.clone(),
        name: item.name.clone(),
        scopes: Vec::new(),
        token_ttl,
        token_alg,
        token_format: item.token_format.clone().unwrap_or_else(|| "jwt".into()),
        rbac: item.rbac,
    };
    crate::admin::api::build(&new, now)
}

/// The API `raw` names, one of `apis` (the configuration's).
fn configured_api(raw: Option<&str>, apis: &[Audience]) -> Result<Option<Audience>, AdminError> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let audience = Audience::parse(raw).map_err(|e| AdminError::Invalid(e.0))?;
    if !apis.contains(&audience) {
        return Err(AdminError::Invalid(format!(
            "no API with audience '{audience}'"
        )));
    }
    Ok(Some(audience))
}

pub(super) fn scope_of(item: &ScopeItem, apis: &[Audience], now: i64) -> Result<Scope, AdminError> {
    let new = NewScope {
        name: item.name.clone(),
        description: item.description.clone(),
        api: item.api.clone(),
        hidden: item.hidden,
    };
    let description = checked_description(&new)?;
    let api = configured_api(item.api.as_deref(), apis)?;
    Ok(Scope {
        name: item.name.clone(),
        description,
        builtin: false,
        api,
        hidden: item.hidden,
        created_at: now,
    })
}

pub(super) fn role_of(
    item: &RoleItem,
    apis: &[Audience],
    scopes: &[Scope],
    now: i64,
) -> Result<Role, AdminError> {
    let name = crate::admin::role::parse_name(&item.name)?;
    let api = configured_api(item.api.as_deref(), apis)?;
    let description = item
        .description
        .as_deref()
        .map(|text| {
            plain_text(
                text,
                "the description",
                crate::admin::role::MAX_DESCRIPTION_LEN,
            )
        })
        .transpose()
        .map_err(AdminError::Invalid)?;
    let scopes = granted_scopes(&item.scopes, scopes, api.as_ref())?;
    Ok(Role {
        name,
        description,
        api,
        scopes,
        require_mfa: item.require_mfa,
        created_at: now,
    })
}

pub(super) fn spec_of(item: &ClientItem) -> Result<ClientSpec, crate::domain::client::ClientError> {
    let tls_subject = crate::domain::client::tls_subject_of([
        item.tls_client_auth_subject_dn.as_deref(),
        item.tls_client_auth_san_dns.as_deref(),
        item.tls_client_auth_san_uri.as_deref(),
        item.tls_client_auth_san_ip.as_deref(),
        item.tls_client_auth_san_email.as_deref(),
    ])?;
    Ok(ClientSpec {
        client_name: item.name.clone(),
        redirect_uris: item.redirect_uris.clone(),
        post_logout_redirect_uris: item.post_logout_redirect_uris.clone(),
        grant_types: item.grant_types.clone(),
        scope: item.scope.clone(),
        auth_method: item
            .auth_method
            .clone()
            .unwrap_or_else(|| "client_secret_basic".to_owned()),
        allow_no_pkce: item.allow_no_pkce,
        skip_consent: item.skip_consent,
        introspect_any: item.introspect_any,
        require_par: item.require_par,
        require_dpop: item.require_dpop,
        require_mfa: item.require_mfa,
        tls_bound_tokens: item.tls_client_certificate_bound_access_tokens,
        tls_subject,
        jwks: item.jwks.as_ref().map(serde_json::Value::to_string),
        jwks_uri: item.jwks_uri.clone(),
        backchannel_logout_uri: item.backchannel_logout_uri.clone(),
        backchannel_logout_session_required: item.backchannel_logout_session_required,
        id_token_alg: item.id_token_signed_response_alg.clone(),
        application_type: Some(
            item.application_type
                .clone()
                .unwrap_or_else(|| "web".to_owned()),
        ),
        resources: item.resources.clone(),
        default_resource: item.default_resource.clone(),
        api: item.api.clone(),
        may_exchange_for: item.may_exchange_for.clone(),
    })
}
