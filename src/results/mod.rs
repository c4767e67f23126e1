//! What a sweep produces: one flat `PointResult` per (backend, throttle, repetition) — a CSV row
//! plus the details only JSON can hold — and the `SweepResult` around them, with the warnings
//! and what the analysis concluded.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub mod costs;
pub mod findings;
pub mod limited;
pub mod shards;
pub mod warning;

use crate::backend::hosts::HostResult;
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
    /// Every ended item per second, failures included: how fast items were disposed of. Not
    /// work: `goodput_per_s` is.
    pub throughput_per_s: f64,
    /// Goodput against the baseline's goodput; `None` when either had no successful item.
    pub speedup: Option<f64>,
    pub efficiency: Option<f64>,
    /// Latency of successful items; `None` when no item succeeded (never 0).
    pub lat_mean_ms: Option<f64>,
    pub lat_p50_ms: Option<f64>,
    pub lat_p90_ms: Option<f64>,
    pub lat_p99_ms: Option<f64>,
    pub lat_p999_ms: Option<f64>,
    pub lat_max_ms: Option<f64>,
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
    /// Successful items per second: the work done. Speedup, the fit, the knee, the
    /// recommendation and `compare` use this.
    #[serde(default)]
    pub goodput_per_s: f64,
    /// Failed and timed-out items as a percentage of the items that ended; `None` when none did.
    #[serde(default)]
    pub error_pct: Option<f64>,
    /// Bytes received and sent by the items (`http`: answer heads and bodies, requests), failed
    /// items included; `None` for workloads that move no bytes.
    #[serde(default)]
    pub rx_bytes: Option<u64>,
    #[serde(default)]
    pub tx_bytes: Option<u64>,
    /// `rx_bytes` per second of `wall_s`, in MB (2^20 bytes, as the memory columns).
    #[serde(default)]
    pub rx_mb_per_s: Option<f64>,
    /// Latency of failed and timed-out items (a timeout counts its limit), apart from the
    /// successful ones'; `None` when nothing failed.
    #[serde(default)]
    pub failed_lat_p50_ms: Option<f64>,
    #[serde(default)]
    pub failed_lat_p99_ms: Option<f64>,
    #[serde(default)]
    pub failed_lat_max_ms: Option<f64>,
    /// CPU (user + system) spent before the timed window opened: starting threads or worker
    /// processes and warming up. Not in `cpu_user_s`/`cpu_sys_s`, which cover `wall_s` only.
    #[serde(default)]
    pub setup_cpu_s: Option<f64>,
    /// Open loop: the offered rate, items/s; `None` for a closed-loop point. In open loop the
    /// `lat_*` columns run from each item's intended start (what coordinated omission would
    /// hide) and `svc_*` from its actual start; closed-loop rows carry the same figures in both.
    #[serde(default)]
    pub offered_per_s: Option<f64>,
    /// Open loop: items that started more than 1 ms after their intended time.
    #[serde(default)]
    pub late: u64,
    /// Service time of successful items, from their actual start.
    #[serde(default)]
    pub svc_p50_ms: Option<f64>,
    #[serde(default)]
    pub svc_p90_ms: Option<f64>,
    #[serde(default)]
    pub svc_p99_ms: Option<f64>,
    /// Open loop: the successful items' service-time histogram (from the actual start), encoded
    /// as `histogram`, so that shards' service times add up exactly; empty in closed loop,
    /// where `histogram` is the service time.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub svc_histogram: String,
    /// Open loop, beyond the CSV: the generator's lag, intended to actual start, every item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag: Option<LagSummary>,
    /// Beyond the CSV: failed and timed-out items by error kind.
    #[serde(default)]
    pub errors: BTreeMap<String, u64>,
    /// A few failures as examples, for `failures.csv` and the report.
    #[serde(default)]
    pub failures: Vec<Failure>,
    /// Σ item time / wall time: the concurrency actually achieved (Little's law).
    #[serde(default)]
    pub achieved_concurrency: f64,
    /// The successful items' latency histogram (µs), HdrHistogram V2 + deflate, base64.
    #[serde(default)]
    pub histogram: String,
    /// The failed and timed-out items' latency histogram, encoded the same way.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub failed_histogram: String,
    /// Remote points: what each host did; the point's histogram is the merge of theirs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostResult>,
    /// File I/O workloads (`disk`): bytes one successful item reads and writes, and the
    /// successful items' bytes per second of `wall_s` in MB (2^20 bytes, as every MB here) and
    /// their read and write calls per second (IOPS). `None` for workloads without file I/O.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_bytes_per_item: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_mb_per_s: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_iops: Option<f64>,
    /// A shard's point (`--shard K/N`): the throttle slots this shard ran of `throttle`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slots: Option<usize>,
    /// A scheduled point (`--start-at`): how long after its window opened it started, and
    /// whether it ran past its window into the next point's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late_start_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overran: Option<bool>,
    /// A merged point (`merge`): what each shard did; the point is their sum.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<shards::ShardPart>,
    /// Per-item events (`--trace`); written to `items.jsonl`, not to `results.json`.
    #[serde(skip)]
    pub trace: Vec<TraceEvent>,
    /// `process`: Σ over slots of what the slot's worker holds itself, MB — what the backend
    /// holds per slot whatever the items do, part of `peak_rss_mb`: for `command` items the
    /// worker's own peak (its programs are the jobs), otherwise its peak when ready, before any
    /// measured item (the job runs inside it). `None` where no worker process holds a slot
    /// (and on `remote`, whose workers are other machines').
    #[serde(default)]
    pub worker_rss_mb: Option<f64>,
    /// The peak of throttlebench's own process alone, MB, part of `peak_rss_mb`: on the
    /// backends whose jobs run elsewhere (`process`, `process-per-item`) its growth with the
    /// throttle is the backend's (a thread, buffers and a record per slot), never a job's.
    /// `None` where the kernel's account covered the whole tree at once (cgroup v2).
    #[serde(default)]
    pub own_peak_rss_mb: Option<f64>,
    /// A limiter's point: which limiter and its limit over time; `throttle` is where it settled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limiter: Option<limited::LimiterTrack>,
}

