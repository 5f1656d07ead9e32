//! The microservice architecture Latchkey exists for, end to end: the demo in `examples/microservices`
//! (a gateway with a BFF and Services A–D) against a real Latchkey over HTTPS with `--mtls-ca`, every
//! authentication pattern asserted over HTTP(S): certificate-bound tokens over mutual TLS from A to D
//! (RFC 8705), DPoP-bound tokens from the BFF to B (RFC 9449).

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use latchkey::clock::Clock;
use latchkey::domain::alg::SigningAlg;
use latchkey::domain::client::ClientSpec;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, TestClient, json_of, location, query_param, text};
use demo::pki::{Authority, DemoPki, Identity};

#[path = "../../examples/microservices/demo.rs"]
pub(crate) mod demo;

crate::backend_tests!(
    every_pattern_of_the_microservices_demo_holds_against_latchkey,
    a_users_write_at_service_b_is_stepped_up_to_two_factors_through_the_bff,
);

/// Latchkey with the demo's APIs, scopes, role and clients, and the demo running in front of it.
pub(crate) struct System {
    pub(crate) app: TestApp,
    demo: demo::Demo,
    /// The demo's certificates, made by its own PKI code; Latchkey serves with `latchkey` and
    /// trusts `ca` for client certificates.
    pub(crate) pki: DemoPki,
    /// The demo CA, to sign another client's certificate.
    authority: Authority,
    _pki_dir: tempfile::TempDir,
    /// The gateway's URL.
    pub(crate) gateway: String,
    /// Each service's API.
    pub(crate) apis: demo::Apis,
    /// The BFF's client.
    bff: TestClient,
    /// Service A's own client.
    service_a: TestClient,
    /// A command-line caller allowed `shop:read orders:read reports:read`, for the APIs of A, B and C.
    cli: TestClient,
}

fn credentials(client: &TestClient) -> demo::ClientCredentials {
    demo::ClientCredentials {
        client_id: client.client_id.clone(),
        client_secret: client.secret.clone().map(Into::into),
    }
}

/// Trust in `app`, on Latchkey's own fixed clock, so tests move time for everyone at once, and in
/// the demo CA.
fn trust(app: &TestApp, pki: &DemoPki) -> demo::Trust {
    let clock = app.clock.clone();
    demo::Trust {
        issuer: app.address.clone(),
        clock: Arc::new(move || clock.now()),
        roots: vec![pki.ca.clone()],
    }
}

/// An HTTPS client (cookies, no redirects) trusting the demo CA and presenting `identity`.
fn https(pki: &DemoPki, identity: Option<&Identity>) -> reqwest::Client {
    reqwest::Client::builder()
        .use_preconfigured_tls(
            demo::mtls::client_config(std::slice::from_ref(&pki.ca), identity).unwrap(),
        )
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap()
}

/// RFC 8705 §3.1, computed here: base64url SHA-256 of the certificate's DER.
fn thumbprint(identity: &Identity) -> String {
    URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        identity.chain[0].as_ref(),
    ))
}

/// Run the admin CLI; its `--json` answer.
fn cli(app: &TestApp, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    json_of(&app.db.cli(&args, None))
}

