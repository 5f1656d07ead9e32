//! The options of `client create` and `client update`, and the registration they describe, for
//! the database or the admin API.

use clap::Args;

use super::super::CliError;
use super::super::view;
use crate::domain::client::ClientSpec;

/// `client create`.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Display name, shown on the consent page.
    #[arg(long)]
    name: String,
    /// Choose the client id (default: 128 random bits).
    #[arg(long)]
    client_id: Option<String>,
    /// A redirect URI (repeatable; exact match, RFC 6749 §3.1.2).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// A post-logout redirect URI (repeatable).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// A grant type: authorization_code, client_credentials, refresh_token, token_exchange (RFC 8693)
    /// (repeatable).
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    /// Space-delimited scopes the client may request (each must exist).
    #[arg(long, default_value = "")]
    scope: String,
    /// client_secret_basic, client_secret_post, client_secret_jwt (HS256 assertions MACed with the
    /// secret, which is then also kept sealed under the key-encryption secret), private_key_jwt, or
    /// none (a public client).
    #[arg(long, default_value = "client_secret_basic")]
    auth_method: String,
    /// First-party client: users are not asked for consent.
    #[arg(long)]
    skip_consent: bool,
    /// A resource server that may introspect any token.
    #[arg(long)]
    introspect_any: bool,
    /// Start sign-ins only with pushed authorization requests (RFC 9126 §6, `/par`).
    #[arg(long)]
    require_par: bool,
    /// Every token request must carry a DPoP proof, so every token is bound to the client's key
    /// (RFC 9449 §5.2 `dpop_bound_access_tokens`).
    #[arg(long)]
    require_dpop: bool,
    /// Every sign-in for this client needs two factors (a password and a TOTP code:
    /// `urn:latchkey:acr:mfa`); a user without a second factor enrols one.
    #[arg(long)]
    require_mfa: bool,
    /// Bind the client's access tokens to the certificate it connects with (RFC 8705 §3): they
    /// carry `cnf.x5t#S256` and are useless without that certificate.
    #[arg(long)]
    tls_client_certificate_bound_access_tokens: bool,
    /// RFC 8705 §2.1.2, with `--auth-method tls_client_auth`: the expected subject DN of the client's certificate (RFC 4514, e.g. "CN=service-a,O=Example"). Give exactly one of the five.
    #[arg(long, value_name = "VALUE")]
    tls_client_auth_subject_dn: Option<String>,
    /// RFC 8705 §2.1.2, with `--auth-method tls_client_auth`: the expected SAN DNs of the client's certificate. Give exactly one of the five.
    #[arg(long, value_name = "VALUE")]
    tls_client_auth_san_dns: Option<String>,
    /// RFC 8705 §2.1.2, with `--auth-method tls_client_auth`: the expected SAN uri of the client's certificate. Give exactly one of the five.
    #[arg(long, value_name = "VALUE")]
    tls_client_auth_san_uri: Option<String>,
    /// RFC 8705 §2.1.2, with `--auth-method tls_client_auth`: the expected SAN ip of the client's certificate. Give exactly one of the five.
    #[arg(long, value_name = "VALUE")]
    tls_client_auth_san_ip: Option<String>,
    /// RFC 8705 §2.1.2, with `--auth-method tls_client_auth`: the expected SAN email of the client's certificate. Give exactly one of the five.
    #[arg(long, value_name = "VALUE")]
    tls_client_auth_san_email: Option<String>,
    /// A file holding the client's public keys as a JWK set (RFC 7517 §5), for
    /// `--auth-method private_key_jwt` (RFC 7523 §2.2).
    #[arg(long, value_name = "FILE")]
    jwks: Option<std::path::PathBuf>,
    /// Where the client publishes its public keys instead of `--jwks` (https; fetched and cached).
    #[arg(long, value_name = "URL")]
    jwks_uri: Option<String>,
    /// Where the client receives logout tokens when a user's session ends (OIDC Back-Channel
    /// Logout §2.2): https, or http for a confidential client.
    #[arg(long, value_name = "URL")]
    backchannel_logout_uri: Option<String>,
    /// The client needs `sid` in logout tokens (OIDC Back-Channel Logout §2.2).
    #[arg(long)]
    backchannel_logout_session_required: bool,
    /// Let a confidential client skip PKCE (public clients always use it).
    #[arg(long)]
    allow_no_pkce: bool,
    /// Sign this client's ID tokens with RS256, ES256 or EdDSA (default: the server's --id-token-alg).
    #[arg(long = "id-token-signed-response-alg")]
    id_token_signed_response_alg: Option<String>,
    /// `web` (exact redirect URI matching) or `native` (RFC 8252: any loopback port, private-use
    /// schemes, always asked for consent when public). OIDC Dynamic Registration §2.
    #[arg(long, default_value = "web")]
    application_type: String,
    /// An API (its audience) the client may ask tokens for with `resource` (RFC 8707); repeatable.
    #[arg(long = "resource")]
    resources: Vec<String>,
    /// The API its tokens are for when a request names none and its scopes do not tell.
    #[arg(long)]
    default_resource: Option<String>,
    /// The API (audience) this client is the resource server of: it may introspect that API's
    /// tokens (RFC 7662 §2.1). A confidential client.
    #[arg(long)]
    api: Option<String>,
    /// An API (audience) it may exchange a user's access token for (RFC 8693, with
    /// `--grant-type token_exchange`); repeatable.
    #[arg(long = "may-exchange-for")]
    may_exchange_for: Vec<String>,
}

