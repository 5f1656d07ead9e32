//! Test support: a fresh database per test on each backend, and `TestApp::spawn` on a real socket.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Once};

use clap::Parser;
use latchkey::app;
use latchkey::cli::Cli;
use latchkey::clock::FixedClock;
use latchkey::config::Settings;
use latchkey::state::AppState;
use latchkey::store::{self, Store};
use sqlx::Connection;

/// The `path` `TestApp::start_full` takes to mean "on `localhost`, not `127.0.0.1`".
const LOCALHOST: &str = "localhost";

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
                    $crate::helpers::install_crypto_provider();
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::helpers::install_crypto_provider();
                    if let Some(backend) = $crate::helpers::Backend::postgres() {
                        $crate::helpers::dropping_databases(&backend, super::$name(backend.clone()))
                            .await
                    }
                }
            )*
        }
    };
}

tokio::task_local! {
    /// The PostgreSQL databases the running test created, dropped when it passes.
    static CREATED: std::cell::RefCell<Vec<String>>;
}

/// Run a PostgreSQL test, then drop the databases it created (a full run would otherwise leave
/// some 300 of them, gigabytes, on the server). A failed test keeps them, to look at; so does every
/// test with `LATCHKEY_TEST_KEEP_DATABASES` set (`.ci/run`, whose cluster is thrown away whole:
/// the drops cost its run about a minute).
pub async fn dropping_databases(backend: &Backend, test: impl std::future::Future<Output = ()>) {
    if std::env::var_os("LATCHKEY_TEST_KEEP_DATABASES").is_some() {
        return test.await;
    }
    let created = CREATED
        .scope(std::cell::RefCell::default(), async {
            test.await;
            CREATED.with(|created| created.take())
        })
        .await;
    let Backend::Postgres(base) = backend else {
        return;
    };
    let Ok(mut admin) = sqlx::PgConnection::connect(base).await else {
        return;
    };
    for name in created {
        // The test's servers may still hold connections: FORCE ends them (PostgreSQL 13+).
        let _ = sqlx::query(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#))
            .execute(&mut admin)
            .await;
    }
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
                // Outside a test's scope (a task it spawned), the database is simply left.
                let _ = CREATED.try_with(|created| created.borrow_mut().push(name.clone()));
                let mut url = url::Url::parse(base).unwrap();
                url.set_path(&format!("/{name}"));
                Self {
                    url: url.to_string(),
                    _dir: None,
                }
            }
        }
    }

    /// A handle on the same database; it removes nothing when dropped.
    pub fn shared(&self) -> Self {
        Self {
            url: self.url.clone(),
            _dir: None,
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
        let store = store::connect(&self.url, 5).await.unwrap();
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
        // A command that refuses its arguments exits without reading standard input.
        if let Err(err) = pipe.write_all(input.as_bytes()) {
            assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe, "{err}");
        }
    }
    child.wait_with_output().unwrap()
}

/// Make aws-lc-rs this process's rustls provider. reqwest is built with rustls but no provider of
/// its own (Cargo.toml: the CLI hands it a configured one), so a plain `reqwest::Client` needs the
/// process default; every test installs it first (`backend_tests!`), whatever it builds first.
pub fn install_crypto_provider() {
    // Already installed (by an earlier test in this process) is fine: it is the same provider.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
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
    /// Reloads the certificate of a server started with [`Self::spawn_https`].
    pub tls: Option<latchkey::tls::CertificateReloader>,
}

impl TestApp {
    /// Start a server on a fresh database of `backend`.
    pub async fn spawn(backend: &Backend) -> Self {
        Self::spawn_on(TestDb::new(backend).await, &[]).await
    }

    /// Start a server on an existing database, with extra flags.
    pub async fn spawn_on(db: TestDb, extra: &[&str]) -> Self {
        Self::start(db, extra, None).await
    }

    /// Start a server on a fresh database whose configured issuer is `issuer` (requests still go to
    /// `address`, as through a proxy).
    pub async fn spawn_with_issuer(backend: &Backend, issuer: &str) -> Self {
        Self::start(TestDb::new(backend).await, &[], Some(issuer)).await
    }

