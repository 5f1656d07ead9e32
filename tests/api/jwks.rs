//! `/jwks`: public keys only, accepted by an independent client library, and kept current.

use std::str::FromStr;
use std::time::Duration;

use latchkey::clock::Clock;
use latchkey::domain::alg::SigningAlg;
use latchkey::keys::jws::{TYP_JWT, sign_compact};
use openidconnect::core::{CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet};
use openidconnect::{ClientId, IssuerUrl, JsonWebKeySetUrl, Nonce};

use crate::helpers::{Backend, TestApp, TestDb, json_of};

crate::backend_tests!(
    jwks_publishes_public_keys_only_with_kid_alg_and_use,
    openidconnect_fetches_the_jwks_and_verifies_a_token_signed_by_the_active_key,
    a_rotation_made_by_another_process_reaches_a_running_instance,
);

async fn jwks_publishes_public_keys_only_with_kid_alg_and_use(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let response = app.get("/jwks").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/jwk-set+json"
    );
    let jwks: serde_json::Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(
        keys.len(),
        6,
        "an active and a next key for each of RS256, ES256, EdDSA"
    );
    for key in keys {
        let expected_kty = match key["alg"].as_str().unwrap() {
            "RS256" => "RSA",
            "ES256" => "EC",
            "EdDSA" => "OKP",
            other => panic!("unexpected alg {other}"),
        };
        assert_eq!(key["kty"], expected_kty);
        assert_eq!(key["use"], "sig");
        assert!(key["kid"].as_str().is_some_and(|kid| kid.len() == 43));
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            assert!(
                key.get(private).is_none(),
                "private member {private} published"
            );
        }
    }
    let mut kids: Vec<&str> = keys.iter().map(|k| k["kid"].as_str().unwrap()).collect();
    kids.sort_unstable();
    kids.dedup();
    assert_eq!(kids.len(), 6, "kids are unique");
    let active = app.state.keys.signing_key(SigningAlg::RS256).unwrap();
    assert!(keys.iter().any(|k| k["kid"] == active.kid.as_str()));
}

async fn openidconnect_fetches_the_jwks_and_verifies_a_token_signed_by_the_active_key(
    backend: Backend,
) {
    let app = TestApp::spawn(&backend).await;
    let http = openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let url = JsonWebKeySetUrl::new(format!("{}/jwks", app.address)).unwrap();
    let jwks = CoreJsonWebKeySet::fetch_async(&url, &http).await.unwrap();
    assert_eq!(jwks.keys().len(), 6);

    let now = app.clock.now();
    let key = app.state.keys.signing_key(SigningAlg::RS256).unwrap();
    let claims = serde_json::json!({
        "iss": app.address, "sub": "alice", "aud": "web-app",
        "iat": now, "exp": now + 600, "nonce": "n-0S6_WzA2Mj",
    });
    let token = sign_compact(&key, TYP_JWT, &claims).unwrap();
    let id_token = CoreIdToken::from_str(&token).unwrap();
    let verifier = CoreIdTokenVerifier::new_public_client(
        ClientId::new("web-app".into()),
        IssuerUrl::new(app.address.clone()).unwrap(),
        jwks,
    );
    let verified = id_token
        .claims(&verifier, &Nonce::new("n-0S6_WzA2Mj".into()))
        .unwrap();
    assert_eq!(verified.subject().as_str(), "alice");

    let wrong_audience = CoreIdTokenVerifier::new_public_client(
        ClientId::new("other-app".into()),
        IssuerUrl::new(app.address.clone()).unwrap(),
        CoreJsonWebKeySet::fetch_async(&url, &http).await.unwrap(),
    );
    assert!(
        id_token
            .claims(&wrong_audience, &Nonce::new("n-0S6_WzA2Mj".into()))
            .is_err()
    );
}

async fn a_rotation_made_by_another_process_reaches_a_running_instance(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let app = TestApp::spawn_on(db, &["--key-refresh-interval", "1s"]).await;
    let before = app
        .state
        .keys
        .signing_key(SigningAlg::RS256)
        .unwrap()
        .kid
        .clone();

    let rotated = json_of(&app.db.cli(&["keys", "rotate", "--json"], None));
    let new_kid = rotated["active_kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, before);

    // Wait (bounded) for the instance's periodic refresh, checking often: no fixed sleep.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let signing = app
            .state
            .keys
            .signing_key(SigningAlg::RS256)
            .unwrap()
            .kid
            .clone();
        if signing == new_kid {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the running instance never saw the rotation"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let jwks = app.get_jwks().await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&before.as_str()),
        "the retired key stays published"
    );
    assert!(kids.contains(&new_kid.as_str()));
    assert_eq!(kids.len(), 7, "six keys plus the retired RS256 key");
}
