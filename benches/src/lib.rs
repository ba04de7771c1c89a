//! Benchmark helpers shared by the bench binaries: timing and medians.

use std::time::{Duration, Instant};

/// Runs `f` `n` times and returns the per-run durations, sorted.
pub fn sample<F: FnMut()>(n: usize, mut f: F) -> Vec<Duration> {
    let mut v: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    v.sort();
    v
}

/// The median of sorted samples.
pub fn median(sorted: &[Duration]) -> Duration {
    if sorted.is_empty() {
        Duration::ZERO
    } else {
        sorted[sorted.len() / 2]
    }
}

/// The given percentile (0-100) of sorted samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() - 1) as f64 * p / 100.0).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Milliseconds with three decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}
