//! OAuth clients: identifiers, redirect URIs, grant types, authentication methods, registration rules.

mod client_secret;
mod jwks;
mod kinds;
mod redirect_uri;
mod tls;

pub use client_secret::{CLIENT_SECRET_PREFIX, ClientSecret, MIN_HMAC_SECRET_BYTES, SealedSecret};
pub use jwks::{check_jwks, check_jwks_uri};
pub use kinds::{ApplicationType, AuthMethod, DEVICE_CODE_GRANT, GrantType, TOKEN_EXCHANGE_GRANT};
pub use redirect_uri::RedirectUri;
pub use tls::{TLS_SUBJECT_FIELDS, TlsSubject, tls_subject_of};

use std::fmt;

use super::scope::ScopeSet;
use super::secret::{TokenHash, random_string};
use crate::domain::alg::SigningAlg;
use crate::domain::api::{Audience, parse_audiences};

/// A client identifier (RFC 6749 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    /// A fresh random identifier (128 bits). It never starts with `-`, so it can be given to the CLI
    /// as a plain argument (`latchkey client show ID`) without being taken for a flag.
    pub fn generate() -> Self {
        loop {
            let id = random_string(16);
            if !id.starts_with('-') {
                return Self(id);
            }
        }
    }

    /// Validate an identifier chosen by the operator: 1–128 of `A-Z a-z 0-9 . _ - :`.
    pub fn parse(raw: &str) -> Result<Self, ClientError> {
        let ok = !raw.is_empty()
            && raw.len() <= 128
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b':'));
        if !ok {
            return Err(ClientError(format!(
                "client id '{}' must be 1-128 characters of A-Z a-z 0-9 . _ - :",
                raw.chars().take(128).collect::<String>()
            )));
        }
        Ok(Self(raw.to_owned()))
    }

    /// Wrap an identifier read back from the store.
    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    /// The identifier as sent on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A rule a client registration broke, worded for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ClientError(pub String);

/// A registered client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// RFC 6749 §2.2.
    pub client_id: ClientId,
    /// Shown on the consent page.
    pub client_name: String,
    /// SHA-256 of the secret, for confidential clients.
    pub secret_hash: Option<TokenHash>,
    /// The same secret sealed, for `client_secret_jwt` clients only (the server MACs with it).
    pub sealed_secret: Option<SealedSecret>,
    /// How it authenticates at the token endpoint.
    pub auth_method: AuthMethod,
    /// Registered redirect URIs (RFC 6749 §3.1.2.2).
    pub redirect_uris: Vec<RedirectUri>,
    /// Registered post-logout redirect URIs (OIDC RP-Initiated Logout §3.1).
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    /// Grant types it may use.
    pub grant_types: Vec<GrantType>,
    /// Scopes it may request; with client credentials and no `scope`, all of them.
    pub scopes: ScopeSet,
    /// Whether PKCE is required (always for public clients).
    pub require_pkce: bool,
    /// First-party client: no consent page.
    pub skip_consent: bool,
    /// A resource server that may introspect any token (RFC 7662 §2.1).
    pub introspect_any: bool,
    /// RFC 9126 §6 `require_pushed_authorization_requests`: sign-ins start only from `/par`.
    pub require_par: bool,
    /// RFC 9449 §5.2 `dpop_bound_access_tokens`: every token request carries a DPoP proof.
    pub require_dpop: bool,
    /// Every sign-in for it needs two factors (`urn:latchkey:acr:mfa`, RFC 9470 §3).
    pub require_mfa: bool,
    /// RFC 8705 §3.4 `tls_client_certificate_bound_access_tokens`: its access tokens are bound to
    /// the certificate it connects with.
    pub tls_bound_tokens: bool,
    /// RFC 8705 §2.1.2: what names a `tls_client_auth` client in its certificate.
    pub tls_subject: Option<TlsSubject>,
    /// RFC 7591 §2 `jwks`: the public keys of a `private_key_jwt` client, a compact JSON JWK set.
    pub jwks: Option<String>,
    /// RFC 7591 §2 `jwks_uri`: where a `private_key_jwt` client publishes its public keys instead.
    pub jwks_uri: Option<String>,
    /// OIDC Back-Channel Logout §2.2 `backchannel_logout_uri`: where logout tokens are POSTed.
    pub backchannel_logout_uri: Option<String>,
    /// §2.2 `backchannel_logout_session_required`: the client needs `sid` in logout tokens (and so
    /// in ID tokens).
    pub backchannel_logout_session_required: bool,
    /// OIDC Dynamic Registration §2 `id_token_signed_response_alg`; `None` = the server's default.
    pub id_token_alg: Option<SigningAlg>,
    /// OIDC Dynamic Registration §2 `application_type`.
    pub application_type: ApplicationType,
    /// The APIs it may ask tokens for (RFC 8707 `resource`).
    pub resources: Vec<Audience>,
    /// The API its tokens are for when a request names none and its scopes do not tell.
    pub default_resource: Option<Audience>,
    /// The API this client is the resource server of: it may introspect that API's tokens (RFC 7662 §2.1).
    pub api: Option<Audience>,
    /// RFC 8693: the APIs it may exchange a user's access token for (with the token-exchange grant).
    pub may_exchange_for: Vec<Audience>,
    /// Created, and last changed (Unix seconds).
    pub created_at: i64,
    /// Last changed.
    pub updated_at: i64,
}

