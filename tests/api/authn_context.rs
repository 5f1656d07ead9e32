//! How the user authenticated, in every token: the ID token's `amr` (RFC 8176) and `acr` (OIDC Core
//! §2), the access token's `acr` and `auth_time` (RFC 9068 §2.2.1), introspection (RFC 7662 §2.2),
//! kept through refreshes and token exchange, and advertised in discovery.

use serde_json::json;

use crate::helpers::{Backend, TestApp, jwt_claims, text};

crate::backend_tests!(a_password_sign_in_is_pwd_in_every_token_and_after_a_refresh);

const ACR_PWD: &str = "urn:latchkey:acr:pwd";

async fn a_password_sign_in_is_pwd_in_every_token_and_after_a_refresh(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.refreshing_client().await;
    app.create_user("alice").await;
    let signed_in_at = latchkey::clock::Clock::now(&app.clock);
    let tokens = app
        .tokens_for(&client, "alice", "openid profile offline_access")
        .await;

    let id = jwt_claims(&text(&tokens, "id_token"));
    assert_eq!(id["amr"], json!(["pwd"]));
    assert_eq!(id["acr"], ACR_PWD);
    assert_eq!(id["auth_time"], signed_in_at);
    let access = jwt_claims(&text(&tokens, "access_token"));
    assert_eq!(access["acr"], ACR_PWD);
    assert_eq!(access["auth_time"], signed_in_at);
    assert!(
        access.get("amr").is_none(),
        "amr is for ID tokens: {access}"
    );

    let introspected = app
        .introspect(&client, &text(&tokens, "access_token"))
        .await;
    assert_eq!(introspected["active"], true);
    assert_eq!(introspected["acr"], ACR_PWD);
    assert_eq!(introspected["auth_time"], signed_in_at);

    // A refresh an hour later speaks of the same sign-in.
    app.clock.advance(3600);
    let response = app
        .refresh(&client, &text(&tokens, "refresh_token"), None)
        .await;
    assert_eq!(response.status(), 200);
    let refreshed: serde_json::Value = response.json().await.unwrap();
    let id = jwt_claims(&text(&refreshed, "id_token"));
    assert_eq!(id["amr"], json!(["pwd"]));
    assert_eq!(id["acr"], ACR_PWD);
    assert_eq!(id["auth_time"], signed_in_at);
    let access = jwt_claims(&text(&refreshed, "access_token"));
    assert_eq!(access["acr"], ACR_PWD);
    assert_eq!(access["auth_time"], signed_in_at);

    // A service's own token has no user, so no authentication to speak of.
    let service = app
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    let response = app.client_credentials(&service, None).await;
    let token: serde_json::Value = response.json().await.unwrap();
    let access = jwt_claims(&text(&token, "access_token"));
    assert!(access.get("acr").is_none() && access.get("auth_time").is_none());

    let discovery = app.get_discovery().await;
    assert_eq!(
        discovery["acr_values_supported"],
        json!([ACR_PWD, "urn:latchkey:acr:mfa"])
    );
    let claims = discovery["claims_supported"].as_array().unwrap();
    assert!(claims.contains(&json!("acr")) && claims.contains(&json!("amr")));
}
