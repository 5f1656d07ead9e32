//! Second factors (TOTP, RFC 6238, and recovery codes) and step-up: `--require-mfa` takes a user
//! without a factor through enrolment right after the password; `acr_values` asks a signed-in user
//! only for the missing factor (RFC 9470 §3, OIDC Core §3.1.2.1); `prompt=none` with too weak a
//! sign-in is `interaction_required`; a code is accepted once; wrong codes are throttled like
//! passwords; a recovery code works once; the secret is sealed at rest. The tests play the
//! authenticator app with the RFC 6238 algorithm (codes computed from the secret the page shows).

use serde_json::{Value, json};

use crate::admin_api::{bootstrap, call, token};
use crate::helpers::{
    Backend, PASSWORD, TestApp, TestClient, TestDb, hidden_value, json_of, jwt_claims, query_param,
    text,
};

crate::backend_tests!(
    require_mfa_enrols_a_user_without_a_factor_right_after_the_password,
    acr_values_steps_up_a_password_session_asking_only_for_the_code,
    a_code_is_accepted_once_and_wrong_codes_are_throttled,
    a_recovery_code_signs_in_once,
    an_operator_sees_a_users_factors_and_resets_them_locally_and_through_the_admin_api,
    a_client_or_a_role_can_require_two_factors,
    a_person_enrols_and_uses_an_authenticator_app_in_chromium,
    two_requests_with_the_same_recovery_code_spend_it_once,
    require_mfa_holds_for_approving_a_device_too,
    a_device_client_or_a_role_that_requires_two_factors_is_approved_only_with_them,
);

const ACR_PWD: &str = "urn:latchkey:acr:pwd";
const ACR_MFA: &str = "urn:latchkey:acr:mfa";

/// The page a redirect leads to, on this server: its path, or the whole location elsewhere.
fn path_of(app: &TestApp, response: &reqwest::Response) -> String {
    let location = response.headers()["location"].to_str().unwrap();
    location.strip_prefix(&app.address).map_or_else(
        || location.to_owned(),
        |p| p.split('?').next().unwrap().to_owned(),
    )
}

/// The authenticator app: the code for `secret` (base32, as the page shows it) at the server's now.
pub(crate) fn code(app: &TestApp, secret: &str) -> String {
    let raw = totp_rs::Secret::try_from_base32(secret.replace(' ', "")).unwrap();
    let now = latchkey::clock::Clock::now(&app.clock);
    latchkey::domain::mfa::totp_code(raw.as_ref(), now).unwrap()
}

pub(crate) async fn post_code(app: &TestApp, path: &str, code: &str) -> reqwest::Response {
    let csrf = app.csrf_of(path).await;
    app.post_form(path, &[("csrf_token", &csrf), ("code", code)])
        .await
}

/// Start an authorization for `client` with `extra` parameters; returns the first redirect and the
/// PKCE verifier.
async fn authorize(
    app: &TestApp,
    client: &TestClient,
    extra: &[(&str, &str)],
) -> (reqwest::Response, String) {
    let (url, verifier) = app.authorize_url(client, "openid", extra);
    let response = app.get_url(&url).await;
    assert_eq!(response.status(), 303);
    (response, verifier)
}

/// Redeem the code the client was sent to with; the ID token's and access token's claims.
async fn tokens(
    app: &TestApp,
    client: &TestClient,
    response: &reqwest::Response,
    verifier: &str,
) -> (Value, Value) {
    let location = url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
    assert!(
        location.as_str().starts_with(&client.redirect_uri),
        "not sent back to the client: {location}"
    );
    let code = query_param(&location, "code").expect("a code");
    let redeemed = app.redeem_code(client, &code, verifier).await;
    assert_eq!(redeemed.status(), 200);
    let body: Value = redeemed.json().await.unwrap();
    (
        jwt_claims(&text(&body, "id_token")),
        jwt_claims(&text(&body, "access_token")),
    )
}

