//! DPoP (RFC 9449): proofs at `/token`, `/par` and `/userinfo`, tokens bound to the proof's key
//! (`cnf.jkt`, `token_type: DPoP`), codes bound with `dpop_jkt`, public clients' refresh tokens
//! bound to the key, server nonces, `--require-dpop`, and every refusal of §4.3.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey::domain::alg::SigningAlg;
use latchkey::keys::KeyMaterial;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestClient, json_of, query_param, text};

crate::backend_tests!(
    a_proof_binds_a_client_credentials_token_to_its_key,
    every_broken_proof_is_invalid_dpop_proof,
    a_bound_code_refresh_and_userinfo_need_the_same_key,
    server_nonces_round_trip_on_every_instance,
    a_client_registered_for_dpop_must_send_proofs_and_par_binds_the_code,
);

/// A DPoP key of the client's (ES256 or EdDSA, made with Latchkey's own signer).
fn key(alg: SigningAlg) -> KeyMaterial {
    KeyMaterial::generate(alg).unwrap().0
}

/// RFC 7638 thumbprint of `key`, as an independent library computes it.
fn jkt(key: &KeyMaterial) -> String {
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.public_jwk.clone()).unwrap();
    jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256)
}

/// A proof signed by `key` with `header` over the defaults (`null` removes a member) and `claims`
/// with a fresh `jti` added.
fn proof_with(key: &KeyMaterial, header: Value, claims: Value) -> String {
    let mut c = json!({ "jti": latchkey::domain::secret::random_string(12) });
    merge(&mut c, claims);
    signed(key, header, &c)
}

/// A proof signed by `key` with `header` over the defaults and exactly `claims`.
fn signed(key: &KeyMaterial, header: Value, claims: &Value) -> String {
    let mut h = json!({
        "typ": "dpop+jwt",
        "alg": key.alg.as_str(),
        "jwk": key.public_jwk,
    });
    merge(&mut h, header);
    let c = claims;
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(h.to_string()),
        URL_SAFE_NO_PAD.encode(c.to_string())
    );
    let signature = key.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn merge(base: &mut Value, over: Value) {
    if let Value::Object(over) = over {
        for (name, value) in over {
            if value.is_null() {
                base.as_object_mut().unwrap().remove(&name);
            } else {
                base[name] = value;
            }
        }
    }
}

/// A valid proof for `method url` now (on the server's clock), with `extra` claims.
fn proof(app: &TestApp, key: &KeyMaterial, method: &str, url: &str, extra: Value) -> String {
    let now = latchkey::clock::Clock::now(&app.clock);
    let mut claims = json!({
        "jti": latchkey::domain::secret::random_string(12),
        "htm": method,
        "htu": url,
        "iat": now,
    });
    merge(&mut claims, extra);
    signed(key, json!({}), &claims)
}

/// `POST path` with `form`, Basic credentials when the client has a secret, and `proofs`.
async fn post(
    app: &TestApp,
    client: &TestClient,
    path: &str,
    form: &[(&str, &str)],
    proofs: &[&str],
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = app.http.post(format!("{}{path}", app.address)).form(form);
    request = match &client.secret {
        Some(secret) => request.basic_auth(&client.client_id, Some(secret)),
        None => request,
    };
    for proof in proofs {
        request = request.header("DPoP", *proof);
    }
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    (
        status,
        headers,
        response.json().await.unwrap_or(Value::Null),
    )
}

fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

async fn service(app: &TestApp) -> TestClient {
    app.service_client(&[], "client_secret_basic").await
}

