//! A device client (RFC 8628): the kind of program that runs on a TV or in a terminal without a
//! browser. It asks Latchkey for a device code, prints where to go and which code to type, and polls
//! the token endpoint until the user has approved or denied.
//!
//! ```sh
//! latchkey client create --name "Terminal" --auth-method none \
//!     --grant-type urn:ietf:params:oauth:grant-type:device_code --scope "openid profile"
//! cargo run --example device -- --issuer http://127.0.0.1:8080 --client-id <id>
//! ```

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use serde_json::Value;

/// Every flag is also an environment variable.
#[derive(Debug, Parser)]
#[command(about = "Sign in on another device (RFC 8628 device authorization grant)")]
struct Args {
    /// Latchkey's issuer; the endpoints are discovered from it.
    #[arg(long, env = "DEVICE_ISSUER", default_value = "http://127.0.0.1:8080")]
    issuer: String,
    /// The client id (a public client registered for the device_code grant).
    #[arg(long, env = "DEVICE_CLIENT_ID")]
    client_id: String,
    /// The client secret, for a confidential client (sent with HTTP Basic).
    #[arg(long, env = "DEVICE_CLIENT_SECRET")]
    client_secret: Option<String>,
    /// The scope to ask for.
    #[arg(long, default_value = "openid profile")]
    scope: String,
}

const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// POST `form` to `url` as the client; the status and JSON body.
async fn post(
    http: &reqwest::Client,
    args: &Args,
    url: &str,
    form: &[(&str, &str)],
) -> Result<(u16, Value), String> {
    let mut form = form.to_vec();
    let mut request = http.post(url);
    match &args.client_secret {
        Some(secret) => request = request.basic_auth(&args.client_id, Some(secret)),
        None => form.push(("client_id", &args.client_id)),
    }
    let response = request
        .form(&form)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = response.status().as_u16();
    let body = response
        .json()
        .await
        .map_err(|e| format!("{url}: not JSON: {e}"))?;
    Ok((status, body))
}

fn field<'a>(body: &'a Value, name: &str) -> Result<&'a str, String> {
    body[name]
        .as_str()
        .ok_or_else(|| format!("the response has no {name}: {body}"))
}

async fn run(args: &Args) -> Result<Value, String> {
    let http = reqwest::Client::new();
    let issuer = args.issuer.trim_end_matches('/');
    let discovery: Value = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .map_err(|e| format!("discovery: {e}"))?
        .json()
        .await
        .map_err(|e| format!("discovery: {e}"))?;
    let device_endpoint = field(&discovery, "device_authorization_endpoint")?;
    let token_endpoint = field(&discovery, "token_endpoint")?;

    // RFC 8628 §3.1: ask for a device code and a user code.
    let (status, codes) = post(&http, args, device_endpoint, &[("scope", &args.scope)]).await?;
    if status != 200 {
        return Err(format!("device authorization refused: {codes}"));
    }
    let device_code = field(&codes, "device_code")?;
    // §3.3: tell the user where to go and what to type.
    println!(
        "To sign in, open {} and enter the code {}",
        field(&codes, "verification_uri")?,
        field(&codes, "user_code")?
    );
    if let Some(complete) = codes["verification_uri_complete"].as_str() {
        println!("(or open {complete} directly)");
    }
    let mut interval = codes["interval"].as_u64().unwrap_or(5);

    // §3.4, §3.5: poll until the user decides or the code expires.
    loop {
        tokio::time::sleep(Duration::from_secs(interval)).await;
        let (status, body) = post(
            &http,
            args,
            token_endpoint,
            &[("grant_type", DEVICE_GRANT), ("device_code", device_code)],
        )
        .await?;
        if status == 200 {
            return Ok(body);
        }
        match body["error"].as_str() {
            Some("authorization_pending") => {}
            // "the interval MUST be increased by 5 seconds for this and all subsequent requests"
            Some("slow_down") => interval += 5,
            Some("access_denied") => return Err("the request was denied".into()),
            Some("expired_token") => return Err("the code expired; run again".into()),
            _ => return Err(format!("the token endpoint refused: {body}")),
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(tokens) => {
            println!(
                "Signed in. Scope: {}; the access token expires in {} s.",
                tokens["scope"].as_str().unwrap_or_default(),
                tokens["expires_in"]
            );
            println!("{}", tokens["access_token"].as_str().unwrap_or_default());
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}
