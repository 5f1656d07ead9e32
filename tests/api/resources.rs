//! APIs and resource indicators (RFC 8707): the one audience of each access token.

use base64::Engine;
use serde_json::Value;

use crate::helpers::{
    Backend, TestApp, TestClient, failure_of, json_of, location, query_param, text,
};

crate::backend_tests!(
    apis_are_managed_with_the_cli_and_bad_input_changes_nothing,
    a_client_credentials_token_is_for_the_api_of_its_scopes,
    a_code_flow_covers_several_apis_and_each_token_is_for_one,
    an_unknown_resource_at_authorize_is_invalid_target,
    discovery_lists_every_scope_but_the_hidden_ones,
    reference_tokens_are_seen_only_through_introspection_and_revoked_at_once,
    a_role_of_an_api_is_only_in_that_apis_tokens,
    an_rbac_api_grants_its_scopes_only_through_roles,
);

const ORDERS: &str = "https://orders.example.com";
const BILLING: &str = "https://billing.example.com";

/// Register the Orders API (ES256, 5-minute tokens) and the Billing API with the CLI.
fn register_apis(app: &TestApp) {
    json_of(&app.db.cli(
        &[
            "api",
            "create",
            "--audience",
            ORDERS,
            "--name",
            "Orders",
            "--scope",
            "orders:read",
            "--scope",
            "orders:write",
            "--token-ttl",
            "5m",
            "--token-alg",
            "ES256",
            "--json",
        ],
        None,
    ));
    json_of(&app.db.cli(
        &[
            "api",
            "create",
            "--audience",
            BILLING,
            "--name",
            "Billing",
            "--scope",
            "billing:read",
            "--json",
        ],
        None,
    ));
}

/// The header and claims of a JWT, unverified (the tests trust their own server).
fn decode(jwt: &str) -> (Value, Value) {
    let part = |n: usize| {
        let raw = jwt.split('.').nth(n).unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(raw)
            .unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()
    };
    (part(0), part(1))
}

async fn token_error(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, text(&body, "error"))
}

async fn apis_are_managed_with_the_cli_and_bad_input_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    register_apis(&app);
    let shown = json_of(&app.db.cli(&["api", "show", ORDERS, "--json"], None));
    assert_eq!(shown["name"], "Orders");
    assert_eq!(shown["access_token_ttl"], 300);
    assert_eq!(shown["access_token_alg"], "ES256");
    assert_eq!(
        shown["scopes"],
        serde_json::json!(["orders:read", "orders:write"])
    );
    let listed = json_of(&app.db.cli(&["api", "list", "--json"], None));
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let updated = json_of(&app.db.cli(
        &["api", "update", BILLING, "--token-ttl", "2m", "--json"],
        None,
    ));
    assert_eq!(updated["access_token_ttl"], 120);

    let refused: &[(&[&str], &str)] = &[
        (
            &["api", "create", "--audience", "orders", "--name", "X"],
            "absolute URI",
        ),
        (
            &["api", "create", "--audience", ORDERS, "--name", "Again"],
            "already exists",
        ),
        (
            &[
                "api",
                "create",
                "--audience",
                "https://x.example.com",
                "--name",
                "X",
                "--scope",
                "orders:read",
            ],
            "belongs to the API",
        ),
        (
            &[
                "api",
                "create",
                "--audience",
                "https://x.example.com",
                "--name",
                "X",
                "--scope",
                "openid",
            ],
            "OIDC scope",
        ),
        (
            &[
                "scope",
                "create",
                "x:read",
                "--description",
                "X",
                "--api",
                "https://nope.example.com",
            ],
            "no API with audience",
        ),
        (
            &[
                "client",
                "create",
                "--name",
                "C",
                "--grant-type",
                "client_credentials",
                "--resource",
                "https://nope.example.com",
            ],
            "unknown API",
        ),
        (&["api", "show", "https://nope.example.com"], "no API"),
        (&["api", "delete", ORDERS], "still has scopes"),
    ];
    for (args, expected) in refused {
        let err = failure_of(&app.db.cli(args, None));
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    json_of(&app.db.cli(
        &[
            "client",
            "create",
            "--client-id",
            "svc",
            "--name",
            "Svc",
            "--grant-type",
            "client_credentials",
            "--resource",
            BILLING,
            "--json",
        ],
        None,
    ));
    let err = failure_of(&app.db.cli(&["api", "delete", BILLING], None));
    assert!(err.contains("resource of client"), "{err}");
    // Nothing the refused commands tried was written.
    let apis = app.state.store.list_apis().await.unwrap();
    assert_eq!(apis.len(), 2);
    let scopes = app.state.store.list_scopes().await.unwrap();
    assert!(!scopes.iter().any(|s| s.name == "x:read"));
}

