//! The Latchkey process under test: start it, time it to ready, read its memory, drive its CLI.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};

use crate::protection::Pki;

/// How a server is configured: its binary, database, and extra settings.
#[derive(Clone)]
pub struct Setup {
    /// The release binary.
    pub binary: PathBuf,
    /// `LATCHKEY_DATABASE_URL`.
    pub database_url: String,
    /// Working directory (SQLite file and secret live here).
    pub dir: PathBuf,
    /// `LATCHKEY_KEY_ENCRYPTION_SECRET`.
    pub secret: String,
}

impl Setup {
    fn command(&self, extra_env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(&self.binary);
        for (key, _) in std::env::vars() {
            if key.starts_with("LATCHKEY_") {
                command.env_remove(key);
            }
        }
        command
            .current_dir(&self.dir)
            .env("LATCHKEY_DATABASE_URL", &self.database_url)
            .env("LATCHKEY_KEY_ENCRYPTION_SECRET", &self.secret)
            .env("LATCHKEY_LOG", "warn")
            .envs(extra_env.iter().copied());
        command
    }

    /// Run an admin command with `--json` and return its output.
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> Result<serde_json::Value> {
        let mut child = self
            .command(&[])
            .args(args)
            .arg("--json")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot run latchkey")?;
        if let (Some(mut pipe), Some(input)) = (child.stdin.take(), stdin) {
            pipe.write_all(input.as_bytes())?;
        }
        let output = child.wait_with_output()?;
        if !output.status.success() {
            bail!(
                "latchkey {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(serde_json::from_slice(&output.stdout)?)
    }
}

/// A running server.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`, or `https://`.
    pub base: String,
    /// Process start → first `200` from `/readyz`.
    pub start_to_ready: Duration,
    /// `/readyz` → the revocation cache's first read done. A server serves at once and reads the
    /// revocations in the background (answering from the store meanwhile); with a million of them
    /// (the scale mode) that takes seconds of CPU, which no phase should be charged for, so every
    /// start waits for it.
    pub ready_to_revocations_read: Duration,
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

impl Server {
    /// Start `latchkey serve` with `extra_env` and wait (bounded) until `/readyz` answers 200.
    pub async fn start(setup: &Setup, extra_env: &[(&str, &str)]) -> Result<Self> {
        Self::start_with(setup, extra_env, None).await
    }

    /// The same over HTTPS with `pki`'s server certificate, asking clients for theirs (`--mtls-ca`).
    pub async fn start_https(setup: &Setup, extra_env: &[(&str, &str)], pki: &Pki) -> Result<Self> {
        Self::start_with(setup, extra_env, Some(pki)).await
    }

    async fn start_with(
        setup: &Setup,
        extra_env: &[(&str, &str)],
        pki: Option<&Pki>,
    ) -> Result<Self> {
        let port = free_port()?;
        let (scheme, http) = match pki {
            Some(pki) => ("https", pki.client(false)?),
            None => ("http", reqwest::Client::new()),
        };
        let base = format!("{scheme}://127.0.0.1:{port}");
        let tls_env = pki.map(Pki::server_env).unwrap_or_default();
        // The issuer is this server's own URL unless `extra_env` names one: instances sharing a
        // database must share an issuer, or one would not accept the other's tokens.
        let issuer = extra_env
            .iter()
            .find(|(key, _)| *key == "LATCHKEY_ISSUER")
            .map_or(base.as_str(), |(_, value)| value);
        let began = Instant::now();
        let child = setup
            .command(extra_env)
            .envs(tls_env)
            .env("LATCHKEY_BIND", format!("127.0.0.1:{port}"))
            .env("LATCHKEY_ISSUER", issuer)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start latchkey serve")?;
        let mut server = Self {
            child,
            base,
            start_to_ready: Duration::ZERO,
            ready_to_revocations_read: Duration::ZERO,
        };
        let deadline = began + Duration::from_secs(30);
        loop {
            if let Ok(response) = http.get(format!("{}/readyz", server.base)).send().await
                && response.status().is_success()
            {
                server.start_to_ready = began.elapsed();
                server.ready_to_revocations_read = revocations_read(&http, &server.base).await?;
                return Ok(server);
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                bail!("latchkey serve exited early: {status}");
            }
            if Instant::now() > deadline {
                bail!("latchkey serve was not ready within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Process start → the revocation cache filled, ms.
    pub fn revocations_read_ms(&self) -> f64 {
        (self.start_to_ready + self.ready_to_revocations_read).as_secs_f64() * 1000.0
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory now, MiB.
    pub fn rss_mib(&self) -> f64 {
        status_mib(self.child.id(), "VmRSS:")
    }

    /// The most resident memory the process has had, MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        status_mib(self.child.id(), "VmHWM:")
    }

    /// Stop the server (SIGTERM, then SIGKILL if it lingers).
    pub fn stop(mut self) {
        terminate(&mut self.child);
    }
}

/// How long until the server at `base` has finished its revocation cache's first read (its
/// `latchkey_revocation_cache_age_seconds` is no longer `+Inf`), polled every 10 ms.
async fn revocations_read(http: &reqwest::Client, base: &str) -> Result<Duration> {
    let began = Instant::now();
    loop {
        let metrics = http
            .get(format!("{base}/metrics"))
            .send()
            .await?
            .text()
            .await?;
        let age = metrics
            .lines()
            .find_map(|line| line.strip_prefix("latchkey_revocation_cache_age_seconds "))
            .ok_or_else(|| anyhow!("no revocation cache age at /metrics"))?;
        if age.trim() != "+Inf" {
            return Ok(began.elapsed());
        }
        if began.elapsed() > Duration::from_secs(60) {
            bail!("the revocation cache was not filled within 60 s");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A `/proc/PID/status` memory field (`VmRSS:`, `VmHWM:`) of process `pid`, MiB; NaN if unreadable.
pub fn status_mib(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(field))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
        })
        .map_or(f64::NAN, |kib| kib as f64 / 1024.0)
}

/// Stop `child` (SIGTERM, then SIGKILL if it lingers past 5 s) and reap it.
pub fn terminate(child: &mut Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// A server left behind by an error (a `?` in the middle of a phase) is killed rather than left running.
impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The name of this run's PostgreSQL database.
pub fn database_name() -> String {
    format!("lk_bench_{}", std::process::id())
}

/// A fresh database for one backend run: a SQLite file in `dir`, or a new database on the server at
/// `postgres_url`.
pub async fn fresh_database(dir: &Path, postgres_url: Option<&str>) -> Result<String> {
    match postgres_url {
        None => Ok(format!("sqlite://{}", dir.join("latchkey.db").display())),
        Some(base) => {
            use sqlx::Connection;
            let name = database_name();
            let mut admin = sqlx::PgConnection::connect(base).await?;
            sqlx::query(&format!(r#"DROP DATABASE IF EXISTS "{name}""#))
                .execute(&mut admin)
                .await?;
            sqlx::query(&format!(r#"CREATE DATABASE "{name}""#))
                .execute(&mut admin)
                .await?;
            let mut url = url::Url::parse(base)?;
            url.set_path(&format!("/{name}"));
            Ok(url.to_string())
        }
    }
}
