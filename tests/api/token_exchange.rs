//! Token exchange (RFC 8693): a service calls another on a user's behalf.

use base64::Engine;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, TestClient, json_of, text};

crate::backend_tests!(
    a_service_exchanges_a_users_token_for_another_api_acting_for_the_user,
    a_second_exchange_nests_the_actors_and_an_actor_token_names_the_actor,
    each_refusal_of_a_token_exchange_is_the_specified_error,
);

const A: &str = "https://a.example.com";
const D: &str = "https://d.example.com";
const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN: &str = "urn:ietf:params:oauth:token-type:access_token";

fn claims(jwt: &str) -> Value {
    let raw = jwt.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

fn client(app: &TestApp, args: &[&str]) -> TestClient {
    let mut all = vec!["client", "create", "--json"];
    all.extend_from_slice(args);
    let created = json_of(&app.db.cli(&all, None));
    TestClient {
        client_id: text(&created, "client_id"),
        secret: created["client_secret"].as_str().map(str::to_owned),
        redirect_uri: created["redirect_uris"][0]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    }
}

struct Setup {
    app: TestApp,
    service_a: TestClient,
    user_token: String,
}

/// APIs A and D; a frontend that signs alice in for A; Service A, which may exchange for D.
async fn setup(backend: &Backend) -> Setup {
    let app = TestApp::spawn(backend).await;
    for (audience, scope) in [(A, "a:read"), (D, "d:read")] {
        json_of(&app.db.cli(
            &[
                "api",
                "create",
                "--audience",
                audience,
                "--name",
                audience,
                "--scope",
                scope,
                "--json",
            ],
            None,
        ));
    }
    let frontend = client(
        &app,
        &[
            "--name",
            "Frontend",
            "--redirect-uri",
            "http://127.0.0.1:9/callback",
            "--scope",
            "openid a:read",
            "--skip-consent",
        ],
    );
    let service_a = client(
        &app,
        &[
            "--name",
            "Service A",
            "--grant-type",
            "token_exchange",
            "--grant-type",
            "client_credentials",
            "--scope",
            "a:read",
            "--may-exchange-for",
            D,
        ],
    );
    app.create_user("alice").await;
    let tokens = app.tokens_for(&frontend, "alice", "openid a:read").await;
    Setup {
        service_a,
        user_token: text(&tokens, "access_token"),
        app,
    }
}

async fn exchange(app: &TestApp, client: &TestClient, form: &[(&str, &str)]) -> reqwest::Response {
    let mut all = vec![
        ("grant_type", EXCHANGE),
        ("subject_token_type", ACCESS_TOKEN),
    ];
    all.extend_from_slice(form);
    app.post_token(client, &all).await
}

async fn a_service_exchanges_a_users_token_for_another_api_acting_for_the_user(backend: Backend) {
    let Setup {
        app,
        service_a,
        user_token,
    } = setup(&backend).await;
    let response = exchange(
        &app,
        &service_a,
        &[("subject_token", &user_token), ("resource", D)],
    )
    .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["issued_token_type"], ACCESS_TOKEN);
    assert_eq!(body["token_type"], "Bearer");
    let subject = claims(&user_token);
    let exchanged = claims(&text(&body, "access_token"));
    // RFC 8693 §4.1: the user stays the subject; Service A is the actor.
    assert_eq!(exchanged["aud"], D);
    assert_eq!(exchanged["sub"], subject["sub"]);
    assert_eq!(
        exchanged["act"],
        serde_json::json!({"sub": service_a.client_id})
    );
    assert_eq!(
        exchanged["scope"], subject["scope"],
        "never more than the subject token's"
    );
    assert!(exchanged["exp"].as_i64() <= subject["exp"].as_i64());
    // The same user's sign-in: its time and level carry over (RFC 9068 §2.2.1).
    assert_eq!(exchanged["acr"], "urn:latchkey:acr:pwd");
    assert_eq!(exchanged["acr"], subject["acr"]);
    assert_eq!(exchanged["auth_time"], subject["auth_time"]);
    assert_eq!(
        exchanged["gid"], subject["gid"],
        "revoked with the subject token's grant"
    );
    // Advertised in discovery.
    let metadata = app.get_discovery().await;
    assert!(
        metadata["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == EXCHANGE)
    );
    // Signing the user out everywhere revokes the exchanged token with the grant.
    let resource = client(
        &app,
        &[
            "--name",
            "D",
            "--grant-type",
            "client_credentials",
            "--api",
            D,
        ],
    );
    assert_eq!(
        app.introspect(&resource, &text(&body, "access_token"))
            .await["active"],
        true
    );
    json_of(
        &app.db
            .cli(&["user", "revoke-sessions", "alice", "--json"], None),
    );
    // Made by a CLI (another process): honoured by the server within a second.
    assert_eq!(
        app.introspect_until_inactive(&resource, &text(&body, "access_token"))
            .await["active"],
        false
    );
}

async fn a_second_exchange_nests_the_actors_and_an_actor_token_names_the_actor(backend: Backend) {
    let Setup {
        app,
        service_a,
        user_token,
    } = setup(&backend).await;
    let first: Value = exchange(
        &app,
        &service_a,
        &[("subject_token", &user_token), ("audience", D)],
    )
    .await
    .json()
    .await
    .unwrap();
    // Service D calls on, back towards A, for the same user.
    let service_d = client(
        &app,
        &[
            "--name",
            "Service D",
            "--grant-type",
            "token_exchange",
            "--may-exchange-for",
            A,
        ],
    );
    let response = exchange(
        &app,
        &service_d,
        &[("subject_token", &text(&first, "access_token"))],
    )
    .await;
    assert_eq!(
        response.status(),
        200,
        "the client's only target is used when none is named"
    );
    let second = claims(&text(
        &response.json::<Value>().await.unwrap(),
        "access_token",
    ));
    assert_eq!(second["aud"], A);
    assert_eq!(
        second["act"],
        serde_json::json!({"sub": service_d.client_id, "act": {"sub": service_a.client_id}})
    );
    // With an actor token, its subject is the actor.
    let worker = client(
        &app,
        &[
            "--name",
            "Worker",
            "--grant-type",
            "client_credentials",
            "--scope",
            "a:read",
        ],
    );
    let worker_token = app.service_token(&worker).await;
    let response = exchange(
        &app,
        &service_a,
        &[
            ("subject_token", &user_token),
            ("resource", D),
            ("actor_token", &worker_token),
            ("actor_token_type", ACCESS_TOKEN),
        ],
    )
    .await;
    let acted = claims(&text(
        &response.json::<Value>().await.unwrap(),
        "access_token",
    ));
    assert_eq!(acted["act"], serde_json::json!({"sub": worker.client_id}));
}

#[allow(clippy::type_complexity)] // a table: one row per refusal
async fn each_refusal_of_a_token_exchange_is_the_specified_error(backend: Backend) {
    let Setup {
        app,
        service_a,
        user_token,
    } = setup(&backend).await;
    let outsider = client(
        &app,
        &[
            "--name",
            "Outsider",
            "--grant-type",
            "client_credentials",
            "--scope",
            "a:read",
        ],
    );
    let service_token = app.service_token(&service_a).await;
    let error = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        (status, text(&body, "error"))
    };
    // (case, client, extra form, expected)
    let cases: Vec<(&str, &TestClient, Vec<(&str, &str)>, (u16, &str))> = vec![
        (
            "RFC 6749 §5.2 not registered for the grant",
            &outsider,
            vec![("subject_token", &user_token), ("resource", D)],
            (400, "unauthorized_client"),
        ),
        (
            "RFC 8693 §2.2.2 an invalid subject token",
            &service_a,
            vec![("subject_token", "not-a-token"), ("resource", D)],
            (400, "invalid_request"),
        ),
        (
            "a service's own token is no user's",
            &service_a,
            vec![("subject_token", &service_token), ("resource", D)],
            (400, "invalid_request"),
        ),
        (
            "RFC 8707 §2 a target the client may not use",
            &service_a,
            vec![("subject_token", &user_token), ("resource", A)],
            (400, "invalid_target"),
        ),
        (
            "RFC 8693 §2.1 more than the subject token's scope",
            &service_a,
            vec![
                ("subject_token", &user_token),
                ("resource", D),
                ("scope", "a:read d:read"),
            ],
            (400, "invalid_scope"),
        ),
        (
            "RFC 8693 §2.1 an actor token without its type",
            &service_a,
            vec![
                ("subject_token", &user_token),
                ("resource", D),
                ("actor_token", &service_token),
            ],
            (400, "invalid_request"),
        ),
    ];
    for (case, client, form, expected) in cases {
        let response = exchange(&app, client, &form).await;
        assert_eq!(
            error(response).await,
            (expected.0, expected.1.to_owned()),
            "{case}"
        );
    }
    let wrong_type = app
        .post_token(
            &service_a,
            &[
                ("grant_type", EXCHANGE),
                (
                    "subject_token_type",
                    "urn:ietf:params:oauth:token-type:id_token",
                ),
                ("subject_token", &user_token),
                ("resource", D),
            ],
        )
        .await;
    assert_eq!(error(wrong_type).await, (400, "invalid_request".to_owned()));
    // A revoked subject token: RFC 8693 §2.2.2 invalid_request.
    json_of(
        &app.db
            .cli(&["user", "revoke-sessions", "alice", "--json"], None),
    );
    let revoked = exchange(
        &app,
        &service_a,
        &[("subject_token", &user_token), ("resource", D)],
    )
    .await;
    assert_eq!(error(revoked).await, (400, "invalid_request".to_owned()));
}
