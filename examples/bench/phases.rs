//! The measured phases, each bounded in time with a fixed number of workers.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Result, anyhow};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::load::{Measured, run};
use crate::protection::DpopKey;

/// Phase timing and concurrency.
#[derive(Clone, Copy)]
pub struct Shape {
    /// Workers (connections) per phase.
    pub workers: usize,
    /// Warm-up before measuring.
    pub warmup: Duration,
    /// Measured time.
    pub duration: Duration,
}

/// A registered confidential client.
#[derive(Clone)]
pub struct Credentials {
    /// Its id.
    pub id: String,
    /// Its secret.
    pub secret: String,
}

fn client() -> Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(256)
        .build()?)
}

/// `GET path` as fast as possible.
pub async fn get(base: &str, path: &str, shape: Shape) -> Result<Measured> {
    let http = client()?;
    let url = Arc::new(format!("{base}{path}"));
    Ok(run(
        shape.workers,
        shape.warmup,
        shape.duration,
        None,
        move |_| {
            let (http, url) = (http.clone(), Arc::clone(&url));
            async move {
                match http.get(url.as_str()).send().await {
                    Ok(response) => {
                        response.status().is_success() && response.bytes().await.is_ok()
                    }
                    Err(_) => false,
                }
            }
        },
    )
    .await)
}

/// How a token request authenticates, and whether it carries a DPoP proof.
#[derive(Clone)]
pub struct Caller {
    /// Its client id.
    pub client_id: String,
    /// `client_secret_basic` with this secret; without, `tls_client_auth` (the connection's
    /// certificate, RFC 8705 §2) with `client_id` in the body.
    pub secret: Option<String>,
    /// A fresh proof with every request (RFC 9449 §4).
    pub dpop: Option<Arc<DpopKey>>,
}

impl Caller {
    /// `client_secret_basic`, no proof.
    pub fn basic(credentials: &Credentials) -> Self {
        Self {
            client_id: credentials.id.clone(),
            secret: Some(credentials.secret.clone()),
            dpop: None,
        }
    }

    fn token_request(&self, http: &reqwest::Client, url: &str) -> reqwest::RequestBuilder {
        let mut request = http.post(url);
        let mut form = vec![("grant_type", "client_credentials")];
        match &self.secret {
            Some(secret) => request = request.basic_auth(&self.client_id, Some(secret)),
            None => form.push(("client_id", self.client_id.as_str())),
        }
        if let Some(key) = &self.dpop {
            // A proof that cannot be made fails the request at the server, which counts it.
            request = request.header("DPoP", key.proof(url).unwrap_or_default());
        }
        request.form(&form)
    }
}

/// `client_credentials` tokens, closed loop or paced at `pace` per worker.
pub async fn client_credentials(
    base: &str,
    service: &Credentials,
    shape: Shape,
    pace: Option<Duration>,
) -> Result<Measured> {
    token_requests(client()?, base, &Caller::basic(service), shape, pace).await
}

/// `client_credentials` tokens for `caller` through `http` (which may present a client certificate).
pub async fn token_requests(
    http: reqwest::Client,
    base: &str,
    caller: &Caller,
    shape: Shape,
    pace: Option<Duration>,
) -> Result<Measured> {
    let url = Arc::new(format!("{base}/token"));
    let caller = Arc::new(caller.clone());
    Ok(run(
        shape.workers,
        shape.warmup,
        shape.duration,
        pace,
        move |_| {
            let (http, url, caller) = (http.clone(), Arc::clone(&url), Arc::clone(&caller));
            async move {
                match caller.token_request(&http, url.as_str()).send().await {
                    Ok(response) => {
                        response.status().is_success() && response.bytes().await.is_ok()
                    }
                    Err(_) => false,
                }
            }
        },
    )
    .await)
}