async fn a_proof_binds_a_client_credentials_token_to_its_key(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = service(&app).await;
    let resource_server = app
        .register_client(latchkey::domain::client::ClientSpec {
            client_name: "Resource server".into(),
            grant_types: vec!["client_credentials".into()],
            auth_method: "client_secret_basic".into(),
            introspect_any: true,
            ..Default::default()
        })
        .await;
    let token_url = format!("{}/token", app.address);
    let discovery = app.get_discovery().await;
    assert_eq!(
        discovery["dpop_signing_alg_values_supported"],
        json!(["RS256", "PS256", "ES256", "EdDSA"])
    );
    for alg in [SigningAlg::ES256, SigningAlg::EdDSA, SigningAlg::RS256] {
        let key = key(alg);
        let dpop = proof(&app, &key, "POST", &token_url, json!({}));
        let (status, _, body) = post(
            &app,
            &client,
            "/token",
            &[("grant_type", "client_credentials")],
            &[&dpop],
        )
        .await;
        assert_eq!(status, 200, "{alg:?}: {body}");
        // §5: the token type says it is bound; §6.1: `cnf.jkt` is the key's thumbprint.
        assert_eq!(body["token_type"], "DPoP");
        let token = text(&body, "access_token");
        assert_eq!(payload(&token)["cnf"]["jkt"], jkt(&key));
        // §6.2: introspection tells the binding too.
        let introspected = app.introspect(&resource_server, &token).await;
        assert_eq!(introspected["active"], true);
        assert_eq!(introspected["cnf"]["jkt"], jkt(&key));
        assert_eq!(introspected["token_type"], "DPoP");
    }
    // Without a proof: a Bearer token, no `cnf`.
    let (status, _, body) = post(
        &app,
        &client,
        "/token",
        &[("grant_type", "client_credentials")],
        &[],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "Bearer");
    assert!(payload(&text(&body, "access_token")).get("cnf").is_none());
}

async fn every_broken_proof_is_invalid_dpop_proof(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let sibling = app.spawn_sibling().await;
    let client = service(&app).await;
    let key = key(SigningAlg::ES256);
    let stranger = crate::dpop::key(SigningAlg::ES256);
    let url = format!("{}/token", app.address);
    let now = latchkey::clock::Clock::now(&app.clock);
    let form = [("grant_type", "client_credentials")];

    // §11.1: a proof is used once, on any instance.
    let once = proof(&app, &key, "POST", &url, json!({}));
    assert_eq!(post(&app, &client, "/token", &form, &[&once]).await.0, 200);
    for instance in [&app, &sibling] {
        let (status, _, body) = post(instance, &client, "/token", &form, &[&once]).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(body["error"], "invalid_dpop_proof");
        assert!(
            body["error_description"]
                .as_str()
                .unwrap()
                .contains("already used")
        );
    }

    let mut private = key.public_jwk.clone();
    private["d"] = json!("c2VjcmV0");
    let cases: Vec<(&str, String)> = vec![
        ("wrong htm", proof(&app, &key, "GET", &url, json!({}))),
        (
            "wrong htu",
            proof(
                &app,
                &key,
                "POST",
                &format!("{}/par", app.address),
                json!({}),
            ),
        ),
        (
            "stale iat",
            proof(&app, &key, "POST", &url, json!({ "iat": now - 301 })),
        ),
        (
            "future iat",
            proof(&app, &key, "POST", &url, json!({ "iat": now + 120 })),
        ),
        (
            "no iat",
            proof(&app, &key, "POST", &url, json!({ "iat": null })),
        ),
        (
            "no jti",
            proof(&app, &key, "POST", &url, json!({ "jti": null })),
        ),
        (
            "a private key in jwk",
            proof_with(
                &key,
                json!({ "jwk": private }),
                json!({ "htm": "POST", "htu": url, "iat": now }),
            ),
        ),
        (
            "alg none",
            format!(
                "{}.{}.",
                URL_SAFE_NO_PAD.encode(
                    json!({ "typ": "dpop+jwt", "alg": "none", "jwk": key.public_jwk }).to_string()
                ),
                URL_SAFE_NO_PAD.encode(
                    json!({ "jti": "x", "htm": "POST", "htu": url, "iat": now }).to_string()
                )
            ),
        ),
        (
            "typ JWT",
            proof_with(
                &key,
                json!({ "typ": "JWT" }),
                json!({ "htm": "POST", "htu": url, "iat": now }),
            ),
        ),
        (
            "another key's jwk",
            proof_with(
                &key,
                json!({ "jwk": stranger.public_jwk }),
                json!({ "htm": "POST", "htu": url, "iat": now }),
            ),
        ),
        (
            "no jwk",
            proof_with(
                &key,
                json!({ "jwk": null }),
                json!({ "htm": "POST", "htu": url, "iat": now }),
            ),
        ),
        ("not a JWT", "not-a-jwt".to_owned()),
    ];
    for (name, dpop) in &cases {
        let (status, _, body) = post(&app, &client, "/token", &form, &[dpop]).await;
        assert_eq!(status, 400, "{name}: {body}");
        assert_eq!(body["error"], "invalid_dpop_proof", "{name}: {body}");
    }
    // §4.3 item 1: exactly one DPoP header.
    let (a, b) = (
        proof(&app, &key, "POST", &url, json!({})),
        proof(&app, &key, "POST", &url, json!({})),
    );
    let (status, _, body) = post(&app, &client, "/token", &form, &[&a, &b]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof"))
    );
}

