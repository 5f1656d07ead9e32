//! Extractors: raw HTTP stops here. `ClientAuth` (a form body and an authenticated client, RFC 6749
//! §2.3, §3.2), `TokenForm` (the same, with the token request parsed by `grant_type`) and
//! `BearerToken` (RFC 6750 §2).

use std::sync::Arc;

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, FromRequest, Request};
use axum::http::{HeaderValue, Method, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::clock::UnixTime;
use crate::domain::client::{Client, ClientId};
use crate::error::OAuthError;
use crate::oauth::authorize::quoted_name;
use crate::oauth::client_auth::{self, Presented};
use crate::oauth::token::TokenRequest;
use crate::oauth::{Context, Params};
use crate::paths::MAX_BODY_BYTES;
use crate::state::AppState;

/// Form parameters, each at most once (RFC 6749 §3.2: parameters MUST NOT be included more than once),
/// except `resource`, which may repeat (RFC 8707 §2); its values are kept space-separated.
pub fn single_params(pairs: Vec<(String, String)>) -> Result<Params, OAuthError> {
    let mut params = Params::with_capacity(pairs.len());
    for (name, value) in pairs {
        if name == "resource" {
            let joined = params.entry(name).or_default();
            if !joined.is_empty() {
                joined.push(' ');
            }
            joined.push_str(&value);
            continue;
        }
        if params.contains_key(&name) {
            return Err(OAuthError::invalid_request(format!(
                "{} is repeated",
                quoted_name(&name)
            )));
        }
        params.insert(name, value);
    }
    Ok(params)
}

/// An `application/x-www-form-urlencoded` body (RFC 6749 §3.2), each parameter at most once.
async fn form_params(req: Request, state: &AppState) -> Result<Params, OAuthError> {
    let body: Result<Form<Vec<(String, String)>>, FormRejection> =
        Form::from_request(req, state).await;
    let Form(pairs) = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            OAuthError::invalid_request(format!(
                "the request body is larger than {} KiB",
                MAX_BODY_BYTES / 1024
            ))
        } else {
            OAuthError::invalid_request("the body must be application/x-www-form-urlencoded")
        }
    })?;
    single_params(pairs)
}

/// The prologue of every client-authenticated endpoint (token, introspection, revocation): the form
/// and the client it authenticated as, with the request's one reading of the clock.
pub struct ClientAuth {
    /// The authenticated client.
    pub client: Arc<Client>,
    /// The other parameters.
    pub params: Params,
    /// When the request arrived.
    pub now: UnixTime,
    /// The `DPoP` header values (RFC 9449 §4.1), unchecked: `/token` and `/par` check them.
    pub dpop: Vec<String>,
    /// RFC 8705 §3.1 `x5t#S256` of the client certificate the request came with, if any.
    pub certificate: Option<String>,
}

/// The request's client certificate chain, when the TLS listener or a trusted proxy gave it one.
fn chain_of(req: &Request) -> Option<Arc<[rustls::pki_types::CertificateDer<'static>]>> {
    req.extensions()
        .get::<crate::tls::ClientCertificate>()
        .map(|certificate| Arc::clone(&certificate.chain))
}

