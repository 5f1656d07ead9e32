//! Dynamic client registration (RFC 7591) and its management (RFC 7592): a client registered by the
//! `openidconnect` crate signs a user in; every refusal answers the RFC's error.

use latchkey::domain::audit::{AuditFilter, EventType};
use openidconnect::core::{
    CoreClientRegistrationRequest, CoreGrantType, CoreProviderMetadata, CoreResponseType,
};
use openidconnect::registration::EmptyAdditionalClientMetadata;
use openidconnect::{
    AccessToken, ClientName, IssuerUrl, LocalizedClaim, RedirectUrl, ResponseTypes,
};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestClient, TestDb, json_of, query_param, text};

crate::backend_tests!(
    a_client_registered_by_openidconnect_signs_a_user_in_and_manages_its_registration,
    registration_without_a_usable_initial_access_token_is_refused,
    bad_metadata_is_refused_with_the_rfc_7591_errors_and_privileges_are_ignored,
    management_without_the_registration_access_token_is_refused,
    registrations_are_rate_limited_per_network,
    a_token_with_one_use_left_registers_one_client_however_many_race_for_it,
    the_registration_endpoint_is_advertised_exactly_when_it_is_served,
    housekeeping_deletes_expired_initial_access_tokens,
);

const REDIRECT_URI: &str = "http://127.0.0.1:9/callback";

fn rp_http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `latchkey registration-token create --json` on the app's database: the token's value.
fn initial_access_token(app: &TestApp, extra: &[&str]) -> String {
    let mut args = vec!["registration-token", "create", "--json"];
    args.extend_from_slice(extra);
    let created = json_of(&app.db.cli(&args, None));
    assert!(created["token_id"].is_string(), "{created}");
    text(&created, "registration_token")
}