/// Sign alice in for the public `client` with `extra` authorization parameters; the code and
/// PKCE verifier.
async fn code_for(app: &TestApp, client: &TestClient, extra: &[(&str, &str)]) -> (String, String) {
    let (url, verifier) = app.authorize_url(client, "openid offline_access", extra);
    let landed = app.sign_in_through(&url, "alice").await;
    (query_param(&landed, "code").unwrap(), verifier)
}

async fn userinfo(app: &TestApp, authorization: &str, proof: Option<&str>) -> (u16, String) {
    let mut request = app
        .http
        .get(format!("{}/userinfo", app.address))
        .header("Authorization", authorization);
    if let Some(proof) = proof {
        request = request.header("DPoP", proof);
    }
    let response = request.send().await.unwrap();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (response.status().as_u16(), challenge)
}

async fn a_bound_code_refresh_and_userinfo_need_the_same_key(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app
        .register_client(latchkey::domain::client::ClientSpec {
            client_name: "Mobile".into(),
            redirect_uris: vec!["http://127.0.0.1/cb".into()],
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            scope: "openid offline_access".into(),
            auth_method: "none".into(),
            skip_consent: true,
            ..Default::default()
        })
        .await;
    app.create_user("alice").await;
    let (key, stranger) = (key(SigningAlg::ES256), key(SigningAlg::EdDSA));
    let token_url = format!("{}/token", app.address);
    let userinfo_url = format!("{}/userinfo", app.address);

    // §10: `dpop_jkt` binds the code; it is redeemed only with a proof of that key.
    let (code, verifier) = code_for(&app, &client, &[("dpop_jkt", &jkt(&key))]).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
        ("client_id", client.client_id.as_str()),
    ];
    for proofs in [
        vec![],
        vec![proof(&app, &stranger, "POST", &token_url, json!({}))],
    ] {
        let proofs: Vec<&str> = proofs.iter().map(String::as_str).collect();
        let (status, _, body) = post(&app, &client, "/token", &form, &proofs).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_dpop_proof")),
            "{body}"
        );
    }
    let dpop = proof(&app, &key, "POST", &token_url, json!({}));
    let (status, _, tokens) = post(&app, &client, "/token", &form, &[&dpop]).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "DPoP");
    let access = text(&tokens, "access_token");

    // §7: at /userinfo, only with the DPoP scheme and a proof of the key for this request.
    let (status, challenge) = userinfo(&app, &format!("Bearer {access}"), None).await;
    assert_eq!(status, 401);
    assert!(
        challenge.starts_with("DPoP algs=\"RS256 PS256 ES256 EdDSA\""),
        "{challenge}"
    );
    assert!(challenge.contains("invalid_token"), "{challenge}");
    let scheme = format!("DPoP {access}");
    let (status, challenge) = userinfo(&app, &scheme, None).await;
    assert_eq!(status, 401);
    assert!(
        challenge.contains("error=\"invalid_dpop_proof\""),
        "{challenge}"
    );
    let no_ath = proof(&app, &key, "GET", &userinfo_url, json!({}));
    assert_eq!(userinfo(&app, &scheme, Some(&no_ath)).await.0, 401);
    let ath = latchkey::oauth::dpop::access_token_hash(&access);
    let other_key = proof(&app, &stranger, "GET", &userinfo_url, json!({ "ath": ath }));
    assert_eq!(userinfo(&app, &scheme, Some(&other_key)).await.0, 401);
    let good = proof(&app, &key, "GET", &userinfo_url, json!({ "ath": ath }));
    assert_eq!(userinfo(&app, &scheme, Some(&good)).await.0, 200);
    // A Bearer token sent with the DPoP scheme is refused too.
    let bearer_client = app.public_client().await;
    let bearer = app.tokens_for(&bearer_client, "alice", "openid").await;
    let bearer = text(&bearer, "access_token");
    let ath = latchkey::oauth::dpop::access_token_hash(&bearer);
    let with_proof = proof(&app, &key, "GET", &userinfo_url, json!({ "ath": ath }));
    assert_eq!(
        userinfo(&app, &format!("DPoP {bearer}"), Some(&with_proof))
            .await
            .0,
        401
    );
    assert_eq!(
        userinfo(&app, &format!("Bearer {bearer}"), None).await.0,
        200
    );

    // §5: the public client's refresh token is bound to the key.
    let refresh = text(&tokens, "refresh_token");
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
        ("client_id", client.client_id.as_str()),
    ];
    for proofs in [
        vec![],
        vec![proof(&app, &stranger, "POST", &token_url, json!({}))],
    ] {
        let proofs: Vec<&str> = proofs.iter().map(String::as_str).collect();
        let (status, _, body) = post(&app, &client, "/token", &form, &proofs).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_dpop_proof")),
            "{body}"
        );
    }
    let dpop = proof(&app, &key, "POST", &token_url, json!({}));
    let (status, _, refreshed) = post(&app, &client, "/token", &form, &[&dpop]).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(
        payload(&text(&refreshed, "access_token"))["cnf"]["jkt"],
        jkt(&key)
    );
    // A malformed dpop_jkt is refused at /authorize.
    let (url, _) = app.authorize_url(&client, "openid", &[("dpop_jkt", "not-a-thumbprint")]);
    let response = app.get_url(&url).await;
    let location = url::Url::parse(&crate::helpers::location(&response)).unwrap();
    assert_eq!(
        query_param(&location, "error").as_deref(),
        Some("invalid_request")
    );
}

