//! `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.6, OIDC Core §3.1.3).

use serde_json::json;

use super::{Issuance, TokenResponse, issue};
use crate::audit;
use crate::domain::audit::{AuditEvent, EventType, InTransaction};
use crate::domain::client::{Client, GrantType};
use crate::domain::grant::{
    AuthorizationCode, Grant, GrantId, NewRefreshToken, REFRESH_TOKEN_PREFIX, Redemption,
};
use crate::domain::pkce::verify_s256;
use crate::domain::secret::{TokenHash, random_token};
use crate::error::OAuthError;
use crate::oauth::resource::{scope_for, target};
use crate::oauth::{Context, active_user};

/// RFC 6749 §4.1.3 and RFC 7636 §4.6: may this client redeem this (unconsumed, unexpired) code with
/// these parameters? A pure check, done before the atomic consume.
pub fn check_code(
    record: &AuthorizationCode,
    client: &Client,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    now: i64,
) -> Result<(), OAuthError> {
    // RFC 6749 §4.1.3: the code must have been issued to the authenticated client.
    if record.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if record.expires_at <= now {
        return Err(OAuthError::invalid_grant(
            "the authorization code has expired",
        ));
    }
    // RFC 6749 §4.1.3: redirect_uri is REQUIRED if the authorization request included it, and the
    // values MUST be identical; when sent without having been required it must still match.
    match redirect_uri {
        None if record.redirect_uri_sent => {
            return Err(OAuthError::invalid_request(
                "redirect_uri is required: the authorization request carried it",
            ));
        }
        Some(uri) if uri != record.redirect_uri => {
            return Err(OAuthError::invalid_grant(
                "redirect_uri does not match the authorization request",
            ));
        }
        _ => {}
    }
    // RFC 7636 §4.6; RFC 9700 §2.1.1: a verifier without a challenge is refused (no PKCE downgrade).
    match (&record.code_challenge, code_verifier) {
        (Some(challenge), Some(verifier)) if verify_s256(verifier, challenge) => Ok(()),
        (Some(_), Some(_)) => Err(OAuthError::invalid_grant(
            "PKCE verification failed: wrong code_verifier",
        )),
        (Some(_), None) => Err(OAuthError::invalid_request("code_verifier is required")),
        (None, Some(_)) => Err(OAuthError::invalid_grant(
            "code_verifier sent for a code issued without PKCE",
        )),
        (None, None) => Ok(()),
    }
}

