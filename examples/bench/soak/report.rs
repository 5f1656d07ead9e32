//! The soak's findings: a verdict per table on its row counts, each operation's latency, and token
//! latency inside housekeeping passes against outside; as Markdown and JSON (`soak.md`, `soak.json`).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

/// One request of the mix.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Op {
    /// `sign_in`, `code_flow`, `refresh`, `client_credentials`, …
    pub kind: &'static str,
    /// When it started, seconds after the mix began.
    pub at_s: f64,
    /// How long it took, ms.
    pub ms: f64,
    /// Whether it got the answer it expected.
    pub ok: bool,
}

/// The row counts and the server's memory at one moment.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RowSample {
    /// Seconds after the mix began.
    pub at_s: f64,
    /// Resident memory, MiB.
    pub rss_mib: f64,
    /// Rows per table.
    pub rows: BTreeMap<String, i64>,
}

/// A table's rows over the soak.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableVerdict {
    /// The table.
    pub table: String,
    /// Mean rows over the middle third of the samples.
    pub middle_mean: f64,
    /// Mean rows over the last third.
    pub last_mean: f64,
    /// The most rows seen.
    pub max: i64,
    /// `levelled off`, `GROWING`, `constant`, `empty` or `too few samples`.
    pub verdict: String,
}

/// One housekeeping pass: from its scheduled start to the first `/metrics` read showing its
/// deletions (both seconds after the mix began).
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Pass {
    /// The scheduled start (server start + k × interval, the earliest it can be).
    pub start_s: f64,
    /// Its deletions first seen.
    pub end_s: f64,
}

/// Latency percentiles of some requests, ms.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Latency {
    /// Successful requests counted.
    pub ok: usize,
    /// Failed requests.
    pub failed: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Worst.
    pub max_ms: f64,
}

impl Latency {
    fn of<'a>(ops: impl Iterator<Item = &'a Op>) -> Self {
        let (mut ms, mut failed) = (Vec::new(), 0);
        for op in ops {
            if op.ok {
                ms.push(op.ms);
            } else {
                failed += 1;
            }
        }
        ms.sort_by(f64::total_cmp);
        let rank = |p: f64| crate::load::nearest_rank(&ms, p).unwrap_or(0.0);
        Self {
            ok: ms.len(),
            failed,
            p50_ms: rank(50.0),
            p99_ms: rank(99.0),
            max_ms: ms.last().copied().unwrap_or(0.0),
        }
    }
}

/// One backend's soak.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SoakResult {
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// The mix's length, s.
    pub seconds: u64,
    /// Between samples, s.
    pub sample_seconds: u64,
    /// The server's settings for the soak.
    pub settings: BTreeMap<String, String>,
    /// A verdict per table.
    pub tables: Vec<TableVerdict>,
    /// The samples themselves.
    pub samples: Vec<RowSample>,
    /// Highest RSS of the server, MiB.
    pub peak_rss_mib: f64,
    /// The RSS samples judged as a table's rows are (in KiB).
    pub rss_verdict: String,
    /// Every kind of request of the mix, whole soak.
    pub operations: BTreeMap<String, Latency>,
    /// Housekeeping passes seen.
    pub passes: Vec<Pass>,
    /// Rows housekeeping deleted per table (the server's counters).
    pub deleted: BTreeMap<String, u64>,
    /// `client_credentials` and `refresh` requests that overlapped a pass, and those that did not.
    pub during_passes: BTreeMap<String, Latency>,
    /// The same outside every pass.
    pub outside_passes: BTreeMap<String, Latency>,
}