pub(crate) async fn start_system(backend: &Backend) -> System {
    // The demo's own PKI, as `microservices --write-pki` makes it; Latchkey serves HTTPS with its
    // certificate and asks clients for theirs (`--mtls-ca`).
    let (pki, authority) = DemoPki::generate().unwrap();
    let pki_dir = tempfile::tempdir().unwrap();
    pki.write(pki_dir.path()).unwrap();
    // A directory that has them is reused as it is.
    let (reread, created) = DemoPki::load_or_create(pki_dir.path()).unwrap();
    assert!(!created);
    assert_eq!(reread.ca, pki.ca);
    assert_eq!(reread.service_a.chain, pki.service_a.chain);
    let file = |name: &str| pki_dir.path().join(name).display().to_string();
    let (cert, key, ca) = (
        file(demo::pki::LATCHKEY_CERT_FILE),
        file(demo::pki::LATCHKEY_KEY_FILE),
        file(demo::pki::CA_FILE),
    );
    let flags = ["--tls-cert", &cert, "--tls-key", &key, "--mtls-ca", &ca];
    let app = TestApp::spawn_https(backend, &flags, https(&pki, None)).await;
    // Registered as `examples/microservices/register.sh` does with the CLI: each service is an API
    // with its scope; C's issues reference tokens; the role orders-admin belongs to B's.
    let apis = demo::Apis::default();
    for (audience, name, scope) in [
        (&apis.service_a, "Demo service A", demo::SHOP_SCOPE),
        (&apis.service_b, "Demo service B", demo::ORDERS_SCOPE),
        (&apis.service_c, "Demo service C", demo::REPORTS_SCOPE),
        (&apis.service_d, "Demo service D", demo::INVENTORY_SCOPE),
    ] {
        let mut args = vec![
            "api",
            "create",
            "--audience",
            audience,
            "--name",
            name,
            "--scope",
            scope,
        ];
        if audience == &apis.service_c {
            args.extend(["--token-format", "opaque"]);
        }
        cli(&app, &args);
    }
    cli(
        &app,
        &[
            "role",
            "create",
            demo::ORDERS_ADMIN_ROLE,
            "--api",
            &apis.service_b,
        ],
    );
    let front_apis = || {
        vec![
            apis.service_a.clone(),
            apis.service_b.clone(),
            apis.service_c.clone(),
        ]
    };
    // A authenticates with its certificate alone, and its tokens are bound to it (RFC 8705).
    let service_a = app
        .register_client(ClientSpec {
            client_name: "Demo service A".into(),
            grant_types: vec!["client_credentials".into(), "token_exchange".into()],
            scope: demo::INVENTORY_SCOPE.into(),
            auth_method: "tls_client_auth".into(),
            tls_subject: Some(("san_uri".into(), demo::pki::SERVICE_A_URI.into())),
            tls_bound_tokens: true,
            resources: vec![apis.service_d.clone()],
            may_exchange_for: vec![apis.service_d.clone()],
            ..Default::default()
        })
        .await;
    assert_eq!(service_a.secret, None);
    let cli_client = app
        .register_client(ClientSpec {
            client_name: "Demo command line".into(),
            grant_types: vec!["client_credentials".into()],
            scope: format!(
                "{} {} {}",
                demo::SHOP_SCOPE,
                demo::ORDERS_SCOPE,
                demo::REPORTS_SCOPE
            ),
            auth_method: "client_secret_basic".into(),
            resources: front_apis(),
            ..Default::default()
        })
        .await;
    // C's own resource-server client: it may introspect the tokens of C's API, and only those.
    let service_c = app
        .register_client(ClientSpec {
            client_name: "Demo service C".into(),
            grant_types: vec!["client_credentials".into()],
            auth_method: "client_secret_basic".into(),
            api: Some(apis.service_c.clone()),
            ..Default::default()
        })
        .await;
    let listeners = demo::Listeners::bind("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let gateway = format!("http://{}", listeners.gateway.local_addr().unwrap());
    let bff_scope = format!(
        "openid profile {} {} {}",
        demo::SHOP_SCOPE,
        demo::ORDERS_SCOPE,
        demo::REPORTS_SCOPE
    );
    let bff = app
        .register_client(ClientSpec {
            client_name: "Demo gateway (BFF)".into(),
            redirect_uris: vec![format!("{gateway}/callback")],
            post_logout_redirect_uris: vec![format!("{gateway}/logged-out")],
            backchannel_logout_uri: Some(format!("{gateway}/backchannel-logout")),
            backchannel_logout_session_required: true,
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            scope: format!("{bff_scope} email"),
            auth_method: "client_secret_basic".into(),
            skip_consent: true,
            resources: front_apis(),
            ..Default::default()
        })
        .await;
    app.clock.advance(10); // past the server's catalog cache
    let config = demo::DemoConfig {
        trust: trust(&app, &pki),
        apis: apis.clone(),
        bff: credentials(&bff),
        bff_scope,
        gateway_public_url: None,
        service_a: credentials(&service_a),
        service_c: credentials(&service_c),
        pki: pki.clone(),
    };
    let demo = demo::start(config, listeners).await.unwrap();
    assert_eq!(demo.gateway.url, gateway);
    System {
        app,
        demo,
        pki,
        authority,
        _pki_dir: pki_dir,
        gateway,
        apis,
        bff,
        service_a,
        cli: cli_client,
    }
}

/// A response reduced to what the assertions read.
#[derive(Debug)]
struct Answer {
    status: u16,
    /// `WWW-Authenticate`, or empty.
    challenge: String,
    body: Value,
}

async fn call(app: &TestApp, url: &str, token: Option<&str>) -> Answer {
    call_with(&app.http, url, token).await
}

/// [`call`] with another client (one that presents a certificate).
async fn call_with(http: &reqwest::Client, url: &str, token: Option<&str>) -> Answer {
    let mut request = http.get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    answer(request).await
}

async fn answer(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        challenge,
        body,
    }
}

