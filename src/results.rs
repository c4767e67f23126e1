//! What a sweep produces: one flat `PointResult` per (backend, throttle, repetition) — a CSV row
//! plus the details only JSON can hold — and the `SweepResult` around them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::backend::BackendKind;
use crate::measure::environment::Environment;
use crate::measure::timeline::TraceEvent;
use crate::measure::Failure;
use crate::spec::RunSpec;

/// One measured point. The first fields, in order, are the `results.csv` columns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PointResult {
    pub workload: String,
    pub backend: BackendKind,
    pub throttle: usize,
    pub repetition: u32,
    pub items: u64,
    pub ok: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub wall_s: f64,
    pub throughput_per_s: f64,
    pub speedup: f64,
    pub efficiency: f64,
    pub lat_mean_ms: f64,
    pub lat_p50_ms: f64,
    pub lat_p90_ms: f64,
    pub lat_p99_ms: f64,
    pub lat_p999_ms: f64,
    pub lat_max_ms: f64,
    pub cpu_user_s: f64,
    pub cpu_sys_s: f64,
    pub rss_before_mb: f64,
    pub rss_after_mb: f64,
    pub mem_delta_mb: f64,
    pub peak_rss_mb: f64,
    pub max_inflight: usize,
    pub startup_ms: Option<f64>,
    /// Items that needed more than one attempt (`--retries`).
    #[serde(default)]
    pub retried: u64,
    /// Beyond the CSV: failed and timed-out items by error kind.
    #[serde(default)]
    pub errors: BTreeMap<String, u64>,
    /// A few failures as examples, for `failures.csv` and the report.
    #[serde(default)]
    pub failures: Vec<Failure>,
    /// Σ item time / wall time: the concurrency actually achieved (Little's law).
    #[serde(default)]
    pub achieved_concurrency: f64,
    /// The latency histogram (µs), HdrHistogram V2 + deflate, base64.
    #[serde(default)]
    pub histogram: String,
    /// Remote points: what each host did; the point's histogram is the merge of theirs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<crate::backend::hosts::HostResult>,
    /// Per-item events (`--trace`); written to `items.jsonl`, not to `results.json`.
    #[serde(skip)]
    pub trace: Vec<TraceEvent>,
}

impl PointResult {
    /// Whether this point is the sequential baseline.
    pub fn is_baseline(&self) -> bool {
        self.backend == BackendKind::Sequential
    }
}

/// A whole sweep: the spec it ran, where, and every point measured so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepResult {
    pub format_version: u32,
    pub spec: RunSpec,
    pub environment: Environment,
    pub started_at: String,
    #[serde(default)]
    pub finished_at: Option<String>,
    /// Median throughput of the sequential baseline, items/s.
    #[serde(default)]
    pub baseline_throughput_per_s: Option<f64>,
    pub points: Vec<PointResult>,
    #[serde(default)]
    pub warnings: Vec<String>,
    /// True when the sweep was stopped (Ctrl-C) before every point ran.
    #[serde(default)]
    pub interrupted: bool,
    /// What the points mean: scalability fit, knee, recommendation. Filled after the sweep.
    #[serde(default)]
    pub analysis: Option<crate::analysis::Analysis>,
}

pub const FORMAT_VERSION: u32 = 1;

/// The median of some numbers (the mean of the middle two for an even count).
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 0 {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

/// A point's repetitions folded into one row: medians of the rates and latencies, sums of the
/// counts. What the console table and charts show.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub backend: BackendKind,
    pub throttle: usize,
    pub repetitions: usize,
    pub items: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub retried: u64,
    pub throughput_per_s: f64,
    pub speedup: f64,
    pub efficiency: f64,
    pub lat_p50_ms: f64,
    pub lat_p99_ms: f64,
    pub lat_max_ms: f64,
    pub cpu_s: f64,
    pub mem_delta_mb: f64,
    pub peak_rss_mb: f64,
    pub max_inflight: usize,
    /// (max − min) / median of throughput across repetitions.
    pub spread: f64,
}

impl SweepResult {
    /// One summary per (backend, throttle), baseline first, then in sweep order.
    pub fn summaries(&self) -> Vec<Summary> {
        let mut keys: Vec<(BackendKind, usize)> = Vec::new();
        for p in &self.points {
            if !keys.contains(&(p.backend, p.throttle)) {
                keys.push((p.backend, p.throttle));
            }
        }
        keys.sort_by_key(|(b, t)| (*b != BackendKind::Sequential, self.backend_order(*b), *t));
        keys.into_iter()
            .map(|(backend, throttle)| {
                let reps: Vec<&PointResult> = self
                    .points
                    .iter()
                    .filter(|p| p.backend == backend && p.throttle == throttle)
                    .collect();
                summarize(backend, throttle, &reps)
            })
            .collect()
    }

    fn backend_order(&self, backend: BackendKind) -> usize {
        self.spec
            .sweep
            .backends
            .iter()
            .position(|b| *b == backend)
            .unwrap_or(usize::MAX)
    }
}

fn summarize(backend: BackendKind, throttle: usize, reps: &[&PointResult]) -> Summary {
    let med = |f: fn(&PointResult) -> f64| {
        median(&mut reps.iter().map(|p| f(p)).collect::<Vec<_>>()).unwrap_or(0.0)
    };
    let throughputs: Vec<f64> = reps.iter().map(|p| p.throughput_per_s).collect();
    let (lo, hi) = throughputs
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    let mid = med(|p| p.throughput_per_s);
    Summary {
        backend,
        throttle,
        repetitions: reps.len(),
        items: reps.iter().map(|p| p.items).sum(),
        failed: reps.iter().map(|p| p.failed).sum(),
        timed_out: reps.iter().map(|p| p.timed_out).sum(),
        retried: reps.iter().map(|p| p.retried).sum(),
        throughput_per_s: mid,
        speedup: med(|p| p.speedup),
        efficiency: med(|p| p.efficiency),
        lat_p50_ms: med(|p| p.lat_p50_ms),
        lat_p99_ms: med(|p| p.lat_p99_ms),
        lat_max_ms: reps.iter().map(|p| p.lat_max_ms).fold(0.0, f64::max),
        cpu_s: med(|p| p.cpu_user_s + p.cpu_sys_s),
        mem_delta_mb: med(|p| p.mem_delta_mb),
        peak_rss_mb: med(|p| p.peak_rss_mb),
        max_inflight: reps.iter().map(|p| p.max_inflight).max().unwrap_or(0),
        spread: if mid > 0.0 && reps.len() > 1 {
            (hi - lo) / mid
        } else {
            0.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }
}
