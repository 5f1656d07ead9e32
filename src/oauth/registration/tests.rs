//! The registration rules (RFC 7591, RFC 7592), one row per case, on a real in-memory store.

use std::net::IpAddr;

use serde_json::{Value, json};

use super::*;
use crate::oauth::testing::Harness;

fn address() -> IpAddr {
    IpAddr::from([192, 0, 2, 1])
}

fn web() -> Value {
    json!({"redirect_uris": ["https://app.example.com/cb"], "client_name": "App"})
}

fn with(field: &str, value: Value) -> Value {
    let mut body = web();
    body[field] = value;
    body
}

#[test]
fn metadata_is_refused_with_the_rfc_7591_error_codes() {
    let cases = [
        (
            "§3.2.2 a relative redirect URI",
            with("redirect_uris", json!(["/cb"])),
            "invalid_redirect_uri",
        ),
        (
            "§2 the code grant without redirect URIs",
            json!({"client_name": "App"}),
            "invalid_redirect_uri",
        ),
        (
            "RFC 8252 §7.1 a private-use scheme for a web client",
            with("redirect_uris", json!(["com.example:/cb"])),
            "invalid_redirect_uri",
        ),
        (
            "§2 a jwks_uri that is not a string",
            with("jwks_uri", json!(["https://app.example.com/jwks"])),
            "invalid_client_metadata",
        ),
        (
            "Back-Channel Logout §2.2 a backchannel_logout_uri that is not a string",
            with("backchannel_logout_uri", json!(true)),
            "invalid_client_metadata",
        ),
        (
            "Back-Channel Logout §2.2 backchannel_logout_session_required not a boolean",
            with("backchannel_logout_session_required", json!("yes")),
            "invalid_client_metadata",
        ),
        (
            "§2 response type token",
            with("response_types", json!(["token"])),
            "invalid_client_metadata",
        ),
        (
            "§2 the implicit grant",
            with("grant_types", json!(["implicit"])),
            "invalid_client_metadata",
        ),
        (
            "RFC 8693 token exchange is an operator's privilege",
            with(
                "grant_types",
                json!([crate::domain::client::TOKEN_EXCHANGE_GRANT]),
            ),
            "invalid_client_metadata",
        ),
        (
            "§2.1 grant and response types disagree",
            with("response_types", json!([])),
            "invalid_client_metadata",
        ),
        (
            "a redirect URI list that is not strings",
            with("redirect_uris", json!([1])),
            "invalid_client_metadata",
        ),
        (
            "not a JSON object",
            json!(["redirect_uris"]),
            "invalid_client_metadata",
        ),
    ];
    for (name, body, error) in cases {
        let err = spec_of(&body, RegistrationPolicy::Token).unwrap_err();
        assert_eq!(err.code.as_str(), error, "{name}: {err}");
        assert!(err.description.is_some(), "{name}");
    }
}

#[test]
fn client_credentials_needs_an_initial_access_token() {
    let body = json!({"grant_types": ["client_credentials"]});
    assert!(spec_of(&body, RegistrationPolicy::Token).is_ok());
    let err = spec_of(&body, RegistrationPolicy::Open).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidClientMetadata);
}

#[test]
fn a_private_key_jwt_client_may_name_its_jwks_uri() {
    let mut body = web();
    body["token_endpoint_auth_method"] = json!("private_key_jwt");
    body["jwks_uri"] = json!("https://app.example.com/jwks");
    let spec = spec_of(&body, RegistrationPolicy::Open).unwrap();
    assert_eq!(
        spec.jwks_uri.as_deref(),
        Some("https://app.example.com/jwks")
    );
    let client = crate::domain::client::Client::from_spec(
        crate::domain::client::ClientId::generate(),
        &spec,
        NOW,
    )
    .unwrap();
    assert_eq!(
        client.jwks_uri.as_deref(),
        Some("https://app.example.com/jwks")
    );
}

#[test]
fn privileges_in_the_metadata_are_ignored() {
    let mut body = web();
    body["skip_consent"] = json!(true);
    body["introspect_any"] = json!(true);
    body["roles"] = json!(["admin"]);
    let spec = spec_of(&body, RegistrationPolicy::Open).unwrap();
    assert!(!spec.skip_consent && !spec.introspect_any);
    assert_eq!(
        spec.auth_method, "client_secret_basic",
        "RFC 7591 §2 default"
    );
    assert_eq!(
        spec.grant_types,
        ["authorization_code"],
        "RFC 7591 §2 default"
    );
}

