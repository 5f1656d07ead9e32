//! OpenID Connect Back-Channel Logout 1.0: `sid` in ID tokens, logout tokens POSTed to the clients
//! a session signed in to when it ends (sign-out, and every admin change that signs a user out),
//! retries, one delivery per token across instances, and the registration rules.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::extract::{Form, State};
use axum::http::StatusCode;
use tokio::sync::Mutex;

use crate::helpers::{Backend, TestApp, TestClient, failure_of, json_of};

crate::backend_tests!(
    a_sign_out_sends_each_client_of_the_session_a_verifiable_logout_token,
    every_admin_sign_out_notifies_the_clients_even_from_the_cli,
    a_failed_delivery_is_tried_again_with_the_same_jti,
    two_instances_deliver_each_logout_token_once,
    backchannel_logout_is_advertised_and_its_registration_checked,
);

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// A client's back-channel logout endpoint on loopback: records every `logout_token` POSTed to
/// it, and answers 503 to the first `fail_first` of them.
struct Listener {
    url: String,
    received: Arc<Mutex<Vec<String>>>,
}

#[derive(Clone)]
struct Inbox {
    received: Arc<Mutex<Vec<String>>>,
    calls: Arc<AtomicUsize>,
    fail_first: usize,
}

async fn receive(
    State(inbox): State<Inbox>,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> StatusCode {
    inbox
        .received
        .lock()
        .await
        .push(form.get("logout_token").cloned().unwrap_or_default());
    if inbox.calls.fetch_add(1, Ordering::SeqCst) < inbox.fail_first {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

impl Listener {
    async fn start(fail_first: usize) -> Self {
        let received = Arc::new(Mutex::new(Vec::new()));
        let inbox = Inbox {
            received: received.clone(),
            calls: Arc::new(AtomicUsize::new(0)),
            fail_first,
        };
        let router = axum::Router::new()
            .route("/backchannel-logout", axum::routing::post(receive))
            .with_state(inbox);
        let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/backchannel-logout", socket.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(socket, router).await });
        Self { url, received }
    }

    /// The logout tokens received once there are `count` of them (waiting up to 15 s).
    async fn wait_for(&self, count: usize) -> Vec<String> {
        for _ in 0..150 {
            let received = self.received.lock().await.clone();
            if received.len() >= count {
                return received;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "expected {count} logout tokens, got {}",
            self.received.lock().await.len()
        );
    }

    async fn count(&self) -> usize {
        self.received.lock().await.len()
    }
}

/// A confidential web client whose logout endpoint is `listener`.
async fn client_of(app: &TestApp, listener: &Listener, session_required: bool) -> TestClient {
    app.register_client(latchkey::domain::client::ClientSpec {
        client_name: "Web App".into(),
        redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        scope: "openid profile offline_access".into(),
        auth_method: "client_secret_basic".into(),
        skip_consent: true,
        backchannel_logout_uri: Some(listener.url.clone()),
        backchannel_logout_session_required: session_required,
        ..Default::default()
    })
    .await
}

/// The verified claims of a logout token (§2.6: the signature with the OP's JWKS, `iss`, `aud`,
/// `typ`), with `exp` and `iat` checked against each other rather than the wall clock (the
/// server's clock is the test's).
async fn verify(app: &TestApp, token: &str, client: &TestClient) -> serde_json::Value {
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("logout+jwt"));
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(app.get_jwks().await).unwrap();
    let jwk = jwks.find(header.kid.as_deref().unwrap()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = jsonwebtoken::Validation::new(header.alg);
    validation.set_audience(&[&client.client_id]);
    validation.set_issuer(&[&app.address]);
    validation.validate_exp = false;
    validation.set_required_spec_claims(&["iss", "aud", "iat", "exp"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation)
        .unwrap()
        .claims;
    // §2.4: the event, a jti, no nonce; a short life.
    assert_eq!(claims["events"][EVENT], serde_json::json!({}));
    assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
    assert!(claims.get("nonce").is_none());
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        120
    );
    claims
}

/// The unverified claims of a JWT (for reading an ID token's `sid`).
fn claims_of(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

async fn a_sign_out_sends_each_client_of_the_session_a_verifiable_logout_token(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let (first_listener, second_listener) = (Listener::start(0).await, Listener::start(0).await);
    let first = client_of(&app, &first_listener, true).await;
    let second = client_of(&app, &second_listener, false).await;
    let quiet = app.web_client().await;
    let alice = app.create_user("alice").await;

    // One browser session signs in to three clients: their ID tokens share one `sid`.
    let tokens = app.tokens_for(&first, "alice", "openid").await;
    let id_token = tokens["id_token"].as_str().unwrap().to_owned();
    let sid = claims_of(&id_token)["sid"].as_str().unwrap().to_owned();
    assert!(sid.len() >= 16, "{sid}");
    let other = app.tokens_for(&second, "alice", "openid").await;
    assert_eq!(claims_of(other["id_token"].as_str().unwrap())["sid"], sid);
    app.tokens_for(&quiet, "alice", "openid").await;
    // A refreshed ID token keeps the session's sid.
    let refreshed = app
        .refresh(&first, tokens["refresh_token"].as_str().unwrap(), None)
        .await;
    let refreshed: serde_json::Value = refreshed.json().await.unwrap();
    assert_eq!(
        claims_of(refreshed["id_token"].as_str().unwrap())["sid"],
        sid
    );
    // Discovery lists the claim.
    let discovery = app.get_discovery().await;
    assert!(
        discovery["claims_supported"]
            .as_array()
            .unwrap()
            .contains(&"sid".into())
    );

    // RP-initiated sign-out: answered at once, then each client with a logout URI is told.
    let response = app
        .get(&format!("/end_session?id_token_hint={id_token}"))
        .await;
    assert_eq!(response.status(), 200);
    for (listener, client) in [(&first_listener, &first), (&second_listener, &second)] {
        let received = listener.wait_for(1).await;
        let claims = verify(&app, &received[0], client).await;
        assert_eq!(claims["sub"], alice.user_id.as_str());
        assert_eq!(claims["sid"], sid.as_str());
    }
    // Exactly one each, and a second sign-out of nobody sends nothing more.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(first_listener.count().await, 1);
    assert_eq!(second_listener.count().await, 1);
    // A new session has a new sid.
    let again = app.tokens_for(&first, "alice", "openid").await;
    assert_ne!(claims_of(again["id_token"].as_str().unwrap())["sid"], sid);
}

async fn every_admin_sign_out_notifies_the_clients_even_from_the_cli(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let listener = Listener::start(0).await;
    let client = client_of(&app, &listener, true).await;
    let alice = app.create_user("alice").await;
    // The CLI works on the database: the running server finds the deliveries by polling.
    let triggers: [(&[&str], Option<&str>); 4] = [
        (&["user", "revoke-sessions", "alice", "--json"], None),
        (
            &[
                "user",
                "set-password",
                "alice",
                "--password-stdin",
                "--json",
            ],
            Some("a brand new passphrase, 2026"),
        ),
        (&["user", "disable", "alice", "--json"], None),
        (&["user", "delete", "alice", "--json"], None),
    ];
    let mut password = crate::helpers::PASSWORD.to_owned();
    for (round, (args, stdin)) in triggers.into_iter().enumerate() {
        let sid = {
            let tokens = sign_in(&app, &client, "alice", &password).await;
            claims_of(tokens["id_token"].as_str().unwrap())["sid"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        json_of(&app.db.cli(args, stdin));
        if let Some(new) = stdin {
            password = new.to_owned();
        }
        let received = listener.wait_for(round + 1).await;
        let claims = verify(&app, &received[round], &client).await;
        assert_eq!(claims["sub"], alice.user_id.as_str(), "{args:?}");
        assert_eq!(claims["sid"], sid.as_str(), "{args:?}");
        if args[1] == "disable" {
            json_of(&app.db.cli(&["user", "enable", "alice", "--json"], None));
        }
    }
    // Through the admin API too (the server wakes its deliverer at once).
    let bob = app.create_user("bob").await;
    sign_in(&app, &client, "bob", crate::helpers::PASSWORD).await;
    let (id, secret) = crate::admin_api::bootstrap(&app);
    let admin = crate::admin_api::token(&app, &id, &secret, "latchkey:admin").await;
    let response = app
        .http
        .post(format!(
            "{}/admin/v1/users/bob/revoke-sessions",
            app.address
        ))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let received = listener.wait_for(5).await;
    assert_eq!(
        verify(&app, &received[4], &client).await["sub"],
        bob.user_id.as_str()
    );
}

/// Sign `username` in afresh (a new browser session) for `client` and redeem the code.
async fn sign_in(
    app: &TestApp,
    client: &TestClient,
    username: &str,
    password: &str,
) -> serde_json::Value {
    let (url, verifier) = app.authorize_url(client, "openid", &[("prompt", "login")]);
    let response = app.get_url(&url).await;
    assert_eq!(response.status(), 303);
    let login = app.post_login(username, password).await;
    assert_eq!(login.status(), 303, "{}", login.text().await.unwrap());
    let location = url::Url::parse(login.headers()["location"].to_str().unwrap()).unwrap();
    let code = crate::helpers::query_param(&location, "code").unwrap();
    let response = app
        .post_token(
            client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &client.redirect_uri),
                ("code_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn a_failed_delivery_is_tried_again_with_the_same_jti(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let listener = Listener::start(1).await;
    let client = client_of(&app, &listener, false).await;
    app.create_user("alice").await;
    let tokens = app.tokens_for(&client, "alice", "openid").await;
    let hint = tokens["id_token"].as_str().unwrap();
    let started = std::time::Instant::now();
    let response = app.get(&format!("/end_session?id_token_hint={hint}")).await;
    assert_eq!(response.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(2));
    // The first attempt gets a 503: tried again 5 s later (on the server's clock).
    let first = listener.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(listener.count().await, 1, "not before the retry is due");
    app.clock.advance(5);
    let both = listener.wait_for(2).await;
    let (a, b) = (
        verify(&app, &first[0], &client).await,
        verify(&app, &both[1], &client).await,
    );
    assert_eq!(a["jti"], b["jti"], "a retry of the same logout token");
    assert!(b["iat"].as_i64() > a["iat"].as_i64(), "signed afresh");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains(r#"latchkey_backchannel_logouts_total{outcome="retrying"} 1"#));
    assert!(metrics.contains(r#"latchkey_backchannel_logouts_total{outcome="delivered"} 1"#));
}

async fn two_instances_deliver_each_logout_token_once(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let _sibling = app.spawn_sibling().await;
    let listener = Listener::start(0).await;
    let client = client_of(&app, &listener, false).await;
    let alice = app.create_user("alice").await;
    let bob = app.create_user("bob").await;
    // Alice signs in, then Bob in the same browser (a new session, with a new sid).
    app.tokens_for(&client, "alice", "openid").await;
    sign_in(&app, &client, "bob", crate::helpers::PASSWORD).await;
    // Both signed out on the database: both instances poll the same outbox.
    json_of(
        &app.db
            .cli(&["user", "revoke-sessions", "alice", "--json"], None),
    );
    json_of(
        &app.db
            .cli(&["user", "revoke-sessions", "bob", "--json"], None),
    );
    listener.wait_for(2).await;
    // Several polls of both instances later: still one token per session.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let received = listener.wait_for(2).await;
    assert_eq!(received.len(), 2, "no token was delivered twice");
    let mut subs = Vec::new();
    for token in &received {
        subs.push(
            verify(&app, token, &client).await["sub"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    subs.sort();
    let mut expected = vec![alice.user_id.to_string(), bob.user_id.to_string()];
    expected.sort();
    assert_eq!(subs, expected);
}

async fn backchannel_logout_is_advertised_and_its_registration_checked(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let discovery = app.get_discovery().await;
    assert_eq!(discovery["backchannel_logout_supported"], true);
    assert_eq!(discovery["backchannel_logout_session_supported"], true);
    let oauth = app
        .get("/.well-known/oauth-authorization-server")
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    assert_eq!(oauth["backchannel_logout_supported"], true);

    // The CLI: http only for a confidential client; the session flag needs the URI.
    let created = json_of(&app.db.cli(
        &[
            "client",
            "create",
            "--name",
            "BFF",
            "--redirect-uri",
            "https://bff.example.com/callback",
            "--backchannel-logout-uri",
            "http://bff.internal:8080/backchannel-logout",
            "--backchannel-logout-session-required",
            "--json",
        ],
        None,
    ));
    assert_eq!(
        created["backchannel_logout_uri"],
        "http://bff.internal:8080/backchannel-logout"
    );
    assert_eq!(created["backchannel_logout_session_required"], true);
    let id = created["client_id"].as_str().unwrap();
    let refused = [
        (
            vec![
                "--auth-method",
                "none",
                "--backchannel-logout-uri",
                "http://spa.example.com/bc",
            ],
            "must use https for a public client",
        ),
        (
            vec![
                "--backchannel-logout-uri",
                "https://bff.example.com/bc#frag",
            ],
            "must have no fragment",
        ),
        (
            vec!["--backchannel-logout-session-required"],
            "needs --backchannel-logout-uri",
        ),
    ];
    for (extra, why) in refused {
        let mut args = vec![
            "client",
            "create",
            "--name",
            "X",
            "--redirect-uri",
            "https://x.example.com/cb",
        ];
        args.extend(extra);
        let out = app.db.cli(&args, None);
        assert!(!out.status.success());
        assert!(failure_of(&out).contains(why), "{}", failure_of(&out));
    }
    // `client update` removes it with an empty value.
    let updated = json_of(&app.db.cli(
        &[
            "client",
            "update",
            id,
            "--backchannel-logout-uri",
            "",
            "--backchannel-logout-session-required",
            "false",
            "--json",
        ],
        None,
    ));
    assert!(updated["backchannel_logout_uri"].is_null());

    // Dynamic registration (RFC 7591 with Back-Channel Logout §2.2 metadata).
    let app = TestApp::spawn_on(
        crate::helpers::TestDb::new(&backend).await,
        &["--registration", "open"],
    )
    .await;
    let response = app
        .http
        .post(format!("{}/register", app.address))
        .json(&serde_json::json!({
            "redirect_uris": ["https://rp.example.com/cb"],
            "backchannel_logout_uri": "https://rp.example.com/backchannel-logout",
            "backchannel_logout_session_required": true,
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let registered: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        registered["backchannel_logout_uri"],
        "https://rp.example.com/backchannel-logout"
    );
    assert_eq!(registered["backchannel_logout_session_required"], true);
}
