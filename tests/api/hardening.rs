//! The holes an outside review found in the protocol rules, each proven closed end to end.

use latchkey::clock::Clock;
use latchkey::domain::client::ClientSpec;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, TestClient, location, query_param, text};

crate::backend_tests!(
    a_web_client_is_never_redirected_to_another_loopback_port,
    a_native_public_client_is_asked_for_consent_every_time,
    redirect_uri_is_required_at_the_token_endpoint_when_the_request_carried_it,
    a_client_without_the_code_grant_gets_unauthorized_client_at_authorize,
    max_age_zero_asks_for_one_sign_in_even_when_the_clock_moves_during_it,
    a_client_credentials_token_never_passes_for_a_users_token,
    a_client_id_can_never_equal_a_user_id,
    a_code_replayed_after_housekeeping_still_revokes_its_tokens,
    a_pending_authorization_expires_after_ten_minutes,
    a_consent_does_not_carry_over_to_another_user_signing_in_mid_flow,
    refresh_tokens_end_at_the_absolute_lifetime,
    a_deleted_clients_tokens_stop_working_at_once,
    a_nul_byte_in_client_id_is_a_client_error_never_a_store_error,
    every_api_answer_errors_included_is_no_store,
);

async fn a_web_client_is_never_redirected_to_another_loopback_port(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app
        .register_client(ClientSpec {
            client_name: "Web".into(),
            redirect_uris: vec!["http://127.0.0.1:9000/cb".into()],
            scope: "openid".into(),
            auth_method: "client_secret_basic".into(),
            ..Default::default()
        })
        .await;
    let other_port = TestClient {
        redirect_uri: "http://127.0.0.1:9001/cb".into(),
        ..client
    };
    let (url, _) = app.authorize_url(&other_port, "openid", &[]);
    let response = app.get_url(&url).await;
    // RFC 8252 §7.3 is for native apps: a web client's redirect URI is matched exactly, so the
    // browser is shown an error page and never sent (code and all) to port 9001.
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
}

async fn native_client(app: &TestApp) -> TestClient {
    app.register_client(ClientSpec {
        client_name: "Desktop".into(),
        redirect_uris: vec!["http://127.0.0.1/cb".into()],
        scope: "openid".into(),
        auth_method: "none".into(),
        application_type: Some("native".into()),
        ..Default::default()
    })
    .await
}

async fn a_native_public_client_is_asked_for_consent_every_time(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = native_client(&app).await;
    app.create_user("alice").await;
    app.tokens_for(&client, "alice", "openid").await;
    // RFC 8252 §8.6: its identity cannot be assured, so no silent code: the consent page again…
    let (url, _) = app.authorize_url(&client, "openid", &[]);
    let response = app.get_url(&url).await;
    assert_eq!(response.status(), 303);
    assert!(
        location(&response).ends_with("/consent"),
        "{}",
        location(&response)
    );
    // …and prompt=none is consent_required, even though alice allowed it before.
    let (url, _) = app.authorize_url(&client, "openid", &[("prompt", "none")]);
    let redirect = url::Url::parse(&location(&app.get_url(&url).await)).unwrap();
    assert_eq!(
        query_param(&redirect, "error").as_deref(),
        Some("consent_required")
    );
}

/// Sign `username` in for `client` and return the code and PKCE verifier.
async fn code_for(app: &TestApp, client: &TestClient, username: &str) -> (String, String) {
    let (url, verifier) = app.authorize_url(client, "openid", &[]);
    let landed = app.sign_in_through(&url, username).await;
    (query_param(&landed, "code").unwrap(), verifier)
}

async fn a_token_error(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, text(&body, "error"))
}

async fn redirect_uri_is_required_at_the_token_endpoint_when_the_request_carried_it(
    backend: Backend,
) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    app.create_user("alice").await;
    let (code, verifier) = code_for(&app, &client, "alice").await;
    let without = app
        .post_token(
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    // RFC 6749 §4.1.3: REQUIRED when the authorization request included it.
    assert_eq!(
        a_token_error(without).await,
        (400, "invalid_request".into())
    );
    let different = app
        .post_token(
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://127.0.0.1:9/other"),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(
        a_token_error(different).await,
        (400, "invalid_grant".into())
    );
    // The code was not consumed by the refused attempts.
    assert_eq!(
        app.redeem_code(&client, &code, &verifier).await.status(),
        200
    );
}

