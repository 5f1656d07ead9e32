//! `client_secret_jwt` client authentication (RFC 7523 §2.2, OIDC Core §9): a client with a secret
//! sends an HS256 JWT MACed with it instead of the secret itself. The server keeps the secret
//! sealed under the key-encryption key (and its digest), accepts HS256 only, and only from clients
//! registered for the method; every broken rule is `401 invalid_client`.

use aws_lc_rs::hmac;
use base64::Engine;
use latchkey::domain::alg::SigningAlg;
use latchkey::domain::client::ClientId;
use latchkey::keys::KeyMaterial;
use latchkey::keys::jws::sign_compact;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestDb, json_of, text};

crate::backend_tests!(
    a_client_created_by_the_cli_authenticates_with_its_secret_at_token_and_introspect,
    every_broken_client_secret_jwt_rule_is_invalid_client,
    a_private_key_jwt_client_cannot_pass_off_an_hs256_assertion,
    dynamic_registration_gives_a_client_secret_jwt_client_a_working_secret,
    apply_seals_a_supplied_secret_and_rotation_and_method_changes_follow,
    keys_rewrap_reseals_client_secrets_and_the_client_still_authenticates,
);

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const CLIENT_CREDENTIALS: [(&str, &str); 1] = [("grant_type", "client_credentials")];

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A compact JWS of `claims` under `header`, MACed with HMAC-SHA256 keyed by `key`.
fn hs256_with_header(key: &[u8], header: &Value, claims: &Value) -> String {
    let signing_input = format!(
        "{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA256, key),
        signing_input.as_bytes(),
    );
    format!("{signing_input}.{}", b64(tag.as_ref()))
}

/// An HS256 assertion MACed with `secret`.
fn hs256(secret: &str, claims: &Value) -> String {
    hs256_with_header(
        secret.as_bytes(),
        &json!({"alg": "HS256", "typ": "JWT"}),
        claims,
    )
}

/// The claims of an assertion by `client_id` for `app`'s `/token`, with `overrides` (`null`
/// removes a claim).
fn claims(client_id: &str, app: &TestApp, overrides: Value) -> Value {
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
    claims
}

/// `POST path` with the assertion plus `form`: status, `WWW-Authenticate`, body.
async fn post(
    app: &TestApp,
    path: &str,
    assertion: &str,
    form: &[(&str, &str)],
) -> (u16, String, Value) {
    let mut fields: Vec<(&str, &str)> = vec![
        ("client_assertion_type", ASSERTION_TYPE),
        ("client_assertion", assertion),
    ];
    fields.extend_from_slice(form);
    let response = app
        .http
        .post(format!("{}{path}", app.address))
        .form(&fields)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        status,
        challenge,
        response.json().await.unwrap_or(Value::Null),
    )
}

/// A `client_secret_jwt` service client created with `latchkey client create`: its id and the
/// secret the command printed.
fn create_with_cli(db: &TestDb) -> (String, String) {
    let created = json_of(&db.cli(
        &[
            "client",
            "create",
            "--name",
            "MACing service",
            "--grant-type",
            "client_credentials",
            "--auth-method",
            "client_secret_jwt",
            "--json",
        ],
        None,
    ));
    assert_eq!(created["auth_method"], "client_secret_jwt");
    let secret = text(&created, "client_secret");
    assert!(secret.len() >= 32, "an HS256 key of at least 256 bits");
    assert!(
        !created.to_string().contains("sealed"),
        "the sealed secret is never shown: {created}"
    );
    (text(&created, "client_id"), secret)
}

/// The client as stored.
async fn stored(app: &TestApp, client_id: &str) -> latchkey::domain::client::Client {
    app.state
        .store
        .find_client(&ClientId::parse(client_id).unwrap())
        .await
        .unwrap()
        .unwrap()
}

