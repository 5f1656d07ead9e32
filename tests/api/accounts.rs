//! Accounts and browser sessions: what is kept about them at rest, anonymous sessions stay
//! short-lived, and a session that cannot be saved gets the 503 page.

use sqlx::Connection;

use crate::helpers::{Backend, TestApp, TestDb, location, query_param};

crate::backend_tests!(
    an_anonymous_session_saved_again_still_expires_within_the_anonymous_ttl,
    a_session_that_cannot_be_saved_gets_the_503_page,
);

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
    // Only session writes fail: the table they go to is gone.
    sql_execute(&app.db, "ALTER TABLE sessions RENAME TO sessions_elsewhere").await;
    let response = app.get("/login").await;
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
