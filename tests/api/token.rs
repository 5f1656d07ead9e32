//! `POST /token` with `grant_type=authorization_code`: every failure is the exact RFC 6749 §5.2 error.

use serde_json::json;

use crate::helpers::{Backend, TestApp, TestClient, query_param};

crate::backend_tests!(
    a_wrong_code_verifier_is_invalid_grant,
    a_reused_code_fails_and_revokes_the_tokens_of_its_first_use,
    an_expired_code_is_invalid_grant,
    a_code_issued_to_another_client_is_invalid_grant,
    a_wrong_client_secret_is_invalid_client_with_a_basic_challenge,
    an_unknown_grant_type_is_unsupported_grant_type,
    twenty_concurrent_redemptions_of_one_code_yield_exactly_one_success,
    oversized_and_garbled_bodies_get_clear_errors,
);

async fn oversized_and_garbled_bodies_get_clear_errors(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let post = |body: Vec<u8>, content_type: &'static str| {
        let app = &app;
        async move {
            let response = app
                .http
                .post(format!("{}/token", app.address))
                .header("content-type", content_type)
                .body(body)
                .send()
                .await
                .unwrap();
            (
                response.status().as_u16(),
                response.json::<serde_json::Value>().await.unwrap(),
            )
        }
    };
    let big = format!("grant_type=client_credentials&pad={}", "a".repeat(100_000)).into_bytes();
    assert_eq!(
        post(big, "application/x-www-form-urlencoded").await,
        (
            400,
            json!({"error": "invalid_request", "error_description": "the request body is larger than 64 KiB"})
        )
    );
    assert_eq!(
        post(
            br#"{"grant_type":"client_credentials"}"#.to_vec(),
            "application/json"
        )
        .await
        .1["error"],
        "invalid_request"
    );
    let (status, body) = post(
        b"%01%02=a&%01%02=b".to_vec(),
        "application/x-www-form-urlencoded",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["error_description"], "a parameter is repeated",
        "odd names are not echoed back"
    );
}

async fn code_for(app: &TestApp, client: &TestClient, user: &str) -> (String, String) {
    let (url, verifier) = app.authorize_url(client, "openid email", &[]);
    let location = app.sign_in_through(&url, user).await;
    (query_param(&location, "code").unwrap(), verifier)
}

async fn error_body(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["cache-control"], "no-store");
    response.json().await.unwrap()
}

async fn a_wrong_code_verifier_is_invalid_grant(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    app.create_user("alice").await;
    let (code, _) = code_for(&app, &client, "alice").await;
    let wrong = "x".repeat(43);
    let response = app
        .post_token(
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &client.redirect_uri),
                ("code_verifier", &wrong),
            ],
        )
        .await;
    assert_eq!(
        error_body(response, 400).await,
        json!({"error": "invalid_grant", "error_description": "PKCE verification failed: wrong code_verifier"})
    );
}

async fn a_reused_code_fails_and_revokes_the_tokens_of_its_first_use(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    app.create_user("alice").await;
    let (code, verifier) = code_for(&app, &client, "alice").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let first: serde_json::Value = app.post_token(&client, &form).await.json().await.unwrap();
    let access_token = first["access_token"].as_str().unwrap().to_owned();
    let userinfo = |token: String| {
        let app = &app;
        async move {
            app.http
                .get(format!("{}/userinfo", app.address))
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(userinfo(access_token.clone()).await, 200);
    let replay = app.post_token(&client, &form).await;
    assert_eq!(
        error_body(replay, 400).await,
        json!({"error": "invalid_grant", "error_description": "the authorization code has already been used"})
    );
    assert_eq!(
        userinfo(access_token).await,
        401,
        "the first use's tokens are revoked"
    );
}

async fn an_expired_code_is_invalid_grant(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    app.create_user("alice").await;
    let (code, verifier) = code_for(&app, &client, "alice").await;
    app.clock.advance(61);
    let response = app.redeem_code(&client, &code, &verifier).await;
    assert_eq!(
        error_body(response, 400).await,
        json!({"error": "invalid_grant", "error_description": "the authorization code has expired"})
    );
}

async fn a_code_issued_to_another_client_is_invalid_grant(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    let other = app.web_client().await;
    app.create_user("alice").await;
    let (code, verifier) = code_for(&app, &client, "alice").await;
    let response = app.redeem_code(&other, &code, &verifier).await;
    assert_eq!(error_body(response, 400).await["error"], "invalid_grant");
}

async fn a_wrong_client_secret_is_invalid_client_with_a_basic_challenge(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let mut client = app.web_client().await;
    client.secret = Some("lk_cs_wrong".into());
    let response = app
        .post_token(
            &client,
            &[("grant_type", "authorization_code"), ("code", "x")],
        )
        .await;
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Basic realm="latchkey""#
    );
    assert_eq!(
        error_body(response, 401).await,
        json!({"error": "invalid_client", "error_description": "unknown client or wrong credentials"})
    );
}

async fn an_unknown_grant_type_is_unsupported_grant_type(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    let response = app.post_token(&client, &[("grant_type", "password")]).await;
    assert_eq!(
        error_body(response, 400).await["error"],
        "unsupported_grant_type"
    );
    let response = app
        .post_token(
            &client,
            &[("grant_type", "authorization_code"), ("grant_type", "x")],
        )
        .await;
    assert_eq!(error_body(response, 400).await["error"], "invalid_request");
}

async fn twenty_concurrent_redemptions_of_one_code_yield_exactly_one_success(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    app.create_user("alice").await;
    let (code, verifier) = code_for(&app, &client, "alice").await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let statuses: Vec<u16> = app
        .post_token_concurrently(&client, &form, 20)
        .await
        .into_iter()
        .map(|(status, _)| status)
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        19,
        "{statuses:?}"
    );
}
