//! `/authorize`, `/login`, `/consent`: errors shown or redirected exactly as RFC 6749 §4.1.2.1 says.

use crate::helpers::{Backend, PASSWORD, TestApp, query_param};

crate::backend_tests!(
    an_unknown_client_gets_an_error_page_and_no_redirect,
    an_unregistered_redirect_uri_gets_an_error_page_and_no_redirect,
    missing_or_plain_pkce_is_redirected_as_invalid_request,
    a_scope_the_client_may_not_use_is_invalid_scope,
    prompt_none_without_a_session_is_login_required,
    a_repeated_parameter_is_invalid_request,
    the_login_form_refuses_a_missing_or_wrong_csrf_token,
    a_wrong_password_and_an_unknown_user_get_the_same_answer,
    a_disabled_user_cannot_sign_in,
    repeated_failures_are_throttled,
    denying_consent_sends_access_denied,
    a_signed_in_user_is_not_asked_again_unless_prompt_login,
    login_renews_the_session_id_and_sets_safe_cookie_flags,
    anonymous_sessions_expire_soon_and_signed_in_ones_last,
);

fn session_id(response: &reqwest::Response) -> String {
    let cookie = crate::helpers::session_cookie(response);
    cookie.split_once('=').unwrap().1.to_owned()
}