/// What an operator asks for when registering or updating a client.
#[derive(Debug, Clone, Default)]
pub struct ClientSpec {
    /// Display name.
    pub client_name: String,
    /// Redirect URIs, raw.
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs, raw.
    pub post_logout_redirect_uris: Vec<String>,
    /// Grant types, raw; empty means "the sensible default".
    pub grant_types: Vec<String>,
    /// Allowed scopes, space-delimited.
    pub scope: String,
    /// Authentication method, raw.
    pub auth_method: String,
    /// Let a confidential client skip PKCE.
    pub allow_no_pkce: bool,
    /// First-party client.
    pub skip_consent: bool,
    /// Resource server.
    pub introspect_any: bool,
    /// Only pushed authorization requests (RFC 9126 §6).
    pub require_par: bool,
    /// Only DPoP-bound tokens (RFC 9449 §5.2).
    pub require_dpop: bool,
    /// Sign-ins need two factors.
    pub require_mfa: bool,
    /// Certificate-bound access tokens (RFC 8705 §3.4).
    pub tls_bound_tokens: bool,
    /// RFC 8705 §2.1.2: the one subject field given, (kind, raw value), kind one of
    /// [`TLS_SUBJECT_FIELDS`].
    pub tls_subject: Option<(String, String)>,
    /// ID token signing algorithm override, raw (`RS256`, `ES256`, `EdDSA`; empty = server default).
    pub id_token_alg: Option<String>,
    /// `web` or `native`, raw; empty = `web`.
    pub application_type: Option<String>,
    /// The APIs it may ask tokens for, raw audiences.
    pub resources: Vec<String>,
    /// The API used when a request names none, raw; empty = none.
    pub default_resource: Option<String>,
    /// The API this client is the resource server of, raw; empty = none.
    pub api: Option<String>,
    /// The APIs it may exchange tokens for, raw audiences.
    pub may_exchange_for: Vec<String>,
    /// Its public keys, a JSON JWK set (`private_key_jwt` clients).
    pub jwks: Option<String>,
    /// Where it publishes them instead, raw.
    pub jwks_uri: Option<String>,
    /// Where it receives logout tokens (OIDC Back-Channel Logout §2.2), raw; empty = none.
    pub backchannel_logout_uri: Option<String>,
    /// It needs `sid` in logout tokens.
    pub backchannel_logout_session_required: bool,
}

