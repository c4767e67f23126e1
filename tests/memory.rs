//! Memory stays flat however many items a point runs: outcomes go into histograms and counters,
//! never into a growing list of samples.

use throttlebench::backend::{BackendKind, Budget, PointJob};
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
    let job = PointJob::plain(&workload, &spec, 8, Budget::Items(ITEMS));
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
