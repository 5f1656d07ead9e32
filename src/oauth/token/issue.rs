//! Making the tokens a grant produces (RFC 6749 §5.1): the access token — a signed JWT (RFC 9068),
//! or a reference token — and, for `openid`, the ID token (OIDC Core §3.1.3.6).

use serde::Serialize;

use super::super::Context;
use super::super::resource::{InvalidTarget, Target};
use crate::domain::api::TokenFormat;
use crate::domain::authn::{Acr, Authentication};
use crate::domain::claims::{
    AccessTokenClaims, Actor, Confirmation, IdTokenClaims, JTI_PREFIX, RoleClaims, StandardClaims,
    at_hash,
};
use crate::domain::claims_request::ClaimsRequest;
use crate::domain::client::Client;
use crate::domain::grant::GrantId;
use crate::domain::grant::{REFERENCE_TOKEN_PREFIX, ReferenceToken};
use crate::domain::role::Authorization;
use crate::domain::scope::ScopeSet;
use crate::domain::secret::{TokenHash, random_string, random_token};
use crate::domain::user::User;
use crate::error::{ErrorCode, OAuthError};
use crate::metrics::IssuedAs;
use crate::tokens::{sign_access_token, sign_id_token};

/// RFC 6749 §5.1 successful token response (plus OIDC Core §3.1.3.3 `id_token`).
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    /// The access token (an RFC 9068 JWT).
    pub access_token: String,
    /// `Bearer` (RFC 6750), or `DPoP` for a DPoP-bound token (RFC 9449 §5).
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The granted scope.
    pub scope: String,
    /// OIDC ID token, for `openid` requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// A refresh token, when one is issued.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// RFC 8693 §2.2.1 `issued_token_type`, for a token exchange.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
    /// How the access token was made (for the metrics; not sent).
    #[serde(skip)]
    pub issued_as: IssuedAs,
    /// Whom and what it was issued for (for the audit trail; not sent).
    #[serde(skip)]
    pub issued_to: IssuedTo,
}

/// An access token's `sub`, `aud` and `jti`.
#[derive(Debug)]
pub struct IssuedTo {
    /// `sub`: the user, or the client itself.
    pub subject: String,
    /// `aud`.
    pub audience: String,
    /// `jti`.
    pub jti: String,
}

/// What a grant produces, before signing.
pub struct Issuance<'a> {
    /// The client.
    pub client: &'a Client,
    /// `sub`: the user, or the client itself.
    pub subject: &'a str,
    /// The access token's scope (already limited to the target's API).
    pub scope: &'a ScopeSet,
    /// What the access token is for: its audience, lifetime and algorithm (RFC 8707).
    pub target: &'a Target,
    /// The grant the tokens belong to (`gid`).
    pub grant_id: &'a GrantId,
    /// When the user authenticated.
    pub auth_time: Option<i64>,
    /// How they authenticated (the ID token's `amr` and `acr`, the access token's `acr`).
    pub authentication: Option<&'a Authentication>,
    /// For a token exchange, the subject token's `acr` (there is no sign-in of its own).
    pub inherited_acr: Option<Acr>,
    /// The browser session the user signed in with (the ID token's `sid`), if any.
    pub sid: Option<&'a str>,
    /// OIDC Core §5.5: the claims the client asked for one by one; those for the ID token are
    /// added to what its scopes release.
    pub requested_claims: Option<&'a ClaimsRequest>,
    /// The subject's roles and groups, read for this issuance (so changes show in the next token).
    pub authorization: &'a Authorization,
    /// The user and nonce, when an ID token may be issued (only if `openid` is in scope).
    pub id_token_for: Option<(&'a User, Option<&'a str>)>,
    /// A refresh token already stored, to hand out.
    pub refresh_token: Option<String>,
    /// RFC 8693 §4.1 `act`, after a token exchange.
    pub act: Option<Actor>,
    /// RFC 9449 §6: the DPoP key the access token is bound to (its thumbprint), if any.
    pub dpop_jkt: Option<&'a str>,
    /// RFC 8705 §3: the certificate the access token is bound to (`x5t#S256`), if any.
    pub cert_thumbprint: Option<&'a str>,
}

impl From<InvalidTarget> for OAuthError {
    /// RFC 8707 §2 `invalid_target`.
    fn from(InvalidTarget(why): InvalidTarget) -> Self {
        OAuthError::new(ErrorCode::InvalidTarget, why)
    }
}