impl Client {
    /// Check a spec against the registration rules and build the client (without a secret).
    pub fn from_spec(
        client_id: ClientId,
        spec: &ClientSpec,
        now: i64,
    ) -> Result<Self, ClientError> {
        let client_name =
            super::text::plain_text(&spec.client_name, "client name", 200).map_err(ClientError)?;
        let auth_method: AuthMethod = spec.auth_method.parse()?;
        let redirect_uris = parse_uris(&spec.redirect_uris)?;
        let post_logout_redirect_uris = parse_uris(&spec.post_logout_redirect_uris)?;
        let mut grant_types = spec
            .grant_types
            .iter()
            .map(|g| g.parse())
            .collect::<Result<Vec<GrantType>, _>>()?;
        if grant_types.is_empty() {
            grant_types.push(
                if redirect_uris.is_empty() && auth_method.is_confidential() {
                    GrantType::ClientCredentials
                } else {
                    GrantType::AuthorizationCode
                },
            );
        }
        grant_types.sort();
        grant_types.dedup();
        let scopes = ScopeSet::parse(&spec.scope).map_err(|e| ClientError(e.to_string()))?;

        if grant_types.contains(&GrantType::AuthorizationCode) && redirect_uris.is_empty() {
            return Err(ClientError(
                "the authorization_code grant needs at least one --redirect-uri".into(),
            ));
        }
        if !auth_method.is_confidential() && grant_types.contains(&GrantType::ClientCredentials) {
            return Err(ClientError(
                "a public client (auth method none) cannot use client_credentials (RFC 6749 §4.4)"
                    .into(),
            ));
        }
        if grant_types == [GrantType::RefreshToken] {
            return Err(ClientError(
                "the refresh_token grant needs authorization_code as well".into(),
            ));
        }
        let id_token_alg = spec
            .id_token_alg
            .as_deref()
            .filter(|alg| !alg.is_empty())
            .map(str::parse::<SigningAlg>)
            .transpose()
            .map_err(ClientError)?;
        if spec.allow_no_pkce && !auth_method.is_confidential() {
            return Err(ClientError(
                "a public client must use PKCE (RFC 7636, RFC 9700 §2.1.1)".into(),
            ));
        }
        let mut resources = parse_audiences(&spec.resources).map_err(|e| ClientError(e.0))?;
        let default_resource = spec
            .default_resource
            .as_deref()
            .filter(|d| !d.is_empty())
            .map(Audience::parse)
            .transpose()
            .map_err(|e| ClientError(e.0))?;
        // The default resource is one the client may ask for.
        if let Some(default) = &default_resource
            && !resources.contains(default)
        {
            resources.push(default.clone());
        }
        let api = spec
            .api
            .as_deref()
            .filter(|a| !a.is_empty())
            .map(Audience::parse)
            .transpose()
            .map_err(|e| ClientError(e.0))?;
        if api.is_some() && !auth_method.is_confidential() {
            return Err(ClientError(
                "a resource server's client must be confidential to introspect (RFC 7662 §2.1)"
                    .into(),
            ));
        }
        let may_exchange_for =
            parse_audiences(&spec.may_exchange_for).map_err(|e| ClientError(e.0))?;
        if grant_types.contains(&GrantType::TokenExchange) {
            // RFC 8693 §2.1: the exchanging client authenticates.
            if !auth_method.is_confidential() {
                return Err(ClientError(
                    "a public client cannot use token exchange (RFC 8693 §2.1)".into(),
                ));
            }
            if may_exchange_for.is_empty() {
                return Err(ClientError(
                    "token exchange needs at least one --may-exchange-for AUDIENCE".into(),
                ));
            }
        }
        let application_type: ApplicationType = spec
            .application_type
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(str::parse)
            .transpose()?
            .unwrap_or_default();
        if application_type == ApplicationType::Web
            && let Some(uri) = redirect_uris.iter().find(|u| u.is_private_use_scheme())
        {
            return Err(ClientError(format!(
                "redirect URI '{}' uses a private-use scheme, which only native clients may register \
                 (RFC 8252 §7.1); add --application-type native",
                uri.as_str()
            )));
        }
        if spec.skip_consent
            && application_type == ApplicationType::Native
            && !auth_method.is_confidential()
        {
            return Err(ClientError(
                "a native public client cannot skip consent: its identity cannot be assured (RFC 8252 §8.6)"
                    .into(),
            ));
        }
        // RFC 7523 §2.2: a private_key_jwt client authenticates with a key it registered.
        let jwks = spec
            .jwks
            .as_deref()
            .filter(|j| !j.trim().is_empty())
            .map(check_jwks)
            .transpose()?;
        let jwks_uri = spec
            .jwks_uri
            .as_deref()
            .filter(|u| !u.trim().is_empty())
            .map(check_jwks_uri)
            .transpose()?;
        match (auth_method.uses_keys(), jwks.is_some(), jwks_uri.is_some()) {
            (true, false, false) => {
                return Err(ClientError(format!(
                    "{} needs the client's public keys (--jwks FILE, a JWK set, or --jwks-uri URL)",
                    auth_method.as_str()
                )));
            }
            (true, true, true) => {
                return Err(ClientError(
                    "give --jwks or --jwks-uri, not both (RFC 7591 §2)".into(),
                ));
            }
            (false, true, _) | (false, _, true) => {
                return Err(ClientError(
                    "--jwks and --jwks-uri are for clients that authenticate with private_key_jwt or self_signed_tls_client_auth"
                        .into(),
                ));
            }
            _ => {}
        }
        // RFC 8705 §2.1.2: a tls_client_auth client names exactly one certificate field; no other
        // client names any.
        let tls_subject = spec
            .tls_subject
            .as_ref()
            .map(|(kind, value)| TlsSubject::parse(kind, value))
            .transpose()?;
        match (
            auth_method == AuthMethod::TlsClientAuth,
            tls_subject.is_some(),
        ) {
            (true, false) => {
                return Err(ClientError(
                    "tls_client_auth needs one of --tls-client-auth-subject-dn, --tls-client-auth-san-dns, --tls-client-auth-san-uri, --tls-client-auth-san-ip or --tls-client-auth-san-email (RFC 8705 §2.1.2)".into(),
                ));
            }
            (false, true) => {
                return Err(ClientError(
                    "the --tls-client-auth-* fields are for clients that authenticate with tls_client_auth".into(),
                ));
            }
            _ => {}
        }
        // RFC 8705 §2.2: a self-signed client's certificate is in its JWKS, as `x5c`.
        if auth_method == AuthMethod::SelfSignedTlsClientAuth
            && let Some(set) = &jwks
            && !jwks::holds_certificate(set)
        {
            return Err(ClientError(
                "self_signed_tls_client_auth needs the client's certificate in its JWK set (x5c, RFC 8705 §2.2)".into(),
            ));
        }
        let backchannel_logout_uri = spec
            .backchannel_logout_uri
            .as_deref()
            .filter(|u| !u.trim().is_empty())
            .map(|u| check_backchannel_logout_uri(u, auth_method.is_confidential()))
            .transpose()?;
        if spec.backchannel_logout_session_required && backchannel_logout_uri.is_none() {
            return Err(ClientError(
                "--backchannel-logout-session-required needs --backchannel-logout-uri".into(),
            ));
        }
        Ok(Self {
            client_id,
            client_name,
            secret_hash: None,
            sealed_secret: None,
            auth_method,
            redirect_uris,
            post_logout_redirect_uris,
            grant_types,
            scopes,
            require_pkce: !spec.allow_no_pkce,
            skip_consent: spec.skip_consent,
            introspect_any: spec.introspect_any,
            require_par: spec.require_par,
            require_dpop: spec.require_dpop,
            require_mfa: spec.require_mfa,
            tls_bound_tokens: spec.tls_bound_tokens,
            tls_subject,
            jwks,
            jwks_uri,
            backchannel_logout_uri,
            backchannel_logout_session_required: spec.backchannel_logout_session_required,
            id_token_alg,
            application_type,
            resources,
            default_resource,
            api,
            may_exchange_for,
            created_at: now,
            updated_at: now,
        })
    }