/// Assert a refusal is RFC 6749 §5.2 `invalid_client`, exactly: 401, a challenge, and a body of
/// `error` and `error_description` only, the description containing `expected`.
fn assert_invalid_client(refusal: &(u16, String, Value), expected: &str) {
    let (status, challenge, body) = refusal;
    assert_eq!(*status, 401, "{expected}: {body}");
    assert!(
        !challenge.is_empty(),
        "{expected}: a WWW-Authenticate challenge"
    );
    assert_eq!(body["error"], "invalid_client", "{expected}: {body}");
    let fields: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(fields, ["error", "error_description"], "{expected}: {body}");
    assert!(
        text(body, "error_description").contains(expected),
        "{expected}: {body}"
    );
}

async fn a_client_created_by_the_cli_authenticates_with_its_secret_at_token_and_introspect(
    backend: Backend,
) {
    let db = TestDb::new(&backend).await;
    let (client_id, secret) = create_with_cli(&db);
    // The text output prints the secret once, too.
    let out = db.cli(
        &[
            "client",
            "create",
            "--name",
            "Another",
            "--grant-type",
            "client_credentials",
            "--auth-method",
            "client_secret_jwt",
        ],
        None,
    );
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("client_secret:"), "{stdout}");
    assert!(stdout.contains("lk_cs_"), "{stdout}");
    assert!(!stdout.contains("sealed"), "{stdout}");
    let app = TestApp::spawn_on(db, &[]).await;

    // Stored: the digest and the sealed secret, which is not the secret in the clear.
    let client = stored(&app, &client_id).await;
    assert!(client.secret_matches(&secret));
    let sealed = client.sealed_secret.clone().expect("a sealed secret");
    assert!(
        !sealed
            .as_bytes()
            .windows(secret.len())
            .any(|w| w == secret.as_bytes())
    );
    assert_eq!(format!("{sealed:?}"), "SealedSecret([redacted])");
    assert!(!format!("{client:?}").contains(&secret));

    let (status, _, body) = post(
        &app,
        "/token",
        &hs256(&secret, &claims(&client_id, &app, json!({}))),
        &CLIENT_CREDENTIALS,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let access_token = text(&body, "access_token");
    // The issuer is an accepted audience too, and client_id may be sent beside the assertion.
    let (status, _, body) = post(
        &app,
        "/token",
        &hs256(
            &secret,
            &claims(&client_id, &app, json!({"aud": app.address})),
        ),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", &client_id),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let introspect_aud = json!({"aud": format!("{}/introspect", app.address)});
    let (status, _, body) = post(
        &app,
        "/introspect",
        &hs256(&secret, &claims(&client_id, &app, introspect_aud)),
        &[("token", &access_token)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(body["client_id"], client_id.as_str());
    let revoke_aud = json!({"aud": format!("{}/revoke", app.address)});
    let (status, _, _) = post(
        &app,
        "/revoke",
        &hs256(&secret, &claims(&client_id, &app, revoke_aud)),
        &[("token", &access_token)],
    )
    .await;
    assert_eq!(status, 200);

    // The secret itself is not a credential for this client (it is registered for the JWT).
    let response = app
        .http
        .post(format!("{}/token", app.address))
        .basic_auth(&client_id, Some(&secret))
        .form(&CLIENT_CREDENTIALS)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert!(
        text(&body, "error_description").contains("client_secret_jwt"),
        "{body}"
    );

    // Discovery, both documents, advertises the method and HS256 wherever private_key_jwt is.
    for path in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let discovery: Value = app.get(path).await.json().await.unwrap();
        for endpoint in ["token", "introspection", "revocation"] {
            let methods = &discovery[format!("{endpoint}_endpoint_auth_methods_supported")];
            let methods = methods.as_array().unwrap();
            assert!(
                methods.contains(&json!("private_key_jwt")),
                "{path} {endpoint}"
            );
            assert!(
                methods.contains(&json!("client_secret_jwt")),
                "{path} {endpoint}"
            );
            let algs = &discovery[format!("{endpoint}_endpoint_auth_signing_alg_values_supported")];
            assert!(
                algs.as_array().unwrap().contains(&json!("HS256")),
                "{path} {endpoint}"
            );
        }
    }
}

async fn every_broken_client_secret_jwt_rule_is_invalid_client(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let (client_id, secret) = create_with_cli(&db);
    let app = TestApp::spawn_on(db, &[]).await;
    let now = latchkey::clock::Clock::now(&app.clock);
    let (rsa, _) = KeyMaterial::generate(SigningAlg::RS256).unwrap();
    let (ec, _) = KeyMaterial::generate(SigningAlg::ES256).unwrap();
    let unsigned = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "JWT"}).to_string().as_bytes()),
        b64(claims(&client_id, &app, json!({})).to_string().as_bytes())
    );
    let cases: Vec<(String, &str)> = vec![
        (
            hs256(
                "lk_cs_a-wrong-secret-of-the-same-length-as-a-real-one",
                &claims(&client_id, &app, json!({})),
            ),
            "does not verify",
        ),
        (
            sign_compact(&rsa, "JWT", &claims(&client_id, &app, json!({}))).unwrap(),
            "alg must be HS256",
        ),
        (
            sign_compact(&ec, "JWT", &claims(&client_id, &app, json!({}))).unwrap(),
            "alg must be HS256",
        ),
        (unsigned, "alg must be HS256"),
        (
            hs256_with_header(
                secret.as_bytes(),
                &json!({"alg": "HS512", "typ": "JWT"}),
                &claims(&client_id, &app, json!({})),
            ),
            "alg must be HS256",
        ),
        (
            hs256(
                &secret,
                &claims(&client_id, &app, json!({"exp": now + 3600})),
            ),
            "at most 5 minutes",
        ),
        (
            hs256(&secret, &claims(&client_id, &app, json!({"exp": null}))),
            "exp",
        ),
        (
            hs256(
                &secret,
                &claims(&client_id, &app, json!({"exp": now - 120})),
            ),
            "expired",
        ),
        (
            hs256(
                &secret,
                &claims(
                    &client_id,
                    &app,
                    json!({"aud": "https://elsewhere.example.com/token"}),
                ),
            ),
            "aud must be",
        ),
        (
            hs256(
                &secret,
                &claims(&client_id, &app, json!({"iss": "someone-else"})),
            ),
            "iss and sub",
        ),
        (
            hs256(&secret, &claims(&client_id, &app, json!({"jti": null}))),
            "jti",
        ),
    ];
    for (assertion, expected) in cases {
        let refusal = post(&app, "/token", &assertion, &CLIENT_CREDENTIALS).await;
        assert_invalid_client(&refusal, expected);
    }
    // iss ≠ sub, naming the client in `sub` only (the client is found by `sub`).
    let (other_id, _) = create_with_cli(&app.db);
    let refusal = post(
        &app,
        "/token",
        &hs256(&secret, &claims(&client_id, &app, json!({"iss": other_id}))),
        &CLIENT_CREDENTIALS,
    )
    .await;
    assert_invalid_client(&refusal, "iss and sub");

    // Each assertion once: a replayed jti is refused, here and on another instance.
    let once = hs256(&secret, &claims(&client_id, &app, json!({})));
    let (status, _, body) = post(&app, "/token", &once, &CLIENT_CREDENTIALS).await;
    assert_eq!(status, 200, "{body}");
    let refusal = post(&app, "/token", &once, &CLIENT_CREDENTIALS).await;
    assert_invalid_client(&refusal, "already used");
    let sibling = app.spawn_sibling().await;
    let refusal = post(&sibling, "/token", &once, &CLIENT_CREDENTIALS).await;
    assert_invalid_client(&refusal, "already used");
}