/// `client update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The client id.
    pub(super) client_id: String,
    /// New display name.
    #[arg(long)]
    name: Option<String>,
    /// Replace the redirect URIs (repeatable).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// Replace the post-logout redirect URIs (repeatable).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// Replace the grant types (repeatable).
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    /// Replace the allowed scopes.
    #[arg(long)]
    scope: Option<String>,
    /// Switch between client_secret_basic and client_secret_post.
    #[arg(long)]
    auth_method: Option<String>,
    /// First-party client (true/false).
    #[arg(long)]
    skip_consent: Option<bool>,
    /// Resource server (true/false).
    #[arg(long)]
    introspect_any: Option<bool>,
    /// Only pushed authorization requests (true/false).
    #[arg(long)]
    require_par: Option<bool>,
    /// Only DPoP-bound tokens (true/false).
    #[arg(long)]
    require_dpop: Option<bool>,
    /// Sign-ins need two factors (true/false).
    #[arg(long)]
    require_mfa: Option<bool>,
    /// Certificate-bound access tokens (true/false).
    #[arg(long)]
    tls_client_certificate_bound_access_tokens: Option<bool>,
    /// Replace what names the client in its certificate with this subject DN (`tls_client_auth`).
    #[arg(long, value_name = "VALUE")]
    tls_client_auth_subject_dn: Option<String>,
    /// Replace what names the client in its certificate with this SAN DNs (`tls_client_auth`).
    #[arg(long, value_name = "VALUE")]
    tls_client_auth_san_dns: Option<String>,
    /// Replace what names the client in its certificate with this SAN uri (`tls_client_auth`).
    #[arg(long, value_name = "VALUE")]
    tls_client_auth_san_uri: Option<String>,
    /// Replace what names the client in its certificate with this SAN ip (`tls_client_auth`).
    #[arg(long, value_name = "VALUE")]
    tls_client_auth_san_ip: Option<String>,
    /// Replace what names the client in its certificate with this SAN email (`tls_client_auth`).
    #[arg(long, value_name = "VALUE")]
    tls_client_auth_san_email: Option<String>,
    /// Replace the client's public keys with the JWK set in this file (`private_key_jwt`).
    #[arg(long, value_name = "FILE")]
    jwks: Option<std::path::PathBuf>,
    /// Replace where the client publishes its keys (instead of `--jwks`).
    #[arg(long, value_name = "URL")]
    jwks_uri: Option<String>,
    /// Where the client receives logout tokens (an empty value removes it).
    #[arg(long, value_name = "URL")]
    backchannel_logout_uri: Option<String>,
    /// It needs `sid` in logout tokens (true/false).
    #[arg(long)]
    backchannel_logout_session_required: Option<bool>,
    /// Let a confidential client skip PKCE (true/false).
    #[arg(long)]
    allow_no_pkce: Option<bool>,
    /// ID token signing algorithm (RS256, ES256, EdDSA; an empty value returns to the server default).
    #[arg(long = "id-token-signed-response-alg")]
    id_token_signed_response_alg: Option<String>,
    /// `web` or `native`.
    #[arg(long)]
    application_type: Option<String>,
    /// Replace the APIs the client may ask for (repeatable).
    #[arg(long = "resource")]
    resources: Vec<String>,
    /// The default API (an empty value removes it).
    #[arg(long)]
    default_resource: Option<String>,
    /// The API this client is the resource server of (an empty value removes it).
    #[arg(long)]
    api: Option<String>,
    /// Replace the APIs it may exchange tokens for (repeatable).
    #[arg(long = "may-exchange-for")]
    may_exchange_for: Vec<String>,
}