async fn a_client_credentials_token_is_for_the_api_of_its_scopes(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    register_apis(&app);
    let created = json_of(&app.db.cli(
        &[
            "client",
            "create",
            "--name",
            "Reports",
            "--grant-type",
            "client_credentials",
            "--scope",
            "orders:read billing:read",
            "--resource",
            ORDERS,
            "--json",
        ],
        None,
    ));
    let client = TestClient {
        client_id: text(&created, "client_id"),
        secret: Some(text(&created, "client_secret")),
        redirect_uri: String::new(),
    };
    // RFC 8707 §2: without resource, the API follows from the scope…
    let response = app.client_credentials(&client, Some("orders:read")).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["expires_in"], 300, "the API's own lifetime");
    let (header, claims) = decode(&text(&body, "access_token"));
    assert_eq!(header["alg"], "ES256", "the API's own algorithm");
    assert_eq!(claims["aud"], ORDERS);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        300
    );
    // …or is named; one the client may not ask for, or a scope of another API, is invalid_target.
    let named = app
        .post_token(
            &client,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "orders:read"),
                ("resource", ORDERS),
            ],
        )
        .await;
    assert_eq!(named.status(), 200);
    let not_allowed = app
        .post_token(
            &client,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "billing:read"),
                ("resource", BILLING),
            ],
        )
        .await;
    assert_eq!(
        token_error(not_allowed).await,
        (400, "invalid_target".into())
    );
    let other_api = app
        .post_token(
            &client,
            &[
                ("grant_type", "client_credentials"),
                ("scope", "billing:read"),
                ("resource", ORDERS),
            ],
        )
        .await;
    assert_eq!(token_error(other_api).await, (400, "invalid_target".into()));
    let two_apis = app
        .client_credentials(&client, Some("orders:read billing:read"))
        .await;
    assert_eq!(token_error(two_apis).await, (400, "invalid_target".into()));
    // Introspection reports the audience.
    let resource_server = app
        .register_client(latchkey::domain::client::ClientSpec {
            client_name: "Orders API".into(),
            grant_types: vec!["client_credentials".into()],
            auth_method: "client_secret_basic".into(),
            introspect_any: true,
            ..Default::default()
        })
        .await;
    let answer = app
        .introspect(&resource_server, &text(&body, "access_token"))
        .await;
    assert_eq!(answer["aud"], ORDERS);
    assert_eq!(answer["scope"], "orders:read");
}