async fn anonymous_sessions_expire_soon_and_signed_in_ones_last(backend: Backend) {
    use latchkey::clock::Clock;
    use latchkey::domain::secret::TokenHash;
    let app = TestApp::spawn(&backend).await;
    app.create_user("jane").await;
    // An authorization request waits in an anonymous session while the user signs in.
    let client = app.web_client().await;
    let started = app
        .get_url(&app.authorize_url(&client, "openid", &[]).0)
        .await;
    let anonymous = session_id(&started);
    let page = app.get("/login").await;
    let now = app.clock.now();
    let store = &app.state.store;
    assert!(
        store
            .load_session(&TokenHash::of(&anonymous), now + 14 * 60)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .load_session(&TokenHash::of(&anonymous), now + 16 * 60)
            .await
            .unwrap()
            .is_none(),
        "a session nobody signed in to lives 15 minutes, not --session-ttl"
    );
    let csrf = crate::helpers::hidden_value(&page.text().await.unwrap(), "csrf_token");
    let response = app
        .post_form(
            "/login",
            &[
                ("csrf_token", &csrf),
                ("username", "jane"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let signed_in = session_id(&response);
    assert!(
        store
            .load_session(&TokenHash::of(&anonymous), now)
            .await
            .unwrap()
            .is_none(),
        "the old id is gone"
    );
    assert!(
        store
            .load_session(&TokenHash::of(&signed_in), now + 7 * 3600)
            .await
            .unwrap()
            .is_some(),
        "signed in: --session-ttl (8 h)"
    );
}

async fn an_unknown_client_gets_an_error_page_and_no_redirect(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let response = app
        .get("/authorize?response_type=code&client_id=nobody&redirect_uri=https%3A%2F%2Fevil.example%2Fcb")
        .await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    assert_eq!(response.headers()["x-frame-options"], "DENY");
    assert!(response.text().await.unwrap().contains("not registered"));
}

async fn an_unregistered_redirect_uri_gets_an_error_page_and_no_redirect(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let mut client = app.web_client().await;
    client.redirect_uri = "https://evil.example/cb".into();
    let (url, _) = app.authorize_url(&client, "openid", &[]);
    let response = app.get_url(&url).await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("redirect_uri is not registered")
    );
}

fn error_of(response: &reqwest::Response) -> (String, Option<String>, Option<String>) {
    assert_eq!(response.status(), 303);
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    (
        query_param(&location, "error").unwrap(),
        query_param(&location, "state"),
        query_param(&location, "iss"),
    )
}

async fn missing_or_plain_pkce_is_redirected_as_invalid_request(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    let base = format!(
        "/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s1",
        client.client_id,
        urlencode(&client.redirect_uri)
    );
    let (error, state, iss) = error_of(&app.get(&base).await);
    assert_eq!(error, "invalid_request");
    assert_eq!(state.as_deref(), Some("s1"));
    assert_eq!(iss.as_deref(), Some(app.address.as_str()));
    let plain = format!(
        "{base}&code_challenge={}&code_challenge_method=plain",
        "a".repeat(43)
    );
    assert_eq!(error_of(&app.get(&plain).await).0, "invalid_request");
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

async fn a_scope_the_client_may_not_use_is_invalid_scope(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    let (url, _) = app.authorize_url(&client, "openid offline_access", &[]);
    assert_eq!(error_of(&app.get_url(&url).await).0, "invalid_scope");
}

async fn prompt_none_without_a_session_is_login_required(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    let (url, _) = app.authorize_url(&client, "openid", &[("prompt", "none")]);
    let (error, state, _) = error_of(&app.get_url(&url).await);
    assert_eq!(error, "login_required");
    assert_eq!(state.as_deref(), Some("st-123"));
}

async fn a_repeated_parameter_is_invalid_request(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    let (url, _) = app.authorize_url(&client, "openid", &[("scope", "openid")]);
    assert_eq!(error_of(&app.get_url(&url).await).0, "invalid_request");
    let (url, _) = app.authorize_url(&client, "openid", &[("client_id", "again")]);
    assert_eq!(
        app.get_url(&url).await.status(),
        400,
        "a repeated client_id is never redirected"
    );
}

async fn the_login_form_refuses_a_missing_or_wrong_csrf_token(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    app.create_user("alice").await;
    app.get("/login").await;
    let missing = app
        .post_form("/login", &[("username", "alice"), ("password", PASSWORD)])
        .await;
    assert_eq!(missing.status(), 403);
    let wrong = app
        .post_form(
            "/login",
            &[
                ("csrf_token", "forged"),
                ("username", "alice"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(wrong.status(), 403);
    assert!(
        app.get("/consent")
            .await
            .text()
            .await
            .unwrap()
            .contains("expired")
    );
}

async fn a_wrong_password_and_an_unknown_user_get_the_same_answer(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    app.create_user("alice").await;
    let wrong = app.post_login("alice", "not the password").await;
    let wrong_status = wrong.status();
    let wrong_body = wrong.text().await.unwrap();
    let unknown = app.post_login("mallory", "not the password").await;
    assert_eq!(wrong_status, unknown.status());
    let unknown_body = unknown.text().await.unwrap();
    assert!(wrong_body.contains("Incorrect username or password."));
    assert!(unknown_body.contains("Incorrect username or password."));
}

async fn a_disabled_user_cannot_sign_in(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let user = app.create_user("eve").await;
    app.state
        .store
        .disable_user(&user.user_id, 0, i64::MAX, Default::default())
        .await
        .unwrap();
    let client = app.web_client().await;
    let (url, _) = app.authorize_url(&client, "openid", &[]);
    assert_eq!(app.get_url(&url).await.status(), 303);
    let response = app.post_login("eve", PASSWORD).await;
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().contains("disabled"));
}

async fn repeated_failures_are_throttled(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    app.create_user("frank").await;
    for _ in 0..5 {
        assert_eq!(
            app.post_login("frank", "wrong password").await.status(),
            200
        );
    }
    let locked = app.post_login("frank", PASSWORD).await;
    assert_eq!(
        locked.status(),
        429,
        "even the right password waits out the lockout"
    );
    assert!(locked.headers().contains_key("retry-after"));
    app.clock.advance(15 * 60);
    assert_eq!(app.post_login("frank", PASSWORD).await.status(), 200);
}

async fn denying_consent_sends_access_denied(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    app.create_user("gina").await;
    let (url, _) = app.authorize_url(&client, "openid", &[]);
    app.get_url(&url).await;
    let after_login = app.post_login("gina", PASSWORD).await;
    assert!(
        after_login.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("/consent")
    );
    let (error, state, _) = error_of(&app.post_consent("deny").await);
    assert_eq!(error, "access_denied");
    assert_eq!(state.as_deref(), Some("st-123"));
}

async fn a_signed_in_user_is_not_asked_again_unless_prompt_login(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    app.create_user("hank").await;
    let (url, _) = app.authorize_url(&client, "openid", &[]);
    app.sign_in_through(&url, "hank").await;

    // SSO: signed in and consented, the next request goes straight back with a code.
    let (again, _) = app.authorize_url(&client, "openid", &[]);
    let response = app.get_url(&again).await;
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert!(query_param(&location, "code").is_some());

    let (forced, _) = app.authorize_url(&client, "openid", &[("prompt", "login")]);
    let response = app.get_url(&forced).await;
    assert!(
        response.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("/login")
    );

    app.clock.advance(120);
    let (aged, _) = app.authorize_url(&client, "openid", &[("max_age", "60")]);
    let response = app.get_url(&aged).await;
    assert!(
        response.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("/login")
    );
}

async fn login_renews_the_session_id_and_sets_safe_cookie_flags(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    app.create_user("ivy").await;
    let client = app.web_client().await;
    let started = app
        .get_url(&app.authorize_url(&client, "openid", &[]).0)
        .await;
    let before = crate::helpers::set_cookie(&started, "latchkey_session");
    assert!(
        before.contains("HttpOnly") && before.contains("SameSite=Lax"),
        "{before}"
    );
    let page = app.get("/login").await;
    let html = page.text().await.unwrap();
    assert!(html.contains(r#"<form method="post""#) && html.contains(r#"name="csrf_token""#));
    let csrf = crate::helpers::hidden_value(&html, "csrf_token");
    let response = app
        .post_form(
            "/login",
            &[
                ("csrf_token", &csrf),
                ("username", "ivy"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let after = crate::helpers::set_cookie(&response, "latchkey_session");
    let id = |cookie: &str| cookie.split(';').next().unwrap().to_owned();
    assert_ne!(id(&before), id(&after), "no session fixation");
}