/// Redeem a code for tokens. The code is consumed atomically: of any number of concurrent
/// redemptions exactly one succeeds, and a code presented again revokes what it produced
/// (RFC 6749 §4.1.2, RFC 9700 §4.2.1).
pub async fn redeem(
    ctx: &Context<'_>,
    client: &Client,
    code: &str,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    resource: &[String],
    binding: &super::Binding,
) -> Result<TokenResponse, OAuthError> {
    let (now, lifetimes) = (ctx.now, &ctx.settings.lifetimes);
    let hash = TokenHash::of(code);
    let record = ctx
        .store
        .find_authorization_code(&hash)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the authorization code is invalid"))?;
    let grant_id = record.grant_id.clone();
    if record.consumed_at.is_some() && record.client_id == client.client_id {
        revoke_replayed(ctx, client, &grant_id).await?;
        return Err(OAuthError::invalid_grant(
            "the authorization code has already been used",
        ));
    }
    check_code(&record, client, redirect_uri, code_verifier, now)?;
    // RFC 9449 §10.1: a code bound with `dpop_jkt` is redeemed only with a proof of that key.
    binding.check_dpop_key(record.dpop_jkt.as_deref())?;
    // RFC 8707 §2.2: the token is for one of the APIs the authorization covered.
    let catalog = ctx.catalog.get(ctx.store, now).await?;
    let requested: Vec<&str> = resource.iter().map(String::as_str).collect();
    let target = target(&catalog, ctx.settings, &record.resources, &requested)?;
    let token_scope = scope_for(&catalog, &target, &record.scope);
    let user = active_user(ctx.store, &record.user_id)
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("the user is no longer active"))?;

    let refresh_token = client
        .allows_grant(GrantType::RefreshToken)
        .then(|| random_token(REFRESH_TOKEN_PREFIX));
    let new_refresh = refresh_token.as_ref().map(|token| NewRefreshToken {
        token_hash: TokenHash::of(token),
        grant_id: record.grant_id.clone(),
        scope: record.scope.clone(),
        created_at: now,
        expires_at: lifetimes.refresh_token_expiry(now, now),
    });
    let grant = Grant {
        grant_id: record.grant_id.clone(),
        client_id: record.client_id.clone(),
        user_id: Some(record.user_id.clone()),
        scope: record.scope.clone(),
        resources: record.resources.clone(),
        auth_time: Some(record.auth_time),
        authentication: Some(record.authentication.clone()),
        requested_claims: record.requested_claims.clone(),
        sid: record.sid.clone(),
        // RFC 9449 §5: a public client's refresh tokens are bound to its DPoP key.
        dpop_jkt: binding.refresh_dpop_jkt(client),
        cert_thumbprint: binding.refresh_certificate(client),
        created_at: now,
        expires_at: new_refresh
            .as_ref()
            .map_or(now + lifetimes.access_token, |r| r.expires_at),
        revoked_at: None,
    };
    // The grant and its audit event commit together.
    let created = AuditEvent::new(
        EventType::GrantCreated,
        now,
        format!("client:{}", client.client_id),
    )
    .user(record.user_id.to_string())
    .client(client.client_id.to_string())
    .detail(json!({
        "grant_id": grant_id.as_str(),
        "grant_type": "authorization_code",
        "scope": record.scope.to_string(),
    }));
    let redemption = ctx
        .store
        .redeem_authorization_code(
            &hash,
            &grant,
            new_refresh.as_ref(),
            now,
            InTransaction::done(&created),
        )
        .await?;
    if redemption == Redemption::AlreadyUsed {
        revoke_replayed(ctx, client, &grant_id).await?;
        return Err(OAuthError::invalid_grant(
            "the authorization code has already been used",
        ));
    }
    audit::log(&created);
    // RFC 9068 §2.2.3.1: the user's roles and groups now, in one read.
    let authorization = ctx.store.find_authorization(&record.user_id).await?;
    issue(
        ctx,
        Issuance {
            client,
            subject: record.user_id.as_str(),
            scope: &token_scope,
            target: &target,
            grant_id: &grant_id,
            auth_time: Some(record.auth_time),
            authentication: Some(&record.authentication),
            inherited_acr: None,
            sid: record.sid.as_deref(),
            requested_claims: record.requested_claims.as_ref(),
            authorization: &authorization,
            id_token_for: Some((&user, record.nonce.as_deref())),
            refresh_token,
            act: None,
            dpop_jkt: binding.dpop_jkt(),
            cert_thumbprint: binding.certificate_for(client),
        },
    )
    .await
}

