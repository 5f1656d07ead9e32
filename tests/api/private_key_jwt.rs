//! `private_key_jwt` client authentication (RFC 7523 §2.2, OIDC Core §9): a client registered with
//! its public keys signs a short-lived JWT instead of sending a secret, at `/token`, `/introspect`,
//! `/revoke` and `/par`; every broken rule is `401 invalid_client`, and an assertion is used once,
//! across instances.

use base64::Engine;
use latchkey::domain::alg::SigningAlg;
use latchkey::keys::KeyMaterial;
use latchkey::keys::jws::sign_compact;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestDb, json_of, text};

crate::backend_tests!(
    a_client_signs_in_with_its_key_and_each_assertion_is_used_once,
    every_broken_assertion_rule_is_invalid_client,
    registration_needs_public_keys_for_private_key_jwt,
    keys_at_a_jwks_uri_are_fetched_cached_and_fetched_again_for_a_new_kid,
);

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A `private_key_jwt` client registered through the CLI with the public keys of `keys`; its id.
fn register(db: &TestDb, dir: &tempfile::TempDir, keys: &[&KeyMaterial]) -> String {
    let set = json!({ "keys": keys.iter().map(|k| k.public_jwk.clone()).collect::<Vec<_>>() });
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, set.to_string()).unwrap();
    let created = json_of(&db.cli(
        &[
            "client",
            "create",
            "--name",
            "Signing service",
            "--grant-type",
            "client_credentials",
            "--auth-method",
            "private_key_jwt",
            "--jwks",
            &path.display().to_string(),
            "--json",
        ],
        None,
    ));
    assert_eq!(created["auth_method"], "private_key_jwt");
    assert!(created["client_secret"].is_null(), "{created}");
    assert_eq!(
        created["jwks"]["keys"].as_array().unwrap().len(),
        keys.len()
    );
    text(&created, "client_id")
}

/// A signed assertion for `client_id` with `claims` over the defaults.
fn assertion(key: &KeyMaterial, client_id: &str, app: &TestApp, overrides: Value) -> String {
    let now = latchkey::clock::Clock::now(&app.clock);
    let mut claims = json!({
        "iss": client_id,
        "sub": client_id,
        "aud": format!("{}/token", app.address),
        "exp": now + 60,
        "iat": now,
        "jti": latchkey::domain::secret::random_string(16),
    });
    for (name, value) in overrides.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(name);
        } else {
            claims[name] = value.clone();
        }
    }
    sign_compact(key, "JWT", &claims).unwrap()
}

