//! Cost of comparing a run with its baseline: the bootstrap (2 × 10 000 resamples per metric)
//! for a sweep of 7 points × 5 repetitions (throughput, p50, peak RSS: p99 is skipped at so few
//! items), and of one two-sample comparison.
//!
//! `cargo bench --bench compare -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use throttlebench::analysis::{bootstrap, compare};
use throttlebench::{BackendKind, Sweep};

fn comparison(c: &mut Criterion) {
    let run = || {
        Sweep::kind("sleep")
            .param("ms", 1)
            .backends([BackendKind::Thread, BackendKind::Async])
            .limits([1, 2, 4])
            .items(4)
            .repeat(5)
            .run()
            .expect("a 1 ms sleep sweep runs")
    };
    let (base, current) = (run(), run());
    c.bench_function("compare 7 points x 5 reps", |b| {
        b.iter(|| compare::compare(black_box(&base), black_box(&current), &Default::default()))
    });
    let a = [100.0, 101.0, 99.0, 100.5, 99.5];
    let z = [103.0, 104.0, 102.0, 103.5, 102.5];
    c.bench_function("bootstrap two samples of 5", |b| {
        b.iter(|| bootstrap::compare(black_box(&a), black_box(&z)))
    });
}

criterion_group!(benches, comparison);
criterion_main!(benches);
