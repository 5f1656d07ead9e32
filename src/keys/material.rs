//! Key material: generation, parsed aws-lc-rs key objects, JWK export and the RFC 7638 `kid`.

use std::fmt;

use crate::domain::alg::SigningAlg;

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    RsaKeyPair,
};
use aws_lc_rs::{digest, rand};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// The same algorithm as jsonwebtoken names it (for verification).
pub fn jwt_algorithm(alg: SigningAlg) -> jsonwebtoken::Algorithm {
    match alg {
        SigningAlg::RS256 => jsonwebtoken::Algorithm::RS256,
        SigningAlg::ES256 => jsonwebtoken::Algorithm::ES256,
        SigningAlg::EdDSA => jsonwebtoken::Algorithm::EdDSA,
    }
}

/// Key material that could not be generated or parsed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeyMaterialError(pub String);

enum Signer {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

/// A parsed private key, ready to sign: parsed once and kept in memory.
pub struct KeyMaterial {
    /// The algorithm.
    pub alg: SigningAlg,
    /// The RFC 7638 JWK thumbprint, used as `kid`.
    pub kid: String,
    /// The public JWK (with `kid`, `alg`, `use`), as published in the JWKS.
    pub public_jwk: Value,
    /// The public key, parsed once for verification through jsonwebtoken (aws-lc-rs backend).
    pub decoding_key: jsonwebtoken::DecodingKey,
    signer: Signer,
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// RFC 7638 §3: the base64url SHA-256 of the JWK's required members, canonically serialised.
fn jwk_thumbprint(canonical_members: &str) -> String {
    b64(digest::digest(&digest::SHA256, canonical_members.as_bytes()).as_ref())
}

fn failed(what: &str) -> impl Fn(aws_lc_rs::error::Unspecified) -> KeyMaterialError + '_ {
    move |_| KeyMaterialError(format!("could not {what}"))
}

impl KeyMaterial {
    /// Generate a fresh key; returns it with its PKCS#8 DER encoding (to be encrypted and stored).
    pub fn generate(alg: SigningAlg) -> Result<(Self, Vec<u8>), KeyMaterialError> {
        let pkcs8 = match alg {
            SigningAlg::RS256 => {
                let pair = RsaKeyPair::generate(KeySize::Rsa2048)
                    .map_err(failed("generate an RSA key"))?;
                let der: Pkcs8V1Der<'static> =
                    pair.as_der().map_err(failed("encode the RSA key"))?;
                der.as_ref().to_vec()
            }
            SigningAlg::ES256 => EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                .and_then(|pair| pair.to_pkcs8v1())
                .map_err(failed("generate a P-256 key"))?
                .as_ref()
                .to_vec(),
            SigningAlg::EdDSA => Ed25519KeyPair::generate()
                .and_then(|pair| pair.to_pkcs8v1())
                .map_err(failed("generate an Ed25519 key"))?
                .as_ref()
                .to_vec(),
        };
        Ok((Self::from_pkcs8(alg, &pkcs8)?, pkcs8))
    }

    /// Parse a PKCS#8 private key of `alg`.
    pub fn from_pkcs8(alg: SigningAlg, pkcs8: &[u8]) -> Result<Self, KeyMaterialError> {
        let rejected =
            |e: aws_lc_rs::error::KeyRejected| KeyMaterialError(format!("{alg} key rejected: {e}"));
        let (signer, thumbprint_members, extra) = match alg {
            SigningAlg::RS256 => {
                let pair = RsaKeyPair::from_pkcs8(pkcs8).map_err(rejected)?;
                let public = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                let (n, e) = (b64(&public.n), b64(&public.e));
                // RFC 7638 §3.2: required members in lexicographic order.
                let members = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
                (
                    Signer::Rsa(pair),
                    members,
                    json!({"kty": "RSA", "n": n, "e": e}),
                )
            }
            SigningAlg::ES256 => {
                let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                    .map_err(rejected)?;
                // Uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
                let point = pair.public_key().as_ref();
                if point.len() != 65 {
                    return Err(KeyMaterialError(
                        "unexpected P-256 public key encoding".into(),
                    ));
                }
                let (x, y) = (b64(&point[1..33]), b64(&point[33..65]));
                let members = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
                (
                    Signer::Ecdsa(pair),
                    members,
                    json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
                )
            }
            SigningAlg::EdDSA => {
                let pair = Ed25519KeyPair::from_pkcs8(pkcs8).map_err(rejected)?;
                let x = b64(pair.public_key().as_ref());
                let members = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
                (
                    Signer::Ed25519(pair),
                    members,
                    json!({"kty": "OKP", "crv": "Ed25519", "x": x}),
                )
            }
        };
        let kid = jwk_thumbprint(&thumbprint_members);
        let mut public_jwk = extra;
        if let Value::Object(map) = &mut public_jwk {
            map.insert("use".into(), json!("sig"));
            map.insert("alg".into(), json!(alg.as_str()));
            map.insert("kid".into(), json!(kid));
        }
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(public_jwk.clone())
            .map_err(|e| KeyMaterialError(format!("cannot read back the public JWK: {e}")))?;
        let decoding_key = jsonwebtoken::DecodingKey::from_jwk(&jwk)
            .map_err(|e| KeyMaterialError(format!("cannot build the verification key: {e}")))?;
        Ok(Self {
            alg,
            kid,
            public_jwk,
            decoding_key,
            signer,
        })
    }

    /// Sign `message` (a JWS signing input) and return the raw signature (RFC 7518 §3.3, §3.4; RFC 8037 §3.1).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyMaterialError> {
        match &self.signer {
            Signer::Rsa(pair) => {
                let mut signature = vec![0u8; pair.public_modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &rand::SystemRandom::new(),
                    message,
                    &mut signature,
                )
                .map_err(failed("sign with RS256"))?;
                Ok(signature)
            }
            Signer::Ecdsa(pair) => pair
                .sign(&rand::SystemRandom::new(), message)
                .map(|sig| sig.as_ref().to_vec())
                .map_err(failed("sign with ES256")),
            Signer::Ed25519(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_generates_parses_and_keeps_its_kid() {
        for alg in SigningAlg::ALL {
            let (key, pkcs8) = KeyMaterial::generate(alg).unwrap();
            let again = KeyMaterial::from_pkcs8(alg, &pkcs8).unwrap();
            assert_eq!(key.kid, again.kid, "{alg}");
            assert_eq!(key.public_jwk["alg"], alg.as_str());
            assert_eq!(key.public_jwk["use"], "sig");
            assert!(key.public_jwk.get("d").is_none(), "no private members");
            assert!(!key.sign(b"message").unwrap().is_empty());
        }
    }

    #[test]
    fn rfc7638_thumbprint_of_the_rfc_example_key() {
        // RFC 7638 §3.1's example RSA key and its thumbprint.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let members = format!(r#"{{"e":"AQAB","kty":"RSA","n":"{n}"}}"#);
        assert_eq!(
            jwk_thumbprint(&members),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