    /// The spec this client was built from, for updating some fields and keeping the rest.
    pub fn to_spec(&self) -> ClientSpec {
        ClientSpec {
            client_name: self.client_name.clone(),
            redirect_uris: self
                .redirect_uris
                .iter()
                .map(|u| u.as_str().to_owned())
                .collect(),
            post_logout_redirect_uris: self
                .post_logout_redirect_uris
                .iter()
                .map(|u| u.as_str().to_owned())
                .collect(),
            grant_types: self
                .grant_types
                .iter()
                .map(|g| g.as_str().to_owned())
                .collect(),
            scope: self.scopes.to_string(),
            auth_method: self.auth_method.as_str().to_owned(),
            allow_no_pkce: !self.require_pkce,
            skip_consent: self.skip_consent,
            introspect_any: self.introspect_any,
            require_par: self.require_par,
            require_dpop: self.require_dpop,
            require_mfa: self.require_mfa,
            tls_bound_tokens: self.tls_bound_tokens,
            tls_subject: self
                .tls_subject
                .as_ref()
                .map(|s| (s.kind().to_owned(), s.value())),
            jwks: self.jwks.clone(),
            jwks_uri: self.jwks_uri.clone(),
            backchannel_logout_uri: self.backchannel_logout_uri.clone(),
            backchannel_logout_session_required: self.backchannel_logout_session_required,
            id_token_alg: self.id_token_alg.map(|alg| alg.as_str().to_owned()),
            application_type: Some(self.application_type.as_str().to_owned()),
            resources: self
                .resources
                .iter()
                .map(|r| r.as_str().to_owned())
                .collect(),
            default_resource: self
                .default_resource
                .as_ref()
                .map(|r| r.as_str().to_owned()),
            api: self.api.as_ref().map(|a| a.as_str().to_owned()),
            may_exchange_for: self
                .may_exchange_for
                .iter()
                .map(|a| a.as_str().to_owned())
                .collect(),
        }
    }