async fn a_code_flow_covers_several_apis_and_each_token_is_for_one(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    register_apis(&app);
    let created = json_of(&app.db.cli(
        &[
            "client",
            "create",
            "--name",
            "Dashboard",
            "--redirect-uri",
            "http://127.0.0.1:9/callback",
            "--grant-type",
            "authorization_code",
            "--grant-type",
            "refresh_token",
            "--scope",
            "openid orders:read billing:read",
            "--resource",
            ORDERS,
            "--resource",
            BILLING,
            "--skip-consent",
            "--json",
        ],
        None,
    ));
    let client = TestClient {
        client_id: text(&created, "client_id"),
        secret: Some(text(&created, "client_secret")),
        redirect_uri: "http://127.0.0.1:9/callback".into(),
    };
    app.create_user("alice").await;
    let (url, verifier) = app.authorize_url(
        &client,
        "openid orders:read billing:read",
        &[("resource", ORDERS), ("resource", BILLING)],
    );
    let landed = app.sign_in_through(&url, "alice").await;
    let code = query_param(&landed, "code").expect("a code");
    let tokens: Value = app
        .redeem_code(&client, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let (_, claims) = decode(&text(&tokens, "access_token"));
    assert_eq!(
        claims["aud"], ORDERS,
        "without resource: the first API authorized"
    );
    assert_eq!(
        text(&tokens, "scope"),
        "openid orders:read",
        "only that API's scopes"
    );
    // RFC 8707 §2.2: the refresh token mints a token for the other API, one audience per token.
    let response = app
        .post_token(
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &text(&tokens, "refresh_token")),
                ("resource", BILLING),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    let refreshed: Value = response.json().await.unwrap();
    let (_, claims) = decode(&text(&refreshed, "access_token"));
    assert_eq!(claims["aud"], BILLING);
    assert_eq!(text(&refreshed, "scope"), "billing:read openid");
    let response = app
        .post_token(
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &text(&refreshed, "refresh_token")),
                ("resource", "https://elsewhere.example.com"),
            ],
        )
        .await;
    assert_eq!(token_error(response).await, (400, "invalid_target".into()));
}

async fn an_unknown_resource_at_authorize_is_invalid_target(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    register_apis(&app);
    let client = app.web_client().await;
    let (url, _) = app.authorize_url(
        &client,
        "openid",
        &[("resource", "https://unknown.example.com")],
    );
    let response = app.get_url(&url).await;
    assert_eq!(response.status(), 303);
    let redirect = url::Url::parse(&location(&response)).unwrap();
    assert_eq!(
        query_param(&redirect, "error").as_deref(),
        Some("invalid_target")
    );
    assert_eq!(query_param(&redirect, "state").as_deref(), Some("st-123"));
}

async fn discovery_lists_every_scope_but_the_hidden_ones(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    register_apis(&app);
    json_of(&app.db.cli(
        &[
            "scope",
            "create",
            "internal:ops",
            "--description",
            "Ops",
            "--hidden",
            "--json",
        ],
        None,
    ));
    let metadata = app.get_discovery().await;
    let scopes: Vec<&str> = metadata["scopes_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for expected in ["openid", "orders:read", "orders:write", "billing:read"] {
        assert!(scopes.contains(&expected), "{expected} in {scopes:?}");
    }
    assert!(!scopes.contains(&"internal:ops"), "{scopes:?}");
}

