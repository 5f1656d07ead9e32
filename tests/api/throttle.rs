//! The sign-in throttle: attempts are reserved in the store before the password is checked, so the
//! limits hold under concurrency, across instances, and for attempts refused as busy.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use latchkey::clock::Clock;
use latchkey::oauth::throttle::{
    self, Admission, MAX_ATTEMPTS_PER_USERNAME, MAX_ATTEMPTS_PER_USERNAME_AND_NETWORK,
};
use latchkey::password_pool::PasswordSlots;

use crate::helpers::{Backend, PASSWORD, TestApp, hidden_value};

crate::backend_tests!(
    thirty_concurrent_wrong_passwords_are_verified_at_most_up_to_the_limit,
    two_instances_behind_one_issuer_share_the_counters,
    another_network_is_not_locked_out_until_the_username_limit,
    attempts_refused_as_busy_count_too,
    a_successful_sign_in_forgives_earlier_typing_errors,
);

const WRONG: &str = "Incorrect username or password.";
const LIMIT: usize = MAX_ATTEMPTS_PER_USERNAME_AND_NETWORK as usize;

/// `n` browsers, each with its own session cookie and the CSRF token of its login page.
async fn login_forms(app: &TestApp, n: usize) -> Vec<(reqwest::Client, String)> {
    let mut browsers = Vec::with_capacity(n);
    for _ in 0..n {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap();
        let page = http.get(format!("{}/login", app.address)).send().await;
        let csrf = hidden_value(&page.unwrap().text().await.unwrap(), "csrf_token");
        browsers.push((http, csrf));
    }
    browsers
}

/// Submit every browser's login form at once; each answer's status, `Retry-After` and body.
async fn post_logins_concurrently(
    app: &TestApp,
    browsers: Vec<(reqwest::Client, String)>,
    username: &str,
    password: &str,
) -> Vec<(u16, Option<String>, String)> {
    let mut tasks = tokio::task::JoinSet::new();
    for (http, csrf) in browsers {
        let url = format!("{}/login", app.address);
        let form = [
            ("csrf_token", csrf),
            ("username", username.to_owned()),
            ("password", password.to_owned()),
        ];
        tasks.spawn(async move {
            let response = http.post(url).form(&form).send().await.unwrap();
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            (
                response.status().as_u16(),
                retry_after,
                response.text().await.unwrap(),
            )
        });
    }
    tasks.join_all().await
}

async fn thirty_concurrent_wrong_passwords_are_verified_at_most_up_to_the_limit(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    app.create_user("ivy").await;
    let browsers = login_forms(&app, 30).await;
    let answers = post_logins_concurrently(&app, browsers, "ivy", "wrong password").await;
    let verified = answers
        .iter()
        .filter(|(status, _, body)| *status == 200 && body.contains(WRONG))
        .count();
    let refused = answers
        .iter()
        .filter(|(status, retry_after, _)| *status == 429 && retry_after.is_some())
        .count();
    assert_eq!(
        verified, LIMIT,
        "OWASP ASVS 2.2.1: only the limit's worth of passwords is checked"
    );
    assert_eq!(refused, 30 - LIMIT, "the rest are refused with Retry-After");
}

async fn two_instances_behind_one_issuer_share_the_counters(backend: Backend) {
    let first = TestApp::spawn(&backend).await;
    let second = first.spawn_sibling().await;
    second.clock.set(first.clock.now());
    first.create_user("jack").await;
    for n in 0..LIMIT {
        let app = if n % 2 == 0 { &first } else { &second };
        let response = app.post_login("jack", "wrong password").await;
        assert_eq!(response.status(), 200);
        assert!(response.text().await.unwrap().contains(WRONG));
    }
    for app in [&first, &second] {
        let locked = app.post_login("jack", PASSWORD).await;
        assert_eq!(
            locked.status(),
            429,
            "failures on either instance count on both"
        );
        assert!(locked.headers().contains_key("retry-after"));
    }
}

