//! `GET/POST /login`: the sign-in page. Plain HTML form, CSRF token, argon2id off the async runtime,
//! the same answer (and cost) for an unknown user as for a wrong password, and failed attempts
//! throttled per username and per client address.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;

use askama::Template;
use axum::extract::{ConnectInfo, Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use secrecy::SecretString;
use serde::Deserialize;

use super::authorize::{PendingAuthorization, resume};
use super::page::{MessagePage, render};
use super::session::{BrowserSession, SignedIn};
use crate::app::AppState;
use crate::domain::password::verify_password;
use crate::domain::user::normalize_username;
use crate::error::PageError;

/// Failed sign-ins allowed per username within [`WINDOW`] before further attempts are refused.
pub const MAX_FAILURES_PER_USERNAME: u32 = 5;
/// Failed sign-ins allowed per client address within [`WINDOW`].
pub const MAX_FAILURES_PER_ADDRESS: u32 = 20;
/// The throttling window, in seconds.
pub const WINDOW: i64 = 15 * 60;
const MAX_TRACKED: usize = 100_000;

/// Counts failed sign-ins per username and per address, in memory, per instance.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, (u32, i64)>>,
}

impl LoginThrottle {
    fn keys(username: &str, address: IpAddr) -> [(String, u32); 2] {
        [
            (format!("user:{username}"), MAX_FAILURES_PER_USERNAME),
            (format!("addr:{address}"), MAX_FAILURES_PER_ADDRESS),
        ]
    }

    /// Seconds until another attempt is allowed, if the username or address is locked out.
    pub fn locked_for(&self, username: &str, address: IpAddr, now: i64) -> Option<i64> {
        let failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        Self::keys(username, address)
            .iter()
            .filter_map(|(key, max)| {
                let (count, since) = failures.get(key)?;
                (*count >= *max && now - since < WINDOW).then(|| WINDOW - (now - since))
            })
            .max()
    }

    /// Count a failed attempt.
    pub fn record_failure(&self, username: &str, address: IpAddr, now: i64) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if failures.len() >= MAX_TRACKED {
            failures.retain(|_, (_, since)| now - *since < WINDOW);
        }
        for (key, _) in Self::keys(username, address) {
            let entry = failures.entry(key).or_insert((0, now));
            if now - entry.1 >= WINDOW {
                *entry = (0, now);
            }
            entry.0 += 1;
        }
    }

    /// Forget a username's failures after a successful sign-in.
    pub fn record_success(&self, username: &str) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.remove(&format!("user:{username}"));
    }
}

/// Argon2id verifications run on a fixed pool of one thread per CPU, never on the async runtime.
/// A fixed pool also bounds memory: each verification takes 19 MiB, and the allocator keeps freed
/// memory per thread, so a growing thread pool would keep growing the process. When the queue in
/// front of the pool is full, new sign-ins get 503 + `Retry-After` instead of piling up.
#[derive(Debug)]
pub struct PasswordSlots {
    jobs: std::sync::mpsc::SyncSender<Job>,
}

type Job = Box<dyn FnOnce() + Send>;

/// Every password slot is taken and the queue is full.
#[derive(Debug)]
pub struct Busy;

impl Busy {
    /// The page answered: 503 with `Retry-After`.
    pub fn into_page(self) -> PageError {
        PageError {
            retry_after: Some(1),
            ..PageError::unavailable()
        }
    }
}

impl PasswordSlots {
    /// `cpus` worker threads, and up to `cpus * 16` verifications waiting.
    pub fn new(cpus: usize) -> Self {
        let cpus = cpus.max(1);
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(cpus * 16);
        let queue = std::sync::Arc::new(Mutex::new(queue));
        for n in 0..cpus {
            let queue = std::sync::Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job, not while running it.
                        let next = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                        match next {
                            Ok(job) => job(),
                            Err(_) => return, // the application was dropped
                        }
                    }
                });
            if let Err(err) = spawned {
                tracing::error!(error = %err, "cannot start a password-hashing thread");
            }
        }
        Self { jobs }
    }

    /// Run CPU-heavy `work` on the pool; `Busy` when the queue is full.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        self.jobs
            .try_send(Box::new(move || {
                let _ = reply.send(work());
            }))
            .map_err(|_| Busy)?;
        answer.await.map_err(|_| Busy)
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage<'a> {
    client_name: Option<&'a str>,
    error: Option<&'a str>,
    username: &'a str,
    csrf_token: &'a str,
}