/// RFC 8705 §3.1 `x5t#S256` of a chain's end-entity certificate.
fn thumbprint_of(chain: &[rustls::pki_types::CertificateDer<'static>]) -> Option<String> {
    chain
        .first()
        .map(|der| crate::oauth::mtls::certificate_thumbprint(der))
}

impl FromRequest<AppState> for ClientAuth {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, OAuthError> {
        let authorization = req.headers().get(header::AUTHORIZATION).cloned();
        let dpop = dpop_headers(req.headers())?;
        let chain = chain_of(&req);
        let certificate = chain.as_deref().and_then(thumbprint_of);
        let params = form_params(req, state).await?;
        let presented = presented(authorization.as_ref(), &params)?;
        let now = state.clock.now();
        let client =
            client_auth::authenticate(&state.context(now), presented, chain.as_deref()).await?;
        Ok(Self {
            client,
            params,
            now,
            dpop,
            certificate,
        })
    }
}

/// The values of the `DPoP` header (RFC 9449 §4.1); a value that is not visible ASCII is
/// `invalid_dpop_proof`.
pub fn dpop_headers(headers: &axum::http::HeaderMap) -> Result<Vec<String>, OAuthError> {
    headers
        .get_all("dpop")
        .iter()
        .map(|value| {
            value.to_str().map(str::to_owned).map_err(|_| {
                OAuthError::new(
                    crate::error::ErrorCode::InvalidDpopProof,
                    "DPoP proof: not a JWT",
                )
            })
        })
        .collect()
}

/// RFC 9449 §8: with `--dpop-nonce`, every answer of an endpoint taking proofs gives the client
/// the nonce for its next one.
pub fn with_dpop_nonce(
    ctx: &Context<'_>,
    mut response: axum::response::Response,
) -> axum::response::Response {
    if let Some(nonce) = crate::oauth::dpop::current_nonce(ctx)
        && let Ok(value) = HeaderValue::from_str(&nonce)
    {
        response.headers_mut().insert("dpop-nonce", value);
    }
    response
}

/// `POST /token`'s input: the authenticated client and the request parsed by `grant_type`.
pub struct TokenForm {
    /// The authenticated client.
    pub client: Arc<Client>,
    /// The grant and its parameters.
    pub request: TokenRequest,
    /// When the request arrived.
    pub now: UnixTime,
    /// The `DPoP` header values, unchecked.
    pub dpop: Vec<String>,
    /// The `x5t#S256` of the request's client certificate, if any.
    pub certificate: Option<String>,
}

impl FromRequest<AppState> for TokenForm {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, OAuthError> {
        let ClientAuth {
            client,
            params,
            now,
            dpop,
            certificate,
        } = ClientAuth::from_request(req, state).await?;
        Ok(Self {
            client,
            request: TokenRequest::parse(&params)?,
            now,
            dpop,
            certificate,
        })
    }
}

impl ClientAuth {
    /// The protocol context of this request.
    pub fn context<'a>(&self, state: &'a AppState) -> Context<'a> {
        state.context(self.now)
    }

    /// The non-empty `token` parameter (RFC 7009 §2.1, RFC 7662 §2.1).
    pub fn token(&self) -> Result<&str, OAuthError> {
        self.params
            .get("token")
            .map(String::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| OAuthError::invalid_request("token is required"))
    }
}

fn bad_client(description: &str) -> OAuthError {
    OAuthError::invalid_client(description)
}

/// RFC 6749 §2.3.1: Basic credentials are the form-urlencoded id and secret, base64-encoded.
fn parse_basic(value: &str) -> Result<(String, String), OAuthError> {
    let (scheme, encoded) = value
        .split_once(' ')
        .ok_or_else(|| bad_client("malformed Authorization header"))?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad_client(
            "only Basic client authentication is accepted in the Authorization header",
        ));
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| bad_client("malformed Basic credentials"))?;
    let (id, secret) = decoded
        .split_once(':')
        .ok_or_else(|| bad_client("malformed Basic credentials"))?;
    // RFC 6749 §2.3.1 / Appendix B: each part is application/x-www-form-urlencoded ('+' is a space).
    let unescape = |part: &str| {
        percent_encoding::percent_decode_str(&part.replace('+', " "))
            .decode_utf8()
            .map(|decoded| decoded.into_owned())
            .map_err(|_| bad_client("malformed Basic credentials"))
    };
    Ok((unescape(id)?, unescape(secret)?))
}

/// A presented client id, parsed: a malformed one (control characters, NUL, over-long) is answered
/// like an unknown client and never reaches the store.
fn client_id(raw: &str) -> Result<ClientId, OAuthError> {
    ClientId::parse(raw).map_err(|_| client_auth::unknown_client())
}

