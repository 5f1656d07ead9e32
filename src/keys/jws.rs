//! The compact-JWS signer of the hot path: cached aws-lc-rs key objects, no re-parsing per token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use super::material::{KeyMaterial, KeyMaterialError};

/// The JWS `typ` of an RFC 9068 access token.
pub const TYP_ACCESS_TOKEN: &str = "at+jwt";
/// The JWS `typ` of an ID token (RFC 7519 §5.1).
pub const TYP_JWT: &str = "JWT";
/// The JWS `typ` of a logout token (OIDC Back-Channel Logout §2.4, explicit typing per RFC 8725
/// §3.11), so it can never pass for an ID token.
pub const TYP_LOGOUT_TOKEN: &str = "logout+jwt";

#[derive(Serialize)]
struct Header<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

/// Sign `claims` as a compact JWS (RFC 7515 §7.1) with header `{alg, typ, kid}`.
pub fn sign_compact(
    key: &KeyMaterial,
    typ: &str,
    claims: &impl Serialize,
) -> Result<String, KeyMaterialError> {
    let header = serde_json::to_vec(&Header {
        alg: key.alg.as_str(),
        typ,
        kid: &key.kid,
    })
    .map_err(|e| KeyMaterialError(format!("could not encode the JWS header: {e}")))?;
    let payload = serde_json::to_vec(claims)
        .map_err(|e| KeyMaterialError(format!("could not encode the JWS payload: {e}")))?;
    let mut token = String::with_capacity((header.len() + payload.len()) * 4 / 3 + 400);
    URL_SAFE_NO_PAD.encode_string(&header, &mut token);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
    let signature = key.sign(token.as_bytes())?;
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&signature, &mut token);
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::alg::SigningAlg;

    #[derive(Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Claims {
        sub: String,
        exp: i64,
    }

    #[test]
    fn tokens_verify_with_an_independent_library_for_every_algorithm() {
        for alg in SigningAlg::ALL {
            let (key, _) = KeyMaterial::generate(alg).unwrap();
            let claims = Claims {
                sub: "alice".into(),
                exp: 4_000_000_000,
            };
            let token = sign_compact(&key, TYP_ACCESS_TOKEN, &claims).unwrap();
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!(header.kid.as_deref(), Some(key.kid.as_str()));
            assert_eq!(header.typ.as_deref(), Some("at+jwt"));
            let jwk: jsonwebtoken::jwk::Jwk =
                serde_json::from_value(key.public_jwk.clone()).unwrap();
            let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
            let mut validation = jsonwebtoken::Validation::new(header.alg);
            validation.validate_aud = false;
            let decoded = jsonwebtoken::decode::<Claims>(&token, &decoding, &validation).unwrap();
            assert_eq!(decoded.claims, claims, "{alg}");
        }
    }

    #[test]
    fn a_tampered_token_does_not_verify() {
        let (key, _) = KeyMaterial::generate(SigningAlg::ES256).unwrap();
        let token = sign_compact(
            &key,
            TYP_JWT,
            &Claims {
                sub: "a".into(),
                exp: 4_000_000_000,
            },
        )
        .unwrap();
        let forged = token.replacen('.', ".eyJzdWIiOiJtYWxsb3J5IiwiZXhwIjo0MDAwMDAwMDAwfQ.", 1);
        let forged: String = {
            let parts: Vec<&str> = forged.split('.').collect();
            format!("{}.{}.{}", parts[0], parts[1], parts[3])
        };
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.public_jwk.clone()).unwrap();
        let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        assert!(jsonwebtoken::decode::<Claims>(&forged, &decoding, &validation).is_err());
    }
}
