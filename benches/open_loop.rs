//! The open loop's own cost per item: a no-op workload offered far faster than it can be run,
//! so every item is already due when a lane claims it, beside the same point in closed loop.
//! The difference is the schedule: a claim that is never batched, the due time, the lag and its
//! histogram. Poisson arrivals are drawn before the timed window, so they cost nothing here.
//!
//! `cargo bench --bench open_loop` — per-item time is the reported time divided by the elements.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use throttlebench::backend::{Arrival, BackendKind, Budget, OpenLoopJob, PointJob};
use throttlebench::workload::{Registry, WorkloadSpec};

const ITEMS: u64 = 100_000;
/// Far above what a no-op item through the driver reaches: every item is late, none waits.
const FLOOD: f64 = 1e9;

fn scheduler_per_item(c: &mut Criterion) {
    let spec = WorkloadSpec {
        kind: "noop".into(),
        params: Default::default(),
    };
    let workload = Registry::builtin().build(&spec).expect("noop builds");
    let mut group = c.benchmark_group("open_loop_per_item");
    group.throughput(Throughput::Elements(ITEMS));
    group.sample_size(20);
    let modes: [(&str, Option<Arrival>); 3] = [
        ("closed", None),
        ("constant", Some(Arrival::Constant)),
        ("poisson", Some(Arrival::Poisson)),
    ];
    for kind in [BackendKind::Thread, BackendKind::Async] {
        let backend = kind.create().expect("backend starts");
        for (mode, arrival) in modes {
            group.bench_function(format!("{kind}/{mode}"), |b| {
                b.iter_custom(|iterations| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        let mut job = PointJob::plain(&workload, &spec, 2, Budget::Items(ITEMS));
                        job.open_loop = arrival.map(|arrival| OpenLoopJob {
                            rate: FLOOD,
                            arrival,
                            seed: 1,
                            stages: Vec::new(),
                        });
                        let execution = backend.execute(&job).expect("point runs");
                        assert_eq!(execution.stats.ok, ITEMS);
                        total += execution.wall;
                    }
                    total
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, scheduler_per_item);
criterion_main!(benches);
