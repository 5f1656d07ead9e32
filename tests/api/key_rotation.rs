//! The key life cycle without a person: automatic rotation (`--key-rotation-interval`) by exactly one
//! of several instances, retired keys kept published as long as any token they signed (an API's
//! longer lifetime included) and then deleted, the JWKS max-age that follows the policy, and
//! `keys rewrap` under a new key-encryption secret.

use latchkey::cli::Cli;
use latchkey::clock::Clock;
use latchkey::domain::alg::SigningAlg;
use latchkey::store::KeyState;

use clap::Parser;

use crate::helpers::{Backend, TEST_SECRET, TestApp, TestDb, json_of, run_cli, text};

crate::backend_tests!(
    two_instances_rotate_a_due_key_exactly_once,
    a_retired_key_stays_published_while_an_api_s_tokens_live_then_is_deleted,
    keys_rewrap_moves_every_key_to_a_new_secret,
);

/// The `kid` in a JWT's header.
fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
}

async fn access_token(app: &TestApp, client: &crate::helpers::TestClient) -> String {
    let response = app.client_credentials(client, Some("orders:read")).await;
    assert_eq!(response.status(), 200);
    text(&response.json().await.unwrap(), "access_token")
}

async fn jwks_kids(app: &TestApp) -> Vec<String> {
    let jwks: serde_json::Value = app.get("/jwks").await.json().await.unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

async fn two_instances_rotate_a_due_key_exactly_once(backend: Backend) {
    let flags = ["--key-rotation-interval", "1d", "--key-publish-ahead", "1h"];
    let app = TestApp::spawn_on(TestDb::new(&backend).await, &flags).await;
    let sibling = app.spawn_sibling_on(&flags).await;
    let client = app
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    let before = access_token(&app, &client).await;
    let store = app.state.store.as_ref();
    // The JWKS may be cached only as long as the next key is published ahead, less the refresh.
    assert_eq!(
        app.get("/jwks").await.headers()["cache-control"],
        "public, max-age=300"
    );

    // Not due yet: nothing happens.
    assert!(
        app.state
            .keys
            .rotate_due(store, app.clock.now())
            .await
            .unwrap()
            .is_empty()
    );

    // A day later both instances find the keys due at the same moment: each algorithm rotates once.
    app.clock.advance(86_400 + 1);
    sibling.clock.advance(86_400 + 1);
    let (here, there) = tokio::join!(
        app.state.keys.rotate_due(store, app.clock.now()),
        sibling
            .state
            .keys
            .rotate_due(sibling.state.store.as_ref(), sibling.clock.now()),
    );
    let rotated = here.unwrap().len() + there.unwrap().len();
    assert_eq!(rotated, SigningAlg::ALL.len(), "one rotation per algorithm");
    let keys = store.list_signing_keys().await.unwrap();
    for alg in SigningAlg::ALL {
        let count = |state: KeyState| {
            keys.iter()
                .filter(|k| k.alg == alg.as_str() && k.state == state)
                .count()
        };
        assert_eq!(
            (
                count(KeyState::Active),
                count(KeyState::Next),
                count(KeyState::Retired)
            ),
            (1, 1, 1),
            "{alg}"
        );
    }
    // Both sign with the new key once they have refreshed; the old key's token still verifies.
    for instance in [&app, &sibling] {
        instance
            .state
            .keys
            .refresh(instance.state.store.as_ref(), instance.clock.now())
            .await
            .unwrap();
    }
    let after_here = access_token(&app, &client).await;
    let after_there = access_token(&sibling, &client).await;
    assert_ne!(kid_of(&after_here), kid_of(&before));
    assert_eq!(kid_of(&after_here), kid_of(&after_there));
    assert!(jwks_kids(&sibling).await.contains(&kid_of(&before)));
    // A day on the rotated keys are not due again yet: their interval started at the rotation.
    assert!(
        app.state
            .keys
            .rotate_due(store, app.clock.now() + 3_600)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn a_retired_key_stays_published_while_an_api_s_tokens_live_then_is_deleted(
    backend: Backend,
) {
    let app = TestApp::spawn(&backend).await;
    // An API whose tokens live a day, far longer than the server's 10 minutes.
    json_of(&app.db.cli(
        &[
            "api",
            "create",
            "--audience",
            "https://reports.example.com",
            "--name",
            "Reports",
            "--token-ttl",
            "1d",
            "--json",
        ],
        None,
    ));
    let store = app.state.store.as_ref();
    let keys = &app.state.keys;
    keys.refresh(store, app.clock.now()).await.unwrap();
    let old = keys.signing_key(SigningAlg::RS256).unwrap().kid.clone();
    keys.rotate(store, SigningAlg::RS256, app.clock.now())
        .await
        .unwrap();
    // An hour later (past 10 minutes), the old key is still published: a day-long token may need it.
    app.clock.advance(3_600);
    keys.refresh(store, app.clock.now()).await.unwrap();
    assert_eq!(keys.retention(), 86_400 + 30);
    assert!(jwks_kids(&app).await.contains(&old));
    let settings = &app.state.settings;
    let done = latchkey::housekeeping::run_once(store, app.clock.now(), settings)
        .await
        .unwrap();
    assert_eq!(done.signing_keys, 0);

    // Once every token it signed has expired it leaves the JWKS, and housekeeping deletes it.
    app.clock.advance(86_400);
    keys.refresh(store, app.clock.now()).await.unwrap();
    assert!(!jwks_kids(&app).await.contains(&old));
    let done = latchkey::housekeeping::run_once(store, app.clock.now(), settings)
        .await
        .unwrap();
    assert_eq!(done.signing_keys, 1);
    assert!(
        store
            .list_signing_keys()
            .await
            .unwrap()
            .iter()
            .all(|k| k.kid != old)
    );
}

/// Settings for `db` with the key-encryption secret read from `secret_file`.
fn settings_with_secret_file(db: &TestDb, secret_file: &str) -> latchkey::config::Settings {
    validated_on(&db.url, &["--key-encryption-secret-file", secret_file]).unwrap()
}

async fn keys_rewrap_moves_every_key_to_a_new_secret(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let before: Vec<String> = app
        .state
        .store
        .list_signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let new_secret = dir.path().join("new.secret");
    std::fs::write(
        &new_secret,
        "a brand new key-encryption secret, 40+ chars\n",
    )
    .unwrap();
    let new_secret = new_secret.to_str().unwrap();

    // A secret file that is too short is refused before anything is read or written.
    let short = dir.path().join("short.secret");
    std::fs::write(&short, "too short").unwrap();
    let refused = app.db.cli(
        &[
            "keys",
            "rewrap",
            "--new-secret-file",
            short.to_str().unwrap(),
        ],
        None,
    );
    assert!(!refused.status.success());

    let done = json_of(&app.db.cli(
        &["keys", "rewrap", "--new-secret-file", new_secret, "--json"],
        None,
    ));
    assert_eq!(done["rewrapped"], before.len());

    // A restart with the new secret opens every key and signs with the same kid as before…
    let clock = std::sync::Arc::new(latchkey::clock::FixedClock::starting_now());
    let restarted = latchkey::state::AppState::build(
        settings_with_secret_file(&app.db, new_secret),
        clock.clone(),
    )
    .await
    .unwrap();
    assert_eq!(
        restarted.keys.signing_key(SigningAlg::RS256).unwrap().kid,
        app.state.keys.signing_key(SigningAlg::RS256).unwrap().kid
    );
    let after: Vec<String> = restarted
        .store
        .list_signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(after, before, "the same keys, re-encrypted");
    // …and the old secret no longer opens them.
    let old = run_cli(
        &["keys", "rotate"],
        &[
            ("LATCHKEY_DATABASE_URL", app.db.url.as_str()),
            ("LATCHKEY_KEY_ENCRYPTION_SECRET", TEST_SECRET),
        ],
        None,
    );
    assert!(!old.status.success());
    assert!(
        String::from_utf8_lossy(&old.stderr).contains("decrypt"),
        "{}",
        String::from_utf8_lossy(&old.stderr)
    );
}

/// Settings from `flags` on an in-memory database, or the one-line error.
fn validated(flags: &[&str]) -> Result<latchkey::config::Settings, String> {
    validated_on("sqlite::memory:", flags)
}

/// Settings from `flags` on the database at `url`, or the one-line error.
fn validated_on(url: &str, flags: &[&str]) -> Result<latchkey::config::Settings, String> {
    let mut args = vec!["latchkey", "--database-url", url];
    args.extend_from_slice(flags);
    args.push("serve");
    Cli::try_parse_from(args)
        .unwrap()
        .config
        .validate()
        .map_err(|err| err.to_string())
}

#[test]
fn the_key_policy_is_checked_and_sets_the_jwks_max_age() {
    let default = validated(&[]).unwrap().key_policy();
    assert_eq!(
        (default.rotation_interval, default.publish_ahead),
        (90 * 86_400, 330),
        "90 days; the JWKS max-age plus the refresh interval"
    );
    assert_eq!(default.jwks_max_age(), 300);
    // A shorter publish-ahead shortens the JWKS max-age so a cached JWKS still holds the next key.
    let short = validated(&["--key-publish-ahead", "2m"])
        .unwrap()
        .key_policy();
    assert_eq!(short.jwks_max_age(), 90);
    assert_eq!(
        validated(&["--key-rotation-interval", "0"])
            .unwrap()
            .key_policy()
            .rotation_interval,
        0,
        "manual rotation only"
    );
    for (flags, setting) in [
        (
            &["--key-rotation-interval", "5m"][..],
            "LATCHKEY_KEY_ROTATION_INTERVAL",
        ),
        (
            &["--key-publish-ahead", "10s"][..],
            "LATCHKEY_KEY_PUBLISH_AHEAD",
        ),
    ] {
        let err = validated(flags).unwrap_err();
        assert!(err.contains(setting), "{flags:?}: {err}");
    }
}
