//! The node-oidc-provider process of `--versus-node`: `node bench/node/provider.mjs` on a free port,
//! its two clients' secrets chosen here, ready when its discovery document answers; and the
//! versions of Node.js and of the oidc-provider installed beside the script.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::phases::Credentials;
use crate::server;

/// A running node-oidc-provider, with the two clients provider.mjs registers.
pub struct NodeProvider {
    child: Child,
    /// `http://127.0.0.1:PORT`, also its issuer.
    pub base: String,
    /// `bench-service`: `client_credentials`, `orders:read`.
    pub service: Credentials,
    /// `bench-gateway`: may introspect any token.
    pub gateway: Credentials,
    /// Process start → first discovery document.
    pub start_to_ready: Duration,
}

/// A fresh random client secret, so that none is written in provider.mjs.
fn random_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| anyhow!("no randomness for a client secret"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

impl NodeProvider {
    /// Start `node script` on a free port (NODE_ENV=production) and wait (bounded) until its
    /// discovery document names it as issuer.
    pub async fn start(script: &Path) -> Result<Self> {
        let dir = script
            .parent()
            .ok_or_else(|| anyhow!("{} has no folder", script.display()))?;
        if !dir.join("node_modules/oidc-provider").is_dir() {
            bail!(
                "{} has no node_modules/oidc-provider: run `npm ci` there (bench/run.sh --versus-node does)",
                dir.display()
            );
        }
        let port = server::free_port()?;
        let base = format!("http://127.0.0.1:{port}");
        let service = Credentials {
            id: "bench-service".into(),
            secret: random_secret()?,
        };
        let gateway = Credentials {
            id: "bench-gateway".into(),
            secret: random_secret()?,
        };
        let began = Instant::now();
        let child = Command::new("node")
            .arg(script)
            .current_dir(dir)
            .env("NODE_ENV", "production")
            .env("PORT", port.to_string())
            .env("SERVICE_SECRET", &service.secret)
            .env("GATEWAY_SECRET", &gateway.secret)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot run node: Node.js 20 or later must be on the PATH")?;
        let mut provider = Self {
            child,
            base,
            service,
            gateway,
            start_to_ready: Duration::ZERO,
        };
        let http = reqwest::Client::new();
        let discovery = format!("{}/.well-known/openid-configuration", provider.base);
        let deadline = began + Duration::from_secs(30);
        loop {
            if let Ok(response) = http.get(&discovery).send().await
                && response.status().is_success()
                && let Ok(body) = response.json::<serde_json::Value>().await
                && body["issuer"] == provider.base.as_str()
            {
                provider.start_to_ready = began.elapsed();
                return Ok(provider);
            }
            if let Ok(Some(status)) = provider.child.try_wait() {
                bail!("node {} exited early: {status}", script.display());
            }
            if Instant::now() > deadline {
                bail!("node-oidc-provider was not ready within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stop it (SIGTERM, then SIGKILL if it lingers).
    pub fn stop(mut self) {
        server::terminate(&mut self.child);
    }
}

/// A provider left behind by an error is killed rather than left running.
impl Drop for NodeProvider {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `version` of a `package.json`.
fn package_version(package_json: &str) -> Result<String> {
    let package: serde_json::Value = serde_json::from_str(package_json)?;
    package["version"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("no version in package.json"))
}

/// `node --version`, and the oidc-provider installed beside `script`.
pub fn versions(script: &Path) -> Result<(String, String)> {
    let output = Command::new("node")
        .arg("--version")
        .output()
        .context("cannot run node --version")?;
    let node = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    let dir = script.parent().unwrap_or(Path::new("."));
    let package = std::fs::read_to_string(dir.join("node_modules/oidc-provider/package.json"))
        .context("cannot read oidc-provider's package.json")?;
    Ok((node, package_version(&package)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_version_reads_the_version_field() {
        let json = r#"{"name":"oidc-provider","version":"9.13.3","type":"module"}"#;
        assert_eq!(package_version(json).ok().as_deref(), Some("9.13.3"));
        assert!(package_version(r#"{"name":"x"}"#).is_err());
        assert!(package_version("not json").is_err());
    }
}
