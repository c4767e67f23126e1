//! `rayon`: a `rayon::ThreadPool` of exactly N threads per throttle N, fed the way rayon users
//! write it — `into_par_iter()` over the point's item range, `try_for_each` running each item.
//! Work stealing splits the range between the threads (each takes half of what is left of a
//! busy thread's range), so no item is claimed from a shared counter: that is what rayon buys
//! and what its splitting costs, against `thread`'s one counter.
//!
//! Every item still goes through the item driver (retries under the timeout, a panic as a
//! failed item, trace), on a lane kept per pool thread with that thread's own runner and record.
//! A rayon thread cannot be given up, so an item past `--timeout` is recorded timed out when it
//! returns, and holds its thread until then (`thread` replaces a stuck thread instead).

use std::ops::ControlFlow;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use anyhow::Context;
use crossbeam_utils::CachePadded;
use rayon::prelude::*;

use super::driver::{ItemSource, Lane, LaneEnd, LocalRunner, Point};
use super::inflight::InflightTracker;
use super::{Backend, BackendKind, Execution, PointJob};
use crate::measure::WorkerStats;

pub struct RayonBackend;

impl Backend for RayonBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Rayon
    }

    fn execute(&self, job: &PointJob<'_>) -> anyhow::Result<Execution> {
        run_pool(job)
    }
}

/// What one pool thread holds for the point: its lane, runner and record. Only that thread
/// locks it, so the lock is never contended.
struct ThreadLane<'p> {
    lane: Lane<'p>,
    runner: LocalRunner,
    stats: WorkerStats,
}

/// The one item a par_iter step hands the driver.
struct One(Option<u64>);

impl ItemSource for One {
    #[inline]
    fn next_item(&mut self) -> Option<u64> {
        self.0.take()
    }
}

fn run_pool(job: &PointJob<'_>) -> anyhow::Result<Execution> {
    let threads = job.throttle.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("tb-rayon-{i}"))
        .build()
        .context("cannot start the rayon pool")?;
    let point = Point::new(job, InflightTracker::new(threads));
    // Each thread builds its runner and warms up on itself, as the other backends' workers do.
    let runners: Vec<Mutex<Option<LocalRunner>>> = (0..threads).map(|_| Mutex::new(None)).collect();
    pool.broadcast(|ctx| {
        let mut runner = LocalRunner::build(job.workload.as_ref());
        runner.warm_up(|| point.take_warmup());
        *lock(&runners[ctx.index()]) = Some(runner);
    });
    job.window.open();
    let started = point.start();
    let lanes: Vec<CachePadded<Mutex<ThreadLane<'_>>>> = runners
        .into_iter()
        .enumerate()
        .map(|(slot, runner)| {
            let runner = runner
                .into_inner()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .unwrap_or_else(|| LocalRunner::build(job.workload.as_ref()));
            CachePadded::new(Mutex::new(ThreadLane {
                lane: point.lane(slot),
                runner,
                stats: WorkerStats::new(),
            }))
        })
        .collect();
    let deadline = point.duration().and_then(|d| started.checked_add(d));
    // A break is the budget's time or Ctrl-C: what ran is recorded either way.
    let _ = pool.install(|| {
        (0..point.item_count())
            .into_par_iter()
            .try_for_each(|item| {
                if point.stopped() || deadline.is_some_and(|d| Instant::now() >= d) {
                    return ControlFlow::Break(());
                }
                let slot = rayon::current_thread_index().unwrap_or(0);
                let mut guard = lock(&lanes[slot % lanes.len()]);
                let ThreadLane {
                    lane,
                    runner,
                    stats,
                } = &mut *guard;
                match lane.run_blocking(&mut One(Some(item)), runner, stats) {
                    LaneEnd::Finished => ControlFlow::Continue(()),
                    LaneEnd::Abandoned => ControlFlow::Break(()),
                }
            })
    });
    let mut stats = WorkerStats::new();
    let mut last_end = started;
    for lane in lanes {
        let mut lane = CachePadded::into_inner(lane)
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        lane.stats.add_transfer(lane.runner.take_transfer());
        last_end = last_end.max(lane.lane.last_end());
        stats.merge(lane.stats);
    }
    Ok(Execution {
        stats,
        wall: last_end.saturating_duration_since(started),
        max_inflight: point.max_inflight(),
        startup: None,
        children_peak_rss: None,
    })
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