async fn server_nonces_round_trip_on_every_instance(backend: Backend) {
    let db = crate::helpers::TestDb::new(&backend).await;
    let app = TestApp::spawn_on(db, &["--dpop-nonce"]).await;
    let sibling = app.spawn_sibling_on(&["--dpop-nonce"]).await;
    let client = service(&app).await;
    let key = key(SigningAlg::ES256);
    let url = format!("{}/token", app.address);
    let form = [("grant_type", "client_credentials")];
    // §8: without a nonce, `use_dpop_nonce` and the nonce to use.
    let (status, headers, body) = post(
        &app,
        &client,
        "/token",
        &form,
        &[&proof(&app, &key, "POST", &url, json!({}))],
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("use_dpop_nonce")),
        "{body}"
    );
    let nonce = headers["dpop-nonce"].to_str().unwrap().to_owned();
    // With it: a token, and a nonce for next time; the sibling accepts it as well.
    for instance in [&app, &sibling] {
        let dpop = proof(&app, &key, "POST", &url, json!({ "nonce": nonce }));
        let (status, headers, body) = post(instance, &client, "/token", &form, &[&dpop]).await;
        assert_eq!(status, 200, "{body}");
        assert!(headers.contains_key("dpop-nonce"));
    }
    // A made-up nonce, and one two minutes old, are refused.
    let fake = proof(&app, &key, "POST", &url, json!({ "nonce": "AAAAAAAAAAA" }));
    let (_, _, body) = post(&app, &client, "/token", &form, &[&fake]).await;
    assert_eq!(body["error"], "use_dpop_nonce");
    app.clock.advance(130);
    let old = proof(&app, &key, "POST", &url, json!({ "nonce": nonce }));
    let (_, headers, body) = post(&app, &client, "/token", &form, &[&old]).await;
    assert_eq!(body["error"], "use_dpop_nonce");
    assert_ne!(headers["dpop-nonce"].to_str().unwrap(), nonce);
}