/// RFC 6749 §4.1.2: a code used twice SHOULD revoke the tokens issued from it.
async fn revoke_replayed(
    ctx: &Context<'_>,
    client: &Client,
    grant_id: &GrantId,
) -> Result<(), OAuthError> {
    tracing::warn!(%grant_id, "authorization code replayed; revoking its grant");
    let keep_until = ctx.now + ctx.settings.lifetimes.revocation_retention();
    let replayed = AuditEvent::new(
        EventType::AuthorizationCodeReplayed,
        ctx.now,
        format!("client:{}", client.client_id),
    )
    .client(client.client_id.to_string())
    .detail(json!({ "grant_id": grant_id.as_str(), "grant_revoked": true }));
    ctx.store
        .revoke_grant(
            grant_id,
            ctx.now,
            keep_until,
            InTransaction::done(&replayed),
        )
        .await?;
    ctx.revocations.record(grant_id.as_str(), keep_until);
    audit::log(&replayed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client::{ClientId, ClientSpec};
    use crate::domain::scope::ScopeSet;

    const NOW: i64 = 1_700_000_000;
    // RFC 7636 Appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn client() -> Client {
        Client::from_spec(
            ClientId::parse("web").unwrap(),
            &ClientSpec {
                client_name: "Web".into(),
                redirect_uris: vec!["https://app.example.com/cb".into()],
                scope: "openid".into(),
                auth_method: "client_secret_basic".into(),
                ..ClientSpec::default()
            },
            0,
        )
        .unwrap()
    }

    fn code(redirect_uri_sent: bool) -> AuthorizationCode {
        AuthorizationCode {
            dpop_jkt: None,
            sid: None,
            code_hash: TokenHash::of("lk_ac_x"),
            grant_id: GrantId::from_stored("gr_x".into()),
            client_id: ClientId::parse("web").unwrap(),
            user_id: crate::domain::user::UserId::from_stored("u".into()),
            redirect_uri: "https://app.example.com/cb".into(),
            redirect_uri_sent,
            resources: Vec::new(),
            scope: ScopeSet::parse("openid").unwrap(),
            nonce: None,
            code_challenge: Some(CHALLENGE.into()),
            auth_time: NOW,
            authentication: crate::domain::authn::Authentication::password(),
            requested_claims: None,
            created_at: NOW,
            expires_at: NOW + 60,
            consumed_at: None,
        }
    }

    #[test]
    #[allow(clippy::type_complexity)] // a table: one row per rule
    fn code_redemption_rules() {
        let uri = Some("https://app.example.com/cb");
        let other = Some("https://app.example.com/other");
        let v = Some(VERIFIER);
        // (case, redirect_uri sent at /authorize, redirect_uri at /token, verifier, now, expected error)
        let cases: &[(&str, bool, Option<&str>, Option<&str>, i64, Option<&str>)] = &[
            (
                "RFC 6749 §4.1.3 all present and identical",
                true,
                uri,
                v,
                NOW,
                None,
            ),
            (
                "RFC 6749 §4.1.3 redirect_uri required when it was sent",
                true,
                None,
                v,
                NOW,
                Some("invalid_request"),
            ),
            (
                "RFC 6749 §4.1.3 redirect_uri must be identical",
                true,
                other,
                v,
                NOW,
                Some("invalid_grant"),
            ),
            (
                "RFC 6749 §4.1.3 not required when it was not sent",
                false,
                None,
                v,
                NOW,
                None,
            ),
            (
                "RFC 6749 §4.1.3 but must match when given anyway",
                false,
                other,
                v,
                NOW,
                Some("invalid_grant"),
            ),
            (
                "RFC 7636 §4.6 verifier required",
                true,
                uri,
                None,
                NOW,
                Some("invalid_request"),
            ),
            (
                "RFC 7636 §4.6 wrong verifier",
                true,
                uri,
                Some("wrong-verifier-wrong-verifier-wrong-verifier"),
                NOW,
                Some("invalid_grant"),
            ),
            (
                "RFC 6749 §4.1.2 an expired code",
                true,
                uri,
                v,
                NOW + 60,
                Some("invalid_grant"),
            ),
        ];
        for (case, sent, redirect_uri, verifier, now, expected) in cases {
            let result = check_code(&code(*sent), &client(), *redirect_uri, *verifier, *now);
            assert_eq!(
                result.as_ref().err().map(|e| e.code.as_str()),
                *expected,
                "{case}: {result:?}"
            );
        }
    }

    #[test]
    fn a_code_of_another_client_is_invalid_grant() {
        let mut record = code(true);
        record.client_id = ClientId::parse("someone-else").unwrap();
        let err = check_code(
            &record,
            &client(),
            Some("https://app.example.com/cb"),
            Some(VERIFIER),
            NOW,
        )
        .unwrap_err();
        assert_eq!(err.code.as_str(), "invalid_grant");
    }
}
