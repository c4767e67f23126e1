//! `rayon` against `thread`: per-item overhead on a no-op workload at 2 and 8 threads (what
//! work stealing's splitting costs against one shared counter), and sleep fidelity at 10 (how
//! close 10 pool threads come to 10 × the items of one on 20 ms sleeps).
//!
//! `cargo bench --bench rayon` — per-item time is the reported time divided by the elements;
//! for fidelity, the reported time per point against the ideal 20 ms × items / 10.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use serde_json::Value;
use throttlebench::backend::{BackendKind, Budget, PointJob};
use throttlebench::workload::{Registry, WorkloadSpec};

const NOOP_ITEMS: u64 = 200_000;
const SLEEP_ITEMS: u64 = 200;

fn spec(kind: &str, params: &[(&str, Value)]) -> WorkloadSpec {
    WorkloadSpec {
        kind: kind.into(),
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

/// The measured window of `backend` running `items` of `spec` at `throttle`, per iteration.
fn timed(
    c: &mut Criterion,
    group: &str,
    spec: &WorkloadSpec,
    items: u64,
    cases: &[(BackendKind, usize)],
) {
    let workload = Registry::builtin().build(spec).expect("workload builds");
    let mut group = c.benchmark_group(group);
    group.throughput(Throughput::Elements(items));
    group.sample_size(10);
    for &(kind, throttle) in cases {
        let backend = kind.create().expect("backend starts");
        group.bench_function(format!("{kind}/{throttle}"), |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let job = PointJob::plain(&workload, spec, throttle, Budget::Items(items));
                    let execution = backend.execute(&job).expect("point runs");
                    assert_eq!(execution.stats.ok, items);
                    // The timed window only: starting the pool is not per-item cost.
                    total += execution.wall;
                }
                total
            })
        });
    }
    group.finish();
}

fn per_item_overhead(c: &mut Criterion) {
    timed(
        c,
        "rayon_per_item_overhead",
        &spec("noop", &[]),
        NOOP_ITEMS,
        &[
            (BackendKind::Thread, 2),
            (BackendKind::Rayon, 2),
            (BackendKind::Thread, 8),
            (BackendKind::Rayon, 8),
        ],
    );
}

fn sleep_fidelity(c: &mut Criterion) {
    timed(
        c,
        "rayon_sleep_fidelity_20ms",
        &spec("sleep", &[("ms", Value::from(20))]),
        SLEEP_ITEMS,
        &[(BackendKind::Thread, 10), (BackendKind::Rayon, 10)],
    );
}

criterion_group!(benches, per_item_overhead, sleep_fidelity);
criterion_main!(benches);
