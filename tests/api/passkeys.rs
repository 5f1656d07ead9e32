//! Passkeys (WebAuthn Level 3) in a real browser: Chromium with the WebDriver virtual
//! authenticator (WebAuthn §11) registers one from the account page, signs in with it alone and
//! as the second factor after the password, with RFC 8176 `hwk` and `urn:latchkey:acr:mfa` in the
//! tokens; a ceremony is finished once even when its answer is posted eight times at once; the
//! account page removes it. Without a browser: what the endpoints refuse, and that a server whose
//! issuer is an IP address offers no passkeys.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};

use crate::browser::{Browser, RedirectCatcher};
use crate::helpers::{
    Backend, PASSWORD, TestApp, TestClient, TestDb, hidden_value, jwt_claims, query_param, text,
};

crate::backend_tests!(
    a_person_adds_a_passkey_and_signs_in_with_it_in_chromium,
    under_require_mfa_a_user_enrols_a_passkey_right_after_the_password,
    the_passkey_endpoints_refuse_what_they_must,
);

const ACR_MFA: &str = "urn:latchkey:acr:mfa";
const WITHIN: Duration = Duration::from_secs(15);

fn shot(backend: &Backend, page: &str) -> PathBuf {
    let name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres(_) => "postgres",
    };
    Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/{page}-page-{name}.png"))
}

/// The ID token's and access token's claims for the code the browser was sent back with.
async fn tokens(
    app: &TestApp,
    client: &TestClient,
    landed: &url::Url,
    verifier: &str,
) -> (Value, Value) {
    let code = query_param(landed, "code").expect("a code");
    let redeemed = app.redeem_code(client, &code, verifier).await;
    assert_eq!(redeemed.status(), 200);
    let body: Value = redeemed.json().await.unwrap();
    (
        jwt_claims(&text(&body, "id_token")),
        jwt_claims(&text(&body, "access_token")),
    )
}

/// In the page: begin a passwordless sign-in, have the authenticator answer, and post that one
/// answer eight times at once and once more after; how many signed in, each time.
const REPLAY: &str = r#"
const done = arguments[arguments.length - 1];
(async () => {
  const csrf = document.querySelector('#passkey-sign-in input[name=csrf_token]').value;
  const begun = await fetch('passkey/options', {
    method: 'POST', body: new URLSearchParams({csrf_token: csrf, purpose: 'sign_in'}),
  });
  const options = await begun.json();
  const credential = await navigator.credentials.get({
    publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options),
  });
  const answer = JSON.stringify(credential.toJSON());
  const post = () => fetch('login/passkey', {
    method: 'POST', redirect: 'manual',
    body: new URLSearchParams({csrf_token: csrf, credential: answer}),
  }).then(r => r.text()).then(t => t.includes('You are signed in') ? 1 : 0);
  const at_once = await Promise.all(Array.from({length: 8}, post));
  const after = await post();
  done({signed_in: at_once.reduce((a, b) => a + b, 0), after});
})().catch(e => done({error: String(e)}));
"#;

