//! The device authorization grant (RFC 8628): `POST /device_authorization`, the `/device` page, and
//! the token endpoint's device-code polling; the happy path driven by the `openidconnect` crate.

use std::time::Duration;

use latchkey::clock::Clock;
use openidconnect::core::{CoreClient, CoreDeviceAuthorizationResponse, CoreProviderMetadata};
use openidconnect::{
    ClientId, DeviceAuthorizationUrl, IssuerUrl, Nonce, OAuth2TokenResponse, Scope, TokenResponse,
};
use serde_json::Value;

use crate::browser::Browser;
use crate::helpers::{Backend, PASSWORD, TestApp, TestClient, hidden_value, location, text};

crate::backend_tests!(
    a_device_signs_a_user_in_through_the_device_page_with_openidconnect,
    device_authorization_refuses_what_it_must,
    polling_answers_pending_slow_down_denied_and_expired,
    concurrent_polls_after_approval_get_the_tokens_exactly_once,
    user_codes_are_forgiving_to_type_and_wrong_ones_are_throttled,
    the_device_page_checks_its_forms_and_housekeeping_deletes_expired_requests,
    a_person_approves_a_device_in_chromium,
);

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// A device client: public (`none`) or confidential (`client_secret_basic`), registered for the
/// device grant and refresh tokens, for `openid profile`.
async fn device_client(app: &TestApp, auth_method: &str) -> TestClient {
    app.register_client(latchkey::domain::client::ClientSpec {
        client_name: "Living Room TV".into(),
        grant_types: vec![DEVICE_GRANT.into(), "refresh_token".into()],
        scope: "openid profile".into(),
        auth_method: auth_method.into(),
        ..Default::default()
    })
    .await
}

/// `POST /device_authorization` as `client`: status and body.
async fn start(app: &TestApp, client: &TestClient, form: &[(&str, &str)]) -> (u16, Value) {
    let response = app
        .post_client_form("/device_authorization", client, form)
        .await;
    let status = response.status().as_u16();
    assert_eq!(response.headers()["cache-control"], "no-store");
    (status, response.json().await.unwrap())
}

/// A device authorization for `openid profile`: (device_code, user_code).
async fn codes(app: &TestApp, client: &TestClient) -> (String, String) {
    let (status, body) = start(app, client, &[("scope", "openid profile")]).await;
    assert_eq!(status, 200, "{body}");
    (text(&body, "device_code"), text(&body, "user_code"))
}

