//! What a store failure looks like over HTTP: 500 with a generic body for a corrupt row (never a 503,
//! which would tell clients to retry something that cannot heal).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use sqlx::Connection;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

use crate::helpers::{Backend, TestApp, TestDb, text};

crate::backend_tests!(a_corrupt_client_row_is_a_500_with_a_generic_body_not_a_503);

mod postgres_only {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unreachable_database_is_a_503_with_retry_after_and_heals_by_itself() {
        if let Some(backend) = crate::helpers::Backend::postgres() {
            super::an_unreachable_database_is_a_503_with_retry_after_and_heals_by_itself(backend)
                .await
        }
    }
}

/// A TCP relay in front of the database, which the test can cut and restore.
struct Relay {
    port: u16,
    target: SocketAddr,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Relay {
    async fn start(port: u16, target: SocketAddr) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tasks: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let registry = tasks.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let relay = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                registry.lock().unwrap().push(relay);
            }
        });
        tasks.lock().unwrap().push(accept);
        Self {
            port,
            target,
            tasks,
        }
    }

    /// Refuse new connections and drop every open one: the database is unreachable.
    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

async fn an_unreachable_database_is_a_503_with_retry_after_and_heals_by_itself(backend: Backend) {
    let db = TestDb::new(&backend).await;
    let mut url = url::Url::parse(&db.url).unwrap();
    let target: SocketAddr = tokio::net::lookup_host((
        url.host_str().unwrap().to_owned(),
        url.port().unwrap_or(5432),
    ))
    .await
    .unwrap()
    .next()
    .unwrap();
    let relay = Relay::start(0, target).await;
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(relay.port)).unwrap();
    let mut relayed = db.shared();
    relayed.url = url.to_string();
    // Every request reads the client from the store.
    let app = TestApp::spawn_on(relayed, &["--client-cache-ttl", "0"]).await;
    let client = app
        .service_client(&["orders:read"], "client_secret_basic")
        .await;
    assert_eq!(app.client_credentials(&client, None).await.status(), 200);

    relay.cut();
    let response = app.client_credentials(&client, None).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(text(&body, "error"), "temporarily_unavailable");

    let _back = Relay::start(relay.port, relay.target).await;
    assert_eq!(app.client_credentials(&client, None).await.status(), 200);
}

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
