//! The soak's mix: the paced tasks (users, the application holding their grants, a service, a
//! resource server) and what they share; each request is recorded with its start time.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, anyhow};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::report::Op;
use crate::phases::{self, Credentials};

/// Refreshes per grant before its fate (revoked, its access token revoked, or left to expire).
const REFRESHES_PER_GRANT: u32 = 3;

/// One grant of a signed-in user, held by the "app" between refreshes.
pub(super) struct Grant {
    refresh_token: String,
    access_token: String,
    due: Instant,
    refreshes: u32,
    serial: u64,
}

/// What every task of the mix shares.
pub(super) struct Mix {
    pub(super) base: String,
    pub(super) http: reqwest::Client,
    pub(super) web: Credentials,
    pub(super) service: Credentials,
    pub(super) gateway: Credentials,
    /// Time zero of the samples.
    pub(super) start: Instant,
    /// The refresh period of a grant (one unit).
    pub(super) refresh_every: Duration,
    pub(super) stop: AtomicBool,
    pub(super) ops: Mutex<Vec<Op>>,
    pub(super) grants: Mutex<VecDeque<Grant>>,
    pub(super) serial: AtomicU64,
    pub(super) last_service_token: Mutex<Option<String>>,
}

impl Mix {
    fn record(&self, kind: &'static str, began: Instant, ok: bool) {
        let op = Op {
            kind,
            at_s: began.duration_since(self.start).as_secs_f64(),
            ms: began.elapsed().as_secs_f64() * 1000.0,
            ok,
        };
        if let Ok(mut ops) = self.ops.lock() {
            ops.push(op);
        }
    }

    pub(super) fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// `POST path` with the client's Basic authentication: the JSON body if the answer is 200.
    async fn post(
        &self,
        path: &str,
        client: &Credentials,
        form: &[(&str, &str)],
    ) -> Option<serde_json::Value> {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .basic_auth(&client.id, Some(&client.secret))
            .form(form)
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        let bytes = response.bytes().await.ok()?;
        // `/revoke` answers an empty body.
        Some(serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
    }
}

/// Wait for the next tick of a paced loop; a late loop starts again from now rather than bursting.
async fn tick(next: &mut Instant, period: Duration) {
    let now = Instant::now();
    if *next < now {
        *next = now;
    }
    tokio::time::sleep_until((*next).into()).await;
    *next += period;
}

/// `GET /authorize` for a signed-in session (PKCE, S256), then the code at `/token`: the token
/// response. As in `phases::code_flows`, with `scope` asked for.
pub async fn code_flow(
    http: &reqwest::Client,
    base: &str,
    web: &Credentials,
    redirect_uri: &str,
    scope: &str,
) -> Result<serde_json::Value> {
    let verifier = "bench-soak-code-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";
    let challenge = URL_SAFE_NO_PAD.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ));
    let mut authorize = url::Url::parse(&format!("{base}/authorize"))?;
    authorize
        .query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &web.id)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("scope", scope)
        .append_pair("state", "soak")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let response = http.get(authorize.as_str()).send().await?;
    let location = response
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .ok_or_else(|| anyhow!("/authorize did not redirect: {}", response.status()))?;
    let code = url::Url::parse(location)?
        .query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| anyhow!("no code in {location}"))?;
    let response = http
        .post(format!("{base}/token"))
        .basic_auth(&web.id, Some(&web.secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ])
        .send()
        .await?;
    let status = response.status();
    let body: serde_json::Value = response.json().await?;
    if !status.is_success() {
        return Err(anyhow!("the code was refused: {status} {body}"));
    }
    Ok(body)
}

