//! Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3).
//!
//! The JWT assertions of RFC 7523 §2.2 come in two kinds, told apart by the client's registration
//! alone, never by the assertion: `private_key_jwt` (signed with one of the client's registered
//! keys) and `client_secret_jwt` (HS256, MACed with the client's secret, which the server keeps
//! sealed). Each accepts only its own algorithms, so neither can be passed off as the other.

use std::sync::Arc;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rustls::pki_types::CertificateDer;
use secrecy::ExposeSecret;

use super::Context;
use crate::domain::client::{AuthMethod, Client, ClientId, MIN_HMAC_SECRET_BYTES};
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

/// The one algorithm accepted for `client_secret_jwt` assertions (OIDC Core §9, RFC 7518 §3.2):
/// HMAC-SHA256 keyed with the client's secret.
pub const SECRET_ASSERTION_ALG: Algorithm = Algorithm::HS256;

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
    /// RFC 7523 §2.2 `private_key_jwt` (a JWT signed with one of the client's registered keys) or
    /// `client_secret_jwt` (HS256 with its secret): which one, the client's registration says.
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
/// in constant time), `private_key_jwt` or `client_secret_jwt` (RFC 7523 §2.2, OIDC Core §9), or
/// `tls_client_auth` or `self_signed_tls_client_auth` (RFC 8705 §2: the `client_id` and the
/// connection's client `certificate` chain), or `none` for public clients. The method used must be
/// the one the client is registered for (RFC 7591 §2 `token_endpoint_auth_method`).
pub async fn authenticate(
    ctx: &Context<'_>,
    presented: Presented,
    certificate: Option<&[CertificateDer<'static>]>,
) -> Result<Arc<Client>, OAuthError> {
    let (client_id, method) = match &presented {
        Presented::Basic { client_id, .. } => (client_id, Some(AuthMethod::ClientSecretBasic)),
        Presented::Post { client_id, .. } => (client_id, Some(AuthMethod::ClientSecretPost)),
        // A client id alone: a public client, or one that authenticates with its certificate.
        Presented::None { client_id } => (client_id, None),
        // Which kind of assertion it must be is the client's registration's to say.
        Presented::Assertion { client_id, .. } => (client_id, None),
    };
    let client = ctx
        .clients
        .find(ctx.store, client_id, ctx.now)
        .await?
        .ok_or_else(unknown_client)?;
    let method = method.unwrap_or(match &presented {
        Presented::None { .. } if client.auth_method.uses_certificate() => client.auth_method,
        Presented::None { .. } => AuthMethod::None,
        _ if client.auth_method.uses_assertion() => client.auth_method,
        _ => AuthMethod::PrivateKeyJwt,
    });
    match &presented {
        Presented::Basic { secret, .. } | Presented::Post { secret, .. }
            if !client.secret_matches(secret) =>
        {
            return Err(unknown_client());
        }
        Presented::None { .. }
            if client.auth_method.is_confidential() && !client.auth_method.uses_certificate() =>
        {
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
    if client.auth_method.uses_certificate() {
        verify_certificate(ctx, &client, certificate).await?;
    }
    Ok(client)
}

/// RFC 8705 §2: the connection's certificate authenticates the client. §2.1 `tls_client_auth`: the
/// chain leads to a CA of `--mtls-ca` and the certificate carries the registered subject DN or
/// SAN. §2.2 `self_signed_tls_client_auth`: the certificate is one registered in the client's JWK
/// set (`x5c`). Every failure is `invalid_client`.
async fn verify_certificate(
    ctx: &Context<'_>,
    client: &Client,
    certificate: Option<&[CertificateDer<'static>]>,
) -> Result<(), OAuthError> {
    let fail = certificate_failure;
    let chain = certificate
        .filter(|chain| !chain.is_empty())
        .ok_or_else(|| fail("connect with the client's certificate (RFC 8705 §2)"))?;
    let end_entity = chain[0].as_ref();
    match (client.auth_method, &client.tls_subject) {
        (AuthMethod::TlsClientAuth, Some(subject)) => {
            let chained = ctx
                .client_ca
                .is_some_and(|roots| crate::tls::chains_to(chain, roots, ctx.now));
            if !chained {
                return Err(fail("it does not chain to a trusted CA (--mtls-ca)"));
            }
            if !super::mtls::names(end_entity, subject) {
                return Err(fail(&format!(
                    "it does not carry the registered tls_client_auth_{}",
                    subject.kind()
                )));
            }
            Ok(())
        }
        (AuthMethod::SelfSignedTlsClientAuth, _) => {
            let registered = |keys: &JwkSet| super::mtls::registered_in(end_entity, keys);
            let keys = key_set(ctx, client, certificate_failure, registered).await?;
            if registered(&keys) {
                Ok(())
            } else {
                Err(fail(
                    "it is not one registered in the client's JWK set (x5c)",
                ))
            }
        }
        _ => Err(fail("the client has no registered certificate subject")),
    }
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

fn certificate_failure(why: &str) -> OAuthError {
    bad_client(&format!("client certificate: {why}"))
}

fn assertion_failure(why: &str) -> OAuthError {
    bad_client(&format!("client assertion: {why}"))
}

/// RFC 7523 §3, OIDC Core §9: the assertion is signed by one of `client`'s keys with an allowed
/// algorithm (`private_key_jwt`), or MACed with its secret using HS256 (`client_secret_jwt`);
/// `iss` and `sub` are its id, `aud` names this server (its issuer or one of its
/// client-authenticated endpoints), it expires within 5 minutes, and its `jti` was never used
/// before (recorded in the store, so on no other instance either). Every failure is
/// `invalid_client`.
async fn verify_assertion(
    ctx: &Context<'_>,
    client: &Client,
    assertion: &str,
) -> Result<(), OAuthError> {
    let fail = assertion_failure;
    if assertion.len() > MAX_ASSERTION_BYTES {
        return Err(fail("too long"));
    }
    let secret_jwt = client.auth_method == AuthMethod::ClientSecretJwt;
    let wrong_alg = if secret_jwt {
        "alg must be HS256 (client_secret_jwt)"
    } else {
        "alg must be RS256, PS256, ES256 or EdDSA"
    };
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| {
        // An algorithm the library does not even name (`none`) is still a JWT with a bad `alg`.
        if segment_json(assertion, 0).is_some_and(|h| h.get("alg").is_some()) {
            fail(wrong_alg)
        } else {
            fail("not a JWT")
        }
    })?;
    // Each method its own algorithms: no public key can act as a MAC key, no secret as a public key.
    let allowed = if secret_jwt {
        header.alg == SECRET_ASSERTION_ALG
    } else {
        ASSERTION_ALGS.contains(&header.alg)
    };
    if !allowed {
        return Err(fail(wrong_alg));
    }
    let keys = if secret_jwt {
        vec![secret_key(ctx, client)?]
    } else {
        public_keys(ctx, client, &header).await?
    };
    let claims = verified_claims(ctx, client, assertion, header.alg, &keys)?;
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

/// A `client_secret_jwt` client's secret, opened, as the HS256 key (OIDC Core §9: the octets of
/// its UTF-8 form). A client without a sealed secret (moved from another method and not rotated
/// since), or one that will not open, cannot authenticate this way.
fn secret_key(ctx: &Context<'_>, client: &Client) -> Result<DecodingKey, OAuthError> {
    let sealed = client.sealed_secret.as_ref().ok_or_else(|| {
        assertion_failure("the client has no secret to check it with (rotate the client's secret)")
    })?;
    let secret = ctx
        .keys
        .kek()
        .open_client_secret(&client.client_id, sealed)
        .map_err(|err| {
            tracing::warn!(client_id = %client.client_id, error = %err, "client_secret_jwt");
            assertion_failure("the client's secret is unreadable")
        })?;
    // RFC 7518 §3.2: an HS256 key of at least 256 bits.
    if secret.expose_secret().len() < MIN_HMAC_SECRET_BYTES {
        return Err(assertion_failure(
            "the client's secret is too short for HS256",
        ));
    }
    Ok(DecodingKey::from_secret(secret.expose_secret()))
}

/// The client's JWK set: registered (`jwks`), or fetched from its `jwks_uri` and cached, and
/// fetched again when the cached set lacks what the client presents (`has_it` is false: it may
/// have rotated its key or certificate). Failures are `fail(why)`; why a fetch failed is logged,
/// not told.
async fn key_set(
    ctx: &Context<'_>,
    client: &Client,
    fail: fn(&str) -> OAuthError,
    has_it: impl Fn(&JwkSet) -> bool,
) -> Result<Arc<JwkSet>, OAuthError> {
    match (&client.jwks, &client.jwks_uri) {
        (Some(raw), _) => Ok(Arc::new(
            serde_json::from_str(raw).map_err(|_| fail("the client's keys are unreadable"))?,
        )),
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
            if has_it(&keys) {
                return Ok(keys);
            }
            ctx.remote_jwks
                .get(uri, ctx.now, true)
                .await
                .map_err(unfetched)
        }
        (None, None) => Err(fail("the client has no registered keys")),
    }
}

/// The `private_key_jwt` client's keys that may have signed an assertion with `header`: its
/// registered set, or the one at its `jwks_uri` (fetched again for an unknown `kid`).
async fn public_keys(
    ctx: &Context<'_>,
    client: &Client,
    header: &jsonwebtoken::Header,
) -> Result<Vec<DecodingKey>, OAuthError> {
    // A kid the set lacks: the client may have rotated its key.
    let keys = key_set(ctx, client, assertion_failure, |keys| {
        header
            .kid
            .as_ref()
            .is_none_or(|kid| keys.find(kid).is_some())
    })
    .await?;
    // RFC 7515 §4.1.4: `kid` picks the key; without it, every key that fits the algorithm is tried.
    let candidates: Vec<&Jwk> = match &header.kid {
        Some(kid) => keys.find(kid).into_iter().collect(),
        None => keys.keys.iter().collect(),
    };
    Ok(candidates
        .into_iter()
        // RFC 7517 §4.4: a key registered for one algorithm is used for no other.
        .filter(|jwk| {
            jwk.common.key_algorithm.as_ref().is_none_or(|alg| {
                serde_json::to_value(alg).ok() == serde_json::to_value(header.alg).ok()
            })
        })
        .filter_map(|jwk| DecodingKey::from_jwk(jwk).ok())
        .collect())
}

/// The claims of `assertion`, verified with one of `keys` under `alg`, with `iss`, `sub` and `aud`
/// checked (RFC 7523 §3 items 1–3); its times are the caller's to check.
fn verified_claims(
    ctx: &Context<'_>,
    client: &Client,
    assertion: &str,
    alg: Algorithm,
    keys: &[DecodingKey],
) -> Result<AssertionClaims, OAuthError> {
    let fail = assertion_failure;
    let issuer = &ctx.settings.issuer;
    let audiences = [
        issuer.as_str().to_owned(),
        issuer.endpoint(TOKEN_PATH),
        issuer.endpoint(INTROSPECT_PATH),
        issuer.endpoint(REVOKE_PATH),
        issuer.endpoint(PAR_PATH),
        issuer.endpoint(DEVICE_AUTHORIZATION_PATH),
    ];
    let mut validation = Validation::new(alg);
    // Time is checked below against the request's clock, not the library's.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    validation.set_audience(&audiences);
    validation.set_issuer(&[client.client_id.as_str()]);
    validation.sub = Some(client.client_id.to_string());
    for key in keys {
        match jsonwebtoken::decode::<AssertionClaims>(assertion, key, &validation) {
            Ok(data) => return Ok(data.claims),
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
    Err(fail(if client.auth_method == AuthMethod::ClientSecretJwt {
        "its MAC does not verify with the client's secret"
    } else {
        "no registered key verifies its signature"
    }))
}