/// Enrol `username` (signed in with a password already) on the setup page; the secret, and the
/// answer to "continue" after the recovery codes, and the codes.
pub(crate) async fn enrol(app: &TestApp) -> (String, reqwest::Response, Vec<String>) {
    let page = app.get("/otp-setup").await.text().await.unwrap();
    assert!(page.contains("<svg"), "a QR code: {page}");
    let secret = between(&page, r#"<code id="totp-secret">"#, "</code>");
    let shown = post_code(app, "/otp-setup", &code(app, &secret)).await;
    assert_eq!(shown.status(), 200);
    let html = shown.text().await.unwrap();
    let codes: Vec<String> = html
        .split("<li><code>")
        .skip(1)
        .map(|rest| rest.split("</code>").next().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10, "ten recovery codes: {html}");
    let csrf = hidden_value(&html, "csrf_token");
    let continued = app
        .post_form("/otp-continue", &[("csrf_token", &csrf)])
        .await;
    (secret, continued, codes)
}

pub(crate) fn between(html: &str, start: &str, end: &str) -> String {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("no {start} in {html}"))
        + start.len();
    html[from..][..html[from..].find(end).unwrap()].to_owned()
}

async fn require_mfa_enrols_a_user_without_a_factor_right_after_the_password(backend: Backend) {
    let app = TestApp::spawn_on(TestDb::new(&backend).await, &["--require-mfa"]).await;
    let client = app.refreshing_client().await;
    let alice = app.create_user("alice").await;

    let (first, verifier) = authorize(&app, &client, &[]).await;
    assert_eq!(path_of(&app, &first), "/login");
    let after_password = app.post_login("alice", PASSWORD).await;
    assert_eq!(after_password.status(), 303);
    assert_eq!(path_of(&app, &after_password), "/otp");
    let otp = app.get("/otp").await;
    assert_eq!(otp.status(), 303, "no factor yet: enrolment");
    assert_eq!(path_of(&app, &otp), "/otp-setup");

    // A wrong first code keeps the same secret on the page.
    let page = app.get("/otp-setup").await.text().await.unwrap();
    let secret = between(&page, r#"<code id="totp-secret">"#, "</code>");
    let wrong = post_code(&app, "/otp-setup", "000000").await;
    let html = wrong.text().await.unwrap();
    assert!(html.contains("not right"), "{html}");
    assert_eq!(
        between(&html, r#"<code id="totp-secret">"#, "</code>"),
        secret
    );
    // The secret is sealed at rest, never stored as it is.
    let stored = app
        .state
        .store
        .find_totp(&alice.user_id)
        .await
        .unwrap()
        .unwrap();
    let raw = totp_rs::Secret::try_from_base32(secret.replace(' ', "")).unwrap();
    assert!(stored.confirmed_at.is_none());
    assert!(
        !stored
            .sealed_secret
            .windows(raw.as_ref().len())
            .any(|w| w == raw.as_ref())
    );

    // A reload shows the same secret (it may be scanned already); the enrolment goes on with it.
    let (again, continued, _) = enrol(&app).await;
    assert_eq!(again, secret);
    assert_eq!(continued.status(), 303);
    let (id, access) = tokens(&app, &client, &continued, &verifier).await;
    assert_eq!(id["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(id["acr"], ACR_MFA);
    assert_eq!(access["acr"], ACR_MFA);
    assert_eq!(
        app.state
            .store
            .count_recovery_codes(&alice.user_id)
            .await
            .unwrap(),
        10
    );

    // Once enrolled, the setup page does not replace the factor: it sends to the code form.
    let again = app.get("/otp-setup").await;
    assert_eq!(path_of(&app, &again), "/otp");
    let discovery = app.get_discovery().await;
    assert_eq!(discovery["acr_values_supported"], json!([ACR_PWD, ACR_MFA]));
}

async fn acr_values_steps_up_a_password_session_asking_only_for_the_code(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.refreshing_client().await;
    app.create_user("alice").await;
    // Alice enrols (any signed-in user may), then signs in again with her password only.
    app.post_login("alice", PASSWORD).await;
    let (secret, _, _) = enrol(&app).await;
    let (first, verifier) = authorize(&app, &client, &[("prompt", "login")]).await;
    assert_eq!(path_of(&app, &first), "/login");
    let signed_in = app.post_login("alice", PASSWORD).await;
    let (id, access) = tokens(&app, &client, &signed_in, &verifier).await;
    assert_eq!(id["amr"], json!(["pwd"]), "no second factor unless asked");
    assert_eq!(access["acr"], ACR_PWD);

    // prompt=none cannot step up: interaction_required at the client.
    let (silent, _) = authorize(
        &app,
        &client,
        &[("prompt", "none"), ("acr_values", ACR_MFA)],
    )
    .await;
    let location = url::Url::parse(silent.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("interaction_required")
    );

    // acr_values=mfa: straight to the code form, no password page.
    app.clock.advance(31);
    let (stepped, verifier) = authorize(&app, &client, &[("acr_values", ACR_MFA)]).await;
    assert_eq!(path_of(&app, &stepped), "/otp");
    let page = app.get("/otp").await.text().await.unwrap();
    assert!(page.contains("Dashboard"), "names the client: {page}");
    let done = post_code(&app, "/otp", &code(&app, &secret)).await;
    assert_eq!(done.status(), 303);
    let (id, access) = tokens(&app, &client, &done, &verifier).await;
    assert_eq!(id["amr"], json!(["pwd", "otp", "mfa"]));
    assert_eq!(id["acr"], ACR_MFA);
    assert_eq!(access["acr"], ACR_MFA);
    assert_eq!(
        access["auth_time"],
        latchkey::clock::Clock::now(&app.clock),
        "the step-up is the latest authentication"
    );
    // The session is now a two-factor one: the next request for mfa is silent.
    let (silent, verifier) = authorize(
        &app,
        &client,
        &[("prompt", "none"), ("acr_values", ACR_MFA)],
    )
    .await;
    let (id, _) = tokens(&app, &client, &silent, &verifier).await;
    assert_eq!(id["acr"], ACR_MFA);
}

async fn a_code_is_accepted_once_and_wrong_codes_are_throttled(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.refreshing_client().await;
    app.create_user("alice").await;
    app.post_login("alice", PASSWORD).await;
    let (secret, _, _) = enrol(&app).await;

    // RFC 6238 §5.2: the code that confirmed the enrolment, or any of its step, is spent.
    app.post_login("alice", PASSWORD).await;
    authorize(&app, &client, &[("acr_values", ACR_MFA)]).await;
    let replayed = post_code(&app, "/otp", &code(&app, &secret)).await;
    assert_eq!(replayed.status(), 200);
    assert!(replayed.text().await.unwrap().contains("already used"));
    app.clock.advance(30);
    let fresh = code(&app, &secret);
    let accepted = post_code(&app, "/otp", &fresh).await;
    assert_eq!(accepted.status(), 303, "the next step's code");

    // Wrong codes count with the password's attempts: past the limit, even the right code waits.
    app.clock.advance(30);
    app.post_login("alice", PASSWORD).await;
    authorize(&app, &client, &[("acr_values", ACR_MFA)]).await;
    let limit = latchkey::oauth::throttle::MAX_ATTEMPTS_PER_USERNAME_AND_NETWORK;
    for _ in 0..limit {
        let wrong = post_code(&app, "/otp", "123456").await;
        assert_eq!(wrong.status(), 200);
    }
    let throttled = post_code(&app, "/otp", &code(&app, &secret)).await;
    assert_eq!(throttled.status(), 429);
    assert!(throttled.headers().contains_key("retry-after"));
}

async fn a_recovery_code_signs_in_once(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.refreshing_client().await;
    let alice = app.create_user("alice").await;
    app.post_login("alice", PASSWORD).await;
    let (_, _, codes) = enrol(&app).await;

    app.post_login("alice", PASSWORD).await;
    let (_, verifier) = authorize(&app, &client, &[("acr_values", ACR_MFA)]).await;
    // Typed in lower case, without dashes: still the code.
    let typed = codes[3].replace('-', "").to_lowercase();
    let done = post_code(&app, "/otp", &typed).await;
    assert_eq!(done.status(), 303);
    let (id, _) = tokens(&app, &client, &done, &verifier).await;
    assert_eq!(id["acr"], ACR_MFA);
    assert_eq!(
        app.state
            .store
            .count_recovery_codes(&alice.user_id)
            .await
            .unwrap(),
        9
    );

    app.post_login("alice", PASSWORD).await;
    authorize(&app, &client, &[("acr_values", ACR_MFA)]).await;
    let again = post_code(&app, "/otp", &codes[3]).await;
    assert_eq!(again.status(), 200, "a recovery code works once");
    // The audit trail names the factor, never the code.
    let events = app
        .state
        .store
        .list_audit_events(&latchkey::domain::audit::AuditFilter {
            limit: 1_000,
            ..Default::default()
        })
        .await
        .unwrap();
    let text = serde_json::to_string(&events).unwrap();
    assert!(text.contains("recovery_code") && text.contains("second_factor.enrolled"));
    for code in &codes {
        assert!(!text.contains(code.as_str()) && !text.contains(&code.replace('-', "")));
    }
}

async fn an_operator_sees_a_users_factors_and_resets_them_locally_and_through_the_admin_api(
    backend: Backend,
) {
    let app = TestApp::spawn(&backend).await;
    app.create_user("alice").await;
    let shown = json_of(&app.db.cli(&["user", "show", "alice", "--json"], None));
    assert_eq!(
        shown["second_factors"],
        json!({"totp": false, "passkeys": 0, "recovery_codes": 0})
    );
    app.post_login("alice", PASSWORD).await;
    enrol(&app).await;
    let shown = json_of(&app.db.cli(&["user", "show", "alice", "--json"], None));
    assert_eq!(
        shown["second_factors"],
        json!({"totp": true, "passkeys": 0, "recovery_codes": 10})
    );
    let text_out = String::from_utf8(app.db.cli(&["user", "show", "alice"], None).stdout).unwrap();
    assert!(
        text_out.contains("mfa:      authenticator app, 10 recovery codes left"),
        "{text_out}"
    );

    // `user mfa reset`: the factor and the codes go; the next sign-in needing two factors enrols.
    let reset = json_of(
        &app.db
            .cli(&["user", "mfa", "reset", "alice", "--json"], None),
    );
    assert_eq!(reset, json!({"username": "alice", "removed": true}));
    let again = json_of(
        &app.db
            .cli(&["user", "mfa", "reset", "alice", "--json"], None),
    );
    assert_eq!(again["removed"], false);
    let otp = app.get("/otp").await;
    assert_eq!(path_of(&app, &otp), "/otp-setup");

    // The same through the admin API, and `user show`'s view there.
    enrol(&app).await;
    let (id, secret) = bootstrap(&app);
    app.clock.advance(10);
    let admin = token(&app, &id, &secret, "latchkey:admin").await;
    let (status, _, detail) = call(
        &app,
        reqwest::Method::GET,
        "/admin/v1/users/alice",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        detail["second_factors"],
        json!({"totp": true, "passkeys": 0, "recovery_codes": 10})
    );
    let path = "/admin/v1/users/alice/mfa/reset";
    let (status, _, reset) = call(&app, reqwest::Method::POST, path, Some(&admin), None).await;
    assert_eq!(
        (status, &reset),
        (200, &json!({"username": "alice", "removed": true}))
    );
    let (status, _, _) = call(&app, reqwest::Method::POST, path, None, None).await;
    assert_eq!(status, 401, "only an admin client");
    let shown = json_of(&app.db.cli(&["user", "show", "alice", "--json"], None));
    assert_eq!(
        shown["second_factors"],
        json!({"totp": false, "passkeys": 0, "recovery_codes": 0})
    );
    // Each reset is an admin change in the audit trail.
    let events = app
        .state
        .store
        .list_audit_events(&latchkey::domain::audit::AuditFilter {
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    let resets = events
        .iter()
        .filter(|e| serde_json::to_string(e).unwrap().contains("mfa_reset"))
        .count();
    assert_eq!(resets, 2);
}

async fn a_client_or_a_role_can_require_two_factors(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let cli = |args: &[&str]| json_of(&app.db.cli(args, None));
    let strict = app
        .register_client(latchkey::domain::client::ClientSpec {
            client_name: "Payroll".into(),
            redirect_uris: vec!["http://127.0.0.1:9/payroll".into()],
            grant_types: vec!["authorization_code".into()],
            scope: "openid".into(),
            auth_method: "client_secret_basic".into(),
            skip_consent: true,
            require_mfa: true,
            ..Default::default()
        })
        .await;
    let relaxed = app.refreshing_client().await;
    app.create_user("alice").await;
    app.create_user("bob").await;
    let shown = cli(&["client", "show", &strict.client_id, "--json"]);
    assert_eq!(shown["require_mfa"], true);

    // The client's flag: alice's password is not enough for Payroll, and she enrols.
    let (first, verifier) = authorize(&app, &strict, &[]).await;
    assert_eq!(path_of(&app, &first), "/login");
    let after_password = app.post_login("alice", PASSWORD).await;
    assert_eq!(path_of(&app, &after_password), "/otp");
    let (_, continued, _) = enrol(&app).await;
    let (id, _) = tokens(&app, &strict, &continued, &verifier).await;
    assert_eq!(id["acr"], ACR_MFA);

    // The other client takes bob's password alone.
    let (_, verifier) = authorize(&app, &relaxed, &[("prompt", "login")]).await;
    let signed_in = app.post_login("bob", PASSWORD).await;
    let (id, _) = tokens(&app, &relaxed, &signed_in, &verifier).await;
    assert_eq!(id["acr"], ACR_PWD);

    // A role's flag: once bob holds `admins`, every sign-in of his needs two factors.
    let role = cli(&["role", "create", "admins", "--require-mfa", "--json"]);
    assert_eq!(role["require_mfa"], true);
    cli(&["user", "add-role", "bob", "admins", "--json"]);
    app.clock.advance(10); // past the catalog cache
    let (_, _) = authorize(&app, &relaxed, &[("prompt", "login")]).await;
    let after_password = app.post_login("bob", PASSWORD).await;
    assert_eq!(path_of(&app, &after_password), "/otp");
    assert_eq!(path_of(&app, &app.get("/otp").await), "/otp-setup");

    // `role update --require-mfa false`: the password is enough again.
    let updated = cli(&[
        "role",
        "update",
        "admins",
        "--require-mfa",
        "false",
        "--json",
    ]);
    assert_eq!(updated["require_mfa"], false);
    app.clock.advance(10);
    let (_, verifier) = authorize(&app, &relaxed, &[("prompt", "login")]).await;
    let signed_in = app.post_login("bob", PASSWORD).await;
    let (id, _) = tokens(&app, &relaxed, &signed_in, &verifier).await;
    assert_eq!(id["acr"], ACR_PWD);
    let shown = cli(&["role", "show", "admins", "--json"]);
    assert_eq!(shown["require_mfa"], false);
}

/// The pages in a real browser: enrolment (the QR code, the secret, the first code), the recovery
/// codes, then a step-up asking only for the code. Screenshots in `target/`.
async fn a_person_enrols_and_uses_an_authenticator_app_in_chromium(backend: Backend) {
    use std::path::Path;
    use std::time::Duration;

    use crate::browser::{Browser, RedirectCatcher};
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn_on(TestDb::new(&backend).await, &["--require-mfa"]).await;
    let catcher = RedirectCatcher::start().await;
    let client = app
        .register_client(latchkey::domain::client::ClientSpec {
            client_name: "Payroll".into(),
            redirect_uris: vec![catcher.redirect_uri()],
            scope: "openid".into(),
            auth_method: "client_secret_basic".into(),
            skip_consent: true,
            ..Default::default()
        })
        .await;
    app.create_user("alice").await;
    let name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres(_) => "postgres",
    };
    let shot = |page: &str| {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/{page}-page-{name}.png"))
    };
    let within = Duration::from_secs(10);
    let (url, _) = app.authorize_url(&client, "openid", &[]);
    browser.goto(&url).await;
    browser.wait_for_url(|u| u.path() == "/login", within).await;
    browser.fill("#username", "alice").await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser
        .wait_for_url(|u| u.path() == "/otp-setup", within)
        .await;
    let page = browser.page_source().await;
    assert!(page.contains("<svg"), "the QR code is in the page");
    let secret = between(&page, r#"<code id="totp-secret">"#, "</code>");
    browser.screenshot(shot("otp-setup")).await;
    browser.fill("#code", &code(&app, &secret)).await;
    browser.click("#confirm").await;
    browser
        .wait_for_text("Save your recovery codes", within)
        .await;
    browser.screenshot(shot("recovery-codes")).await;
    browser.click("#continue").await;
    browser
        .wait_for_url(|u| u.as_str().starts_with(catcher.base_url()), within)
        .await;

    // A new sign-in for this client asks for the password, then only the code.
    app.clock.advance(30);
    let (url, _) = app.authorize_url(&client, "openid", &[("prompt", "login")]);
    browser.goto(&url).await;
    browser.wait_for_url(|u| u.path() == "/login", within).await;
    browser.fill("#username", "alice").await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for_url(|u| u.path() == "/otp", within).await;
    assert!(browser.page_source().await.contains("Payroll"));
    browser.fill("#code", "000000").await;
    browser.click("#verify").await;
    browser.wait_for_text("not right", within).await;
    browser.screenshot(shot("otp")).await;
    browser.fill("#code", &code(&app, &secret)).await;
    browser.click("#verify").await;
    browser
        .wait_for_url(|u| u.as_str().starts_with(catcher.base_url()), within)
        .await;
    browser.close().await;
}

/// RFC 6238 §5.2 and the single use of recovery codes hold under concurrent requests: of eight
/// requests with the same recovery code at once, exactly one signs in.
async fn two_requests_with_the_same_recovery_code_spend_it_once(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let alice = app.create_user("alice").await;
    app.post_login("alice", PASSWORD).await;
    let (_, _, codes) = enrol(&app).await;
    let hash = latchkey::domain::mfa::recovery_code_hash(&codes[0]);
    let now = latchkey::clock::Clock::now(&app.clock);
    let attempts = (0..8).map(|_| {
        let store = app.state.store.clone();
        let (user, hash) = (alice.user_id.clone(), hash.clone());
        tokio::spawn(async move { store.use_recovery_code(&user, &hash, now).await.unwrap() })
    });
    let mut spent = 0;
    for attempt in attempts {
        spent += usize::from(attempt.await.unwrap());
    }
    assert_eq!(spent, 1, "exactly one request spends the code");
    // The same for a TOTP step: one of eight requests with the same step is accepted.
    let step = now / latchkey::domain::mfa::TOTP_STEP + 1;
    let attempts = (0..8).map(|_| {
        let store = app.state.store.clone();
        let user = alice.user_id.clone();
        tokio::spawn(async move { store.use_totp_step(&user, step).await.unwrap() })
    });
    let mut accepted = 0;
    for attempt in attempts {
        accepted += usize::from(attempt.await.unwrap());
    }
    assert_eq!(accepted, 1, "exactly one request uses the step");
}

/// `--require-mfa` also guards the device page (RFC 8628 §3.3): a password alone does not approve a
/// device; after the second factor the browser comes back to the device request.
async fn require_mfa_holds_for_approving_a_device_too(backend: Backend) {
    const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
    let app = TestApp::spawn_on(TestDb::new(&backend).await, &["--require-mfa"]).await;
    let device = app
        .register_client(latchkey::domain::client::ClientSpec {
            client_name: "Living Room TV".into(),
            grant_types: vec![DEVICE_GRANT.into()],
            scope: "openid".into(),
            auth_method: "none".into(),
            ..Default::default()
        })
        .await;
    app.create_user("alice").await;
    let started = app
        .post_client_form("/device_authorization", &device, &[("scope", "openid")])
        .await;
    let body: Value = started.json().await.unwrap();
    let (device_code, user_code) = (text(&body, "device_code"), text(&body, "user_code"));
    let csrf = hidden_value(
        &app.get("/device").await.text().await.unwrap(),
        "csrf_token",
    );
    let entered = app
        .post_form(
            "/device",
            &[("csrf_token", &csrf), ("user_code", &user_code)],
        )
        .await;
    assert_eq!(path_of(&app, &entered), "/device");
    assert_eq!(path_of(&app, &app.get("/device").await), "/login");
    let after_password = app.post_login("alice", PASSWORD).await;
    assert_eq!(path_of(&app, &after_password), "/otp");
    assert_eq!(
        path_of(&app, &app.get("/device").await),
        "/otp",
        "no approval on a password alone"
    );
    let (_, continued, _) = enrol(&app).await;
    assert_eq!(
        path_of(&app, &continued),
        "/device",
        "back to the device request"
    );
    let html = app.get("/device").await.text().await.unwrap();
    assert!(html.contains("Living Room TV"), "{html}");
    let decided = app
        .post_form(
            "/device",
            &[
                ("csrf_token", &hidden_value(&html, "csrf_token")),
                ("request_id", &hidden_value(&html, "request_id")),
                ("decision", "allow"),
            ],
        )
        .await;
    assert_eq!(decided.status(), 200);
    let polled = app
        .post_client_form(
            "/token",
            &device,
            &[("grant_type", DEVICE_GRANT), ("device_code", &device_code)],
        )
        .await;
    assert_eq!(polled.status(), 200);
    let tokens: Value = polled.json().await.unwrap();
    assert_eq!(jwt_claims(&text(&tokens, "id_token"))["acr"], ACR_MFA);
}

/// The client's and the roles' `--require-mfa` hold on the device page as at `/authorize`.
async fn a_device_client_or_a_role_that_requires_two_factors_is_approved_only_with_them(
    backend: Backend,
) {
    const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
    let app = TestApp::spawn(&backend).await;
    let register = |require_mfa: bool| {
        app.register_client(latchkey::domain::client::ClientSpec {
            client_name: "Living Room TV".into(),
            grant_types: vec![DEVICE_GRANT.into()],
            scope: "openid".into(),
            auth_method: "none".into(),
            require_mfa,
            ..Default::default()
        })
    };
    let strict = register(true).await;
    let relaxed = register(false).await;
    app.create_user("alice").await;
    app.post_login("alice", PASSWORD).await;
    // Enter a device's code on the device page: where the browser is sent next.
    let page_after_entering = |client: &TestClient| {
        let app = &app;
        let client = TestClient {
            client_id: client.client_id.clone(),
            secret: client.secret.clone(),
            redirect_uri: client.redirect_uri.clone(),
        };
        async move {
            let started = app
                .post_client_form("/device_authorization", &client, &[("scope", "openid")])
                .await;
            let body: Value = started.json().await.unwrap();
            // The session's CSRF token (the device page itself shows the last request now).
            let csrf = app.csrf_of("/login").await;
            app.post_form(
                "/device",
                &[
                    ("csrf_token", &csrf),
                    ("user_code", &text(&body, "user_code")),
                ],
            )
            .await;
            let page = app.get("/device").await;
            if page.status() == 303 {
                path_of(app, &page)
            } else {
                "approval".to_owned()
            }
        }
    };
    assert_eq!(page_after_entering(&strict).await, "/otp");
    assert_eq!(page_after_entering(&relaxed).await, "approval");
    json_of(&app.db.cli(
        &["role", "create", "admins", "--require-mfa", "--json"],
        None,
    ));
    json_of(
        &app.db
            .cli(&["user", "add-role", "alice", "admins", "--json"], None),
    );
    app.clock.advance(10); // past the catalog cache
    assert_eq!(
        page_after_entering(&relaxed).await,
        "/otp",
        "alice's role asks too"
    );
}
