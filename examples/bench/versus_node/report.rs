//! The comparison's results (`versus-node.md`, `versus-node.json`): each Latchkey phase against the
//! node-oidc-provider phase measured just before it, their ratio, and the introspection
//! target; both servers' memory.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::load::Measured;

/// The introspection target: at least this many times node-oidc-provider's rate…
const INTROSPECTION_RATIO_TARGET: f64 = 2.5;
/// …and at least this many per second.
const INTROSPECTION_RATE_TARGET: f64 = 15_000.0;

/// One phase on one server, with the CPU the server's process used meanwhile.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Sample {
    /// What the load generator measured.
    #[serde(flatten)]
    pub measured: Measured,
    /// The server's CPU seconds over the phase's wall seconds, warm-up included (1.0 is one core).
    pub cpu_cores: f64,
}

/// What the provider is, and how it answered the JWT introspection it was asked for once.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct NodeInfo {
    /// `node --version`.
    pub node_version: String,
    /// The installed oidc-provider (`bench/node/package-lock.json` pins it).
    pub oidc_provider_version: String,
    /// Process start → first discovery document, ms.
    pub start_to_ready_ms: f64,
    /// RSS 0.5 s after ready, before any load, MiB.
    pub idle_rss_mib: f64,
    /// The most RSS it had over the whole run, MiB.
    pub peak_rss_mib: f64,
    /// Its answer to introspection of one of its RS256 JWT access tokens.
    pub jwt_introspection_answer: String,
    /// The access token its introspection phases ask about: `jwt`, or `opaque` when it will not
    /// introspect JWTs.
    pub introspected_token: String,
}

/// The Latchkey phase and the node phase set against it.
struct Row {
    /// Latchkey's phase key, as in `latest.json`.
    latchkey: &'static str,
    /// node's phase key in `versus-node.json`.
    node: &'static str,
    /// The row's name in `versus-node.md` (`NODE_TOKEN` stands for the kind of token node's
    /// introspection phase asks about).
    label: &'static str,
    /// The ratio the earlier outside comparison found, if it measured this.
    earlier: Option<f64>,
}

/// The rows of the table, in order.
const ROWS: [Row; 3] = [
    Row {
        latchkey: "client_credentials_rs256",
        node: "client_credentials",
        label: "client_credentials (RS256 JWT)",
        earlier: Some(2.2),
    },
    Row {
        latchkey: "introspection",
        node: "introspection",
        label: "introspection (Latchkey: an RS256 JWT; node: its NODE_TOKEN token)",
        earlier: Some(2.7),
    },
    Row {
        latchkey: "introspection_reference",
        node: "introspection",
        label: "introspection of a reference token (Latchkey: an opaque token read from the store; node: the phase above)",
        earlier: None,
    },
];

/// One Latchkey phase against node's.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Comparison {
    /// Latchkey's phase key, as in `latest.json`.
    pub phase: String,
    /// Latchkey's measurement.
    pub latchkey: Sample,
    /// node-oidc-provider's, measured just before.
    pub node: Sample,
    /// Latchkey's ops/s over node's.
    pub ratio: f64,
    /// The ratio the earlier outside comparison found.
    pub earlier_ratio: Option<f64>,
    /// The target for this phase, met or not; `None` where there is none, or where a
    /// request failed (the rates would not say what they seem to).
    pub met: Option<bool>,
}

/// The introspection target: both rates from phases without a failed request, Latchkey at
/// `INTROSPECTION_RATE_TARGET` and `INTROSPECTION_RATIO_TARGET` times node.
fn introspection_met(latchkey: &Measured, node: &Measured) -> Option<bool> {
    if latchkey.failed > 0 || node.failed > 0 || node.per_second <= 0.0 {
        return None;
    }
    Some(
        latchkey.per_second >= INTROSPECTION_RATE_TARGET
            && latchkey.per_second / node.per_second >= INTROSPECTION_RATIO_TARGET,
    )
}

/// The rows both sides measured, with their ratios and verdicts.
pub fn compare(
    latchkey: &BTreeMap<String, Sample>,
    node: &BTreeMap<String, Sample>,
) -> Vec<Comparison> {
    ROWS.iter()
        .filter_map(|row| {
            let (l, n) = (latchkey.get(row.latchkey)?, node.get(row.node)?);
            Some(Comparison {
                phase: row.latchkey.to_owned(),
                latchkey: l.clone(),
                node: n.clone(),
                ratio: l.measured.per_second / n.measured.per_second,
                earlier_ratio: row.earlier,
                met: (row.latchkey == "introspection")
                    .then(|| introspection_met(&l.measured, &n.measured))
                    .flatten(),
            })
        })
        .collect()
}

/// One backend's Latchkey beside node.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Pairing {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Latchkey's RSS 0.5 s after ready, MiB.
    pub latchkey_idle_rss_mib: f64,
    /// Latchkey's most RSS over these phases, MiB.
    pub latchkey_peak_rss_mib: f64,
    /// Each row.
    pub comparisons: Vec<Comparison>,
}

