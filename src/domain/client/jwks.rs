//! A client's registered public keys (RFC 7591 §2 `jwks`), for `private_key_jwt` client
//! authentication (RFC 7523 §2.2, OIDC Core §9).

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};

use super::ClientError;

/// The most keys a client may register: enough for a rotation, not a way to make every
/// authentication try hundreds.
const MAX_KEYS: usize = 10;

/// The largest JWK set accepted, in bytes.
const MAX_JWKS_BYTES: usize = 32 * 1024;

/// Members of a JWK that only a private key has (RFC 7518 §6.2.2, §6.3.2, RFC 8037 §2): a client
/// registers its public keys, never its private ones.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Check a JWK set given as JSON: 1 to 10 public RSA, EC or OKP keys, and return it compact.
pub fn check_jwks(raw: &str) -> Result<String, ClientError> {
    let bad = |why: &str| ClientError(format!("the JWK set {why}"));
    if raw.len() > MAX_JWKS_BYTES {
        return Err(bad(&format!(
            "is larger than {} KiB",
            MAX_JWKS_BYTES / 1024
        )));
    }
    let value: serde_json::Value =
        serde_json::from_str(raw).map_err(|e| bad(&format!("is not JSON ({e})")))?;
    let keys = value
        .get("keys")
        .and_then(serde_json::Value::as_array)
        .ok_or_else(|| bad("has no \"keys\" array (RFC 7517 §5)"))?;
    if keys.is_empty() || keys.len() > MAX_KEYS {
        return Err(bad(&format!("must hold 1 to {MAX_KEYS} keys")));
    }
    for key in keys {
        if PRIVATE_MEMBERS.iter().any(|m| key.get(m).is_some()) {
            return Err(bad(
                "holds a private or symmetric key; register only public keys",
            ));
        }
    }
    let set: JwkSet = serde_json::from_value(value.clone())
        .map_err(|e| bad(&format!("holds a key that is not a valid JWK ({e})")))?;
    for key in &set.keys {
        match key.algorithm {
            AlgorithmParameters::RSA(_)
            | AlgorithmParameters::EllipticCurve(_)
            | AlgorithmParameters::OctetKeyPair(_) => {}
            AlgorithmParameters::OctetKey(_) => {
                return Err(bad("holds a symmetric key; register only public keys"));
            }
        }
    }
    Ok(value.to_string())
}

/// RFC 8705 §2.2: whether a (checked) JWK set holds a key with a certificate chain (`x5c`, RFC 7517
/// §4.7), which a `self_signed_tls_client_auth` client's certificate is matched against.
pub fn holds_certificate(set: &str) -> bool {
    serde_json::from_str::<serde_json::Value>(set)
        .ok()
        .and_then(|set| set.get("keys")?.as_array().cloned())
        .is_some_and(|keys| {
            keys.iter().any(|key| {
                key.get("x5c")
                    .and_then(serde_json::Value::as_array)
                    .is_some_and(|chain| chain.first().is_some_and(serde_json::Value::is_string))
            })
        })
}

/// Check a `jwks_uri`: an absolute `https` URL (plain `http` is accepted here for loopback tests;
/// the fetch refuses it unless `--allow-http-jwks-uri`), without a fragment or credentials, of at
/// most 2,000 characters.
pub fn check_jwks_uri(raw: &str) -> Result<String, ClientError> {
    let bad = |why: &str| ClientError(format!("the jwks_uri {why}"));
    if raw.len() > 2000 || raw.chars().any(char::is_control) {
        return Err(bad("is too long or has control characters"));
    }
    let url = url::Url::parse(raw).map_err(|_| bad("is not an absolute URL"))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(bad("must be an https URL"));
    }
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must have no fragment or credentials"));
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const EC: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;

    #[test]
    fn a_certificate_is_found_only_in_an_x5c_chain() {
        let with = format!("{{\"keys\":[{}]}}", EC.replace("{", "{\"x5c\":[\"MIIB\"],"));
        assert!(holds_certificate(&with));
        let named = format!("{{\"keys\":[{}]}}", EC.replace("{", "{\"kid\":\"x5c\","));
        assert!(!holds_certificate(&named));
        assert!(!holds_certificate("not json"));
    }

    #[test]
    fn public_keys_are_accepted_and_made_compact() {
        let set = format!("{{ \"keys\": [ {EC} ] }}");
        let checked = check_jwks(&set).unwrap();
        assert!(!checked.contains(' '));
    }

    #[test]
    fn private_symmetric_empty_and_malformed_sets_are_refused() {
        let private = EC.replace("\"kty\"", "\"d\":\"secret\",\"kty\"");
        for bad in [
            format!("{{\"keys\":[{private}]}}"),
            r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#.to_owned(),
            r#"{"keys":[]}"#.to_owned(),
            r#"{"key":[]}"#.to_owned(),
            "not json".to_owned(),
            r#"{"keys":[{"kty":"EC"}]}"#.to_owned(),
        ] {
            assert!(check_jwks(&bad).is_err(), "{bad}");
        }
    }
}
