//! Memory stays flat however many items a point runs: outcomes go into histograms and counters,
//! never into a growing list of samples.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use throttlebench::backend::retry::RetryPolicy;
use throttlebench::backend::{BackendKind, Budget, PointJob, PointProgress};
use throttlebench::measure::memory::{rss_bytes, PeakWatch};
use throttlebench::workload::{Registry, WorkloadSpec};

#[test]
fn ten_million_noop_items_at_throttle_8_grow_rss_by_less_than_16_mb() {
    const ITEMS: u64 = 10_000_000;
    let spec = WorkloadSpec {
        kind: "noop".into(),
        params: Default::default(),
    };
    let workload = Registry::builtin().build(&spec).unwrap();
    let backend = BackendKind::Thread.create().unwrap();
    let before = rss_bytes().unwrap();
    let peak = PeakWatch::start();
    let job = PointJob {
        workload: &workload,
        spec: &spec,
        throttle: 8,
        budget: Budget::Items(ITEMS),
        warmup: 0,
        timeout: None,
        retry: RetryPolicy::none(),
        trace: false,
        progress: Arc::new(PointProgress::new(8)),
        stop: Arc::new(AtomicBool::new(false)),
    };
    let execution = backend.execute(&job).unwrap();
    let (peak, _) = peak.finish();
    assert_eq!(execution.stats.ok, ITEMS);
    assert_eq!(execution.max_inflight, 8);
    let growth = peak.unwrap().saturating_sub(before);
    assert!(
        growth < 16 << 20,
        "peak RSS grew by {:.1} MB",
        growth as f64 / (1 << 20) as f64
    );
}
