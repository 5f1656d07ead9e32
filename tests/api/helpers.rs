//! Test support: a fresh database per test on each backend, and `TestApp::spawn` on a real socket.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Once};

use clap::Parser;
use latchkey::app::{self, AppState};
use latchkey::cli::Cli;
use latchkey::clock::FixedClock;
use latchkey::config::Settings;
use latchkey::store::{self, Store};
use sqlx::Connection;

/// The key-encryption secret every test instance uses.
pub const TEST_SECRET: &str = "test-key-encryption-secret-0123456789abcdef";

/// Which database a test runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    /// A SQLite file in a temporary directory.
    Sqlite,
    /// A fresh database on the PostgreSQL server at this URL.
    Postgres(String),
}

impl Backend {
    /// The PostgreSQL backend, if `LATCHKEY_TEST_DATABASE_URL` is set. Under `CI=true` a missing URL fails
    /// the test instead of skipping it; otherwise the skip is announced once on the real stderr.
    pub fn postgres() -> Option<Self> {
        match std::env::var("LATCHKEY_TEST_DATABASE_URL") {
            Ok(url) if !url.is_empty() => Some(Self::Postgres(url)),
            _ => {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!(
                        "CI=true but LATCHKEY_TEST_DATABASE_URL is not set: PostgreSQL tests must run in CI"
                    );
                }
                static NOTICE: Once = Once::new();
                NOTICE.call_once(|| {
                    // Written to the real stderr (not the captured one) so the skip is visible.
                    let _ = std::io::stderr().write_all(
                        b"\nnote: LATCHKEY_TEST_DATABASE_URL is not set: the PostgreSQL variants of the tests are skipped (they pass vacuously)\n",
                    );
                });
                None
            }
        }
    }
}

/// Generate `sqlite` and `postgres` test functions for each named `async fn name(backend: Backend)`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(backend) = $crate::helpers::Backend::postgres() {
                        super::$name(backend).await
                    }
                }
            )*
        }
    };
}

/// A fresh, empty database for one test.
pub struct TestDb {
    /// Its URL.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// Create an empty database on `backend`.
    pub async fn new(backend: &Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("latchkey.db").display());
                Self {
                    url,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres(base) => {
                let name = format!(
                    "lk_test_{}",
                    latchkey::domain::secret::random_string(9)
                        .to_lowercase()
                        .replace(['-', '_'], "x")
                );
                let mut admin = sqlx::PgConnection::connect(base).await.unwrap();
                sqlx::query(&format!(r#"CREATE DATABASE "{name}""#))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                let mut url = url::Url::parse(base).unwrap();
                url.set_path(&format!("/{name}"));
                Self {
                    url: url.to_string(),
                    _dir: None,
                }
            }
        }
    }

    /// Settings for this database, as `latchkey` would parse them, plus `extra` flags.
    pub fn settings(&self, issuer: &str, extra: &[&str]) -> Settings {
        let mut args = vec![
            "latchkey",
            "--issuer",
            issuer,
            "--database-url",
            &self.url,
            "--key-encryption-secret",
            TEST_SECRET,
            "--database-max-connections",
            "5",
        ];
        args.extend_from_slice(extra);
        args.push("serve");
        Cli::try_parse_from(args)
            .unwrap()
            .config
            .validate()
            .unwrap()
    }

    /// Open the store directly (migrated).
    pub async fn store(&self) -> Arc<dyn Store> {
        let store = store::connect(&self.settings("http://127.0.0.1:1", &[]))
            .await
            .unwrap();
        store.migrate().await.unwrap();
        store
    }

    /// Run the real `latchkey` binary against this database; `stdin` is piped in.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Output {
        run_cli(
            args,
            &[
                ("LATCHKEY_DATABASE_URL", self.url.as_str()),
                ("LATCHKEY_KEY_ENCRYPTION_SECRET", TEST_SECRET),
            ],
            stdin,
        )
    }
}

/// Run the `latchkey` binary with only the given `LATCHKEY_*` variables set.
pub fn run_cli(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_latchkey"));
    for (key, _) in std::env::vars() {
        if key.starts_with("LATCHKEY_") {
            command.env_remove(key);
        }
    }
    command
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    if let Some(mut pipe) = child.stdin.take()
        && let Some(input) = stdin
    {
        pipe.write_all(input.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// A running Latchkey on `127.0.0.1:0`, with a fixed clock and a cookie-keeping, non-redirecting client.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`, also the issuer.
    pub address: String,
    /// The application state (store, keys, settings).
    pub state: AppState,
    /// The clock the server reads; tests move it.
    pub clock: FixedClock,
    /// An HTTP client with a cookie jar and redirects off.
    pub http: reqwest::Client,
    /// The database.
    pub db: TestDb,
}

impl TestApp {
    /// Start a server on a fresh database of `backend`.
    pub async fn spawn(backend: &Backend) -> Self {
        Self::spawn_on(TestDb::new(backend).await, &[]).await
    }

    /// Start a server on an existing database (a second instance shares it), with extra flags.
    pub async fn spawn_on(db: TestDb, extra: &[&str]) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let clock = FixedClock::starting_now();
        let state = AppState::build(db.settings(&address, extra), Arc::new(clock.clone()))
            .await
            .unwrap();
        tokio::spawn(app::serve(listener, state.clone()));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap();
        Self {
            address,
            state,
            clock,
            http,
            db,
        }
    }

    /// `GET` a path on this server.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap()
    }

    /// `GET /.well-known/openid-configuration` as JSON.
    pub async fn get_discovery(&self) -> serde_json::Value {
        self.get("/.well-known/openid-configuration")
            .await
            .json()
            .await
            .unwrap()
    }

    /// `GET /jwks` as JSON.
    pub async fn get_jwks(&self) -> serde_json::Value {
        self.get("/jwks").await.json().await.unwrap()
    }
}

/// The standard output of a successful command as JSON; panics with its stderr otherwise.
pub fn json_of(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "command failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The stderr of a command that must have failed cleanly: non-zero, one `error:` line, no panic.
pub fn failure_of(output: &Output) -> String {
    assert!(!output.status.success(), "command unexpectedly succeeded");
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    assert!(!stderr.contains("panicked"), "panic: {stderr}");
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        lines.len() == 1 || lines[0].starts_with("error:"),
        "expected one clear line, got: {stderr}"
    );
    stderr
}
