//! The device authorization grant (RFC 8628): a device asks for codes (§3.1, §3.2), the user enters
//! the user code on the `/device` page, signs in and approves or denies (§3.3); the device polls
//! the token endpoint meanwhile (`token::device_code`, §3.4, §3.5).

use std::net::IpAddr;

use serde_json::json;

use super::resource::{InvalidTarget, entitled_scope, has_rbac_scope, requested_resources};
use super::throttle::admit_user_code;
use super::{Context, Params, active_user};
use crate::audit;
use crate::domain::audit::{AuditEvent, EventType};
use crate::domain::client::{Client, GrantType};
use crate::domain::device::{
    DEVICE_CODE_LIFETIME, DEVICE_CODE_PREFIX, DeviceAuthorization, DeviceDecision, DeviceStatus,
    POLL_INTERVAL, UserCode,
};
use crate::domain::scope::ScopeSet;
use crate::domain::secret::{TokenHash, random_token};
use crate::error::{ErrorCode, OAuthError};
use crate::paths::DEVICE_PATH;
use crate::store::StoreError;

use super::authorize::SignIn;
use super::resource::resources_for;

/// RFC 8628 §3.2: the device authorization response.
#[derive(Debug, serde::Serialize)]
pub struct DeviceAuthorizationResponse {
    /// The device's secret, presented at the token endpoint.
    pub device_code: String,
    /// What the user types, as `BCDF-GHJK`.
    pub user_code: String,
    /// Where the user types it.
    pub verification_uri: String,
    /// The same, with the code filled in (§3.3.1, for QR codes and links).
    pub verification_uri_complete: String,
    /// Seconds both codes stay valid.
    pub expires_in: i64,
    /// Seconds the device waits between polls.
    pub interval: i64,
}

/// A user code is drawn again when it collides with a live one; twice in a row is already
/// vanishingly unlikely.
const USER_CODE_DRAWS: usize = 3;

/// RFC 8628 §3.1, §3.2: a device authorization request from the authenticated `client` (public
/// clients too), made from `device_address`.
pub async fn authorize(
    ctx: &Context<'_>,
    client: &Client,
    params: &Params,
    device_address: IpAddr,
) -> Result<DeviceAuthorizationResponse, OAuthError> {
    // RFC 8628 §3.1 → RFC 6749 §5.2 unauthorized_client.
    if !client.allows_grant(GrantType::DeviceCode) {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client is not registered for urn:ietf:params:oauth:grant-type:device_code",
        ));
    }
    // RFC 6749 §3.3, as at /authorize: a scope is required (no default), and within the client's.
    let raw_scope = params.get("scope").map(String::as_str).unwrap_or_default();
    let scope = ScopeSet::parse(raw_scope)
        .map_err(|_| OAuthError::new(ErrorCode::InvalidScope, "the scope is malformed"))?;
    if scope.is_empty() {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            "scope is required",
        ));
    }
    if let Err(extra) = scope.ensure_within(&client.scopes) {
        return Err(OAuthError::new(
            ErrorCode::InvalidScope,
            format!("the client may not request: {}", extra.0),
        ));
    }
    // RFC 8707 §2: the APIs the authorization covers.
    let catalog = ctx.catalog.get(ctx.store, ctx.now).await?;
    let requested = requested_resources(params.get("resource").map(String::as_str));
    let resources = resources_for(&catalog, client, &requested, &scope)
        .map_err(|InvalidTarget(why)| OAuthError::new(ErrorCode::InvalidTarget, why))?;

    let device_code = random_token(DEVICE_CODE_PREFIX);
    let mut request = DeviceAuthorization {
        device_code_hash: TokenHash::of(&device_code),
        user_code_hash: TokenHash([0; 32]),
        client_id: client.client_id.clone(),
        scope,
        resources,
        device_address: device_address.to_canonical().to_string(),
        created_at: ctx.now,
        expires_at: ctx.now + DEVICE_CODE_LIFETIME,
        interval: POLL_INTERVAL,
        status: DeviceStatus::Pending,
        user_id: None,
        auth_time: None,
        authentication: None,
    };
    for draw in 1..=USER_CODE_DRAWS {
        let user_code = UserCode::generate();
        request.user_code_hash = user_code.hash();
        match ctx.store.create_device_authorization(&request).await {
            Ok(()) => {
                let verification_uri = ctx.settings.issuer.endpoint(DEVICE_PATH);
                let shown = user_code.display();
                return Ok(DeviceAuthorizationResponse {
                    device_code,
                    verification_uri_complete: format!("{verification_uri}?user_code={shown}"),
                    user_code: shown,
                    verification_uri,
                    expires_in: DEVICE_CODE_LIFETIME,
                    interval: POLL_INTERVAL,
                });
            }
            Err(StoreError::Conflict(_)) if draw < USER_CODE_DRAWS => {}
            Err(err) => return Err(err.into()),
        }
    }
    Err(OAuthError::new(
        ErrorCode::TemporarilyUnavailable,
        "no free user code; try again",
    ))
}