/// The JWK set in the file at `path` (checked by the registration rules, not here).
fn read_jwks(path: &std::path::Path) -> Result<String, CliError> {
    super::super::read_text(path, 64 * 1024, "--jwks")
}

/// A registration as the admin API takes it (`POST`, `PUT /admin/v1/clients…`): the CLI's options.
pub(super) fn body(client_id: Option<&str>, spec: &ClientSpec) -> serde_json::Value {
    let mut body = serde_json::json!({
        "name": spec.client_name,
        "redirect_uris": spec.redirect_uris,
        "post_logout_redirect_uris": spec.post_logout_redirect_uris,
        "grant_types": spec.grant_types,
        "scope": spec.scope,
        "auth_method": spec.auth_method,
        "skip_consent": spec.skip_consent,
        "introspect_any": spec.introspect_any,
        "require_par": spec.require_par,
        "require_dpop": spec.require_dpop,
        "require_mfa": spec.require_mfa,
        "tls_client_certificate_bound_access_tokens": spec.tls_bound_tokens,
        "tls_client_auth_subject_dn": spec.tls_subject.as_ref().filter(|(kind, _)| kind == "subject_dn").map(|(_, value)| value),
        "tls_client_auth_san_dns": spec.tls_subject.as_ref().filter(|(kind, _)| kind == "san_dns").map(|(_, value)| value),
        "tls_client_auth_san_uri": spec.tls_subject.as_ref().filter(|(kind, _)| kind == "san_uri").map(|(_, value)| value),
        "tls_client_auth_san_ip": spec.tls_subject.as_ref().filter(|(kind, _)| kind == "san_ip").map(|(_, value)| value),
        "tls_client_auth_san_email": spec.tls_subject.as_ref().filter(|(kind, _)| kind == "san_email").map(|(_, value)| value),
        "jwks": spec
            .jwks
            .as_deref()
            .and_then(|raw| serde_json::from_str::<serde_json::Value>(raw).ok()),
        "jwks_uri": spec.jwks_uri,
        "backchannel_logout_uri": spec.backchannel_logout_uri,
        "backchannel_logout_session_required": spec.backchannel_logout_session_required,
        "allow_no_pkce": spec.allow_no_pkce,
        "id_token_signed_response_alg": spec.id_token_alg,
        "application_type": spec.application_type,
        "resources": spec.resources,
        "default_resource": spec.default_resource,
        "api": spec.api,
        "may_exchange_for": spec.may_exchange_for,
    });
    if let Some(id) = client_id {
        body["client_id"] = id.into();
    }
    body
}

/// The registration `c` shows, to change (as `Client::to_spec`).
pub(super) fn spec_of(c: &view::Client) -> ClientSpec {
    ClientSpec {
        client_name: c.client_name.clone(),
        redirect_uris: c.redirect_uris.clone(),
        post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
        grant_types: c.grant_types.clone(),
        scope: c.scope.clone(),
        auth_method: c.auth_method.clone(),
        allow_no_pkce: !c.require_pkce,
        skip_consent: c.skip_consent,
        introspect_any: c.introspect_any,
        require_par: c.require_par,
        require_dpop: c.require_dpop,
        require_mfa: c.require_mfa,
        tls_bound_tokens: c.tls_client_certificate_bound_access_tokens,
        tls_subject: crate::domain::client::TLS_SUBJECT_FIELDS
            .iter()
            .zip([
                &c.tls_client_auth_subject_dn,
                &c.tls_client_auth_san_dns,
                &c.tls_client_auth_san_uri,
                &c.tls_client_auth_san_ip,
                &c.tls_client_auth_san_email,
            ])
            .find_map(|(kind, value)| value.clone().map(|v| ((*kind).to_owned(), v))),
        jwks: c.jwks.as_ref().map(serde_json::Value::to_string),
        jwks_uri: c.jwks_uri.clone(),
        backchannel_logout_uri: c.backchannel_logout_uri.clone(),
        backchannel_logout_session_required: c.backchannel_logout_session_required,
        id_token_alg: c.id_token_signed_response_alg.clone(),
        application_type: Some(c.application_type.clone()),
        resources: c.resources.clone(),
        default_resource: c.default_resource.clone(),
        api: c.api.clone(),
        may_exchange_for: c.may_exchange_for.clone(),
    }
}

