//! The admin API (`/admin/v1/…`): who may call it (an admin client's own live token with
//! `latchkey:admin`, and nobody else), and the clients resource with the CLI's rules and messages,
//! every change an audit event whose actor is the admin client.

use latchkey::domain::audit::{AuditFilter, EventType};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, failure_of, json_of, text};

crate::backend_tests!(
    only_an_admin_client_s_live_token_opens_the_admin_api,
    clients_are_managed_through_the_admin_api_with_the_cli_s_rules,
    users_are_managed_through_the_admin_api_and_sign_in_as_registered,
    roles_and_groups_are_managed_through_the_admin_api_and_reach_the_tokens,
    scopes_and_keys_are_managed_through_the_admin_api,
    apis_are_managed_through_the_admin_api_and_shape_the_tokens,
);

/// `latchkey admin bootstrap`; the admin client's id and secret.
pub(crate) fn bootstrap(app: &TestApp) -> (String, String) {
    let created = json_of(&app.db.cli(&["admin", "bootstrap", "--json"], None));
    assert_eq!(created["scope"], "latchkey:admin");
    (text(&created, "client_id"), text(&created, "client_secret"))
}

/// A client-credentials token for `id`:`secret` with `scope`.
pub(crate) async fn token(app: &TestApp, id: &str, secret: &str, scope: &str) -> String {
    let response = app
        .http
        .post(format!("{}/token", app.address))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", scope)])
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    text(&body, "access_token")
}

/// The admin API as one admin client calls it.
struct AsAdmin<'a> {
    app: &'a TestApp,
    token: String,
}

impl AsAdmin<'_> {
    /// `method path` with the admin's token: status, `WWW-Authenticate`, body.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, String, Value) {
        call(self.app, method, path, Some(&self.token), body).await
    }

    /// `method path` is refused with `status`, and its `error_description` contains `expected`.
    async fn refuses(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        status: u16,
        expected: &str,
    ) {
        let (got, _, refused) = self.call(method, path, body).await;
        assert_eq!(got, status, "{refused}");
        let description = refused["error_description"].as_str().unwrap_or_default();
        assert!(description.contains(expected), "{refused}");
    }

    /// Every admin change recorded, newest first.
    async fn changes(&self) -> Vec<latchkey::domain::audit::AuditEvent> {
        self.app
            .state
            .store
            .list_audit_events(&AuditFilter {
                event_type: Some(EventType::AdminChange),
                limit: 100,
                ..AuditFilter::default()
            })
            .await
            .unwrap()
    }
}

