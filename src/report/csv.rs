//! `results.csv` (one row per point, the schema in DESIGN.md) and `failures.csv` (sample failed
//! items). The column list is a contract: new columns go at the end, none is ever renamed.

use super::Exporter;
use crate::results::{PointResult, SweepResult};

/// The columns of `results.csv`, in order.
pub const COLUMNS: [&str; 45] = [
    "workload",
    "backend",
    "throttle",
    "repetition",
    "items",
    "ok",
    "failed",
    "timed_out",
    "wall_s",
    "throughput_per_s",
    "speedup",
    "efficiency",
    "lat_mean_ms",
    "lat_p50_ms",
    "lat_p90_ms",
    "lat_p99_ms",
    "lat_p999_ms",
    "lat_max_ms",
    "cpu_user_s",
    "cpu_sys_s",
    "rss_before_mb",
    "rss_after_mb",
    "mem_delta_mb",
    "peak_rss_mb",
    "max_inflight",
    "startup_ms",
    "retried",
    "goodput_per_s",
    "error_pct",
    "rx_bytes",
    "tx_bytes",
    "rx_mb_per_s",
    "disk_bytes_per_item",
    "disk_mb_per_s",
    "disk_iops",
    "worker_rss_mb",
    "own_peak_rss_mb",
    "offered_per_s",
    "late",
    "svc_p50_ms",
    "svc_p90_ms",
    "svc_p99_ms",
    "slots",
    "late_start_ms",
    "overran",
];

/// One CSV row of a point, in `COLUMNS` order.
/// Figures that do not exist (latency with no successful item) are empty cells, never 0.
pub fn row(p: &PointResult) -> Vec<String> {
    let f = |x: f64, decimals: usize| format!("{x:.decimals$}");
    let opt = |x: Option<f64>, decimals: usize| x.map(|x| f(x, decimals)).unwrap_or_default();
    vec![
        p.workload.clone(),
        p.backend_label(),
        p.throttle.to_string(),
        p.repetition.to_string(),
        p.items.to_string(),
        p.ok.to_string(),
        p.failed.to_string(),
        p.timed_out.to_string(),
        f(p.wall_s, 6),
        f(p.throughput_per_s, 3),
        opt(p.speedup, 4),
        opt(p.efficiency, 4),
        opt(p.lat_mean_ms, 3),
        opt(p.lat_p50_ms, 3),
        opt(p.lat_p90_ms, 3),
        opt(p.lat_p99_ms, 3),
        opt(p.lat_p999_ms, 3),
        opt(p.lat_max_ms, 3),
        f(p.cpu_user_s, 3),
        f(p.cpu_sys_s, 3),
        f(p.rss_before_mb, 2),
        f(p.rss_after_mb, 2),
        f(p.mem_delta_mb, 2),
        f(p.peak_rss_mb, 2),
        p.max_inflight.to_string(),
        opt(p.startup_ms, 6),
        p.retried.to_string(),
        f(p.goodput_per_s, 3),
        opt(p.error_pct, 3),
        p.rx_bytes.map(|n| n.to_string()).unwrap_or_default(),
        p.tx_bytes.map(|n| n.to_string()).unwrap_or_default(),
        opt(p.rx_mb_per_s, 3),
        p.disk_bytes_per_item
            .map(|n| n.to_string())
            .unwrap_or_default(),
        opt(p.disk_mb_per_s, 3),
        opt(p.disk_iops, 3),
        opt(p.worker_rss_mb, 2),
        opt(p.own_peak_rss_mb, 2),
        opt(p.offered_per_s, 3),
        p.late.to_string(),
        opt(p.svc_p50_ms, 3),
        opt(p.svc_p90_ms, 3),
        opt(p.svc_p99_ms, 3),
        p.slots.map(|n| n.to_string()).unwrap_or_default(),
        opt(p.late_start_ms, 1),
        p.overran.map(|o| o.to_string()).unwrap_or_default(),
    ]
}

pub struct ResultsCsv;

impl Exporter for ResultsCsv {
    fn file_name(&self) -> &'static str {
        "results.csv"
    }

    fn serialize(&self, sweep: &SweepResult) -> anyhow::Result<Vec<u8>> {
        let mut out = ::csv::Writer::from_writer(Vec::new());
        out.write_record(COLUMNS)?;
        for point in sweep
            .points
            .iter()
            .chain(&sweep.open_loop)
            .chain(&sweep.limited)
        {
            out.write_record(row(point))?;
        }
        out.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// The columns of `failures.csv`, in order.
pub const FAILURE_COLUMNS: [&str; 7] = [
    "backend",
    "throttle",
    "repetition",
    "item",
    "attempt",
    "error_kind",
    "message",
];

pub struct FailuresCsv;

impl Exporter for FailuresCsv {
    fn file_name(&self) -> &'static str {
        "failures.csv"
    }

    fn serialize(&self, sweep: &SweepResult) -> anyhow::Result<Vec<u8>> {
        let mut out = ::csv::Writer::from_writer(Vec::new());
        out.write_record(FAILURE_COLUMNS)?;
        for p in &sweep.points {
            for f in &p.failures {
                out.write_record([
                    p.backend.to_string(),
                    p.throttle.to_string(),
                    p.repetition.to_string(),
                    f.item.to_string(),
                    f.attempt.to_string(),
                    f.kind.clone(),
                    f.message.clone(),
                ])?;
            }
        }
        out.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
    }
}