/// How far behind its schedule an open-loop generator started items.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LagSummary {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl PointResult {
    /// Whether this point is open loop (measured at an offered rate).
    pub fn is_open_loop(&self) -> bool {
        self.offered_per_s.is_some()
    }

    /// The backend as rows name it: `async`, or `async+vegas` for a limiter's point, with the
    /// parameters given (`async+vegas:alpha=2`), so that one algorithm can run several ways.
    pub fn backend_label(&self) -> String {
        match &self.limiter {
            Some(track) => format!("{}+{}", self.backend, track.limiter),
            None => self.backend.to_string(),
        }
    }

    /// Whether this point is the sequential baseline.
    pub fn is_baseline(&self) -> bool {
        self.backend == BackendKind::Sequential
    }

    /// Fills the disk columns from what one successful item moves. Failed items are left out,
    /// as from goodput: how far a failed write got is not known.
    pub fn set_disk_io(&mut self, bytes_per_item: u64, calls_per_item: u64) {
        let per_s = |n: f64| {
            if self.wall_s > 0.0 {
                n / self.wall_s
            } else {
                0.0
            }
        };
        self.disk_bytes_per_item = Some(bytes_per_item);
        self.disk_mb_per_s = Some(per_s(self.ok as f64 * bytes_per_item as f64 / MB));
        self.disk_iops = Some(per_s(self.ok as f64 * calls_per_item as f64));
    }
}

/// Bytes in a MB, in every MB column (memory, transfer, disk): 2^20, fio's MiB.
pub const MB: f64 = 1024.0 * 1024.0;

/// A whole sweep: the spec it ran, where, and every point measured so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepResult {
    pub format_version: u32,
    pub spec: RunSpec,
    pub environment: Environment,
    pub started_at: String,
    #[serde(default)]
    pub finished_at: Option<String>,
    /// Median throughput of the sequential baseline, items/s (every ended item).
    #[serde(default)]
    pub baseline_throughput_per_s: Option<f64>,
    /// Median goodput of the sequential baseline, successful items/s: what speedup divides by.
    /// `None` until a baseline repetition had a successful item.
    #[serde(default)]
    pub baseline_goodput_per_s: Option<f64>,
    /// Closed-loop points (the baseline and every throttle).
    pub points: Vec<PointResult>,
    /// Open-loop points (`--rates`), kept apart: speedup, the fit and the knee are closed-loop
    /// figures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open_loop: Vec<PointResult>,
    /// Limiters' points (`--limiter`), one per backend and limiter: apart from `points`, which
    /// are all static throttles.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limited: Vec<PointResult>,
    #[serde(default)]
    pub warnings: Vec<String>,
    /// True when the sweep was stopped (Ctrl-C) before every point ran.
    #[serde(default)]
    pub interrupted: bool,
    /// Why the sweep ended before its plan did, other than Ctrl-C: a baseline with no
    /// successful item (without `--ignore-failures`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// What the points mean: scalability fit, knee, recommendation. Filled after the sweep.
    #[serde(default)]
    pub analysis: Option<findings::Analysis>,
}

