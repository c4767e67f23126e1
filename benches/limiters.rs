//! What an adaptive limiter costs: each algorithm's work per ended item (`on_sample`, on a
//! trace of a queueing target's latencies), and what the gate adds to a point's items on
//! `thread` at 8 lanes (no-op items, a limit fixed at 8, against the same point without a gate),
//! and what reading a limit's movement costs the analysis (once per limiter point).
//!
//! `cargo bench --bench limiters` — per-sample and per-item time is the reported time divided by
//! the elements.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use throttlebench::analysis::limiter_behaviour::{behaviour, Movement};
use throttlebench::analysis::limiters::settled_limit;
use throttlebench::backend::limiter::{Algorithm, LimitGate, LimitStep, LimiterSpec, Sample};
use throttlebench::backend::{BackendKind, Budget, PointJob};
use throttlebench::workload::{Registry, WorkloadSpec};

const SAMPLES: usize = 10_000;
const NOOP_ITEMS: u64 = 100_000;

/// Latencies of a target of capacity 8 at 20 ms that queues past it, ±10 % of noise, one item
/// ending every 2.5 ms: the trace each algorithm is fed.
fn trace() -> Vec<Sample> {
    (0..SAMPLES)
        .map(|i| {
            let inflight = 4 + i % 24;
            let noise = 0.9 + 0.2 * ((i * 7919) % 101) as f64 / 100.0;
            let rtt = Duration::from_millis(20).mul_f64((inflight as f64 / 8.0).max(1.0) * noise);
            Sample::new(rtt, inflight, i % 500 == 0).at(Duration::from_micros(2500 * i as u64))
        })
        .collect()
}

fn per_sample(c: &mut Criterion) {
    let trace = trace();
    let mut group = c.benchmark_group("limiter_on_sample");
    group.throughput(Throughput::Elements(SAMPLES as u64));
    for algorithm in Algorithm::ALL {
        let spec: LimiterSpec = algorithm.name().parse().expect("a known limiter");
        group.bench_function(algorithm.name(), |b| {
            b.iter(|| {
                let mut limit = spec.build(64);
                for s in &trace {
                    limit.on_sample(s);
                }
                black_box(limit.limit())
            })
        });
    }
    group.finish();
}

fn gate_per_item(c: &mut Criterion) {
    let spec = WorkloadSpec {
        kind: "noop".into(),
        params: Default::default(),
    };
    let workload = Registry::builtin().build(&spec).expect("noop builds");
    let backend = BackendKind::Thread.create().expect("thread backend");
    let fixed: LimiterSpec = "aimd:initial_limit=8,min_limit=8,max_limit=8"
        .parse()
        .expect("a fixed limit");
    let mut group = c.benchmark_group("limiter_gate_per_item");
    group.throughput(Throughput::Elements(NOOP_ITEMS));
    group.sample_size(10);
    for gated in [false, true] {
        let name = if gated { "gate, limit 8" } else { "no gate" };
        group.bench_function(name, |b| {
            b.iter_custom(|iterations| {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let gate = gated.then(|| Arc::new(LimitGate::new(fixed.build(8))));
                    let job = PointJob {
                        limit: gate,
                        ..PointJob::plain(&workload, &spec, 8, Budget::Items(NOOP_ITEMS))
                    };
                    let ran = backend.execute(&job).expect("point runs");
                    assert_eq!(ran.stats.ok, NOOP_ITEMS);
                    total += ran.wall;
                }
                total
            })
        });
    }
    group.finish();
}

/// Steps of a limit that changes every 2.5 ms for 15 s, saw-toothing 7–64 as Vegas's does.
const TRACK_STEPS: usize = 6_000;

fn reading_a_track(c: &mut Criterion) {
    let steps: Vec<LimitStep> = (0..TRACK_STEPS)
        .map(|i| LimitStep::new(i as f64 * 0.0025, 7 + (i * 13) % 58))
        .collect();
    let wall_s = TRACK_STEPS as f64 * 0.0025;
    let mut group = c.benchmark_group("limiter_judgement");
    group.throughput(Throughput::Elements(TRACK_STEPS as u64));
    group.bench_function("settled and how it moved, 6000 steps", |b| {
        b.iter(|| {
            let settled = settled_limit(black_box(&steps), wall_s);
            black_box(behaviour(&Movement {
                steps: &steps,
                settled,
                bounds: (1, 64),
                settle_s: Some(0.0),
                swing_sd: 14.0,
                wall_s,
            }))
        })
    });
    group.finish();
}

criterion_group!(benches, per_sample, gate_per_item, reading_a_track);
criterion_main!(benches);