/// Register a passkey from the account page, sign in with it alone and after the password, replay
/// its answer, and remove it; screenshots of the pages in `target/`.
async fn a_person_adds_a_passkey_and_signs_in_with_it_in_chromium(backend: Backend) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn_on_localhost(TestDb::new(&backend).await, &[]).await;
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
    let alice = app.create_user("alice").await;
    let authenticator = browser.add_virtual_authenticator().await;

    // The account page, after the password; "Add a passkey" creates one on the authenticator.
    browser.goto(&format!("{}/account", app.address)).await;
    browser.wait_for_url(|u| u.path() == "/login", WITHIN).await;
    browser.fill("#username", "alice").await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser
        .wait_for_url(|u| u.path() == "/account", WITHIN)
        .await;
    browser.click("#add-passkey").await;
    browser
        .wait_for_url(|u| u.path() == "/passkey-setup", WITHIN)
        .await;
    browser.fill("#passkey-name", "Laptop").await;
    browser.screenshot(shot(&backend, "passkey-setup")).await;
    browser.click("#create-passkey").await;
    // Her first second factor: ten recovery codes come with it.
    browser
        .wait_for_text("Save your recovery codes", WITHIN)
        .await;
    browser.click("#continue").await;
    browser
        .wait_for_url(|u| u.path() == "/account", WITHIN)
        .await;
    let page = browser.wait_for_text("Laptop", WITHIN).await;
    assert!(page.contains("10</span> of 10 left"), "{page}");
    let scroll = "document.getElementById('passkeys').scrollIntoView(); arguments[0](null);";
    browser.run_async(scroll, Vec::new()).await;
    browser.screenshot(shot(&backend, "account-passkeys")).await;
    let held = browser.virtual_credentials(&authenticator).await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(
        held[0]["isResidentCredential"], true,
        "a discoverable credential"
    );
    let store = app.state.store.clone();
    let stored = store.list_passkeys(&alice.user_id).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].name, "Laptop");

    // Passwordless: the login page's passkey button alone signs her in, as two factors.
    app.clock.advance(5);
    let (url, verifier) = app.authorize_url(&client, "openid", &[("prompt", "login")]);
    browser.goto(&url).await;
    browser.wait_for_url(|u| u.path() == "/login", WITHIN).await;
    browser.screenshot(shot(&backend, "login-passkey")).await;
    browser.click("#sign-in-passkey").await;
    let landed = browser
        .wait_for_url(|u| u.as_str().starts_with(catcher.base_url()), WITHIN)
        .await;
    let (id, access) = tokens(&app, &client, &landed, &verifier).await;
    assert_eq!(id["amr"], json!(["hwk", "mfa"]), "{id}");
    assert_eq!(id["acr"], ACR_MFA);
    assert_eq!(id["sub"], alice.user_id.as_str());
    assert_eq!(access["acr"], ACR_MFA);
    let used = store.list_passkeys(&alice.user_id).await.unwrap();
    assert!(used[0].last_used_at.is_some());
    assert_ne!(
        used[0].dynamic_state, stored[0].dynamic_state,
        "the counter moved"
    );

    // After the password, a two-factor request asks for the passkey (she has no app).
    app.clock.advance(5);
    let (url, verifier) = app.authorize_url(
        &client,
        "openid",
        &[("prompt", "login"), ("acr_values", ACR_MFA)],
    );
    browser.goto(&url).await;
    browser.wait_for_url(|u| u.path() == "/login", WITHIN).await;
    browser.fill("#username", "alice").await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser.wait_for_url(|u| u.path() == "/otp", WITHIN).await;
    let page = browser.page_source().await;
    assert!(
        page.contains("Use a passkey") && page.contains("Payroll"),
        "{page}"
    );
    assert!(
        page.contains("recovery code"),
        "the recovery codes still work: {page}"
    );
    browser.screenshot(shot(&backend, "otp-passkey")).await;
    browser.click("#use-passkey").await;
    let landed = browser
        .wait_for_url(|u| u.as_str().starts_with(catcher.base_url()), WITHIN)
        .await;
    let (id, access) = tokens(&app, &client, &landed, &verifier).await;
    assert_eq!(id["amr"], json!(["pwd", "hwk", "mfa"]), "{id}");
    assert_eq!(access["acr"], ACR_MFA);

    // One answer, posted eight times at once and once more: one sign-in.
    browser.goto(&format!("{}/login", app.address)).await;
    let replayed = browser.run_async(REPLAY, Vec::new()).await;
    assert_eq!(replayed["signed_in"], 1, "{replayed}");
    assert_eq!(replayed["after"], 0, "{replayed}");

    // The account page removes it, with the password; the recovery codes go with the last factor.
    // Which of the nine answers' cookies the browser kept is a race: sign in again if needed.
    browser.goto(&format!("{}/account", app.address)).await;
    let at = browser
        .wait_for_url(|u| u.path() == "/account" || u.path() == "/login", WITHIN)
        .await;
    if at.path() == "/login" {
        browser.click("#sign-in-passkey").await;
        browser
            .wait_for_url(|u| u.path() == "/account", WITHIN)
            .await;
    }
    browser.fill("#remove-passkey-password-1", PASSWORD).await;
    browser.click(".remove-passkey button").await;
    browser
        .wait_for_text("The passkey is removed.", WITHIN)
        .await;
    assert!(
        store
            .list_passkeys(&alice.user_id)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.count_recovery_codes(&alice.user_id).await.unwrap(), 0);
    let events = store
        .list_audit_events(&latchkey::domain::audit::AuditFilter {
            limit: 1000,
            ..Default::default()
        })
        .await
        .unwrap();
    let kinds: Vec<&str> = events
        .iter()
        .filter(|e| e.detail.to_string().contains("passkey"))
        .map(|e| e.event_type.as_str())
        .collect();
    for kind in [
        "second_factor.enrolled",
        "sign_in.succeeded",
        "account.second_factor_removed",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    browser.close().await;
}