impl UpdateArgs {
    /// `spec` with the options given applied; a list option given replaces its whole list.
    pub(super) fn apply(self, spec: &mut ClientSpec) -> Result<(), CliError> {
        if let Some(path) = &self.jwks {
            spec.jwks = Some(read_jwks(path)?);
            spec.jwks_uri = None;
        }
        if let Some(uri) = self.jwks_uri.clone() {
            spec.jwks_uri = Some(uri);
            spec.jwks = None;
        }
        if let Some(uri) = self.backchannel_logout_uri {
            spec.backchannel_logout_uri = Some(uri).filter(|u| !u.is_empty());
        }
        if let Some(required) = self.backchannel_logout_session_required {
            spec.backchannel_logout_session_required = required;
        }
        if let Some(name) = self.name {
            spec.client_name = name;
        }
        if !self.redirect_uris.is_empty() {
            spec.redirect_uris = self.redirect_uris;
        }
        if !self.post_logout_redirect_uris.is_empty() {
            spec.post_logout_redirect_uris = self.post_logout_redirect_uris;
        }
        if !self.grant_types.is_empty() {
            spec.grant_types = self.grant_types;
        }
        if let Some(scope) = self.scope {
            spec.scope = scope;
        }
        if let Some(method) = self.auth_method {
            spec.auth_method = method;
        }
        if let Some(flag) = self.skip_consent {
            spec.skip_consent = flag;
        }
        if let Some(flag) = self.introspect_any {
            spec.introspect_any = flag;
        }
        if let Some(flag) = self.require_par {
            spec.require_par = flag;
        }
        if let Some(flag) = self.require_dpop {
            spec.require_dpop = flag;
        }
        if let Some(flag) = self.require_mfa {
            spec.require_mfa = flag;
        }
        if let Some(flag) = self.tls_client_certificate_bound_access_tokens {
            spec.tls_bound_tokens = flag;
        }
        let tls_subject = crate::domain::client::tls_subject_of([
            self.tls_client_auth_subject_dn.as_deref(),
            self.tls_client_auth_san_dns.as_deref(),
            self.tls_client_auth_san_uri.as_deref(),
            self.tls_client_auth_san_ip.as_deref(),
            self.tls_client_auth_san_email.as_deref(),
        ])
        .map_err(|e| CliError::Invalid(e.0))?;
        if tls_subject.is_some() {
            spec.tls_subject = tls_subject;
        }
        if let Some(flag) = self.allow_no_pkce {
            spec.allow_no_pkce = flag;
        }
        if let Some(alg) = self.id_token_signed_response_alg {
            spec.id_token_alg = Some(alg);
        }
        if let Some(kind) = self.application_type {
            spec.application_type = Some(kind);
        }
        if !self.resources.is_empty() {
            spec.resources = self.resources;
        }
        if let Some(default) = self.default_resource {
            spec.default_resource = Some(default);
        }
        if let Some(api) = self.api {
            spec.api = Some(api);
        }
        if !self.may_exchange_for.is_empty() {
            spec.may_exchange_for = self.may_exchange_for;
        }
        Ok(())
    }
}

impl CreateArgs {
    /// The registration these options describe.
    pub(super) fn spec(self) -> Result<(Option<String>, ClientSpec), CliError> {
        let jwks = self.jwks.as_deref().map(read_jwks).transpose()?;
        let spec = ClientSpec {
            client_name: self.name,
            redirect_uris: self.redirect_uris,
            post_logout_redirect_uris: self.post_logout_redirect_uris,
            grant_types: self.grant_types,
            scope: self.scope,
            auth_method: self.auth_method,
            allow_no_pkce: self.allow_no_pkce,
            skip_consent: self.skip_consent,
            introspect_any: self.introspect_any,
            require_par: self.require_par,
            require_dpop: self.require_dpop,
            require_mfa: self.require_mfa,
            tls_bound_tokens: self.tls_client_certificate_bound_access_tokens,
            tls_subject: crate::domain::client::tls_subject_of([
                self.tls_client_auth_subject_dn.as_deref(),
                self.tls_client_auth_san_dns.as_deref(),
                self.tls_client_auth_san_uri.as_deref(),
                self.tls_client_auth_san_ip.as_deref(),
                self.tls_client_auth_san_email.as_deref(),
            ])
            .map_err(|e| CliError::Invalid(e.0))?,
            jwks,
            jwks_uri: self.jwks_uri,
            backchannel_logout_uri: self.backchannel_logout_uri,
            backchannel_logout_session_required: self.backchannel_logout_session_required,
            id_token_alg: self.id_token_signed_response_alg,
            application_type: Some(self.application_type),
            resources: self.resources,
            default_resource: self.default_resource,
            api: self.api,
            may_exchange_for: self.may_exchange_for,
        };
        Ok((self.client_id, spec))
    }
}
