//! The UserInfo endpoint's decision (OIDC Core §5.3): the user's claims, by the access token's scopes
//! and the claims its grant asked for one by one (§5.5 `claims`, its `userinfo` member).

use serde::Serialize;

use super::Context;
use super::introspect::{RevocationCheck, access_token_claims, still_live, verified_bearer};
use crate::domain::claims::{RoleClaims, StandardClaims};
use crate::domain::claims_request::ClaimsRequest;
use crate::domain::client::ClientId;
use crate::domain::grant::REFERENCE_TOKEN_PREFIX;
use crate::domain::role::Authorization;
use crate::domain::scope::ScopeSet;
use crate::domain::user::UserId;
use crate::error::{ErrorCode, OAuthError};
use crate::oauth::active_user;
use crate::oauth::dpop::{self, Expected};
use crate::paths::USERINFO_PATH;

/// OIDC Core §5.3.2 successful UserInfo response.
#[derive(Debug, Serialize)]
pub struct UserInfo {
    /// The user's `sub`.
    pub sub: String,
    /// Claims released for the token's scopes (OIDC Core §5.4).
    #[serde(flatten)]
    pub claims: StandardClaims,
    /// `roles` and `groups` (RFC 9068 §2.2.3.1), with the scopes of those names, as they are now.
    #[serde(flatten)]
    pub authorization: RoleClaims,
}

/// How the access token came: RFC 6750 `Bearer`, or RFC 9449 §7.1 `DPoP` with its proof.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    /// The access token.
    pub token: &'a str,
    /// Sent with the `DPoP` scheme.
    pub dpop_scheme: bool,
    /// The `DPoP` header values.
    pub dpop: &'a [&'a str],
    /// The request's method.
    pub method: &'a str,
    /// The `x5t#S256` of the request's client certificate (RFC 8705 §3), if any.
    pub certificate: Option<&'a str>,
}

impl<'a> Presented<'a> {
    /// A token sent as `Authorization: Bearer` (RFC 6750 §2.1).
    pub fn bearer(token: &'a str) -> Self {
        Self {
            token,
            dpop_scheme: false,
            dpop: &[],
            method: "GET",
            certificate: None,
        }
    }
}

/// RFC 9449 §7: a DPoP-bound token is accepted only with the `DPoP` scheme and a proof of its
/// key for this request (`htm`, `htu`, `ath`); a bound token sent as `Bearer` is refused (§7.2).
/// Every refusal of a DPoP request is challenged `DPoP` (§7.1).
async fn check_sender(
    ctx: &Context<'_>,
    presented: Presented<'_>,
    bound: Option<&str>,
) -> Result<(), OAuthError> {
    match (presented.dpop_scheme, bound) {
        (false, None) => Ok(()),
        (false, Some(_)) => Err(OAuthError::invalid_token(
            "this access token is DPoP-bound: send it with the DPoP scheme and a proof",
        )
        .dpop()),
        (true, bound) => {
            let url = ctx.settings.issuer.endpoint(USERINFO_PATH);
            let expected = Expected {
                method: presented.method,
                url: &url,
                access_token: Some(presented.token),
            };
            let proof = dpop::check(ctx, presented.dpop, expected)
                .await
                .map_err(OAuthError::dpop)?
                .ok_or_else(|| {
                    OAuthError::new(
                        ErrorCode::InvalidDpopProof,
                        "the DPoP scheme needs a DPoP proof",
                    )
                    .dpop()
                })?;
            if bound != Some(proof.jkt.as_str()) {
                return Err(OAuthError::new(
                    ErrorCode::InvalidToken,
                    "the access token is not bound to the DPoP proof's key",
                )
                .dpop());
            }
            Ok(())
        }
    }
}

/// OIDC Core §5.3: the claims of the user the token was issued for; RFC 6750 §3.1 errors, and
/// RFC 9449 §7 for DPoP-bound tokens.
pub async fn userinfo(ctx: &Context<'_>, presented: Presented<'_>) -> Result<UserInfo, OAuthError> {
    let token = presented.token;
    let dpop_error = |err: OAuthError| {
        if presented.dpop_scheme {
            err.dpop()
        } else {
            err
        }
    };
    let claims = userinfo_claims(ctx, token).await.map_err(dpop_error)?;
    let bound = claims.cnf.as_ref().and_then(|cnf| cnf.jkt.as_deref());
    check_sender(ctx, presented, bound).await?;
    // RFC 8705 §3: a certificate-bound token only with that certificate.
    let bound_certificate = claims.cnf.as_ref().and_then(|cnf| cnf.x5t_s256.as_deref());
    crate::oauth::mtls::check_certificate(bound_certificate, presented.certificate)
        .map_err(dpop_error)?;
    let result = claims_for(ctx, token, &claims).await;
    result.map_err(dpop_error)
}

/// The verified claims of a presented access token.
async fn userinfo_claims(
    ctx: &Context<'_>,
    token: &str,
) -> Result<crate::domain::claims::AccessTokenClaims, OAuthError> {
    let claims = if token.starts_with(REFERENCE_TOKEN_PREFIX) {
        // A reference token (RFC 7662): its stored claims, while it has not expired.
        access_token_claims(ctx, token).await?.ok_or_else(|| {
            OAuthError::invalid_token("the access token is invalid or has expired")
        })?
    } else {
        verified_bearer(ctx, token)?
    };
    Ok(claims)
}

/// The UserInfo answer for a checked token's `claims`.
async fn claims_for(
    ctx: &Context<'_>,
    token: &str,
    claims: &crate::domain::claims::AccessTokenClaims,
) -> Result<UserInfo, OAuthError> {
    // RFC 9068 §5: a client's own (client-credentials) token never passes for a user's, whatever
    // its scope or `sub`.
    let grant = claims.grant_id();
    if !grant.is_user_grant() {
        return Err(OAuthError::invalid_token(
            "the access token was not issued for a user",
        ));
    }
    still_live(ctx, token, claims, RevocationCheck::Cached).await?;
    let scope = ScopeSet::parse(&claims.scope).unwrap_or_default();
    // OIDC Core §5.3: the UserInfo endpoint serves tokens granted with `openid`.
    if !scope.contains("openid") {
        return Err(OAuthError::new(
            ErrorCode::InsufficientScope,
            "the access token lacks the openid scope",
        )
        .bearer());
    }
    let user = active_user(ctx.store, &UserId::from_stored(claims.sub.clone()))
        .await?
        .ok_or_else(|| OAuthError::invalid_token("the user is no longer active"))?;
    // OIDC Core §5.5: the claims the client asked for one by one for UserInfo, kept with the grant.
    // Only for the client that asked: a token exchanged for another client (RFC 8693) keeps the
    // grant id, and gets what its scopes release.
    let requested = match (&claims.act, ClientId::parse(&claims.client_id)) {
        (None, Ok(client_id)) => ctx.store.find_requested_claims(&grant, &client_id).await?,
        _ => None,
    };
    let requested = requested
        .as_ref()
        .map(ClaimsRequest::userinfo_claims)
        .unwrap_or_default();
    // Read only when the scope or the request releases them.
    let authorization = if RoleClaims::released_by(&scope, &requested) {
        ctx.store.find_authorization(&user.user_id).await?
    } else {
        Authorization::default()
    };
    Ok(UserInfo {
        sub: user.user_id.to_string(),
        claims: StandardClaims::released(&user, &scope, &requested),
        authorization: RoleClaims::released(&authorization, &scope, &requested),
    })
}