/// `--require-mfa`: a user without a factor chooses a passkey at enrolment, right after the
/// password, and is asked for it at the next sign-in.
async fn under_require_mfa_a_user_enrols_a_passkey_right_after_the_password(backend: Backend) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn_on_localhost(TestDb::new(&backend).await, &["--require-mfa"]).await;
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
    browser.add_virtual_authenticator().await;
    let sign_in = |extra: &'static [(&'static str, &'static str)]| {
        let (url, verifier) = app.authorize_url(&client, "openid", extra);
        let browser = &browser;
        async move {
            browser.goto(&url).await;
            browser.wait_for_url(|u| u.path() == "/login", WITHIN).await;
            browser.fill("#username", "alice").await;
            browser.fill("#password", PASSWORD).await;
            browser.click("#sign-in").await;
            verifier
        }
    };
    let verifier = sign_in(&[]).await;
    browser
        .wait_for_url(|u| u.path() == "/otp-setup", WITHIN)
        .await;
    browser.click("#use-passkey-instead").await;
    browser
        .wait_for_url(|u| u.path() == "/passkey-setup", WITHIN)
        .await;
    let page = browser.page_source().await;
    assert!(
        page.contains("This sign-in needs a second factor"),
        "{page}"
    );
    browser.click("#create-passkey").await;
    browser
        .wait_for_text("Save your recovery codes", WITHIN)
        .await;
    browser.click("#continue").await;
    let landed = browser
        .wait_for_url(|u| u.as_str().starts_with(catcher.base_url()), WITHIN)
        .await;
    let (id, _) = tokens(&app, &client, &landed, &verifier).await;
    assert_eq!(id["amr"], json!(["pwd", "hwk", "mfa"]), "{id}");
    assert_eq!(id["acr"], ACR_MFA);

    // The next sign-in asks for the passkey after the password; nothing gets past it without.
    app.clock.advance(5);
    let verifier = sign_in(&[("prompt", "login")]).await;
    browser.wait_for_url(|u| u.path() == "/otp", WITHIN).await;
    browser.click("#use-passkey").await;
    let landed = browser
        .wait_for_url(|u| u.as_str().starts_with(catcher.base_url()), WITHIN)
        .await;
    let (id, _) = tokens(&app, &client, &landed, &verifier).await;
    assert_eq!(id["amr"], json!(["pwd", "hwk", "mfa"]), "{id}");
    browser.close().await;
}

