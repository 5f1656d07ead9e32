//! The account page (`/account`): it needs a sign-in (and comes back after it), a two-factor one
//! under `--require-mfa`; every form needs the CSRF token; the password changes only with the current
//! one and to a strong one, and ends every other session and grant; the authenticator app is set up
//! from the page (and back) and removed with the password; recovery codes are replaced (the old ones
//! stop working); other sessions are listed with their address and browser and can be ended; an
//! application's access is revoked with its tokens. In Chromium too, with a screenshot.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::browser::Browser;
use crate::helpers::{Backend, PASSWORD, TestApp, TestClient, TestDb, hidden_value, text};
use crate::mfa::{between, code};

crate::backend_tests!(
    the_account_page_needs_a_sign_in_and_comes_back_after_it,
    under_require_mfa_the_account_page_needs_the_second_factor,
    every_account_form_needs_the_csrf_token,
    a_password_change_needs_the_current_password_and_a_strong_one_and_ends_everything_else,
    an_authenticator_app_is_set_up_from_the_account_page_and_removed_with_the_password,
    new_recovery_codes_replace_the_old_ones,
    other_sessions_are_listed_with_address_and_browser_and_can_be_ended,
    revoking_an_application_revokes_its_tokens_and_only_its_tokens,
    a_person_sees_their_account_page_in_chromium,
    wrong_current_passwords_are_throttled_like_sign_ins,
);

const NEW_PASSWORD: &str = "violet kettle drums at midnight";
const OTHER_BROWSER: &str = "OtherBrowser/2.0 (X11; Linux x86_64)";

/// The page a redirect leads to, on this server.
fn path_of(app: &TestApp, response: &reqwest::Response) -> String {
    let location = response.headers()["location"].to_str().unwrap();
    location.strip_prefix(&app.address).map_or_else(
        || location.to_owned(),
        |p| p.split('?').next().unwrap().to_owned(),
    )
}

/// Submit an account form: `action` and `fields`, with the page's CSRF token.
async fn post_account(app: &TestApp, action: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let csrf = app.csrf_of("/account").await;
    let mut form = vec![("csrf_token", csrf.as_str()), ("action", action)];
    form.extend_from_slice(fields);
    app.post_form("/account", &form).await
}

async fn page(app: &TestApp) -> String {
    let response = app.get("/account").await;
    assert_eq!(response.status(), 200);
    response.text().await.unwrap()
}

/// The recovery codes a page lists.
fn codes_of(html: &str) -> Vec<String> {
    html.split("<li><code>")
        .skip(1)
        .map(|rest| rest.split("</code>").next().unwrap().to_owned())
        .collect()
}

/// Set up the authenticator app from the account page; the secret and the recovery codes. The
/// browser ends up back on the account page.
async fn enrol_from_account(app: &TestApp) -> (String, Vec<String>) {
    let start = post_account(app, "set_up_totp", &[]).await;
    assert_eq!(start.status(), 303);
    assert_eq!(path_of(app, &start), "/otp-setup");
    let setup = app.get("/otp-setup").await.text().await.unwrap();
    let secret = between(&setup, r#"<code id="totp-secret">"#, "</code>");
    let csrf = hidden_value(&setup, "csrf_token");
    let shown = app
        .post_form(
            "/otp-setup",
            &[("csrf_token", &csrf), ("code", &code(app, &secret))],
        )
        .await;
    assert_eq!(shown.status(), 200);
    let html = shown.text().await.unwrap();
    let codes = codes_of(&html);
    assert_eq!(codes.len(), 10, "{html}");
    let csrf = hidden_value(&html, "csrf_token");
    let back = app
        .post_form("/otp-continue", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(back.status(), 303, "back to the account page");
    assert_eq!(path_of(app, &back), "/account");
    (secret, codes)
}

/// A second browser (its own cookies, its own User-Agent) on `app`.
struct OtherBrowser {
    http: reqwest::Client,
    address: String,
}

impl OtherBrowser {
    fn new(app: &TestApp) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .cookie_store(true)
                .user_agent(OTHER_BROWSER)
                .build()
                .unwrap(),
            address: app.address.clone(),
        }
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        let url = format!("{}{path}", self.address);
        self.http.get(url).send().await.unwrap()
    }

    async fn sign_in(&self, password: &str) -> reqwest::Response {
        let html = self.get("/login").await.text().await.unwrap();
        let csrf = hidden_value(&html, "csrf_token");
        self.http
            .post(format!("{}/login", self.address))
            .form(&[
                ("csrf_token", csrf.as_str()),
                ("username", "alice"),
                ("password", password),
            ])
            .send()
            .await
            .unwrap()
    }
}