/// One `client_credentials` access token.
pub async fn one_token(base: &str, service: &Credentials) -> Result<String> {
    let body = one_token_response(&client()?, base, &Caller::basic(service)).await?;
    body["access_token"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no access_token in {body}"))
}

/// One token response for `caller`, whole.
pub async fn one_token_response(
    http: &reqwest::Client,
    base: &str,
    caller: &Caller,
) -> Result<serde_json::Value> {
    let response = caller
        .token_request(http, &format!("{base}/token"))
        .send()
        .await?;
    let status = response.status();
    let body: serde_json::Value = response.json().await?;
    if !status.is_success() {
        return Err(anyhow!("the token request was refused: {status} {body}"));
    }
    Ok(body)
}

/// Check that a JWT access token is for `audience` and carries `roles` roles and as many scopes: the
/// role-based phase measures what it claims to.
pub fn expect_claims(token: &str, audience: &str, roles: usize) -> Result<()> {
    let part = |n: usize| -> Result<serde_json::Value> {
        let encoded = token
            .split('.')
            .nth(n)
            .ok_or_else(|| anyhow!("not a JWT: {token}"))?;
        Ok(serde_json::from_slice(&URL_SAFE_NO_PAD.decode(encoded)?)?)
    };
    let (header, claims) = (part(0)?, part(1)?);
    let scopes = claims["scope"].as_str().map_or(0, |s| s.split(' ').count());
    let role_count = claims["roles"].as_array().map_or(0, Vec::len);
    if header["alg"] != "ES256"
        || claims["aud"] != audience
        || scopes != roles
        || role_count != roles
    {
        return Err(anyhow!(
            "the role-based token is not as registered: {claims}"
        ));
    }
    Ok(())
}

/// Introspection of one valid access token by a resource server.
pub async fn introspection(
    base: &str,
    resource_server: &Credentials,
    token: &str,
    shape: Shape,
) -> Result<Measured> {
    let http = client()?;
    let url = Arc::new(format!("{base}/introspect"));
    let caller = Arc::new(resource_server.clone());
    let token = Arc::new(token.to_owned());
    Ok(run(
        shape.workers,
        shape.warmup,
        shape.duration,
        None,
        move |_| {
            let (http, url, caller, token) = (
                http.clone(),
                Arc::clone(&url),
                Arc::clone(&caller),
                Arc::clone(&token),
            );
            async move {
                let sent = http
                    .post(url.as_str())
                    .basic_auth(&caller.id, Some(&caller.secret))
                    .form(&[("token", token.as_str())])
                    .send()
                    .await;
                match sent {
                    Ok(response) => match response.json::<serde_json::Value>().await {
                        Ok(body) => body["active"] == true,
                        Err(_) => false,
                    },
                    Err(_) => false,
                }
            }
        },
    )
    .await)
}

fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!(r#"name="{name}" value=""#);
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// Sign in once through the login form with a cookie-keeping client; true on success.
pub async fn sign_in(http: &reqwest::Client, base: &str, username: &str, password: &str) -> bool {
    let Ok(page) = http.get(format!("{base}/login")).send().await else {
        return false;
    };
    let Some(csrf) = page
        .text()
        .await
        .ok()
        .and_then(|html| hidden(&html, "csrf_token"))
    else {
        return false;
    };
    match http
        .post(format!("{base}/login"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
    {
        Ok(response) => {
            response.status().is_success()
                && response.text().await.is_ok_and(|t| t.contains("Signed in"))
        }
        Err(_) => false,
    }
}

/// Password sign-ins (login page + form post, each an argon2id verification).
pub async fn sign_ins(
    base: &str,
    username: &str,
    password: &str,
    shape: Shape,
) -> Result<Measured> {
    let clients: Vec<reqwest::Client> = (0..shape.workers)
        .map(|_| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .cookie_store(true)
                .build()
        })
        .collect::<Result<_, _>>()?;
    let clients = Arc::new(clients);
    let (base, username, password) = (
        Arc::new(base.to_owned()),
        Arc::new(username.to_owned()),
        Arc::new(password.to_owned()),
    );
    Ok(run(
        shape.workers,
        shape.warmup,
        shape.duration,
        None,
        move |worker| {
            let (clients, base, username, password) = (
                Arc::clone(&clients),
                Arc::clone(&base),
                Arc::clone(&username),
                Arc::clone(&password),
            );
            async move {
                match clients.get(worker) {
                    Some(http) => sign_in(http, &base, &username, &password).await,
                    None => false,
                }
            }
        },
    )
    .await)
}

/// Complete authorization-code flows for already signed-in sessions: `/authorize` → code → `/token`.
pub async fn code_flows(
    base: &str,
    web: &Credentials,
    redirect_uri: &str,
    username: &str,
    password: &str,
    shape: Shape,
) -> Result<Measured> {
    let verifier = "bench-code-verifier-0123456789-abcdefghijklmnopqrstuvwxyz";
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
        .append_pair("scope", "openid")
        .append_pair("state", "bench")
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256");
    let mut clients = Vec::with_capacity(shape.workers);
    for _ in 0..shape.workers {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()?;
        if !sign_in(&http, base, username, password).await {
            return Err(anyhow!("could not sign the benchmark user in"));
        }
        clients.push(http);
    }
    let shared = Arc::new((
        clients,
        authorize.to_string(),
        format!("{base}/token"),
        web.clone(),
        redirect_uri.to_owned(),
    ));
    Ok(run(
        shape.workers,
        shape.warmup,
        shape.duration,
        None,
        move |worker| {
            let shared = Arc::clone(&shared);
            async move {
                let (clients, authorize, token_url, web, redirect_uri) = &*shared;
                let Some(http) = clients.get(worker) else {
                    return false;
                };
                let Ok(response) = http.get(authorize.as_str()).send().await else {
                    return false;
                };
                let code = response
                    .headers()
                    .get("location")
                    .and_then(|l| l.to_str().ok())
                    .and_then(|l| url::Url::parse(l).ok())
                    .and_then(|l| {
                        l.query_pairs()
                            .find(|(k, _)| k == "code")
                            .map(|(_, v)| v.into_owned())
                    });
                let Some(code) = code else { return false };
                match http
                    .post(token_url.as_str())
                    .basic_auth(&web.id, Some(&web.secret))
                    .form(&[
                        ("grant_type", "authorization_code"),
                        ("code", code.as_str()),
                        ("redirect_uri", redirect_uri.as_str()),
                        ("code_verifier", verifier),
                    ])
                    .send()
                    .await
                {
                    Ok(response) => {
                        response.status().is_success() && response.bytes().await.is_ok()
                    }
                    Err(_) => false,
                }
            }
        },
    )
    .await)
}
