//! Pushed authorization requests (RFC 9126): `POST /par` checks a request as `/authorize` would and
//! answers a `request_uri`, which stands for it at `/authorize` once, for its own client only,
//! within 60 s; `--require-par` refuses every request that was not pushed.

use serde_json::Value;

use crate::helpers::{Backend, TestApp, TestClient, TestDb, query_param, text};

crate::backend_tests!(
    a_pushed_request_signs_the_user_in_and_is_used_once,
    pushed_requests_are_checked_as_authorize_checks_them,
    a_request_uri_is_bound_to_its_client_and_expires,
    require_par_refuses_requests_that_were_not_pushed,
    a_client_registered_require_par_uses_only_pushed_requests,
);

/// Push `client`'s authorization request for `scope` (with `extra` parameters): status, body, and
/// the PKCE verifier.
async fn push(
    app: &TestApp,
    client: &TestClient,
    scope: &str,
    extra: &[(&str, &str)],
) -> (u16, Value, String) {
    let (url, verifier) = app.authorize_url(client, scope, extra);
    let url = url::Url::parse(&url).unwrap();
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let form: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(name, _)| name != "client_id")
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let response = app.post_client_form("/par", client, &form).await;
    let status = response.status().as_u16();
    let cache = response.headers().get("cache-control").cloned();
    let body: Value = response.json().await.unwrap();
    if status == 201 {
        assert_eq!(cache.unwrap(), "no-store");
    }
    (status, body, verifier)
}

/// `/authorize` with only `client_id` and `request_uri` (and `extra`).
fn authorize_with(app: &TestApp, client: &TestClient, request_uri: &str, extra: &str) -> String {
    let mut url = url::Url::parse(&format!("{}/authorize", app.address)).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &client.client_id)
        .append_pair("request_uri", request_uri);
    format!("{url}{extra}")
}

async fn a_pushed_request_signs_the_user_in_and_is_used_once(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    app.create_user("alice").await;

    let (status, pushed, verifier) = push(&app, &client, "openid profile", &[]).await;
    assert_eq!(status, 201, "{pushed}");
    let request_uri = text(&pushed, "request_uri");
    assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
    assert_eq!(pushed["expires_in"], 60);

    // Parameters sent beside the request_uri are ignored, never merged (RFC 9126 §4): the scope and
    // state stay the pushed ones.
    let url = authorize_with(
        &app,
        &client,
        &request_uri,
        "&scope=openid+email&state=evil",
    );
    let location = app.sign_in_through(&url, "alice").await;
    assert_eq!(query_param(&location, "state").as_deref(), Some("st-123"));
    let code = query_param(&location, "code").unwrap();
    let response = app.redeem_code(&client, &code, &verifier).await;
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["scope"], "openid profile");
    assert!(tokens["id_token"].is_string());

    // Single use: the same request_uri again is an error page, never a redirect.
    let again = app.get_url(&url).await;
    assert_eq!(again.status(), 400);
    assert!(again.headers().get("location").is_none());
    assert!(
        again
            .text()
            .await
            .unwrap()
            .contains("request_uri is unknown")
    );

    // A public client pushes with its client_id; the client secret of a confidential client sent in
    // the form is never kept with the request.
    let spa = app.public_client().await;
    let (status, pushed, _) = push(&app, &spa, "openid", &[]).await;
    assert_eq!(status, 201, "{pushed}");
    let posting = app
        .register_client(latchkey::domain::client::ClientSpec {
            client_name: "Posts its secret".into(),
            redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
            scope: "openid".into(),
            auth_method: "client_secret_post".into(),
            ..Default::default()
        })
        .await;
    let secret = posting.secret.clone().unwrap();
    let (url, _) = app.authorize_url(&posting, "openid", &[("client_secret", &secret)]);
    let form: Vec<(String, String)> = url::Url::parse(&url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let response = app
        .http
        .post(format!("{}/par", app.address))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let pushed: Value = response.json().await.unwrap();
    let kept = app
        .state
        .store
        .consume_pushed_request(
            &latchkey::domain::secret::TokenHash::of(&text(&pushed, "request_uri")),
            &latchkey::domain::client::ClientId::parse(&posting.client_id).unwrap(),
            latchkey::clock::Clock::now(&app.clock),
        )
        .await
        .unwrap()
        .unwrap();
    assert!(
        kept.contains("code_challenge") && !kept.contains(&secret),
        "{kept}"
    );

    // Discovery advertises the endpoint, not required by default.
    let discovery = app.get_discovery().await;
    assert_eq!(
        discovery["pushed_authorization_request_endpoint"],
        format!("{}/par", app.address)
    );
    assert_eq!(discovery["require_pushed_authorization_requests"], false);
}

