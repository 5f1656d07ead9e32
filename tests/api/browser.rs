//! Real-browser test support: headless Chromium driven through Debian's chromedriver, and a loopback
//! redirect target for the browser to land on.

use std::fs::File;
use std::io::Write;
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Form, Router};
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde::Deserialize;
use tokio::task::JoinHandle;
use url::Url;

/// Debian's Chromium launcher (package `chromium`).
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Debian's chromedriver (package `chromium-driver`).
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long chromedriver may take to answer `/status` after it is started.
const DRIVER_READY_WITHIN: Duration = Duration::from_secs(20);
/// How long a page load, or the wait for an element to appear, may take.
const PAGE_WITHIN: Duration = Duration::from_secs(20);
/// How often bounded polls look again.
const POLL_EVERY: Duration = Duration::from_millis(50);
/// Starting chromedriver is retried this often when another process grabbed its port first.
const DRIVER_START_ATTEMPTS: usize = 3;

/// The Chromium flags every test browser gets. Each one is here for a reason:
/// `--no-sandbox` because tests run as root in containers without user namespaces; `--disable-dev-shm-usage`
/// because a small `/dev/shm` crashes tabs; the `--disable-*` network flags keep Chromium from
/// phoning home (no network but loopback is reachable, and those attempts only slow it down).
const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1024,768",
];

/// A headless Chromium behind its own chromedriver; both are killed when this is dropped.
pub struct Browser {
    client: Client,
    // Fields drop in order: the processes die before their profile folder is removed.
    _driver: Driver,
    _dir: tempfile::TempDir,
}

impl Browser {
    /// Start chromedriver on a free loopback port and open a browser session with a fresh profile.
    ///
    /// Returns `None` (announced once on the real stderr) when Chromium or chromedriver is not
    /// installed, except under `CI=true`, where a missing browser fails the test.
    pub async fn start() -> Option<Self> {
        Self::start_with(&[]).await
    }

