//! DPoP (RFC 9449): checking a proof of possession (§4.3), the server nonces (§8), and the key
//! thumbprint a token is bound to (§6.1, RFC 7638).
//!
//! A proof is a JWT the client signs with its own key for one request: `typ: dpop+jwt`, an
//! asymmetric `alg`, the public `jwk` in the header; `jti`, `htm`, `htu`, `iat`, and `ath` when an
//! access token goes with it. Its key's thumbprint (`jkt`) is what tokens are bound to.

use aws_lc_rs::{constant_time, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde_json::Value;

use super::Context;
use crate::domain::alg::DPOP_ALGS;
use crate::domain::secret::TokenHash;
use crate::error::{ErrorCode, OAuthError};

/// The largest proof read, in bytes (an RSA-4096 `jwk` and a signature fit easily).
const MAX_PROOF_BYTES: usize = 8 * 1024;

/// §4.3 item 11: how old a proof's `iat` may be. The replay cache keeps each proof this long.
pub const MAX_PROOF_AGE: i64 = 300;

/// How far ahead of this server's clock a proof's `iat` may be (clock skew).
pub const MAX_PROOF_SKEW: i64 = 60;

/// §8: a nonce is valid for the minute it was made in and the next one.
const NONCE_WINDOW: i64 = 60;

/// Members only a private or symmetric key has (RFC 7518 §6.2.2, §6.3.2, §6.4): §4.3 item 7 (the
/// `jwk` must be public).
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A proof that passed every check of §4.3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The SHA-256 thumbprint of its key (§6.1 `jkt`).
    pub jkt: String,
}

/// What the proof must match: the request it came with.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// §4.3 item 8 `htm`: the request's method.
    pub method: &'a str,
    /// §4.3 item 9 `htu`: the endpoint's URL, without query or fragment.
    pub url: &'a str,
    /// §4.3 item 12 `ath`: the access token sent with it, at a protected resource.
    pub access_token: Option<&'a str>,
}

#[derive(Deserialize)]
struct ProofClaims {
    jti: Option<String>,
    htm: Option<String>,
    htu: Option<String>,
    iat: Option<i64>,
    ath: Option<String>,
    nonce: Option<String>,
}

fn invalid(why: &str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidDpopProof, format!("DPoP proof: {why}"))
}

/// The current server nonce (§8), when `--dpop-nonce` is set: the minute it was made in and a MAC
/// of it under a key derived from the key-encryption secret, so every instance makes and accepts the
/// same ones.
pub fn current_nonce(ctx: &Context<'_>) -> Option<String> {
    ctx.settings
        .dpop_nonce
        .then(|| nonce_for(ctx, ctx.now.div_euclid(NONCE_WINDOW)))
}

fn nonce_for(ctx: &Context<'_>, window: i64) -> String {
    let mut bytes = window.to_be_bytes().to_vec();
    bytes.extend_from_slice(&ctx.keys.kek().nonce_tag(window)[..16]);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `nonce` was made in this minute or the last one.
fn nonce_is_current(ctx: &Context<'_>, nonce: &str) -> bool {
    let window = ctx.now.div_euclid(NONCE_WINDOW);
    [window, window - 1].into_iter().any(|w| {
        constant_time::verify_slices_are_equal(nonce.as_bytes(), nonce_for(ctx, w).as_bytes())
            .is_ok()
    })
}

/// RFC 7638 §3: the SHA-256 thumbprint of a public JWK, from its required members in
/// lexicographic order. (jsonwebtoken's `Jwk::thumbprint` panics on a key whose `crv` does not fit
/// its `kty`, so hostile input never goes there.)
pub fn thumbprint(jwk: &Value) -> Option<String> {
    let kty = jwk.get("kty")?.as_str()?;
    let members: &[&str] = match kty {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        "OKP" => &["crv", "kty", "x"],
        _ => return None,
    };
    let mut canonical = String::from("{");
    for (i, member) in members.iter().enumerate() {
        let value = jwk.get(*member)?.as_str()?;
        if i > 0 {
            canonical.push(',');
        }
        canonical.push_str(&format!(
            "\"{member}\":{}",
            serde_json::to_string(value).ok()?
        ));
    }
    canonical.push('}');
    Some(URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes())))
}

/// §4.3 item 9: `htu` names the same URL as the request, compared without query and fragment, and
/// after the normalisation of RFC 3986 §6 that the URL parser applies (scheme and host case, the
/// default port).
fn same_url(htu: &str, expected: &str) -> bool {
    let strip = |raw: &str| {
        url::Url::parse(raw).ok().map(|mut url| {
            url.set_query(None);
            url.set_fragment(None);
            url
        })
    };
    matches!((strip(htu), strip(expected)), (Some(a), Some(b)) if a == b)
}

/// §6.1 / §4.3 item 12: the `ath` of an access token, the base64url SHA-256 of its ASCII.
pub fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, token.as_bytes()))
}