/// Make the access token — a signed JWT (RFC 9068), or for an API with reference tokens an opaque
/// `lk_at_` value whose claims are stored — and, for `openid`, the ID token (OIDC Core §2, §3.1.3.6
/// `at_hash`).
pub async fn issue(ctx: &Context<'_>, issuance: Issuance<'_>) -> Result<TokenResponse, OAuthError> {
    let (settings, now) = (ctx.settings, ctx.now);
    let lifetimes = &settings.lifetimes;
    let client_id = issuance.client.client_id.as_str();
    let issuer = settings.issuer.as_str();
    let target = issuance.target;
    // RFC 9068 §2.2.3.1: the global roles and those of the API the token is for.
    let catalog = ctx.catalog.get(ctx.store, now).await?;
    let for_target = Authorization {
        roles: issuance
            .authorization
            .roles
            .iter()
            .filter(|role| catalog.role_applies(role.as_str(), target.api.as_ref()))
            .cloned()
            .collect(),
        ..issuance.authorization.clone()
    };
    let claims = AccessTokenClaims {
        iss: issuer.to_owned(),
        sub: issuance.subject.to_owned(),
        aud: target.audience.clone(),
        exp: now + target.lifetime,
        iat: now,
        jti: format!("{JTI_PREFIX}{}", random_string(16)),
        client_id: client_id.to_owned(),
        scope: issuance.scope.to_string(),
        gid: issuance.grant_id.to_string(),
        auth_time: issuance.auth_time,
        acr: issuance
            .authentication
            .map(Authentication::acr)
            .or(issuance.inherited_acr)
            .map(|acr| acr.as_str().to_owned()),
        act: issuance.act.clone(),
        // RFC 9449 §6.1: `cnf.jkt` binds the token to the DPoP key.
        // RFC 8705 §3.1: `cnf.x5t#S256` binds it to the client's certificate.
        cnf: (issuance.dpop_jkt.is_some() || issuance.cert_thumbprint.is_some()).then(|| {
            Confirmation {
                jkt: issuance.dpop_jkt.map(str::to_owned),
                x5t_s256: issuance.cert_thumbprint.map(str::to_owned),
            }
        }),
        authorization: RoleClaims::for_access_token(&for_target, issuance.scope),
    };
    let access_token = match target.format {
        TokenFormat::Jwt => sign_access_token(ctx.keys, target.alg, &claims)?,
        TokenFormat::Opaque => {
            let token = random_token(REFERENCE_TOKEN_PREFIX);
            let stored_claims = serde_json::to_string(&claims).map_err(|err| {
                tracing::error!(error = %err, "cannot encode access-token claims");
                OAuthError::server_error()
            })?;
            ctx.store
                .create_reference_token(&ReferenceToken {
                    token_hash: TokenHash::of(&token),
                    jti: claims.jti.clone(),
                    client_id: issuance.client.client_id.clone(),
                    claims: stored_claims,
                    expires_at: claims.exp,
                })
                .await?;
            token
        }
    };
    // OIDC Dynamic Registration §2: the client's `id_token_signed_response_alg`, else the default.
    let id_alg = issuance
        .client
        .id_token_alg
        .unwrap_or(settings.id_token_alg);
    let for_id_token = issuance
        .requested_claims
        .map(ClaimsRequest::id_token_claims)
        .unwrap_or_default();
    let id_token = match issuance.id_token_for {
        Some((user, nonce)) if issuance.scope.contains("openid") => Some(sign_id_token(
            ctx.keys,
            id_alg,
            &IdTokenClaims {
                iss: issuer.to_owned(),
                sub: issuance.subject.to_owned(),
                aud: client_id.to_owned(),
                exp: now + lifetimes.id_token,
                iat: now,
                auth_time: issuance.auth_time.unwrap_or(now),
                acr: issuance.authentication.map(|a| a.acr().as_str().to_owned()),
                amr: issuance
                    .authentication
                    .map(|a| a.amr().into_iter().map(str::to_owned).collect()),
                nonce: nonce.map(str::to_owned),
                at_hash: Some(at_hash(&access_token, id_alg.as_str())),
                azp: client_id.to_owned(),
                sid: issuance.sid.map(str::to_owned),
                standard: StandardClaims::released(user, issuance.scope, &for_id_token),
                authorization: RoleClaims::released(
                    issuance.authorization,
                    issuance.scope,
                    &for_id_token,
                ),
            },
        )?),
        _ => None,
    };
    Ok(TokenResponse {
        access_token,
        token_type: if issuance.dpop_jkt.is_some() {
            "DPoP"
        } else {
            "Bearer"
        },
        expires_in: target.lifetime,
        scope: issuance.scope.to_string(),
        id_token,
        refresh_token: issuance.refresh_token,
        issued_token_type: None,
        issued_as: match target.format {
            TokenFormat::Jwt => IssuedAs::Jwt(target.alg),
            TokenFormat::Opaque => IssuedAs::Reference,
        },
        issued_to: IssuedTo {
            subject: claims.sub,
            audience: claims.aud,
            jti: claims.jti,
        },
    })
}