async fn a_client_without_the_code_grant_gets_unauthorized_client_at_authorize(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app
        .register_client(ClientSpec {
            client_name: "Service with a redirect URI".into(),
            redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
            grant_types: vec!["client_credentials".into()],
            scope: "openid".into(),
            auth_method: "client_secret_basic".into(),
            ..Default::default()
        })
        .await;
    let (url, _) = app.authorize_url(&client, "openid", &[]);
    let response = app.get_url(&url).await;
    assert_eq!(response.status(), 303);
    let redirect = url::Url::parse(&location(&response)).unwrap();
    // RFC 6749 §4.1.2.1: not a sign-in page and a useless code.
    assert_eq!(
        query_param(&redirect, "error").as_deref(),
        Some("unauthorized_client")
    );
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("st-123"));
}

async fn max_age_zero_asks_for_one_sign_in_even_when_the_clock_moves_during_it(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.refreshing_client().await;
    app.create_user("alice").await;
    let (url, verifier) = app.authorize_url(&client, "openid", &[("max_age", "0")]);
    // The clock ticks while the password is being checked, as it does on a busy server.
    let clock = app.clock.clone();
    let ticking = tokio::spawn(async move {
        loop {
            clock.advance(1);
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    });
    let landed = app.sign_in_through(&url, "alice").await;
    ticking.abort();
    let code = query_param(&landed, "code").expect("one sign-in, then a code");
    let response = app.redeem_code(&client, &code, &verifier).await;
    assert_eq!(response.status(), 200);
}

async fn a_client_credentials_token_never_passes_for_a_users_token(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let service = app
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    // A user whose `sub` is the service's client id (possible before the fix below).
    let mut user = app.create_user("mallory").await;
    user.user_id = latchkey::domain::user::UserId::from_stored(service.client_id.clone());
    user.username = "service-twin".into();
    app.state.store.create_user(&user).await.unwrap();
    // The service may even hold openid.
    let mut registered = app
        .state
        .store
        .find_client(&latchkey::domain::client::ClientId::parse(&service.client_id).unwrap())
        .await
        .unwrap()
        .unwrap();
    registered.scopes = latchkey::domain::scope::ScopeSet::parse("openid orders:read").unwrap();
    app.state.store.update_client(&registered).await.unwrap();
    app.clock.advance(10); // past the client cache
    let response = app.client_credentials(&service, Some("openid")).await;
    assert_eq!(response.status(), 200);
    let token = text(&response.json().await.unwrap(), "access_token");
    // RFC 9068 §5: never the user's claims at /userinfo…
    assert_eq!(app.userinfo_status(&token).await, 401);
    // …and no user in the introspection answer.
    let answer = app.introspect(&service, &token).await;
    assert_eq!(answer["active"], true);
    assert!(answer.get("username").is_none(), "{answer}");
}

async fn a_client_id_can_never_equal_a_user_id(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let alice = app.create_user("alice").await;
    let output = app.db.cli(
        &[
            "client",
            "create",
            "--name",
            "Twin",
            &format!("--client-id={}", alice.user_id),
            "--grant-type",
            "client_credentials",
        ],
        None,
    );
    let err = crate::helpers::failure_of(&output);
    assert!(err.contains("belongs to a user"), "{err}");
}

/// A resource server: a confidential client that may introspect any token (RFC 7662 §2.1).
async fn resource_server(app: &TestApp) -> TestClient {
    app.register_client(ClientSpec {
        client_name: "Orders API".into(),
        grant_types: vec!["client_credentials".into()],
        auth_method: "client_secret_basic".into(),
        introspect_any: true,
        ..Default::default()
    })
    .await
}

async fn a_code_replayed_after_housekeeping_still_revokes_its_tokens(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    let resource = resource_server(&app).await;
    app.create_user("alice").await;
    let (code, verifier) = code_for(&app, &client, "alice").await;
    let first: Value = app
        .redeem_code(&client, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let access_token = text(&first, "access_token");
    // Two minutes later the code has expired and housekeeping has run…
    app.clock.advance(120);
    app.state
        .store
        .housekeep(app.clock.now(), app.clock.now() - 7 * 86_400)
        .await
        .unwrap();
    // …and the replay is still recognised: refused, and the tokens of the first use revoked.
    let replay = app.redeem_code(&client, &code, &verifier).await;
    assert_eq!(a_token_error(replay).await, (400, "invalid_grant".into()));
    assert_eq!(
        app.introspect(&resource, &access_token).await["active"],
        false
    );
}

async fn a_pending_authorization_expires_after_ten_minutes(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    app.create_user("alice").await;
    let (url, _) = app.authorize_url(&client, "openid", &[]);
    let response = app.get_url(&url).await;
    assert!(location(&response).ends_with("/login"));
    app.clock.advance(11 * 60);
    let response = app.post_login("alice", crate::helpers::PASSWORD).await;
    assert_eq!(response.status(), 400, "no code for a request this old");
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Nothing to continue")
    );
}

async fn a_consent_does_not_carry_over_to_another_user_signing_in_mid_flow(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    app.create_user("alice").await;
    app.create_user("bob").await;
    // Alice is signed in already; the client asks for a sign-in at most a minute old.
    app.post_login("alice", crate::helpers::PASSWORD).await;
    let (url, _) = app.authorize_url(&client, "openid", &[("max_age", "60")]);
    let response = app.get_url(&url).await;
    assert!(
        location(&response).ends_with("/consent"),
        "{}",
        location(&response)
    );
    // She takes two minutes to allow: her sign-in is now too old, so she is sent to sign in.
    app.clock.advance(120);
    let response = app.post_consent("allow").await;
    assert!(
        location(&response).ends_with("/login"),
        "{}",
        location(&response)
    );
    // Bob signs in on the same browser: he is asked himself, not handed a code on Alice's consent.
    let response = app.post_login("bob", crate::helpers::PASSWORD).await;
    assert_eq!(response.status(), 303);
    assert!(
        location(&response).ends_with("/consent"),
        "{}",
        location(&response)
    );
}

async fn refresh_tokens_end_at_the_absolute_lifetime(backend: Backend) {
    let app = TestApp::spawn_on(
        crate::helpers::TestDb::new(&backend).await,
        &[
            "--refresh-token-ttl",
            "30m",
            "--refresh-token-absolute-ttl",
            "1h",
        ],
    )
    .await;
    let client = app.refreshing_client().await;
    app.create_user("alice").await;
    let mut tokens = app
        .tokens_for(&client, "alice", "openid offline_access")
        .await;
    for _ in 0..2 {
        app.clock.advance(20 * 60);
        let response = app
            .refresh(&client, &text(&tokens, "refresh_token"), None)
            .await;
        assert_eq!(response.status(), 200);
        tokens = response.json().await.unwrap();
    }
    // 60 minutes after the sign-in the grant ends, although each token was used within 30 minutes.
    app.clock.advance(20 * 60);
    let response = app
        .refresh(&client, &text(&tokens, "refresh_token"), None)
        .await;
    assert_eq!(a_token_error(response).await, (400, "invalid_grant".into()));
}

async fn a_deleted_clients_tokens_stop_working_at_once(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    let resource = resource_server(&app).await;
    app.create_user("alice").await;
    let tokens = app.tokens_for(&client, "alice", "openid").await;
    let access_token = text(&tokens, "access_token");
    assert_eq!(app.userinfo_status(&access_token).await, 200);
    app.state
        .store
        .delete_client(&latchkey::domain::client::ClientId::parse(&client.client_id).unwrap())
        .await
        .unwrap();
    // Within the client cache's lifetime (5 s), not when the token expires (10 min).
    app.clock.advance(6);
    assert_eq!(app.userinfo_status(&access_token).await, 401);
    assert_eq!(
        app.introspect(&resource, &access_token).await["active"],
        false
    );
}

async fn a_nul_byte_in_client_id_is_a_client_error_never_a_store_error(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let response = app
        .post_form(
            "/token",
            &[("grant_type", "client_credentials"), ("client_id", "web\0")],
        )
        .await;
    assert_eq!(
        a_token_error(response).await,
        (401, "invalid_client".into())
    );
    let response = app
        .get("/authorize?response_type=code&client_id=web%00")
        .await;
    assert_eq!(response.status(), 400);
    // Control characters in a value kept with the code are refused before the store sees them.
    let client = app.web_client().await;
    let (url, _) = app.authorize_url(&client, "openid", &[]);
    let url = url.replace("nonce=n-456", "nonce=n%00x");
    let response = app.get_url(&url).await;
    let redirect = url::Url::parse(&location(&response)).unwrap();
    assert_eq!(
        query_param(&redirect, "error").as_deref(),
        Some("invalid_request")
    );
}

async fn every_api_answer_errors_included_is_no_store(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let service = resource_server(&app).await;
    let token = app.service_token(&service).await;
    let answers = vec![
        app.post_form("/token", &[("grant_type", "client_credentials")])
            .await,
        app.http
            .post(format!("{}/token", app.address))
            .body("not a form")
            .send()
            .await
            .unwrap(),
        app.client_credentials(&service, None).await,
        app.post_client_form("/introspect", &service, &[("token", &token)])
            .await,
        app.post_client_form("/revoke", &service, &[("token", "unknown")])
            .await,
        app.get("/userinfo").await,
    ];
    // RFC 6749 §5.1: tokens and errors alike are never cached.
    for response in answers {
        assert_eq!(
            response.headers()["cache-control"],
            "no-store",
            "{}",
            response.url()
        );
        assert_eq!(response.headers()["pragma"], "no-cache");
    }
}