    /// A second instance behind the same issuer, sharing this one's database (as behind a load balancer).
    pub async fn spawn_sibling(&self) -> Self {
        Self::start(self.db.shared(), &[], Some(&self.address)).await
    }

    /// A second instance like [`Self::spawn_sibling`], started with `extra` flags.
    pub async fn spawn_sibling_on(&self, extra: &[&str]) -> Self {
        Self::start(self.db.shared(), extra, Some(&self.address)).await
    }

    /// Start a server whose issuer (and `address`) has a path: `http://127.0.0.1:PORT{path}`.
    pub async fn spawn_with_issuer_path(backend: &Backend, path: &str) -> Self {
        Self::start_under(TestDb::new(backend).await, &[], None, path).await
    }

    async fn start(db: TestDb, extra: &[&str], issuer: Option<&str>) -> Self {
        Self::start_under(db, extra, issuer, "").await
    }

    /// Start a server over HTTPS on a fresh database: `extra` names `--tls-cert` and `--tls-key`
    /// (and any other flag); `address` is `https://127.0.0.1:PORT`, and `http` must trust the
    /// server's certificate.
    pub async fn spawn_https(backend: &Backend, extra: &[&str], http: reqwest::Client) -> Self {
        Self::start_full(TestDb::new(backend).await, extra, None, "", Some(http)).await
    }

    async fn start_under(db: TestDb, extra: &[&str], issuer: Option<&str>, path: &str) -> Self {
        Self::start_full(db, extra, issuer, path, None).await
    }

    /// Start a server whose issuer (and `address`) is `http://localhost:PORT`: a host name, as
    /// passkeys need (WebAuthn: an IP address cannot be an RP ID).
    pub async fn spawn_on_localhost(db: TestDb, extra: &[&str]) -> Self {
        Self::start_full(db, extra, None, LOCALHOST, None).await
    }