/// A client-credentials access token.
async fn service_token(app: &TestApp, client: &TestClient, scope: &str) -> String {
    let response = app.client_credentials(client, Some(scope)).await;
    assert_eq!(response.status(), 200);
    text(&response.json().await.unwrap(), "access_token")
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A compact JWS signed RS256 with `key`: what an attacker with their own key can produce.
fn forge(header: &Value, claims: &Value, key: &aws_lc_rs::rsa::KeyPair) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(
        &aws_lc_rs::signature::RSA_PKCS1_SHA256,
        &aws_lc_rs::rand::SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .unwrap();
    format!("{input}.{}", b64(signature))
}

/// A DPoP proof with `header`, the public JWK of a fresh P-256 key with `jwk` merged over it, and
/// `claims`, signed ES256 by that key: what a client that ignores the rules can send.
fn raw_proof(header: &Value, jwk: &Value, claims: &Value) -> String {
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
    // An uncompressed point: 0x04, then x and y.
    let point = key.public_key().as_ref();
    let mut public = json!({
        "kty": "EC",
        "crv": "P-256",
        "x": b64(&point[1..33]),
        "y": b64(&point[33..65]),
    });
    for (name, value) in jwk.as_object().unwrap() {
        public[name] = value.clone();
    }
    let mut header = header.clone();
    header["jwk"] = public;
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let signature = key.sign(&rng, input.as_bytes()).unwrap();
    format!("{input}.{}", b64(signature.as_ref()))
}

/// The claims of a JWT, unverified.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// How many times the gateway has fetched the JWKS.
async fn jwks_fetches(system: &System) -> u64 {
    let health = call(&system.app, &format!("{}/healthz", system.gateway), None).await;
    health.body["jwks"]["fetches"].as_u64().unwrap()
}

fn assert_invalid_token(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 401, "{what}: {answer:?}");
    assert!(
        answer
            .challenge
            .starts_with(r#"Bearer realm="latchkey-demo", error="invalid_token""#),
        "{what}: {answer:?}"
    );
}

/// Sign alice in for the BFF's client with `scope` (and `resource`, RFC 8707) and redeem the code: her
/// access token.
async fn user_token(system: &System, scope: &str, resource: Option<&str>) -> String {
    let app = &system.app;
    let extra: Vec<(&str, &str)> = resource.map(|r| ("resource", r)).into_iter().collect();
    let (url, verifier) = app.authorize_url(&system.bff, scope, &extra);
    let callback = app.sign_in_through(&url, "alice").await;
    let code = query_param(&callback, "code").unwrap();
    let response = app
        .post_token(
            &system.bff,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &system.bff.redirect_uri),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    text(&response.json().await.unwrap(), "access_token")
}

async fn every_pattern_of_the_microservices_demo_holds_against_latchkey(backend: Backend) {
    let system = start_system(&backend).await;
    let app = &system.app;
    let apis = &system.apis;
    let gateway = system.gateway.as_str();
    let alice = app.create_user("alice").await;

    bff_signs_a_browser_in_and_keeps_the_tokens(&system, alice.user_id.as_str()).await;
    gateway_rejects_missing_forged_and_expired_tokens(&system).await;

    // Each service is its own API: a token names the one it is for (RFC 8707). The API follows from the
    // scope asked for (a scope belongs to one API); the gateway lets a token through only on its API's
    // route (RFC 9068 §4).
    let shop = service_token(app, &system.cli, demo::SHOP_SCOPE).await;
    let orders = service_token(app, &system.cli, demo::ORDERS_SCOPE).await;
    assert_eq!(claims_of(&shop)["aud"], apis.service_a.as_str());
    assert_eq!(claims_of(&orders)["aud"], apis.service_b.as_str());
    for (route, token) in [("service1", &orders), ("service2", &shop)] {
        let refused = call(app, &format!("{gateway}/{route}"), Some(token)).await;
        assert_invalid_token(&refused, route);
        assert_eq!(
            refused.body["error_description"],
            "the token is not meant for this audience"
        );
    }

    // Service A (`/service1`) calls D with its own client-credentials token, cached between calls.
    let first = call(app, &format!("{gateway}/service1"), Some(&shop)).await;
    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.body["service"], "A");
    assert_eq!(first.body["sub"], system.cli.client_id.as_str());
    assert_eq!(first.body["inventory"]["service"], "D");
    assert_eq!(
        first.body["inventory"]["caller"],
        system.service_a.client_id.as_str(),
        "A calls D as itself"
    );
    let again = call(app, &format!("{gateway}/service1"), Some(&shop)).await;
    assert_eq!(
        again.body["inventory"]["caller_token_jti"], first.body["inventory"]["caller_token_jti"],
        "A reuses its cached token"
    );
    // A's token is bound to its certificate (RFC 8705 §3), and D checked it against the connection.
    assert_eq!(
        first.body["inventory"]["cnf"]["x5t#S256"],
        thumbprint(&system.pki.service_a)
    );
    // D is its own API: tokens for another audience (a user's for A, the CLI's) are refused, even
    // over a connection with A's certificate.
    let service_d = format!("{}/inventory", system.demo.service_d.url);
    let as_a = https(&system.pki, Some(&system.pki.service_a));
    let user_token_a = user_token(&system, "openid shop:read", None).await;
    assert_eq!(claims_of(&user_token_a)["aud"], apis.service_a.as_str());
    for (token, what) in [(&user_token_a, "a user token"), (&shop, "the CLI's token")] {
        let refused = call_with(&as_a, &service_d, Some(token)).await;
        assert_eq!(refused.status, 401, "{what}: {refused:?}");
        assert!(
            refused.challenge.contains("not meant for this audience"),
            "{what}: {refused:?}"
        );
    }
    assert_eq!(
        first.body["inventory_for_user"],
        Value::Null,
        "no user here"
    );
    // For a user, A also calls D on the user's behalf: it exchanges the user's token (RFC 8693) for
    // one for D, whose `sub` is the user and `act.sub` is A.
    let for_user = call(app, &format!("{gateway}/service1"), Some(&user_token_a)).await;
    assert_eq!(for_user.status, 200, "{for_user:?}");
    assert_eq!(for_user.body["sub"], alice.user_id.as_str());
    assert_eq!(
        for_user.body["inventory"]["caller"],
        system.service_a.client_id.as_str()
    );
    let delegated = &for_user.body["inventory_for_user"];
    assert_eq!(delegated["service"], "D", "{delegated}");
    assert_eq!(delegated["sub"], alice.user_id.as_str());
    assert_eq!(
        delegated["act"],
        json!({ "sub": system.service_a.client_id.as_str() })
    );
    // The exchanged token is bound to A's certificate too: A asked for it over mutual TLS.
    assert_eq!(
        delegated["cnf"]["x5t#S256"],
        thumbprint(&system.pki.service_a)
    );
    // A token for A's API without A's scope passes the gateway (right audience) but not A.
    let no_shop = user_token(&system, "openid", Some(&apis.service_a)).await;
    assert_eq!(claims_of(&no_shop)["aud"], apis.service_a.as_str());
    let refused = call(app, &format!("{gateway}/service1"), Some(&no_shop)).await;
    assert_eq!(refused.status, 403, "{refused:?}");
    assert_eq!(refused.body["error"], "insufficient_scope");
    // A trusts the gateway's identity headers: called directly, it refuses.
    let direct = call(app, &system.demo.service_a.url, Some(&shop)).await;
    assert_eq!(direct.status, 401, "{direct:?}");

    // Service B (`/service2`) verifies the token itself and requires orders:read.
    let no_orders = user_token(&system, "openid", Some(&apis.service_b)).await;
    let refused = call(app, &format!("{gateway}/service2"), Some(&no_orders)).await;
    assert_eq!(refused.status, 403, "{refused:?}");
    assert_eq!(
        refused.challenge,
        r#"Bearer realm="latchkey-demo", error="insufficient_scope", error_description="this resource requires the orders:read scope", scope="orders:read""#
    );
    assert_eq!(refused.body["error"], "insufficient_scope");
    let accepted = call(app, &format!("{gateway}/service2"), Some(&orders)).await;
    assert_eq!(accepted.status, 200, "{accepted:?}");
    assert_eq!(accepted.body["service"], "B");
    let user_token_b = user_token(&system, "openid orders:read", None).await;
    let user = call(app, &format!("{gateway}/service2"), Some(&user_token_b)).await;
    assert_eq!(user.body["sub"], alice.user_id.as_str());
    // B checks the audience itself too: called directly with a token for A, it refuses.
    let direct = call(app, &system.demo.service_b.url, Some(&shop)).await;
    assert_invalid_token(&direct, "B, directly, with A's token");

    // Writing to B (`POST /service2`, forwarded by the gateway) also needs the role orders-admin.
    let post = |token: String| async move {
        let response = app
            .http
            .post(format!("{gateway}/service2/orders"))
            .bearer_auth(token)
            .json(&json!({ "item": "brass latch" }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json::<Value>().await.unwrap())
    };
    let (status, body) = post(orders.clone()).await;
    assert_eq!(
        (status, &body["error"]),
        (403, &json!("forbidden")),
        "{body}"
    );
    cli(
        app,
        &[
            "client",
            "add-role",
            &system.cli.client_id,
            demo::ORDERS_ADMIN_ROLE,
        ],
    );
    // Role changes apply to tokens issued afterwards (once past the client cache, where a client's
    // roles are kept with its registration): the old token still cannot write.
    assert_eq!(post(orders.clone()).await.0, 403);
    app.clock.advance(10);
    let admin = service_token(app, &system.cli, demo::ORDERS_SCOPE).await;
    let (status, body) = post(admin).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["written"], true);
    assert_eq!(body["roles"], json!([demo::ORDERS_ADMIN_ROLE]));
    // The role belongs to B's API: the same caller's token for A does not carry it.
    let shop_after = service_token(app, &system.cli, demo::SHOP_SCOPE).await;
    assert_eq!(claims_of(&shop_after).get("roles"), None);

    // Service C (`/service3`) serves an API of reference tokens: the gateway cannot read them and
    // forwards; C introspects each as its API's own client. A revoked token is refused at once, while
    // B (its own local check of a JWT) accepts a revoked token until it expires.
    let reports = service_token(app, &system.cli, demo::REPORTS_SCOPE).await;
    assert!(
        reports.starts_with("lk_at_"),
        "a reference token: {reports}"
    );
    let live = call(app, &format!("{gateway}/service3"), Some(&reports)).await;
    assert_eq!(live.status, 200, "{live:?}");
    assert_eq!(live.body["service"], "C");
    assert_eq!(live.body["aud"], apis.service_c.as_str());
    assert_eq!(live.body["scope"], demo::REPORTS_SCOPE);
    // A reference token is no JWT: refused on a route the gateway verifies.
    assert_invalid_token(
        &call(app, &format!("{gateway}/service2"), Some(&reports)).await,
        "a reference token at B",
    );
    // C's client learns nothing about another API's token (RFC 7662 §4: active false).
    assert_invalid_token(
        &call(app, &format!("{gateway}/service3"), Some(&orders)).await,
        "B's token at C",
    );
    assert_eq!(app.revoke(&system.cli, &reports).await.status(), 200);
    assert_invalid_token(
        &call(app, &format!("{gateway}/service3"), Some(&reports)).await,
        "revoked, at C",
    );
    assert_eq!(app.revoke(&system.cli, &orders).await.status(), 200);
    let stale = call(app, &format!("{gateway}/service2"), Some(&orders)).await;
    assert_eq!(stale.status, 200, "revoked but unexpired, at B");

    service_d_takes_only_tokens_bound_to_the_certificate_of_the_connection(&system).await;
    service_b_takes_a_dpop_bound_token_only_with_a_fresh_proof_of_its_key(&system).await;
    key_rotation_makes_the_gateway_refetch_the_jwks(&system).await;
    bff_refreshes_near_expiry_and_logs_out(&system).await;
    bff_ends_its_session_on_a_back_channel_logout(&system).await;

    for running in [
        &system.demo.gateway,
        &system.demo.service_a,
        &system.demo.service_b,
        &system.demo.service_c,
        &system.demo.service_d,
    ] {
        running.task.abort();
    }
}

