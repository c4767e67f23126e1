//! What a job costs on each backend, as data: the analysis computes it (`analysis::costs`),
//! `results.json` keeps it, the reports show it.

use serde::{Deserialize, Serialize};

use crate::backend::BackendKind;

/// One backend's cost per job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendCost {
    pub backend: BackendKind,
    /// Median time from an item being handed out to its workload starting, ms: on `thread` and
    /// `async` from the driver's claim, on `process` from writing the item to an idle worker,
    /// on `process-per-item` from the spawn. `None` on `remote`, whose workers' clocks are other
    /// machines'.
    #[serde(default)]
    pub startup_ms: Option<f64>,
    /// How much the peak memory grows per extra item in flight, MB: the least-squares slope of
    /// the process tree's peak, less what the slots' idle workers hold (median over
    /// repetitions), against the throttle. `None` below two throttles.
    #[serde(default)]
    pub memory_per_job_mb: Option<f64>,
    /// R² of that line: how well "a fixed cost per job in flight" describes the points.
    #[serde(default)]
    pub memory_fit_r2: Option<f64>,
    /// What the backend holds per slot whatever its jobs do, MB: a worker process's own
    /// memory (`process`, see `PointResult::worker_rss_mb`; median over points) plus, where jobs
    /// run in processes of their own (`process`, `process-per-item`), the growth per slot of
    /// throttlebench's own peak (`PointResult::own_peak_rss_mb`, fitted over the throttles).
    /// `None` where jobs run inside throttlebench (`thread`, `async`: its growth is theirs) or
    /// on another machine (`remote`).
    #[serde(default, alias = "worker_mb_per_slot")]
    pub backend_mb_per_slot: Option<f64>,
    /// CPU (user + system, this process and every child it waited for, over the timed window)
    /// per successful item, ms, at the throttle of best goodput: each repetition's CPU over that
    /// repetition's successful items, then the median, so the two are on one basis.
    #[serde(default)]
    pub cpu_per_item_ms: Option<f64>,
    /// Best goodput (successful items/s, median over repetitions) and its throttle.
    pub best_goodput_per_s: f64,
    pub best_throttle: usize,
    /// What one crashing item takes down on this backend.
    pub crash_takes: String,
}