/// One poll of the token endpoint: status and body.
async fn poll(app: &TestApp, client: &TestClient, device_code: &str) -> (u16, Value) {
    let response = app
        .post_client_form(
            "/token",
            client,
            &[("grant_type", DEVICE_GRANT), ("device_code", device_code)],
        )
        .await;
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

/// The CSRF token of the device page (`GET /device`).
async fn device_csrf(app: &TestApp) -> String {
    hidden_value(
        &app.get("/device").await.text().await.unwrap(),
        "csrf_token",
    )
}

/// Enter `user_code` on the device page: the response to the form.
async fn enter(app: &TestApp, user_code: &str) -> reqwest::Response {
    let csrf = device_csrf(app).await;
    app.post_form(
        "/device",
        &[("csrf_token", &csrf), ("user_code", user_code)],
    )
    .await
}

/// Enter `user_code`, sign in as `username` if asked, and answer `decision` (`allow` or `deny`):
/// the final page's status and HTML.
async fn answer(app: &TestApp, user_code: &str, username: &str, decision: &str) -> (u16, String) {
    let entered = enter(app, user_code).await;
    assert_eq!(entered.status(), 303, "{}", entered.text().await.unwrap());
    assert!(location(&entered).ends_with("/device"));
    let mut page = app.get("/device").await;
    if page.status() == 303 {
        assert!(location(&page).ends_with("/login"));
        let signed_in = app.post_login(username, PASSWORD).await;
        assert_eq!(signed_in.status(), 303);
        assert!(location(&signed_in).ends_with("/device"));
        page = app.get("/device").await;
    }
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Living Room TV"), "{html}");
    assert!(
        html.contains("127.0.0.1"),
        "the device's address is shown: {html}"
    );
    let decided = app
        .post_form(
            "/device",
            &[
                ("csrf_token", &hidden_value(&html, "csrf_token")),
                ("request_id", &hidden_value(&html, "request_id")),
                ("decision", decision),
            ],
        )
        .await;
    (decided.status().as_u16(), decided.text().await.unwrap())
}

async fn a_device_signs_a_user_in_through_the_device_page_with_openidconnect(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let registered = device_client(&app, "none").await;
    let alice = app.create_user("alice").await;
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Advertised in both discovery documents (RFC 8628 §4).
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let document: Value = app.get(path).await.json().await.unwrap();
        assert_eq!(
            document["device_authorization_endpoint"],
            format!("{}/device_authorization", app.address),
            "{path}"
        );
        assert!(
            document["grant_types_supported"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g == DEVICE_GRANT),
            "{path}"
        );
    }
    let discovery = app.get_discovery().await;
    let metadata =
        CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http)
            .await
            .unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(registered.client_id.clone()),
        None,
    )
    .set_device_authorization_url(
        DeviceAuthorizationUrl::new(text(&discovery, "device_authorization_endpoint")).unwrap(),
    );
    let details: CoreDeviceAuthorizationResponse = client
        .exchange_device_code()
        .add_scope(Scope::new("profile".into()))
        .request_async(&http)
        .await
        .unwrap();
    let user_code = details.user_code().secret().clone();
    assert_eq!(user_code.len(), 9, "BCDF-GHJK: {user_code}");
    assert!(
        user_code
            .chars()
            .all(|c| c == '-' || "BCDFGHJKLMNPQRSTVWXZ".contains(c)),
        "RFC 8628 §6.1: {user_code}"
    );
    assert!(details.device_code().secret().starts_with("lk_dc_"));
    assert_eq!(
        details.verification_uri().as_str(),
        format!("{}/device", app.address)
    );
    let complete = details
        .verification_uri_complete()
        .unwrap()
        .secret()
        .clone();
    assert_eq!(
        complete,
        format!("{}/device?user_code={user_code}", app.address)
    );
    assert_eq!(details.interval(), Duration::from_secs(5));
    assert_eq!(details.expires_in(), Duration::from_secs(600));

    // RFC 8628 §3.5: before the user answers, the device is told to keep waiting.
    let (status, pending) = poll(&app, &registered, details.device_code().secret()).await;
    assert_eq!(status, 400);
    assert_eq!(pending["error"], "authorization_pending");

    // The complete URI fills the code in.
    let filled = app.get_url(&complete).await.text().await.unwrap();
    assert!(
        filled.contains(&format!("value=\"{user_code}\"")),
        "{filled}"
    );
    let (status, html) = answer(&app, &user_code, "alice", "allow").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Device connected"), "{html}");

    // The library polls (its sleeps move the test clock; none is needed here).
    let clock = app.clock.clone();
    let tokens = client
        .exchange_device_access_token(&details)
        .unwrap()
        .request_async(
            &http,
            move |wait: Duration| {
                clock.advance(i64::try_from(wait.as_secs()).unwrap());
                std::future::ready(())
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        tokens
            .scopes()
            .map(|s| s.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
        Some(vec!["openid".to_owned(), "profile".to_owned()])
    );
    assert!(tokens.refresh_token().is_some());
    let id_token = tokens.id_token().expect("openid was asked: an ID token");
    let no_nonce = |nonce: Option<&Nonce>| {
        nonce
            .is_none()
            .then_some(())
            .ok_or_else(|| "a device request has no nonce".to_owned())
    };
    let claims = id_token
        .claims(&client.id_token_verifier(), no_nonce)
        .unwrap();
    assert_eq!(claims.subject().as_str(), alice.user_id.as_str());
    assert!(claims.auth_time().is_some());
    // How alice signed in on the device page (RFC 8176, OIDC Core §2), read by the library.
    assert_eq!(
        claims.auth_context_ref().map(|acr| acr.as_str()),
        Some("urn:latchkey:acr:pwd")
    );
    let amr: Vec<&str> = claims
        .auth_method_refs()
        .into_iter()
        .flatten()
        .map(|m| m.as_str())
        .collect();
    assert_eq!(amr, ["pwd"]);
    assert_eq!(
        claims.preferred_username().map(|u| u.as_str()),
        Some("alice")
    );

    // The grant is in the audit trail, and the issuance in the metrics.
    let events = app
        .state
        .store
        .list_audit_events(&latchkey::domain::audit::AuditFilter {
            limit: 1_000,
            ..Default::default()
        })
        .await
        .unwrap();
    let created = events
        .iter()
        .find(|e| e.event_type.as_str() == "grant.created")
        .expect("grant.created");
    assert_eq!(created.detail["grant_type"], "device_code");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("latchkey_tokens_issued_total{grant_type=\"device_code\""),
        "{metrics}"
    );

    // The refresh token works like any other.
    let refreshed = app
        .post_client_form(
            "/token",
            &registered,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens.refresh_token().unwrap().secret()),
            ],
        )
        .await;
    assert_eq!(refreshed.status(), 200);
}

