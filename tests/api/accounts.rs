//! Account clean-up and browser sessions at rest: a compromised account can be signed out
//! everywhere, session ids are stored only as hashes, anonymous sessions stay short-lived, and a
//! session that cannot be saved gets the 503 page.

use sqlx::Connection;

use crate::helpers::{
    Backend, PASSWORD, TestApp, TestClient, TestDb, failure_of, json_of, location, query_param,
    session_cookie, text,
};

crate::backend_tests!(
    setting_a_password_signs_the_user_out_and_revokes_everything_issued_to_them,
    a_disabled_user_enabled_again_finds_every_old_session_and_token_dead,
    revoke_sessions_signs_one_user_out_and_keeps_their_password_and_other_users,
    revoke_sessions_for_an_unknown_user_fails_with_one_error_line,
    session_ids_are_stored_only_as_hashes,
    an_anonymous_session_saved_again_still_expires_within_the_anonymous_ttl,
    a_session_that_cannot_be_saved_gets_the_503_page,
);

/// What a signed-in user leaves behind: a browser session (in `app.http`'s cookie jar), an access
/// and a refresh token, and an authorization code not yet redeemed.
struct Footprint {
    client: TestClient,
    access_token: String,
    refresh_token: String,
    code: String,
    verifier: String,
}

async fn sign_in_everywhere(app: &TestApp, username: &str) -> Footprint {
    let client = app.refreshing_client().await;
    let tokens = app.tokens_for(&client, username, "openid").await;
    // Signed in already: the session answers the next authorization request with a code at once.
    let (url, verifier) = app.authorize_url(&client, "openid", &[]);
    let response = app.get_url(&url).await;
    assert_eq!(response.status(), 303);
    let code = query_param(&url::Url::parse(&location(&response)).unwrap(), "code")
        .expect("a signed-in session gets a code without signing in again");
    Footprint {
        client,
        access_token: text(&tokens, "access_token"),
        refresh_token: text(&tokens, "refresh_token"),
        code,
        verifier,
    }
}

async fn assert_signed_out_everywhere(app: &TestApp, left: &Footprint) {
    let (url, _) = app.authorize_url(&left.client, "openid", &[("prompt", "none")]);
    let redirect = url::Url::parse(&location(&app.get_url(&url).await)).unwrap();
    assert_eq!(
        query_param(&redirect, "error").as_deref(),
        Some("login_required"),
        "the browser session is signed out"
    );

    let refreshed = app.refresh(&left.client, &left.refresh_token, None).await;
    assert_eq!(refreshed.status(), 400);
    assert_eq!(
        refreshed.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_grant"
    );

    // Made by a CLI (another process): honoured by the server within a second.
    assert_eq!(
        app.introspect_until_inactive(&left.client, &left.access_token)
            .await,
        serde_json::json!({ "active": false })
    );
    let userinfo = app
        .http
        .get(format!("{}/userinfo", app.address))
        .bearer_auth(&left.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);
    assert!(
        userinfo.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );

    let redeemed = app
        .redeem_code(&left.client, &left.code, &left.verifier)
        .await;
    assert_eq!(redeemed.status(), 400);
    assert_eq!(
        redeemed.json::<serde_json::Value>().await.unwrap()["error"],
        "invalid_grant"
    );
}

async fn setting_a_password_signs_the_user_out_and_revokes_everything_issued_to_them(
    backend: Backend,
) {
    let app = TestApp::spawn(&backend).await;
    app.create_user("jane").await;
    let left = sign_in_everywhere(&app, "jane").await;

    let out = json_of(&app.db.cli(
        &["user", "set-password", "jane", "--password-stdin", "--json"],
        Some("a brand new passphrase, 2026"),
    ));

    assert_signed_out_everywhere(&app, &left).await;
    assert_eq!(out["password_changed"], true);
    assert_eq!(out["sessions"], 1);
    assert_eq!(out["grants"], 1, "the redeemed code's grant");
    assert_eq!(out["authorization_codes"], 1, "the unredeemed code");
}

async fn a_disabled_user_enabled_again_finds_every_old_session_and_token_dead(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    app.create_user("jane").await;
    let left = sign_in_everywhere(&app, "jane").await;

    let out = json_of(&app.db.cli(&["user", "disable", "jane", "--json"], None));
    json_of(&app.db.cli(&["user", "enable", "jane", "--json"], None));

    assert_signed_out_everywhere(&app, &left).await;
    assert_eq!(out["disabled"], true);
    assert_eq!(out["sessions"], 1);
}

async fn revoke_sessions_signs_one_user_out_and_keeps_their_password_and_other_users(
    backend: Backend,
) {
    let app = TestApp::spawn(&backend).await;
    app.create_user("bob").await;
    app.create_user("jane").await;
    let bobs = app.refreshing_client().await;
    let bob = app.tokens_for(&bobs, "bob", "openid").await;
    // Jane signs in on the same browser, replacing bob's session there.
    let (url, verifier) = app.authorize_url(&bobs, "openid", &[("prompt", "login")]);
    let code = query_param(&app.sign_in_through(&url, "jane").await, "code").unwrap();
    assert_eq!(app.redeem_code(&bobs, &code, &verifier).await.status(), 200);
    let left = sign_in_everywhere(&app, "jane").await;

    let out = json_of(
        &app.db
            .cli(&["user", "revoke-sessions", "JANE", "--json"], None),
    );
    assert_eq!(out["username"], "jane");
    assert_eq!(out["sessions"], 1);
    assert_eq!(out["grants"], 2);
    assert_eq!(out["authorization_codes"], 1);
    let human = app.db.cli(&["user", "revoke-sessions", "jane"], None);
    assert!(human.status.success());
    assert!(String::from_utf8_lossy(&human.stdout).contains("jane"));

    assert_signed_out_everywhere(&app, &left).await;
    assert_eq!(
        app.introspect(&bobs, &text(&bob, "access_token")).await["active"],
        true,
        "another user's tokens are untouched"
    );
    assert_eq!(
        app.refresh(&bobs, &text(&bob, "refresh_token"), None)
            .await
            .status(),
        200
    );
    let again = app.post_login("jane", PASSWORD).await;
    assert_eq!(again.status(), 200, "the password still works");
    assert!(again.text().await.unwrap().contains("Signed in"));
}