async fn a_private_key_jwt_client_cannot_pass_off_an_hs256_assertion(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = KeyMaterial::generate(SigningAlg::RS256).unwrap();
    let jwks = json!({ "keys": [key.public_jwk.clone()] }).to_string();
    let path = dir.path().join("jwks.json");
    std::fs::write(&path, &jwks).unwrap();
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
    let client_id = text(&created, "client_id");
    let app = TestApp::spawn_on(db, &[]).await;
    // The classic algorithm confusion: HMAC keyed with the public key, in every form an attacker
    // might guess the verifier uses.
    let public_jwk = key.public_jwk.to_string();
    let modulus = text(&key.public_jwk, "n");
    for mac_key in [public_jwk.as_bytes(), jwks.as_bytes(), modulus.as_bytes()] {
        let forged = hs256_with_header(
            mac_key,
            &json!({"alg": "HS256", "typ": "JWT", "kid": key.kid}),
            &claims(&client_id, &app, json!({})),
        );
        let refusal = post(&app, "/token", &forged, &CLIENT_CREDENTIALS).await;
        assert_invalid_client(&refusal, "alg must be RS256, PS256, ES256 or EdDSA");
    }
    // Its real signature still works.
    let signed = sign_compact(&key, "JWT", &claims(&client_id, &app, json!({}))).unwrap();
    let (status, _, body) = post(&app, "/token", &signed, &CLIENT_CREDENTIALS).await;
    assert_eq!(status, 200, "{body}");
}

