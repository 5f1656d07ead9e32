//! Protocol errors: the RFC 6749 §5.2 / RFC 6750 §3 error codes and their HTTP rendering.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::store::StoreError;

/// An OAuth 2.0 error code, spelled exactly as the RFCs define it.
///
/// RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, RFC 7009 §2.2.1, OIDC Core §3.1.2.6, RFC 8628 §3.5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// RFC 6749 §5.2: the request is missing a parameter, repeats one, or is otherwise malformed.
    InvalidRequest,
    /// RFC 6749 §5.2: client authentication failed.
    InvalidClient,
    /// RFC 6749 §5.2: the grant (code, refresh token) is invalid, expired, revoked or mismatched.
    InvalidGrant,
    /// RFC 6749 §5.2: the client may not use this grant type.
    UnauthorizedClient,
    /// RFC 6749 §5.2: the grant type is not supported by this server.
    UnsupportedGrantType,
    /// RFC 6749 §5.2: the requested scope is invalid, unknown, or exceeds what was granted.
    InvalidScope,
    /// RFC 8707 §2: the requested resource is invalid, unknown, or not allowed.
    InvalidTarget,
    /// RFC 6749 §4.1.2.1: the resource owner or the server denied the request.
    AccessDenied,
    /// RFC 6749 §4.1.2.1: the response type is not supported.
    UnsupportedResponseType,
    /// RFC 6749 §4.1.2.1: an unexpected condition prevented the server from answering.
    ServerError,
    /// RFC 6749 §4.1.2.1: the server is temporarily overloaded or unavailable.
    TemporarilyUnavailable,
    /// RFC 6750 §3.1: the access token is expired, revoked, malformed or invalid.
    InvalidToken,
    /// RFC 6750 §3.1: the access token lacks the scope the resource requires.
    InsufficientScope,
    /// RFC 7009 §2.2.1: the server does not support revoking this token type.
    UnsupportedTokenType,
    /// OIDC Core §3.1.2.6: `prompt=none` and the user is not signed in.
    LoginRequired,
    /// OIDC Core §3.1.2.6: `prompt=none` and consent is needed.
    ConsentRequired,
    /// OIDC Core §3.1.2.6: `prompt=none` and the user must interact.
    InteractionRequired,
    /// OIDC Core §3.1.2.6: the `request` parameter is not supported.
    RequestNotSupported,
    /// OIDC Core §3.1.2.6: the `request_uri` parameter is not supported.
    RequestUriNotSupported,
    /// RFC 8628 §3.5: the user has not yet approved or denied the device's request.
    AuthorizationPending,
    /// RFC 8628 §3.5: still pending, and the device polls too often: wait 5 s longer from now on.
    SlowDown,
    /// RFC 8628 §3.5: the device code has expired; the device must start again.
    ExpiredToken,
    /// RFC 9449 §5, §7.1: the DPoP proof is missing where required, malformed, or does not match.
    InvalidDpopProof,
    /// RFC 9449 §8, §9: the DPoP proof must carry the server's nonce (given in `DPoP-Nonce`).
    UseDpopNonce,
    /// RFC 7591 §3.2.2: a redirect URI of a registration is not acceptable.
    InvalidRedirectUri,
    /// RFC 7591 §3.2.2: a metadata field of a registration is invalid or not supported.
    InvalidClientMetadata,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::InvalidTarget => "invalid_target",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::UnsupportedTokenType => "unsupported_token_type",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::InteractionRequired => "interaction_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::InvalidRedirectUri => "invalid_redirect_uri",
            Self::InvalidClientMetadata => "invalid_client_metadata",
        }
    }

    /// The HTTP status this code is sent with (RFC 6749 §5.2, RFC 6750 §3.1).
    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidClient | Self::InvalidToken => StatusCode::UNAUTHORIZED,
            Self::InsufficientScope => StatusCode::FORBIDDEN,
            Self::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            Self::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a 401 is challenged: RFC 6749 §5.2 (client authentication) or RFC 6750 §3 (bearer token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    /// `WWW-Authenticate: Basic realm="latchkey"` for a failed client authentication.
    Basic,
    /// `WWW-Authenticate: Bearer …` for a protected resource.
    Bearer,
    /// `WWW-Authenticate: DPoP algs="…", …` for a protected resource and a DPoP-bound token or
    /// proof (RFC 9449 §7.1), always with 401.
    Dpop,
}

/// An error answered as the RFC 6749 §5.2 JSON body (or the RFC 6750 §3 bearer challenge).
///
/// Internal causes are logged where they are turned into this type; only `error` and a safe
/// `error_description` ever reach the client.
#[derive(Debug, Clone)]
pub struct OAuthError {
    /// The RFC error code.
    pub code: ErrorCode,
    /// A human-readable description, safe to show to the client.
    pub description: Option<String>,
    /// Which challenge a 401 carries.
    pub challenge: Challenge,
    /// Seconds the client should wait before retrying (503 only).
    pub retry_after: Option<u64>,
    /// RFC 9449 §8: a fresh nonce for the client's next DPoP proof (`DPoP-Nonce`).
    pub dpop_nonce: Option<String>,
}

