//! Issuing and verifying Latchkey's JWTs: RFC 9068 access tokens and OIDC Core §2 ID tokens.

use serde::de::DeserializeOwned;

use crate::config::Settings;
use crate::domain::alg::SigningAlg;
use crate::domain::claims::{AccessTokenClaims, IdTokenClaims};
use crate::error::OAuthError;
use crate::keys::KeyRing;
use crate::keys::jws::{TYP_ACCESS_TOKEN, TYP_JWT, TYP_LOGOUT_TOKEN, sign_compact};
use crate::keys::material::jwt_algorithm;

/// Sign with the active key of `alg`; a missing key or a signing failure is a logged server error.
fn sign(
    keys: &KeyRing,
    alg: SigningAlg,
    typ: &str,
    claims: &impl serde::Serialize,
) -> Result<String, OAuthError> {
    let key = keys.signing_key(alg).ok_or_else(|| {
        tracing::error!(%alg, "no active signing key");
        OAuthError::server_error()
    })?;
    sign_compact(&key, typ, claims).map_err(|err| {
        tracing::error!(error = %err, "signing failed");
        OAuthError::server_error()
    })
}

/// RFC 9068 §2.1: an access token is a JWS with `typ: at+jwt`.
pub fn sign_access_token(
    keys: &KeyRing,
    alg: SigningAlg,
    claims: &AccessTokenClaims,
) -> Result<String, OAuthError> {
    sign(keys, alg, TYP_ACCESS_TOKEN, claims)
}

/// OIDC Core §2: the ID token, signed (never encrypted).
pub fn sign_id_token(
    keys: &KeyRing,
    alg: SigningAlg,
    claims: &IdTokenClaims,
) -> Result<String, OAuthError> {
    sign(keys, alg, TYP_JWT, claims)
}

/// OIDC Back-Channel Logout §2.4: the logout token, a JWS with `typ: logout+jwt`.
pub fn sign_logout_token(
    keys: &KeyRing,
    alg: SigningAlg,
    claims: &impl serde::Serialize,
) -> Result<String, OAuthError> {
    sign(keys, alg, TYP_LOGOUT_TOKEN, claims)
}

/// Why a presented JWT was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejected {
    /// Not a JWT, unknown key, bad signature, wrong type or issuer.
    #[error("the token is malformed or its signature is invalid")]
    Invalid,
    /// `exp` has passed.
    #[error("the token has expired")]
    Expired,
}

/// Verify a JWT signed by one of our published keys: the header `alg` must be the key's own (no algorithm
/// confusion), the `typ` must be `expected_typ`, and `iss` must be this issuer. `exp` is checked by the
/// caller against its `now` (time is an argument), so it is returned here unchecked.
fn verify<T: DeserializeOwned>(
    keys: &KeyRing,
    settings: &Settings,
    token: &str,
    expected_typ: &[&str],
) -> Result<T, TokenRejected> {
    if token.len() > 16 * 1024 {
        return Err(TokenRejected::Invalid);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| TokenRejected::Invalid)?;
    let typ_ok = header
        .typ
        .as_deref()
        .is_some_and(|typ| expected_typ.iter().any(|t| t.eq_ignore_ascii_case(typ)));
    if !typ_ok {
        return Err(TokenRejected::Invalid);
    }
    let key = header
        .kid
        .as_deref()
        .and_then(|kid| keys.verification_key(kid))
        .ok_or(TokenRejected::Invalid)?;
    if header.alg != jwt_algorithm(key.alg) {
        return Err(TokenRejected::Invalid);
    }
    let mut validation = jsonwebtoken::Validation::new(jwt_algorithm(key.alg));
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    validation.set_issuer(&[settings.issuer.as_str()]);
    jsonwebtoken::decode::<T>(token, &key.decoding_key, &validation)
        .map(|data| data.claims)
        .map_err(|_| TokenRejected::Invalid)
}

/// Verify an access token's signature, type and issuer, whether or not it has expired (revoking an
/// expired token is a no-op, not an error).
pub fn verify_access_token_signature(
    keys: &KeyRing,
    settings: &Settings,
    token: &str,
) -> Result<AccessTokenClaims, TokenRejected> {
    verify(keys, settings, token, &["at+jwt", "application/at+jwt"])
}

/// Verify one of our access tokens (RFC 9068 §4) and that it has not expired at `now`.
pub fn verify_access_token(
    keys: &KeyRing,
    settings: &Settings,
    token: &str,
    now: i64,
) -> Result<AccessTokenClaims, TokenRejected> {
    let claims = verify_access_token_signature(keys, settings, token)?;
    if claims.exp <= now {
        return Err(TokenRejected::Expired);
    }
    Ok(claims)
}

/// How far an `id_token_hint` can be trusted (OIDC RP-Initiated Logout 1.0 §2, §6).
#[derive(Debug, Clone)]
pub enum IdTokenHint {
    /// Ours, unexpired, and signed by a key that is still the active one: it proves which session
    /// the client holds, so the user may be signed out without being asked.
    Current(IdTokenClaims),
    /// Ours (the signature holds) but expired, or signed by a key retired since: it still names its
    /// client (`aud`), but the user is asked before being signed out.
    Stale(IdTokenClaims),
    /// Not verifiable: malformed, forged, or signed by a key no longer published.
    Unverifiable,
}

/// Judge an ID token presented as `id_token_hint` at `now`.
pub fn check_id_token_hint(
    keys: &KeyRing,
    settings: &Settings,
    token: &str,
    now: i64,
) -> IdTokenHint {
    let Ok(claims) = verify::<IdTokenClaims>(keys, settings, token, &["JWT"]) else {
        return IdTokenHint::Unverifiable;
    };
    let kid = jsonwebtoken::decode_header(token)
        .ok()
        .and_then(|header| header.kid);
    let signed_by_active = kid
        .as_deref()
        .and_then(|kid| keys.verification_key(kid))
        .and_then(|key| keys.signing_key(key.alg))
        .is_some_and(|active| Some(active.kid.as_str()) == kid.as_deref());
    if claims.exp > now && signed_by_active {
        IdTokenHint::Current(claims)
    } else {
        IdTokenHint::Stale(claims)
    }
}