async fn gateway_rejects_missing_forged_and_expired_tokens(system: &System) {
    let app = &system.app;
    let service2 = format!("{}/service2", system.gateway);
    let valid = service_token(app, &system.cli, demo::ORDERS_SCOPE).await;
    assert_eq!(call(app, &service2, Some(&valid)).await.status, 200);

    // RFC 6750 §3.1: no credentials, a bare challenge.
    let missing = call(app, &service2, None).await;
    assert_eq!(missing.status, 401);
    assert_eq!(missing.challenge, r#"Bearer realm="latchkey-demo""#);
    assert_invalid_token(&call(app, &service2, Some("not-a-jwt")).await, "garbage");

    // The payload changed after signing: the signature no longer matches.
    let header = valid.split('.').next().unwrap();
    let signature = valid.split('.').nth(2).unwrap();
    let mut claims = claims_of(&valid);
    claims["scope"] = json!("orders:read orders:write");
    let tampered = format!("{header}.{}.{signature}", b64(claims.to_string()));
    assert_invalid_token(&call(app, &service2, Some(&tampered)).await, "tampered");

    // Signed by an attacker's key under Latchkey's kid; and `alg: none`.
    let attacker = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let kid = jsonwebtoken::decode_header(&valid).unwrap().kid.unwrap();
    let forged = forge(
        &json!({ "alg": "RS256", "typ": "at+jwt", "kid": kid }),
        &claims_of(&valid),
        &attacker,
    );
    assert_invalid_token(&call(app, &service2, Some(&forged)).await, "forged");
    let unsigned = format!(
        "{}.{}.",
        b64(json!({ "alg": "none", "typ": "at+jwt", "kid": kid }).to_string()),
        b64(claims_of(&valid).to_string())
    );
    assert_invalid_token(&call(app, &service2, Some(&unsigned)).await, "alg none");

    // An ID token is signed by the same key but is not an access token (RFC 9068 §4: typ at+jwt).
    let id_token = text(
        &app.tokens_for(&system.bff, "alice", "openid orders:read")
            .await,
        "id_token",
    );
    let wrong_type = call(app, &service2, Some(&id_token)).await;
    assert_invalid_token(&wrong_type, "an ID token");
    assert_eq!(
        wrong_type.body["error_description"],
        "the token has the wrong type"
    );

    // Issued 10,000 s ago by Latchkey itself: genuine, and expired.
    app.clock.advance(-10_000);
    let old = service_token(app, &system.cli, demo::ORDERS_SCOPE).await;
    app.clock.advance(10_000);
    let expired = call(app, &service2, Some(&old)).await;
    assert_invalid_token(&expired, "expired");
    assert_eq!(expired.body["error_description"], "the token has expired");

    // `/verify`, for NGINX `auth_request` and similar: 204 with the identity, or the same refusals.
    // The query names the API the token must be for.
    let verify = format!(
        "{}/verify?{}",
        system.gateway,
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("aud", &system.apis.service_b)
            .finish()
    );
    let verified = app
        .http
        .get(&verify)
        .bearer_auth(&valid)
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status(), 204);
    assert_eq!(
        verified.headers()["x-authenticated-sub"],
        system.cli.client_id.as_str()
    );
    assert_eq!(
        verified.headers()["x-authenticated-scope"],
        demo::ORDERS_SCOPE
    );
    assert_invalid_token(&call(app, &verify, Some(&forged)).await, "verify forged");
    assert_eq!(call(app, &verify, None).await.status, 401);
    // Every token is for one API: a verifier query that names none lets nothing through.
    let unnamed = call(app, &format!("{}/verify", system.gateway), Some(&valid)).await;
    assert_invalid_token(&unnamed, "verify without aud");
    assert_eq!(
        unnamed.body["error_description"],
        "the verifier's query names no aud"
    );
}