async fn another_network_is_not_locked_out_until_the_username_limit(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    app.create_user("kate").await;
    for _ in 0..LIMIT {
        assert_eq!(app.post_login("kate", "wrong password").await.status(), 200);
    }
    assert_eq!(app.post_login("kate", PASSWORD).await.status(), 429);

    // The HTTP tests all come from 127.0.0.1; other networks go through the throttle directly.
    let store = app.state.store.as_ref();
    let now = app.clock.now();
    let admitted = |address: String| async move {
        let address = address.parse().unwrap();
        matches!(
            throttle::admit(store, "kate", address, now).await.unwrap(),
            Admission::Admitted(_)
        )
    };
    let mut networks = 0;
    let mut spent = LIMIT;
    while spent < MAX_ATTEMPTS_PER_USERNAME as usize {
        // A whole IPv6 /64 is one network: its addresses share one allowance.
        let prefix = format!("2001:db8:0:{networks:x}");
        for host in 0..LIMIT {
            if spent < MAX_ATTEMPTS_PER_USERNAME as usize {
                assert!(
                    admitted(format!("{prefix}::{host:x}")).await,
                    "network {networks} is not locked out by the others (attempt {spent})"
                );
                spent += 1;
            }
        }
        networks += 1;
    }
    assert_eq!(
        networks,
        (MAX_ATTEMPTS_PER_USERNAME as usize - LIMIT).div_ceil(LIMIT),
        "each other network got its own full allowance"
    );
    assert!(
        !admitted("203.0.113.9".to_owned()).await,
        "past the per-username limit, every network waits"
    );
    app.clock.advance(throttle::WINDOW);
    assert_eq!(app.post_login("kate", PASSWORD).await.status(), 200);
}

/// Fill the password pool with jobs that wait until the returned sender is dropped: every worker
/// holding one, and the queue full. (A submitted job stays queued when its future is dropped.)
async fn fill(slots: &PasswordSlots) -> std::sync::mpsc::Sender<()> {
    let (release, held) = std::sync::mpsc::channel::<()>();
    let held = Arc::new(Mutex::new(held));
    let (started, mut running) = tokio::sync::mpsc::unbounded_channel::<()>();
    let submit_until_busy = || {
        for _ in 0..100_000 {
            let (held, started) = (Arc::clone(&held), started.clone());
            let mut job = std::pin::pin!(slots.run(move || {
                let _ = started.send(());
                let _ = held.lock().map(|rx| rx.recv());
            }));
            // One poll makes the submission; the pool is full when it answers `Busy` at once.
            if let Poll::Ready(Err(_)) = job.as_mut().poll(&mut Context::from_waker(Waker::noop()))
            {
                return;
            }
        }
        panic!("the password pool never filled up");
    };
    submit_until_busy();
    // The pool has one worker per CPU (as `AppState::build` makes it); once each has taken a job,
    // nothing leaves the queue until the release, so filling it again makes it stay full.
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    for _ in 0..workers {
        running.recv().await.unwrap();
    }
    submit_until_busy();
    release
}

async fn attempts_refused_as_busy_count_too(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    app.create_user("liam").await;
    let release = fill(&app.state.passwords).await;
    for _ in 0..LIMIT {
        let busy = app.post_login("liam", "wrong password").await;
        assert_eq!(busy.status(), 503);
        assert!(busy.headers().contains_key("retry-after"));
    }
    drop(release);
    let locked = app.post_login("liam", PASSWORD).await;
    assert_eq!(
        locked.status(),
        429,
        "attempts refused as busy are no way around the limit"
    );
    assert!(locked.headers().contains_key("retry-after"));
}

async fn a_successful_sign_in_forgives_earlier_typing_errors(backend: Backend) {
    let app = TestApp::spawn(&backend).await;
    app.create_user("mia").await;
    for _ in 0..LIMIT - 1 {
        assert_eq!(app.post_login("mia", "typo").await.status(), 200);
    }
    let signed_in = app.post_login("mia", PASSWORD).await;
    assert!(signed_in.text().await.unwrap().contains("Signed in"));
    for _ in 0..LIMIT {
        let response = app.post_login("mia", "typo").await;
        assert!(response.text().await.unwrap().contains(WRONG));
    }
    assert_eq!(app.post_login("mia", PASSWORD).await.status(), 429);
}