async fn pushed_requests_are_checked_as_authorize_checks_them(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    let refused = |status: u16, body: &Value, error: &str, description: &str| {
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"], error, "{body}");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains(description),
            "{body}"
        );
    };
    let (status, body, _) = push(&app, &client, "openid nope", &[]).await;
    refused(status, &body, "invalid_scope", "nope");
    let (status, body, _) = push(
        &app,
        &client,
        "openid",
        &[("request_uri", "urn:ietf:params:oauth:request_uri:x")],
    )
    .await;
    refused(
        status,
        &body,
        "invalid_request",
        "request_uri cannot be pushed",
    );
    let (status, body, _) = push(&app, &client, "openid", &[("request", "eyJ")]).await;
    refused(status, &body, "request_not_supported", "");

    // A redirect URI that is not registered.
    let response = app
        .post_client_form(
            "/par",
            &client,
            &[
                ("response_type", "code"),
                ("redirect_uri", "https://evil.example.com/cb"),
                ("scope", "openid"),
                (
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                ),
                ("code_challenge_method", "S256"),
            ],
        )
        .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    refused(
        400,
        &body,
        "invalid_request",
        "redirect_uri is not registered",
    );

    // Client authentication as at /token: a wrong secret is 401 invalid_client.
    let wrong = TestClient {
        client_id: client.client_id.clone(),
        secret: Some("wrong".into()),
        redirect_uri: client.redirect_uri.clone(),
    };
    let (status, body, _) = push(&app, &wrong, "openid", &[]).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
}

async fn a_request_uri_is_bound_to_its_client_and_expires(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    let other = app.web_client().await;
    app.create_user("alice").await;
    let (_, pushed, verifier) = push(&app, &client, "openid", &[]).await;
    let request_uri = text(&pushed, "request_uri");

    // Another client presenting it gets an error page, and the request stays usable by its own.
    let stolen = app
        .get_url(&authorize_with(&app, &other, &request_uri, ""))
        .await;
    assert_eq!(stolen.status(), 400);
    let location = app
        .sign_in_through(&authorize_with(&app, &client, &request_uri, ""), "alice")
        .await;
    let code = query_param(&location, "code").unwrap();
    assert_eq!(
        app.redeem_code(&client, &code, &verifier).await.status(),
        200
    );

    // 60 s later, a pushed request is gone; housekeeping deletes it.
    let (_, pushed, _) = push(&app, &client, "openid", &[]).await;
    app.clock.advance(61);
    let expired = app
        .get_url(&authorize_with(
            &app,
            &client,
            &text(&pushed, "request_uri"),
            "",
        ))
        .await;
    assert_eq!(expired.status(), 400);
    let (_, _pushed, _) = push(&app, &client, "openid", &[]).await;
    app.clock.advance(61);
    let done = latchkey::housekeeping::run_once(
        app.state.store.as_ref(),
        latchkey::clock::Clock::now(&app.clock),
        &app.state.settings,
    )
    .await
    .unwrap();
    assert_eq!(done.pushed_requests, 1);
}

async fn require_par_refuses_requests_that_were_not_pushed(backend: Backend) {
    let app = TestApp::spawn_on(TestDb::new(&backend).await, &["--require-par"]).await;
    let client = app.web_client().await;
    app.create_user("alice").await;
    let discovery = app.get_discovery().await;
    assert_eq!(discovery["require_pushed_authorization_requests"], true);

    let (url, _) = app.authorize_url(&client, "openid", &[]);
    let response = app.get_url(&url).await;
    assert_eq!(response.status(), 303);
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert!(location.as_str().starts_with(&client.redirect_uri));
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(query_param(&location, "state").as_deref(), Some("st-123"));

    let (status, pushed, verifier) = push(&app, &client, "openid", &[]).await;
    assert_eq!(status, 201);
    let location = app
        .sign_in_through(
            &authorize_with(&app, &client, &text(&pushed, "request_uri"), ""),
            "alice",
        )
        .await;
    let code = query_param(&location, "code").unwrap();
    assert_eq!(
        app.redeem_code(&client, &code, &verifier).await.status(),
        200
    );
}

async fn a_client_registered_require_par_uses_only_pushed_requests(backend: Backend) {
    let db = TestDb::new(&backend).await;
    // Registered with the CLI, which shows the flag.
    let created = crate::helpers::json_of(&db.cli(
        &[
            "client",
            "create",
            "--name",
            "Pushes",
            "--redirect-uri",
            "http://127.0.0.1:9/callback",
            "--scope",
            "openid",
            "--require-par",
            "--json",
        ],
        None,
    ));
    assert_eq!(created["require_par"], true, "{created}");
    let app = TestApp::spawn_on(db, &[]).await;
    let client = TestClient {
        client_id: text(&created, "client_id"),
        secret: Some(text(&created, "client_secret")),
        redirect_uri: "http://127.0.0.1:9/callback".into(),
    };
    app.create_user("alice").await;
    // The server does not require it, so discovery says false; this client does.
    assert_eq!(
        app.get_discovery().await["require_pushed_authorization_requests"],
        false
    );
    let (url, _) = app.authorize_url(&client, "openid", &[]);
    let response = app.get_url(&url).await;
    assert_eq!(response.status(), 303);
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("invalid_request")
    );
    let (status, pushed, verifier) = push(&app, &client, "openid", &[]).await;
    assert_eq!(status, 201, "{pushed}");
    let location = app
        .sign_in_through(
            &authorize_with(&app, &client, &text(&pushed, "request_uri"), ""),
            "alice",
        )
        .await;
    let code = query_param(&location, "code").unwrap();
    assert_eq!(
        app.redeem_code(&client, &code, &verifier).await.status(),
        200
    );
    // Other clients are unaffected.
    let other = app.web_client().await;
    let (url, _) = app.authorize_url(&other, "openid", &[]);
    let location = app.sign_in_through(&url, "alice").await;
    assert!(query_param(&location, "code").is_some());
}