/// A client that asks for consent and gets refresh tokens.
async fn consenting_client(app: &TestApp, name: &str) -> TestClient {
    app.register_client(latchkey::domain::client::ClientSpec {
        client_name: name.into(),
        redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scope: "openid profile offline_access".into(),
        auth_method: "client_secret_basic".into(),
        ..Default::default()
    })
    .await
}

async fn change_password(
    app: &TestApp,
    current: &str,
    new: &str,
    again: &str,
) -> reqwest::Response {
    post_account(
        app,
        "change_password",
        &[
            ("current_password", current),
            ("new_password", new),
            ("new_password_again", again),
        ],
    )
    .await
}

/// Submit a code at `/otp`; the page answered.
async fn post_otp(app: &TestApp, code: &str) -> String {
    let csrf = app.csrf_of("/otp").await;
    app.post_form("/otp", &[("csrf_token", &csrf), ("code", code)])
        .await
        .text()
        .await
        .unwrap()
}

async fn refresh_error(app: &TestApp, client: &TestClient, refresh_token: &str) -> Option<String> {
    let response = app.refresh(client, refresh_token, None).await;
    let body: Value = response.json().await.unwrap();
    body["error"].as_str().map(str::to_owned)
}

async fn the_account_page_needs_a_sign_in_and_comes_back_after_it(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    app.create_user("alice").await;

    let anonymous = app.get("/account").await;
    assert_eq!(anonymous.status(), 303);
    assert_eq!(path_of(&app, &anonymous), "/login");
    let signed_in = app.post_login("alice", PASSWORD).await;
    assert_eq!(signed_in.status(), 303, "back to the account page");
    assert_eq!(path_of(&app, &signed_in), "/account");

    let html = page(&app).await;
    for expected in [
        "alice@example.com",
        "alice Example",
        r#"id="change-password""#,
        "Not set up",
        r#"id="set-up-totp""#,
        "This browser",
        r#"id="no-applications""#,
    ] {
        assert!(html.contains(expected), "{expected}: {html}");
    }
    // No passkey yet, and none can be added on a server whose issuer is an IP address.
    assert!(html.contains(r#"id="no-passkeys""#), "{html}");
    assert!(!html.contains(r#"id="add-passkey""#), "{html}");
    // Only once: a later sign-in with nothing pending says "Signed in".
    let again = app.post_login("alice", PASSWORD).await;
    assert_eq!(again.status(), 200);
}

async fn under_require_mfa_the_account_page_needs_the_second_factor(backend: Backend) {
    let app = TestApp::spawn_on(TestDb::new(&backend).await, &["--require-mfa"]).await;
    app.create_user("alice").await;
    assert_eq!(path_of(&app, &app.get("/account").await), "/login");
    let after_password = app.post_login("alice", PASSWORD).await;
    assert_eq!(path_of(&app, &after_password), "/otp");
    // A password session is not enough for the page.
    assert_eq!(path_of(&app, &app.get("/account").await), "/otp");
    assert_eq!(path_of(&app, &app.get("/otp").await), "/otp-setup");
    let setup = app.get("/otp-setup").await.text().await.unwrap();
    let secret = between(&setup, r#"<code id="totp-secret">"#, "</code>");
    let csrf = hidden_value(&setup, "csrf_token");
    let codes = app
        .post_form(
            "/otp-setup",
            &[("csrf_token", &csrf), ("code", &code(&app, &secret))],
        )
        .await
        .text()
        .await
        .unwrap();
    let csrf = hidden_value(&codes, "csrf_token");
    let back = app
        .post_form("/otp-continue", &[("csrf_token", &csrf)])
        .await;
    assert_eq!(path_of(&app, &back), "/account");
    let html = page(&app).await;
    assert!(html.contains("Set up: signing in asks"), "{html}");
    // Required for everyone: no "Remove" button, and the action is refused.
    assert!(!html.contains(r#"id="remove-totp""#), "{html}");
    let refused = post_account(&app, "remove_totp", &[("current_password", PASSWORD)]).await;
    let refused = refused.text().await.unwrap();
    assert!(
        refused.contains("requires a second factor for everyone"),
        "{refused}"
    );
}

async fn every_account_form_needs_the_csrf_token(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    app.create_user("alice").await;
    app.post_login("alice", PASSWORD).await;
    for (action, field, value) in [
        ("change_password", "current_password", PASSWORD),
        ("set_up_totp", "x", ""),
        ("remove_totp", "current_password", PASSWORD),
        ("regenerate_recovery_codes", "current_password", PASSWORD),
        ("end_session", "sid", "anything"),
        ("revoke_app", "client_id", "anything"),
    ] {
        let missing = app
            .post_form("/account", &[("action", action), (field, value)])
            .await;
        assert_eq!(missing.status(), 403, "{action} without a token");
        let wrong = app
            .post_form(
                "/account",
                &[("csrf_token", "forged"), ("action", action), (field, value)],
            )
            .await;
        assert_eq!(wrong.status(), 403, "{action} with a wrong token");
    }
    // A session that never signed in gets no further than the token either.
    let stranger = OtherBrowser::new(&app);
    let response = stranger
        .http
        .post(format!("{}/account", app.address))
        .form(&[("action", "change_password")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
}

async fn a_password_change_needs_the_current_password_and_a_strong_one_and_ends_everything_else(
    backend: Backend,
) {
    let app = TestApp::spawn(&backend).await;
    app.create_user("alice").await;
    let client = app.refreshing_client().await;
    // Another browser and an application hold sessions and tokens of alice's.
    let other = OtherBrowser::new(&app);
    other.sign_in(PASSWORD).await;
    assert_eq!(other.get("/account").await.status(), 200);
    let tokens = app
        .tokens_for(&client, "alice", "openid offline_access")
        .await;
    let refresh_token = text(&tokens, "refresh_token");
    let access_token = text(&tokens, "access_token");
    assert_eq!(app.get("/account").await.status(), 200);

    // (case, current, new, again, what the page says)
    let refusals = [
        (
            "ASVS 2.1.6: the current password is required",
            "not my password",
            NEW_PASSWORD,
            NEW_PASSWORD,
            "current password is not right",
        ),
        (
            "ASVS 2.1.7: a guessable one is refused",
            PASSWORD,
            "password123",
            "password123",
            "Choose another password",
        ),
        (
            "the confirmation must match",
            PASSWORD,
            NEW_PASSWORD,
            "violet kettle drums at noon",
            "confirmation differ",
        ),
        (
            "the same password again",
            PASSWORD,
            PASSWORD,
            PASSWORD,
            "must differ",
        ),
    ];
    for (case, current, new, again, says) in refusals {
        let response = change_password(&app, current, new, again).await;
        assert_eq!(response.status(), 200, "{case}");
        let html = response.text().await.unwrap();
        assert!(html.contains(says), "{case}: {html}");
        assert!(html.contains(r#"id="account-error""#), "{case}");
    }
    // Nothing ended yet.
    assert_eq!(other.get("/account").await.status(), 200);
    assert_eq!(refresh_error(&app, &client, &refresh_token).await, None);
    let rotated = app.refresh(&client, &refresh_token, None).await;
    let refresh_token = text(&rotated.json().await.unwrap(), "refresh_token");

    let changed = change_password(&app, PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(changed.status(), 200);
    let html = changed.text().await.unwrap();
    assert!(html.contains("Your password is changed"), "{html}");
    // This browser goes on (under a new session id); the other one is signed out.
    assert_eq!(app.get("/account").await.status(), 200);
    assert_eq!(path_of(&app, &other.get("/account").await), "/login");
    // Every grant is revoked: refresh tokens refused, access tokens inactive.
    assert_eq!(
        refresh_error(&app, &client, &refresh_token)
            .await
            .as_deref(),
        Some("invalid_grant")
    );
    assert_eq!(
        app.introspect(&client, &access_token).await["active"],
        false
    );
    // The new password signs in; the old one no longer does.
    assert_eq!(other.sign_in(PASSWORD).await.status(), 200);
    assert_eq!(other.get("/account").await.status(), 303);
    other.sign_in(NEW_PASSWORD).await;
    assert_eq!(other.get("/account").await.status(), 200);
    // The audit trail says so, never with the password.
    let events = app.db.cli(&["audit", "list", "--json"], None);
    let events = String::from_utf8_lossy(&events.stdout).into_owned();
    assert!(events.contains("account.password_changed"), "{events}");
    assert!(!events.contains(NEW_PASSWORD));
}

async fn an_authenticator_app_is_set_up_from_the_account_page_and_removed_with_the_password(
    backend: Backend,
) {
    let app = TestApp::spawn(&backend).await;
    app.create_user("alice").await;
    app.post_login("alice", PASSWORD).await;
    enrol_from_account(&app).await;
    let html = page(&app).await;
    assert!(html.contains("Set up: signing in asks"), "{html}");
    assert!(
        html.contains(r#"<span id="recovery-codes-left">10</span>"#),
        "{html}"
    );
    // Set up already: the page refuses a second one.
    let again = post_account(&app, "set_up_totp", &[]).await;
    assert_eq!(again.status(), 200);
    assert!(again.text().await.unwrap().contains("set up already"));

    let wrong = post_account(&app, "remove_totp", &[("current_password", "nope")]).await;
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("current password is not right")
    );
    assert!(page(&app).await.contains("Set up: signing in asks"));
    let removed = post_account(&app, "remove_totp", &[("current_password", PASSWORD)]).await;
    let html = removed.text().await.unwrap();
    assert!(html.contains("are removed"), "{html}");
    assert!(html.contains("Not set up"), "{html}");
    assert!(!html.contains(r#"id="recovery-codes-left""#), "{html}");
    let user = app
        .state
        .store
        .find_user_by_username("alice")
        .await
        .unwrap()
        .unwrap();
    assert!(
        app.state
            .store
            .find_totp(&user.user_id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        app.state
            .store
            .count_recovery_codes(&user.user_id)
            .await
            .unwrap(),
        0
    );
}

async fn new_recovery_codes_replace_the_old_ones(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    app.create_user("alice").await;
    app.post_login("alice", PASSWORD).await;
    // No factor, no recovery codes.
    let refused = post_account(
        &app,
        "regenerate_recovery_codes",
        &[("current_password", PASSWORD)],
    )
    .await;
    assert!(refused.text().await.unwrap().contains("set one up first"));
    let (_, old) = enrol_from_account(&app).await;

    let wrong = post_account(
        &app,
        "regenerate_recovery_codes",
        &[("current_password", "nope")],
    )
    .await;
    assert!(
        wrong
            .text()
            .await
            .unwrap()
            .contains("current password is not right")
    );
    let shown = post_account(
        &app,
        "regenerate_recovery_codes",
        &[("current_password", PASSWORD)],
    )
    .await;
    assert_eq!(shown.status(), 200);
    let html = shown.text().await.unwrap();
    let new = codes_of(&html);
    assert_eq!(new.len(), 10, "{html}");
    assert!(new.iter().all(|code| !old.contains(code)));
    assert!(html.contains(r#"href="account""#), "a way back: {html}");

    // The old codes are refused at /otp; a new one works, once.
    assert!(post_otp(&app, &old[0]).await.contains("not right"));
    assert!(!post_otp(&app, &new[0]).await.contains("not right"));
    assert!(post_otp(&app, &new[0]).await.contains("not right"));
    assert!(
        page(&app)
            .await
            .contains(r#"<span id="recovery-codes-left">9</span>"#)
    );
    let events = app.db.cli(&["audit", "list", "--json"], None);
    let events = String::from_utf8_lossy(&events.stdout).into_owned();
    assert!(events.contains("account.recovery_codes_regenerated"));
    assert!(new.iter().all(|code| !events.contains(code.as_str())));
}

async fn other_sessions_are_listed_with_address_and_browser_and_can_be_ended(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    app.create_user("alice").await;
    let other = OtherBrowser::new(&app);
    other.sign_in(PASSWORD).await;
    app.post_login("alice", PASSWORD).await;

    let html = page(&app).await;
    assert!(html.contains(OTHER_BROWSER), "the other browser: {html}");
    assert!(html.contains(">127.0.0.1</span>"), "its address: {html}");
    assert!(html.contains("A browser on Linux"), "its device: {html}");
    assert_eq!(html.matches(r#"<li class="row"#).count(), 2, "{html}");
    assert_eq!(html.matches("This browser").count(), 1);
    // Only the other session can be ended here; it is named by its `sid`, never its cookie.
    let sid = hidden_value(&html, "sid");
    let ended = post_account(&app, "end_session", &[("sid", &sid)]).await;
    let html = ended.text().await.unwrap();
    assert!(html.contains("The session is ended"), "{html}");
    assert!(!html.contains(OTHER_BROWSER), "{html}");
    assert_eq!(path_of(&app, &other.get("/account").await), "/login");
    // Ending it again, or a session of someone else's, changes nothing.
    let again = post_account(&app, "end_session", &[("sid", &sid)]).await;
    assert!(again.text().await.unwrap().contains("ended already"));
    assert_eq!(app.get("/account").await.status(), 200);
}

async fn revoking_an_application_revokes_its_tokens_and_only_its_tokens(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    app.create_user("alice").await;
    let notes = consenting_client(&app, "Notes").await;
    let calendar = consenting_client(&app, "Calendar").await;
    let notes_tokens = app
        .tokens_for(&notes, "alice", "openid profile offline_access")
        .await;
    let calendar_tokens = app
        .tokens_for(&calendar, "alice", "openid offline_access")
        .await;

    let html = page(&app).await;
    assert!(
        html.contains("Notes") && html.contains("Calendar"),
        "{html}"
    );
    assert!(html.contains("<code>profile</code>"), "{html}");
    let revoked = post_account(&app, "revoke_app", &[("client_id", &notes.client_id)]).await;
    let html = revoked.text().await.unwrap();
    assert!(html.contains("access is revoked"), "{html}");
    assert!(!html.contains("Notes"), "{html}");
    assert!(html.contains("Calendar"), "{html}");

    // RFC 7009 §2.1: the grant's refresh token is refused, its access token inactive.
    assert_eq!(
        refresh_error(&app, &notes, &text(&notes_tokens, "refresh_token"))
            .await
            .as_deref(),
        Some("invalid_grant")
    );
    assert_eq!(
        app.introspect(&notes, &text(&notes_tokens, "access_token"))
            .await["active"],
        false
    );
    // The other application keeps its access.
    assert_eq!(
        refresh_error(&app, &calendar, &text(&calendar_tokens, "refresh_token")).await,
        None
    );
    // The consent is gone: the next authorization asks again.
    let (url, _) = app.authorize_url(&notes, "openid", &[]);
    let asked = app.get_url(&url).await;
    assert_eq!(path_of(&app, &asked), "/consent");
    // Revoking it again finds nothing.
    let again = post_account(&app, "revoke_app", &[("client_id", &notes.client_id)]).await;
    assert!(again.text().await.unwrap().contains("not connected"));
    let events = app.db.cli(&["audit", "list", "--json"], None);
    assert!(String::from_utf8_lossy(&events.stdout).contains("account.consent_revoked"));
}

async fn a_person_sees_their_account_page_in_chromium(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    app.create_user("alice").await;
    let notes = consenting_client(&app, "Notes").await;
    app.tokens_for(&notes, "alice", "openid profile offline_access")
        .await;
    OtherBrowser::new(&app).sign_in(PASSWORD).await;
    let Some(browser) = Browser::start_with(&["--window-size=1024,2000".to_owned()]).await else {
        return;
    };
    let within = Duration::from_secs(10);
    browser.goto(&format!("{}/account", app.address)).await;
    browser.wait_for_url(|u| u.path() == "/login", within).await;
    browser.fill("#username", "alice").await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser
        .wait_for_url(|u| u.path() == "/account", within)
        .await;
    let html = browser
        .wait_for_text("Connected applications", within)
        .await;
    assert!(
        html.contains("Notes") && html.contains(OTHER_BROWSER),
        "{html}"
    );
    let name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres(_) => "postgres",
    };
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    browser
        .screenshot(target.join(format!("account-page-{name}.png")))
        .await;

    // Set up the authenticator app from the page, and come back to it.
    browser.click("#set-up-totp").await;
    browser
        .wait_for_url(|u| u.path() == "/otp-setup", within)
        .await;
    let setup = browser.page_source().await;
    let secret = between(&setup, r#"<code id="totp-secret">"#, "</code>");
    browser.fill("#code", &code(&app, &secret)).await;
    browser.click("#confirm").await;
    browser.wait_for_text("recovery codes", within).await;
    browser.click("#continue").await;
    browser
        .wait_for_url(|u| u.path() == "/account", within)
        .await;
    let html = browser.wait_for_text("Recovery codes", within).await;
    assert!(html.contains("Set up: signing in asks"), "{html}");
    browser
        .screenshot(target.join(format!("account-page-mfa-{name}.png")))
        .await;
    browser.close().await;
}

/// OWASP ASVS 2.2.1: the account page's password checks are reserved in the sign-in throttle, so a
/// stolen session cannot guess the password there either: past the limit even the right password
/// gets the 429 page, and nothing changes.
async fn wrong_current_passwords_are_throttled_like_sign_ins(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    app.create_user("alice").await;
    app.post_login("alice", PASSWORD).await;
    assert_eq!(app.get("/account").await.status(), 200);
    let limit = latchkey::oauth::throttle::MAX_ATTEMPTS_PER_USERNAME_AND_NETWORK;
    for _ in 0..limit {
        let wrong = change_password(&app, "not my password", NEW_PASSWORD, NEW_PASSWORD).await;
        assert_eq!(wrong.status(), 200);
    }
    let throttled = change_password(&app, PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(throttled.status(), 429);
    assert!(throttled.headers().contains_key("retry-after"));
    // The password did not change: the old one still signs in once the window has passed.
    app.clock.advance(3600);
    let again = app.post_login("alice", PASSWORD).await;
    assert_eq!(again.status(), 200, "the old password still works");
}
