//! Criterion integration (feature `criterion-integration`): a throttle sweep of your own code
//! under `cargo bench`. Each throttle limit becomes one benchmark of a group, with
//! `Throughput::Elements`, so criterion reports items/s per limit and keeps its own baselines
//! (`cargo bench -- --save-baseline main`, `--baseline main`).
//!
//! ```no_run
//! use criterion::{criterion_group, criterion_main, Criterion};
//!
//! fn bench(c: &mut Criterion) {
//!     throttlebench::criterion::throttle_sweep(c, "fetch", &[1, 2, 4, 8], 32, |item| {
//!         std::thread::sleep(std::time::Duration::from_millis(1 + item % 2));
//!     });
//! }
//! criterion_group!(benches, bench);
//! criterion_main!(benches);
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput};

/// Benchmarks `item` at each throttle in `limits`: one iteration runs `items` calls (item
/// numbers 0…items−1) with exactly `throttle` of them in flight on as many threads.
pub fn throttle_sweep<F, R>(c: &mut Criterion, name: &str, limits: &[usize], items: u64, item: F)
where
    F: Fn(u64) -> R + Sync,
{
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(items));
    for &throttle in limits {
        group.bench_with_input(
            BenchmarkId::from_parameter(throttle),
            &throttle,
            |b, &throttle| b.iter_custom(|iters| run_throttled(throttle, iters * items, &item)),
        );
    }
    group.finish();
}

/// Runs `items` calls of `item` on `throttle` threads pulling item numbers from one counter;
/// returns the wall time. The threads start once per measurement, not once per iteration, so
/// spawning is not mistaken for the cost of the work.
pub fn run_throttled<F, R>(throttle: usize, items: u64, item: &F) -> Duration
where
    F: Fn(u64) -> R + Sync,
{
    let next = AtomicU64::new(0);
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..throttle.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= items {
                    break;
                }
                black_box(item(i));
            });
        }
    });
    start.elapsed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn every_item_runs_once_at_the_throttle() {
        let seen = Mutex::new(Vec::new());
        let inflight = AtomicU64::new(0);
        let peak = AtomicU64::new(0);
        run_throttled(3, 30, &|i| {
            let now = inflight.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(2));
            inflight.fetch_sub(1, Ordering::SeqCst);
            seen.lock().unwrap().push(i);
        });
        let mut seen = seen.into_inner().unwrap();
        seen.sort_unstable();
        assert_eq!(seen, (0..30).collect::<Vec<_>>());
        assert_eq!(peak.load(Ordering::SeqCst), 3);
    }
}
