//! Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3).

use std::sync::Arc;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use super::Context;
use crate::domain::client::{AuthMethod, Client, ClientId};
use crate::domain::secret::TokenHash;
use crate::error::OAuthError;
use crate::paths::{DEVICE_AUTHORIZATION_PATH, INTROSPECT_PATH, PAR_PATH, REVOKE_PATH, TOKEN_PATH};
use crate::remote_jwks::FetchError;

/// RFC 7523 §2.2: the `client_assertion_type` of a JWT client assertion.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The signing algorithms accepted for `private_key_jwt` assertions (advertised as
/// `*_endpoint_auth_signing_alg_values_supported`); never `none` or a MAC.
pub const ASSERTION_ALGS: [Algorithm; 4] = [
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

/// OIDC Core §9: how far ahead an assertion may expire. A longer-lived one would have to be
/// remembered (its `jti`) for longer, and is a longer-lived credential if stolen.
const MAX_ASSERTION_LIFETIME: i64 = 300;

/// The clock skew tolerated on an assertion's `nbf` and `exp`.
const ASSERTION_LEEWAY: i64 = 30;

/// The longest assertion read.
const MAX_ASSERTION_BYTES: usize = 8 * 1024;

/// The credentials a client presented, as the edge found them (the id already parsed).
#[derive(Debug)]
pub enum Presented {
    /// RFC 6749 §2.3.1 HTTP Basic.
    Basic {
        /// The client id.
        client_id: ClientId,
        /// The secret (never logged).
        secret: String,
    },
    /// RFC 6749 §2.3.1 `client_id` and `client_secret` in the body.
    Post {
        /// The client id.
        client_id: ClientId,
        /// The secret (never logged).
        secret: String,
    },
    /// A public client: `client_id` alone (RFC 6749 §2.1, §3.2.1).
    None {
        /// The client id.
        client_id: ClientId,
    },
    /// RFC 7523 §2.2 `private_key_jwt`: a JWT signed with one of the client's registered keys.
    Assertion {
        /// The client id (the form's, or the assertion's `sub`).
        client_id: ClientId,
        /// The assertion (never logged).
        assertion: String,
    },
}

fn bad_client(description: &str) -> OAuthError {
    OAuthError::invalid_client(description)
}

/// The answer to a malformed or unknown client id: the same as for a wrong secret, so it reveals nothing.
pub fn unknown_client() -> OAuthError {
    bad_client("unknown client or wrong credentials")
}

/// The client an assertion names (its `sub`, RFC 7523 §3 item 2), read without verifying it: only
/// to find the client whose keys then verify it.
pub fn assertion_subject(assertion: &str) -> Option<String> {
    let claims = segment_json(assertion, 1)?;
    claims.get("sub")?.as_str().map(str::to_owned)
}

/// The JSON of a compact JWT's `index`th segment (0: header, 1: claims), unverified.
fn segment_json(token: &str, index: usize) -> Option<serde_json::Value> {
    use base64::Engine;
    if token.len() > MAX_ASSERTION_BYTES {
        return None;
    }
    let segment = token.split('.').nth(index)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Authenticate the client: `client_secret_basic`, `client_secret_post` (secrets compared as SHA-256
/// in constant time), `private_key_jwt` (RFC 7523 §2.2), or `none` for public clients. The method
/// used must be the one the client is registered for (RFC 7591 §2 `token_endpoint_auth_method`).
pub async fn authenticate(
    ctx: &Context<'_>,
    presented: Presented,
) -> Result<Arc<Client>, OAuthError> {
    let (client_id, method) = match &presented {
        Presented::Basic { client_id, .. } => (client_id, AuthMethod::ClientSecretBasic),
        Presented::Post { client_id, .. } => (client_id, AuthMethod::ClientSecretPost),
        Presented::None { client_id } => (client_id, AuthMethod::None),
        Presented::Assertion { client_id, .. } => (client_id, AuthMethod::PrivateKeyJwt),
    };
    let client = ctx
        .clients
        .find(ctx.store, client_id, ctx.now)
        .await?
        .ok_or_else(unknown_client)?;
    match &presented {
        Presented::Basic { secret, .. } | Presented::Post { secret, .. }
            if !client.secret_matches(secret) =>
        {
            return Err(unknown_client());
        }
        Presented::None { .. } if client.auth_method.is_confidential() => {
            return Err(bad_client(&format!(
                "this client must authenticate ({})",
                client.auth_method.as_str()
            )));
        }
        _ => {}
    }
    if client.auth_method != method {
        return Err(bad_client(&format!(
            "this client is registered for {}",
            client.auth_method.as_str()
        )));
    }
    if let Presented::Assertion { assertion, .. } = &presented {
        verify_assertion(ctx, &client, assertion).await?;
    }
    Ok(client)
}

/// The claims of a client assertion this server checks itself (RFC 7523 §3).
#[derive(serde::Deserialize)]
struct AssertionClaims {
    #[serde(default)]
    exp: Option<i64>,
    #[serde(default)]
    nbf: Option<i64>,
    #[serde(default)]
    jti: Option<String>,
}

/// RFC 7523 §3, OIDC Core §9: the assertion is signed by one of `client`'s keys with an allowed
/// algorithm, `iss` and `sub` are its id, `aud` names this server (its issuer or one of its
/// client-authenticated endpoints), it expires within 5 minutes, and its `jti` was never used
/// before (recorded in the store, so on no other instance either). Every failure is
/// `invalid_client`.
async fn verify_assertion(
    ctx: &Context<'_>,
    client: &Client,
    assertion: &str,
) -> Result<(), OAuthError> {
    let fail = |why: &str| bad_client(&format!("client assertion: {why}"));
    if assertion.len() > MAX_ASSERTION_BYTES {
        return Err(fail("too long"));
    }
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| {
        // An algorithm the library does not even name (`none`) is still a JWT with a bad `alg`.
        if segment_json(assertion, 0).is_some_and(|h| h.get("alg").is_some()) {
            fail("alg must be RS256, PS256, ES256 or EdDSA")
        } else {
            fail("not a JWT")
        }
    })?;
    if !ASSERTION_ALGS.contains(&header.alg) {
        return Err(fail("alg must be RS256, PS256, ES256 or EdDSA"));
    }
    let keys: Arc<JwkSet> = match (&client.jwks, &client.jwks_uri) {
        (Some(raw), _) => Arc::new(
            serde_json::from_str(raw).map_err(|_| fail("the client's keys are unreadable"))?,
        ),
        (None, Some(uri)) => {
            let unfetched = |err: FetchError| match err {
                FetchError::Refused(why) => fail(&why),
                FetchError::Failed(why) => {
                    tracing::warn!(client_id = %client.client_id, "jwks_uri: {why}");
                    fail("the client's keys could not be fetched from its jwks_uri")
                }
            };
            let keys = ctx
                .remote_jwks
                .get(uri, ctx.now, false)
                .await
                .map_err(unfetched)?;
            // A kid the cached set lacks: the client may have rotated its key.
            match &header.kid {
                Some(kid) if keys.find(kid).is_none() => ctx
                    .remote_jwks
                    .get(uri, ctx.now, true)
                    .await
                    .map_err(unfetched)?,
                _ => keys,
            }
        }
        (None, None) => return Err(fail("the client has no registered keys")),
    };
    // RFC 7515 §4.1.4: `kid` picks the key; without it, every key that fits the algorithm is tried.
    let candidates: Vec<&Jwk> = match &header.kid {
        Some(kid) => keys.find(kid).into_iter().collect(),
        None => keys.keys.iter().collect(),
    };
    let issuer = &ctx.settings.issuer;
    let audiences = [
        issuer.as_str().to_owned(),
        issuer.endpoint(TOKEN_PATH),
        issuer.endpoint(INTROSPECT_PATH),
        issuer.endpoint(REVOKE_PATH),
        issuer.endpoint(PAR_PATH),
        issuer.endpoint(DEVICE_AUTHORIZATION_PATH),
    ];
    let mut validation = Validation::new(header.alg);
    // Time is checked below against the request's clock, not the library's.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    validation.set_audience(&audiences);
    validation.set_issuer(&[client.client_id.as_str()]);
    validation.sub = Some(client.client_id.to_string());
    let mut verified = None;
    for jwk in candidates {
        // RFC 7517 §4.4: a key registered for one algorithm is used for no other.
        if let Some(alg) = &jwk.common.key_algorithm
            && serde_json::to_value(alg).ok() != serde_json::to_value(header.alg).ok()
        {
            continue;
        }
        let Ok(key) = DecodingKey::from_jwk(jwk) else {
            continue;
        };
        match jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &validation) {
            Ok(data) => {
                verified = Some(data.claims);
                break;
            }
            Err(err) => match err.kind() {
                ErrorKind::InvalidAudience => {
                    return Err(fail("aud must be the issuer or the endpoint's URL"));
                }
                ErrorKind::InvalidIssuer | ErrorKind::InvalidSubject => {
                    return Err(fail("iss and sub must both be the client id"));
                }
                ErrorKind::MissingRequiredClaim(claim) => {
                    return Err(fail(&format!("the {claim} claim is missing")));
                }
                // Another key's signature, or a key of another type: try the next one.
                _ => continue,
            },
        }
    }
    let claims = verified.ok_or_else(|| fail("no registered key verifies its signature"))?;
    let exp = claims.exp.ok_or_else(|| fail("the exp claim is missing"))?;
    if exp <= ctx.now - ASSERTION_LEEWAY {
        return Err(fail("it has expired"));
    }
    if exp > ctx.now + MAX_ASSERTION_LIFETIME + ASSERTION_LEEWAY {
        return Err(fail("exp must be at most 5 minutes ahead"));
    }
    if claims
        .nbf
        .is_some_and(|nbf| nbf > ctx.now + ASSERTION_LEEWAY)
    {
        return Err(fail("it is not valid yet (nbf)"));
    }
    let jti = claims
        .jti
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(|| fail("a jti of 1 to 256 characters is required"))?;
    // RFC 7523 §3 item 7: single use, until it expires.
    if !ctx
        .store
        .record_client_assertion(&client.client_id, &TokenHash::of(&jti), exp)
        .await?
    {
        return Err(fail("it was already used (jti)"));
    }
    Ok(())
}