    /// RFC 8252 §8.6: a native app without a secret cannot prove its identity, so an authorization
    /// for it is never silent (no remembered consent, no skipped consent, `prompt=none` refused).
    pub fn is_native_public(&self) -> bool {
        self.application_type == ApplicationType::Native && !self.auth_method.is_confidential()
    }

    /// Whether the client is registered for `grant`.
    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }

    /// The registered redirect URI matching `presented` (RFC 6749 §3.1.2.3, RFC 8252 §7.3).
    pub fn redirect_uri(&self, presented: &str) -> Option<&RedirectUri> {
        self.redirect_uris
            .iter()
            .find(|uri| uri.matches(presented, self.application_type))
    }

    /// Check a presented secret against the stored hash in constant time (RFC 6749 §2.3.1).
    pub fn secret_matches(&self, presented: &str) -> bool {
        self.secret_hash
            .as_ref()
            .is_some_and(|hash| hash.matches(presented))
    }
}

fn parse_uris(raw: &[String]) -> Result<Vec<RedirectUri>, ClientError> {
    let mut uris = Vec::with_capacity(raw.len());
    for uri in raw {
        let uri = RedirectUri::parse(uri)?;
        if !uris.contains(&uri) {
            uris.push(uri);
        }
    }
    Ok(uris)
}