/// The body of every error answer (RFC 6749 §5.2, RFC 6750 §3): the code and, when there is one, a
/// description for a human. The admin API refuses with the same body.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = Error)]
pub struct ErrorBody<'a> {
    /// The error code (RFC 6749 §5.2, RFC 6750 §3.1; `not_found` from the admin API).
    pub error: &'a str,
    /// Why, for a human; absent from a bare RFC 6750 §3.1 challenge (no token at all).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub error_description: Option<&'a str>,
}

impl OAuthError {
    /// An error with a description.
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: Some(description.into()),
            challenge: Challenge::Basic,
            retry_after: None,
            dpop_nonce: None,
        }
    }

    /// RFC 6749 §5.2 `invalid_request`.
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    /// RFC 6749 §5.2 `invalid_client`, challenged with `Basic` (RFC 6749 §5.2, RFC 7617).
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    /// RFC 6749 §5.2 `invalid_grant`.
    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    /// RFC 6750 §3.1 `invalid_token`, challenged with `Bearer`.
    pub fn invalid_token(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidToken, description).bearer()
    }

    /// RFC 6750 §3.1: a request without a token gets a bare `Bearer` challenge and no error code.
    pub fn missing_bearer() -> Self {
        Self {
            description: None,
            ..Self::invalid_token("")
        }
    }

    /// RFC 9449 §7.1: answer a protected resource's request with 401 and a `DPoP` challenge.
    pub fn dpop(mut self) -> Self {
        self.challenge = Challenge::Dpop;
        self
    }

    /// RFC 9449 §8: give the client a nonce for its next proof.
    pub fn with_dpop_nonce(mut self, nonce: Option<String>) -> Self {
        self.dpop_nonce = nonce;
        self
    }

    /// Switch the 401 challenge to RFC 6750 §3 `Bearer`.
    pub fn bearer(mut self) -> Self {
        self.challenge = Challenge::Bearer;
        self
    }

    /// RFC 6749 §4.1.2.1 `temporarily_unavailable`, sent as 503 with `Retry-After`.
    pub fn unavailable(retry_after: u64) -> Self {
        Self {
            retry_after: Some(retry_after),
            ..Self::new(
                ErrorCode::TemporarilyUnavailable,
                "the server is temporarily unavailable; retry later",
            )
        }
    }

    /// RFC 6749 §4.1.2.1 `server_error`, with a generic description; log the cause first.
    pub fn server_error() -> Self {
        Self::new(ErrorCode::ServerError, "internal server error")
    }

    /// The status: the code's, except that a `DPoP` challenge is always a 401 (RFC 9449 §7.1).
    fn status(&self) -> StatusCode {
        match self.challenge {
            Challenge::Dpop
                if !matches!(
                    self.code,
                    ErrorCode::ServerError
                        | ErrorCode::TemporarilyUnavailable
                        | ErrorCode::InsufficientScope
                ) =>
            {
                StatusCode::UNAUTHORIZED
            }
            _ => self.code.status(),
        }
    }

    fn www_authenticate(&self) -> Option<String> {
        if self.status() != StatusCode::UNAUTHORIZED && self.challenge != Challenge::Bearer {
            return None;
        }
        Some(match self.challenge {
            Challenge::Basic => r#"Basic realm="latchkey""#.to_owned(),
            // RFC 9449 §7.1: the algorithms accepted, and the error when there is one.
            Challenge::Dpop => {
                let mut value = format!(r#"DPoP algs="{}""#, crate::domain::alg::DPOP_ALGS_LIST);
                if !(self.code == ErrorCode::InvalidToken && self.description.is_none()) {
                    value.push_str(&format!(r#", error="{}""#, self.code));
                    if let Some(description) = &self.description {
                        value.push_str(&format!(
                            r#", error_description="{}""#,
                            quoted_safe(description)
                        ));
                    }
                }
                value
            }
            // RFC 6750 §3: a request without any token gets a bare challenge; otherwise the code.
            Challenge::Bearer
                if self.code == ErrorCode::InvalidToken && self.description.is_none() =>
            {
                r#"Bearer realm="latchkey""#.to_owned()
            }
            Challenge::Bearer => {
                let mut value = r#"Bearer realm="latchkey""#.to_owned();
                value.push_str(&format!(r#", error="{}""#, self.code));
                if let Some(description) = &self.description {
                    value.push_str(&format!(
                        r#", error_description="{}""#,
                        quoted_safe(description)
                    ));
                }
                value
            }
        })
    }
}

/// RFC 6750 §3: a description in a challenge is a quoted-string of %x20-21 / %x23-5B / %x5D-7E.
fn quoted_safe(description: &str) -> String {
    description
        .chars()
        .filter(|c| matches!(c, ' '..='~') && *c != '"' && *c != '\\')
        .collect()
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.description {
            Some(description) => write!(f, "{}: {description}", self.code),
            None => write!(f, "{}", self.code),
        }
    }
}

impl std::error::Error for OAuthError {}

/// The one log line of a failed store operation (it names the operation); inside the request's span,
/// so it carries the request id too.
pub(crate) fn log_store_error(err: &StoreError) {
    match err {
        StoreError::Rejected { .. } => tracing::warn!(error = %err, "store refused a value"),
        _ => tracing::error!(error = %err, "store operation failed"),
    }
}

impl From<StoreError> for OAuthError {
    /// RFC 6749 §4.1.2.1 / §5.2: an unreachable store is `temporarily_unavailable` (503 +
    /// `Retry-After`), a refused value `invalid_request`, anything else `server_error` (500).
    fn from(err: StoreError) -> Self {
        log_store_error(&err);
        match err {
            StoreError::Unavailable { .. } => Self::unavailable(1),
            StoreError::Rejected { .. } => {
                Self::invalid_request("a value in the request cannot be stored")
            }
            _ => Self::server_error(),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: self.code.as_str(),
            error_description: self.description.as_deref(),
        };
        // `Cache-Control: no-store` (RFC 6749 §5.1, §5.2) is the API routes' layer, in `app.rs`.
        let mut response = (self.status(), axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(value) = self.www_authenticate()
            && let Ok(value) = HeaderValue::from_str(&value)
        {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(nonce) = &self.dpop_nonce
            && let Ok(value) = HeaderValue::from_str(nonce)
        {
            headers.insert("dpop-nonce", value);
        }
        response
    }
}

/// How an authorization request (RFC 6749 §4.1.1) failed, and so how the user agent is answered.
#[derive(Debug)]
pub enum AuthorizeError {
    /// The client or redirect URI is missing, unknown or in doubt: the user sees an error page and is
    /// NEVER redirected (RFC 6749 §4.1.2.1, §10.15).
    BadClient(&'static str),
    /// The pending request is gone, expired, or was already completed: the user starts again.
    NothingPending,
    /// RFC 6749 §4.1.2.1 / OIDC Core §3.1.2.6: redirected to the client with `error`, `state`, `iss`.
    Redirect {
        /// The (registered) redirect URI.
        redirect_uri: String,
        /// The client's `state`, echoed.
        state: Option<String>,
        /// The error code.
        code: ErrorCode,
        /// A safe description.
        description: String,
    },
    /// The store failed.
    Store(StoreError),
}

impl From<StoreError> for AuthorizeError {
    fn from(err: StoreError) -> Self {
        Self::Store(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_client_is_401_with_basic_challenge() {
        let err = OAuthError::invalid_client("bad secret");
        assert_eq!(err.code.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            err.www_authenticate().as_deref(),
            Some(r#"Basic realm="latchkey""#)
        );
    }

    #[test]
    fn bearer_challenge_strips_quotes_from_the_description() {
        let err = OAuthError::invalid_token(r#"bad "token""#);
        assert_eq!(
            err.www_authenticate().as_deref(),
            Some(
                r#"Bearer realm="latchkey", error="invalid_token", error_description="bad token""#
            )
        );
    }

    #[test]
    fn store_errors_are_503_only_when_the_store_is_unreachable() {
        use crate::store::Operation;
        let op = Operation(Some("find_client"));
        let unavailable = OAuthError::from(StoreError::Unavailable {
            operation: op,
            source: sqlx::Error::PoolTimedOut,
        });
        assert_eq!(unavailable.code.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(unavailable.retry_after, Some(1));
        let internal = OAuthError::from(StoreError::Internal {
            operation: op,
            source: sqlx::Error::ColumnDecode {
                index: "created_at".into(),
                source: "not an integer".into(),
            },
        });
        assert_eq!(internal.code, ErrorCode::ServerError);
        assert_eq!(internal.code.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            internal.description.as_deref(),
            Some("internal server error")
        );
        assert_eq!(internal.retry_after, None);
        let corrupt = OAuthError::from(StoreError::Corrupt("scopes of c1".into()));
        assert_eq!(corrupt.code, ErrorCode::ServerError);
        let rejected = OAuthError::from(StoreError::Rejected {
            operation: op,
            source: sqlx::Error::Protocol("22021".into()),
        });
        assert_eq!(rejected.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn invalid_request_has_no_challenge() {
        assert_eq!(OAuthError::invalid_request("x").www_authenticate(), None);
    }
}