/// Without a browser: CSRF, purposes, who may begin what, and a server on an IP address.
async fn the_passkey_endpoints_refuse_what_they_must(backend: Backend) {
    let app = TestApp::spawn_on_localhost(TestDb::new(&backend).await, &[]).await;
    app.create_user("alice").await;
    let login = app.get("/login").await;
    let csp = login.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    let html = login.text().await.unwrap();
    assert!(html.contains(r#"id="passkey-sign-in""#) && html.contains("static/passkey.js"));
    let script = app.get("/static/passkey.js").await;
    assert_eq!(script.status(), 200);
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );

    let csrf = hidden_value(&html, "csrf_token");
    let options = |purpose: &'static str, csrf: String| {
        let app = &app;
        async move {
            app.post_form(
                "/passkey/options",
                &[("csrf_token", csrf.as_str()), ("purpose", purpose)],
            )
            .await
        }
    };
    assert_eq!(options("sign_in", "forged".into()).await.status(), 403);
    assert_eq!(options("bogus", csrf.clone()).await.status(), 400);
    assert_eq!(
        options("register", csrf.clone()).await.status(),
        403,
        "sign in first"
    );
    assert_eq!(options("second_factor", csrf.clone()).await.status(), 403);
    let begun = options("sign_in", csrf.clone()).await;
    assert_eq!(begun.status(), 200);
    assert_eq!(begun.headers()["cache-control"], "no-store");
    let body: Value = begun.json().await.unwrap();
    assert_eq!(body["rpId"], "localhost");
    assert_eq!(body["userVerification"], "required");
    assert!(
        body["challenge"].as_str().is_some_and(|c| c.len() >= 22),
        "{body}"
    );

    // A made-up answer, then the same again: refused both times (the ceremony went with the
    // first), and never a 500.
    for credential in ["{}", "not json", "{}"] {
        let refused = app
            .post_form(
                "/login/passkey",
                &[("csrf_token", csrf.as_str()), ("credential", credential)],
            )
            .await;
        assert_eq!(refused.status(), 200);
        assert!(refused.text().await.unwrap().contains("not accepted"));
    }
    let oversized = "x".repeat(20 * 1024);
    let refused = app
        .post_form(
            "/login/passkey",
            &[
                ("csrf_token", csrf.as_str()),
                ("credential", oversized.as_str()),
            ],
        )
        .await;
    assert!(refused.text().await.unwrap().contains("not accepted"));

    // Signed in with a password: registration options for her, no second factor to use yet.
    let signed_in = app.post_login("alice", PASSWORD).await;
    assert!(signed_in.status().is_success() || signed_in.status().is_redirection());
    let csrf = app.csrf_of("/account").await;
    let begun = options("register", csrf.clone()).await;
    assert_eq!(begun.status(), 200);
    let body: Value = begun.json().await.unwrap();
    assert_eq!(body["user"]["name"], "alice");
    assert_eq!(body["rp"]["id"], "localhost");
    assert_eq!(body["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(body["attestation"], "none");
    assert_eq!(options("second_factor", csrf.clone()).await.status(), 400);

    // With an authenticator app, a password-only session must prove it before adding a passkey.
    let _ = crate::mfa::enrol(&app).await;
    let again = app.post_login("alice", PASSWORD).await;
    assert!(again.status().is_success() || again.status().is_redirection());
    let csrf = app.csrf_of("/login").await;
    assert_eq!(options("register", csrf).await.status(), 403);
    let setup = app.get("/passkey-setup").await;
    assert_eq!(setup.status(), 303, "to the code first");

    // Wrong passkey answers as the second factor count like wrong codes: reserved in the sign-in
    // throttle before they are looked at, so past the limit the answer is 429 whatever it holds.
    let store = app.state.store.clone();
    let alice = store.find_user_by_username("alice").await.unwrap().unwrap();
    let enrolled = latchkey::domain::audit::AuditEvent::new(
        latchkey::domain::audit::EventType::SecondFactorEnrolled,
        0,
        "test",
    );
    let fake = latchkey::domain::passkey::Passkey {
        credential_id: b"a-credential-id-of-32-bytes-long".to_vec(),
        user_id: alice.user_id.clone(),
        name: "Key".into(),
        static_state: vec![0; 8],
        dynamic_state: vec![0; 7],
        transports: 0,
        created_at: 0,
        last_used_at: None,
    };
    let done = latchkey::domain::audit::InTransaction::done(&enrolled);
    assert!(store.add_passkey(&fake, None, done).await.unwrap());
    let csrf = app.csrf_of("/otp").await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        assert_eq!(options("second_factor", csrf.clone()).await.status(), 200);
        let answered = app
            .post_form(
                "/otp/passkey",
                &[("csrf_token", csrf.as_str()), ("credential", "{}")],
            )
            .await;
        statuses.push(answered.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 200, 429], "{statuses:?}");

    // On an IP address there are no passkeys: no button, and no ceremony.
    let on_ip = TestApp::spawn(&backend).await;
    let html = on_ip.get("/login").await.text().await.unwrap();
    assert!(!html.contains("passkey-sign-in"), "{html}");
    let csrf = hidden_value(&html, "csrf_token");
    let refused = on_ip
        .post_form(
            "/passkey/options",
            &[("csrf_token", csrf.as_str()), ("purpose", "sign_in")],
        )
        .await;
    assert_eq!(refused.status(), 400);
}