/// `method path` with `token` (and a JSON body): status, `WWW-Authenticate`, body.
pub(crate) async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, String, Value) {
    let mut request = app.http.request(method, format!("{}{path}", app.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, challenge, body)
}

async fn only_an_admin_client_s_live_token_opens_the_admin_api(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let (id, secret) = bootstrap(&app);
    app.clock.advance(10); // past the client cache
    let admin = token(&app, &id, &secret, "latchkey:admin").await;
    let list = |token: Option<String>| {
        let app = &app;
        async move {
            call(
                app,
                reqwest::Method::GET,
                "/admin/v1/clients",
                token.as_deref(),
                None,
            )
            .await
        }
    };
    let (status, _, body) = list(Some(admin.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.as_array().unwrap().len(), 1, "the admin client itself");

    // No token: RFC 6750 §3.1, a bare challenge.
    let (status, challenge, _) = list(None).await;
    assert_eq!(status, 401);
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    // Garbage.
    let (status, challenge, _) = list(Some("not-a-token".into())).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("invalid_token"), "{challenge}");
    // A live token of a client without latchkey:admin: 403 insufficient_scope.
    let service = app
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    app.clock.advance(10);
    let plain = token(
        &app,
        &service.client_id,
        service.secret.as_deref().unwrap(),
        "orders:read",
    )
    .await;
    let (status, challenge, _) = list(Some(plain)).await;
    assert_eq!(status, 403);
    assert!(challenge.contains("insufficient_scope"), "{challenge}");
    // A user's token is not an admin client's, even with the scope's name.
    let web = app.refreshing_client().await;
    app.create_user("alice").await;
    let user_token = text(
        &app.tokens_for(&web, "alice", "openid").await,
        "access_token",
    );
    assert_eq!(list(Some(user_token)).await.0, 401);
    // Revoked, then expired: 401.
    let revoked = token(&app, &id, &secret, "latchkey:admin").await;
    let admin_client = crate::helpers::TestClient {
        client_id: id.clone(),
        secret: Some(secret.clone()),
        redirect_uri: String::new(),
    };
    assert_eq!(app.revoke(&admin_client, &revoked).await.status(), 200);
    assert_eq!(list(Some(revoked)).await.0, 401);
    app.clock
        .advance(app.state.settings.lifetimes.access_token + 1);
    let (status, challenge, _) = list(Some(admin)).await;
    assert_eq!(status, 401);
    assert!(challenge.contains("expired"), "{challenge}");
}

async fn clients_are_managed_through_the_admin_api_with_the_cli_s_rules(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let (admin_id, secret) = bootstrap(&app);
    app.clock.advance(10);
    let admin = token(&app, &admin_id, &secret, "latchkey:admin").await;
    let api = AsAdmin {
        app: &app,
        token: admin.clone(),
    };
    use reqwest::Method;

    // Create: 201 with the secret, shown once.
    let (status, _, created) = api
        .call(
            Method::POST,
            "/admin/v1/clients",
            Some(json!({
                "client_id": "orders-web",
                "name": "Orders",
                "redirect_uris": ["https://orders.example.com/cb"],
                "grant_types": ["authorization_code", "refresh_token"],
                "scope": "openid profile",
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["client_id"], "orders-web");
    assert_eq!(created["scope"], "openid profile");
    let first_secret = text(&created, "client_secret");
    // The same bad input the CLI refuses, refused with the CLI's words.
    let bad = json!({ "name": "Bad", "redirect_uris": ["http://evil.example.com/cb"] });
    let (status, _, refused) = api.call(Method::POST, "/admin/v1/clients", Some(bad)).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(refused["error"], "invalid_request");
    let cli = failure_of(&app.db.cli(
        &[
            "client",
            "create",
            "--name",
            "Bad",
            "--redirect-uri",
            "http://evil.example.com/cb",
        ],
        None,
    ));
    assert!(
        cli.contains(refused["error_description"].as_str().unwrap()),
        "CLI: {cli}; API: {refused}"
    );
    api.refuses(
        Method::POST,
        "/admin/v1/clients",
        Some(json!({ "name": "X", "scope": "nope:read" })),
        400,
        "unknown scope(s): nope:read (create them first with `latchkey scope create`)",
    )
    .await;
    let (status, _, refused) = api
        .call(
            Method::POST,
            "/admin/v1/clients",
            Some(json!({ "name": "X", "colour": "blue" })),
        )
        .await;
    assert_eq!(status, 400, "an unknown field: {refused}");

    // Show, update (the id and secret stay), rotate the secret, delete.
    let (status, _, shown) = api
        .call(Method::GET, "/admin/v1/clients/orders-web", None)
        .await;
    assert_eq!((status, &shown["client_name"]), (200, &json!("Orders")));
    assert!(shown.get("client_secret").is_none() && shown.get("secret_hash").is_none());
    let (status, _, updated) = api
        .call(
            Method::PUT,
            "/admin/v1/clients/orders-web",
            Some(json!({
                "name": "Orders Web",
                "redirect_uris": ["https://orders.example.com/cb"],
                "grant_types": ["authorization_code"],
                "scope": "openid",
            })),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["client_name"], "Orders Web");
    assert_eq!(updated["grant_types"], json!(["authorization_code"]));
    let (status, _, rotated) = api
        .call(Method::POST, "/admin/v1/clients/orders-web/secret", None)
        .await;
    assert_eq!(status, 200);
    let second_secret = text(&rotated, "client_secret");
    assert_ne!(first_secret, second_secret);
    let (status, _, _) = api
        .call(Method::DELETE, "/admin/v1/clients/orders-web", None)
        .await;
    assert_eq!(status, 204);
    let (status, _, missing) = api
        .call(Method::GET, "/admin/v1/clients/orders-web", None)
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        missing["error_description"],
        "no client with id 'orders-web'"
    );
    assert_eq!(
        api.call(Method::DELETE, "/admin/v1/clients/orders-web", None)
            .await
            .0,
        404
    );

    // Each change is an audit event of the admin client, and none holds a secret.
    let events = app
        .state
        .store
        .list_audit_events(&AuditFilter {
            client_id: Some("orders-web".into()),
            limit: 100,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = events
        .iter()
        .rev()
        .map(|e| {
            assert_eq!(e.event_type, EventType::AdminChange);
            assert_eq!(e.actor, format!("client:{admin_id}"));
            e.detail["action"].as_str().unwrap()
        })
        .collect();
    assert_eq!(actions, ["created", "updated", "secret_rotated", "deleted"]);
    let all = serde_json::to_string(&events).unwrap();
    for secret in [&first_secret, &second_secret, &secret, &admin] {
        assert!(!all.contains(secret.as_str()));
    }

    // "Who changed this client, and when?", remotely: the audit trail through the admin API, with
    // `audit list`'s filters and messages.
    let (status, _, listed) = api
        .call(
            Method::GET,
            "/admin/v1/audit-events?client=orders-web&type=admin.change&limit=2",
            None,
        )
        .await;
    assert_eq!(status, 200, "{listed}");
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["detail"]["action"], "deleted", "newest first");
    assert_eq!(listed[0]["actor"], format!("client:{admin_id}"));
    assert!(listed[0]["at"].as_i64().unwrap() > 0);
    for (query, expected) in [
        ("type=nope", "--type: no event type 'nope'"),
        ("limit=0", "--limit must be between 1 and 10000"),
        ("since=soon", "--since"),
        ("colour=blue", "colour"),
    ] {
        let (status, _, refused) = api
            .call(
                Method::GET,
                &format!("/admin/v1/audit-events?{query}"),
                None,
            )
            .await;
        assert_eq!(status, 400, "{query}: {refused}");
        assert!(
            refused["error_description"]
                .as_str()
                .unwrap()
                .contains(expected),
            "{query}: {refused}"
        );
    }
}

async fn users_are_managed_through_the_admin_api_and_sign_in_as_registered(backend: Backend) {
    use reqwest::Method;
    let app = TestApp::spawn(&backend).await;
    let (admin_id, secret) = bootstrap(&app);
    app.clock.advance(10);
    let admin = token(&app, &admin_id, &secret, "latchkey:admin").await;
    let api = AsAdmin {
        app: &app,
        token: admin.clone(),
    };
    let password = "a long and unusual passphrase 77";
    let (status, _, created) = api.call(
        Method::POST,
        "/admin/v1/users",
        Some(json!({ "username": "Carol", "email": "carol@example.com", "name": "Carol C", "password": password })),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["username"], "carol", "normalised as the CLI does");
    assert!(created.get("password_hash").is_none());
    // The CLI's rules, with its words: a taken username, a weak password, an unknown field.
    for (body, expected) in [
        (
            json!({ "username": "carol", "password": password }),
            "the username 'carol' is taken",
        ),
        (
            json!({ "username": "dave", "password": "password" }),
            "password",
        ),
        (
            json!({ "username": "erin", "password": password, "admin": true }),
            "admin",
        ),
    ] {
        let (status, _, refused) = api.call(Method::POST, "/admin/v1/users", Some(body)).await;
        assert_eq!(status, 400, "{refused}");
        assert!(
            refused["error_description"]
                .as_str()
                .unwrap()
                .contains(expected),
            "{refused}"
        );
    }
    // She signs in with that password.
    let web = app.refreshing_client().await;
    let (url, _) = app.authorize_url(&web, "openid", &[]);
    app.get_url(&url).await;
    assert_eq!(app.post_login("carol", password).await.status(), 303);

    let (status, _, shown) = api.call(Method::GET, "/admin/v1/users/CAROL", None).await;
    assert_eq!(
        (status, &shown["email"]),
        (200, &json!("carol@example.com"))
    );
    // With her roles and groups, as `user show` prints them.
    for field in ["roles", "direct_roles", "groups"] {
        assert_eq!(shown[field], json!([]), "{shown}");
    }
    let (status, _, listed) = api.call(Method::GET, "/admin/v1/users", None).await;
    assert_eq!((status, listed.as_array().unwrap().len()), (200, 1));

    // A new password signs her out everywhere; disabling her too; enabling lets her in again.
    let new_password = "another unusual passphrase 88";
    let (status, _, done) = api
        .call(
            Method::PUT,
            "/admin/v1/users/carol/password",
            Some(json!({ "password": new_password })),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["sessions"], 1, "her browser session ended");
    let (status, _, done) = api
        .call(Method::POST, "/admin/v1/users/carol/disable", None)
        .await;
    assert_eq!((status, &done["username"]), (200, &json!("carol")));
    let (status, _, done) = api
        .call(Method::POST, "/admin/v1/users/carol/enable", None)
        .await;
    assert_eq!((status, &done["disabled"]), (200, &json!(false)));
    // Signed out everywhere without a new password, as `user revoke-sessions`.
    let (status, _, done) = api
        .call(Method::POST, "/admin/v1/users/carol/revoke-sessions", None)
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        done,
        json!({ "username": "carol", "sessions": 0, "grants": 0, "authorization_codes": 0 })
    );
    assert_eq!(
        api.call(Method::DELETE, "/admin/v1/users/carol", None)
            .await
            .0,
        204
    );
    let (status, _, missing) = api.call(Method::GET, "/admin/v1/users/carol", None).await;
    assert_eq!(status, 404);
    assert_eq!(missing["error_description"], "no user named 'carol'");

    // Each change an audit event of the admin client; no password in any.
    let events = api.changes().await;
    let actions: Vec<&str> = events
        .iter()
        .rev()
        .filter(|e| e.detail["object"] == "user")
        .map(|e| {
            assert_eq!(e.actor, format!("client:{admin_id}"));
            e.detail["action"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        actions,
        [
            "created",
            "password_set",
            "disabled",
            "enabled",
            "sessions_revoked",
            "deleted"
        ]
    );
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains(password) && !all.contains(new_password));
}

async fn roles_and_groups_are_managed_through_the_admin_api_and_reach_the_tokens(backend: Backend) {
    use reqwest::Method;
    let app = TestApp::spawn(&backend).await;
    let (admin_id, secret) = bootstrap(&app);
    let alice = app.create_user("alice").await;
    let service = app
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    app.clock.advance(10);
    let admin = token(&app, &admin_id, &secret, "latchkey:admin").await;
    let api = AsAdmin {
        app: &app,
        token: admin.clone(),
    };
    let (status, _, role) = api
        .call(
            Method::POST,
            "/admin/v1/roles",
            Some(json!({ "name": "orders-admin", "description": "Writes orders" })),
        )
        .await;
    assert_eq!(
        (status, &role["name"]),
        (201, &json!("orders-admin")),
        "{role}"
    );
    let (status, _, group) = api
        .call(
            Method::POST,
            "/admin/v1/groups",
            Some(json!({ "name": "ops" })),
        )
        .await;
    assert_eq!(status, 201, "{group}");
    for (path, expected) in [
        ("/admin/v1/groups/ops/members/alice", "member_added"),
        ("/admin/v1/groups/ops/roles/orders-admin", "role_added"),
    ] {
        let (status, _, done) = api.call(Method::PUT, path, None).await;
        assert_eq!((status, &done["action"]), (200, &json!(expected)), "{done}");
    }
    let client_role = format!("/admin/v1/clients/{}/roles/orders-admin", service.client_id);
    assert_eq!(api.call(Method::PUT, &client_role, None).await.0, 200);
    // The CLI's refusals, with its words and statuses: a duplicate link, an unknown role.
    let (status, _, refused) = api.call(Method::PUT, &client_role, None).await;
    assert_eq!(status, 400);
    assert!(
        refused["error_description"]
            .as_str()
            .unwrap()
            .contains("already has the role 'orders-admin'"),
        "{refused}"
    );
    let (status, _, refused) = api
        .call(Method::PUT, "/admin/v1/users/alice/roles/nope", None)
        .await;
    assert_eq!(
        (status, &refused["error_description"]),
        (404, &json!("no role named 'nope'"))
    );

    let (status, _, shown) = api
        .call(Method::GET, "/admin/v1/roles/orders-admin", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(shown["clients"], json!([service.client_id]));
    assert_eq!(shown["groups"], json!(["ops"]));
    let (_, _, shown) = api.call(Method::GET, "/admin/v1/groups/ops", None).await;
    assert_eq!(shown["members"], json!(["alice"]));
    assert_eq!(shown["roles"], json!(["orders-admin"]));
    // A user and a client shown with their roles, as `user show` and `client show` print them.
    let (_, _, shown) = api.call(Method::GET, "/admin/v1/users/alice", None).await;
    assert_eq!(shown["roles"], json!(["orders-admin"]));
    assert_eq!(shown["direct_roles"], json!([]));
    assert_eq!(shown["groups"], json!(["ops"]));
    let client_path = format!("/admin/v1/clients/{}", service.client_id);
    let (_, _, shown) = api.call(Method::GET, &client_path, None).await;
    assert_eq!(shown["roles"], json!(["orders-admin"]));
    assert_eq!(
        api.call(Method::GET, "/admin/v1/roles", None)
            .await
            .2
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // They reach the tokens: alice's role through her group, the service's own.
    let web = app
        .register_client(latchkey::domain::client::ClientSpec {
            client_name: "Orders Web".into(),
            redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
            scope: "openid roles".into(),
            auth_method: "client_secret_basic".into(),
            skip_consent: true,
            ..Default::default()
        })
        .await;
    let tokens = app.tokens_for(&web, "alice", "openid roles").await;
    let id_token = text(&tokens, "id_token");
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            id_token.split('.').nth(1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], alice.user_id.as_str());
    assert_eq!(claims["roles"], json!(["orders-admin"]));

    // Taken away again, then deleted.
    for path in [
        client_role.as_str(),
        "/admin/v1/groups/ops/members/alice",
        "/admin/v1/groups/ops/roles/orders-admin",
    ] {
        assert_eq!(api.call(Method::DELETE, path, None).await.0, 200, "{path}");
    }
    assert_eq!(
        api.call(Method::DELETE, "/admin/v1/groups/ops", None)
            .await
            .0,
        204
    );
    assert_eq!(
        api.call(Method::DELETE, "/admin/v1/roles/orders-admin", None)
            .await
            .0,
        204
    );
    assert_eq!(
        api.call(Method::GET, "/admin/v1/groups/ops", None).await.0,
        404
    );
    let events = api.changes().await;
    let by_admin = events
        .iter()
        .filter(|e| e.actor == format!("client:{admin_id}"))
        .count();
    assert_eq!(
        by_admin, 10,
        "2 created, 3 links added, 3 removed, 2 deleted"
    );
}

async fn scopes_and_keys_are_managed_through_the_admin_api(backend: Backend) {
    use reqwest::Method;
    let app = TestApp::spawn(&backend).await;
    let (admin_id, secret) = bootstrap(&app);
    app.clock.advance(10);
    let api = AsAdmin {
        app: &app,
        token: token(&app, &admin_id, &secret, "latchkey:admin").await,
    };
    let (status, _, created) = api
        .call(
            Method::POST,
            "/admin/v1/scopes",
            Some(json!({ "name": "orders:read", "description": "Read your orders" })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["hidden"], false);
    api.refuses(
        Method::POST,
        "/admin/v1/scopes",
        Some(json!({ "name": "bad scope", "description": "x" })),
        400,
        "is not a valid scope (RFC 6749 §3.3",
    )
    .await;
    let (_, _, listed) = api.call(Method::GET, "/admin/v1/scopes", None).await;
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"orders:read") && names.contains(&"latchkey:admin"));
    let (status, _, refused) = api
        .call(Method::DELETE, "/admin/v1/scopes/openid", None)
        .await;
    assert_eq!(status, 400, "an OIDC scope stays: {refused}");
    assert_eq!(
        api.call(Method::DELETE, "/admin/v1/scopes/orders:read", None)
            .await
            .0,
        204
    );
    assert_eq!(
        api.call(Method::DELETE, "/admin/v1/scopes/orders:read", None)
            .await
            .0,
        404
    );

    // Keys: listed without private keys; rotated here, and this instance signs with the new key.
    let (status, _, keys) = api.call(Method::GET, "/admin/v1/keys", None).await;
    assert_eq!(status, 200);
    let keys = keys.as_array().unwrap();
    assert_eq!(keys.len(), 6, "an active and a next key per algorithm");
    assert!(keys.iter().all(|k| k.get("private_key").is_none()));
    let (status, _, rotated) = api
        .call(
            Method::POST,
            "/admin/v1/keys/rotate",
            Some(json!({ "alg": "ES256" })),
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    let kid = text(&rotated, "active_kid");
    assert_eq!(
        app.state
            .keys
            .signing_key(latchkey::domain::alg::SigningAlg::ES256)
            .unwrap()
            .kid,
        kid
    );
    let (status, _, refused) = api
        .call(
            Method::POST,
            "/admin/v1/keys/rotate",
            Some(json!({ "alg": "HS256" })),
        )
        .await;
    assert_eq!(status, 400, "{refused}");
    let actions: Vec<(String, String)> = api
        .changes()
        .await
        .iter()
        .rev()
        .filter(|e| e.actor == format!("client:{admin_id}"))
        .map(|e| {
            (
                e.detail["object"].as_str().unwrap().to_owned(),
                e.detail["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("scope", "created"),
        ("scope", "deleted"),
        ("key", "rotated"),
    ]
    .map(|(o, a)| (o.to_owned(), a.to_owned()));
    assert_eq!(actions, expected);
}

async fn apis_are_managed_through_the_admin_api_and_shape_the_tokens(backend: Backend) {
    use reqwest::Method;
    let app = TestApp::spawn(&backend).await;
    let (admin_id, secret) = bootstrap(&app);
    app.clock.advance(10);
    let api = AsAdmin {
        app: &app,
        token: token(&app, &admin_id, &secret, "latchkey:admin").await,
    };
    let (status, _, created) = api
        .call(
            Method::POST,
            "/admin/v1/apis",
            Some(json!({
                "audience": "https://orders.example.com",
                "name": "Orders",
                "scopes": ["orders:read"],
                "token_ttl": "1h",
                "token_alg": "ES256",
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["scopes"], json!(["orders:read"]));
    assert_eq!(created["access_token_ttl"], 3600);
    // The audience in a path is percent-encoded.
    let path = "/admin/v1/apis/https%3A%2F%2Forders.example.com";
    let (status, _, shown) = api.call(Method::GET, path, None).await;
    assert_eq!((status, &shown["name"]), (200, &json!("Orders")), "{shown}");
    let (status, _, updated) = api
        .call(
            Method::PATCH,
            path,
            Some(json!({ "name": "Orders API", "rbac": false })),
        )
        .await;
    assert_eq!(
        (status, &updated["name"]),
        (200, &json!("Orders API")),
        "{updated}"
    );
    assert_eq!(updated["access_token_alg"], "ES256", "unchanged");
    // The CLI's refusals: a scope of another API; a bad duration.
    let (status, _, refused) = api
        .call(
            Method::POST,
            "/admin/v1/apis",
            Some(json!({ "audience": "https://billing.example.com", "name": "Billing", "scopes": ["orders:read"] })),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        refused["error_description"],
        "scope 'orders:read' belongs to the API 'https://orders.example.com'"
    );
    let (status, _, _) = api
        .call(Method::PATCH, path, Some(json!({ "token_ttl": "soon" })))
        .await;
    assert_eq!(status, 400);

    // A client may ask for it: its token has the API's audience, lifetime and algorithm.
    let created = json_of(&app.db.cli(
        &[
            "client",
            "create",
            "--name",
            "Svc",
            "--grant-type",
            "client_credentials",
            "--scope",
            "orders:read",
            "--json",
        ],
        None,
    ));
    app.clock.advance(10);
    let service_token = token(
        &app,
        &text(&created, "client_id"),
        &text(&created, "client_secret"),
        "orders:read",
    )
    .await;
    let header = jsonwebtoken::decode_header(&service_token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            service_token.split('.').nth(1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["aud"], "https://orders.example.com");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );

    // Deleting it is refused while its scope exists, then done.
    let (status, _, refused) = api.call(Method::DELETE, path, None).await;
    assert_eq!(status, 400, "{refused}");
    assert_eq!(
        api.call(Method::DELETE, "/admin/v1/scopes/orders:read", None)
            .await
            .0,
        400,
        "a client is still allowed the scope"
    );
    let (_, _, listed) = api.call(Method::GET, "/admin/v1/apis", None).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(
        api.call(
            Method::GET,
            "/admin/v1/apis/https%3A%2F%2Fnone.example.com",
            None
        )
        .await
        .0,
        404
    );
}