/// What the user's typed code found.
#[derive(Debug)]
pub enum LookUp {
    /// A pending request.
    Found(Box<DeviceAuthorization>),
    /// No pending, unexpired request has this code (the attempt stays counted).
    Wrong,
    /// Too many wrong codes from this network: wait this many seconds (RFC 8628 §5.1).
    Throttled(i64),
}

/// RFC 8628 §3.3, §5.1: look up the code the user typed (any case, with or without the dash), an
/// attempt reserved against the network's limit before the look-up and given back if it was right.
pub async fn look_up(
    ctx: &Context<'_>,
    typed: &str,
    address: IpAddr,
) -> Result<LookUp, StoreError> {
    let attempt = match admit_user_code(ctx.store, address, ctx.now).await? {
        Ok(attempt) => attempt,
        Err(retry_after) => return Ok(LookUp::Throttled(retry_after)),
    };
    let Some(code) = UserCode::parse(typed) else {
        return Ok(LookUp::Wrong);
    };
    match ctx
        .store
        .find_device_authorization(&code.hash(), ctx.now)
        .await?
    {
        Some(request) => {
            attempt.succeeded(ctx.store).await?;
            Ok(LookUp::Found(Box::new(request)))
        }
        None => Ok(LookUp::Wrong),
    }
}

/// The outcome of the user's decision.
#[derive(Debug, PartialEq, Eq)]
pub enum Decided {
    /// Approved: the device gets its tokens at its next poll.
    Approved,
    /// Denied: the device gets `access_denied`.
    Denied,
    /// The request is no longer pending (decided elsewhere, or expired), or the user is no
    /// longer active.
    Gone,
    /// Role-based scopes: none of an `--rbac` API's requested scopes is granted by the user's
    /// roles (the message says which API).
    NotEntitled(String),
}