async fn key_rotation_makes_the_gateway_refetch_the_jwks(system: &System) {
    let app = &system.app;
    let service2 = format!("{}/service2", system.gateway);
    let before = service_token(app, &system.cli, demo::ORDERS_SCOPE).await;
    assert_eq!(call(app, &service2, Some(&before)).await.status, 200);
    let fetches = jwks_fetches(system).await;

    // Latchkey publishes its next key ahead of time, so one rotation activates a key the gateway has
    // already seen; the second activates one created after the gateway's last fetch.
    let store = app.state.store.as_ref();
    for _ in 0..2 {
        app.state
            .keys
            .rotate(store, SigningAlg::RS256, app.clock.now())
            .await
            .unwrap();
    }
    app.state
        .keys
        .refresh(store, app.clock.now())
        .await
        .unwrap();
    let after = service_token(app, &system.cli, demo::ORDERS_SCOPE).await;
    let new_kid = jsonwebtoken::decode_header(&after).unwrap().kid.unwrap();
    assert_ne!(
        jsonwebtoken::decode_header(&before).unwrap().kid.unwrap(),
        new_kid
    );

    let accepted = call(app, &service2, Some(&after)).await;
    assert_eq!(accepted.status, 200, "new kid: {accepted:?}");
    assert_eq!(
        jwks_fetches(system).await,
        fetches + 1,
        "one refetch for the unknown kid"
    );
    assert_eq!(
        call(app, &service2, Some(&before)).await.status,
        200,
        "the retired key is still published, so its tokens still verify"
    );

    // Made-up kids cannot make the gateway hammer Latchkey: refetches are rate-limited.
    let attacker = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let before_flood = jwks_fetches(system).await;
    for n in 0..20 {
        let forged = forge(
            &json!({ "alg": "RS256", "typ": "at+jwt", "kid": format!("made-up-{n}") }),
            &claims_of(&after),
            &attacker,
        );
        assert_invalid_token(&call(app, &service2, Some(&forged)).await, "unknown kid");
    }
    let flood = jwks_fetches(system).await - before_flood;
    assert!(flood <= 5, "{flood} JWKS fetches for 20 unknown kids");
    assert_eq!(call(app, &service2, Some(&after)).await.status, 200);
}

async fn bff_signs_a_browser_in_and_keeps_the_tokens(system: &System, alice: &str) {
    let app = &system.app;
    let gateway = system.gateway.as_str();
    let signed_out = call(app, &format!("{gateway}/app/service1"), None).await;
    assert_eq!(signed_out.status, 401);
    assert_eq!(signed_out.body["error"], "login_required");

    // A response to someone else's sign-in (wrong state) is refused.
    let login = app.get_url(&format!("{gateway}/login")).await;
    assert_eq!(login.status(), 303);
    let forged_callback = format!(
        "{gateway}/callback?code=lk_ac_stolen&state=not-mine&iss={}",
        url::form_urlencoded::byte_serialize(app.address.as_bytes()).collect::<String>()
    );
    assert_eq!(app.get_url(&forged_callback).await.status(), 400);

    // `/login` sends the browser to Latchkey with PKCE S256, state and nonce.
    let login = app.get_url(&format!("{gateway}/login")).await;
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("bff_login=")
            && cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
    );
    let authorize = url::Url::parse(&location(&login)).unwrap();
    assert!(
        authorize
            .as_str()
            .starts_with(&format!("{}/authorize?", app.address))
    );
    assert_eq!(
        query_param(&authorize, "client_id").unwrap(),
        system.bff.client_id
    );
    assert_eq!(
        query_param(&authorize, "code_challenge_method").unwrap(),
        "S256"
    );
    assert_eq!(query_param(&authorize, "code_challenge").unwrap().len(), 43);
    assert!(
        query_param(&authorize, "state").is_some() && query_param(&authorize, "nonce").is_some()
    );
    // RFC 8707 §2: the grant covers the API of each route; each access token will be for one.
    let resources: Vec<String> = authorize
        .query_pairs()
        .filter(|(name, _)| name == "resource")
        .map(|(_, value)| value.into_owned())
        .collect();
    assert_eq!(
        resources,
        [
            system.apis.service_a.as_str(),
            system.apis.service_b.as_str(),
            system.apis.service_c.as_str()
        ]
    );

    // Latchkey's sign-in page, then back to the BFF, which redeems the code and starts a session.
    let callback = app.sign_in_through(authorize.as_str(), "alice").await;
    assert!(
        callback
            .as_str()
            .starts_with(&format!("{gateway}/callback?"))
    );
    let done = app.get_url(callback.as_str()).await;
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), "/");
    let cookies: Vec<String> = done
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("bff_session="))
        .unwrap();
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Lax"));
    // The browser gets a cookie and nothing else: no token in any header.
    for (name, value) in done.headers() {
        let value = value.to_str().unwrap();
        assert!(
            !value.contains("eyJ") && !value.contains("lk_rt_"),
            "{name}: {value}"
        );
    }
    assert_eq!(
        app.get_url(callback.as_str()).await.status(),
        400,
        "a callback is used once"
    );

    let me = call(app, &format!("{gateway}/app/me"), None).await;
    assert_eq!(me.body["preferred_username"], "alice");
    let one = call(app, &format!("{gateway}/app/service1"), None).await;
    assert_eq!(one.status, 200, "{one:?}");
    assert_eq!(one.body["sub"], alice);
    assert_eq!(
        one.body["inventory"]["caller"],
        system.service_a.client_id.as_str()
    );
    // The signed-in browser's request reaches D on alice's behalf too (token exchange by A).
    assert_eq!(one.body["inventory_for_user"]["sub"], alice);
    assert_eq!(
        one.body["inventory_for_user"]["act"]["sub"],
        system.service_a.client_id.as_str()
    );
    let two = call(app, &format!("{gateway}/app/service2"), None).await;
    assert_eq!(two.status, 200, "{two:?}");
    assert_eq!(two.body["client_id"], system.bff.client_id.as_str());
    // The BFF's token for B's API is bound to the BFF's DPoP key (RFC 9449 §6.1), and B took it
    // with a proof of that key.
    assert_eq!(two.body["cnf"]["jkt"], system.demo.bff_dpop_jkt.as_str());
    assert_eq!(one.body["inventory"]["cnf"].get("jkt"), None);
    // One refresh token, one access token per API: C's is a reference token, which C introspects.
    let three = call(app, &format!("{gateway}/app/service3"), None).await;
    assert_eq!(three.status, 200, "{three:?}");
    assert_eq!(three.body["username"], "alice");
    assert_eq!(three.body["aud"], system.apis.service_c.as_str());
    assert_eq!(three.body["scope"], "openid profile reports:read");
    assert_eq!(two.body["scope"], "openid orders:read profile");
}