/// The verdict on one table's counts (`counts` in sample order, the first taken before any load).
///
/// Levelled off: the mean of the last third of the samples is at most 10% (plus 10 rows) above the
/// mean of the middle third. Means over a third smooth the saw-tooth between housekeeping passes;
/// the lifetimes are chosen so that every table is at its steady state before the middle third
/// begins (`soak::settings`), and the load is paced, so a bounded table's two means differ only by
/// noise, while a table that grows without bound (linearly from zero: the last third's mean is 5/3 of
/// the middle's) is far past 10%. The 10 rows keep small, noisy tables (a handful of rows) from
/// failing on one row's difference.
pub fn verdict(counts: &[i64]) -> (f64, f64, &'static str) {
    let mean = |s: &[i64]| s.iter().sum::<i64>() as f64 / s.len().max(1) as f64;
    let after_start = counts.get(1..).unwrap_or_default();
    let third = after_start.len() / 3;
    let (middle, last) = (
        &after_start[third..after_start.len() - third],
        &after_start[after_start.len() - third..],
    );
    let (middle_mean, last_mean) = (mean(middle), mean(last));
    let verdict = if counts.iter().all(|n| *n == 0) {
        "empty"
    } else if counts.windows(2).all(|w| w[0] == w[1]) {
        "constant"
    } else if third < 2 {
        "too few samples"
    } else if last_mean <= middle_mean * 1.10 + 10.0 {
        "levelled off"
    } else {
        "GROWING"
    };
    (middle_mean, last_mean, verdict)
}

/// A window per pass end seen in `ends`: from the latest scheduled start (`spawned_s` + k ×
/// `interval`, k ≥ 1) before it, or the previous end if later.
pub fn pass_windows(ends: &[f64], spawned_s: f64, interval: f64) -> Vec<Pass> {
    let mut previous = f64::NEG_INFINITY;
    ends.iter()
        .map(|&end| {
            let k = ((end - spawned_s) / interval).floor().max(1.0);
            let start = (spawned_s + k * interval).min(end).max(previous);
            previous = end;
            Pass {
                start_s: start,
                end_s: end,
            }
        })
        .collect()
}

fn overlaps(op: &Op, pass: &Pass) -> bool {
    op.at_s <= pass.end_s && op.at_s + op.ms / 1000.0 >= pass.start_s
}

