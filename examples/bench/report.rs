//! The result table (Markdown) and its JSON, with each throughput as a fraction of its ceiling.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::ceiling::Ceilings;
use crate::load::Measured;

/// One backend's results.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BackendResult {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// First start on an empty database (schema + key generation), ms.
    pub first_start_ms: f64,
    /// Start → ready with keys present, ms.
    pub start_to_ready_ms: f64,
    /// RSS after start, idle, MiB.
    pub idle_rss_mib: f64,
    /// Highest RSS across every phase, MiB.
    pub peak_rss_mib: f64,
    /// Each phase.
    pub phases: BTreeMap<String, Measured>,
    /// Where the CPU went in each phase (`--profile`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<crate::profile::PhaseProfile>,
}

impl BackendResult {
    /// Empty results for `backend`.
    pub fn new(backend: &str) -> Self {
        Self {
            backend: backend.to_owned(),
            first_start_ms: 0.0,
            start_to_ready_ms: 0.0,
            idle_rss_mib: 0.0,
            peak_rss_mib: 0.0,
            phases: BTreeMap::new(),
            profiles: Vec::new(),
        }
    }
}

/// The whole run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// The machine.
    pub machine: String,
    /// Workers per phase.
    pub workers: usize,
    /// Measured seconds per phase.
    pub seconds: u64,
    /// In-process ceilings.
    pub ceilings: Ceilings,
    /// Per backend.
    pub backends: Vec<BackendResult>,
}

/// The CPU, its count and the memory of this machine, for the head of a report.
pub fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<f64>().ok())
        })
        .map_or_else(
            || "?".into(),
            |kib| format!("{:.0} GiB", kib / 1024.0 / 1024.0),
        );
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    format!("{cpus} × {cpu}, {memory} RAM, load generator on the same machine")
}

impl Report {
    /// Assemble the report.
    pub fn new(
        ceilings: Ceilings,
        backends: Vec<BackendResult>,
        workers: usize,
        seconds: u64,
    ) -> Self {
        Self {
            machine: machine(),
            workers,
            seconds,
            ceilings,
            backends,
        }
    }

    /// The Markdown table.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let c = &self.ceilings;
        let sig = |alg: &str| {
            c.signatures_per_second
                .get(alg)
                .copied()
                .unwrap_or(f64::NAN)
        };
        let _ = writeln!(
            out,
            "Machine: {}. {} connections per phase, {} s measured after 1 s warm-up.\n",
            self.machine, self.workers, self.seconds
        );
        let _ = writeln!(
            out,
            "In-process ceilings: RS256 {:.0}/s, ES256 {:.0}/s, EdDSA {:.0}/s signatures ({} threads); argon2id verify {:.1} ms → {:.1} sign-ins/s ({} × 1000 / verify ms); {:.1} verifications/s measured with {} threads at once.\n",
            sig("RS256"),
            sig("ES256"),
            sig("EdDSA"),
            c.cpus,
            c.argon2_verify_ms,
            c.sign_ins_per_second,
            c.cpus,
            c.parallel_verifications_per_second,
            c.cpus
        );
        let _ = writeln!(
            out,
            "| backend | phase | ops/s | p50 ms | p99 ms | of ceiling (or of plain HTTP) | target |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---|");
        for backend in &self.backends {
            // The cost of a protection: the same ES256 tokens over plain HTTP, measured in the same run.
            let plain = backend
                .phases
                .get("client_credentials_es256")
                .map(|m| m.per_second);
            let rows: [(&str, &str, Option<f64>, &str); 16] = [
                (
                    "client_credentials_rs256",
                    "client_credentials RS256",
                    Some(sig("RS256")),
                    "≥ 60% of RS256 ceiling",
                ),
                (
                    "client_credentials_es256",
                    "client_credentials ES256",
                    Some(sig("ES256")),
                    "≥ 20,000/s",
                ),
                (
                    "client_credentials_es256_tls",
                    "client_credentials ES256 over TLS (kept-alive connections)",
                    plain,
                    "ratio to plain HTTP",
                ),
                (
                    "client_credentials_es256_mtls",
                    "client_credentials ES256, mutual TLS (tls_client_auth), certificate-bound",
                    plain,
                    "ratio to plain HTTP",
                ),
                (
                    "client_credentials_es256_dpop",
                    "client_credentials ES256 with a DPoP proof (its jti stored)",
                    plain,
                    "ratio to plain HTTP",
                ),
                (
                    "client_credentials_eddsa",
                    "client_credentials EdDSA",
                    Some(sig("EdDSA")),
                    "—",
                ),
                (
                    "client_credentials_rs256_audited",
                    "client_credentials RS256, every token audited (--audit-token-issuance)",
                    Some(sig("RS256")),
                    "near client_credentials RS256",
                ),
                (
                    "client_credentials_rs256_half_load",
                    "token at half max load (paced)",
                    None,
                    "p99 ≤ 5 ms",
                ),
                (
                    "client_credentials_rbac_es256",
                    "client_credentials, 5 roles, --rbac ES256 API",
                    Some(sig("ES256")),
                    "near client_credentials ES256",
                ),
                ("introspection", "introspection", None, "≥ 15,000/s"),
                (
                    "introspection_reference",
                    "introspection of a reference token",
                    None,
                    "near introspection",
                ),
                ("jwks", "JWKS", None, "≥ 40,000/s"),
                ("discovery", "discovery", None, "≥ 40,000/s"),
                (
                    "code_flows",
                    "authorization-code flows (signed in)",
                    None,
                    "≥ 1,500/s SQLite, ≥ 1,000/s PostgreSQL",
                ),
                (
                    "sign_ins",
                    "password sign-ins",
                    Some(c.sign_ins_per_second),
                    "≥ 90% of argon2 ceiling",
                ),
                (
                    "token_during_sign_in_storm",
                    "token p99 during the sign-in storm (200/s)",
                    None,
                    "p99 ≤ 25 ms",
                ),
            ];
            for (key, label, ceiling, target) in rows {
                let Some(m) = backend.phases.get(key) else {
                    continue;
                };
                let ratio = ceiling.map_or("—".to_owned(), |c| {
                    let of = if target.starts_with("ratio") {
                        " of plain HTTP"
                    } else {
                        ""
                    };
                    format!("{:.0}%{of}", 100.0 * m.per_second / c)
                });
                let failed = m.failed_note();
                let _ = writeln!(
                    out,
                    "| {} | {label}{failed} | {:.0} | {:.2} | {:.2} | {ratio} | {target} |",
                    backend.backend, m.per_second, m.p50_ms, m.p99_ms
                );
            }
            let _ = writeln!(
                out,
                "| {} | memory: idle RSS / peak RSS | {:.1} MiB / {:.1} MiB | | | | ≤ 20 MB idle, ≤ 100 MB peak |",
                backend.backend, backend.idle_rss_mib, backend.peak_rss_mib
            );
            let _ = writeln!(
                out,
                "| {} | start → ready (keys present) / first start | {:.0} ms / {:.0} ms | | | | ≤ 100 ms |",
                backend.backend, backend.start_to_ready_ms, backend.first_start_ms
            );
        }
        out
    }
}
