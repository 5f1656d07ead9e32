//! `/.well-known/openid-configuration` and `/.well-known/oauth-authorization-server`.

use crate::helpers::{Backend, TestApp, TestDb};

crate::backend_tests!(
    discovery_names_the_issuer_exactly_and_the_jwks_uri,
    both_metadata_paths_serve_the_same_document,
    an_issuer_with_a_path_keeps_it_and_drops_a_trailing_slash_from_endpoints,
);

async fn discovery_names_the_issuer_exactly_and_the_jwks_uri(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let response = app.get("/.well-known/openid-configuration").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let doc: serde_json::Value = response.json().await.unwrap();
    assert_eq!(doc["issuer"], app.address);
    assert_eq!(doc["jwks_uri"], format!("{}/jwks", app.address));
    assert_eq!(
        doc["subject_types_supported"],
        serde_json::json!(["public"])
    );
    assert!(
        doc["id_token_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&"RS256".into()),
        "OIDC Core §15.1: RS256 is always offered"
    );
}

async fn both_metadata_paths_serve_the_same_document(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let oidc = app.get_discovery().await;
    let oauth: serde_json::Value = app
        .get("/.well-known/oauth-authorization-server")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(oidc, oauth);
}

async fn an_issuer_with_a_path_keeps_it_and_drops_a_trailing_slash_from_endpoints(
    backend: Backend,
) {
    let db = TestDb::new(&backend).await;
    let settings = db.settings("https://id.example.com/tenant-a/", &[]);
    let doc: serde_json::Value = serde_json::from_str(&latchkey::oauth::metadata::document(
        &settings,
        &latchkey::catalog::Catalog::default(),
    ))
    .unwrap();
    assert_eq!(doc["issuer"], "https://id.example.com/tenant-a/");
    assert_eq!(doc["jwks_uri"], "https://id.example.com/tenant-a/jwks");
}