impl SoakResult {
    /// Judge the samples and split the latencies.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        backend: &str,
        duration: Duration,
        sample: Duration,
        settings: Vec<(&'static str, String)>,
        samples: Vec<RowSample>,
        ops: Vec<Op>,
        passes: Vec<Pass>,
        deleted: BTreeMap<String, u64>,
        peak_rss_mib: f64,
    ) -> Self {
        let tables = samples
            .first()
            .map(|s| s.rows.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .map(|table| {
                let counts: Vec<i64> = samples
                    .iter()
                    .map(|s| s.rows.get(&table).copied().unwrap_or(0))
                    .collect();
                let (middle_mean, last_mean, verdict) = verdict(&counts);
                TableVerdict {
                    max: counts.iter().copied().max().unwrap_or(0),
                    table,
                    middle_mean,
                    last_mean,
                    verdict: verdict.to_owned(),
                }
            })
            .collect();
        let rss: Vec<i64> = samples
            .iter()
            .map(|s| (s.rss_mib * 1024.0) as i64)
            .collect();
        let rss_verdict = verdict(&rss).2.to_owned();
        let mut operations = BTreeMap::new();
        for kind in ops.iter().map(|op| op.kind) {
            operations
                .entry(kind.to_owned())
                .or_insert_with(|| Latency::of(ops.iter().filter(|op| op.kind == kind)));
        }
        let (mut during_passes, mut outside_passes) = (BTreeMap::new(), BTreeMap::new());
        for kind in ["client_credentials", "refresh"] {
            let during = |op: &&Op| passes.iter().any(|p| overlaps(op, p));
            let of_kind = || ops.iter().filter(move |op| op.kind == kind);
            during_passes.insert(kind.to_owned(), Latency::of(of_kind().filter(during)));
            outside_passes.insert(
                kind.to_owned(),
                Latency::of(of_kind().filter(|op| !during(op))),
            );
        }
        Self {
            backend: backend.to_owned(),
            seconds: duration.as_secs(),
            sample_seconds: sample.as_secs(),
            settings: settings
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            tables,
            samples,
            peak_rss_mib,
            rss_verdict,
            operations,
            passes,
            deleted,
            during_passes,
            outside_passes,
        }
    }

    /// This backend's section of `soak.md`.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let settings: Vec<String> = self
            .settings
            .iter()
            .map(|(k, v)| format!("`{k}={v}`"))
            .collect();
        let _ = writeln!(
            out,
            "## {}\n\n{} s of the mix, a sample every {} s. Settings: {}.\n",
            self.backend,
            self.seconds,
            self.sample_seconds,
            settings.join(", ")
        );
        let _ = writeln!(
            out,
            "| table | rows, middle third (mean) | rows, last third (mean) | most | deleted by housekeeping | verdict |\n|---|---:|---:|---:|---:|---|"
        );
        for t in &self.tables {
            let deleted = self
                .deleted
                .get(&t.table)
                .map_or("—".to_owned(), u64::to_string);
            let _ = writeln!(
                out,
                "| {} | {:.0} | {:.0} | {} | {deleted} | {} |",
                t.table, t.middle_mean, t.last_mean, t.max, t.verdict
            );
        }
        let rss: Vec<String> = self
            .samples
            .iter()
            .map(|s| format!("{:.1}", s.rss_mib))
            .collect();
        let _ = writeln!(
            out,
            "\nRSS at each sample, MiB: {}; peak {:.1} MiB; {}.\n",
            rss.join(", "),
            self.peak_rss_mib,
            self.rss_verdict
        );
        let durations: Vec<f64> = self.passes.iter().map(|p| p.end_s - p.start_s).collect();
        let longest = durations.iter().copied().fold(0.0, f64::max);
        let _ = writeln!(
            out,
            "{} housekeeping passes seen (each from its scheduled start to the first `/metrics` read showing its deletions, read every 100 ms: at most {:.2} s).\n",
            self.passes.len(),
            longest
        );
        let _ = writeln!(
            out,
            "| requests | ok | failed | p50 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|"
        );
        let mut row = |label: &str, l: &Latency| {
            let _ = writeln!(
                out,
                "| {label} | {} | {} | {:.2} | {:.2} | {:.2} |",
                l.ok, l.failed, l.p50_ms, l.p99_ms, l.max_ms
            );
        };
        for (kind, latency) in &self.operations {
            row(kind, latency);
        }
        for (kind, latency) in &self.during_passes {
            row(&format!("{kind}, during a housekeeping pass"), latency);
        }
        for (kind, latency) in &self.outside_passes {
            row(&format!("{kind}, outside every pass"), latency);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_that_levels_off_passes_and_one_that_keeps_growing_does_not() {
        let levelled = [0, 40, 80, 100, 95, 104, 98, 101, 97, 103];
        assert_eq!(verdict(&levelled).2, "levelled off");
        let growing: Vec<i64> = (0..10).map(|n| n * 50).collect();
        assert_eq!(verdict(&growing).2, "GROWING");
        assert_eq!(verdict(&[3; 10]).2, "constant");
        assert_eq!(verdict(&[0; 10]).2, "empty");
        assert_eq!(verdict(&[0, 1, 2, 3]).2, "too few samples");
    }

    #[test]
    fn a_pass_window_starts_at_its_scheduled_tick() {
        let passes = pass_windows(&[10.3, 20.2], -0.05, 10.0);
        assert!((passes[0].start_s - 9.95).abs() < 1e-9);
        assert!((passes[1].start_s - 19.95).abs() < 1e-9);
        let op = |at_s, ms| Op {
            kind: "client_credentials",
            at_s,
            ms,
            ok: true,
        };
        assert!(overlaps(&op(9.9, 60.0), &passes[0]));
        assert!(!overlaps(&op(9.0, 5.0), &passes[0]));
    }
}