#[allow(clippy::type_complexity)] // a table: one row per rule
async fn device_authorization_refuses_what_it_must(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let device = device_client(&app, "client_secret_basic").await;
    let web = app.web_client().await;

    let (status, body) = start(&app, &device, &[("scope", "openid")]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["device_code"].as_str().unwrap().starts_with("lk_dc_"));

    // (case, client, form, status, error)
    let wrong_secret = TestClient {
        secret: Some("wrong".into()),
        ..TestClient {
            client_id: device.client_id.clone(),
            secret: None,
            redirect_uri: String::new(),
        }
    };
    let unknown = TestClient {
        client_id: "nobody".into(),
        secret: None,
        redirect_uri: String::new(),
    };
    let cases: [(&str, &TestClient, &[(&str, &str)], u16, &str); 6] = [
        (
            "RFC 6749 §5.2 a client not registered for the grant",
            &web,
            &[("scope", "openid")],
            400,
            "unauthorized_client",
        ),
        (
            "RFC 6749 §3.3 scope is required",
            &device,
            &[],
            400,
            "invalid_scope",
        ),
        (
            "RFC 6749 §3.3 a scope the client may not ask for",
            &device,
            &[("scope", "openid email")],
            400,
            "invalid_scope",
        ),
        (
            "RFC 6749 §3.3 a malformed scope",
            &device,
            &[("scope", "openid\u{1}")],
            400,
            "invalid_scope",
        ),
        (
            "RFC 8628 §3.1 client authentication as at /token",
            &wrong_secret,
            &[("scope", "openid")],
            401,
            "invalid_client",
        ),
        (
            "RFC 6749 §5.2 an unknown client",
            &unknown,
            &[("scope", "openid")],
            401,
            "invalid_client",
        ),
    ];
    for (case, client, form, expected_status, expected_error) in cases {
        let (status, body) = start(&app, client, form).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (expected_status, Some(expected_error)),
            "{case}: {body}"
        );
    }
    // A repeated parameter, as at /token.
    let response = app
        .http
        .post(format!("{}/device_authorization", app.address))
        .basic_auth(&device.client_id, device.secret.as_ref())
        .header("content-type", "application/x-www-form-urlencoded")
        .body("scope=openid&scope=profile")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_request");
}