/// The credentials a client presented: the Basic header, or `client_id` (and `client_secret`) in the body.
fn presented(
    authorization: Option<&HeaderValue>,
    params: &Params,
) -> Result<Presented, OAuthError> {
    let form_id = params.get("client_id").filter(|v| !v.is_empty());
    let form_secret = params.get("client_secret");
    // RFC 7521 §4.2, RFC 7523 §2.2: a JWT assertion, in the body.
    if let Some(kind) = params.get("client_assertion_type") {
        if authorization.is_some() || form_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not two",
            ));
        }
        if kind != client_auth::JWT_BEARER_ASSERTION {
            return Err(bad_client(
                "client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ));
        }
        let assertion = params
            .get("client_assertion")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| bad_client("client_assertion is missing"))?;
        // RFC 7521 §4.2: client_id is optional; the assertion's `sub` names the client.
        let id = match form_id {
            Some(id) => id.clone(),
            None => client_auth::assertion_subject(assertion)
                .ok_or_else(|| bad_client("the client assertion is not a JWT naming its client"))?,
        };
        return Ok(Presented::Assertion {
            client_id: client_id(&id)?,
            assertion: assertion.clone(),
        });
    }
    if params.contains_key("client_assertion") {
        return Err(bad_client("client_assertion needs client_assertion_type"));
    }
    if let Some(value) = authorization {
        let value = value
            .to_str()
            .map_err(|_| bad_client("malformed Authorization header"))?;
        let (id, secret) = parse_basic(value)?;
        // RFC 6749 §2.3: a client MUST NOT use more than one authentication method per request.
        if form_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not two",
            ));
        }
        if form_id.is_some_and(|form_id| *form_id != id) {
            return Err(OAuthError::invalid_request(
                "client_id does not match the Basic credentials",
            ));
        }
        return Ok(Presented::Basic {
            client_id: client_id(&id)?,
            secret,
        });
    }
    match (form_id, form_secret) {
        (Some(id), Some(secret)) => Ok(Presented::Post {
            client_id: client_id(id)?,
            secret: secret.clone(),
        }),
        (Some(id), None) => Ok(Presented::None {
            client_id: client_id(id)?,
        }),
        (None, _) => Err(bad_client("client authentication is required")),
    }
}

/// An access token presented to a protected resource: RFC 6750 §2.1 `Authorization: Bearer`, §2.2
/// the `access_token` parameter of a form-encoded POST body, or RFC 9449 §7.1 `Authorization: DPoP`
/// with a `DPoP` proof.
pub struct PresentedToken {
    /// The access token.
    pub token: String,
    /// Whether it came with the `DPoP` scheme (RFC 9449 §7.1).
    pub dpop_scheme: bool,
    /// The `DPoP` header values, unchecked.
    pub dpop: Vec<String>,
    /// The request's method (a proof's `htm`).
    pub method: String,
    /// The `x5t#S256` of the request's client certificate (RFC 8705 §3), if any.
    pub certificate: Option<String>,
}

impl<S: Send + Sync> FromRequest<S> for PresentedToken {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, OAuthError> {
        let authorization = req.headers().get(header::AUTHORIZATION).cloned();
        // RFC 9449 §7.1: at a protected resource a bad proof is a 401 with a DPoP challenge.
        let dpop = dpop_headers(req.headers()).map_err(OAuthError::dpop)?;
        let method = req.method().as_str().to_owned();
        let certificate = chain_of(&req).as_deref().and_then(thumbprint_of);
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let form = if req.method() == Method::POST && is_form {
            Form::<Vec<(String, String)>>::from_request(req, state)
                .await
                .ok()
                .map(|Form(pairs)| pairs)
        } else {
            None
        };
        let from_form = form
            .unwrap_or_default()
            .into_iter()
            .find(|(name, value)| name == "access_token" && !value.is_empty())
            .map(|(_, value)| value);
        let (token, dpop_scheme) = access_token(authorization.as_ref(), from_form, true)?;
        Ok(Self {
            token,
            dpop_scheme,
            dpop,
            method,
            certificate,
        })
    }
}

