//! `grant_type=client_credentials` (RFC 6749 §4.4): machine-to-machine tokens.

use serde_json::json;

use crate::helpers::{Backend, TestApp, text};

crate::backend_tests!(
    a_service_gets_a_token_with_basic_and_with_post_authentication,
    the_token_verifies_against_the_jwks_with_an_independent_library,
    client_credentials_errors_are_exact,
    a_rotated_secret_takes_effect_within_the_client_cache_ttl,
);

async fn a_rotated_secret_takes_effect_within_the_client_cache_ttl(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let mut service = app
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    assert_eq!(app.client_credentials(&service, None).await.status(), 200);

    let new_secret = latchkey::domain::client::ClientSecret::generate();
    let client_id = latchkey::domain::client::ClientId::parse(&service.client_id).unwrap();
    app.state
        .store
        .set_client_secret(&client_id, &new_secret.hash(), None, 0)
        .await
        .unwrap();
    assert_eq!(
        app.client_credentials(&service, None).await.status(),
        200,
        "the cached registration still accepts the old secret within --client-cache-ttl (5 s)"
    );
    app.clock.advance(5);
    assert_eq!(
        app.client_credentials(&service, None).await.status(),
        401,
        "then the old secret stops working"
    );
    service.secret = Some(new_secret.expose().to_owned());
    assert_eq!(app.client_credentials(&service, None).await.status(), 200);
}

async fn a_service_gets_a_token_with_basic_and_with_post_authentication(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    for method in ["client_secret_basic", "client_secret_post"] {
        let service = app
            .service_client(&["orders:read", "orders:write"], method)
            .await;
        let response = if method == "client_secret_post" {
            let secret = service.secret.clone().unwrap();
            app.http
                .post(format!("{}/token", app.address))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", &service.client_id),
                    ("client_secret", &secret),
                    ("scope", "orders:read"),
                ])
                .send()
                .await
                .unwrap()
        } else {
            app.client_credentials(&service, Some("orders:read")).await
        };
        assert_eq!(response.status(), 200, "{method}");
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["scope"], "orders:read");
        assert_eq!(body["expires_in"], 600);
        assert!(
            body.get("refresh_token").is_none(),
            "RFC 6749 §4.4.3: no refresh token"
        );
        assert!(body.get("id_token").is_none());
    }
}

async fn the_token_verifies_against_the_jwks_with_an_independent_library(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let service = app
        .service_client(&["orders:read", "orders:write"], "client_secret_basic")
        .await;
    let body: serde_json::Value = app
        .client_credentials(&service, None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        body["scope"], "orders:read orders:write",
        "no scope: the client's default scopes"
    );
    let token = text(&body, "access_token");
    let header = jsonwebtoken::decode_header(&token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(app.get_jwks().await).unwrap();
    let key =
        jsonwebtoken::DecodingKey::from_jwk(jwks.find(header.kid.as_deref().unwrap()).unwrap())
            .unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[&app.address]);
    validation.set_audience(&[&app.address]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &validation)
        .unwrap()
        .claims;
    assert_eq!(
        claims["sub"],
        service.client_id.as_str(),
        "RFC 9068 §2.2: sub is the client"
    );
    assert_eq!(claims["client_id"], service.client_id.as_str());
    for claim in ["exp", "iat", "jti", "iss", "aud"] {
        assert!(claims.get(claim).is_some(), "{claim}");
    }
}

async fn client_credentials_errors_are_exact(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let service = app
        .service_client(&["orders:read"], "client_secret_basic")
        .await;

    let mut wrong = app
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    wrong.secret = Some("lk_cs_not-the-secret".into());
    let response = app.client_credentials(&wrong, None).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Basic realm="latchkey""#
    );
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap(),
        json!({"error": "invalid_client", "error_description": "unknown client or wrong credentials"})
    );

    let response = app.client_credentials(&service, Some("orders:write")).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap(),
        json!({"error": "invalid_scope", "error_description": "the client may not request: orders:write"})
    );

    // A confidential client not registered for the grant, and a public client.
    let web = app.web_client().await;
    let response = app.client_credentials(&web, None).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
    let public = app.public_client().await;
    let response = app.client_credentials(&public, None).await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
}