/// `method /register…` with an optional bearer token and JSON body: status, `WWW-Authenticate`,
/// body (`null` when empty).
async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, String, Value) {
    let mut request = app.http.request(method, format!("{}{path}", app.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap()
    };
    (status, challenge, body)
}

fn web() -> Value {
    json!({ "redirect_uris": [REDIRECT_URI], "client_name": "Registered app" })
}

async fn a_client_registered_by_openidconnect_signs_a_user_in_and_manages_its_registration(
    backend: Backend,
) {
    let app = TestApp::spawn(&backend).await;
    app.create_user("alice").await;
    let token = initial_access_token(&app, &["--max-uses", "1", "--expires", "1h"]);
    let http = rp_http();
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http)
            .await
            .unwrap();
    let endpoint = metadata.registration_endpoint().unwrap().clone();
    assert_eq!(endpoint.as_str(), format!("{}/register", app.address));
    let registered = CoreClientRegistrationRequest::new(
        vec![RedirectUrl::new(REDIRECT_URI.into()).unwrap()],
        EmptyAdditionalClientMetadata::default(),
    )
    .set_initial_access_token(Some(AccessToken::new(token.clone())))
    .set_client_name(Some(LocalizedClaim::from(ClientName::new(
        "Registered app".into(),
    ))))
    .set_response_types(Some(vec![ResponseTypes::new(vec![CoreResponseType::Code])]))
    .set_grant_types(Some(vec![
        CoreGrantType::AuthorizationCode,
        CoreGrantType::RefreshToken,
    ]))
    .register_async(&endpoint, &http)
    .await
    .unwrap();
    let client_id = registered.client_id().to_string();
    let secret = registered.client_secret().unwrap().secret().clone();
    assert!(
        secret.starts_with("lk_cs_") && secret.len() == 6 + 43,
        "256 bits"
    );
    let access = registered
        .registration_access_token()
        .unwrap()
        .secret()
        .clone();
    assert!(access.starts_with("lk_rat_"));
    let uri = registered.registration_client_uri().unwrap().to_string();
    assert_eq!(uri, format!("{}/register/{client_id}", app.address));

    // The client signs a user in like any other (never skipping consent).
    let client = TestClient {
        client_id: client_id.clone(),
        secret: Some(secret.clone()),
        redirect_uri: REDIRECT_URI.into(),
    };
    let (url, verifier) = app.authorize_url(&client, "openid", &[]);
    let location = app.sign_in_through(&url, "alice").await;
    let code = query_param(&location, "code").unwrap();
    let response = app.redeem_code(&client, &code, &verifier).await;
    assert_eq!(response.status(), 200);

    // The token was for one registration only.
    let (status, _, refusal) = call(
        &app,
        reqwest::Method::POST,
        "/register",
        Some(&token),
        Some(&web()),
    )
    .await;
    assert_eq!(status, 401, "{refusal}");
    assert_eq!(refusal["error"], "invalid_token");

    // RFC 7592 §2.1: read, with a new registration access token each time (§3).
    let path = format!("/register/{client_id}");
    let (status, _, read) = call(&app, reqwest::Method::GET, &path, Some(&access), None).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["client_id"], client_id.as_str());
    assert_eq!(
        read["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert!(read.get("client_secret").is_none(), "shown once only");
    let access = text(&read, "registration_access_token");
    // An operator requires two factors and pushed requests of this client; the client's own
    // replacement cannot lift either.
    app.db.cli(
        &[
            "client",
            "update",
            &client_id,
            "--require-mfa",
            "true",
            "--require-par",
            "true",
        ],
        None,
    );
    // §2.2: replace.
    let mut replacement = web();
    replacement["client_id"] = json!(client_id);
    replacement["client_name"] = json!("Renamed app");
    replacement["client_secret"] = json!(secret);
    let (status, _, replaced) = call(
        &app,
        reqwest::Method::PUT,
        &path,
        Some(&access),
        Some(&replacement),
    )
    .await;
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["client_name"], "Renamed app");
    assert_eq!(replaced["grant_types"], json!(["authorization_code"]));
    let kept = app
        .state
        .store
        .find_client(&latchkey::domain::client::ClientId::parse(&client_id).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(
        kept.require_mfa && kept.require_par,
        "restrictions an operator set stay"
    );
    let access = text(&replaced, "registration_access_token");
    // §2.3: delete.
    let (status, _, _) = call(&app, reqwest::Method::DELETE, &path, Some(&access), None).await;
    assert_eq!(status, 204);
    let (status, _, refusal) = call(&app, reqwest::Method::GET, &path, Some(&access), None).await;
    assert_eq!(
        (status, refusal["error"].as_str()),
        (401, Some("invalid_token"))
    );

    // Every step is an audit event naming the client, and none holds a secret or token.
    let events = app
        .state
        .store
        .list_audit_events(&AuditFilter {
            client_id: Some(client_id.clone()),
            event_type: Some(EventType::ClientRegistration),
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = events
        .iter()
        .rev()
        .map(|e| e.detail["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["registered", "read", "updated", "deleted"]);
    let all = serde_json::to_string(&events).unwrap();
    for secret in [&secret, &token, &access] {
        assert!(!all.contains(secret.as_str()));
    }
}

async fn registration_without_a_usable_initial_access_token_is_refused(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let post = |token: Option<String>| {
        let app = &app;
        async move {
            call(
                app,
                reqwest::Method::POST,
                "/register",
                token.as_deref(),
                Some(&web()),
            )
            .await
        }
    };
    // RFC 6750 §3.1: no token, a bare challenge.
    let (status, challenge, refusal) = post(None).await;
    assert_eq!(status, 401, "{refusal}");
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    let cases = [
        ("an unknown token", "lk_iat_not-a-token".to_owned()),
        ("an expired token", {
            let token = initial_access_token(&app, &["--expires", "60s"]);
            // The CLI stamps the expiry from the wall clock, which has moved on since the server's
            // clock was fixed (by seconds on a loaded machine): past it by a minute either way.
            use latchkey::clock::{Clock, SystemClock};
            app.clock.set(SystemClock.now().max(app.clock.now()) + 61);
            token
        }),
        ("a revoked token", {
            let created = json_of(
                &app.db
                    .cli(&["registration-token", "create", "--json"], None),
            );
            let id = text(&created, "token_id");
            json_of(
                &app.db
                    .cli(&["registration-token", "revoke", &id, "--json"], None),
            );
            text(&created, "registration_token")
        }),
    ];
    for (name, token) in cases {
        let (status, challenge, refusal) = post(Some(token)).await;
        assert_eq!(status, 401, "{name}: {refusal}");
        assert_eq!(refusal["error"], "invalid_token", "{name}");
        assert!(challenge.contains("invalid_token"), "{name}: {challenge}");
    }
    assert!(app.state.store.list_clients().await.unwrap().is_empty());
}

async fn bad_metadata_is_refused_with_the_rfc_7591_errors_and_privileges_are_ignored(
    backend: Backend,
) {
    let app = TestApp::spawn_on(TestDb::new(&backend).await, &["--registration", "open"]).await;
    let with = |field: &str, value: Value| {
        let mut body = web();
        body[field] = value;
        body
    };
    let cases = [
        (
            "§3.2.2 a relative redirect URI",
            with("redirect_uris", json!(["/cb"])),
            "invalid_redirect_uri",
        ),
        (
            "§3.2.2 a redirect URI with a fragment",
            with("redirect_uris", json!(["https://app.example.com/cb#x"])),
            "invalid_redirect_uri",
        ),
        (
            "are for clients that authenticate with private_key_jwt",
            with("jwks_uri", json!("https://app.example.com/jwks")),
            "invalid_client_metadata",
        ),
        (
            "the backchannel_logout_uri must have no fragment",
            with(
                "backchannel_logout_uri",
                json!("https://app.example.com/bc#x"),
            ),
            "invalid_client_metadata",
        ),
        (
            "an unknown auth method",
            with("token_endpoint_auth_method", json!("tls_client_auth")),
            "invalid_client_metadata",
        ),
        (
            "private_key_jwt without jwks",
            with("token_endpoint_auth_method", json!("private_key_jwt")),
            "invalid_client_metadata",
        ),
        (
            "an unknown scope",
            with("scope", json!("openid admin:everything")),
            "invalid_client_metadata",
        ),
        (
            "open registration of a service client",
            json!({ "grant_types": ["client_credentials"] }),
            "invalid_client_metadata",
        ),
        (
            "an unknown application type",
            with("application_type", json!("desktop")),
            "invalid_client_metadata",
        ),
        (
            "a bad post-logout redirect URI",
            with("post_logout_redirect_uris", json!(["nope"])),
            "invalid_client_metadata",
        ),
        (
            "a client name with a control character",
            with("client_name", json!("App\u{0}")),
            "invalid_client_metadata",
        ),
        (
            "a public client that skips PKCE? no: a bad grant",
            with("grant_types", json!(["password"])),
            "invalid_client_metadata",
        ),
    ];
    for (name, body, error) in cases {
        let (status, _, refusal) =
            call(&app, reqwest::Method::POST, "/register", None, Some(&body)).await;
        assert_eq!(status, 400, "{name}: {refusal}");
        assert_eq!(refusal["error"], error, "{name}");
        assert!(refusal["error_description"].is_string(), "{name}");
    }
    // Not JSON at all.
    let response = app
        .http
        .post(format!("{}/register", app.address))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let refusal: Value = response.json().await.unwrap();
    assert_eq!(refusal["error"], "invalid_client_metadata");
    assert!(app.state.store.list_clients().await.unwrap().is_empty());

    // Privileges are not metadata: asking for them registers an ordinary client.
    let mut greedy = web();
    greedy["skip_consent"] = json!(true);
    greedy["introspect_any"] = json!(true);
    greedy["roles"] = json!(["admin"]);
    greedy["token_endpoint_auth_method"] = json!("none");
    let (status, _, registered) = call(
        &app,
        reqwest::Method::POST,
        "/register",
        None,
        Some(&greedy),
    )
    .await;
    assert_eq!(status, 201, "{registered}");
    assert!(registered.get("client_secret").is_none(), "a public client");
    let client_id =
        latchkey::domain::client::ClientId::parse(&text(&registered, "client_id")).unwrap();
    let client = app
        .state
        .store
        .find_client(&client_id)
        .await
        .unwrap()
        .unwrap();
    assert!(!client.skip_consent && !client.introspect_any && client.require_pkce);
    assert!(
        app.state
            .store
            .find_client_roles(&client_id)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn management_without_the_registration_access_token_is_refused(backend: Backend) {
    let app = TestApp::spawn_on(TestDb::new(&backend).await, &["--registration", "open"]).await;
    let (_, _, first) = call(&app, reqwest::Method::POST, "/register", None, Some(&web())).await;
    let (_, _, second) = call(&app, reqwest::Method::POST, "/register", None, Some(&web())).await;
    let path = format!("/register/{}", text(&first, "client_id"));
    let others = text(&second, "registration_access_token");
    for method in [
        reqwest::Method::GET,
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
    ] {
        let body = (method == reqwest::Method::PUT).then(|| {
            let mut body = web();
            body["client_id"] = first["client_id"].clone();
            body
        });
        let (status, challenge, refusal) =
            call(&app, method.clone(), &path, None, body.as_ref()).await;
        assert_eq!(status, 401, "{method} without a token: {refusal}");
        assert!(challenge.starts_with("Bearer"));
        for (name, token) in [
            ("a wrong token", "lk_rat_wrong"),
            ("another client's token", others.as_str()),
        ] {
            let (status, _, refusal) =
                call(&app, method.clone(), &path, Some(token), body.as_ref()).await;
            assert_eq!(status, 401, "{method} with {name}: {refusal}");
            assert_eq!(refusal["error"], "invalid_token", "{method} with {name}");
        }
    }
    // The registration is untouched, and its own token still works.
    let own = text(&first, "registration_access_token");
    let (status, _, read) = call(&app, reqwest::Method::GET, &path, Some(&own), None).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["client_name"], "Registered app");
}

async fn registrations_are_rate_limited_per_network(backend: Backend) {
    let app = TestApp::spawn_on(TestDb::new(&backend).await, &["--registration", "open"]).await;
    let limit = latchkey::oauth::registration::MAX_REGISTRATIONS_PER_NETWORK;
    // Concurrent attempts: the limit is reserved in the store before any work.
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..limit + 5 {
        let (http, url) = (app.http.clone(), format!("{}/register", app.address));
        attempts.spawn(async move {
            let response = http.post(url).json(&web()).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.unwrap())
        });
    }
    let answers = attempts.join_all().await;
    let created = answers.iter().filter(|(status, _)| *status == 201).count();
    let throttled: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == 429)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(created, limit as usize);
    assert_eq!(throttled.len(), 5);
    assert_eq!(throttled[0]["error"], "temporarily_unavailable");
    let response = app
        .http
        .post(format!("{}/register", app.address))
        .json(&web())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let wait: i64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 0 && wait <= latchkey::oauth::registration::REGISTRATION_WINDOW);
    app.clock
        .advance(latchkey::oauth::registration::REGISTRATION_WINDOW);
    let (status, _, _) = call(&app, reqwest::Method::POST, "/register", None, Some(&web())).await;
    assert_eq!(status, 201, "a new window");
}

async fn the_registration_endpoint_is_advertised_exactly_when_it_is_served(backend: Backend) {
    let db = TestDb::new(&backend).await;
    for (policy, served) in [("token", true), ("open", true), ("off", false)] {
        let app = TestApp::spawn_on(db.shared(), &["--registration", policy]).await;
        let oidc = app.get_discovery().await;
        let oauth: Value = app
            .get("/.well-known/oauth-authorization-server")
            .await
            .json()
            .await
            .unwrap();
        for document in [&oidc, &oauth] {
            assert_eq!(
                document.get("registration_endpoint").is_some(),
                served,
                "{policy}: {document}"
            );
        }
        let (status, _, _) =
            call(&app, reqwest::Method::POST, "/register", None, Some(&web())).await;
        let expected = match policy {
            "token" => 401,
            "open" => 201,
            _ => 404,
        };
        assert_eq!(status, expected, "{policy}");
        if served {
            assert_eq!(
                oidc["registration_endpoint"],
                format!("{}/register", app.address)
            );
        }
    }
    drop(db);
}

async fn a_token_with_one_use_left_registers_one_client_however_many_race_for_it(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let token = initial_access_token(&app, &["--max-uses", "1"]);
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (http, url, token) = (
            app.http.clone(),
            format!("{}/register", app.address),
            token.clone(),
        );
        attempts.spawn(async move {
            let response = http
                .post(url)
                .bearer_auth(token)
                .json(&web())
                .send()
                .await
                .unwrap();
            response.status().as_u16()
        });
    }
    let mut statuses = attempts.join_all().await;
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 401, 401, 401, 401, 401, 401, 401]);
    assert_eq!(app.state.store.list_clients().await.unwrap().len(), 1);
    let listed = json_of(&app.db.cli(&["registration-token", "list", "--json"], None));
    assert_eq!(listed[0]["uses"], 1);
}

async fn housekeeping_deletes_expired_initial_access_tokens(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let store = db.store().await;
    let settings = db.settings("http://127.0.0.1:9", &[]);
    let now = 1_000_000;
    latchkey::admin::registration_token::create(store.as_ref(), Some(60), None, now)
        .await
        .unwrap();
    latchkey::admin::registration_token::create(store.as_ref(), None, Some(1), now)
        .await
        .unwrap();
    let done = latchkey::housekeeping::run_once(store.as_ref(), now + 59, &settings)
        .await
        .unwrap();
    assert_eq!(done.registration_tokens, 0, "not expired yet");
    let done = latchkey::housekeeping::run_once(store.as_ref(), now + 60, &settings)
        .await
        .unwrap();
    assert_eq!(done.registration_tokens, 1);
    let left = store.list_registration_tokens().await.unwrap();
    assert_eq!(left.len(), 1, "a token without expiry stays until revoked");
}
