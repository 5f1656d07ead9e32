//! What a client is and may do: its authentication method, grant types and application type.

use std::str::FromStr;

use super::ClientError;

/// Client authentication at the token endpoint (RFC 6749 §2.3, OIDC Core §9, RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// HTTP Basic with the client id and secret (RFC 6749 §2.3.1).
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body (RFC 6749 §2.3.1).
    ClientSecretPost,
    /// A public client: no secret, PKCE required (RFC 7636, RFC 8252 §8.4).
    None,
    /// A JWT signed with one of the client's registered private keys (RFC 7523 §2.2, OIDC Core §9).
    PrivateKeyJwt,
    /// A JWT MACed (HS256) with the client's secret (RFC 7523 §2.2, OIDC Core §9): the server keeps
    /// that secret sealed as well as hashed, since it must compute the MAC itself.
    ClientSecretJwt,
    /// RFC 8705 §2.1: mutual TLS with a certificate that chains to `--mtls-ca` and names the client
    /// in its subject DN or a SAN.
    TlsClientAuth,
    /// RFC 8705 §2.2: mutual TLS with a (self-signed) certificate registered in the client's JWKS
    /// (`x5c`).
    SelfSignedTlsClientAuth,
}

impl AuthMethod {
    /// The registered name (RFC 7591 §2 `token_endpoint_auth_method`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::None => "none",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::ClientSecretJwt => "client_secret_jwt",
            Self::TlsClientAuth => "tls_client_auth",
            Self::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }

    /// Whether the client can authenticate (RFC 6749 §2.1 confidential client): with a secret or a
    /// key.
    pub fn is_confidential(self) -> bool {
        self != Self::None
    }

    /// Whether the client authenticates with a secret the server generated (and keeps as a digest).
    pub fn has_secret(self) -> bool {
        matches!(
            self,
            Self::ClientSecretBasic | Self::ClientSecretPost | Self::ClientSecretJwt
        )
    }

    /// Whether the server must be able to read the secret back (not just compare its digest):
    /// `client_secret_jwt`, whose assertions are MACed with it (OIDC Core §9).
    pub fn needs_sealed_secret(self) -> bool {
        self == Self::ClientSecretJwt
    }

    /// Whether the client authenticates with its TLS client certificate (RFC 8705 §2).
    pub fn uses_certificate(self) -> bool {
        matches!(self, Self::TlsClientAuth | Self::SelfSignedTlsClientAuth)
    }

    /// Whether the client registers public keys (`jwks` / `jwks_uri`): to sign assertions
    /// (`private_key_jwt`) or to hold its self-signed certificate (`x5c`, RFC 8705 §2.2).
    pub fn uses_keys(self) -> bool {
        matches!(self, Self::PrivateKeyJwt | Self::SelfSignedTlsClientAuth)
    }

    /// Whether the client authenticates with a JWT assertion (RFC 7523 §2.2).
    pub fn uses_assertion(self) -> bool {
        matches!(self, Self::PrivateKeyJwt | Self::ClientSecretJwt)
    }
}

impl FromStr for AuthMethod {
    type Err = ClientError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "client_secret_basic" => Ok(Self::ClientSecretBasic),
            "client_secret_post" => Ok(Self::ClientSecretPost),
            "none" => Ok(Self::None),
            "private_key_jwt" => Ok(Self::PrivateKeyJwt),
            "client_secret_jwt" => Ok(Self::ClientSecretJwt),
            "tls_client_auth" => Ok(Self::TlsClientAuth),
            "self_signed_tls_client_auth" => Ok(Self::SelfSignedTlsClientAuth),
            other => Err(ClientError(format!(
                "unknown auth method '{other}' (expected client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt, tls_client_auth, self_signed_tls_client_auth or none)"
            ))),
        }
    }
}

/// The grant types a client may be registered for (RFC 6749 §4, §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GrantType {
    /// RFC 6749 §4.1.
    AuthorizationCode,
    /// RFC 6749 §4.4.
    ClientCredentials,
    /// RFC 6749 §6.
    RefreshToken,
    /// RFC 8693 token exchange: a service acting for a user towards another API.
    TokenExchange,
    /// RFC 8628 §3.4: the device authorization grant (input-constrained devices).
    DeviceCode,
}

/// RFC 8693 §2.1: the `grant_type` of token exchange.
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// RFC 8628 §3.4: the `grant_type` of a device access token request.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

impl GrantType {
    /// The `grant_type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::ClientCredentials => "client_credentials",
            Self::RefreshToken => "refresh_token",
            Self::TokenExchange => TOKEN_EXCHANGE_GRANT,
            Self::DeviceCode => DEVICE_CODE_GRANT,
        }
    }
}

impl FromStr for GrantType {
    type Err = ClientError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "authorization_code" => Ok(Self::AuthorizationCode),
            "client_credentials" => Ok(Self::ClientCredentials),
            "refresh_token" => Ok(Self::RefreshToken),
            // The RFC 8693 URN, or its short name on the command line.
            TOKEN_EXCHANGE_GRANT | "token_exchange" => Ok(Self::TokenExchange),
            // The RFC 8628 URN, or its short name.
            DEVICE_CODE_GRANT | "device_code" => Ok(Self::DeviceCode),
            other => Err(ClientError(format!(
                "unknown grant type '{other}' (expected authorization_code, client_credentials, refresh_token, token_exchange or {DEVICE_CODE_GRANT})"
            ))),
        }
    }
}

/// OIDC Dynamic Client Registration 1.0 §2 `application_type`: what kind of software the client is.
/// It decides the redirect URI rules: RFC 8252 §7.3's any-port loopback rule and §7.1's private-use
/// URI schemes are for native apps only; a web client's redirect URIs match exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApplicationType {
    /// A web application (the default).
    #[default]
    Web,
    /// A native application (desktop or mobile; RFC 8252).
    Native,
}

impl ApplicationType {
    /// The registered name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Web => "web",
            Self::Native => "native",
        }
    }
}

impl FromStr for ApplicationType {
    type Err = ClientError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "web" => Ok(Self::Web),
            "native" => Ok(Self::Native),
            other => Err(ClientError(format!(
                "unknown application type '{other}' (expected web or native)"
            ))),
        }
    }
}
