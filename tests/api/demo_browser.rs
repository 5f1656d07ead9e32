//! The microservices demo's BFF in a real browser: headless Chromium signs in through the gateway and
//! Latchkey's login page, opens each service through the BFF, and signs out through Latchkey's
//! end-session endpoint (which a page's CSP `form-action` could block; only a browser tells).
//! Latchkey serves HTTPS with the demo CA's certificate, which the browser is told to accept by its
//! key (`--ignore-certificate-errors-spki-list`), as a user would import the demo CA.

use std::path::Path;
use std::time::Duration;

use base64::Engine;

use crate::browser::Browser;
use crate::helpers::{Backend, PASSWORD};
use crate::microservices::start_system;

/// Chromium's `--ignore-certificate-errors-spki-list` value for a certificate: base64 SHA-256 of
/// its SubjectPublicKeyInfo.
fn spki_hash(certificate: &[u8]) -> String {
    let (_, parsed) = x509_parser::parse_x509_certificate(certificate).unwrap();
    base64::engine::general_purpose::STANDARD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        parsed.tbs_certificate.subject_pki.raw,
    ))
}

crate::backend_tests!(a_person_uses_the_demo_through_its_bff_in_chromium);

async fn a_person_uses_the_demo_through_its_bff_in_chromium(backend: Backend) {
    let system = start_system(&backend).await;
    let trust_latchkey = format!(
        "--ignore-certificate-errors-spki-list={}",
        spki_hash(&system.pki.latchkey.chain[0])
    );
    let Some(browser) = Browser::start_with(&[trust_latchkey]).await else {
        return;
    };
    let app = &system.app;
    let gateway = system.gateway.as_str();
    app.create_user("alice").await;
    let within = Duration::from_secs(10);

    browser.goto(&format!("{gateway}/")).await;
    browser.click("a[href='/login']").await;
    browser
        .wait_for_url(
            |u| u.path() == "/login" && u.as_str().starts_with(&app.address),
            within,
        )
        .await;
    browser.fill("#username", "alice").await;
    browser.fill("#password", PASSWORD).await;
    browser.click("#sign-in").await;
    browser
        .wait_for_url(|u| u.as_str() == format!("{gateway}/"), within)
        .await;

    // Each service through the BFF, with the session's token for that service's API.
    for (route, expected) in [
        ("service1", r#""inventory_for_user":{"act":{"sub":"#),
        ("service2", r#""service":"B""#),
        ("service3", r#""aud":"https://reports.demo.example""#),
    ] {
        browser.goto(&format!("{gateway}/app/{route}")).await;
        let page = browser.page_source().await;
        assert!(page.contains(expected), "{route}: {page}");
    }

    // Signing out goes through Latchkey's end-session endpoint and back to the demo.
    browser.goto(&format!("{gateway}/")).await;
    browser.click("form[action='/logout'] button").await;
    browser
        .wait_for_url(
            |u| {
                u.as_str()
                    .starts_with(&format!("{gateway}/logged-out?state="))
            },
            within,
        )
        .await;
    let name = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres(_) => "postgres",
    };
    browser
        .screenshot(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join(format!("target/demo-signed-out-{name}.png")),
        )
        .await;
    // Signed out at Latchkey too: signing in again asks for the password.
    browser.goto(&format!("{gateway}/login")).await;
    browser
        .wait_for_url(
            |u| u.path() == "/login" && u.as_str().starts_with(&app.address),
            within,
        )
        .await;
    browser.close().await;
}
