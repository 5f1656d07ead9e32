//! `/end_session` (OIDC RP-Initiated Logout 1.0).

use crate::helpers::{Backend, TestApp, query_param};

crate::backend_tests!(
    logout_with_an_id_token_hint_returns_to_the_registered_uri_with_state,
    an_unregistered_post_logout_redirect_uri_is_refused,
    logout_without_a_hint_asks_the_user_first,
    another_users_id_token_hint_asks_before_signing_anyone_out,
    a_stale_id_token_hint_asks_before_signing_out,
    a_cross_site_post_never_replaces_the_signed_in_session_cookie,
);

async fn logout_with_an_id_token_hint_returns_to_the_registered_uri_with_state(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    app.create_user("alice").await;
    let tokens = app.tokens_for(&client, "alice", "openid").await;
    let hint = tokens["id_token"].as_str().unwrap();
    let url = format!(
        "/end_session?id_token_hint={hint}&post_logout_redirect_uri={}&state=bye-1",
        url::form_urlencoded::byte_serialize(b"http://127.0.0.1:9/bye").collect::<String>()
    );
    let response = app.get(&url).await;
    assert_eq!(response.status(), 303);
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with("http://127.0.0.1:9/bye"));
    assert_eq!(query_param(&location, "state").as_deref(), Some("bye-1"));

    // The session is gone: the next authorization asks for a login again.
    let (again, _) = app.authorize_url(&client, "openid", &[]);
    let response = app.get_url(&again).await;
    assert!(
        response.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("/login")
    );
}

async fn an_unregistered_post_logout_redirect_uri_is_refused(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    app.create_user("alice").await;
    let tokens = app.tokens_for(&client, "alice", "openid").await;
    let hint = tokens["id_token"].as_str().unwrap();
    let response = app
        .get(&format!("/end_session?id_token_hint={hint}&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F"))
        .await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
}

async fn logout_without_a_hint_asks_the_user_first(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    app.create_user("alice").await;
    app.tokens_for(&client, "alice", "openid").await;
    let page = app.get("/end_session").await.text().await.unwrap();
    assert!(page.contains("Sign out?"));
    let csrf = crate::helpers::hidden_value(&page, "csrf_token");
    let done = app
        .post_form("/end_session", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(done.status(), 200);
    assert!(done.text().await.unwrap().contains("signed out"));
    let (again, _) = app.authorize_url(&client, "openid", &[]);
    assert!(
        app.get_url(&again).await.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("/login")
    );
}

/// Whether the browser of `app` is still signed in (an authorization goes straight to the client).
async fn still_signed_in(app: &TestApp, client: &crate::helpers::TestClient) -> bool {
    let (again, _) = app.authorize_url(client, "openid", &[]);
    let response = app.get_url(&again).await;
    !response.headers()["location"]
        .to_str()
        .unwrap()
        .ends_with("/login")
}

async fn another_users_id_token_hint_asks_before_signing_anyone_out(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.refreshing_client().await;
    app.create_user("alice").await;
    app.create_user("bob").await;
    // Bob's ID token, from an earlier sign-in; then Alice signs in on this browser.
    let bobs = app.tokens_for(&client, "bob", "openid").await;
    let hint = bobs["id_token"].as_str().unwrap();
    let (url, _) = app.authorize_url(&client, "openid", &[("prompt", "login")]);
    let landed = app.sign_in_through(&url, "alice").await;
    assert!(query_param(&landed, "code").is_some());
    // RP-Initiated Logout §2: the hint names another user than the one signed in here.
    let response = app.get(&format!("/end_session?id_token_hint={hint}")).await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("Sign out?"));
    assert!(still_signed_in(&app, &client).await);
}

async fn a_stale_id_token_hint_asks_before_signing_out(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.refreshing_client().await;
    app.create_user("alice").await;
    let tokens = app.tokens_for(&client, "alice", "openid").await;
    let hint = tokens["id_token"].as_str().unwrap().to_owned();
    // Signed by a key retired since: still verifiable, no longer proof of a current session.
    crate::helpers::json_of(
        &app.db
            .cli(&["keys", "rotate", "--alg", "RS256", "--json"], None),
    );
    use latchkey::clock::Clock;
    app.state
        .keys
        .refresh(app.state.store.as_ref(), app.clock.now())
        .await
        .unwrap();
    let response = app.get(&format!("/end_session?id_token_hint={hint}")).await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("Sign out?"));
    assert!(still_signed_in(&app, &client).await);
    // An expired hint of a current key: the same.
    let fresh = app.tokens_for(&client, "alice", "openid").await;
    let hint = fresh["id_token"].as_str().unwrap().to_owned();
    app.clock.advance(11 * 60);
    let response = app.get(&format!("/end_session?id_token_hint={hint}")).await;
    assert!(response.text().await.unwrap().contains("Sign out?"));
}

async fn a_cross_site_post_never_replaces_the_signed_in_session_cookie(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    app.create_user("alice").await;
    app.tokens_for(&client, "alice", "openid").await;
    // A cross-site form post arrives without the SameSite=Lax session cookie.
    let cookieless = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let logout = cookieless
        .post(format!("{}/end_session", app.address))
        .form(&[("client_id", client.client_id.as_str())])
        .send()
        .await
        .unwrap();
    let (authorize, _) = app.authorize_url(&client, "openid", &[]);
    let query = url::Url::parse(&authorize)
        .unwrap()
        .query()
        .unwrap()
        .to_owned();
    let authorization = cookieless
        .post(format!("{}/authorize", app.address))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query)
        .send()
        .await
        .unwrap();
    for response in [logout, authorization] {
        // Re-issued as a top-level GET (which carries the cookie); no new session cookie is set.
        assert_eq!(response.status(), 303);
        assert!(response.headers().get("set-cookie").is_none());
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(&app.address), "{location}");
        // Followed by the browser, with its cookie: the signed-in user is still there.
        let followed = app.get_url(&location).await;
        assert!(followed.status().is_success() || followed.status().is_redirection());
    }
    assert!(still_signed_in(&app, &client).await);
}