/// A user every `period`: a new browser, the login form (one argon2id verification), then a code
/// flow asking for a refresh token; the grant goes to the "app".
pub(super) async fn users(mix: Arc<Mix>, period: Duration, offset: Duration) {
    let mut next = Instant::now() + offset;
    while !mix.stopped() {
        tick(&mut next, period).await;
        let Ok(http) = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
        else {
            continue;
        };
        let began = Instant::now();
        let signed_in = phases::sign_in(&http, &mix.base, "bench", crate::PASSWORD).await;
        mix.record("sign_in", began, signed_in);
        if !signed_in {
            continue;
        }
        let began = Instant::now();
        let flow = code_flow(&http, &mix.base, &mix.web, crate::REDIRECT_URI, "openid").await;
        let tokens = flow.ok().and_then(|body| {
            Some((
                body["refresh_token"].as_str()?.to_owned(),
                body["access_token"].as_str()?.to_owned(),
            ))
        });
        mix.record("code_flow", began, tokens.is_some());
        if let Some((refresh_token, access_token)) = tokens
            && let Ok(mut grants) = mix.grants.lock()
        {
            grants.push_back(Grant {
                refresh_token,
                access_token,
                due: Instant::now() + mix.refresh_every,
                refreshes: 0,
                serial: mix.serial.fetch_add(1, Ordering::Relaxed),
            });
        }
    }
}

/// The application holding the grants: refreshes each one every unit (rotation), and after
/// `REFRESHES_PER_GRANT` refreshes revokes it (`/revoke` of the refresh token: the whole grant),
/// revokes its access token only, or leaves it to expire, a third each.
pub(super) async fn app(mix: Arc<Mix>) {
    while !mix.stopped() {
        let grant = mix.grants.lock().ok().and_then(|mut grants| {
            if grants.front().is_some_and(|g| g.due <= Instant::now()) {
                grants.pop_front()
            } else {
                None
            }
        });
        let Some(mut grant) = grant else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        let began = Instant::now();
        if grant.refreshes < REFRESHES_PER_GRANT {
            let body = mix
                .post(
                    "/token",
                    &mix.web,
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", grant.refresh_token.as_str()),
                    ],
                )
                .await;
            let rotated = body.as_ref().and_then(|body| {
                Some((
                    body["refresh_token"].as_str()?.to_owned(),
                    body["access_token"].as_str()?.to_owned(),
                ))
            });
            mix.record("refresh", began, rotated.is_some());
            if let Some((refresh_token, access_token)) = rotated
                && let Ok(mut grants) = mix.grants.lock()
            {
                grant.refresh_token = refresh_token;
                grant.access_token = access_token;
                grant.refreshes += 1;
                grant.due = Instant::now() + mix.refresh_every;
                grants.push_back(grant);
            }
            continue;
        }
        let (kind, token) = match grant.serial % 3 {
            0 => ("revoke_grant", grant.refresh_token),
            1 => ("revoke_access_token", grant.access_token),
            _ => continue,
        };
        let ok = mix
            .post("/revoke", &mix.web, &[("token", token.as_str())])
            .await
            .is_some();
        mix.record(kind, began, ok);
    }
}

/// The token probe: `client_credentials` every `period`; every 20th token is revoked.
pub(super) async fn service(mix: Arc<Mix>, period: Duration) {
    let mut next = Instant::now();
    let mut issued = 0u64;
    while !mix.stopped() {
        tick(&mut next, period).await;
        let began = Instant::now();
        let token = mix
            .post(
                "/token",
                &mix.service,
                &[("grant_type", "client_credentials")],
            )
            .await
            .and_then(|body| body["access_token"].as_str().map(str::to_owned));
        mix.record("client_credentials", began, token.is_some());
        let Some(token) = token else { continue };
        issued += 1;
        if issued.is_multiple_of(20) {
            let began = Instant::now();
            let ok = mix
                .post("/revoke", &mix.service, &[("token", token.as_str())])
                .await
                .is_some();
            mix.record("revoke_client_token", began, ok);
        } else if let Ok(mut last) = mix.last_service_token.lock() {
            *last = Some(token);
        }
    }
}

/// A resource server introspecting the latest service token every `period`.
pub(super) async fn gateway(mix: Arc<Mix>, period: Duration) {
    let mut next = Instant::now() + period / 2;
    while !mix.stopped() {
        tick(&mut next, period).await;
        let token = mix.last_service_token.lock().ok().and_then(|t| t.clone());
        let Some(token) = token else { continue };
        let began = Instant::now();
        let ok = mix
            .post("/introspect", &mix.gateway, &[("token", token.as_str())])
            .await
            .is_some_and(|body| body["active"].is_boolean());
        mix.record("introspection", began, ok);
    }
}