/// `POST path` with the assertion (and `client_id` when given) plus `form`: status and body.
async fn post(
    app: &TestApp,
    path: &str,
    client_id: Option<&str>,
    assertion: &str,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let mut fields: Vec<(&str, &str)> = vec![
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    if let Some(id) = client_id {
        fields.push(("client_id", id));
    }
    fields.extend_from_slice(form);
    let response = app
        .http
        .post(format!("{}{path}", app.address))
        .form(&fields)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

const CLIENT_CREDENTIALS: [(&str, &str); 1] = [("grant_type", "client_credentials")];

async fn a_client_signs_in_with_its_key_and_each_assertion_is_used_once(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let dir = tempfile::tempdir().unwrap();
    let (es256, _) = KeyMaterial::generate(SigningAlg::ES256).unwrap();
    let (ed25519, _) = KeyMaterial::generate(SigningAlg::EdDSA).unwrap();
    let client_id = register(&db, &dir, &[&es256, &ed25519]);
    let app = TestApp::spawn_on(db, &[]).await;

    // Either key signs; client_id may be left out (RFC 7521 §4.2: the assertion's `sub` names it).
    let signed = assertion(&es256, &client_id, &app, json!({}));
    let (status, body) = post(&app, "/token", None, &signed, &CLIENT_CREDENTIALS).await;
    assert_eq!(status, 200, "{body}");
    let access_token = text(&body, "access_token");
    let signed = assertion(&ed25519, &client_id, &app, json!({"aud": app.address}));
    let (status, body) = post(
        &app,
        "/token",
        Some(&client_id),
        &signed,
        &CLIENT_CREDENTIALS,
    )
    .await;
    assert_eq!(status, 200, "the issuer is an audience too: {body}");

    // The same assertion twice is refused, also on another instance sharing the database.
    let (status, body) = post(&app, "/token", None, &signed, &CLIENT_CREDENTIALS).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"], "invalid_client");
    assert!(
        text(&body, "error_description").contains("already used"),
        "{body}"
    );
    let sibling = app.spawn_sibling().await;
    let once = assertion(&es256, &client_id, &app, json!({}));
    let first = post(&app, "/token", None, &once, &CLIENT_CREDENTIALS);
    let second = post(&sibling, "/token", None, &once, &CLIENT_CREDENTIALS);
    let ((a, _), (b, _)) = tokio::join!(first, second);
    let mut statuses = [a, b];
    statuses.sort();
    assert_eq!(statuses, [200, 401], "exactly one instance accepts it");

    // The other client-authenticated endpoints take it too, with their own URL as audience.
    let signed = assertion(
        &es256,
        &client_id,
        &app,
        json!({"aud": format!("{}/introspect", app.address)}),
    );
    let (status, body) = post(
        &app,
        "/introspect",
        None,
        &signed,
        &[("token", &access_token)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["active"], true);
    let signed = assertion(
        &es256,
        &client_id,
        &app,
        json!({"aud": format!("{}/revoke", app.address)}),
    );
    let (status, _) = post(&app, "/revoke", None, &signed, &[("token", &access_token)]).await;
    assert_eq!(status, 200);

    // Discovery advertises the method and its algorithms.
    let discovery = app.get_discovery().await;
    for field in [
        "token_endpoint_auth_methods_supported",
        "introspection_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
    ] {
        assert!(
            discovery[field]
                .as_array()
                .unwrap()
                .contains(&json!("private_key_jwt")),
            "{field}"
        );
    }
    assert_eq!(
        discovery["token_endpoint_auth_signing_alg_values_supported"],
        json!(["RS256", "PS256", "ES256", "EdDSA", "HS256"])
    );

    // Housekeeping forgets a jti once its assertion has expired.
    app.clock.advance(3600);
    let done = latchkey::housekeeping::run_once(
        app.state.store.as_ref(),
        latchkey::clock::Clock::now(&app.clock),
        &app.state.settings,
    )
    .await
    .unwrap();
    assert!(done.client_assertions >= 4, "{}", done.client_assertions);
}

async fn every_broken_assertion_rule_is_invalid_client(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = KeyMaterial::generate(SigningAlg::ES256).unwrap();
    let (stranger, _) = KeyMaterial::generate(SigningAlg::ES256).unwrap();
    let client_id = register(&db, &dir, &[&key]);
    let app = TestApp::spawn_on(db, &[]).await;
    let now = latchkey::clock::Clock::now(&app.clock);
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(
            &json!({"iss": client_id, "sub": client_id, "aud": app.address, "exp": now + 60, "jti": "x"})
        )
    );
    let hs256 = {
        let header = b64(&json!({"alg": "HS256", "typ": "JWT"}));
        let claims = b64(
            &json!({"iss": client_id, "sub": client_id, "aud": app.address, "exp": now + 60, "jti": "y"}),
        );
        let tag = aws_lc_rs::hmac::sign(
            &aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, b"guess"),
            format!("{header}.{claims}").as_bytes(),
        );
        format!(
            "{header}.{claims}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref())
        )
    };
    let cases: Vec<(String, &str)> = vec![
        (
            assertion(&stranger, &client_id, &app, json!({})),
            "no registered key verifies",
        ),
        (
            assertion(
                &key,
                &client_id,
                &app,
                json!({"aud": "https://elsewhere.example.com"}),
            ),
            "aud must be",
        ),
        (
            assertion(&key, &client_id, &app, json!({"exp": now - 120})),
            "expired",
        ),
        (
            assertion(&key, &client_id, &app, json!({"exp": now + 3600})),
            "at most 5 minutes",
        ),
        (
            assertion(&key, &client_id, &app, json!({"nbf": now + 600})),
            "not valid yet",
        ),
        (
            assertion(&key, &client_id, &app, json!({"jti": null})),
            "jti",
        ),
        (
            assertion(&key, &client_id, &app, json!({"exp": null})),
            "exp",
        ),
        (
            assertion(&key, &client_id, &app, json!({"iss": "someone-else"})),
            "iss and sub",
        ),
        (unsigned, "alg must be"),
        (hs256, "alg must be"),
        ("not-a-jwt".to_owned(), "not a JWT"),
    ];
    for (signed, expected) in cases {
        let (status, body) = post(
            &app,
            "/token",
            Some(&client_id),
            &signed,
            &CLIENT_CREDENTIALS,
        )
        .await;
        assert_eq!(status, 401, "{expected}: {body}");
        assert_eq!(body["error"], "invalid_client", "{expected}");
        assert!(
            text(&body, "error_description").contains(expected),
            "{expected}: {body}"
        );
    }
    // A kid that names no registered key.
    let mut other_kid = assertion(&key, &client_id, &app, json!({}));
    let header = b64(&json!({"alg": "ES256", "typ": "JWT", "kid": "unknown"}));
    let rest = other_kid.split_once('.').unwrap().1.to_owned();
    other_kid = format!("{header}.{rest}");
    let (status, _) = post(
        &app,
        "/token",
        Some(&client_id),
        &other_kid,
        &CLIENT_CREDENTIALS,
    )
    .await;
    assert_eq!(status, 401);
    // A secret, or a secret beside the assertion, is refused for this client.
    let response = app
        .http
        .post(format!("{}/token", app.address))
        .basic_auth(&client_id, Some("guess"))
        .form(&CLIENT_CREDENTIALS)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let signed = assertion(&key, &client_id, &app, json!({}));
    let (status, body) = post(
        &app,
        "/token",
        Some(&client_id),
        &signed,
        &[("grant_type", "client_credentials"), ("client_secret", "x")],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    // A wrong assertion type.
    let response = app
        .http
        .post(format!("{}/token", app.address))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", "urn:example:saml"),
            ("client_assertion", signed.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

async fn registration_needs_public_keys_for_private_key_jwt(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let dir = tempfile::tempdir().unwrap();
    let refused = |args: &[&str], expected: &str| {
        let mut all = vec![
            "client",
            "create",
            "--name",
            "Signer",
            "--grant-type",
            "client_credentials",
        ];
        all.extend_from_slice(args);
        let out = crate::helpers::failure_of(&db.cli(&all, None));
        assert!(out.contains(expected), "{expected}: {out}");
    };
    refused(
        &["--auth-method", "private_key_jwt"],
        "private_key_jwt needs the client's public keys",
    );
    let private = dir.path().join("private.json");
    std::fs::write(
        &private,
        r#"{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cLyMzn4FaKkgWCGkOsjw8k"}]}"#,
    )
    .unwrap();
    let path = private.display().to_string();
    refused(
        &["--auth-method", "private_key_jwt", "--jwks", &path],
        "register only public keys",
    );
    let (key, _) = KeyMaterial::generate(SigningAlg::ES256).unwrap();
    let public = dir.path().join("public.json");
    std::fs::write(&public, json!({"keys": [key.public_jwk]}).to_string()).unwrap();
    let path = public.display().to_string();
    refused(
        &["--jwks", &path],
        "--jwks and --jwks-uri are for clients that authenticate with private_key_jwt",
    );
    refused(
        &[
            "--auth-method",
            "private_key_jwt",
            "--jwks",
            &path,
            "--jwks-uri",
            "https://keys.example.com/jwks",
        ],
        "give --jwks or --jwks-uri, not both",
    );
    refused(
        &[
            "--auth-method",
            "private_key_jwt",
            "--jwks-uri",
            "ftp://keys.example.com/jwks",
        ],
        "the jwks_uri must be an https URL",
    );
    // Rotating the secret of a key-authenticated client is refused.
    let client_id = register(&db, &dir, &[&key]);
    let out = crate::helpers::failure_of(&db.cli(&["client", "rotate-secret", &client_id], None));
    assert!(
        out.contains("authenticates with private_key_jwt and has no secret"),
        "{out}"
    );
}

/// A JWKS served over plain HTTP on loopback, counting its fetches.
struct JwksServer {
    url: String,
    keys: std::sync::Arc<std::sync::Mutex<Value>>,
    hits: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

async fn jwks_server(keys: Value) -> JwksServer {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let shared = Arc::new(Mutex::new(keys));
    let hits = Arc::new(AtomicUsize::new(0));
    let (served, counted) = (Arc::clone(&shared), Arc::clone(&hits));
    let app = axum::Router::new().route(
        "/jwks",
        axum::routing::get(move || {
            let served = Arc::clone(&served);
            let counted = Arc::clone(&counted);
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                let body = served.lock().unwrap().to_string();
                ([("content-type", "application/jwk-set+json")], body)
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/jwks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    JwksServer {
        url,
        keys: shared,
        hits,
    }
}

async fn keys_at_a_jwks_uri_are_fetched_cached_and_fetched_again_for_a_new_kid(backend: Backend) {
    use std::sync::atomic::Ordering;
    let (first, _) = KeyMaterial::generate(SigningAlg::ES256).unwrap();
    let (second, _) = KeyMaterial::generate(SigningAlg::EdDSA).unwrap();
    let server = jwks_server(json!({ "keys": [first.public_jwk] })).await;
    let db = TestDb::new(&backend).await;
    let created = json_of(&db.cli(
        &[
            "client",
            "create",
            "--name",
            "Publishes its keys",
            "--grant-type",
            "client_credentials",
            "--auth-method",
            "private_key_jwt",
            "--jwks-uri",
            &server.url,
            "--json",
        ],
        None,
    ));
    assert_eq!(created["jwks_uri"], server.url.as_str(), "{created}");
    let client_id = text(&created, "client_id");
    let app = TestApp::spawn_on(db, &["--allow-http-jwks-uri"]).await;

    // Fetched once, then cached.
    for _ in 0..3 {
        let signed = assertion(&first, &client_id, &app, json!({}));
        let (status, body) = post(&app, "/token", None, &signed, &CLIENT_CREDENTIALS).await;
        assert_eq!(status, 200, "{body}");
    }
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);

    // The client rotates: an assertion with the new key's kid fetches again (once the last fetch
    // is 30 s old), and the new key verifies.
    *server.keys.lock().unwrap() = json!({ "keys": [first.public_jwk, second.public_jwk] });
    app.clock.advance(31);
    let signed = assertion(&second, &client_id, &app, json!({}));
    let (status, body) = post(&app, "/token", None, &signed, &CLIENT_CREDENTIALS).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);
    // A made-up kid right after does not fetch again.
    let mut unknown = assertion(&second, &client_id, &app, json!({}));
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let rest = unknown.split_once('.').unwrap().1.to_owned();
    unknown = format!(
        "{}.{rest}",
        b64(&json!({"alg": "EdDSA", "typ": "JWT", "kid": "made-up"}))
    );
    let (status, _) = post(&app, "/token", None, &unknown, &CLIENT_CREDENTIALS).await;
    assert_eq!(status, 401);
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);

    // Without --allow-http-jwks-uri, a plain-http jwks_uri is never fetched.
    let strict = app.spawn_sibling().await;
    let signed = assertion(&first, &client_id, &strict, json!({}));
    let (status, body) = post(&strict, "/token", None, &signed, &CLIENT_CREDENTIALS).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        text(&body, "error_description").contains("must be https"),
        "{body}"
    );

    // A jwks_uri that answers garbage fails the authentication, not the server.
    *server.keys.lock().unwrap() = json!({ "keys": "no" });
    app.clock.advance(400);
    let signed = assertion(&first, &client_id, &app, json!({}));
    let (status, body) = post(&app, "/token", None, &signed, &CLIENT_CREDENTIALS).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        text(&body, "error_description").contains("jwks_uri"),
        "{body}"
    );
}
