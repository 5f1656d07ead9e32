//! Pushed authorization requests (RFC 9126): an authenticated client sends the parameters of an
//! authorization request straight to the server (§2), which checks them as `/authorize` would and
//! answers a `request_uri` that stands for them at `/authorize` (§4): single-use, bound to the
//! client, valid for [`PUSHED_REQUEST_LIFETIME`] seconds.

use super::authorize::validate;
use super::{Context, Params};
use crate::domain::client::Client;
use crate::domain::grant::REQUEST_URI_PREFIX;
use crate::domain::secret::{TokenHash, random_string};
use crate::error::{AuthorizeError, ErrorCode, OAuthError};
use crate::oauth::dpop::Proof;

/// RFC 9126 §2.2: a short lifetime "between 5 and 600 seconds"; 60 s leaves the user agent time to
/// follow the redirect and no more.
pub const PUSHED_REQUEST_LIFETIME: i64 = 60;

/// The parameters of client authentication, never kept with the request (RFC 6749 §2.3.1,
/// RFC 7521 §4.2).
const CLIENT_AUTHENTICATION: [&str; 3] =
    ["client_secret", "client_assertion", "client_assertion_type"];

/// What `/par` answers (RFC 9126 §2.2).
#[derive(Debug, serde::Serialize)]
pub struct Pushed {
    /// `urn:ietf:params:oauth:request_uri:` and 256 random bits.
    pub request_uri: String,
    /// Seconds it stays usable.
    pub expires_in: i64,
}

/// RFC 9126 §2.3: a refusal of a pushed request, in the token endpoint's error format.
fn refusal(err: AuthorizeError) -> OAuthError {
    match err {
        AuthorizeError::BadClient(why) => OAuthError::invalid_request(why),
        AuthorizeError::Redirect {
            code, description, ..
        } => OAuthError::new(code, description),
        AuthorizeError::NothingPending => {
            OAuthError::invalid_request("the authorization request is incomplete")
        }
        AuthorizeError::Store(err) => OAuthError::from(err),
    }
}

/// RFC 9126 §2: keep the authorization request `params` pushed by the authenticated `client`, once
/// they pass every check `/authorize` makes (§2.1), and answer its `request_uri`.
pub async fn push(
    ctx: &Context<'_>,
    client: &Client,
    mut params: Params,
    dpop: Option<&Proof>,
) -> Result<Pushed, OAuthError> {
    // §2.1: "The request_uri authorization request parameter is one exception, and it MUST NOT be
    // provided."
    if params.contains_key("request_uri") {
        return Err(OAuthError::invalid_request(
            "request_uri cannot be pushed (RFC 9126 §2.1)",
        ));
    }
    for name in CLIENT_AUTHENTICATION {
        params.remove(name);
    }
    // RFC 9449 §10.1: a proof at /par binds the code to its key, as `dpop_jkt` would; both given,
    // they must agree.
    if let Some(proof) = dpop {
        match params.get("dpop_jkt") {
            Some(jkt) if *jkt != proof.jkt => {
                return Err(OAuthError::new(
                    ErrorCode::InvalidDpopProof,
                    "dpop_jkt is not the thumbprint of the DPoP proof's key",
                ));
            }
            _ => {
                params.insert("dpop_jkt".into(), proof.jkt.clone());
            }
        }
    }
    let catalog = ctx.catalog.get(ctx.store, ctx.now).await?;
    validate(client, &catalog, &params, None, ctx.now).map_err(refusal)?;
    let request_uri = format!("{REQUEST_URI_PREFIX}{}", random_string(32));
    let encoded = serde_json::to_string(&params)
        .map_err(|_| OAuthError::new(ErrorCode::ServerError, "cannot keep the request"))?;
    ctx.store
        .create_pushed_request(
            &TokenHash::of(&request_uri),
            &client.client_id,
            &encoded,
            ctx.now + PUSHED_REQUEST_LIFETIME,
        )
        .await?;
    Ok(Pushed {
        request_uri,
        expires_in: PUSHED_REQUEST_LIFETIME,
    })
}