/// RFC 8628 §3.3: the signed-in user approves (`allow`) or denies the pending request whose user
/// code hashes to `user_code_hash`. Approval keeps only the `--rbac` scopes the user's roles grant,
/// as at `/authorize`; the answer is recorded as a `consent.given` / `consent.denied` event.
pub async fn decide(
    ctx: &Context<'_>,
    request: &DeviceAuthorization,
    user: &SignIn,
    allow: bool,
) -> Result<Decided, StoreError> {
    if active_user(ctx.store, &user.user_id).await?.is_none() {
        return Ok(Decided::Gone);
    }
    let mut scope = request.scope.clone();
    if allow {
        let catalog = ctx.catalog.get(ctx.store, ctx.now).await?;
        if has_rbac_scope(&catalog, &scope) {
            let authorization = ctx.store.find_authorization(&user.user_id).await?;
            match entitled_scope(&catalog, &scope, &authorization.roles) {
                Ok(entitled) => scope = entitled,
                Err(why) => return Ok(Decided::NotEntitled(why)),
            }
        }
    }
    let decision = if allow {
        DeviceDecision::Approve {
            user_id: user.user_id.clone(),
            auth_time: user.auth_time,
            authentication: user.authentication.clone(),
            scope: scope.clone(),
        }
    } else {
        DeviceDecision::Deny {
            user_id: user.user_id.clone(),
        }
    };
    if !ctx
        .store
        .decide_device_authorization(&request.user_code_hash, &decision, ctx.now)
        .await?
    {
        return Ok(Decided::Gone);
    }
    let event_type = if allow {
        EventType::ConsentGiven
    } else {
        EventType::ConsentDenied
    };
    audit::record_or_log(
        ctx.store,
        AuditEvent::new(event_type, ctx.now, format!("user:{}", user.user_id))
            .user(user.user_id.to_string())
            .client(request.client_id.to_string())
            .detail(json!({
                "scope": scope.to_string(),
                "device_authorization": true,
                "device_address": request.device_address,
            })),
    )
    .await;
    Ok(if allow {
        Decided::Approved
    } else {
        Decided::Denied
    })
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;
    use crate::domain::client::ClientSpec;
    use crate::oauth::testing::Harness;
    use crate::oauth::throttle::MAX_USER_CODE_ATTEMPTS_PER_NETWORK;
    use crate::oauth::token::device_code::redeem;

    const DEVICE: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
    const BROWSER: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 9));

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn spec(grant_types: &[&str]) -> ClientSpec {
        ClientSpec {
            client_name: "TV".into(),
            redirect_uris: vec!["https://app.example.com/cb".into()],
            grant_types: grant_types.iter().map(|g| (*g).to_owned()).collect(),
            scope: "openid profile".into(),
            auth_method: "none".into(),
            ..ClientSpec::default()
        }
    }

    #[tokio::test]
    #[allow(clippy::type_complexity)] // a table: one row per rule
    async fn device_authorization_requests_are_checked() {
        let h = Harness::new(&[]).await;
        let tv = h.client("tv", spec(&["device_code"])).await;
        let web = h.client("web", spec(&["authorization_code"])).await;
        // (case, client, form, expected error)
        let cases: &[(&str, &Client, &[(&str, &str)], Option<&str>)] = &[
            (
                "RFC 8628 §3.1 a public client asks",
                &tv,
                &[("scope", "openid profile")],
                None,
            ),
            (
                "RFC 6749 §5.2 unauthorized_client without the grant",
                &web,
                &[("scope", "openid")],
                Some("unauthorized_client"),
            ),
            (
                "RFC 6749 §3.3 scope required (no default)",
                &tv,
                &[],
                Some("invalid_scope"),
            ),
            (
                "RFC 6749 §3.3 a scope beyond the client's",
                &tv,
                &[("scope", "openid email")],
                Some("invalid_scope"),
            ),
            (
                "RFC 8707 §2 an unknown resource",
                &tv,
                &[("scope", "openid"), ("resource", "https://nowhere.example")],
                Some("invalid_target"),
            ),
        ];
        for (case, client, form, expected) in cases {
            let result = authorize(&h.ctx(), client, &params(form), DEVICE).await;
            assert_eq!(
                result.as_ref().err().map(|e| e.code.as_str()),
                *expected,
                "{case}: {result:?}"
            );
        }
        let codes = authorize(&h.ctx(), &tv, &params(&[("scope", "openid")]), DEVICE)
            .await
            .unwrap();
        assert_eq!(codes.expires_in, 600);
        assert_eq!(codes.interval, 5);
        assert_eq!(
            codes.verification_uri_complete,
            format!(
                "https://id.example.com/device?user_code={}",
                codes.user_code
            )
        );
    }

    #[tokio::test]
    async fn a_request_is_found_by_its_user_code_decided_once_and_redeemed_once() {
        let mut h = Harness::new(&[]).await;
        let tv = h.client("tv", spec(&["device_code"])).await;
        let alice = h.user("alice").await;
        let codes = authorize(&h.ctx(), &tv, &params(&[("scope", "openid")]), DEVICE)
            .await
            .unwrap();
        async fn poll_as(h: &Harness, tv: &Client, code: &str) -> Result<String, &'static str> {
            redeem(&h.ctx(), tv, code, &[], &Default::default())
                .await
                .map(|t| t.scope)
                .map_err(|e| e.code.as_str())
        }
        // RFC 8628 §3.5: pending; too soon is slow_down, and each slow_down adds 5 s to the interval.
        assert_eq!(
            poll_as(&h, &tv, &codes.device_code).await,
            Err("authorization_pending")
        );
        assert_eq!(poll_as(&h, &tv, &codes.device_code).await, Err("slow_down"));
        // Still too soon (10 s since the last poll): slow_down again, and the interval is 15 s.
        h.now += 5;
        assert_eq!(poll_as(&h, &tv, &codes.device_code).await, Err("slow_down"));
        h.now += 15;
        assert_eq!(
            poll_as(&h, &tv, &codes.device_code).await,
            Err("authorization_pending")
        );

        // RFC 8628 §6.1: any case, without the dash.
        let typed = codes.user_code.replace('-', "").to_lowercase();
        let LookUp::Found(request) = look_up(&h.ctx(), &typed, BROWSER).await.unwrap() else {
            panic!("the user code is found");
        };
        let signed_in = SignIn {
            sid: None,
            user_id: alice.user_id.clone(),
            auth_time: h.now,
            authentication: crate::domain::authn::Authentication::password(),
        };
        assert_eq!(
            decide(&h.ctx(), &request, &signed_in, true).await.unwrap(),
            Decided::Approved
        );
        assert_eq!(
            decide(&h.ctx(), &request, &signed_in, false).await.unwrap(),
            Decided::Gone,
            "answered once"
        );
        assert!(matches!(
            look_up(&h.ctx(), &typed, BROWSER).await.unwrap(),
            LookUp::Wrong
        ));
        h.now += 15;
        assert_eq!(
            poll_as(&h, &tv, &codes.device_code).await,
            Ok("openid".to_owned())
        );
        assert_eq!(
            poll_as(&h, &tv, &codes.device_code).await,
            Err("invalid_grant"),
            "redeemed once"
        );
    }

    #[tokio::test]
    async fn wrong_user_codes_are_reserved_before_the_look_up_and_right_ones_given_back() {
        let h = Harness::new(&[]).await;
        let tv = h.client("tv", spec(&["device_code"])).await;
        let codes = authorize(&h.ctx(), &tv, &params(&[("scope", "openid")]), DEVICE)
            .await
            .unwrap();
        // A right code costs nothing.
        for _ in 0..MAX_USER_CODE_ATTEMPTS_PER_NETWORK + 1 {
            assert!(matches!(
                look_up(&h.ctx(), &codes.user_code, BROWSER).await.unwrap(),
                LookUp::Found(_)
            ));
        }
        for _ in 0..MAX_USER_CODE_ATTEMPTS_PER_NETWORK {
            assert!(matches!(
                look_up(&h.ctx(), "BBBB-BBBB", BROWSER).await.unwrap(),
                LookUp::Wrong
            ));
        }
        // RFC 8628 §5.1: the network is out of attempts, even for the right code; another is not.
        assert!(matches!(
            look_up(&h.ctx(), &codes.user_code, BROWSER).await.unwrap(),
            LookUp::Throttled(_)
        ));
        assert!(matches!(
            look_up(&h.ctx(), &codes.user_code, DEVICE).await.unwrap(),
            LookUp::Found(_)
        ));
    }
}
