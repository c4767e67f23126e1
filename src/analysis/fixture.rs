//! Synthetic sweeps for unit tests: points whose numbers follow from an item time, with a
//! small fixed spread across repetitions, so comparisons and exports can be checked exactly.

use crate::backend::BackendKind;
use crate::measure::environment::Environment;
use crate::results::{PointResult, SweepResult, FORMAT_VERSION};
use crate::spec::{RunSpec, SweepSettings};
use crate::workload::WorkloadSpec;

/// Relative spread of the repetitions: ±1%.
const JITTER: [f64; 5] = [1.0, 1.01, 0.99, 1.005, 0.995];

pub fn point(backend: BackendKind, throttle: usize, repetition: u32, item_ms: f64) -> PointResult {
    let j = JITTER[(repetition as usize - 1) % JITTER.len()];
    let ms = item_ms * j;
    PointResult {
        workload: "sleep".into(),
        backend,
        throttle,
        repetition,
        items: 1000,
        ok: 1000,
        failed: 0,
        timed_out: 0,
        wall_s: 1000.0 * ms / 1000.0 / throttle as f64,
        throughput_per_s: throttle as f64 * 1000.0 / ms,
        goodput_per_s: throttle as f64 * 1000.0 / ms,
        error_pct: Some(0.0),
        rx_bytes: None,
        tx_bytes: None,
        rx_mb_per_s: None,
        disk_bytes_per_item: None,
        disk_mb_per_s: None,
        disk_iops: None,
        failed_lat_p50_ms: None,
        failed_lat_p99_ms: None,
        failed_lat_max_ms: None,
        setup_cpu_s: None,
        speedup: Some(throttle as f64),
        efficiency: Some(1.0),
        lat_mean_ms: Some(ms),
        lat_p50_ms: Some(ms),
        lat_p90_ms: Some(ms * 1.02),
        lat_p99_ms: Some(ms * 1.05),
        lat_p999_ms: Some(ms * 1.06),
        lat_max_ms: Some(ms * 1.06),
        cpu_user_s: 0.001,
        cpu_sys_s: 0.001,
        rss_before_mb: 4.0,
        rss_after_mb: 4.0,
        mem_delta_mb: 0.0,
        peak_rss_mb: 4.0 + throttle as f64 * 0.1,
        max_inflight: throttle,
        startup_ms: None,
        retried: 0,
        offered_per_s: None,
        late: 0,
        svc_p50_ms: Some(ms),
        svc_p90_ms: Some(ms * 1.02),
        svc_p99_ms: Some(ms * 1.05),
        svc_histogram: String::new(),
        lag: None,
        hosts: Vec::new(),
        errors: Default::default(),
        failures: Vec::new(),
        achieved_concurrency: throttle as f64,
        histogram: String::new(),
        failed_histogram: String::new(),
        slots: None,
        late_start_ms: None,
        overran: None,
        shards: Vec::new(),
        trace: Vec::new(),
        worker_rss_mb: None,
        own_peak_rss_mb: None,
        limiter: None,
    }
}

/// A sleep sweep (param ms = 20) whose items take `item_ms`: the baseline, thread ×1 and ×4,
/// async ×4, each repeated `reps` times.
pub fn sweep(item_ms: f64, reps: u32) -> SweepResult {
    let keys = [
        (BackendKind::Sequential, 1),
        (BackendKind::Thread, 1),
        (BackendKind::Thread, 4),
        (BackendKind::Async, 4),
    ];
    let mut points = Vec::new();
    for rep in 1..=reps {
        for (backend, throttle) in keys {
            points.push(point(backend, throttle, rep, item_ms));
        }
    }
    let mut spec = RunSpec {
        name: "sleep".into(),
        description: None,
        workload: WorkloadSpec {
            kind: "sleep".into(),
            params: Default::default(),
        },
        sweep: SweepSettings {
            backends: vec![BackendKind::Thread, BackendKind::Async],
            limits: vec![1, 4],
            repeat: reps,
            ..SweepSettings::default()
        },
    };
    spec.workload.params.insert("ms".into(), 20.into());
    SweepResult {
        format_version: FORMAT_VERSION,
        spec,
        environment: Environment {
            cpu_model: "test cpu".into(),
            cores: 2,
            os: "test".into(),
            kernel: "test".into(),
            hostname: "test".into(),
            throttlebench_version: "0".into(),
            git_commit: Some("abc123".into()),
            peak_rss_method: "clear-refs".into(),
        },
        started_at: "2026-01-01T00:00:00Z".into(),
        finished_at: None,
        baseline_throughput_per_s: Some(1000.0 / item_ms),
        baseline_goodput_per_s: Some(1000.0 / item_ms),
        points,
        open_loop: Vec::new(),
        limited: Vec::new(),
        warnings: Vec::new(),
        interrupted: false,
        stopped: None,
        analysis: None,
    }
}
