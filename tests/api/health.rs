//! `/healthz`, `/readyz`, and the headers every response carries.

use crate::helpers::{Backend, TestApp};

crate::backend_tests!(
    healthz_and_readyz_answer_when_the_store_is_up,
    security_headers_are_on_every_response,
    every_response_carries_a_request_id,
);

async fn healthz_and_readyz_answer_when_the_store_is_up(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let live = app.get("/healthz").await;
    assert_eq!(live.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
}

async fn security_headers_are_on_every_response(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    for path in [
        "/jwks",
        "/.well-known/openid-configuration",
        "/readyz",
        "/no-such-page",
    ] {
        let response = app.get(path).await;
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert!(
            headers.get("strict-transport-security").is_none(),
            "http issuer: no HSTS"
        );
    }
}

async fn every_response_carries_a_request_id(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let first = app.get("/healthz").await;
    let second = app.get("/healthz").await;
    let id = |r: &reqwest::Response| r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(id(&first).len() >= 16);
    assert_ne!(id(&first), id(&second));
}