/// Check the `DPoP` header values of a request against §4.3: `None` when there is none. Every
/// failure is `invalid_dpop_proof`; a proof without the current nonce (with `--dpop-nonce`) is
/// `use_dpop_nonce` carrying one. The proof's `jti` is recorded in the store (§11.1), so a replay
/// is refused on every instance.
pub async fn check(
    ctx: &Context<'_>,
    headers: &[&str],
    expected: Expected<'_>,
) -> Result<Option<Proof>, OAuthError> {
    let proof = match headers {
        [] => return Ok(None),
        [one] => *one,
        // §4.3 item 1: exactly one DPoP header.
        _ => return Err(invalid("send exactly one DPoP header")),
    };
    if proof.len() > MAX_PROOF_BYTES {
        return Err(invalid("too long"));
    }
    // §4.3 items 2–7: read the header by hand first, so `alg: none` and unknown algorithms are
    // told as such rather than as a malformed JWT.
    let header: Value = proof
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .filter(Value::is_object)
        .ok_or_else(|| invalid("not a JWT"))?;
    if proof.split('.').count() != 3 {
        return Err(invalid("not a JWT"));
    }
    let typ = header.get("typ").and_then(Value::as_str).unwrap_or("");
    if !typ.eq_ignore_ascii_case("dpop+jwt") {
        return Err(invalid("typ must be dpop+jwt"));
    }
    let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or("");
    if !DPOP_ALGS.contains(&alg_name) {
        return Err(invalid(&format!(
            "alg must be one of {} (dpop_signing_alg_values_supported)",
            DPOP_ALGS.join(", ")
        )));
    }
    let alg: Algorithm = serde_json::from_value(Value::String(alg_name.to_owned()))
        .map_err(|_| invalid("unknown alg"))?;
    let jwk_value = header
        .get("jwk")
        .filter(|j| j.is_object())
        .ok_or_else(|| invalid("the header must carry the public key as jwk"))?;
    if PRIVATE_MEMBERS.iter().any(|m| jwk_value.get(m).is_some()) {
        return Err(invalid("the jwk must be a public key"));
    }
    let jkt =
        thumbprint(jwk_value).ok_or_else(|| invalid("the jwk is not an RSA, EC or OKP key"))?;
    let jwk: Jwk =
        serde_json::from_value(jwk_value.clone()).map_err(|_| invalid("the jwk is malformed"))?;
    let key = DecodingKey::from_jwk(&jwk).map_err(|_| invalid("the jwk is malformed"))?;
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let claims = jsonwebtoken::decode::<ProofClaims>(proof, &key, &validation)
        .map_err(|_| invalid("the signature does not verify with its jwk"))?
        .claims;
    // Items 8–9: this request.
    if claims.htm.as_deref() != Some(expected.method) {
        return Err(invalid("htm does not match the request's method"));
    }
    if !claims
        .htu
        .as_deref()
        .is_some_and(|htu| same_url(htu, expected.url))
    {
        return Err(invalid("htu does not match the request's URL"));
    }
    // Item 11: recent.
    let iat = claims.iat.ok_or_else(|| invalid("iat is required"))?;
    if iat < ctx.now - MAX_PROOF_AGE || iat > ctx.now + MAX_PROOF_SKEW {
        return Err(invalid("iat is too far from the server's time"));
    }
    // Item 12: bound to the access token it comes with.
    if let Some(token) = expected.access_token {
        let ath = claims.ath.as_deref().unwrap_or("");
        if constant_time::verify_slices_are_equal(
            ath.as_bytes(),
            access_token_hash(token).as_bytes(),
        )
        .is_err()
        {
            return Err(invalid("ath does not match the access token"));
        }
    }
    // Item 10 / §8: the server's nonce, when it asks for one.
    if ctx.settings.dpop_nonce
        && !claims
            .nonce
            .as_deref()
            .is_some_and(|nonce| nonce_is_current(ctx, nonce))
    {
        return Err(OAuthError::new(
            ErrorCode::UseDpopNonce,
            "DPoP proof: use the server's nonce (in the DPoP-Nonce header)",
        )
        .with_dpop_nonce(current_nonce(ctx)));
    }
    // §11.1: used once, on any instance, for as long as its iat would be accepted.
    let jti = claims
        .jti
        .filter(|j| !j.is_empty() && j.len() <= 256)
        .ok_or_else(|| invalid("a jti of 1 to 256 characters is required"))?;
    let seen = TokenHash::of(&format!("{jkt}\n{jti}"));
    if !ctx
        .store
        .record_dpop_proof(&seen, iat + MAX_PROOF_AGE + MAX_PROOF_SKEW)
        .await?
    {
        return Err(invalid("it was already used (jti)"));
    }
    Ok(Some(Proof { jkt }))
}

/// The proof of a `POST` to this server's own endpoint `path` (`/token`, `/par`: no access token
/// goes with it), `None` without one.
pub async fn check_post(
    ctx: &Context<'_>,
    headers: &[String],
    path: &str,
) -> Result<Option<Proof>, OAuthError> {
    let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
    let url = ctx.settings.issuer.endpoint(path);
    let expected = Expected {
        method: "POST",
        url: &url,
        access_token: None,
    };
    check(ctx, &headers, expected).await
}

/// §6.1 / §10: a `dpop_jkt` value is a base64url SHA-256 thumbprint (43 characters).
pub fn is_thumbprint(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_thumbprint_is_rfc_7638s_example() {
        // RFC 7638 §3.1.
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            thumbprint(&jwk).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
        assert!(thumbprint(&json!({"kty": "oct", "k": "abc"})).is_none());
        assert!(thumbprint(&json!({"kty": "EC", "crv": "P-256", "x": "a"})).is_none());
    }

    #[test]
    fn htu_is_compared_without_query_and_after_normalisation() {
        let token = "https://id.example.com/token";
        assert!(same_url("https://id.example.com/token", token));
        assert!(same_url("HTTPS://ID.example.com:443/token?x=1#f", token));
        assert!(!same_url("https://id.example.com/token/", token));
        assert!(!same_url("https://id.example.com:8443/token", token));
        assert!(!same_url("not a url", token));
    }

    #[test]
    fn only_thumbprints_are_dpop_jkt_values() {
        assert!(is_thumbprint("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"));
        assert!(!is_thumbprint("short"));
        assert!(!is_thumbprint(
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9X="
        ));
    }
}
