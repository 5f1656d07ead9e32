//! `grant_type=refresh_token`: rotation, reuse detection with a grace window, scope narrowing.

use crate::helpers::{Backend, TestApp, text};

crate::backend_tests!(
    every_refresh_rotates_the_token,
    a_spent_token_replayed_after_the_grace_window_revokes_the_grant,
    a_spent_token_retried_within_the_grace_window_is_answered_without_revoking,
    scope_can_be_narrowed_but_not_widened,
    twenty_concurrent_refreshes_leave_exactly_one_live_token,
    a_disabled_users_refresh_token_stops_working,
);

async fn every_refresh_rotates_the_token(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.refreshing_client().await;
    app.create_user("alice").await;
    let first = app
        .tokens_for(&client, "alice", "openid email offline_access")
        .await;
    let rt1 = text(&first, "refresh_token");
    assert!(rt1.starts_with("lk_rt_") && rt1.len() == 49);

    let response = app.refresh(&client, &rt1, None).await;
    assert_eq!(response.status(), 200);
    let second: serde_json::Value = response.json().await.unwrap();
    let rt2 = text(&second, "refresh_token");
    assert_ne!(rt1, rt2);
    assert_eq!(second["scope"], "email offline_access openid");
    assert!(second.get("id_token").is_some(), "openid: a fresh ID token");
    assert_eq!(
        app.userinfo_status(&text(&second, "access_token")).await,
        200
    );
    assert_eq!(
        app.introspect(&client, &rt1).await["active"],
        false,
        "rt1 is spent"
    );
    assert_eq!(app.introspect(&client, &rt2).await["active"], true);
}

async fn a_spent_token_replayed_after_the_grace_window_revokes_the_grant(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.refreshing_client().await;
    app.create_user("alice").await;
    let first = app.tokens_for(&client, "alice", "openid").await;
    let rt1 = text(&first, "refresh_token");
    let second: serde_json::Value = app.refresh(&client, &rt1, None).await.json().await.unwrap();
    let (rt2, at2) = (
        text(&second, "refresh_token"),
        text(&second, "access_token"),
    );

    app.clock.advance(6); // the grace window is 5 s
    let replay = app.refresh(&client, &rt1, None).await;
    assert_eq!(replay.status(), 400);
    let body: serde_json::Value = replay.json().await.unwrap();
    assert_eq!(body["error"], "invalid_grant");

    // RFC 9700 §4.14.2: the whole grant is revoked, newest refresh token and access tokens included.
    assert_eq!(app.refresh(&client, &rt2, None).await.status(), 400);
    assert_eq!(app.userinfo_status(&at2).await, 401);
    assert_eq!(
        app.userinfo_status(&text(&first, "access_token")).await,
        401
    );
    assert_eq!(app.introspect(&client, &at2).await["active"], false);
}

async fn a_spent_token_retried_within_the_grace_window_is_answered_without_revoking(
    backend: Backend,
) {
    let app = TestApp::spawn(&backend).await;
    let client = app.refreshing_client().await;
    app.create_user("alice").await;
    let first = app.tokens_for(&client, "alice", "openid").await;
    let rt1 = text(&first, "refresh_token");
    let lost: serde_json::Value = app.refresh(&client, &rt1, None).await.json().await.unwrap();
    let rt2 = text(&lost, "refresh_token");

    app.clock.advance(3);
    let retry = app.refresh(&client, &rt1, None).await;
    assert_eq!(
        retry.status(),
        200,
        "a retry after a lost response keeps the session"
    );
    let rt3 = text(
        &retry.json::<serde_json::Value>().await.unwrap(),
        "refresh_token",
    );
    assert_eq!(
        app.introspect(&client, &rt2).await["active"],
        false,
        "the unreceived successor is retired"
    );
    assert_eq!(app.introspect(&client, &rt3).await["active"], true);
    assert_eq!(
        app.refresh(&client, &rt3, None).await.status(),
        200,
        "the chain goes on"
    );
}

async fn scope_can_be_narrowed_but_not_widened(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.refreshing_client().await;
    app.create_user("alice").await;
    let first = app.tokens_for(&client, "alice", "openid email").await;
    let narrowed: serde_json::Value = app
        .refresh(&client, &text(&first, "refresh_token"), Some("openid"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(narrowed["scope"], "openid");
    let rt = text(&narrowed, "refresh_token");
    assert_eq!(
        app.introspect(&client, &rt).await["scope"],
        "email openid",
        "the grant keeps its scope"
    );
    let widened = app.refresh(&client, &rt, Some("openid profile")).await;
    assert_eq!(widened.status(), 400);
    assert_eq!(
        widened.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_scope"
    );
}

async fn twenty_concurrent_refreshes_leave_exactly_one_live_token(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.refreshing_client().await;
    app.create_user("alice").await;
    let first = app.tokens_for(&client, "alice", "openid").await;
    let rt1 = text(&first, "refresh_token");
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", rt1.as_str()),
    ];
    let mut issued = Vec::new();
    for (status, body) in app.post_token_concurrently(&client, &form, 20).await {
        match status {
            200 => issued.push(text(&body, "refresh_token")),
            400 => assert_eq!(body["error"], "invalid_grant"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(!issued.is_empty());
    let mut live = 0;
    for token in &issued {
        if app.introspect(&client, token).await["active"] == true {
            live += 1;
        }
    }
    assert_eq!(
        live,
        1,
        "exactly one live refresh token among {} issued",
        issued.len()
    );
}

async fn a_disabled_users_refresh_token_stops_working(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.refreshing_client().await;
    let user = app.create_user("alice").await;
    let first = app.tokens_for(&client, "alice", "openid").await;
    app.state
        .store
        .disable_user(&user.user_id, 0, i64::MAX, Default::default())
        .await
        .unwrap();
    let response = app
        .refresh(&client, &text(&first, "refresh_token"), None)
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_grant"
    );
}