async fn reference_tokens_are_seen_only_through_introspection_and_revoked_at_once(
    backend: Backend,
) {
    const LEDGER: &str = "https://ledger.example.com";
    let app = TestApp::spawn(&backend).await;
    json_of(&app.db.cli(
        &[
            "api",
            "create",
            "--audience",
            LEDGER,
            "--name",
            "Ledger",
            "--scope",
            "ledger:read",
            "--token-format",
            "opaque",
            "--json",
        ],
        None,
    ));
    let confidential = |args: &[&str]| {
        let mut all = vec!["client", "create", "--json"];
        all.extend_from_slice(args);
        let created = json_of(&app.db.cli(&all, None));
        TestClient {
            client_id: text(&created, "client_id"),
            secret: Some(text(&created, "client_secret")),
            redirect_uri: created["redirect_uris"][0]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        }
    };
    // The Ledger API's own resource-server client, and a bystander.
    let ledger_api = confidential(&[
        "--name",
        "Ledger API",
        "--grant-type",
        "client_credentials",
        "--api",
        LEDGER,
    ]);
    let bystander = confidential(&["--name", "Other", "--grant-type", "client_credentials"]);
    let web = confidential(&[
        "--name",
        "Books",
        "--redirect-uri",
        "http://127.0.0.1:9/callback",
        "--scope",
        "openid ledger:read",
        "--skip-consent",
    ]);
    app.create_user("alice").await;
    let tokens = app.tokens_for(&web, "alice", "openid ledger:read").await;
    let token = text(&tokens, "access_token");
    assert!(
        token.starts_with("lk_at_"),
        "a reference token, not a JWT: {token}"
    );
    assert_eq!(token.split('.').count(), 1);
    // RFC 7662: active for the API's own client and for the token's client, inactive for others.
    let seen = app.introspect(&ledger_api, &token).await;
    assert_eq!(seen["active"], true);
    assert_eq!(seen["aud"], LEDGER);
    assert_eq!(seen["scope"], "ledger:read openid");
    assert_eq!(seen["username"], "alice");
    assert_eq!(app.introspect(&web, &token).await["active"], true);
    assert_eq!(
        app.introspect(&bystander, &token).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(app.userinfo_status(&token).await, 200);
    // Revoked: inactive at once, everywhere.
    assert_eq!(app.revoke(&web, &token).await.status(), 200);
    assert_eq!(app.introspect(&ledger_api, &token).await["active"], false);
    assert_eq!(app.userinfo_status(&token).await, 401);
    // A made-up reference token is simply inactive.
    assert_eq!(
        app.introspect(&ledger_api, "lk_at_made-up").await["active"],
        false
    );
}

async fn a_role_of_an_api_is_only_in_that_apis_tokens(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    register_apis(&app);
    json_of(&app.db.cli(&["role", "create", "reader", "--json"], None));
    let bound = json_of(&app.db.cli(
        &["role", "create", "orders-admin", "--api", ORDERS, "--json"],
        None,
    ));
    assert_eq!(bound["api"], ORDERS);
    let err = failure_of(&app.db.cli(
        &[
            "role",
            "create",
            "ghost",
            "--api",
            "https://nope.example.com",
        ],
        None,
    ));
    assert!(err.contains("no API"), "{err}");
    let created = json_of(&app.db.cli(
        &[
            "client",
            "create",
            "--client-id",
            "reports",
            "--name",
            "Reports",
            "--grant-type",
            "client_credentials",
            "--scope",
            "orders:read billing:read",
            "--json",
        ],
        None,
    ));
    for role in ["reader", "orders-admin"] {
        json_of(
            &app.db
                .cli(&["client", "add-role", "reports", role, "--json"], None),
        );
    }
    let client = TestClient {
        client_id: "reports".into(),
        secret: Some(text(&created, "client_secret")),
        redirect_uri: String::new(),
    };
    let roles_for = |scope: &'static str| {
        let (app, client) = (&app, &client);
        async move {
            let body: Value = app
                .client_credentials(client, Some(scope))
                .await
                .json()
                .await
                .unwrap();
            let token = text(&body, "access_token");
            let (_, claims) = decode(&token);
            claims["roles"].clone()
        }
    };
    // RFC 9068 §2.2.3.1: the global roles always, an API's roles only in that API's tokens.
    assert_eq!(
        roles_for("orders:read").await,
        serde_json::json!(["orders-admin", "reader"])
    );
    assert_eq!(
        roles_for("billing:read").await,
        serde_json::json!(["reader"])
    );
    let err = failure_of(&app.db.cli(&["api", "delete", ORDERS], None));
    assert!(err.contains("scopes or roles"), "{err}");
}