    /// [`Self::start`], with `extra_args` for Chromium besides [`CHROMIUM_ARGS`].
    pub async fn start_with(extra_args: &[String]) -> Option<Self> {
        let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
            .into_iter()
            .filter(|path| !Path::new(path).exists())
            .collect();
        if !missing.is_empty() {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "CI=true but {} missing: install Debian's chromium and chromium-driver (see .ci/run)",
                    missing.join(" and ")
                );
            }
            static NOTICE: Once = Once::new();
            NOTICE.call_once(|| {
                // Written to the real stderr (not the captured one) so the skip is visible.
                let _ = std::io::stderr().write_all(
                    format!(
                        "\nnote: {} not found: the real-browser tests are skipped (they pass vacuously); \
                         apt-get install chromium chromium-driver to run them\n",
                        missing.join(" and ")
                    )
                    .as_bytes(),
                );
            });
            return None;
        }

        // `dir` holds the `--user-data-dir` and chromedriver's log.
        let dir = tempfile::tempdir().unwrap();
        let driver = Driver::start(dir.path()).await;
        let client = connect(
            &driver.url,
            &dir.path().join("profile"),
            dir.path(),
            extra_args,
        )
        .await;
        client
            .update_timeouts(TimeoutConfiguration::new(
                Some(PAGE_WITHIN),
                Some(PAGE_WITHIN),
                Some(Duration::ZERO),
            ))
            .await
            .unwrap();
        Some(Self {
            client,
            _driver: driver,
            _dir: dir,
        })
    }

    /// Navigate to `url` and wait for it to load.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("navigating to {url}: {e}"));
    }

    /// Type `text` into the (cleared) element matching the CSS selector `css`.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        element
            .clear()
            .await
            .unwrap_or_else(|e| panic!("clearing {css}: {e}"));
        element
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("typing into {css}: {e}"));
    }

    /// Click the element matching the CSS selector `css`.
    pub async fn click(&self, css: &str) {
        self.find(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    /// The URL the browser is on now.
    pub async fn current_url(&self) -> Url {
        self.client.current_url().await.unwrap()
    }

    /// Poll the current URL until `predicate` accepts it, for at most `timeout`; return that URL.
    pub async fn wait_for_url(&self, predicate: impl Fn(&Url) -> bool, timeout: Duration) -> Url {
        let deadline = Instant::now() + timeout;
        loop {
            let url = self.current_url().await;
            if predicate(&url) {
                return url;
            }
            if Instant::now() >= deadline {
                panic!(
                    "the browser did not reach the expected URL within {timeout:?}; it is on {url}\n{}",
                    self.page_source().await
                );
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// Poll the page until its HTML contains `needle`, for at most `timeout`; return that HTML. For
    /// a form answered at the same URL, where waiting for the URL cannot tell the pages apart.
    pub async fn wait_for_text(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let html = self.page_source().await;
            if html.contains(needle) {
                return html;
            }
            if Instant::now() >= deadline {
                panic!("the page did not show {needle:?} within {timeout:?}:\n{html}");
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    }

    /// Save a PNG screenshot of the viewport to `path`, creating its folder.
    pub async fn screenshot(&self, path: impl AsRef<Path>) {
        let path = path.as_ref();
        let png = self.client.screenshot().await.unwrap();
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(path, png).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }

    /// The current page's HTML as the browser sees it.
    pub async fn page_source(&self) -> String {
        self.client.source().await.unwrap()
    }

    /// Add a WebDriver virtual authenticator (WebAuthn Level 3 §11.3) to this browser: a CTAP2
    /// platform authenticator that keeps discoverable credentials and verifies the user (as a
    /// fingerprint would) without asking anyone. Its id.
    pub async fn add_virtual_authenticator(&self) -> String {
        let added = self
            .client
            .issue_cmd(WebAuthnCommand {
                path: "authenticator".into(),
                method: Method::POST,
                body: Some(serde_json::json!({
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserVerified": true,
                    "automaticPresenceSimulation": true,
                })),
            })
            .await
            .unwrap_or_else(|e| panic!("adding a virtual authenticator: {e}"));
        added.as_str().expect("an authenticator id").to_owned()
    }

    /// The credentials the virtual authenticator `id` holds (WebAuthn Level 3 §11.8).
    pub async fn virtual_credentials(&self, id: &str) -> Vec<serde_json::Value> {
        let held = self
            .client
            .issue_cmd(WebAuthnCommand {
                path: format!("authenticator/{id}/credentials"),
                method: Method::GET,
                body: None,
            })
            .await
            .unwrap_or_else(|e| panic!("reading the virtual authenticator's credentials: {e}"));
        held.as_array().cloned().unwrap_or_default()
    }

    /// Run `script` (asynchronous WebDriver script: it calls `arguments[arguments.length - 1]`
    /// with its result) in the page, with `args`.
    pub async fn run_async(&self, script: &str, args: Vec<serde_json::Value>) -> serde_json::Value {
        self.client
            .execute_async(script, args)
            .await
            .unwrap_or_else(|e| panic!("running a script: {e}"))
    }

    /// End the WebDriver session cleanly (closing Chromium), then stop chromedriver.
    pub async fn close(self) {
        let _ = self.client.close().await;
    }

    /// The element matching `css`, waiting (bounded) for it to appear.
    async fn find(&self, css: &str) -> fantoccini::elements::Element {
        match self
            .client
            .wait()
            .at_most(PAGE_WITHIN)
            .every(POLL_EVERY)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => panic!(
                "no element matches {css} on {}: {e}\n{}",
                self.current_url().await,
                self.page_source().await
            ),
        }
    }
}

/// A running chromedriver, leading its own process group; the whole group is killed on drop.
struct Driver {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    url: String,
}

impl Driver {
    /// Start chromedriver on a free loopback port, logging to `dir`, and wait until it is ready.
    async fn start(dir: &Path) -> Self {
        let log_path = dir.join("chromedriver.log");
        for _ in 0..DRIVER_START_ATTEMPTS {
            // Another process may take the port between this probe and chromedriver's bind;
            // chromedriver then exits, and we try a new port.
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let log = File::create(&log_path).unwrap();
            let child = Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                // Chromium's crash handler keeps its database under the XDG config folder, not the
                // profile: point it into the temporary folder so a test writes nothing to $HOME.
                .env("XDG_CONFIG_HOME", dir.join("config"))
                .env("XDG_CACHE_HOME", dir.join("cache"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .process_group(0)
                .spawn()
                .unwrap_or_else(|e| panic!("starting {CHROMEDRIVER}: {e}"));
            let mut driver = Self {
                child,
                url: format!("http://127.0.0.1:{port}"),
            };
            if driver.wait_until_ready().await {
                return driver;
            }
        }
        panic!(
            "chromedriver would not start in {DRIVER_START_ATTEMPTS} attempts:\n{}",
            std::fs::read_to_string(&log_path).unwrap_or_default()
        );
    }

    /// Poll `GET /status` until it reports `ready` (true), or until chromedriver exits (false);
    /// for at most [`DRIVER_READY_WITHIN`].
    async fn wait_until_ready(&mut self) -> bool {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let deadline = Instant::now() + DRIVER_READY_WITHIN;
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            if let Ok(response) = http.get(format!("{}/status", self.url)).send().await
                && let Ok(status) = response.json::<serde_json::Value>().await
                && status["value"]["ready"] == true
            {
                return true;
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
        panic!(
            "chromedriver at {} was not ready within {DRIVER_READY_WITHIN:?}",
            self.url
        );
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Chromium and its helpers inherit chromedriver's process group: killing the group (by the
        // id of the child we started) leaves no orphaned renderer behind, even when a test panics
        // before `Browser::close`.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Open a WebDriver session on Chromium with a fresh profile in `profile`.
async fn connect(webdriver_url: &str, profile: &Path, dir: &Path, extra_args: &[String]) -> Client {
    let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| (*a).to_owned()).collect();
    args.extend_from_slice(extra_args);
    args.push(format!("--user-data-dir={}", profile.display()));
    let mut capabilities = fantoccini::wd::Capabilities::new();
    capabilities.insert("browserName".into(), "chrome".into());
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "binary": CHROMIUM, "args": args }),
    );
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(webdriver_url)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "opening a Chromium session: {e}\nchromedriver log:\n{}",
                std::fs::read_to_string(dir.join("chromedriver.log")).unwrap_or_default()
            )
        })
}

/// A loopback page for a browser to be redirected to: it answers every `GET` with 200 "signed in"
/// and remembers the path and query of each (but the browser's own `/favicon.ico`), so a test can
/// read `code` and `state`.
pub struct RedirectCatcher {
    base_url: String,
    requests: Arc<Mutex<Vec<String>>>,
    server: JoinHandle<()>,
}

impl RedirectCatcher {
    /// Serve on `127.0.0.1:0`.
    pub async fn start() -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let router = Router::new()
            .fallback(catch)
            .with_state(Arc::clone(&requests));
        let (base_url, server) = serve(router).await;
        Self {
            base_url,
            requests,
            server,
        }
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A redirect URI on this catcher (`{base_url}/callback`), to register for a client.
    pub fn redirect_uri(&self) -> String {
        format!("{}/callback", self.base_url)
    }

    /// The path and query of every `GET` received so far, oldest first.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for RedirectCatcher {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn catch(
    State(requests): State<Arc<Mutex<Vec<String>>>>,
    method: Method,
    uri: Uri,
) -> Response {
    if method != Method::GET {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    // Chromium asks for a favicon on its own after landing; that is not a redirect to record.
    if uri.path() == "/favicon.ico" {
        return StatusCode::NOT_FOUND.into_response();
    }
    let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
    requests.lock().unwrap().push(target.to_owned());
    Html("<!doctype html><title>Signed in</title><h1>signed in</h1>").into_response()
}

/// Serve `router` on `127.0.0.1:0` in the background; its base URL and task.
async fn serve(router: Router) -> (String, JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (base_url, server)
}

// --- Self-test: the harness against a stand-in login page with the same ids as Latchkey's ---------

const STAND_IN_LOGIN_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Sign in (stand-in)</title>
<style>
  body { font-family: sans-serif; background: #f3f4f6; display: grid; place-items: center; height: 100vh; margin: 0; }
  form { background: #fff; padding: 2rem; border-radius: 8px; box-shadow: 0 2px 8px #0002; width: 20rem; }
  label { display: block; margin-top: 1rem; }
  input { width: 100%; padding: .5rem; box-sizing: border-box; }
  button { margin-top: 1.5rem; width: 100%; padding: .6rem; background: #2563eb; color: #fff; border: 0; border-radius: 4px; }
</style></head>
<body>
<form method="post" action="/login">
  <h1>Sign in</h1>
  <input type="hidden" name="csrf_token" value="stand-in-csrf">
  <label for="username">Username</label>
  <input id="username" name="username" autocomplete="username">
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password">
  <button type="submit" id="sign-in">Sign in</button>
</form>
</body>
</html>"#;

#[derive(Deserialize)]
struct StandInLogin {
    username: String,
    password: String,
    csrf_token: String,
}

/// Accepts only alice / correct horse with the page's CSRF token, then 303s to the redirect target.
async fn stand_in_login(
    State(redirect_uri): State<Arc<String>>,
    Form(login): Form<StandInLogin>,
) -> Response {
    if login.username == "alice"
        && login.password == "correct horse"
        && login.csrf_token == "stand-in-csrf"
    {
        Redirect::to(&format!("{redirect_uri}?code=abc&state=xyz")).into_response()
    } else {
        (StatusCode::UNAUTHORIZED, "wrong credentials or csrf_token").into_response()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_types_into_a_login_form_clicks_sign_in_and_lands_on_the_redirect_target() {
    let Some(browser) = Browser::start().await else {
        return;
    };
    let catcher = RedirectCatcher::start().await;
    let (site, _server) = serve(
        Router::new()
            .route(
                "/login",
                get(|| async { Html(STAND_IN_LOGIN_PAGE) }).post(stand_in_login),
            )
            .with_state(Arc::new(catcher.redirect_uri())),
    )
    .await;

    browser.goto(&format!("{site}/login")).await;
    browser.fill("#username", "alice").await;
    browser.fill("#password", "correct horse").await;
    browser
        .screenshot(Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-selftest.png"))
        .await;
    browser.click("#sign-in").await;

    let landed = browser
        .wait_for_url(
            |url| url.as_str().starts_with(catcher.base_url()),
            Duration::from_secs(10),
        )
        .await;
    let query: std::collections::HashMap<_, _> = landed.query_pairs().into_owned().collect();
    assert_eq!(landed.path(), "/callback");
    assert_eq!(query.get("code").map(String::as_str), Some("abc"));
    assert_eq!(query.get("state").map(String::as_str), Some("xyz"));
    assert_eq!(browser.current_url().await, landed);
    assert!(browser.page_source().await.contains("signed in"));
    assert_eq!(catcher.requests(), ["/callback?code=abc&state=xyz"]);
    browser.close().await;
}

/// A command of the WebAuthn WebDriver extension (WebAuthn Level 3 §11), which fantoccini has no
/// method for: `{method} /session/{id}/webauthn/{path}`.
#[derive(Debug)]
struct WebAuthnCommand {
    path: String,
    method: Method,
    body: Option<serde_json::Value>,
}

impl fantoccini::wd::WebDriverCompatibleCommand for WebAuthnCommand {
    fn endpoint(&self, base_url: &Url, session_id: Option<&str>) -> Result<Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/webauthn/{}", self.path))
    }

    fn method_and_body(&self, _request_url: &Url) -> (Method, Option<String>) {
        (
            self.method.clone(),
            self.body.as_ref().map(serde_json::Value::to_string),
        )
    }
}
