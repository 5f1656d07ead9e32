//! What a store failure looks like over HTTP: 500 with a generic body for a corrupt row (never a 503,
//! which would tell clients to retry something that cannot heal).

use sqlx::Connection;

use crate::helpers::{Backend, TestApp, TestDb};

crate::backend_tests!(a_corrupt_client_row_is_a_500_with_a_generic_body_not_a_503);

/// Run one statement directly on the test database, behind the store's back.
async fn raw_sql(db: &TestDb, backend: &Backend, sql: &str) {
    match backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
        Backend::Postgres(_) => {
            let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
    }
}

async fn a_corrupt_client_row_is_a_500_with_a_generic_body_not_a_503(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    let client = app
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    // A value the row type cannot decode (SQLite stores text in an INTEGER column; PostgreSQL needs
    // the column's type changed under it).
    if matches!(backend, Backend::Postgres(_)) {
        raw_sql(
            &app.db,
            &backend,
            "ALTER TABLE clients ALTER COLUMN created_at TYPE TEXT",
        )
        .await;
    }
    raw_sql(
        &app.db,
        &backend,
        &format!(
            "UPDATE clients SET created_at = 'not a number' WHERE client_id = '{}'",
            client.client_id
        ),
    )
    .await;

    let response = app.client_credentials(&client, None).await;
    assert_eq!(response.status(), 500);
    assert!(response.headers().get("retry-after").is_none());
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({"error": "server_error", "error_description": "internal server error"})
    );
    // The store itself is fine: discovery and readiness still answer.
    assert_eq!(app.get("/readyz").await.status(), 200);
}
