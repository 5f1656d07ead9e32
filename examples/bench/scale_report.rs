//! The scale mode's results (`scale.md`, `scale.json`): each phase at each store size, as a ratio to
//! the smallest, against the target of every phase within 10% of its small-store figure.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::load::Measured;
use crate::report::BackendResult;
use crate::seed::Plan;

/// Throughput may fall, and p99 rise, this much at the largest size.
const TOLERANCE: f64 = 0.10;

/// Phases paced at a fixed rate: their throughput is the pace, so only p99 is judged.
const PACED: [&str; 2] = [
    "client_credentials_rs256_half_load",
    "token_during_sign_in_storm",
];

/// One store size on one backend.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScaleStep {
    /// The multiple of `--scale` N.
    pub multiple: u64,
    /// What was seeded.
    pub plan: Plan,
    /// Seeding, counting excluded, s.
    pub seed_seconds: f64,
    /// Rows in the seeded tables after seeding (with the benchmark's own).
    pub rows: BTreeMap<String, u64>,
    /// The store on disk after seeding, MiB.
    pub disk_mib: f64,
    /// Start → ready on the freshly seeded store, ms.
    pub seeded_start_ms: f64,
    /// Start → its revocation cache filled from every seeded revocation (in the background), ms.
    pub seeded_cache_filled_ms: f64,
    /// RSS of that server, idle, MiB.
    pub seeded_idle_rss_mib: f64,
    /// The phases, with the restarted server's start → ready and RSS.
    pub result: BackendResult,
}

/// One backend's sizes.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScaleBackend {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// Smallest first.
    pub steps: Vec<ScaleStep>,
}

/// The whole scale run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScaleReport {
    /// `--scale`: users at 1×.
    pub users: u64,
    /// `--scale-steps`.
    pub multiples: Vec<u64>,
    /// Workers per phase.
    pub workers: usize,
    /// Measured seconds per phase.
    pub seconds: u64,
    /// Per backend.
    pub backends: Vec<ScaleBackend>,
}

/// How a phase at the largest size compares with the smallest.
struct Ratios {
    throughput: f64,
    p99: f64,
    paced: bool,
}

impl Ratios {
    fn of(key: &str, small: &Measured, large: &Measured) -> Self {
        Self {
            throughput: large.per_second / small.per_second,
            p99: large.p99_ms / small.p99_ms,
            paced: PACED.contains(&key),
        }
    }

    fn verdict(&self) -> &'static str {
        let throughput_held = self.paced || self.throughput >= 1.0 - TOLERANCE;
        if throughput_held && self.p99 <= 1.0 + TOLERANCE {
            "within 10%"
        } else {
            "**not within 10%**"
        }
    }
}

fn mib(value: f64) -> String {
    format!("{value:.1}")
}

impl ScaleReport {
    /// Assemble the report.
    pub fn new(
        users: u64,
        multiples: &[u64],
        backends: Vec<ScaleBackend>,
        workers: usize,
        seconds: u64,
    ) -> Self {
        Self {
            users,
            multiples: multiples.to_vec(),
            workers,
            seconds,
            backends,
        }
    }

    /// The Markdown: the stores, then each phase at each size.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let sizes: Vec<String> = self.multiples.iter().map(|m| format!("{m}×")).collect();
        let _ = writeln!(
            out,
            "Scale: {} users at 1×, sizes {}; {} connections per phase, {} s measured per phase. \
             Target: every phase at the largest size within 10% of its smallest-size throughput and p99.\n",
            self.users,
            sizes.join(", "),
            self.workers,
            self.seconds
        );
        let _ = writeln!(
            out,
            "| backend | size | users | clients | grants (each with a refresh token) | revocations | sessions | roles | audit events | seeding s | on disk MiB | start → ready on the seeded store / after restart ms | revocation cache filled ms | idle RSS seeded / restarted MiB | peak RSS MiB |"
        );
        let _ = writeln!(
            out,
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for backend in &self.backends {
            for step in &backend.steps {
                let rows = |table: &str| step.rows.get(table).copied().unwrap_or_default();
                let _ = writeln!(
                    out,
                    "| {} | {}× | {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.0} | {:.0} / {:.0} | {:.0} | {} / {} | {} |",
                    backend.backend,
                    step.multiple,
                    rows("users"),
                    rows("clients"),
                    rows("grants"),
                    rows("revocations"),
                    rows("sessions"),
                    rows("roles"),
                    rows("audit_events"),
                    step.seed_seconds,
                    step.disk_mib,
                    step.seeded_start_ms,
                    step.result.start_to_ready_ms,
                    step.seeded_cache_filled_ms,
                    mib(step.seeded_idle_rss_mib),
                    mib(step.result.idle_rss_mib),
                    mib(step.result.peak_rss_mib),
                );
            }
        }

        let mut header = String::from("\n| backend | phase |");
        let mut rule = String::from("|---|---|");
        for size in &sizes {
            let _ = write!(header, " ops/s {size} |");
            rule.push_str("---:|");
        }
        header.push_str(" throughput ratio |");
        rule.push_str("---:|");
        for size in &sizes {
            let _ = write!(header, " p99 ms {size} |");
            rule.push_str("---:|");
        }
        header.push_str(" p99 ratio | verdict |");
        rule.push_str("---:|---|");
        let _ = writeln!(out, "{header}\n{rule}");
        for backend in &self.backends {
            let keys: BTreeSet<&String> = backend
                .steps
                .iter()
                .flat_map(|step| step.result.phases.keys())
                .collect();
            for key in keys {
                let at = |multiple: u64| {
                    backend
                        .steps
                        .iter()
                        .find(|step| step.multiple == multiple)
                        .and_then(|step| step.result.phases.get(key))
                };
                let measured: Vec<&Measured> = backend
                    .steps
                    .iter()
                    .filter_map(|step| step.result.phases.get(key))
                    .collect();
                let ratios = match (measured.first(), measured.last()) {
                    (Some(small), Some(large)) if measured.len() > 1 => {
                        Some(Ratios::of(key, small, large))
                    }
                    _ => None,
                };
                let mut line = format!("| {} | {key} |", backend.backend);
                for &multiple in &self.multiples {
                    let cell = at(multiple).map_or("—".into(), |m| {
                        let failed = m.failed_note();
                        format!("{:.0}{failed}", m.per_second)
                    });
                    let _ = write!(line, " {cell} |");
                }
                let _ = write!(
                    line,
                    " {} |",
                    ratios.as_ref().map_or("—".into(), |r| if r.paced {
                        format!("{:.2} (paced)", r.throughput)
                    } else {
                        format!("{:.2}", r.throughput)
                    })
                );
                for &multiple in &self.multiples {
                    let cell = at(multiple).map_or("—".into(), |m| format!("{:.2}", m.p99_ms));
                    let _ = write!(line, " {cell} |");
                }
                let _ = write!(
                    line,
                    " {} | {} |",
                    ratios
                        .as_ref()
                        .map_or("—".into(), |r| format!("{:.2}", r.p99)),
                    ratios.as_ref().map_or("—", Ratios::verdict)
                );
                let _ = writeln!(out, "{line}");
            }
        }
        out
    }
}