    async fn start_full(
        db: TestDb,
        extra: &[&str],
        issuer: Option<&str>,
        path: &str,
        https: Option<reqwest::Client>,
    ) -> Self {
        install_crypto_provider();
        // LATCHKEY_TEST_LOG=debug (an EnvFilter) shows the servers' logs in failing tests' output.
        if let Ok(filter) = std::env::var("LATCHKEY_TEST_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let scheme = if https.is_some() { "https" } else { "http" };
        let address = if path == LOCALHOST {
            format!(
                "{scheme}://localhost:{}",
                listener.local_addr().unwrap().port()
            )
        } else {
            format!("{scheme}://{}{path}", listener.local_addr().unwrap())
        };
        let clock = FixedClock::starting_now();
        let state = AppState::build(
            db.settings(issuer.unwrap_or(&address), extra),
            Arc::new(clock.clone()),
        )
        .await
        .unwrap();
        let listener = listen(listener, &state.settings.transport);
        let tls = listener.reloader().cloned();
        tokio::spawn(app::serve_on(listener, state.clone()));
        let http = https.unwrap_or_else(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .cookie_store(true)
                .build()
                .unwrap()
        });
        Self {
            address,
            state,
            clock,
            http,
            db,
            tls,
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

/// The listener `latchkey serve` would make of `tcp` with these settings: HTTPS when they name a
/// certificate.
pub fn listen(
    tcp: tokio::net::TcpListener,
    transport: &latchkey::config::TransportSettings,
) -> latchkey::tls::Listener {
    use latchkey::tls::{Listener, ServerTls};
    match &transport.tls {
        Some(files) => Listener::tls(
            tcp,
            ServerTls::load(files, transport.mtls_ca.is_some()).unwrap(),
            files.reload_interval,
        )
        .unwrap(),
        None => Listener::plain(tcp).unwrap(),
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

/// How soon a revocation made elsewhere is honoured by every instance (README "How revocation
/// propagates").
pub const REVOCATION_PROPAGATION: std::time::Duration = std::time::Duration::from_secs(1);

/// The password every test user gets.
pub const PASSWORD: &str = "correct horse battery staple";

/// A registered test client.
pub struct TestClient {
    /// Its id.
    pub client_id: String,
    /// Its secret (confidential clients).
    pub secret: Option<String>,
    /// Its first redirect URI.
    pub redirect_uri: String,
}

impl TestApp {
    /// Register a client directly in the store.
    pub async fn register_client(&self, spec: latchkey::domain::client::ClientSpec) -> TestClient {
        use latchkey::domain::client::{Client, ClientId, ClientSecret};
        let mut client = Client::from_spec(ClientId::generate(), &spec, self.clock_now()).unwrap();
        let secret = client.auth_method.has_secret().then(ClientSecret::generate);
        client.secret_hash = secret.as_ref().map(ClientSecret::hash);
        if let Some(secret) = &secret
            && client.auth_method.needs_sealed_secret()
        {
            let kek = self.state.keys.kek();
            client.sealed_secret = Some(
                kek.seal_client_secret(&client.client_id, secret.expose())
                    .unwrap(),
            );
        }
        self.state.store.create_client(&client).await.unwrap();
        TestClient {
            client_id: client.client_id.to_string(),
            secret: secret.map(|s| s.expose().to_owned()),
            redirect_uri: spec.redirect_uris.first().cloned().unwrap_or_default(),
        }
    }

    /// A confidential web client (`client_secret_basic`) for `openid profile email`.
    pub async fn web_client(&self) -> TestClient {
        self.register_client(latchkey::domain::client::ClientSpec {
            client_name: "Web App".into(),
            redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
            post_logout_redirect_uris: vec!["http://127.0.0.1:9/bye".into()],
            scope: "openid profile email".into(),
            auth_method: "client_secret_basic".into(),
            ..Default::default()
        })
        .await
    }

    /// Create a user with [`PASSWORD`].
    pub async fn create_user(&self, username: &str) -> latchkey::domain::user::User {
        use latchkey::domain::user::{User, UserId};
        let now = self.clock_now();
        let user = User {
            user_id: UserId::generate(),
            username: username.into(),
            email: Some(format!("{username}@example.com")),
            email_verified: true,
            name: Some(format!("{username} Example")),
            password_hash: latchkey::domain::password::hash_password(&secrecy::SecretString::from(
                PASSWORD.to_owned(),
            ))
            .unwrap(),
            disabled: false,
            created_at: now,
            updated_at: now,
        };
        self.state.store.create_user(&user).await.unwrap();
        user
    }

    fn clock_now(&self) -> i64 {
        use latchkey::clock::Clock;
        self.clock.now()
    }

    /// `GET` an absolute URL with the cookie-keeping client.
    pub async fn get_url(&self, url: &str) -> reqwest::Response {
        self.http.get(url).send().await.unwrap()
    }

    /// `POST` a form to a path on this server.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.address))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// The CSRF token of the page at `path`.
    pub async fn csrf_of(&self, path: &str) -> String {
        let html = self.get(path).await.text().await.unwrap();
        hidden_value(&html, "csrf_token")
    }

    /// Submit the login form as `username`.
    pub async fn post_login(&self, username: &str, password: &str) -> reqwest::Response {
        let csrf = self.csrf_of("/login").await;
        self.post_form(
            "/login",
            &[
                ("csrf_token", &csrf),
                ("username", username),
                ("password", password),
            ],
        )
        .await
    }

    /// Allow (or deny) on the consent page.
    pub async fn post_consent(&self, decision: &str) -> reqwest::Response {
        let html = self.get("/consent").await.text().await.unwrap();
        let csrf = hidden_value(&html, "csrf_token");
        let request_id = hidden_value(&html, "request_id");
        self.post_form(
            "/consent",
            &[
                ("csrf_token", &csrf),
                ("request_id", &request_id),
                ("decision", decision),
            ],
        )
        .await
    }

    /// Follow an authorization URL through login and consent (whichever are shown) to the client's
    /// redirect; returns that final Location.
    pub async fn sign_in_through(&self, authorize_url: &str, username: &str) -> url::Url {
        let mut response = self.get_url(authorize_url).await;
        for _ in 0..4 {
            assert_eq!(response.status(), 303, "{}", response.text().await.unwrap());
            let location =
                url::Url::parse(response.headers()["location"].to_str().unwrap()).unwrap();
            let page = location
                .as_str()
                .strip_prefix(&self.address)
                .map(|rest| rest.split('?').next().unwrap_or_default());
            response = match page {
                Some("/login") => self.post_login(username, PASSWORD).await,
                Some("/consent") => self.post_consent("allow").await,
                _ => return location,
            };
        }
        panic!("sign-in did not reach the client");
    }

    /// The `authorize` URL for `client` with PKCE; returns it and the verifier.
    pub fn authorize_url(
        &self,
        client: &TestClient,
        scope: &str,
        extra: &[(&str, &str)],
    ) -> (String, String) {
        let verifier = latchkey::domain::secret::random_string(32);
        let challenge = {
            use base64::Engine;
            let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
        };
        let mut url = url::Url::parse(&format!("{}/authorize", self.address)).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &client.client_id)
            .append_pair("redirect_uri", &client.redirect_uri)
            .append_pair("scope", scope)
            .append_pair("state", "st-123")
            .append_pair("nonce", "n-456")
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        for (name, value) in extra {
            url.query_pairs_mut().append_pair(name, value);
        }
        (url.to_string(), verifier)
    }

    /// `POST /token` with Basic authentication when the client has a secret.
    pub async fn post_token(
        &self,
        client: &TestClient,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        self.post_client_form("/token", client, form).await
    }

    /// `POST /token` redeeming `code` with its PKCE `verifier`.
    pub async fn redeem_code(
        &self,
        client: &TestClient,
        code: &str,
        verifier: &str,
    ) -> reqwest::Response {
        self.post_token(
            client,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &client.redirect_uri),
                ("code_verifier", verifier),
            ],
        )
        .await
    }

    /// Sign `username` in for `client` and redeem the code; returns the token response JSON.
    pub async fn tokens_for(
        &self,
        client: &TestClient,
        username: &str,
        scope: &str,
    ) -> serde_json::Value {
        let (url, verifier) = self.authorize_url(client, scope, &[]);
        let location = self.sign_in_through(&url, username).await;
        let code = query_param(&location, "code").unwrap();
        let response = self
            .post_token(
                client,
                &[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", &client.redirect_uri),
                    ("code_verifier", &verifier),
                ],
            )
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

/// The value of a hidden form field in `html`.
pub fn hidden_value(html: &str, name: &str) -> String {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in page: {html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// The claims of a JWT, unverified (tests read what the server put in its own tokens).
pub fn jwt_claims(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = jwt.split('.').nth(1).expect("a JWT has a payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("the payload is base64url");
    serde_json::from_slice(&bytes).expect("the payload is JSON")
}

/// A query parameter of a URL.
pub fn query_param(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

impl TestApp {
    /// A confidential service client for `client_credentials` with the given scopes (created here).
    pub async fn service_client(&self, scopes: &[&str], auth_method: &str) -> TestClient {
        for scope in scopes {
            let _ = self
                .state
                .store
                .create_scope(&latchkey::domain::scope::Scope {
                    name: (*scope).to_owned(),
                    description: format!("{scope} access"),
                    builtin: false,
                    api: None,
                    hidden: false,
                    created_at: 0,
                })
                .await;
        }
        self.register_client(latchkey::domain::client::ClientSpec {
            client_name: "Orders Service".into(),
            grant_types: vec!["client_credentials".into()],
            scope: scopes.join(" "),
            auth_method: auth_method.into(),
            ..Default::default()
        })
        .await
    }

    /// A web client registered for `authorization_code` and `refresh_token`, first-party.
    pub async fn refreshing_client(&self) -> TestClient {
        self.register_client(latchkey::domain::client::ClientSpec {
            client_name: "Dashboard".into(),
            redirect_uris: vec!["http://127.0.0.1:9/callback".into()],
            grant_types: vec!["authorization_code".into(), "refresh_token".into()],
            scope: "openid profile email offline_access".into(),
            auth_method: "client_secret_basic".into(),
            skip_consent: true,
            ..Default::default()
        })
        .await
    }

    /// `POST /token` with `grant_type=client_credentials`.
    pub async fn client_credentials(
        &self,
        client: &TestClient,
        scope: Option<&str>,
    ) -> reqwest::Response {
        let mut form = vec![("grant_type", "client_credentials")];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        self.post_token(client, &form).await
    }

    /// `POST /token` with `grant_type=refresh_token`.
    pub async fn refresh(
        &self,
        client: &TestClient,
        refresh_token: &str,
        scope: Option<&str>,
    ) -> reqwest::Response {
        let mut form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        if let Some(scope) = scope {
            form.push(("scope", scope));
        }
        self.post_token(client, &form).await
    }

    /// `POST /introspect` as `caller`; the JSON answer (panics unless 200).
    pub async fn introspect(&self, caller: &TestClient, token: &str) -> serde_json::Value {
        let response = self
            .post_client_form("/introspect", caller, &[("token", token)])
            .await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }

    /// `POST /introspect` as `caller` until the token is inactive, for at most
    /// [`REVOCATION_PROPAGATION`] after the call (and once more after it): a revocation made
    /// elsewhere (another instance, a CLI, the store directly) reaches this instance within it.
    /// The last answer.
    pub async fn introspect_until_inactive(
        &self,
        caller: &TestClient,
        token: &str,
    ) -> serde_json::Value {
        let deadline = std::time::Instant::now() + REVOCATION_PROPAGATION;
        loop {
            let past_deadline = std::time::Instant::now() >= deadline;
            let body = self.introspect(caller, token).await;
            if body["active"] == false || past_deadline {
                return body;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// `POST /revoke` as `caller`.
    pub async fn revoke(&self, caller: &TestClient, token: &str) -> reqwest::Response {
        self.post_client_form("/revoke", caller, &[("token", token)])
            .await
    }

    /// POST a form to `path` authenticated as `client` (Basic, or `client_id` for public clients).
    pub async fn post_client_form(
        &self,
        path: &str,
        client: &TestClient,
        form: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self.http.post(format!("{}{path}", self.address));
        let mut form: Vec<(&str, &str)> = form.to_vec();
        match &client.secret {
            Some(secret) => request = request.basic_auth(&client.client_id, Some(secret)),
            None => form.push(("client_id", &client.client_id)),
        }
        request.form(&form).send().await.unwrap()
    }

    /// The status of `GET /userinfo` with `token`.
    pub async fn userinfo_status(&self, token: &str) -> u16 {
        self.http
            .get(format!("{}/userinfo", self.address))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

/// A string field of a JSON value.
pub fn text(value: &serde_json::Value, field: &str) -> String {
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {value}"))
        .to_owned()
}

/// The `Location` of a redirect.
pub fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_owned()
}

impl TestApp {
    /// One `client_credentials` access token for `client`.
    pub async fn service_token(&self, client: &TestClient) -> String {
        let body: serde_json::Value = self
            .client_credentials(client, None)
            .await
            .json()
            .await
            .unwrap();
        text(&body, "access_token")
    }

    /// A public client (auth method `none`, PKCE required) for `openid`.
    pub async fn public_client(&self) -> TestClient {
        self.register_client(latchkey::domain::client::ClientSpec {
            client_name: "SPA".into(),
            redirect_uris: vec!["http://127.0.0.1/cb".into()],
            scope: "openid".into(),
            auth_method: "none".into(),
            ..Default::default()
        })
        .await
    }

    /// `n` copies of one `POST /token` sent at once from separate tasks; each status and JSON body.
    pub async fn post_token_concurrently(
        &self,
        client: &TestClient,
        form: &[(&str, &str)],
        n: usize,
    ) -> Vec<(u16, serde_json::Value)> {
        let form: Vec<(String, String)> = form
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let mut attempts = Vec::with_capacity(n);
        for _ in 0..n {
            let http = self.http.clone();
            let url = format!("{}/token", self.address);
            let (id, secret, form) = (
                client.client_id.clone(),
                client.secret.clone(),
                form.clone(),
            );
            attempts.push(tokio::spawn(async move {
                let response = http
                    .post(url)
                    .basic_auth(id, secret)
                    .form(&form)
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                (status, response.json::<serde_json::Value>().await.unwrap())
            }));
        }
        let mut results = Vec::with_capacity(n);
        for attempt in attempts {
            results.push(attempt.await.unwrap());
        }
        results
    }
}

/// The `name=value` of the session cookie a response sets.
pub fn session_cookie(response: &reqwest::Response) -> String {
    set_cookie(response, "latchkey_session")
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// The whole `Set-Cookie` header of a response for the cookie `name`.
pub fn set_cookie(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|value| value.to_str().unwrap().to_owned())
        .find(|value| value.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie set: {:?}", response.headers()))
}