async fn token(harness: &Harness, max_uses: Option<u32>) -> String {
    crate::admin::registration_token::create(harness.store.as_ref(), Some(60), max_uses, NOW)
        .await
        .unwrap()
        .value
}

use crate::oauth::testing::NOW;

fn refused(result: Result<Registered, RegistrationError>) -> OAuthError {
    match result {
        Err(RegistrationError::Refused(err)) => err,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn registration_needs_a_usable_initial_access_token() {
    let mut harness = Harness::new(&[]).await;
    let once = token(&harness, Some(1)).await;
    let registered = register(&harness.ctx(), address(), Some(&once), &web())
        .await
        .unwrap();
    assert!(registered.client_secret.is_some());
    assert!(!registered.client.skip_consent && !registered.client.introspect_any);
    let cases = [
        ("RFC 6750 §3.1 no token", None, None),
        (
            "a token used up",
            Some(once.as_str()),
            Some("invalid_token"),
        ),
        (
            "an unknown token",
            Some("lk_iat_unknown"),
            Some("invalid_token"),
        ),
    ];
    for (name, presented, error) in cases {
        let err = refused(register(&harness.ctx(), address(), presented, &web()).await);
        assert_eq!(err.code, ErrorCode::InvalidToken, "{name}");
        assert_eq!(err.description.is_some(), error.is_some(), "{name}");
    }
    let expiring = token(&harness, None).await;
    harness.now = NOW + 60;
    let err = refused(register(&harness.ctx(), address(), Some(&expiring), &web()).await);
    assert_eq!(err.code, ErrorCode::InvalidToken, "an expired token");
}

#[tokio::test]
async fn registrations_are_counted_per_network_before_any_work() {
    let harness = Harness::new(&["--registration", "open"]).await;
    for _ in 0..MAX_REGISTRATIONS_PER_NETWORK {
        // Refused metadata counts too.
        let _ = register(&harness.ctx(), address(), None, &Value::Null).await;
    }
    match register(&harness.ctx(), address(), None, &web()).await {
        Err(RegistrationError::Throttled { retry_after }) => {
            assert_eq!(retry_after, REGISTRATION_WINDOW);
        }
        other => panic!("expected the throttle, got {other:?}"),
    }
    let elsewhere = IpAddr::from([192, 0, 2, 2]);
    assert!(
        register(&harness.ctx(), elsewhere, None, &web())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn the_registration_access_token_manages_its_client_only() {
    let harness = Harness::new(&["--registration", "open"]).await;
    let ctx = harness.ctx();
    let first = register(&ctx, address(), None, &web()).await.unwrap();
    let other = register(&ctx, address(), None, &web()).await.unwrap();
    let id = first.client.client_id.to_string();
    let cases = [
        ("a wrong token", "lk_rat_wrong"),
        (
            "another client's token",
            other.registration_access_token.as_str(),
        ),
    ];
    for (name, presented) in cases {
        let err = read(&ctx, &id, presented).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidToken, "{name}");
    }
    // RFC 7592 §3: each answer carries a new token; the old one stops working.
    let read_back = read(&ctx, &id, &first.registration_access_token)
        .await
        .unwrap();
    assert!(
        read(&ctx, &id, &first.registration_access_token)
            .await
            .is_err()
    );
    let mut body = with("client_name", json!("Renamed"));
    body["client_id"] = json!(id);
    let replaced = replace(&ctx, &id, &read_back.registration_access_token, &body)
        .await
        .unwrap();
    assert_eq!(replaced.client.client_name, "Renamed");
    assert!(replaced.client.secret_hash.is_some(), "the secret stays");
    delete(&ctx, &id, &replaced.registration_access_token)
        .await
        .unwrap();
    assert!(
        harness
            .store
            .find_client(&first.client.client_id)
            .await
            .unwrap()
            .is_none()
    );
}

#[test]
fn a_client_may_ask_for_dpop_bound_tokens_only() {
    // RFC 9449 §5.2: a restriction the client puts on itself, so it is metadata, not a privilege.
    let mut body = web();
    assert!(
        !spec_of(&body, RegistrationPolicy::Open)
            .unwrap()
            .require_dpop
    );
    body["dpop_bound_access_tokens"] = json!(true);
    assert!(
        spec_of(&body, RegistrationPolicy::Open)
            .unwrap()
            .require_dpop
    );
    body["dpop_bound_access_tokens"] = json!("yes");
    let err = spec_of(&body, RegistrationPolicy::Open).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidClientMetadata);
}