/// OIDC Back-Channel Logout §2.2: the `backchannel_logout_uri` is an absolute URL without a
/// fragment (and here without credentials, of at most 2,000 characters). It SHOULD be https; plain
/// http is allowed only for a confidential client.
pub fn check_backchannel_logout_uri(raw: &str, confidential: bool) -> Result<String, ClientError> {
    let bad = |why: &str| ClientError(format!("the backchannel_logout_uri {why}"));
    if raw.len() > 2000 || raw.chars().any(char::is_control) {
        return Err(bad("is too long or has control characters"));
    }
    let url = url::Url::parse(raw).map_err(|_| bad("is not an absolute URL"))?;
    if url.host_str().is_none() {
        return Err(bad("must be an http(s) URL with a host"));
    }
    match url.scheme() {
        "https" => {}
        "http" if confidential => {}
        "http" => {
            return Err(bad(
                "must use https for a public client (OIDC Back-Channel Logout §2.2)",
            ));
        }
        _ => return Err(bad("must be an http(s) URL with a host")),
    }
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must have no fragment or credentials"));
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ClientSpec {
        ClientSpec {
            client_name: "Web app".into(),
            redirect_uris: vec!["https://app.example.com/callback".into()],
            auth_method: "client_secret_basic".into(),
            scope: "openid".into(),
            ..ClientSpec::default()
        }
    }

    #[test]
    fn redirect_uris_must_be_absolute_without_fragment() {
        assert!(RedirectUri::parse("https://app.example.com/cb").is_ok());
        assert!(RedirectUri::parse("/relative").is_err());
        assert!(RedirectUri::parse("https://app.example.com/cb#frag").is_err());
        assert!(RedirectUri::parse("http://app.example.com/cb").is_err());
        assert!(RedirectUri::parse("http://127.0.0.1:9000/cb").is_ok());
        assert!(RedirectUri::parse("http://localhost/cb").is_ok());
        assert!(RedirectUri::parse("com.example.app:/oauth2redirect").is_ok());
        assert!(RedirectUri::parse("javascript:alert(1)").is_err());
    }

    #[test]
    fn loopback_redirects_match_on_any_port_only() {
        let native = ApplicationType::Native;
        let uri = RedirectUri::parse("http://127.0.0.1/callback").unwrap();
        assert!(uri.matches("http://127.0.0.1:51000/callback", native));
        assert!(!uri.matches("http://127.0.0.1:51000/other", native));
        assert!(!uri.matches("http://127.0.0.2:51000/callback", native));
        let v6 = RedirectUri::parse("http://[::1]:80/cb").unwrap();
        assert!(v6.matches("http://[::1]:4321/cb", native));
        let https = RedirectUri::parse("https://app.example.com/cb").unwrap();
        assert!(!https.matches("https://app.example.com:444/cb", native));
        assert!(!https.matches("https://app.example.com/cb/", native));
    }

    #[test]
    fn generated_client_ids_never_look_like_a_flag() {
        assert!((0..2_000).all(|_| !ClientId::generate().as_str().starts_with('-')));
    }

    #[test]
    fn web_clients_get_exact_redirect_matching_only() {
        // RFC 8252 §7.3 is for native apps: a web client's loopback redirect keeps its port.
        let uri = RedirectUri::parse("http://127.0.0.1:9000/cb").unwrap();
        assert!(uri.matches("http://127.0.0.1:9000/cb", ApplicationType::Web));
        assert!(!uri.matches("http://127.0.0.1:9001/cb", ApplicationType::Web));
        assert!(uri.matches("http://127.0.0.1:9001/cb", ApplicationType::Native));
    }

    #[test]
    fn private_use_schemes_and_skipped_consent_follow_the_application_type() {
        let app_scheme = ClientSpec {
            redirect_uris: vec!["com.example.app:/cb".into()],
            auth_method: "none".into(),
            ..spec()
        };
        let err = Client::from_spec(ClientId::generate(), &app_scheme, 0).unwrap_err();
        assert!(err.0.contains("private-use scheme"), "{err}");
        let native = ClientSpec {
            application_type: Some("native".into()),
            ..app_scheme
        };
        let client = Client::from_spec(ClientId::generate(), &native, 0).unwrap();
        assert!(client.is_native_public());
        let skipping = ClientSpec {
            skip_consent: true,
            ..native
        };
        assert!(Client::from_spec(ClientId::generate(), &skipping, 0).is_err());
    }

    #[test]
    fn default_grant_follows_redirect_uris() {
        let client = Client::from_spec(ClientId::generate(), &spec(), 0).unwrap();
        assert_eq!(client.grant_types, vec![GrantType::AuthorizationCode]);
        let service = ClientSpec {
            redirect_uris: vec![],
            ..spec()
        };
        let client = Client::from_spec(ClientId::generate(), &service, 0).unwrap();
        assert_eq!(client.grant_types, vec![GrantType::ClientCredentials]);
    }

    #[test]
    fn public_clients_cannot_use_client_credentials_or_skip_pkce() {
        let public = ClientSpec {
            auth_method: "none".into(),
            grant_types: vec!["client_credentials".into()],
            ..spec()
        };
        assert!(Client::from_spec(ClientId::generate(), &public, 0).is_err());
        let no_pkce = ClientSpec {
            auth_method: "none".into(),
            allow_no_pkce: true,
            ..spec()
        };
        assert!(Client::from_spec(ClientId::generate(), &no_pkce, 0).is_err());
    }

    #[test]
    fn unknown_grant_and_auth_method_are_named() {
        let bad = ClientSpec {
            grant_types: vec!["password".into()],
            ..spec()
        };
        let err = Client::from_spec(ClientId::generate(), &bad, 0).unwrap_err();
        assert!(err.0.contains("unknown grant type 'password'"));
        let bad = ClientSpec {
            auth_method: "private_key_jwt".into(),
            ..spec()
        };
        assert!(Client::from_spec(ClientId::generate(), &bad, 0).is_err());
    }

    #[test]
    fn secrets_are_prefixed_and_verified_by_hash() {
        let secret = ClientSecret::generate();
        assert!(secret.expose().starts_with(CLIENT_SECRET_PREFIX));
        let mut client = Client::from_spec(ClientId::generate(), &spec(), 0).unwrap();
        client.secret_hash = Some(secret.hash());
        assert!(client.secret_matches(secret.expose()));
        assert!(!client.secret_matches("lk_cs_wrong"));
        assert_eq!(format!("{secret:?}"), "ClientSecret([redacted])");
    }
}