async fn revoke_sessions_for_an_unknown_user_fails_with_one_error_line(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let stderr = failure_of(&db.cli(&["user", "revoke-sessions", "nobody", "--json"], None));
    assert!(stderr.starts_with("error:"), "{stderr}");
    assert!(stderr.contains("nobody"), "{stderr}");
}

/// Every stored byte of the `sessions` table (PostgreSQL), or of the whole database file and its
/// write-ahead log (SQLite), as text to search.
async fn everything_stored(db: &TestDb) -> String {
    match db.url.strip_prefix("sqlite://") {
        Some(path) => {
            let mut all = Vec::new();
            for suffix in ["", "-wal"] {
                if let Ok(bytes) = std::fs::read(format!("{path}{suffix}")) {
                    all.extend(bytes);
                }
            }
            String::from_utf8_lossy(&all).into_owned()
        }
        None => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            let rows: Vec<String> =
                sqlx::query_scalar("SELECT row_to_json(s)::text FROM sessions s")
                    .fetch_all(&mut conn)
                    .await
                    .unwrap();
            rows.join("\n")
        }
    }
}

async fn session_ids_are_stored_only_as_hashes(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    app.create_user("jane").await;
    // An authorization request waits in an anonymous session while the user signs in.
    let client = app.web_client().await;
    let started = app
        .get_url(&app.authorize_url(&client, "openid", &[]).0)
        .await;
    let anonymous = session_cookie(&started)
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    let page = app.get("/login").await;
    let csrf = crate::helpers::hidden_value(&page.text().await.unwrap(), "csrf_token");
    let response = app
        .post_form(
            "/login",
            &[
                ("csrf_token", &csrf),
                ("username", "jane"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let signed_in = session_cookie(&response)
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    assert_eq!(sql_i64(&app.db, "SELECT COUNT(*) FROM sessions").await, 1);
    let stored = everything_stored(&app.db).await;
    assert!(
        !stored.contains(&signed_in),
        "the signed-in session id is stored"
    );
    assert!(
        !stored.contains(&anonymous),
        "the anonymous session id is stored"
    );
}

async fn sql_i64(db: &TestDb, sql: &str) -> i64 {
    if db.url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    } else {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&mut conn).await.unwrap()
    }
}

async fn sql_execute(db: &TestDb, sql: &str) {
    if db.url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
}

async fn an_anonymous_session_saved_again_still_expires_within_the_anonymous_ttl(backend: Backend) {
    use latchkey::clock::Clock;
    use latchkey::endpoints::session::ANONYMOUS_TTL;
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    // First save: the pending request of an anonymous visitor.
    let (url, _) = app.authorize_url(&client, "openid", &[]);
    assert_eq!(app.get_url(&url).await.status(), 303);
    // A later request modifies the same session: prompt=none drops the pending request.
    app.clock.advance(60);
    let (url, _) = app.authorize_url(&client, "openid", &[("prompt", "none")]);
    let redirect = url::Url::parse(&location(&app.get_url(&url).await)).unwrap();
    assert_eq!(
        query_param(&redirect, "error").as_deref(),
        Some("login_required")
    );
    assert_eq!(sql_i64(&app.db, "SELECT COUNT(*) FROM sessions").await, 1);
    let expiry = sql_i64(&app.db, "SELECT MAX(expiry_date) FROM sessions").await;
    let now = app.clock.now();
    assert!(
        expiry > now && expiry <= now + ANONYMOUS_TTL,
        "an anonymous session saved again expires {}s from now, not within {ANONYMOUS_TTL}s",
        expiry - now
    );
}

async fn a_session_that_cannot_be_saved_gets_the_503_page(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app.web_client().await;
    // Only session writes fail: the table they go to is gone.
    sql_execute(&app.db, "ALTER TABLE sessions RENAME TO sessions_elsewhere").await;
    // The login form itself needs no session (its CSRF token is a signed cookie).
    assert_eq!(app.get("/login").await.status(), 200);
    // An authorization request waiting for sign-in must be kept in one.
    let response = app
        .get_url(&app.authorize_url(&client, "openid", &[]).0)
        .await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("temporarily unavailable")
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sqlite_database_and_its_wal_and_shm_files_are_private_to_their_owner() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::spawn(&Backend::Sqlite).await;
    app.create_user("jane").await;
    let path = app.db.url.strip_prefix("sqlite://").unwrap().to_owned();
    for file in [path.clone(), format!("{path}-wal"), format!("{path}-shm")] {
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{file} has mode {mode:o}");
    }
}
