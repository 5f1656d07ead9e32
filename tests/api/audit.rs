//! The audit trail: an event for each kind of thing that happened, with its actor, never a secret;
//! `latchkey audit list` and its filters; retention through housekeeping; the JSON log line.

use latchkey::clock::Clock;
use latchkey::domain::audit::{AuditEvent, AuditFilter, EventType};

use crate::helpers::{
    Backend, PASSWORD, TEST_SECRET, TestApp, failure_of, json_of, query_param, run_cli, text,
};

crate::backend_tests!(
    sign_ins_consents_grants_and_revocations_are_audited_without_secrets,
    operators_changes_are_audited_and_listed_with_filters,
    old_audit_events_leave_with_housekeeping,
    token_issuance_is_audited_in_batches_only_when_asked,
);

/// Every stored event, oldest first.
async fn all_events(app: &TestApp) -> Vec<AuditEvent> {
    let mut events = app
        .state
        .store
        .list_audit_events(&AuditFilter {
            limit: 10_000,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    events.reverse();
    events
}

fn of_type(events: &[AuditEvent], event_type: EventType) -> Vec<&AuditEvent> {
    events
        .iter()
        .filter(|e| e.event_type == event_type)
        .collect()
}

/// No stored event (nor its JSON) holds any of `secrets`.
fn assert_no_secret(events: &[AuditEvent], secrets: &[&str]) {
    let all = serde_json::to_string(events).unwrap();
    for secret in secrets {
        assert!(!secret.is_empty());
        assert!(
            !all.contains(secret),
            "an audit event holds a secret: {secret}"
        );
    }
}

async fn sign_ins_consents_grants_and_revocations_are_audited_without_secrets(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let alice = app.create_user("alice").await;
    let client = app.refreshing_client().await;

    // A wrong password, then the right one, through a consent page (a client that asks for it).
    let asking = app.web_client().await;
    let (url, _) = app.authorize_url(&asking, "openid profile", &[]);
    assert_eq!(app.get_url(&url).await.status(), 303);
    assert_eq!(
        app.post_login("alice", "not her password").await.status(),
        200
    );
    let callback = app.sign_in_through(&url, "alice").await;
    assert!(query_param(&callback, "code").is_some());
    // Denied by the same user for another request.
    let (url, _) = app.authorize_url(&asking, "openid email", &[]);
    app.get_url(&url).await;
    assert_eq!(app.post_consent("deny").await.status(), 303);

    // A code redeemed (a grant), a refresh (a rotation), the spent refresh token again (reuse).
    let (url, verifier) = app.authorize_url(&client, "openid offline_access", &[]);
    let callback = app.sign_in_through(&url, "alice").await;
    let code = query_param(&callback, "code").unwrap();
    let tokens: serde_json::Value = app
        .redeem_code(&client, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let access = text(&tokens, "access_token");
    let refresh = text(&tokens, "refresh_token");
    let replay = app.redeem_code(&client, &code, &verifier).await;
    assert_eq!(replay.status(), 400, "the code again: replayed");
    let (url, verifier) = app.authorize_url(&client, "openid offline_access", &[]);
    let callback = app.sign_in_through(&url, "alice").await;
    let code2 = query_param(&callback, "code").unwrap();
    let tokens2: serde_json::Value = app
        .redeem_code(&client, &code2, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let refresh2 = text(&tokens2, "refresh_token");
    let rotated = app.refresh(&client, &refresh2, None).await;
    assert_eq!(rotated.status(), 200);
    let rotated: serde_json::Value = rotated.json().await.unwrap();
    app.clock.advance(60); // past the grace window
    assert_eq!(app.refresh(&client, &refresh2, None).await.status(), 400);
    // A revocation.
    let service = app
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    let service_token = text(
        &app.client_credentials(&service, Some("orders:read"))
            .await
            .json()
            .await
            .unwrap(),
        "access_token",
    );
    assert_eq!(app.revoke(&service, &service_token).await.status(), 200);

    let events = all_events(&app).await;
    let failed = of_type(&events, EventType::SignInFailed);
    assert_eq!(failed.len(), 1, "{events:#?}");
    assert_eq!(failed[0].detail["outcome"], "wrong_password");
    assert_eq!(failed[0].detail["username"], "alice");
    assert!(
        failed[0].detail["address"]
            .as_str()
            .unwrap()
            .starts_with("127.")
    );
    let succeeded = of_type(&events, EventType::SignInSucceeded);
    assert_eq!(
        succeeded[0].user_id.as_deref(),
        Some(alice.user_id.as_str())
    );
    assert_eq!(succeeded[0].actor, format!("user:{}", alice.user_id));
    let given = of_type(&events, EventType::ConsentGiven);
    assert_eq!(given.len(), 1);
    assert_eq!(
        given[0].client_id.as_deref(),
        Some(asking.client_id.as_str())
    );
    assert_eq!(given[0].detail["scope"], "openid profile");
    assert_eq!(of_type(&events, EventType::ConsentDenied).len(), 1);
    let grants = of_type(&events, EventType::GrantCreated);
    assert_eq!(grants.len(), 2, "two codes redeemed: {grants:#?}");
    assert!(
        grants
            .iter()
            .all(|g| g.detail["grant_type"] == "authorization_code")
    );
    assert_eq!(grants[0].actor, format!("client:{}", client.client_id));
    assert_eq!(
        of_type(&events, EventType::AuthorizationCodeReplayed).len(),
        1
    );
    assert_eq!(of_type(&events, EventType::RefreshTokenRotated).len(), 1);
    let reused = of_type(&events, EventType::RefreshTokenReused);
    assert_eq!(reused.len(), 1);
    assert_eq!(reused[0].user_id.as_deref(), Some(alice.user_id.as_str()));
    let revoked = of_type(&events, EventType::TokenRevoked);
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].detail["token_kind"], "access_token");
    assert_eq!(
        revoked[0].user_id, None,
        "a client-credentials token has no user"
    );

    let service_secret = service.secret.clone().unwrap();
    let client_secret = client.secret.clone().unwrap();
    assert_no_secret(
        &events,
        &[
            PASSWORD,
            "not her password",
            &code,
            &code2,
            &access,
            &refresh,
            &refresh2,
            rotated["refresh_token"].as_str().unwrap(),
            &service_token,
            &service_secret,
            &client_secret,
        ],
    );
}

async fn operators_changes_are_audited_and_listed_with_filters(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let cli = |args: &[&str]| json_of(&app.db.cli(args, None));
    let created = cli(&[
        "client",
        "create",
        "--client-id",
        "orders-web",
        "--name",
        "Orders",
        "--redirect-uri",
        "https://orders.example.com/cb",
        "--json",
    ]);
    let first_secret = text(&created, "client_secret");
    cli(&[
        "client",
        "update",
        "orders-web",
        "--name",
        "Orders Web",
        "--json",
    ]);
    let rotated = cli(&["client", "rotate-secret", "orders-web", "--json"]);
    let second_secret = text(&rotated, "client_secret");
    json_of(&app.db.cli(
        &[
            "user",
            "create",
            "--username",
            "bob",
            "--password-stdin",
            "--json",
        ],
        Some("a long and unusual passphrase 42"),
    ));
    json_of(&app.db.cli(
        &["user", "set-password", "bob", "--password-stdin", "--json"],
        Some("another long unusual passphrase 43"),
    ));
    cli(&["user", "disable", "bob", "--json"]);
    cli(&[
        "scope",
        "create",
        "orders:read",
        "--description",
        "Read orders",
        "--json",
    ]);
    cli(&[
        "api",
        "create",
        "--audience",
        "https://orders.example.com",
        "--name",
        "Orders",
        "--json",
    ]);
    cli(&["role", "create", "orders-admin", "--json"]);
    cli(&["group", "create", "ops", "--json"]);
    cli(&["group", "add-member", "ops", "bob", "--json"]);
    cli(&["client", "add-role", "orders-web", "orders-admin", "--json"]);
    cli(&["keys", "rotate", "--alg", "ES256", "--json"]);
    cli(&["client", "delete", "orders-web", "--json"]);

    let events = all_events(&app).await;
    let changes: Vec<(String, String)> = of_type(&events, EventType::AdminChange)
        .iter()
        .map(|e| {
            assert!(e.actor.starts_with("cli:"), "{e:?}");
            (
                e.detail["object"].as_str().unwrap().to_owned(),
                e.detail["action"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("client", "created"),
        ("client", "updated"),
        ("client", "secret_rotated"),
        ("user", "created"),
        ("user", "password_set"),
        ("user", "disabled"),
        ("scope", "created"),
        ("api", "created"),
        ("role", "created"),
        ("group", "created"),
        ("group", "member_added"),
        ("client", "role_added"),
        ("key", "rotated"),
        ("client", "deleted"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(o, a)| ((*o).to_owned(), (*a).to_owned()))
        .collect();
    assert_eq!(changes, expected);
    let updated = events
        .iter()
        .find(|e| e.detail["action"] == "updated")
        .unwrap();
    assert_eq!(updated.detail["before"]["client_name"], "Orders");
    assert_eq!(updated.detail["after"]["client_name"], "Orders Web");
    assert_no_secret(
        &events,
        &[
            &first_secret,
            &second_secret,
            "a long and unusual passphrase 42",
            "another long unusual passphrase 43",
            TEST_SECRET,
        ],
    );

    // `audit list` and its filters.
    let listed = |args: &[&str]| {
        let mut all = vec!["audit", "list", "--json"];
        all.extend_from_slice(args);
        json_of(&app.db.cli(&all, None)).as_array().unwrap().clone()
    };
    let for_client = listed(&["--client", "orders-web"]);
    assert_eq!(
        for_client.len(),
        5,
        "created, updated, secret, role, deleted"
    );
    assert_eq!(for_client[0]["detail"]["action"], "deleted", "newest first");
    let for_bob = listed(&["--user", "bob"]);
    assert_eq!(
        for_bob.len(),
        4,
        "created, password, disabled, group member"
    );
    assert!(for_bob.iter().all(|e| e["type"] == "admin.change"));
    assert_eq!(listed(&["--type", "admin.change", "--limit", "2"]).len(), 2);
    assert_eq!(listed(&["--since", "1h"]).len(), 14);
    assert_eq!(listed(&["--since", "2999-01-01T00:00:00Z"]).len(), 0);
    let text_out =
        String::from_utf8(app.db.cli(&["audit", "list", "--limit", "1"], None).stdout).unwrap();
    assert!(text_out.starts_with("AT "), "{text_out}");
    assert!(text_out.contains("admin.change"), "{text_out}");
    for (args, expected) in [
        (&["--type", "nope"][..], "--type"),
        (&["--since", "yesterday-ish"][..], "--since"),
        (&["--limit", "0"][..], "--limit"),
    ] {
        let mut all = vec!["audit", "list"];
        all.extend_from_slice(args);
        let err = failure_of(&app.db.cli(&all, None));
        assert!(err.contains(expected), "{args:?}: {err}");
    }

    // Each event is also one JSON log line (target latchkey::audit); with --log-format json, the whole
    // line is JSON.
    let out = run_cli(
        &[
            "--log-format",
            "json",
            "scope",
            "create",
            "reports:read",
            "--description",
            "Reports",
        ],
        &[
            ("LATCHKEY_DATABASE_URL", app.db.url.as_str()),
            ("LATCHKEY_KEY_ENCRYPTION_SECRET", TEST_SECRET),
            ("LATCHKEY_LOG", "latchkey::audit=info"),
        ],
        None,
    );
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let line: serde_json::Value = serde_json::from_str(stderr.lines().next().unwrap())
        .unwrap_or_else(|err| panic!("{err}: {stderr}"));
    assert_eq!(line["target"], "latchkey::audit");
    let event: serde_json::Value =
        serde_json::from_str(line["fields"]["event"].as_str().unwrap()).unwrap();
    assert_eq!(event["type"], "admin.change");
    assert_eq!(event["detail"]["id"], "reports:read");
}

async fn old_audit_events_leave_with_housekeeping(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    json_of(&app.db.cli(&["group", "create", "ops", "--json"], None));
    let settings = &app.state.settings;
    assert_eq!(settings.audit_retention, 90 * 86_400, "90 days by default");
    let store = app.state.store.as_ref();
    let now = app.clock.now();
    let kept = latchkey::housekeeping::run_once(store, now, settings)
        .await
        .unwrap();
    assert_eq!(kept.audit_events, 0);
    let done = latchkey::housekeeping::run_once(store, now + 91 * 86_400, settings)
        .await
        .unwrap();
    assert_eq!(done.audit_events, 1);
    assert!(all_events(&app).await.is_empty());
}

async fn token_issuance_is_audited_in_batches_only_when_asked(backend: Backend) {
    // Off by default: client credentials write nothing.
    let quiet = TestApp::spawn(&backend).await;
    let service = quiet
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    assert_eq!(
        quiet
            .client_credentials(&service, Some("orders:read"))
            .await
            .status(),
        200
    );
    assert!(quiet.state.issuance_log.is_none());
    assert!(of_type(&all_events(&quiet).await, EventType::TokenIssued).is_empty());

    let app = TestApp::spawn_on(
        crate::helpers::TestDb::new(&backend).await,
        &["--audit-token-issuance"],
    )
    .await;
    let service = app
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    let mut tokens = Vec::new();
    for _ in 0..25 {
        let response = app.client_credentials(&service, Some("orders:read")).await;
        assert_eq!(response.status(), 200);
        tokens.push(text(&response.json().await.unwrap(), "access_token"));
    }
    app.state.issuance_log.as_ref().unwrap().flush().await;
    let events = all_events(&app).await;
    let issued = of_type(&events, EventType::TokenIssued);
    assert_eq!(issued.len(), 25);
    assert_eq!(issued[0].actor, format!("client:{}", service.client_id));
    assert_eq!(issued[0].user_id, None);
    assert_eq!(issued[0].detail["grant_type"], "client_credentials");
    assert_eq!(issued[0].detail["scope"], "orders:read");
    assert!(issued[0].detail["jti"].as_str().unwrap().starts_with("at_"));
    let jtis: std::collections::HashSet<&str> = issued
        .iter()
        .map(|e| e.detail["jti"].as_str().unwrap())
        .collect();
    assert_eq!(jtis.len(), 25, "one event per token");
    let secret = service.secret.clone().unwrap();
    let mut secrets: Vec<&str> = tokens.iter().map(String::as_str).collect();
    secrets.push(&secret);
    assert_no_secret(&events, &secrets);
}