async fn polling_answers_pending_slow_down_denied_and_expired(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let device = device_client(&app, "none").await;
    let other = device_client(&app, "none").await;
    let web = app.web_client().await;
    app.create_user("alice").await;
    let error_of = |(status, body): (u16, Value)| {
        assert_eq!(status, 400, "{body}");
        assert!(body["error_description"].is_string());
        body["error"].as_str().unwrap().to_owned()
    };

    let (device_code, user_code) = codes(&app, &device).await;
    assert_eq!(
        error_of(poll(&app, &device, &device_code).await),
        "authorization_pending"
    );
    // RFC 8628 §3.5: too soon: slow_down, and the interval grows by 5 s for all later polls.
    assert_eq!(
        error_of(poll(&app, &device, &device_code).await),
        "slow_down"
    );
    app.clock.advance(5);
    assert_eq!(
        error_of(poll(&app, &device, &device_code).await),
        "slow_down",
        "the interval is 10 s now (and this poll makes it 15 s)"
    );
    app.clock.advance(15);
    assert_eq!(
        error_of(poll(&app, &device, &device_code).await),
        "authorization_pending"
    );
    app.clock.advance(15);
    // Unknown, missing, another client's, and a client without the grant.
    assert_eq!(
        error_of(poll(&app, &device, "lk_dc_unknown").await),
        "invalid_grant"
    );
    assert_eq!(
        error_of(poll(&app, &other, &device_code).await),
        "invalid_grant"
    );
    let missing = app
        .post_client_form("/token", &device, &[("grant_type", DEVICE_GRANT)])
        .await;
    assert_eq!(missing.status(), 400);
    assert_eq!(
        missing.json::<Value>().await.unwrap()["error"],
        "invalid_request"
    );
    let response = app
        .post_client_form(
            "/token",
            &web,
            &[("grant_type", DEVICE_GRANT), ("device_code", &device_code)],
        )
        .await;
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "unauthorized_client"
    );

    // RFC 8628 §3.5 access_denied once the user denies.
    let (status, html) = answer(&app, &user_code, "alice", "deny").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Request denied"), "{html}");
    assert_eq!(
        error_of(poll(&app, &device, &device_code).await),
        "access_denied"
    );

    // RFC 8628 §3.5 expired_token after expires_in.
    let (device_code, user_code) = codes(&app, &device).await;
    app.clock.advance(600);
    assert_eq!(
        error_of(poll(&app, &device, &device_code).await),
        "expired_token"
    );
    // And its user code no longer works on the page.
    let html = enter(&app, &user_code).await.text().await.unwrap();
    assert!(html.contains("device-error"), "{html}");
}

async fn concurrent_polls_after_approval_get_the_tokens_exactly_once(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let device = device_client(&app, "client_secret_basic").await;
    app.create_user("alice").await;
    let (device_code, user_code) = codes(&app, &device).await;
    let (status, html) = answer(&app, &user_code, "alice", "allow").await;
    assert_eq!(status, 200, "{html}");

    let form = [
        ("grant_type", DEVICE_GRANT),
        ("device_code", device_code.as_str()),
    ];
    let results = app.post_token_concurrently(&device, &form, 12).await;
    let issued: Vec<&Value> = results
        .iter()
        .filter(|(status, _)| *status == 200)
        .map(|(_, body)| body)
        .collect();
    assert_eq!(issued.len(), 1, "exactly one poll gets tokens: {results:?}");
    assert!(issued[0]["id_token"].is_string());
    for (status, body) in results.iter().filter(|(status, _)| *status != 200) {
        assert_eq!(
            (*status, body["error"].as_str()),
            (400, Some("invalid_grant")),
            "{body}"
        );
    }
    // And never again.
    let (status, body) = poll(&app, &device, &device_code).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    // One grant, one refresh token.
    let events = app
        .state
        .store
        .list_audit_events(&latchkey::domain::audit::AuditFilter {
            limit: 1_000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.event_type.as_str() == "grant.created")
            .count(),
        1
    );
}

async fn user_codes_are_forgiving_to_type_and_wrong_ones_are_throttled(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let device = device_client(&app, "none").await;
    app.create_user("alice").await;

    // Lower case, no dash (RFC 8628 §6.1).
    let (device_code, user_code) = codes(&app, &device).await;
    let typed = user_code.replace('-', "").to_lowercase();
    let (status, html) = answer(&app, &typed, "alice", "allow").await;
    assert_eq!(status, 200, "{html}");
    let (status, body) = poll(&app, &device, &device_code).await;
    assert_eq!(status, 200, "{body}");
    // A code that was answered no longer works.
    let html = enter(&app, &user_code).await.text().await.unwrap();
    assert!(html.contains("device-error"), "{html}");

    // Wrong codes are counted per network: 10 per 15 minutes, then even a right one waits.
    let (_, user_code) = codes(&app, &device).await;
    for _ in 0..9 {
        let wrong = enter(&app, "BBBB-BBBB").await;
        assert_eq!(wrong.status(), 200);
        assert!(wrong.text().await.unwrap().contains("device-error"));
    }
    let refused = enter(&app, &user_code).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().contains_key("retry-after"));
    // The window ends.
    app.clock.advance(15 * 60);
    let (_, user_code) = codes(&app, &device).await;
    assert_eq!(enter(&app, &user_code).await.status(), 303);
}

