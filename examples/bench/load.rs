//! Closed-loop and paced load with a fixed number of workers, latency percentiles.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What one phase measured.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Measured {
    /// Successful operations.
    pub ok: u64,
    /// Failed operations (unexpected status or transport error).
    pub failed: u64,
    /// Measured seconds (after warm-up).
    pub seconds: f64,
    /// Successful operations per second.
    pub per_second: f64,
    /// Latency percentiles of successful operations, milliseconds.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Worst.
    pub max_ms: f64,
}

impl Measured {
    /// ` (N failed)` after a figure, or nothing when every operation succeeded.
    pub fn failed_note(&self) -> String {
        if self.failed > 0 {
            format!(" ({} failed)", self.failed)
        } else {
            String::new()
        }
    }
}

/// The value at percentile `p` of `sorted` (nearest rank), if there is any value.
pub fn nearest_rank<T: Copy>(sorted: &[T], p: f64) -> Option<T> {
    let last = sorted.len().checked_sub(1)?;
    let rank = ((p / 100.0) * last as f64).round() as usize;
    Some(sorted[rank.min(last)])
}

/// Percentile `p` of latencies in microseconds, in milliseconds (0 when there are none).
fn percentile(sorted: &[u32], p: f64) -> f64 {
    nearest_rank(sorted, p).map_or(0.0, |us| f64::from(us) / 1000.0)
}

/// Merge per-worker results into one measurement.
fn summarise(results: Vec<(u64, Vec<u32>)>, seconds: f64) -> Measured {
    let failed: u64 = results.iter().map(|(f, _)| *f).sum();
    let mut latencies: Vec<u32> = results.into_iter().flat_map(|(_, l)| l).collect();
    latencies.sort_unstable();
    let ok = latencies.len() as u64;
    Measured {
        ok,
        failed,
        seconds,
        per_second: ok as f64 / seconds,
        p50_ms: percentile(&latencies, 50.0),
        p90_ms: percentile(&latencies, 90.0),
        p99_ms: percentile(&latencies, 99.0),
        max_ms: latencies.last().map_or(0.0, |v| f64::from(*v) / 1000.0),
    }
}

/// Run `workers` loops of `op` for `warmup + duration`; only operations started after the warm-up
/// count. `op(worker)` returns whether it succeeded. With `pace`, each worker starts one operation
/// per `pace` (open loop, for latency at a fixed rate); without, as fast as it can (closed loop).
pub async fn run<F, Fut>(
    workers: usize,
    warmup: Duration,
    duration: Duration,
    pace: Option<Duration>,
    op: F,
) -> Measured
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let op = Arc::new(op);
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let measure_from = start + warmup;
    let mut tasks = Vec::with_capacity(workers);
    for worker in 0..workers {
        let op = Arc::clone(&op);
        let stop = Arc::clone(&stop);
        tasks.push(tokio::spawn(async move {
            let mut failed = 0u64;
            let mut latencies = Vec::with_capacity(4096);
            // Spread paced workers evenly over one period.
            let mut next =
                pace.map(|p| Instant::now() + p.mul_f64(worker as f64 / workers.max(1) as f64));
            while !stop.load(Ordering::Relaxed) {
                if let (Some(at), Some(period)) = (next, pace) {
                    tokio::time::sleep_until(at.into()).await;
                    next = Some(at + period);
                }
                let began = Instant::now();
                let ok = op(worker).await;
                if began >= measure_from && !stop.load(Ordering::Relaxed) {
                    if ok {
                        latencies
                            .push(u32::try_from(began.elapsed().as_micros()).unwrap_or(u32::MAX));
                    } else {
                        failed += 1;
                    }
                }
            }
            (failed, latencies)
        }));
    }
    tokio::time::sleep_until((measure_from + duration).into()).await;
    stop.store(true, Ordering::Relaxed);
    let mut results = Vec::with_capacity(workers);
    for task in tasks {
        if let Ok(result) = task.await {
            results.push(result);
        }
    }
    summarise(results, duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_by_rank() {
        let sorted: Vec<u32> = (1..=100).map(|v| v * 1000).collect();
        assert_eq!(percentile(&sorted, 50.0), 51.0);
        assert_eq!(percentile(&sorted, 99.0), 99.0);
        assert_eq!(percentile(&[], 99.0), 0.0);
    }
}
