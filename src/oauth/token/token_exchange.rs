//! `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693): a service that received a
//! user's access token gets one for another API, to call it on the user's behalf. `sub` stays the
//! user, `act` names the acting party (§4.1), the scope is at most the subject token's, the token lives
//! no longer than the subject token, and it belongs to the subject token's grant, so it is revoked with
//! it.

use crate::domain::authn::Acr;
use serde_json::json;

use super::{Issuance, TokenResponse, issue};
use crate::audit;
use crate::domain::audit::{AuditEvent, EventType};
use crate::domain::claims::{AccessTokenClaims, Actor};
use crate::domain::client::Client;
use crate::domain::grant::GrantKind;
use crate::domain::scope::ScopeSet;
use crate::domain::user::UserId;
use crate::error::{ErrorCode, OAuthError};
use crate::oauth::Context;
use crate::oauth::introspect::{RevocationCheck, live_access_token};
use crate::oauth::resource::{InvalidTarget, target};

/// RFC 8693 §3: the token type of an OAuth access token.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// A token-exchange request's parameters.
pub struct Exchange<'a> {
    /// RFC 8693 §2.1 `subject_token`.
    pub subject_token: &'a str,
    /// RFC 8693 §2.1 `subject_token_type`.
    pub subject_token_type: &'a str,
    /// RFC 8693 §2.1 `actor_token`.
    pub actor_token: Option<&'a str>,
    /// RFC 8693 §2.1 `actor_token_type`.
    pub actor_token_type: Option<&'a str>,
    /// The scope wanted.
    pub scope: Option<ScopeSet>,
    /// The target API (`resource` or `audience`).
    pub resource: &'a [String],
}

/// RFC 8693 §2.2.2: the subject or actor token is unusable.
fn invalid(what: &str) -> OAuthError {
    OAuthError::invalid_request(format!("the {what} is invalid, expired or revoked"))
}

/// RFC 8693 §4.1: the new `act`: the acting party, with the subject token's own `act` nested in it.
pub fn actor_chain(acting: String, previous: Option<Actor>) -> Actor {
    Actor {
        sub: acting,
        act: previous.map(Box::new),
    }
}

/// Exchange a user's access token for one for another API.
pub async fn exchange(
    ctx: &Context<'_>,
    client: &Client,
    request: Exchange<'_>,
    binding: &super::Binding,
) -> Result<TokenResponse, OAuthError> {
    if request.subject_token_type != ACCESS_TOKEN_TYPE {
        return Err(OAuthError::invalid_request(format!(
            "subject_token_type must be {ACCESS_TOKEN_TYPE}"
        )));
    }
    let (subject, _) = live_access_token(ctx, request.subject_token, RevocationCheck::Store)
        .await?
        .ok_or_else(|| invalid("subject_token"))?;
    // A user's token: a service's own token is not exchanged on anyone's behalf.
    if subject.grant_id().kind() != Some(GrantKind::User) {
        return Err(OAuthError::invalid_request(
            "the subject_token was not issued for a user",
        ));
    }
    let acting = match (request.actor_token, request.actor_token_type) {
        (Some(token), Some(ACCESS_TOKEN_TYPE)) => {
            let (actor, _): (AccessTokenClaims, _) =
                live_access_token(ctx, token, RevocationCheck::Store)
                    .await?
                    .ok_or_else(|| invalid("actor_token"))?;
            actor.sub
        }
        (Some(_), Some(_)) => {
            return Err(OAuthError::invalid_request(format!(
                "actor_token_type must be {ACCESS_TOKEN_TYPE}"
            )));
        }
        (Some(_), None) => {
            return Err(OAuthError::invalid_request(
                "actor_token_type is required with actor_token",
            ));
        }
        (None, Some(_)) => {
            return Err(OAuthError::invalid_request(
                "actor_token_type was sent without actor_token",
            ));
        }
        (None, None) => client.client_id.to_string(),
    };
    // The target: named (resource or audience), or the client's only one.
    let requested: Vec<&str> = request.resource.iter().map(String::as_str).collect();
    let chosen = match requested.as_slice() {
        [one] => *one,
        [] if client.may_exchange_for.len() == 1 => client.may_exchange_for[0].as_str(),
        [] => {
            return Err(InvalidTarget(
                "name the API the token is for with resource or audience".into(),
            )
            .into());
        }
        _ => {
            return Err(InvalidTarget(
                "a token is for one API: send one resource or audience".into(),
            )
            .into());
        }
    };
    if !client.may_exchange_for.iter().any(|a| a.as_str() == chosen) {
        return Err(InvalidTarget(format!(
            "this client may not exchange tokens for '{}'",
            chosen
                .chars()
                .take(200)
                .collect::<String>()
                .escape_default()
        ))
        .into());
    }
    let catalog = ctx.catalog.get(ctx.store, ctx.now).await?;
    let mut target = target(&catalog, ctx.settings, &client.may_exchange_for, &[chosen])?;
    // The new token never outlives the one it was exchanged for.
    target.lifetime = target.lifetime.min(subject.exp - ctx.now);
    let granted = ScopeSet::parse(&subject.scope).unwrap_or_default();
    let scope = match request.scope {
        Some(wanted) => {
            wanted.ensure_within(&granted).map_err(|extra| {
                OAuthError::new(
                    ErrorCode::InvalidScope,
                    format!("beyond the subject token's scope: {}", extra.0),
                )
            })?;
            wanted
        }
        None => granted,
    };
    let grant_id = subject.grant_id();
    audit::record_or_log(
        ctx.store,
        AuditEvent::new(
            EventType::GrantCreated,
            ctx.now,
            format!("client:{}", client.client_id),
        )
        .user(subject.sub.clone())
        .client(client.client_id.to_string())
        .detail(json!({
            "grant_id": grant_id.as_str(),
            "grant_type": "token_exchange",
            "audience": target.audience,
            "scope": scope.to_string(),
        })),
    )
    .await;
    // The user's roles and groups now, as for any token issued for them.
    let authorization = ctx
        .store
        .find_authorization(&UserId::from_stored(subject.sub.clone()))
        .await?;
    let mut response = issue(
        ctx,
        Issuance {
            client,
            subject: &subject.sub,
            scope: &scope,
            target: &target,
            grant_id: &grant_id,
            auth_time: subject.auth_time,
            authentication: None,
            // RFC 8693 §2.1: the new token stands for the same user's authentication.
            inherited_acr: subject.acr.as_deref().and_then(Acr::parse),
            sid: None,
            requested_claims: None,
            authorization: &authorization,
            id_token_for: None,
            refresh_token: None,
            act: Some(actor_chain(acting, subject.act)),
            dpop_jkt: binding.dpop_jkt(),
            cert_thumbprint: binding.certificate_for(client),
        },
    )
    .await?;
    response.issued_token_type = Some(ACCESS_TOKEN_TYPE);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_actor_nests_the_previous_one() {
        let first = actor_chain("service-a".into(), None);
        assert_eq!(
            serde_json::to_value(&first).unwrap(),
            serde_json::json!({"sub": "service-a"})
        );
        let second = actor_chain("service-b".into(), Some(first));
        assert_eq!(
            serde_json::to_value(&second).unwrap(),
            serde_json::json!({"sub": "service-b", "act": {"sub": "service-a"}})
        );
    }
}