async fn an_rbac_api_grants_its_scopes_only_through_roles(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    register_apis(&app);
    let cli = |args: &[&str]| json_of(&app.db.cli(args, None));
    cli(&["api", "update", ORDERS, "--rbac", "true", "--json"]);
    cli(&[
        "role",
        "create",
        "orders-reader",
        "--scope",
        "orders:read",
        "--json",
    ]);
    let writer = cli(&[
        "role",
        "create",
        "orders-writer",
        "--api",
        ORDERS,
        "--scope",
        "orders:write",
        "--json",
    ]);
    assert_eq!(writer["scopes"], serde_json::json!(["orders:write"]));
    let err = failure_of(&app.db.cli(
        &[
            "role",
            "create",
            "odd",
            "--api",
            ORDERS,
            "--scope",
            "billing:read",
        ],
        None,
    ));
    assert!(err.contains("not of the role's API"), "{err}");
    // A service: without a role it gets none of the API's scopes; with roles, what they grant.
    let created = cli(&[
        "client",
        "create",
        "--client-id",
        "svc",
        "--name",
        "Svc",
        "--grant-type",
        "client_credentials",
        "--scope",
        "orders:read orders:write",
        "--json",
    ]);
    let svc = TestClient {
        client_id: "svc".into(),
        secret: Some(text(&created, "client_secret")),
        redirect_uri: String::new(),
    };
    let scope_of = |response: reqwest::Response| async move {
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        match status {
            200 => text(&body, "scope"),
            _ => text(&body, "error"),
        }
    };
    let both = "orders:read orders:write";
    assert_eq!(
        scope_of(app.client_credentials(&svc, Some(both)).await).await,
        "invalid_scope"
    );
    cli(&["client", "add-role", "svc", "orders-reader", "--json"]);
    app.clock.advance(10); // past the catalog cache
    assert_eq!(
        scope_of(app.client_credentials(&svc, Some(both)).await).await,
        "orders:read",
        "RFC 6749 §3.3: the response says what was granted"
    );
    cli(&["client", "add-role", "svc", "orders-writer", "--json"]);
    // The client's roles are cached with its registration: the new one counts within
    // --client-cache-ttl.
    assert_eq!(
        scope_of(app.client_credentials(&svc, Some(both)).await).await,
        "orders:read"
    );
    app.clock.advance(10);
    assert_eq!(
        scope_of(app.client_credentials(&svc, Some(both)).await).await,
        both
    );
    // A user: the role comes through a group; the consent page shows only what will be granted.
    cli(&["group", "create", "writers", "--json"]);
    cli(&["group", "add-role", "writers", "orders-writer", "--json"]);
    app.create_user("alice").await;
    cli(&["group", "add-member", "writers", "alice", "--json"]);
    let web = {
        let created = cli(&[
            "client",
            "create",
            "--name",
            "Orders web",
            "--redirect-uri",
            "http://127.0.0.1:9/callback",
            "--scope",
            "openid orders:read orders:write",
            "--json",
        ]);
        TestClient {
            client_id: text(&created, "client_id"),
            secret: Some(text(&created, "client_secret")),
            redirect_uri: "http://127.0.0.1:9/callback".into(),
        }
    };
    let (url, verifier) = app.authorize_url(&web, "openid orders:read orders:write", &[]);
    app.get_url(&url).await;
    let response = app.post_login("alice", crate::helpers::PASSWORD).await;
    assert!(location(&response).ends_with("/consent"));
    let page = app.get("/consent").await.text().await.unwrap();
    assert!(page.contains("orders:write"), "{page}");
    assert!(
        !page.contains("orders:read"),
        "not entitled, not shown: {page}"
    );
    let response = app.post_consent("allow").await;
    let landed = url::Url::parse(&location(&response)).unwrap();
    let code = query_param(&landed, "code").unwrap();
    let tokens: Value = app
        .redeem_code(&web, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(text(&tokens, "scope"), "openid orders:write");
    // Without any role granting a requested scope of the API: invalid_scope, sent to the client.
    app.create_user("bob").await;
    let (url, _) = app.authorize_url(&web, "openid orders:read", &[("prompt", "login")]);
    let landed = app.sign_in_through(&url, "bob").await;
    assert_eq!(
        query_param(&landed, "error").as_deref(),
        Some("invalid_scope")
    );
}
