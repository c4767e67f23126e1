//! What one shard did in a merged point (`shards` in results.json): the per-shard breakdown of
//! a run added up by `merge`, as the per-host one of a remote point.

use serde::{Deserialize, Serialize};

/// One shard's part of a merged point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardPart {
    /// `K/N`.
    pub shard: String,
    /// Throttle slots this shard ran.
    pub slots: usize,
    pub items: u64,
    pub ok: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub wall_s: f64,
    pub goodput_per_s: f64,
    /// p99 of this shard's successful items; `None` when none succeeded.
    pub lat_p99_ms: Option<f64>,
    pub cpu_s: f64,
    pub peak_rss_mb: f64,
    /// How long after its window opened this shard started the point.
    pub late_start_ms: Option<f64>,
    /// Whether the shard's point ran past its window (into the next point's).
    pub overran: bool,
}
