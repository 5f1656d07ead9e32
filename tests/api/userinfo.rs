//! `/userinfo`: claims by scope; RFC 6750 §3 errors for missing, forged or expired tokens.

use crate::helpers::{Backend, TestApp};

crate::backend_tests!(
    userinfo_returns_claims_for_the_granted_scopes,
    userinfo_refuses_missing_forged_and_expired_tokens,
);

async fn userinfo_returns_claims_for_the_granted_scopes(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    let user = app.create_user("alice").await;
    let tokens = app.tokens_for(&client, "alice", "openid email").await;
    let token = tokens["access_token"].as_str().unwrap();
    let claims: serde_json::Value = app
        .http
        .post(format!("{}/userinfo", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(claims["sub"], user.user_id.as_str());
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    assert!(claims.get("name").is_none(), "profile was not granted");
}

async fn userinfo_refuses_missing_forged_and_expired_tokens(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    app.create_user("alice").await;
    let tokens = app.tokens_for(&client, "alice", "openid").await;
    let token = tokens["access_token"].as_str().unwrap().to_owned();
    let call = |bearer: Option<String>| {
        let app = &app;
        async move {
            let mut request = app.http.get(format!("{}/userinfo", app.address));
            if let Some(token) = bearer {
                request = request.bearer_auth(token);
            }
            let response = request.send().await.unwrap();
            let challenge = response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .to_owned();
            (response.status().as_u16(), challenge)
        }
    };
    let (status, challenge) = call(None).await;
    assert_eq!(
        (status, challenge.as_str()),
        (401, r#"Bearer realm="latchkey""#)
    );

    let mut forged = token.clone();
    forged.replace_range(forged.len() - 6.., "AAAAAA");
    let (status, challenge) = call(Some(forged)).await;
    assert_eq!(status, 401);
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );

    // A token signed by a key that is not ours.
    let (stranger, _) =
        latchkey::keys::KeyMaterial::generate(latchkey::domain::alg::SigningAlg::RS256).unwrap();
    let claims: serde_json::Value = jsonwebtoken::dangerous::insecure_decode(&token)
        .unwrap()
        .claims;
    let foreign = latchkey::keys::jws::sign_compact(&stranger, "at+jwt", &claims).unwrap();
    assert_eq!(call(Some(foreign)).await.0, 401);

    app.clock.advance(601);
    let (status, challenge) = call(Some(token)).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("expired"), "{challenge}");
}
