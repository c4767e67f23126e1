//! The harness's own cost per item: a no-op workload through each in-process backend. What is
//! left after subtracting nothing is dispatch, two clock reads and a histogram record.
//!
//! `cargo bench --bench harness` — per-item time is the reported time divided by the elements.

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use throttlebench::backend::{BackendKind, Budget, PointJob};
use throttlebench::measure::WorkerStats;
use throttlebench::workload::{Registry, WorkloadSpec};

const ITEMS: u64 = 200_000;

fn point_overhead(c: &mut Criterion) {
    let spec = WorkloadSpec {
        kind: "noop".into(),
        params: Default::default(),
    };
    let workload = Registry::builtin().build(&spec).expect("noop builds");
    let mut group = c.benchmark_group("per_item_overhead");
    group.throughput(Throughput::Elements(ITEMS));
    group.sample_size(20);
    for (kind, throttle) in [
        (BackendKind::Sequential, 1),
        (BackendKind::Thread, 2),
        (BackendKind::Thread, 8),
        (BackendKind::Async, 2),
    ] {
        let backend = kind.create().expect("backend starts");
        group.bench_function(format!("{kind}/{throttle}"), |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let job = PointJob::plain(&workload, &spec, throttle, Budget::Items(ITEMS));
                    let execution = backend.execute(&job).expect("point runs");
                    assert_eq!(execution.stats.ok, ITEMS);
                    // Wall time of the measured phase only: thread start-up is not per-item cost.
                    total += execution.wall;
                }
                total
            })
        });
    }
    group.finish();
}

fn record_cost(c: &mut Criterion) {
    c.bench_function("worker_stats_record", |b| {
        let mut stats = WorkerStats::new();
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            stats.record(n, Duration::from_micros(n % 50_000), Ok(()));
        })
    });
    c.bench_function("instant_now_pair", |b| {
        b.iter(|| {
            let a = Instant::now();
            std::hint::black_box(Instant::now() - a)
        })
    });
}

criterion_group!(benches, point_overhead, record_cost);
criterion_main!(benches);
