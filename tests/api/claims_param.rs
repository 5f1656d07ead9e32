//! The OIDC `claims` request parameter (OIDC Core §5.5): claims asked for one by one land in the ID
//! token or at UserInfo, beyond what the scopes release, and stay there through the code exchange
//! and refreshes; malformed values are `invalid_request`; it works through PAR; the consent page
//! lists the claims; an essential `acr` (§5.5.1.1) steps a password session up to the second factor,
//! is `interaction_required` with `prompt=none`, and fails when it names no level Latchkey defines;
//! `sub` with a value (§5.5.1) allows only that user.

use serde_json::{Value, json};

use crate::helpers::{Backend, PASSWORD, TestApp, TestClient, jwt_claims, query_param, text};
use crate::mfa::{code, enrol, post_code};

crate::backend_tests!(
    claims_asked_for_the_id_token_and_userinfo_are_released_there_and_survive_a_refresh,
    malformed_claims_are_invalid_request,
    claims_can_be_pushed_with_par,
    the_consent_page_lists_claims_asked_for_one_by_one,
    an_essential_acr_steps_a_password_session_up_asking_only_for_the_code,
    an_essential_acr_naming_only_unknown_levels_is_refused,
    discovery_says_the_claims_parameter_is_supported,
    a_sub_asked_for_with_a_value_allows_only_that_user,
);

const ACR_MFA: &str = "urn:latchkey:acr:mfa";