/// The whole comparison.
#[derive(Debug, Clone, serde::Serialize)]
pub struct VersusNode {
    /// The machine.
    pub machine: String,
    /// Connections per phase, both servers.
    pub workers: usize,
    /// Measured seconds per phase.
    pub seconds: u64,
    /// Warm-up seconds before each phase.
    pub warmup: u64,
    /// node-oidc-provider.
    pub node: NodeInfo,
    /// Per backend.
    pub backends: Vec<Pairing>,
}

/// The target column: met, or which part was not, or why it was not judged.
fn verdict(c: &Comparison) -> String {
    match c.met {
        Some(true) => "met".into(),
        Some(false) => {
            let mut short = Vec::new();
            if c.latchkey.measured.per_second < INTROSPECTION_RATE_TARGET {
                short.push(format!(
                    "{:.0}/s < {INTROSPECTION_RATE_TARGET:.0}/s",
                    c.latchkey.measured.per_second
                ));
            }
            if c.ratio < INTROSPECTION_RATIO_TARGET {
                short.push(format!("{:.2}× < {INTROSPECTION_RATIO_TARGET}×", c.ratio));
            }
            format!("not met: {}", short.join(", "))
        }
        None if c.phase == "introspection" => "not judged: a request failed".into(),
        None => "—".into(),
    }
}