/// An access token in the `Authorization: Bearer` header only (RFC 6750 §2.1): for JSON APIs, whose
/// body is not a form. Reads no body, so it goes before a `Json` extractor.
pub struct HeaderBearerToken(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for HeaderBearerToken {
    type Rejection = OAuthError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, OAuthError> {
        access_token(parts.headers.get(header::AUTHORIZATION), None, false)
            .map(|(token, _)| Self(token))
    }
}

/// RFC 6750 §2: the token from the header or the form, sent one way only; with `allow_dpop`, also
/// RFC 9449 §7.1's `DPoP` scheme (answered `true`).
fn access_token(
    authorization: Option<&HeaderValue>,
    from_form: Option<String>,
    allow_dpop: bool,
) -> Result<(String, bool), OAuthError> {
    let from_header = authorization
        .map(|value| {
            let value = value.to_str().map_err(|_| {
                OAuthError::invalid_request("malformed Authorization header").bearer()
            })?;
            match value.split_once(' ') {
                Some((scheme, token))
                    if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
                {
                    Ok((token.trim().to_owned(), false))
                }
                Some((scheme, token))
                    if allow_dpop
                        && scheme.eq_ignore_ascii_case("dpop")
                        && !token.trim().is_empty() =>
                {
                    Ok((token.trim().to_owned(), true))
                }
                _ => Err(
                    OAuthError::invalid_request("expected an Authorization: Bearer token").bearer(),
                ),
            }
        })
        .transpose()?;
    match (from_header, from_form) {
        // RFC 6750 §2: a client MUST NOT use more than one method to send the token.
        (Some(_), Some(_)) => {
            Err(OAuthError::invalid_request("send the access token one way only").bearer())
        }
        (Some(token), None) => Ok(token),
        (None, Some(token)) => Ok((token, false)),
        (None, None) => Err(OAuthError::missing_bearer()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_urldecoded() {
        let encoded = STANDARD.encode("my%20client:s%3Acret");
        let (id, secret) = parse_basic(&format!("Basic {encoded}")).unwrap();
        assert_eq!(id, "my client");
        assert_eq!(secret, "s:cret");
        // Raw '&' and '=' are ordinary characters here, and '+' is a space (RFC 6749 Appendix B).
        let encoded = STANDARD.encode("a&b=c:x+y%2B");
        assert_eq!(
            parse_basic(&format!("Basic {encoded}")).unwrap(),
            ("a&b=c".to_owned(), "x y+".to_owned())
        );
        let invalid_utf8 = STANDARD.encode("%ff:secret");
        assert!(parse_basic(&format!("Basic {invalid_utf8}")).is_err());
    }

    #[test]
    fn a_client_id_with_control_characters_is_an_unknown_client() {
        for raw in ["web\u{0}", "a\nb", "", &"x".repeat(129)] {
            let mut params = Params::new();
            params.insert("client_id".into(), raw.to_owned());
            let result = presented(None, &params);
            if raw.is_empty() {
                assert!(result.is_err());
                continue;
            }
            let err = result.unwrap_err();
            assert_eq!(err.code.as_str(), "invalid_client", "{raw:?}");
        }
        let encoded = STANDARD.encode("web%00:secret");
        let header = HeaderValue::from_str(&format!("Basic {encoded}")).unwrap();
        assert_eq!(
            presented(Some(&header), &Params::new())
                .unwrap_err()
                .code
                .as_str(),
            "invalid_client"
        );
    }

    #[test]
    fn bearer_needs_a_token() {
        let header = HeaderValue::from_static("Bearer abc");
        assert_eq!(
            access_token(Some(&header), None, false).unwrap(),
            ("abc".to_owned(), false)
        );
        let basic = HeaderValue::from_static("Basic abc");
        assert!(access_token(Some(&basic), None, true).is_err());
        assert!(access_token(Some(&header), Some("abc".into()), true).is_err());
        assert_eq!(
            access_token(None, Some("t".into()), true).unwrap(),
            ("t".to_owned(), false)
        );
        // RFC 9449 §7.1: the DPoP scheme, only where a proof can be checked.
        let dpop = HeaderValue::from_static("DPoP abc");
        assert_eq!(
            access_token(Some(&dpop), None, true).unwrap(),
            ("abc".to_owned(), true)
        );
        assert!(access_token(Some(&dpop), None, false).is_err());
    }
}