async fn a_client_registered_for_dpop_must_send_proofs_and_par_binds_the_code(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let created = json_of(&app.db.cli(
        &[
            "client",
            "create",
            "--name",
            "Bound service",
            "--redirect-uri",
            "http://127.0.0.1:9/cb",
            "--grant-type",
            "client_credentials",
            "--grant-type",
            "authorization_code",
            "--scope",
            "openid",
            "--skip-consent",
            "--require-dpop",
            "--json",
        ],
        None,
    ));
    assert_eq!(created["require_dpop"], true);
    let client = TestClient {
        client_id: text(&created, "client_id"),
        secret: Some(text(&created, "client_secret")),
        redirect_uri: "http://127.0.0.1:9/cb".into(),
    };
    let key = key(SigningAlg::ES256);
    let token_url = format!("{}/token", app.address);
    let form = [("grant_type", "client_credentials")];
    // §5.2: no proof, no token.
    let (status, _, body) = post(&app, &client, "/token", &form, &[]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof")),
        "{body}"
    );
    let dpop = proof(&app, &key, "POST", &token_url, json!({}));
    let (status, _, body) = post(&app, &client, "/token", &form, &[&dpop]).await;
    assert_eq!(
        (status, body["token_type"].as_str()),
        (200, Some("DPoP")),
        "{body}"
    );

    // §10.1: a proof at /par binds the code to its key.
    app.create_user("alice").await;
    let par_url = format!("{}/par", app.address);
    let verifier = "a-verifier-of-at-least-forty-three-characters-0123";
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ));
    let pushed_form = [
        ("response_type", "code"),
        ("client_id", client.client_id.as_str()),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("scope", "openid"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let dpop = proof(&app, &key, "POST", &par_url, json!({}));
    let (status, _, pushed) = post(&app, &client, "/par", &pushed_form, &[&dpop]).await;
    assert_eq!(status, 201, "{pushed}");
    let mut url = url::Url::parse(&format!("{}/authorize", app.address)).unwrap();
    url.query_pairs_mut()
        .append_pair("client_id", &client.client_id)
        .append_pair("request_uri", &text(&pushed, "request_uri"));
    let landed = app.sign_in_through(url.as_str(), "alice").await;
    let code = query_param(&landed, "code").unwrap();
    let redeem = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", client.redirect_uri.as_str()),
        ("code_verifier", verifier),
    ];
    let stranger = crate::dpop::key(SigningAlg::ES256);
    let wrong = proof(&app, &stranger, "POST", &token_url, json!({}));
    let (status, _, body) = post(&app, &client, "/token", &redeem, &[&wrong]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_dpop_proof")),
        "{body}"
    );
    let right = proof(&app, &key, "POST", &token_url, json!({}));
    let (status, _, body) = post(&app, &client, "/token", &redeem, &[&right]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        payload(&text(&body, "access_token"))["cnf"]["jkt"],
        jkt(&key)
    );
}
