//! `/end_session` (OIDC RP-Initiated Logout 1.0).

use crate::helpers::{Backend, TestApp, query_param};

crate::backend_tests!(
    logout_with_an_id_token_hint_returns_to_the_registered_uri_with_state,
    an_unregistered_post_logout_redirect_uri_is_refused,
    logout_without_a_hint_asks_the_user_first,
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
