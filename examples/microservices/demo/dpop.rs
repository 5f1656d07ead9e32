//! DPoP (RFC 9449) between the BFF and Service B: the BFF makes a key pair when it starts, sends a
//! proof of it with its token requests for B's API (Latchkey then binds those tokens to the key:
//! `token_type: DPoP`, `cnf.jkt`), and a fresh proof with every call to B. B accepts a token bound
//! to a key only with a proof of that key for that very request (§4.3, §7.1), so a token copied out
//! of the BFF (a log, a proxy) is useless on its own. Tokens without `cnf.jkt` stay plain bearer
//! tokens (curl's, in the README).

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use aws_lc_rs::digest;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::DemoError;
use super::bearer::REALM;

/// The `typ` of a DPoP proof (RFC 9449 §4.2).
const PROOF_TYPE: &str = "dpop+jwt";
/// The algorithms B accepts for proofs: asymmetric only (§4.3 check 5); the `algs` of its challenge.
const ALGS: [Algorithm; 4] = [
    Algorithm::ES256,
    Algorithm::EdDSA,
    Algorithm::RS256,
    Algorithm::PS256,
];
/// [`ALGS`] as the challenge names them (§7.1).
pub(super) const ALGS_LIST: &str = "ES256 EdDSA RS256 PS256";
/// A proof is accepted this long after its `iat` (§4.3 check 11; §11.1 on replay) …
const MAX_AGE_SECONDS: i64 = 60;
/// … and this far ahead of our clock.
const MAX_SKEW_SECONDS: i64 = 5;
/// Longer proofs are refused before any parsing.
const MAX_PROOF_BYTES: usize = 8 * 1024;
/// JWK members that only a private key has (RFC 7518 §6): a proof must not carry them (§4.3 check 7).
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];

/// The claims of a proof (RFC 9449 §4.2).
#[derive(Debug, Serialize, Deserialize)]
struct ProofClaims {
    jti: String,
    htm: String,
    htu: String,
    iat: i64,
    /// base64url SHA-256 of the access token, when one is presented with the proof (§4.2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ath: Option<String>,
}

/// RFC 9449 §4.2 `ath`: base64url SHA-256 of the access token's ASCII.
pub fn ath(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, access_token.as_bytes()))
}

/// `htu`: the URL without its query and fragment (§4.2, §4.3 check 9).
pub fn htu(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    &url[..end]
}

/// A DPoP key pair (P-256, ES256) and what a proof's header says about it.
pub struct DpopKey {
    signing: EncodingKey,
    jwk: Jwk,
    /// RFC 7638 thumbprint of the public key: the `cnf.jkt` of tokens bound to it.
    pub jkt: String,
}

impl DpopKey {
    /// A new key pair, held in memory only.
    pub fn generate() -> Result<Self, DemoError> {
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &aws_lc_rs::rand::SystemRandom::new(),
        )
        .map_err(|_| DemoError::Pki("cannot generate a DPoP key".into()))?;
        let signing = EncodingKey::from_ec_der(pkcs8.as_ref());
        let jwk = Jwk::from_encoding_key(&signing, Algorithm::ES256)
            .map_err(|err| DemoError::Pki(format!("DPoP key: {err}")))?;
        let jkt = jwk.thumbprint(ThumbprintHash::SHA256);
        Ok(Self { signing, jwk, jkt })
    }

    /// A proof for `method url` at `now` (RFC 9449 §4.2), with `ath` when it goes with
    /// `access_token`.
    pub fn proof(
        &self,
        method: &str,
        url: &str,
        access_token: Option<&str>,
        now: i64,
    ) -> Result<String, DemoError> {
        let mut jti = [0u8; 16];
        aws_lc_rs::rand::fill(&mut jti).map_err(|_| DemoError::Pki("no randomness".into()))?;
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some(PROOF_TYPE.into());
        header.jwk = Some(self.jwk.clone());
        let claims = ProofClaims {
            jti: URL_SAFE_NO_PAD.encode(jti),
            htm: method.to_owned(),
            htu: htu(url).to_owned(),
            iat: now,
            ath: access_token.map(ath),
        };
        jsonwebtoken::encode(&header, &claims, &self.signing)
            .map_err(|err| DemoError::Pki(format!("signing a DPoP proof: {err}")))
    }
}