/// `GET /userinfo` with `token`; the JSON answer (panics unless 200).
async fn userinfo(app: &TestApp, token: &str) -> Value {
    let response = app
        .http
        .get(format!("{}/userinfo", app.address))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Redeem the code in `location` with `verifier`; the token response.
async fn redeem(app: &TestApp, client: &TestClient, location: &url::Url, verifier: &str) -> Value {
    assert!(
        location.as_str().starts_with(&client.redirect_uri),
        "not sent back to the client: {location}"
    );
    let code = query_param(location, "code").unwrap_or_else(|| panic!("no code in {location}"));
    let response = app.redeem_code(client, &code, verifier).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The `error` and `error_description` of a redirect to the client.
fn error_of(response: &reqwest::Response) -> (String, String) {
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    (
        query_param(&location, "error").unwrap_or_else(|| panic!("no error in {location}")),
        query_param(&location, "error_description").unwrap_or_default(),
    )
}

/// The page a redirect leads to on this server (its path), or the whole location elsewhere.
fn path_of(app: &TestApp, response: &reqwest::Response) -> String {
    let location = response.headers()["location"].to_str().unwrap();
    location.strip_prefix(&app.address).map_or_else(
        || location.to_owned(),
        |p| p.split('?').next().unwrap().to_owned(),
    )
}

async fn claims_asked_for_the_id_token_and_userinfo_are_released_there_and_survive_a_refresh(
    backend: Backend,
) {
    let app = TestApp::spawn(&backend).await;
    let client = app.refreshing_client().await;
    app.create_user("alice").await;
    let claims = json!({
        "id_token": {"email": {"essential": true}, "birthdate": null},
        "userinfo": {"name": null},
        "something_else": 1
    })
    .to_string();
    let (url, verifier) = app.authorize_url(&client, "openid", &[("claims", &claims)]);
    let location = app.sign_in_through(&url, "alice").await;
    let tokens = redeem(&app, &client, &location, &verifier).await;
    assert_eq!(tokens["scope"], "openid", "the claims add no scope");

    // The ID token: the claim asked for, nothing the scope does not give, and unknown ones ignored.
    let id = jwt_claims(&text(&tokens, "id_token"));
    assert_eq!(id["email"], "alice@example.com");
    for absent in ["email_verified", "name", "preferred_username", "birthdate"] {
        assert!(id.get(absent).is_none(), "{absent} in the ID token: {id}");
    }
    // UserInfo: the claim asked for there, and not the ID token's.
    let info = userinfo(&app, &text(&tokens, "access_token")).await;
    assert_eq!(info["name"], "alice Example");
    for absent in ["email", "email_verified", "preferred_username"] {
        assert!(info.get(absent).is_none(), "{absent} at UserInfo: {info}");
    }

    // A refresh keeps both (they are kept with the grant).
    app.clock.advance(60);
    let response = app
        .refresh(&client, &text(&tokens, "refresh_token"), None)
        .await;
    assert_eq!(response.status(), 200);
    let refreshed: Value = response.json().await.unwrap();
    let id = jwt_claims(&text(&refreshed, "id_token"));
    assert_eq!(id["email"], "alice@example.com");
    assert!(id.get("name").is_none(), "{id}");
    let info = userinfo(&app, &text(&refreshed, "access_token")).await;
    assert_eq!(info["name"], "alice Example");
    assert!(info.get("email").is_none(), "{info}");

    // Without the parameter, only the scopes count.
    let plain = app.tokens_for(&client, "alice", "openid").await;
    assert!(jwt_claims(&text(&plain, "id_token")).get("email").is_none());
    let info = userinfo(&app, &text(&plain, "access_token")).await;
    assert!(info.get("name").is_none(), "{info}");
}

async fn malformed_claims_are_invalid_request(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    let too_long = json!({"userinfo": {"name": {"value": "x".repeat(5000)}}}).to_string();
    let cases = [
        ("not JSON", "email".to_owned(), "not valid JSON"),
        (
            "not an object",
            r#"["email"]"#.to_owned(),
            "must be a JSON object",
        ),
        (
            "id_token not an object",
            r#"{"id_token":"email"}"#.to_owned(),
            "claims.id_token must be a JSON object",
        ),
        (
            "a request neither null nor an object",
            r#"{"userinfo":{"email":1}}"#.to_owned(),
            "must be null or an object",
        ),
        (
            "essential not a boolean",
            r#"{"id_token":{"email":{"essential":"true"}}}"#.to_owned(),
            "essential must be a boolean",
        ),
        (
            "values not an array",
            r#"{"id_token":{"acr":{"values":"urn:latchkey:acr:mfa"}}}"#.to_owned(),
            "values must be an array",
        ),
        (
            "value and values",
            r#"{"id_token":{"acr":{"value":"a","values":["b"]}}}"#.to_owned(),
            "both value and values",
        ),
        (
            "a control character in a claim name",
            "{\"id_token\":{\"e\\u0001mail\":null}}".to_owned(),
            "malformed claim name",
        ),
        ("too long", too_long, "too long"),
    ];
    for (case, claims, description) in cases {
        let (url, _) = app.authorize_url(&client, "openid", &[("claims", &claims)]);
        let response = app.get_url(&url).await;
        assert_eq!(response.status(), 303, "{case}");
        let (error, why) = error_of(&response);
        assert_eq!(error, "invalid_request", "{case}");
        assert!(why.contains(description), "{case}: {why}");
    }
    // Repeated, like any other parameter.
    let (url, _) = app.authorize_url(&client, "openid", &[("claims", "{}"), ("claims", "{}")]);
    assert_eq!(error_of(&app.get_url(&url).await).0, "invalid_request");
}

/// Push `client`'s request for `openid profile` with `claims`: status, body and PKCE verifier.
async fn push(app: &TestApp, client: &TestClient, claims: &str) -> (u16, Value, String) {
    let (url, verifier) = app.authorize_url(client, "openid profile", &[("claims", claims)]);
    let pairs: Vec<(String, String)> = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .filter(|(name, _)| name != "client_id")
        .collect();
    let form: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let response = app.post_client_form("/par", client, &form).await;
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body, verifier)
}

async fn claims_can_be_pushed_with_par(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    app.create_user("alice").await;
    // A malformed value is refused at /par, as the token endpoint refuses.
    let (status, body, _) = push(&app, &client, r#"{"id_token":[]}"#).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "invalid_request");

    let email = json!({"id_token": {"email": null}}).to_string();
    let (status, body, verifier) = push(&app, &client, &email).await;
    assert_eq!(status, 201, "{body}");
    let mut url = url::Url::parse(&format!("{}/authorize", app.address)).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &client.client_id)
        .append_pair("request_uri", &text(&body, "request_uri"));
    let location = app.sign_in_through(url.as_str(), "alice").await;
    let tokens = redeem(&app, &client, &location, &verifier).await;
    let id = jwt_claims(&text(&tokens, "id_token"));
    assert_eq!(id["email"], "alice@example.com");
    assert_eq!(id["preferred_username"], "alice", "the scope's claims too");
}

async fn the_consent_page_lists_claims_asked_for_one_by_one(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    // Asks for consent; may be given openid, profile and email.
    let client = app.web_client().await;
    app.create_user("alice").await;
    app.post_login("alice", PASSWORD).await;
    let claims = json!({"userinfo": {"email": null}}).to_string();
    let (url, verifier) = app.authorize_url(&client, "openid", &[("claims", &claims)]);
    let first = app.get_url(&url).await;
    assert_eq!(path_of(&app, &first), "/consent");
    let page = app.get("/consent").await.text().await.unwrap();
    assert!(
        page.contains("Your e-mail address") && page.contains("<code>email</code>"),
        "the claim is shown: {page}"
    );
    let allowed = app.post_consent("allow").await;
    let location = url::Url::parse(allowed.headers()["location"].to_str().unwrap()).unwrap();
    let tokens = redeem(&app, &client, &location, &verifier).await;
    let info = userinfo(&app, &text(&tokens, "access_token")).await;
    assert_eq!(info["email"], "alice@example.com");

    // The consent is remembered as the claim's scope: the same request is silent next time.
    let (url, verifier) = app.authorize_url(
        &client,
        "openid",
        &[("claims", &claims), ("prompt", "none")],
    );
    let silent = app.get_url(&url).await;
    let location = url::Url::parse(silent.headers()["location"].to_str().unwrap()).unwrap();
    redeem(&app, &client, &location, &verifier).await;
    // A claim of a scope not yet allowed needs consent again: consent_required without a page.
    let name = json!({"id_token": {"name": null}}).to_string();
    let (url, _) = app.authorize_url(&client, "openid", &[("claims", &name), ("prompt", "none")]);
    assert_eq!(error_of(&app.get_url(&url).await).0, "consent_required");
}

async fn an_essential_acr_steps_a_password_session_up_asking_only_for_the_code(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.refreshing_client().await;
    app.create_user("alice").await;
    // Alice enrols, then signs in again with her password only.
    app.post_login("alice", PASSWORD).await;
    let (secret, _, _) = enrol(&app).await;
    let (url, _) = app.authorize_url(&client, "openid", &[("prompt", "login")]);
    let location = app.sign_in_through(&url, "alice").await;
    assert!(query_param(&location, "code").is_some());

    let essential_mfa =
        json!({"id_token": {"acr": {"essential": true, "values": [ACR_MFA]}}}).to_string();
    // prompt=none cannot step up: interaction_required at the client.
    let (url, _) = app.authorize_url(
        &client,
        "openid",
        &[("claims", &essential_mfa), ("prompt", "none")],
    );
    let silent = app.get_url(&url).await;
    assert_eq!(silent.status(), 303);
    assert_eq!(error_of(&silent).0, "interaction_required");

    // Otherwise straight to the code form, no password page.
    app.clock.advance(31);
    let (url, verifier) = app.authorize_url(&client, "openid", &[("claims", &essential_mfa)]);
    let stepped = app.get_url(&url).await;
    assert_eq!(path_of(&app, &stepped), "/otp");
    let done = post_code(&app, "/otp", &code(&app, &secret)).await;
    assert_eq!(done.status(), 303);
    let location = url::Url::parse(done.headers()["location"].to_str().unwrap()).unwrap();
    let tokens = redeem(&app, &client, &location, &verifier).await;
    let id = jwt_claims(&text(&tokens, "id_token"));
    assert_eq!(id["acr"], ACR_MFA);
    assert_eq!(id["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(jwt_claims(&text(&tokens, "access_token"))["acr"], ACR_MFA);

    // The session is a two-factor one now: the same request with prompt=none is answered.
    let (url, verifier) = app.authorize_url(
        &client,
        "openid",
        &[("claims", &essential_mfa), ("prompt", "none")],
    );
    let silent = app.get_url(&url).await;
    let location = url::Url::parse(silent.headers()["location"].to_str().unwrap()).unwrap();
    let tokens = redeem(&app, &client, &location, &verifier).await;
    assert_eq!(jwt_claims(&text(&tokens, "id_token"))["acr"], ACR_MFA);
}

async fn an_essential_acr_naming_only_unknown_levels_is_refused(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.refreshing_client().await;
    app.create_user("alice").await;
    app.post_login("alice", PASSWORD).await;
    let unknown = json!({"id_token": {"acr": {"essential": true, "values": ["urn:example:gold"]}}})
        .to_string();
    let (url, _) = app.authorize_url(&client, "openid", &[("claims", &unknown)]);
    let refused = app.get_url(&url).await;
    assert_eq!(refused.status(), 303);
    let (error, why) = error_of(&refused);
    assert_eq!(error, "access_denied");
    assert!(why.contains("acr"), "{why}");
    let location = url::Url::parse(refused.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(query_param(&location, "state").as_deref(), Some("st-123"));

    // The same, voluntary, is ignored like unknown acr_values.
    let voluntary = json!({"id_token": {"acr": {"values": ["urn:example:gold"]}}}).to_string();
    let (url, verifier) = app.authorize_url(&client, "openid", &[("claims", &voluntary)]);
    let location = app.sign_in_through(&url, "alice").await;
    let tokens = redeem(&app, &client, &location, &verifier).await;
    assert_eq!(
        jwt_claims(&text(&tokens, "id_token"))["acr"],
        "urn:latchkey:acr:pwd"
    );
}

async fn discovery_says_the_claims_parameter_is_supported(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let discovery = app.get_discovery().await;
    assert_eq!(discovery["claims_parameter_supported"], true);
}

async fn a_sub_asked_for_with_a_value_allows_only_that_user(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.refreshing_client().await;
    let alice = app.create_user("alice").await;
    let bob = app.create_user("bob").await;
    app.post_login("alice", PASSWORD).await;
    let sub = |user: &latchkey::domain::user::User| {
        json!({"id_token": {"sub": {"value": user.user_id.as_str()}}}).to_string()
    };

    // Alice is signed in; a request for Bob never answers for her.
    let for_bob = sub(&bob);
    let (url, _) = app.authorize_url(
        &client,
        "openid",
        &[("claims", &for_bob), ("prompt", "none")],
    );
    assert_eq!(error_of(&app.get_url(&url).await).0, "login_required");
    let (url, _) = app.authorize_url(&client, "openid", &[("claims", &for_bob)]);
    let asked = app.get_url(&url).await;
    assert_eq!(path_of(&app, &asked), "/login", "sign in as Bob");
    // Alice signs in again instead: refused, never a token for her.
    let came = app.post_login("alice", PASSWORD).await;
    assert_eq!(error_of(&came).0, "access_denied");

    // A request for Alice is answered for her.
    let for_alice = sub(&alice);
    let (url, verifier) = app.authorize_url(
        &client,
        "openid",
        &[("claims", &for_alice), ("prompt", "none")],
    );
    let answered = app.get_url(&url).await;
    let location = url::Url::parse(answered.headers()["location"].to_str().unwrap()).unwrap();
    let tokens = redeem(&app, &client, &location, &verifier).await;
    assert_eq!(
        jwt_claims(&text(&tokens, "id_token"))["sub"],
        alice.user_id.as_str()
    );
}