async fn bff_ends_its_session_on_a_back_channel_logout(system: &System) {
    let app = &system.app;
    let gateway = system.gateway.as_str();
    let me = format!("{gateway}/app/me");
    // Signed in again through the BFF.
    let login = app.get_url(&format!("{gateway}/login")).await;
    let callback = app.sign_in_through(&location(&login), "alice").await;
    assert_eq!(app.get_url(callback.as_str()).await.status(), 303);
    assert_eq!(call(app, &me, None).await.status, 200);
    // A forged logout token is refused and ends nothing.
    let forged = app
        .http
        .post(format!("{gateway}/backchannel-logout"))
        .form(&[("logout_token", "eyJhbGciOiJub25lIn0.e30.")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 400);
    assert_eq!(call(app, &me, None).await.status, 200);
    // An administrator signs alice out everywhere, with the CLI on the database: the server delivers
    // a logout token to the BFF, which ends its session of her (no refresh needed to find out).
    cli(app, &["user", "revoke-sessions", "alice"]);
    for _ in 0..100 {
        if call(app, &me, None).await.status == 401 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the BFF kept the session after a back-channel logout");
}

async fn bff_refreshes_near_expiry_and_logs_out(system: &System) {
    let app = &system.app;
    let gateway = system.gateway.as_str();
    let service2 = format!("{gateway}/app/service2");
    let mut exp = call(app, &service2, None).await.body["exp"]
        .as_i64()
        .unwrap();
    let a_token = call(app, &format!("{gateway}/app/service1"), None)
        .await
        .body["inventory"]["caller_token_jti"]
        .clone();
    let lifetime = app.state.settings.lifetimes.access_token;

    // Twice to within 25 s of expiry: each time the BFF refreshes, and it keeps the rotated refresh
    // token (presenting the spent one would revoke the whole grant).
    for _ in 0..2 {
        let step = exp - app.clock.now() - demo::RENEW_BEFORE_SECONDS + 5;
        app.clock.advance(step);
        let refreshed = call(app, &service2, None).await;
        assert_eq!(refreshed.status, 200, "{refreshed:?}");
        let new_exp = refreshed.body["exp"].as_i64().unwrap();
        assert_eq!(new_exp, app.clock.now() + lifetime, "a fresh access token");
        exp = new_exp;
    }
    // Service A renewed its own token as well.
    let renewed = call(app, &format!("{gateway}/app/service1"), None).await;
    assert_eq!(renewed.status, 200);
    assert_ne!(renewed.body["inventory"]["caller_token_jti"], a_token);

    // Logout: the session ends here and at Latchkey, via its end-session endpoint. The page's sign-out
    // form posts to the gateway, which redirects to Latchkey: browsers hold that redirect to the page's
    // CSP `form-action` too, so Latchkey's origin is listed there.
    let home = app.get_url(&format!("{gateway}/")).await;
    let csp = home.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains(&format!("form-action 'self' {};", app.address)),
        "{csp}"
    );
    let logout = app
        .http
        .post(format!("{gateway}/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 303);
    let end_session = url::Url::parse(&location(&logout)).unwrap();
    assert!(
        end_session
            .as_str()
            .starts_with(&format!("{}/end_session?", app.address))
    );
    assert!(query_param(&end_session, "id_token_hint").is_some());
    assert_eq!(
        query_param(&end_session, "post_logout_redirect_uri").unwrap(),
        format!("{gateway}/logged-out")
    );
    let back = app.get_url(end_session.as_str()).await;
    assert_eq!(back.status(), 303);
    let back = location(&back);
    assert!(
        back.starts_with(&format!("{gateway}/logged-out?state=")),
        "{back}"
    );
    assert_eq!(app.get_url(&back).await.status(), 200);
    assert_eq!(call(app, &service2, None).await.status, 401);
    // Signing in again needs the password again.
    let login = app.get_url(&format!("{gateway}/login")).await;
    let authorize = app.get_url(&location(&login)).await;
    assert!(location(&authorize).ends_with("/login"));
}

/// RFC 8705 §3 at Service D: only over mutual TLS, and only a token bound to the certificate of the
/// request's own connection.
async fn service_d_takes_only_tokens_bound_to_the_certificate_of_the_connection(system: &System) {
    let app = &system.app;
    let service_d = format!("{}/inventory", system.demo.service_d.url);
    let as_a = https(&system.pki, Some(&system.pki.service_a));
    // A's own token, asked for as A does: its certificate alone authenticates it (no secret), and
    // Latchkey binds the token to it.
    let response = as_a
        .post(format!("{}/token", app.address))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", system.service_a.client_id.as_str()),
            ("scope", demo::INVENTORY_SCOPE),
            ("resource", system.apis.service_d.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["token_type"], "Bearer",
        "RFC 8705 keeps the Bearer type"
    );
    let token = text(&body, "access_token");
    assert_eq!(
        claims_of(&token)["cnf"]["x5t#S256"],
        thumbprint(&system.pki.service_a)
    );
    let accepted = call_with(&as_a, &service_d, Some(&token)).await;
    assert_eq!(accepted.status, 200, "{accepted:?}");
    assert_eq!(accepted.body["caller"], system.service_a.client_id.as_str());

    // Another certificate of the same CA passes the handshake, but the token is not bound to it.
    let intruder = system
        .authority
        .client_certificate("intruder", "spiffe://demo.example/intruder")
        .unwrap();
    let stolen = call_with(
        &https(&system.pki, Some(&intruder)),
        &service_d,
        Some(&token),
    )
    .await;
    assert_invalid_token(&stolen, "A's token over another certificate");
    assert_eq!(
        stolen.body["error_description"],
        "the token is bound to another certificate than this connection's"
    );

    // A token bound to nothing, for D's API and with its scope, is refused even over A's connection.
    let unbound_client = app
        .register_client(ClientSpec {
            client_name: "Unbound service".into(),
            grant_types: vec!["client_credentials".into()],
            scope: demo::INVENTORY_SCOPE.into(),
            auth_method: "client_secret_basic".into(),
            resources: vec![system.apis.service_d.clone()],
            ..Default::default()
        })
        .await;
    let unbound = service_token(app, &unbound_client, demo::INVENTORY_SCOPE).await;
    assert_eq!(claims_of(&unbound)["aud"], system.apis.service_d.as_str());
    assert_eq!(claims_of(&unbound).get("cnf"), None);
    let refused = call_with(&as_a, &service_d, Some(&unbound)).await;
    assert_invalid_token(&refused, "an unbound token");
    assert_eq!(
        refused.body["error_description"],
        "only certificate-bound tokens are accepted here"
    );

    // Without a certificate, or with one of another CA, there is no connection at all.
    let stranger = Authority::new()
        .unwrap()
        .client_certificate("service-a", demo::pki::SERVICE_A_URI)
        .unwrap();
    for (identity, what) in [(None, "no certificate"), (Some(&stranger), "another CA's")] {
        let attempt = https(&system.pki, identity)
            .get(&service_d)
            .bearer_auth(&token)
            .send()
            .await;
        assert!(attempt.is_err(), "{what}: {attempt:?}");
    }
}

/// RFC 9449 §7 at Service B: a DPoP-bound token only with the DPoP scheme and a fresh proof of its
/// key for the very request; plain bearer tokens keep working (the rest of the test uses them).
async fn service_b_takes_a_dpop_bound_token_only_with_a_fresh_proof_of_its_key(system: &System) {
    let app = &system.app;
    let key = demo::dpop::DpopKey::generate().unwrap();
    // A token bound to `key`, as the BFF gets its own: a proof with the token request.
    let token_url = format!("{}/token", app.address);
    let proof = key
        .proof("POST", &token_url, None, app.clock.now())
        .unwrap();
    let response = app
        .http
        .post(&token_url)
        .basic_auth(&system.cli.client_id, system.cli.secret.as_ref())
        .header("DPoP", proof)
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", demo::ORDERS_SCOPE),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "DPoP");
    let token = text(&body, "access_token");
    assert_eq!(claims_of(&token)["cnf"]["jkt"], key.jkt.as_str());

    let orders = format!("{}/orders", system.demo.service_b.url);
    let with_proof = |proof: Option<String>| {
        let mut request = app
            .http
            .get(&orders)
            .header("Authorization", format!("DPoP {token}"));
        if let Some(proof) = proof {
            request = request.header("DPoP", proof);
        }
        answer(request)
    };
    let refused = |answer: &Answer, error: &str, description: &str| {
        assert_eq!(answer.status, 401, "{description}: {answer:?}");
        assert_eq!(
            answer.challenge,
            format!(
                r#"DPoP realm="latchkey-demo", algs="ES256 EdDSA RS256 PS256", error="{error}", error_description="{description}""#
            )
        );
        assert_eq!(answer.body["error"], error);
    };

    // A bound token is no bearer token (RFC 9449 §7.2): at B, and through the gateway.
    let bearer = "this access token is DPoP-bound: send it with the DPoP scheme and a proof";
    refused(
        &call(app, &orders, Some(&token)).await,
        "invalid_token",
        bearer,
    );
    let gateway = format!("{}/service2/orders", system.gateway);
    refused(
        &call(app, &gateway, Some(&token)).await,
        "invalid_token",
        bearer,
    );

    // With a proof of its key for this request: accepted, once.
    let proof = key
        .proof("GET", &orders, Some(&token), app.clock.now())
        .unwrap();
    let accepted = with_proof(Some(proof.clone())).await;
    assert_eq!(accepted.status, 200, "{accepted:?}");
    assert_eq!(accepted.body["cnf"]["jkt"], key.jkt.as_str());
    refused(
        &with_proof(Some(proof)).await,
        "invalid_dpop_proof",
        "the DPoP proof was already used",
    );

    // Another key's proof; a proof for another URL, or method; a stale one; none.
    let other = demo::dpop::DpopKey::generate().unwrap();
    let now = app.clock.now();
    refused(
        &with_proof(Some(
            other.proof("GET", &orders, Some(&token), now).unwrap(),
        ))
        .await,
        "invalid_token",
        "the access token is not bound to the DPoP proof's key",
    );
    let elsewhere = format!("{}/elsewhere", system.demo.service_b.url);
    refused(
        &with_proof(Some(
            key.proof("GET", &elsewhere, Some(&token), now).unwrap(),
        ))
        .await,
        "invalid_dpop_proof",
        "the DPoP proof is for another URL",
    );
    refused(
        &with_proof(Some(key.proof("POST", &orders, Some(&token), now).unwrap())).await,
        "invalid_dpop_proof",
        "the DPoP proof is for another method",
    );
    refused(
        &with_proof(Some(
            key.proof("GET", &orders, Some(&token), now - 120).unwrap(),
        ))
        .await,
        "invalid_dpop_proof",
        "the DPoP proof is too old or from the future",
    );
    refused(
        &with_proof(Some(
            key.proof("GET", &orders, Some("another-token"), now)
                .unwrap(),
        ))
        .await,
        "invalid_dpop_proof",
        "the DPoP proof's ath is not this token's hash",
    );
    refused(
        &with_proof(None).await,
        "invalid_dpop_proof",
        "send exactly one DPoP proof",
    );

    // Proofs that break the rules of RFC 9449 §4.3 in their header or signature.
    let claims = json!({
        "jti": b64(now.to_string()),
        "htm": "GET",
        "htu": orders,
        "iat": now,
        "ath": demo::dpop::ath(&token),
    });
    let dpop_header = json!({ "typ": "dpop+jwt", "alg": "ES256" });
    let another_point = raw_proof(&dpop_header, &json!({}), &claims);
    let another_jwk = jsonwebtoken::decode_header(&another_point)
        .unwrap()
        .jwk
        .unwrap();
    let another_jwk = serde_json::to_value(another_jwk).unwrap();
    let unsigned = format!(
        "{}.{}.",
        b64(json!({ "typ": "dpop+jwt", "alg": "none", "jwk": another_jwk }).to_string()),
        b64(claims.to_string())
    );
    for (proof, description) in [
        (
            raw_proof(
                &json!({ "typ": "JWT", "alg": "ES256" }),
                &json!({}),
                &claims,
            ),
            "the DPoP proof's typ is not dpop+jwt",
        ),
        (
            raw_proof(&dpop_header, &json!({ "d": b64("secret") }), &claims),
            "the DPoP proof's jwk is a private key",
        ),
        (
            raw_proof(
                &dpop_header,
                &json!({ "x": another_jwk["x"], "y": another_jwk["y"] }),
                &claims,
            ),
            "the DPoP proof's signature or claims are invalid",
        ),
        (unsigned, "the DPoP proof's header is malformed"),
    ] {
        refused(
            &with_proof(Some(proof)).await,
            "invalid_dpop_proof",
            description,
        );
    }

    // An unbound token with the DPoP scheme is refused too: nothing binds it to the proof.
    let plain = service_token(app, &system.cli, demo::ORDERS_SCOPE).await;
    let proof = key.proof("GET", &orders, Some(&plain), now).unwrap();
    let request = app
        .http
        .get(&orders)
        .header("Authorization", format!("DPoP {plain}"))
        .header("DPoP", proof);
    refused(
        &answer(request).await,
        "invalid_token",
        "the access token is not bound to the DPoP proof's key",
    );
}

/// RFC 9470 step-up, end to end: alice (who holds `orders-admin` and has an authenticator app)
/// signed in to the BFF with her password alone. Service B refuses her write with
/// `insufficient_user_authentication` and `acr_values`; the BFF asks Latchkey for that level,
/// Latchkey asks her only for the code (no password page), and the BFF sends the write again.
async fn a_users_write_at_service_b_is_stepped_up_to_two_factors_through_the_bff(backend: Backend) {
    use crate::mfa::{code, enrol, post_code};
    let system = start_system(&backend).await;
    let app = &system.app;
    let gateway = system.gateway.as_str();
    app.create_user("alice").await;
    cli(app, &["user", "add-role", "alice", demo::ORDERS_ADMIN_ROLE]);
    app.post_login("alice", crate::helpers::PASSWORD).await;
    let (secret, _, _) = enrol(app).await;
    // A password-only Latchkey session, and a BFF session from it.
    app.post_login("alice", crate::helpers::PASSWORD).await;
    app.clock.advance(10); // past the catalog cache (the role)
    let login = app.get_url(&format!("{gateway}/login")).await;
    let callback = app.sign_in_through(&location(&login), "alice").await;
    assert_eq!(app.get_url(callback.as_str()).await.status(), 303);
    let read = call(app, &format!("{gateway}/app/service2"), None).await;
    assert_eq!(
        read.status, 200,
        "reading needs no second factor: {}",
        read.body
    );

    // B itself, given the session's kind of token directly: the RFC 9470 challenge.
    let weak = user_token(&system, demo::ORDERS_SCOPE, Some(&system.apis.service_b)).await;
    assert_eq!(claims_of(&weak)["acr"], "urn:latchkey:acr:pwd");
    let refused = answer(app.http.post(&system.demo.service_b.url).bearer_auth(&weak)).await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(
        refused.challenge.starts_with("Bearer ")
            && refused
                .challenge
                .contains("error=\"insufficient_user_authentication\"")
            && refused
                .challenge
                .contains("acr_values=\"urn:latchkey:acr:mfa\""),
        "{}",
        refused.challenge
    );

    // Through the BFF: the write sends the browser to Latchkey with acr_values, which asks for the
    // code only.
    app.clock.advance(30);
    let write = app
        .http
        .post(format!("{gateway}/app/service2"))
        .send()
        .await
        .unwrap();
    assert_eq!(write.status(), 303);
    let authorize = url::Url::parse(&location(&write)).unwrap();
    assert_eq!(
        query_param(&authorize, "acr_values").as_deref(),
        Some("urn:latchkey:acr:mfa")
    );
    let at_latchkey = app.get_url(authorize.as_str()).await;
    assert_eq!(at_latchkey.status(), 303);
    assert!(
        location(&at_latchkey).ends_with("/otp"),
        "only the second factor is asked: {}",
        location(&at_latchkey)
    );
    let coded = post_code(app, "/otp", &code(app, &secret)).await;
    assert_eq!(coded.status(), 303);
    let back = location(&coded);
    assert!(back.starts_with(&format!("{gateway}/callback?")), "{back}");
    // The BFF's callback sends the write again, now with a two-factor token, and answers it.
    let done = app.get_url(&back).await;
    let status = done.status();
    let body: Value = done.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["written"], true);
    assert_eq!(body["roles"], json!([demo::ORDERS_ADMIN_ROLE]));
}
