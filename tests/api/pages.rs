//! The sign-in pages in a real browser: headless Chromium types and clicks through login and consent.

use std::path::Path;
use std::time::Duration;

use crate::browser::{Browser, RedirectCatcher};
use crate::helpers::{Backend, PASSWORD, TestApp, query_param};

crate::backend_tests!(a_person_signs_in_through_the_login_and_consent_pages_in_chromium);

async fn a_person_signs_in_through_the_login_and_consent_pages_in_chromium(backend: Backend) {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let app = TestApp::spawn(&backend).await;
    let catcher = RedirectCatcher::start().await;
    let client = app
        .register_client(latchkey::domain::client::ClientSpec {
            client_name: "Orders Web".into(),
            redirect_uris: vec![catcher.redirect_uri()],
            scope: "openid profile email".into(),
            auth_method: "client_secret_basic".into(),
            ..Default::default()
        })
        .await;
    app.create_user("alice").await;
    let (url, verifier) = app.authorize_url(&client, "openid profile", &[]);

    browser.goto(&url).await;
    let login = browser
        .wait_for_url(|u| u.path() == "/login", Duration::from_secs(10))
        .await;
    assert!(login.as_str().starts_with(&app.address));
    let page = browser.page_source().await;
    assert!(
        page.contains("Orders Web"),
        "the login page names the client"
    );
    let name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres(_) => "postgres",
    };
    browser.fill("#username", "alice").await;
    browser
        .screenshot(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/login-page-{name}.png")),
        )
        .await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;

    browser
        .wait_for_url(|u| u.path() == "/consent", Duration::from_secs(10))
        .await;
    let consent = browser.page_source().await;
    assert!(
        consent.contains("Read your name and username"),
        "scope descriptions are shown"
    );
    browser
        .screenshot(
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("target/consent-page-{name}.png")),
        )
        .await;
    browser.click("#allow").await;

    let landed = browser
        .wait_for_url(
            |u| u.as_str().starts_with(catcher.base_url()),
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(query_param(&landed, "state").as_deref(), Some("st-123"));
    assert_eq!(
        query_param(&landed, "iss").as_deref(),
        Some(app.address.as_str())
    );
    let code = query_param(&landed, "code").unwrap();
    let response = app.redeem_code(&client, &code, &verifier).await;
    assert_eq!(
        response.status(),
        200,
        "the code the browser carried is redeemable"
    );
    browser.close().await;
}
