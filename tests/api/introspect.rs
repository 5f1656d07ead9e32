//! `/introspect` (RFC 7662) and `/revoke` (RFC 7009).

use crate::helpers::{Backend, TestApp, text};

crate::backend_tests!(
    an_active_access_token_is_described_in_full,
    an_active_refresh_token_is_described,
    anything_not_valid_now_is_inactive,
    another_clients_token_is_inactive_unless_the_caller_may_introspect_any,
    introspection_requires_client_authentication,
    revoking_an_access_token_stops_it_everywhere,
    revoking_a_refresh_token_revokes_its_grant,
    revoking_unknown_tokens_succeeds_and_another_clients_token_is_refused,
    a_token_from_one_instance_is_introspected_and_revoked_at_another,
);

async fn an_active_access_token_is_described_in_full(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.refreshing_client().await;
    let user = app.create_user("alice").await;
    let tokens = app.tokens_for(&client, "alice", "openid email").await;
    let body = app
        .introspect(&client, &text(&tokens, "access_token"))
        .await;
    assert_eq!(body["active"], true);
    assert_eq!(body["scope"], "email openid");
    assert_eq!(body["client_id"], client.client_id.as_str());
    assert_eq!(body["sub"], user.user_id.as_str());
    assert_eq!(body["username"], "alice");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["iss"], app.address.as_str());
    assert_eq!(body["aud"], app.address.as_str());
    assert_eq!(
        body["exp"].as_i64().unwrap() - body["iat"].as_i64().unwrap(),
        600
    );
}

async fn an_active_refresh_token_is_described(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.refreshing_client().await;
    app.create_user("alice").await;
    let tokens = app.tokens_for(&client, "alice", "openid").await;
    let body = app
        .introspect(&client, &text(&tokens, "refresh_token"))
        .await;
    assert_eq!(body["active"], true);
    assert_eq!(body["token_type"], "refresh_token");
    assert_eq!(body["username"], "alice");
    assert_eq!(body["client_id"], client.client_id.as_str());
}

async fn anything_not_valid_now_is_inactive(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let service = app
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    let token = app.service_token(&service).await;
    assert_eq!(app.introspect(&service, &token).await["active"], true);

    let (stranger, _) =
        latchkey::keys::KeyMaterial::generate(latchkey::domain::alg::SigningAlg::RS256).unwrap();
    let claims: serde_json::Value = jsonwebtoken::dangerous::insecure_decode(&token)
        .unwrap()
        .claims;
    let forged = latchkey::keys::jws::sign_compact(&stranger, "at+jwt", &claims).unwrap();
    for bogus in ["not-a-token", "lk_rt_unknown", "a.b.c", forged.as_str()] {
        assert_eq!(
            app.introspect(&service, bogus).await,
            serde_json::json!({"active": false}),
            "{bogus}"
        );
    }
    app.clock.advance(600);
    assert_eq!(
        app.introspect(&service, &token).await,
        serde_json::json!({"active": false}),
        "expired"
    );
}

async fn another_clients_token_is_inactive_unless_the_caller_may_introspect_any(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let owner = app
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    let other = app
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    let token = app.service_token(&owner).await;
    assert_eq!(app.introspect(&other, &token).await["active"], false);
    let gateway = app
        .register_client(latchkey::domain::client::ClientSpec {
            client_name: "Gateway".into(),
            grant_types: vec!["client_credentials".into()],
            auth_method: "client_secret_post".into(),
            introspect_any: true,
            ..Default::default()
        })
        .await;
    let response = app
        .http
        .post(format!("{}/introspect", app.address))
        .form(&[
            ("token", token.as_str()),
            ("client_id", &gateway.client_id),
            ("client_secret", gateway.secret.as_deref().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap()["active"],
        true
    );
}

async fn introspection_requires_client_authentication(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let response = app.post_form("/introspect", &[("token", "x")]).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_client"
    );
    let public = app.public_client().await;
    let response = app
        .post_client_form("/introspect", &public, &[("token", "x")])
        .await;
    assert_eq!(response.status(), 401);
}

async fn revoking_an_access_token_stops_it_everywhere(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.refreshing_client().await;
    app.create_user("alice").await;
    let tokens = app.tokens_for(&client, "alice", "openid").await;
    let access = text(&tokens, "access_token");
    let response = app
        .post_client_form(
            "/revoke",
            &client,
            &[("token", &access), ("token_type_hint", "refresh_token")],
        )
        .await;
    assert_eq!(response.status(), 200, "a wrong hint is only a hint");
    assert_eq!(app.introspect(&client, &access).await["active"], false);
    assert_eq!(app.userinfo_status(&access).await, 401);
    assert_eq!(
        app.refresh(&client, &text(&tokens, "refresh_token"), None)
            .await
            .status(),
        200,
        "revoking one access token leaves the grant"
    );
}

async fn revoking_a_refresh_token_revokes_its_grant(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.refreshing_client().await;
    app.create_user("alice").await;
    let tokens = app.tokens_for(&client, "alice", "openid").await;
    let refresh = text(&tokens, "refresh_token");
    assert_eq!(app.revoke(&client, &refresh).await.status(), 200);
    let response = app.refresh(&client, &refresh, None).await;
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_grant"
    );
    assert_eq!(
        app.introspect(&client, &text(&tokens, "access_token"))
            .await["active"],
        false
    );
    assert_eq!(
        app.userinfo_status(&text(&tokens, "access_token")).await,
        401
    );
}

async fn revoking_unknown_tokens_succeeds_and_another_clients_token_is_refused(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let owner = app
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    let other = app
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    for unknown in ["garbage", "lk_rt_unknown"] {
        assert_eq!(
            app.revoke(&owner, unknown).await.status(),
            200,
            "RFC 7009 §2.2"
        );
    }
    let token = app.service_token(&owner).await;
    let refused = app.revoke(&other, &token).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(
        refused.json::<serde_json::Value>().await.unwrap()["error"],
        "unauthorized_client"
    );
    assert_eq!(
        app.introspect(&owner, &token).await["active"],
        true,
        "still live"
    );
    assert_eq!(
        app.post_form("/revoke", &[("token", "x")]).await.status(),
        401
    );
}

async fn a_token_from_one_instance_is_introspected_and_revoked_at_another(backend: Backend) {
    let first = TestApp::spawn(&backend).await;
    let second = first.spawn_sibling().await;
    let service = first
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    let token = first.service_token(&service).await;
    assert_eq!(second.introspect(&service, &token).await["active"], true);
    assert_eq!(second.revoke(&service, &token).await.status(), 200);
    assert_eq!(
        first.introspect_until_inactive(&service, &token).await["active"],
        false,
        "the first instance sees it within a second"
    );
}