/// `versus-node.md`.
pub fn markdown(result: &VersusNode) -> String {
    let mut out = String::new();
    let info = &result.node;
    let _ = writeln!(
        out,
        "# Latchkey against node-oidc-provider\n\n\
         Machine: {}. {} connections per phase for both servers, {} s measured after {} s warm-up, \
         the same load generator; on each backend every node phase runs just before the Latchkey \
         phase set against it.\n\n\
         node-oidc-provider {} on Node.js {}, one process (`bench/node/provider.mjs`, \
         NODE_ENV=production, its in-memory adapter): ready in {:.0} ms. Its JavaScript runs on one \
         thread; its RSA signatures (jose's WebCrypto) run on libuv's thread pool, so it may use \
         more than one core. \"CPU\" is each server's CPU seconds over the phase's seconds, warm-up \
         included (1.00 is one core).\n\n\
         Asked once to introspect one of its RS256 JWT access tokens, node-oidc-provider answered \
         `{}`; its introspection phase asks about {} access token.\n\n\
         Where the two differ: node's token requests name `scope` and `resource` (its JWTs are for a \
         resource server, `aud` that resource), Latchkey's only `grant_type` (`aud` the issuer, the \
         client's registered scope); node's opaque tokens are looked up in its process memory (its \
         in-memory adapter: no round trip to Redis or a database, its best case), Latchkey's \
         reference tokens in its store. Both introspect as a second client allowed to introspect \
         any token, and a non-200 or inactive answer counts as a failed request.\n",
        result.machine,
        result.workers,
        result.seconds,
        result.warmup,
        info.oidc_provider_version,
        info.node_version,
        info.start_to_ready_ms,
        info.jwt_introspection_answer,
        if info.introspected_token == "jwt" {
            "that JWT"
        } else {
            "an opaque (reference) client-credentials"
        },
    );
    let _ = writeln!(
        out,
        "| backend | phase | Latchkey ops/s | p50 / p99 ms | CPU | node ops/s | p50 / p99 ms | CPU | \
         Latchkey / node | earlier outside comparison | target: ≥ {INTROSPECTION_RATIO_TARGET}× node and ≥ 15,000/s |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    );
    for pairing in &result.backends {
        for c in &pairing.comparisons {
            let label = ROWS
                .iter()
                .find(|row| row.latchkey == c.phase)
                .map_or(c.phase.as_str(), |row| row.label)
                .replace("NODE_TOKEN", &info.introspected_token);
            let (l, n) = (&c.latchkey.measured, &c.node.measured);
            let _ = writeln!(
                out,
                "| {} | {label} | {:.0}{} | {:.2} / {:.2} | {:.2} | {:.0}{} | {:.2} / {:.2} | {:.2} | {:.2}× | {} | {} |",
                pairing.backend,
                l.per_second,
                l.failed_note(),
                l.p50_ms,
                l.p99_ms,
                c.latchkey.cpu_cores,
                n.per_second,
                n.failed_note(),
                n.p50_ms,
                n.p99_ms,
                c.node.cpu_cores,
                c.ratio,
                c.earlier_ratio
                    .map_or("—".to_owned(), |r| format!("{r:.1}×")),
                verdict(c),
            );
        }
    }
    let _ = writeln!(
        out,
        "\n| server | idle RSS MiB | peak RSS MiB |\n|---|---:|---:|\n\
         | node-oidc-provider (over the whole run) | {:.1} | {:.1} |",
        info.idle_rss_mib, info.peak_rss_mib
    );
    for pairing in &result.backends {
        let _ = writeln!(
            out,
            "| Latchkey, {} (over its phases here) | {:.1} | {:.1} |",
            pairing.backend, pairing.latchkey_idle_rss_mib, pairing.latchkey_peak_rss_mib
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_of(per_second: f64, failed: u64) -> Sample {
        Sample {
            measured: Measured {
                per_second,
                failed,
                ..Measured::default()
            },
            cpu_cores: 1.0,
        }
    }

    #[test]
    fn introspection_target_needs_both_the_rate_and_the_ratio_and_no_failure() {
        let cases = [
            ("both met", 18_000.0, 0, 6_000.0, 0, Some(true)),
            ("ratio short of 2.5×", 18_000.0, 0, 8_000.0, 0, Some(false)),
            (
                "rate short of 15,000/s",
                14_000.0,
                0,
                5_000.0,
                0,
                Some(false),
            ),
            (
                "exactly 2.5× and 15,000/s",
                15_000.0,
                0,
                6_000.0,
                0,
                Some(true),
            ),
            ("node failed a request", 18_000.0, 0, 6_000.0, 3, None),
            ("Latchkey failed a request", 18_000.0, 1, 6_000.0, 0, None),
            ("node measured nothing", 18_000.0, 0, 0.0, 0, None),
        ];
        for (name, lk, lk_failed, node, node_failed, expected) in cases {
            let met = introspection_met(
                &sample_of(lk, lk_failed).measured,
                &sample_of(node, node_failed).measured,
            );
            assert_eq!(met, expected, "{name}");
        }
    }

    #[test]
    fn compare_sets_each_latchkey_phase_against_its_node_phase() {
        let latchkey: BTreeMap<String, Sample> = [
            ("client_credentials_rs256", sample_of(5_000.0, 0)),
            ("introspection", sample_of(20_000.0, 0)),
            ("introspection_reference", sample_of(9_000.0, 0)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let node: BTreeMap<String, Sample> = [
            ("client_credentials", sample_of(2_000.0, 0)),
            ("introspection", sample_of(4_000.0, 0)),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let rows = compare(&latchkey, &node);
        let found: Vec<(&str, f64, Option<bool>)> = rows
            .iter()
            .map(|c| (c.phase.as_str(), c.ratio, c.met))
            .collect();
        assert_eq!(
            found,
            [
                ("client_credentials_rs256", 2.5, None),
                ("introspection", 5.0, Some(true)),
                ("introspection_reference", 2.25, None),
            ]
        );
        // A phase only one side measured has no row.
        let rows = compare(&latchkey, &BTreeMap::new());
        assert!(rows.is_empty());
    }

    #[test]
    fn verdict_names_the_part_of_the_target_that_was_missed() {
        let row = |lk: f64, node: f64| {
            let latchkey = BTreeMap::from([("introspection".to_owned(), sample_of(lk, 0))]);
            let node = BTreeMap::from([("introspection".to_owned(), sample_of(node, 0))]);
            compare(&latchkey, &node).remove(0)
        };
        assert_eq!(verdict(&row(20_000.0, 5_000.0)), "met");
        assert_eq!(
            verdict(&row(12_000.0, 4_000.0)),
            "not met: 12000/s < 15000/s"
        );
        assert_eq!(
            verdict(&row(12_000.0, 6_000.0)),
            "not met: 12000/s < 15000/s, 2.00× < 2.5×"
        );
        assert_eq!(verdict(&row(16_000.0, 8_000.0)), "not met: 2.00× < 2.5×");
    }

    #[test]
    fn markdown_shows_ratios_failures_versions_and_memory() {
        let mut latchkey = BTreeMap::new();
        latchkey.insert("introspection".to_owned(), sample_of(20_000.0, 0));
        let mut node = BTreeMap::new();
        node.insert("introspection".to_owned(), sample_of(8_000.0, 2));
        let result = VersusNode {
            machine: "2 × test CPU".into(),
            workers: 32,
            seconds: 5,
            warmup: 1,
            node: NodeInfo {
                node_version: "v20.20.2".into(),
                oidc_provider_version: "9.13.3".into(),
                idle_rss_mib: 70.0,
                peak_rss_mib: 120.5,
                jwt_introspection_answer: "400 unsupported_token_type".into(),
                introspected_token: "opaque".into(),
                ..NodeInfo::default()
            },
            backends: vec![Pairing {
                backend: "postgres".into(),
                latchkey_idle_rss_mib: 21.0,
                latchkey_peak_rss_mib: 60.0,
                comparisons: compare(&latchkey, &node),
            }],
        };
        let md = markdown(&result);
        assert!(md.contains("node-oidc-provider 9.13.3 on Node.js v20.20.2"));
        assert!(md.contains("`400 unsupported_token_type`"));
        assert!(md.contains("an opaque (reference) client-credentials access token"));
        assert!(md.contains("| 8000 (2 failed) |"));
        assert!(md.contains("| 2.50× | 2.7× | not judged: a request failed |"));
        assert!(md.contains("| node-oidc-provider (over the whole run) | 70.0 | 120.5 |"));
        assert!(md.contains("| Latchkey, postgres (over its phases here) | 21.0 | 60.0 |"));
    }
}