async fn dynamic_registration_gives_a_client_secret_jwt_client_a_working_secret(backend: Backend) {
    let app = TestApp::spawn_on(TestDb::new(&backend).await, &["--registration", "open"]).await;
    let response = app
        .http
        .post(format!("{}/register", app.address))
        .json(&json!({
            "client_name": "Registered MACing app",
            "redirect_uris": ["https://app.example.com/callback"],
            "token_endpoint_auth_method": "client_secret_jwt",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let registered: Value = response.json().await.unwrap();
    assert_eq!(
        registered["token_endpoint_auth_method"],
        "client_secret_jwt"
    );
    let client_id = text(&registered, "client_id");
    let secret = text(&registered, "client_secret");
    assert!(stored(&app, &client_id).await.sealed_secret.is_some());

    // Its secret authenticates it (at /introspect: an unknown token is simply inactive)…
    let aud = json!({"aud": format!("{}/introspect", app.address)});
    let (status, _, body) = post(
        &app,
        "/introspect",
        &hs256(&secret, &claims(&client_id, &app, aud.clone())),
        &[("token", "not-a-token")],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["active"], false);
    // …and a guess does not.
    let refusal = post(
        &app,
        "/introspect",
        &hs256(
            "lk_cs_guessguessguessguessguessguessguessguess",
            &claims(&client_id, &app, aud),
        ),
        &[("token", "not-a-token")],
    )
    .await;
    assert_invalid_client(&refusal, "does not verify");
}

async fn apply_seals_a_supplied_secret_and_rotation_and_method_changes_follow(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let dir = tempfile::tempdir().unwrap();
    let supplied = "an-operator-supplied-secret-of-at-least-32-bytes";
    std::fs::write(dir.path().join("billing.secret"), supplied).unwrap();
    let document = |method: &str| {
        format!(
            "clients:\n  - client_id: billing\n    name: Billing\n    grant_types: [client_credentials]\n    \
             auth_method: {method}\n    secret_file: billing.secret\n"
        )
    };
    let file = dir.path().join("latchkey.yaml");
    std::fs::write(&file, document("client_secret_jwt")).unwrap();
    let applied = json_of(&db.cli(&["apply", "-f", file.to_str().unwrap(), "--json"], None));
    assert_eq!(applied["applied"], true, "{applied}");
    let app = TestApp::spawn_on(db, &[]).await;
    let assertion = |secret: &str| hs256(secret, &claims("billing", &app, json!({})));
    let (status, _, body) = post(&app, "/token", &assertion(supplied), &CLIENT_CREDENTIALS).await;
    assert_eq!(status, 200, "the supplied secret is sealed: {body}");

    // `client rotate-secret` seals the new secret; the old one stops working.
    let rotated = json_of(
        &app.db
            .cli(&["client", "rotate-secret", "billing", "--json"], None),
    );
    let new_secret = text(&rotated, "client_secret");
    app.clock.advance(3600); // past the client cache (`--client-cache-ttl`)
    let refusal = post(&app, "/token", &assertion(supplied), &CLIENT_CREDENTIALS).await;
    assert_invalid_client(&refusal, "does not verify");
    let (status, _, body) =
        post(&app, "/token", &assertion(&new_secret), &CLIENT_CREDENTIALS).await;
    assert_eq!(status, 200, "{body}");

    // Leaving client_secret_jwt drops the sealed copy; the digest stays, so Basic works.
    let updated = json_of(&app.db.cli(
        &[
            "client",
            "update",
            "billing",
            "--auth-method",
            "client_secret_basic",
            "--json",
        ],
        None,
    ));
    assert_eq!(updated["auth_method"], "client_secret_basic");
    let client = stored(&app, "billing").await;
    assert!(client.sealed_secret.is_none());
    assert!(client.secret_matches(&new_secret));

    // Coming back keeps only the digest, which cannot check a MAC: refused until rotated.
    let out = app.db.cli(
        &[
            "client",
            "update",
            "billing",
            "--auth-method",
            "client_secret_jwt",
        ],
        None,
    );
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("rotate-secret"));
    assert!(stored(&app, "billing").await.sealed_secret.is_none());
    app.clock.advance(3600); // past the client cache
    let refusal = post(&app, "/token", &assertion(&new_secret), &CLIENT_CREDENTIALS).await;
    assert_invalid_client(&refusal, "no secret to check it with");
    // A document giving the client its secret seals it, also when the secret is the one it has.
    for method in ["client_secret_basic", "client_secret_jwt"] {
        std::fs::write(&file, document(method)).unwrap();
        let applied = json_of(
            &app.db
                .cli(&["apply", "-f", file.to_str().unwrap(), "--json"], None),
        );
        assert_eq!(applied["applied"], true, "{method}: {applied}");
        let client = stored(&app, "billing").await;
        assert!(client.secret_matches(supplied));
        assert_eq!(
            client.sealed_secret.is_some(),
            method == "client_secret_jwt"
        );
    }
    app.clock.advance(3600);
    let (status, _, body) = post(&app, "/token", &assertion(supplied), &CLIENT_CREDENTIALS).await;
    assert_eq!(status, 200, "{body}");
}

async fn keys_rewrap_reseals_client_secrets_and_the_client_still_authenticates(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let (client_id, secret) = create_with_cli(&db);
    let app = TestApp::spawn_on(db, &[]).await;
    let before = stored(&app, &client_id).await.sealed_secret.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let new_secret = dir.path().join("new.secret");
    std::fs::write(
        &new_secret,
        "a brand new key-encryption secret, 40+ chars\n",
    )
    .unwrap();
    let new_secret = new_secret.to_str().unwrap();
    let done = json_of(&app.db.cli(
        &["keys", "rewrap", "--new-secret-file", new_secret, "--json"],
        None,
    ));
    assert_eq!(done["client_secrets"], 1, "{done}");
    let after = stored(&app, &client_id).await.sealed_secret.unwrap();
    assert_ne!(before, after, "sealed again");

    // A server restarted with the new secret checks the client's MAC with the same secret.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let settings = <latchkey::cli::Cli as clap::Parser>::try_parse_from([
        "latchkey",
        "--issuer",
        &address,
        "--database-url",
        &app.db.url,
        "--key-encryption-secret-file",
        new_secret,
        "serve",
    ])
    .unwrap()
    .config
    .validate()
    .unwrap();
    let clock = latchkey::clock::FixedClock::starting_now();
    let state = latchkey::state::AppState::build(settings, std::sync::Arc::new(clock.clone()))
        .await
        .unwrap();
    tokio::spawn(latchkey::app::serve(listener, state));
    let now = latchkey::clock::Clock::now(&clock);
    let assertion = hs256(
        &secret,
        &json!({
            "iss": client_id, "sub": client_id, "aud": format!("{address}/token"),
            "exp": now + 60, "jti": "after-rewrap",
        }),
    );
    let response = app
        .http
        .post(format!("{address}/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", &assertion),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());

    // The old server, still on the old secret, can no longer open it (restart every instance).
    app.clock.advance(3600); // past the client cache
    let refusal = post(
        &app,
        "/token",
        &hs256(&secret, &claims(&client_id, &app, json!({}))),
        &CLIENT_CREDENTIALS,
    )
    .await;
    assert_invalid_client(&refusal, "unreadable");
}