async fn show(
    state: &AppState,
    session: &BrowserSession,
    status: StatusCode,
    username: &str,
    error: Option<&str>,
) -> Result<Response, PageError> {
    let pending: Option<PendingAuthorization> = session.pending().await?;
    let client = match &pending {
        Some(p) => state.store.find_client(&p.client_id).await?,
        None => None,
    };
    let hint = pending
        .as_ref()
        .and_then(|p| p.login_hint.as_deref())
        .unwrap_or_default();
    let page = LoginPage {
        client_name: client.as_ref().map(|c| c.client_name.as_str()),
        error,
        username: if username.is_empty() { hint } else { username },
        csrf_token: &session.csrf_token().await?,
    };
    Ok(render(status, &page))
}

/// `GET /login`.
pub async fn login_page(State(state): State<AppState>, session: BrowserSession) -> Response {
    show(&state, &session, StatusCode::OK, "", None)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

/// The login form.
#[derive(Deserialize)]
pub struct LoginForm {
    csrf_token: Option<String>,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
}

/// `POST /login`.
pub async fn login_submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: BrowserSession,
    Form(form): Form<LoginForm>,
) -> Response {
    sign_in(&state, &session, peer.ip(), form)
        .await
        .unwrap_or_else(IntoResponse::into_response)
}

const WRONG: &str = "Incorrect username or password.";

async fn sign_in(
    state: &AppState,
    session: &BrowserSession,
    address: IpAddr,
    form: LoginForm,
) -> Result<Response, PageError> {
    session.check_csrf(form.csrf_token.as_deref()).await?;
    let now = state.clock.now();
    let username = normalize_username(&form.username).unwrap_or_default();
    if let Some(wait) = state.login_throttle.locked_for(&username, address, now) {
        let minutes = (wait + 59) / 60;
        return Err(PageError::too_many(
            format!("Too many failed sign-in attempts. Try again in {minutes} minute(s)."),
            u64::try_from(wait).unwrap_or(60),
        ));
    }
    let user = if username.is_empty() {
        None
    } else {
        state.store.find_user_by_username(&username).await?
    };
    let password = SecretString::from(form.password);
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let verified = state
        .passwords
        .run(move || verify_password(&password, stored.as_deref()))
        .await
        .map_err(|busy| busy.into_page())?;
    let user = match user {
        Some(user) if verified => user,
        _ => {
            state.login_throttle.record_failure(&username, address, now);
            return show(state, session, StatusCode::OK, &form.username, Some(WRONG)).await;
        }
    };
    if user.disabled {
        return show(
            state,
            session,
            StatusCode::OK,
            &form.username,
            Some("This account is disabled."),
        )
        .await;
    }
    state.login_throttle.record_success(&username);
    tracing::info!(user_id = %user.user_id, "user signed in");
    session
        .sign_in(
            SignedIn {
                user_id: user.user_id.to_string(),
                auth_time: now,
            },
            state.settings.lifetimes.session,
        )
        .await?;
    match session.pending::<PendingAuthorization>().await? {
        Some(mut pending) => {
            pending.authenticated = true;
            Ok(resume(state, session, pending).await?.into_response(state))
        }
        None => Ok(render(
            StatusCode::OK,
            &MessagePage {
                title: "Signed in",
                message: "You are signed in to Latchkey. You can close this page.",
            },
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_password_queue_answers_busy_instead_of_piling_up() {
        let slots = std::sync::Arc::new(PasswordSlots::new(1));
        // Hold the only worker until released, so every further job waits in the queue.
        let (release, held) = std::sync::mpsc::channel::<()>();
        let held = std::sync::Arc::new(Mutex::new(held));
        let first = {
            let (slots, held) = (std::sync::Arc::clone(&slots), std::sync::Arc::clone(&held));
            tokio::spawn(async move {
                slots
                    .run(move || {
                        let _ = held.lock().map(|rx| rx.recv());
                    })
                    .await
            })
        };
        tokio::task::yield_now().await;
        let mut queued = Vec::new();
        let mut busy = 0;
        for _ in 0..40 {
            let slots = std::sync::Arc::clone(&slots);
            let job = tokio::spawn(async move { slots.run(|| 1).await });
            queued.push(job);
        }
        // On this single-threaded test runtime, yielding once runs every spawned submission up to its
        // `try_send` while the worker is still held: 16 fit in the queue, the rest are refused.
        tokio::task::yield_now().await;
        drop(release);
        let _ = first.await;
        for job in queued {
            if job.await.unwrap().is_err() {
                busy += 1;
            }
        }
        // One running, up to 16 waiting: at least 40 - 17 submissions were refused at once.
        assert!(busy >= 23, "{busy} refused");
        assert!(
            matches!(slots.run(|| 2).await, Ok(2)),
            "the pool works again afterwards"
        );
    }
}
