//! Bearer tokens on the way in (RFC 6750 §2.1; or DPoP's, RFC 9449 §7.1) and the errors sent back
//! (RFC 6750 §3).

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::provider::Rejected;

/// The realm every component names in `WWW-Authenticate`.
pub const REALM: &str = "latchkey-demo";

/// Why a request is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    /// RFC 6750 §3.1: no credentials at all: a bare challenge, no error code.
    Missing,
    /// `invalid_request` (400): an `Authorization: Bearer` header that is not one well-formed token.
    Malformed,
    /// `invalid_token` (401).
    InvalidToken(&'static str),
    /// `insufficient_scope` (403), naming the scope needed.
    InsufficientScope {
        /// The scope the resource requires.
        scope: &'static str,
        /// Why.
        description: &'static str,
    },
    /// 403 `forbidden`: a good token whose holder lacks a role the resource requires. A role is not
    /// a scope, so RFC 6750 §3.1's `insufficient_scope` does not fit, and there is no challenge.
    MissingRole(&'static str),
}

impl From<Rejected> for BearerError {
    fn from(rejected: Rejected) -> Self {
        Self::InvalidToken(rejected.description())
    }
}

/// An access token as a request presented it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presented<'a> {
    /// `Authorization: Bearer` (RFC 6750 §2.1).
    Bearer(&'a str),
    /// `Authorization: DPoP`, with a proof in the `DPoP` header (RFC 9449 §7.1).
    Dpop(&'a str),
}

/// The bearer token of a request (RFC 6750 §2.1). A request with another scheme, or none, has none.
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, BearerError> {
    match access_token(headers)? {
        Presented::Bearer(token) => Ok(token),
        Presented::Dpop(_) => Err(BearerError::Missing),
    }
}

/// The access token of a request, with the `Bearer` or the `DPoP` scheme (the same token syntax).
pub fn access_token(headers: &HeaderMap) -> Result<Presented<'_>, BearerError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(BearerError::Missing);
    };
    let value = value.to_str().map_err(|_| BearerError::Malformed)?;
    let Some((scheme, token)) = value.split_once(' ') else {
        return Err(BearerError::Missing);
    };
    let dpop = scheme.eq_ignore_ascii_case("dpop");
    if !dpop && !scheme.eq_ignore_ascii_case("bearer") {
        return Err(BearerError::Missing);
    }
    let token = token.trim();
    // RFC 6750 §2.1 b64token (RFC 9449 §7.1 uses the same syntax).
    let well_formed = !token.is_empty()
        && token.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
        });
    match (well_formed, dpop) {
        (false, _) => Err(BearerError::Malformed),
        (true, false) => Ok(Presented::Bearer(token)),
        (true, true) => Ok(Presented::Dpop(token)),
    }
}

impl IntoResponse for BearerError {
    fn into_response(self) -> Response {
        let (status, error, description, scope) = match self {
            Self::Missing => (
                StatusCode::UNAUTHORIZED,
                None,
                "a bearer access token is required",
                None,
            ),
            Self::Malformed => (
                StatusCode::BAD_REQUEST,
                Some("invalid_request"),
                "the Authorization header is not a well-formed bearer token",
                None,
            ),
            Self::InvalidToken(why) => (StatusCode::UNAUTHORIZED, Some("invalid_token"), why, None),
            Self::InsufficientScope { scope, description } => (
                StatusCode::FORBIDDEN,
                Some("insufficient_scope"),
                description,
                Some(scope),
            ),
            Self::MissingRole(description) => {
                let body = json!({ "error": "forbidden", "error_description": description });
                return (StatusCode::FORBIDDEN, Json(body)).into_response();
            }
        };
        let mut challenge = format!("Bearer realm=\"{REALM}\"");
        if let Some(error) = error {
            challenge.push_str(&format!(
                ", error=\"{error}\", error_description=\"{description}\""
            ));
        }
        if let Some(scope) = scope {
            challenge.push_str(&format!(", scope=\"{scope}\""));
        }
        let body = json!({
            "error": error.unwrap_or("unauthorized"),
            "error_description": description,
        });
        let mut response = (status, Json(body)).into_response();
        // Every value above is a constant of this file: no quotes or control characters.
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}
