//! Request extraction: client authentication (RFC 6749 §2.3) and bearer tokens (RFC 6750 §2).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::Form;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::domain::client::{AuthMethod, Client};
use crate::error::OAuthError;
use crate::state::AppState;

/// A urlencoded form body as axum hands it over (a rejection when it is not one).
pub type FormBody = Result<Form<Vec<(String, String)>>, FormRejection>;

/// The prologue of every client-authenticated endpoint (token, introspection, revocation): an
/// `application/x-www-form-urlencoded` body (RFC 6749 §3.2), each parameter at most once, and an
/// authenticated client.
pub async fn authenticated_form(
    state: &AppState,
    headers: &HeaderMap,
    body: FormBody,
) -> Result<(Arc<Client>, HashMap<String, String>), OAuthError> {
    let Form(pairs) = body.map_err(|rejection| {
        if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            OAuthError::invalid_request("the request body is larger than 64 KiB")
        } else {
            OAuthError::invalid_request("the body must be application/x-www-form-urlencoded")
        }
    })?;
    let params = single_params(pairs)?;
    let client = authenticate_client(state, headers, &params).await?;
    Ok((client, params))
}

/// A parameter name fit to quote in an error description: short and plain, or not quoted at all.
pub fn quoted_name(name: &str) -> String {
    if !name.is_empty()
        && name.len() <= 40
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        format!("the {name} parameter")
    } else {
        "a parameter".to_owned()
    }
}

/// Form parameters, each at most once (RFC 6749 §3.2: parameters MUST NOT be included more than once).
pub fn single_params(pairs: Vec<(String, String)>) -> Result<HashMap<String, String>, OAuthError> {
    let mut params = HashMap::with_capacity(pairs.len());
    for (name, value) in pairs {
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

/// The credentials a client presented.
enum Presented {
    Basic { client_id: String, secret: String },
    Post { client_id: String, secret: String },
    None { client_id: String },
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

fn presented(
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<Presented, OAuthError> {
    let form_id = params.get("client_id").filter(|v| !v.is_empty());
    let form_secret = params.get("client_secret");
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| bad_client("malformed Authorization header"))?;
        let (client_id, secret) = parse_basic(value)?;
        // RFC 6749 §2.3: a client MUST NOT use more than one authentication method per request.
        if form_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "use one client authentication method, not two",
            ));
        }
        if form_id.is_some_and(|id| *id != client_id) {
            return Err(OAuthError::invalid_request(
                "client_id does not match the Basic credentials",
            ));
        }
        return Ok(Presented::Basic { client_id, secret });
    }
    match (form_id, form_secret) {
        (Some(id), Some(secret)) => Ok(Presented::Post {
            client_id: id.clone(),
            secret: secret.clone(),
        }),
        (Some(id), None) => Ok(Presented::None {
            client_id: id.clone(),
        }),
        (None, _) => Err(bad_client("client authentication is required")),
    }
}

/// Authenticate the client at the token, introspection or revocation endpoint: `client_secret_basic`,
/// `client_secret_post` (secrets compared as SHA-256 in constant time), or `none` for public clients.
/// The method used must be the one the client is registered for (RFC 7591 §2 `token_endpoint_auth_method`).
pub async fn authenticate_client(
    state: &AppState,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Result<Arc<Client>, OAuthError> {
    let presented = presented(headers, params)?;
    let (client_id, secret, method) = match &presented {
        Presented::Basic { client_id, secret } => {
            (client_id, Some(secret), AuthMethod::ClientSecretBasic)
        }
        Presented::Post { client_id, secret } => {
            (client_id, Some(secret), AuthMethod::ClientSecretPost)
        }
        Presented::None { client_id } => (client_id, None, AuthMethod::None),
    };
    let client = state
        .clients
        .find(state.store.as_ref(), client_id, state.clock.now())
        .await?
        .ok_or_else(|| bad_client("unknown client or wrong credentials"))?;
    match secret {
        Some(secret) if !client.secret_matches(secret) => {
            return Err(bad_client("unknown client or wrong credentials"));
        }
        None if client.auth_method.is_confidential() => {
            return Err(bad_client("this client must authenticate with its secret"));
        }
        _ => {}
    }
    if client.auth_method != method {
        return Err(bad_client(&format!(
            "this client is registered for {}",
            client.auth_method.as_str()
        )));
    }
    Ok(client)
}

/// RFC 6750 §2.1 `Authorization: Bearer`, or §2.2 the `access_token` form parameter.
pub fn bearer_token(
    headers: &HeaderMap,
    form: Option<&HashMap<String, String>>,
) -> Result<String, OAuthError> {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .map(|value| {
            let value = value.to_str().map_err(|_| {
                OAuthError::invalid_request("malformed Authorization header").bearer()
            })?;
            match value.split_once(' ') {
                Some((scheme, token))
                    if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
                {
                    Ok(token.trim().to_owned())
                }
                _ => Err(
                    OAuthError::invalid_request("expected an Authorization: Bearer token").bearer(),
                ),
            }
        })
        .transpose()?;
    let from_form = form
        .and_then(|f| f.get("access_token"))
        .filter(|t| !t.is_empty())
        .cloned();
    match (from_header, from_form) {
        // RFC 6750 §2: a client MUST NOT use more than one method to send the token.
        (Some(_), Some(_)) => {
            Err(OAuthError::invalid_request("send the access token one way only").bearer())
        }
        (Some(token), None) | (None, Some(token)) => Ok(token),
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
    fn bearer_needs_a_token() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "Bearer abc".parse().unwrap());
        assert_eq!(bearer_token(&headers, None).unwrap(), "abc");
        headers.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert!(bearer_token(&headers, None).is_err());
    }
}