/// Why a DPoP request was refused (RFC 9449 §7.1): 401 with a `DPoP` challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpopError {
    /// `invalid_dpop_proof`: the proof is missing, malformed, stale, replayed, or for another request.
    InvalidProof(&'static str),
    /// `invalid_token`: the token is not bound to the proof's key, or a bound token came as Bearer.
    InvalidToken(&'static str),
}

impl IntoResponse for DpopError {
    fn into_response(self) -> Response {
        let (error, description) = match self {
            Self::InvalidProof(why) => ("invalid_dpop_proof", why),
            Self::InvalidToken(why) => ("invalid_token", why),
        };
        let challenge = format!(
            "DPoP realm=\"{REALM}\", algs=\"{ALGS_LIST}\", error=\"{error}\", error_description=\"{description}\""
        );
        let body = json!({ "error": error, "error_description": description });
        let mut response = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
        // Every value above is a constant of this module: no quotes or control characters.
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    }
}

/// What a proof must match: the request it came with and the token bound to its key.
pub struct Expected<'a> {
    /// The request's method.
    pub method: &'a str,
    /// The URL of the request, as the client addressed it (query and fragment are ignored).
    pub url: &'a str,
    /// The access token presented with it.
    pub access_token: &'a str,
    /// The token's `cnf.jkt`.
    pub jkt: &'a str,
}

/// Checks proofs for a resource server and remembers the `jti`s it has accepted (in memory, as
/// long as a proof is fresh enough to be accepted at all).
#[derive(Default)]
pub struct DpopVerifier {
    seen: Mutex<HashMap<String, i64>>,
}

impl DpopVerifier {
    /// RFC 9449 §4.3 and §7.1: `proof` is a well-formed `dpop+jwt` signed by the public key in its
    /// `jwk` header with an asymmetric algorithm, that key is not private and its thumbprint is the
    /// token's `cnf.jkt`, `htm` and `htu` name this request, `iat` is recent, `ath` is the token's
    /// hash, and the `jti` has not been seen.
    pub fn verify(&self, proof: &str, expected: &Expected<'_>, now: i64) -> Result<(), DpopError> {
        use DpopError::{InvalidProof, InvalidToken};
        if proof.len() > MAX_PROOF_BYTES {
            return Err(InvalidProof("the DPoP proof is too long"));
        }
        let raw_header: Value = proof
            .split('.')
            .next()
            .and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .ok_or(InvalidProof("the DPoP proof is not a JWT"))?;
        if raw_header["typ"] != PROOF_TYPE {
            return Err(InvalidProof("the DPoP proof's typ is not dpop+jwt"));
        }
        let private = PRIVATE_MEMBERS
            .iter()
            .any(|member| raw_header["jwk"].get(member).is_some());
        if private {
            return Err(InvalidProof("the DPoP proof's jwk is a private key"));
        }
        let header = jsonwebtoken::decode_header(proof)
            .map_err(|_| InvalidProof("the DPoP proof's header is malformed"))?;
        if !ALGS.contains(&header.alg) {
            return Err(InvalidProof(
                "the DPoP proof's algorithm is not an accepted asymmetric one",
            ));
        }
        let jwk = header
            .jwk
            .ok_or(InvalidProof("the DPoP proof carries no jwk"))?;
        let key = DecodingKey::from_jwk(&jwk)
            .map_err(|_| InvalidProof("the DPoP proof's jwk is not a usable public key"))?;
        let mut validation = Validation::new(header.alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_aud = false;
        let claims = jsonwebtoken::decode::<ProofClaims>(proof, &key, &validation)
            .map_err(|_| InvalidProof("the DPoP proof's signature or claims are invalid"))?
            .claims;
        if jwk.thumbprint(ThumbprintHash::SHA256) != expected.jkt {
            return Err(InvalidToken(
                "the access token is not bound to the DPoP proof's key",
            ));
        }
        if claims.htm != expected.method {
            return Err(InvalidProof("the DPoP proof is for another method"));
        }
        if claims.htu != htu(expected.url) {
            return Err(InvalidProof("the DPoP proof is for another URL"));
        }
        if claims.iat < now - MAX_AGE_SECONDS || claims.iat > now + MAX_SKEW_SECONDS {
            return Err(InvalidProof("the DPoP proof is too old or from the future"));
        }
        if claims.ath.as_deref() != Some(ath(expected.access_token).as_str()) {
            return Err(InvalidProof(
                "the DPoP proof's ath is not this token's hash",
            ));
        }
        // Last, so that only a proof good in every other way takes a place in the cache.
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.retain(|_, iat| *iat >= now - MAX_AGE_SECONDS);
        if seen.insert(claims.jti, claims.iat).is_some() {
            return Err(InvalidProof("the DPoP proof was already used"));
        }
        Ok(())
    }
}