/// 2: goodput, error share and failure latency apart; latency and speedup may be absent.
pub const FORMAT_VERSION: u32 = 2;

/// Failed and timed-out items as a percentage of all that ended; `None` when none ended.
pub fn error_pct(ok: u64, bad: u64) -> Option<f64> {
    let total = ok + bad;
    (total > 0).then(|| bad as f64 / total as f64 * 100.0)
}

/// The median of the values that exist; `None` when none does.
pub fn median_of(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    median(&mut values.into_iter().flatten().collect::<Vec<_>>())
}

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
/// counts. What the console table and charts show. Latency and speedup are medians over the
/// repetitions that had a successful item; `None` when none had.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub backend: BackendKind,
    pub throttle: usize,
    pub repetitions: usize,
    /// Items of all repetitions together.
    pub items: u64,
    /// Items of one repetition (median): the basis of the CPU and memory columns.
    pub items_per_rep: u64,
    pub ok: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub retried: u64,
    /// Every ended item per second (median).
    pub throughput_per_s: f64,
    /// Successful items per second (median): the work.
    pub goodput_per_s: f64,
    /// Failed and timed-out share of all items of all repetitions, percent.
    pub error_pct: Option<f64>,
    pub speedup: Option<f64>,
    pub efficiency: Option<f64>,
    pub lat_p50_ms: Option<f64>,
    pub lat_p99_ms: Option<f64>,
    pub lat_max_ms: Option<f64>,
    pub cpu_s: f64,
    pub mem_delta_mb: f64,
    pub peak_rss_mb: f64,
    pub max_inflight: usize,
    /// Received MB/s (median); `None` for workloads that move no bytes.
    pub rx_mb_per_s: Option<f64>,
    /// File I/O (median MB/s and IOPS, bytes per item); `None` for workloads without it.
    pub disk_mb_per_s: Option<f64>,
    pub disk_iops: Option<f64>,
    pub disk_bytes_per_item: Option<u64>,
    /// (max − min) / median of goodput across repetitions.
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
    let med_opt = |f: fn(&PointResult) -> Option<f64>| median_of(reps.iter().map(|p| f(p)));
    let goodputs: Vec<f64> = reps.iter().map(|p| p.goodput_per_s).collect();
    let (lo, hi) = goodputs
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    let mid = med(|p| p.goodput_per_s);
    let ok: u64 = reps.iter().map(|p| p.ok).sum();
    let failed: u64 = reps.iter().map(|p| p.failed).sum();
    let timed_out: u64 = reps.iter().map(|p| p.timed_out).sum();
    Summary {
        backend,
        throttle,
        repetitions: reps.len(),
        items: reps.iter().map(|p| p.items).sum(),
        items_per_rep: med(|p| p.items as f64).round() as u64,
        ok,
        failed,
        timed_out,
        retried: reps.iter().map(|p| p.retried).sum(),
        throughput_per_s: med(|p| p.throughput_per_s),
        goodput_per_s: mid,
        error_pct: error_pct(ok, failed + timed_out),
        speedup: med_opt(|p| p.speedup),
        efficiency: med_opt(|p| p.efficiency),
        lat_p50_ms: med_opt(|p| p.lat_p50_ms),
        lat_p99_ms: med_opt(|p| p.lat_p99_ms),
        lat_max_ms: reps.iter().filter_map(|p| p.lat_max_ms).reduce(f64::max),
        cpu_s: med(|p| p.cpu_user_s + p.cpu_sys_s),
        mem_delta_mb: med(|p| p.mem_delta_mb),
        peak_rss_mb: med(|p| p.peak_rss_mb),
        max_inflight: reps.iter().map(|p| p.max_inflight).max().unwrap_or(0),
        rx_mb_per_s: med_opt(|p| p.rx_mb_per_s),
        disk_mb_per_s: med_opt(|p| p.disk_mb_per_s),
        disk_iops: med_opt(|p| p.disk_iops),
        disk_bytes_per_item: reps.iter().find_map(|p| p.disk_bytes_per_item),
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

    #[test]
    fn no_item_ended_is_no_error_share() {
        assert_eq!(error_pct(0, 0), None);
        assert_eq!(error_pct(3, 1), Some(25.0));
        assert_eq!(median_of([None, Some(2.0), Some(4.0)]), Some(3.0));
        assert_eq!(median_of([None, None]), None);
    }
}