async fn the_device_page_checks_its_forms_and_housekeeping_deletes_expired_requests(
    backend: Backend,
) {
    let app = TestApp::spawn(&backend).await;
    let device = device_client(&app, "none").await;
    app.create_user("alice").await;
    let (_, user_code) = codes(&app, &device).await;

    // No CSRF token: 403, nothing looked up.
    let forged = app
        .post_form("/device", &[("user_code", user_code.as_str())])
        .await;
    assert_eq!(forged.status(), 403);
    // Bad input is a page, never a 500.
    for typed in ["", "\u{0}\u{1}", &"X".repeat(5000), "ÄÖÜ-ÄÖÜ"] {
        let response = enter(&app, typed).await;
        assert_eq!(response.status(), 200, "{typed:?}");
    }
    let page = app.get("/device?user_code=%00%FF<script>").await;
    assert_eq!(page.status(), 200);
    assert!(!page.text().await.unwrap().contains("<script>"));

    // A decision with no request entered, or for another request: nothing to continue.
    let csrf = device_csrf(&app).await;
    let stale = app
        .post_form(
            "/device",
            &[
                ("csrf_token", &csrf),
                ("request_id", "old"),
                ("decision", "allow"),
            ],
        )
        .await;
    assert_eq!(stale.status(), 400);
    assert_eq!(enter(&app, &user_code).await.status(), 303);
    app.post_login("alice", PASSWORD).await;
    let html = app.get("/device").await.text().await.unwrap();
    let stale = app
        .post_form(
            "/device",
            &[
                ("csrf_token", &hidden_value(&html, "csrf_token")),
                ("request_id", "another"),
                ("decision", "allow"),
            ],
        )
        .await;
    assert_eq!(stale.status(), 400);

    // Housekeeping deletes requests past their 600 s.
    let store = app.state.store.as_ref();
    let now = app.clock.now();
    let settings = &app.state.settings;
    let kept = latchkey::housekeeping::run_once(store, now, settings)
        .await
        .unwrap();
    assert_eq!(kept.device_authorizations, 0);
    let done = latchkey::housekeeping::run_once(store, now + 600, settings)
        .await
        .unwrap();
    assert_eq!(done.device_authorizations, 1);
}

async fn a_person_approves_a_device_in_chromium(backend: Backend) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(&backend).await;
    let device = device_client(&app, "none").await;
    app.create_user("alice").await;
    let (status, body) = start(&app, &device, &[("scope", "openid profile")]).await;
    assert_eq!(status, 200, "{body}");
    let name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres(_) => "postgres",
    };
    let shot = |page: &str| {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(format!("target/device-{page}-page-{name}.png"))
    };

    // The person opens the link the device shows (RFC 8628 §3.3.1): the code is filled in.
    browser
        .goto(&text(&body, "verification_uri_complete"))
        .await;
    let entry = browser.page_source().await;
    assert!(entry.contains(&text(&body, "user_code")), "{entry}");
    assert!(!entry.contains("<script"), "no JavaScript on the page");
    browser.screenshot(shot("entry")).await;
    browser.click("#continue").await;

    // Not signed in yet: the same login page as /authorize, then back to the device page.
    browser
        .wait_for_url(|u| u.path() == "/login", Duration::from_secs(10))
        .await;
    browser.fill("#username", "alice").await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser
        .wait_for_url(|u| u.path() == "/device", Duration::from_secs(10))
        .await;
    let approval = browser.page_source().await;
    assert!(approval.contains("Living Room TV"), "{approval}");
    assert!(approval.contains("127.0.0.1"), "which device: {approval}");
    assert!(
        approval.contains("Read your name and username"),
        "which scopes: {approval}"
    );
    browser.screenshot(shot("approve")).await;
    browser.click("#allow").await;
    // The answer comes at the same URL: wait for its text, not for a navigation.
    browser
        .wait_for_text("Device connected", Duration::from_secs(10))
        .await;
    browser.close().await;

    let (status, tokens) = poll(&app, &device, &text(&body, "device_code")).await;
    assert_eq!(status, 200, "{tokens}");
    assert!(tokens["id_token"].is_string());
}
