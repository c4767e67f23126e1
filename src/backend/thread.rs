//! `thread` and `sequential`: exactly N OS threads (1 for sequential), each driving a lane of the
//! point's items (see `driver`): a claim from one atomic counter, two clock reads, the item, and
//! a record into the worker's own histogram.
//!
//! With a per-item timeout, the calling thread doubles as a watchdog: an item past its limit is
//! recorded `timed_out`, its thread is abandoned (a thread cannot be killed; it is not reused and
//! exits once the item returns) and a fresh thread takes its place, so N stay in flight.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Barrier, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::driver::{Attempt, Finished, ItemEnd, LaneEnd, LocalRunner, Outcomes, Point};
use super::inflight::InflightTracker;
use super::{Backend, BackendKind, Execution, PointJob};
use crate::measure::timeline::Outcome;
use crate::measure::WorkerStats;
use crate::workload::{ItemError, Workload};

/// A slot whose item was abandoned at the timeout.
const ABANDONED: u64 = u64::MAX;

pub struct ThreadBackend {
    sequential: bool,
}

impl ThreadBackend {
    /// One thread, one item at a time: the baseline.
    pub fn sequential() -> Self {
        ThreadBackend { sequential: true }
    }

    pub fn pool() -> Self {
        ThreadBackend { sequential: false }
    }
}

impl Backend for ThreadBackend {
    fn kind(&self) -> BackendKind {
        if self.sequential {
            BackendKind::Sequential
        } else {
            BackendKind::Thread
        }
    }

    fn execute(&self, job: &PointJob<'_>) -> anyhow::Result<Execution> {
        let workers = if self.sequential { 1 } else { job.throttle };
        run_pool(job, workers)
    }
}

/// State shared by the workers of one point.
struct Shared {
    workload: Arc<dyn Workload>,
    point: Point,
    ready: Barrier,
}

/// What a timed worker publishes so the watchdog can see a stuck item.
struct Slot {
    /// 0 when idle, `ABANDONED` once timed out, else 1 + the item's start in µs since `started`.
    running_since: AtomicU64,
    item: AtomicU64,
    /// Attempts of the running item started so far (with `--retries`), for the row of an item
    /// timed out: the attempt in progress, or the last one made when cut during a wait.
    attempt: AtomicU32,
    stats: Mutex<WorkerStats>,
}

impl Slot {
    fn new() -> Arc<Slot> {
        Arc::new(Slot {
            running_since: AtomicU64::new(0),
            item: AtomicU64::new(0),
            attempt: AtomicU32::new(1),
            stats: Mutex::new(WorkerStats::new()),
        })
    }

    fn abandoned(&self) -> bool {
        self.running_since.load(Ordering::Acquire) == ABANDONED
    }
}

/// A worker's last word: its index, its record (empty when kept in a slot) and when it ended.
struct Done {
    stats: WorkerStats,
    finished: Instant,
}

fn run_pool(job: &PointJob<'_>, workers: usize) -> anyhow::Result<Execution> {
    // An abandoned item runs on beside its replacement: in flight can exceed the workers.
    let inflight = match job.timeout {
        Some(_) => InflightTracker::unbounded(),
        None => InflightTracker::new(workers),
    };
    let shared = Arc::new(Shared {
        workload: job.workload.clone(),
        point: Point::new(job, inflight),
        ready: Barrier::new(workers + 1),
    });
    let (done_tx, done_rx) = mpsc::channel::<Done>();
    // (slot, progress index, thread) per worker ever started in this point.
    let mut handles: Vec<(Option<Arc<Slot>>, usize, JoinHandle<()>)> = Vec::with_capacity(workers);
    for index in 0..workers {
        let slot = job.timeout.map(|_| Slot::new());
        let handle = spawn_worker(&shared, index, slot.clone(), true, done_tx.clone())?;
        handles.push((slot, index, handle));
    }
    shared.ready.wait();
    job.window.open();
    let started = shared.point.start();

    let mut stats = WorkerStats::new();
    let mut last_end = started;
    let mut live = workers;
    let poll = job
        .timeout
        .map(|t| (t / 10).clamp(Duration::from_millis(1), Duration::from_millis(10)));
    while live > 0 {
        let message = match poll {
            None => done_rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(every) => done_rx.recv_timeout(every),
        };
        match message {
            Ok(done) => {
                live -= 1;
                last_end = last_end.max(done.finished);
                stats.merge(done.stats);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                anyhow::bail!("a worker thread vanished without reporting")
            }
        }
        if let Some(limit) = job.timeout {
            let now = Instant::now();
            let now_us = now.duration_since(started).as_micros() as u64;
            let mut replacements = Vec::new();
            for (slot, index, _) in &handles {
                let Some(slot) = slot else { continue };
                let since = slot.running_since.load(Ordering::Acquire);
                if since == 0
                    || since == ABANDONED
                    || now_us.saturating_sub(since - 1) <= limit.as_micros() as u64
                {
                    continue;
                }
                if slot
                    .running_since
                    .compare_exchange(since, ABANDONED, Ordering::AcqRel, Ordering::Acquire)
                    .is_ok()
                {
                    let item = slot.item.load(Ordering::Acquire);
                    let attempt = slot.attempt.load(Ordering::Acquire);
                    lock(&slot.stats).record_timeout_after(item, limit, attempt);
                    job.progress.add(*index, 1);
                    last_end = last_end.max(now);
                    replacements.push(*index);
                }
            }
            for index in replacements {
                // The abandoned thread is not reused: a new one keeps N items in flight.
                let slot = Slot::new();
                let handle =
                    spawn_worker(&shared, index, Some(slot.clone()), false, done_tx.clone())?;
                handles.push((Some(slot), index, handle));
            }
        }
    }
    for (slot, _, handle) in handles {
        if let Some(slot) = slot {
            let abandoned = slot.abandoned();
            stats.merge(std::mem::take(&mut *lock(&slot.stats)));
            if abandoned {
                continue; // still inside its stuck item: leave it be
            }
        }
        let _ = handle.join();
    }
    Ok(Execution {
        stats,
        wall: last_end.saturating_duration_since(started),
        max_inflight: shared.point.max_inflight(),
        startup: shared.point.startup(),
        children_peak_rss: None,
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn spawn_worker(
    shared: &Arc<Shared>,
    index: usize,
    slot: Option<Arc<Slot>>,
    original: bool,
    done: mpsc::Sender<Done>,
) -> anyhow::Result<JoinHandle<()>> {
    let shared = shared.clone();
    std::thread::Builder::new()
        .name(format!("tb-worker-{index}"))
        .spawn(move || {
            // An abandoned worker says nothing: the watchdog already counted it out and replaced it.
            let abandoned = |slot: &Option<Arc<Slot>>| slot.as_ref().is_some_and(|s| s.abandoned());
            match catch_unwind(AssertUnwindSafe(|| {
                work(&shared, index, slot.as_deref(), original)
            })) {
                Ok(Some((stats, finished))) => {
                    let _ = done.send(Done { stats, finished });
                }
                Ok(None) => {}
                Err(_) if abandoned(&slot) => {}
                Err(_) => {
                    let _ = done.send(Done {
                        stats: WorkerStats::new(),
                        finished: Instant::now(),
                    });
                }
            }
        })
        .context("cannot start a worker thread")
}

/// One worker's life: build its runner, warm up, wait for the others, then run items until the
/// budget is spent. Returns its record (empty when the record lives in `slot`) and its end time,
/// or `None` when the watchdog abandoned it.
fn work(
    shared: &Shared,
    index: usize,
    slot: Option<&Slot>,
    original: bool,
) -> Option<(WorkerStats, Instant)> {
    let point = &shared.point;
    let mut runner = LocalRunner::build(shared.workload.as_ref());
    if original {
        runner.warm_up(|| point.take_warmup());
        shared.ready.wait();
    }
    let mut lane = point.lane(index);
    let mut stats = WorkerStats::new();
    let ended = match slot {
        None => lane.run_blocking(&mut point.items(), &mut runner, &mut stats),
        Some(slot) => lane.run_blocking(
            &mut point.items(),
            &mut Watched {
                runner: &mut runner,
                slot,
            },
            &mut SlotRecord {
                slot,
                started: point.start(),
                mark: 0,
            },
        ),
    };
    if ended == LaneEnd::Abandoned {
        // The watchdog gave up on this item and replaced us; what this runner moved is not
        // counted (its slot's record may already be merged).
        return None;
    }
    stats.add_transfer(runner.take_transfer());
    Some((stats, lane.last_end()))
}

/// A watched worker's attempts: once the watchdog has abandoned its item, it runs no further
/// attempt, and the attempt it cut ends the item.
struct Watched<'a> {
    runner: &'a mut LocalRunner,
    slot: &'a Slot,
}

impl Attempt for Watched<'_> {
    fn attempt(&mut self, item: u64, deadline: Option<Instant>) -> ItemEnd {
        if self.slot.abandoned() {
            return ItemEnd::TimedOut; // cut during a wait
        }
        self.slot.attempt.fetch_add(1, Ordering::AcqRel);
        let ended = self.runner.attempt(item, deadline);
        if self.slot.abandoned() {
            return ItemEnd::TimedOut;
        }
        ended
    }
}

/// Where a watched worker records: its slot, shared with the watchdog. Failed attempts go there
/// as they happen, so that they outlive a thread the watchdog abandons later, and the watchdog
/// knows the attempt it cuts. Once abandoned, the item is the watchdog's: nothing more of it is
/// noted here.
struct SlotRecord<'a> {
    slot: &'a Slot,
    started: Instant,
    /// The running item's mark in `running_since`.
    mark: u64,
}

impl Outcomes for SlotRecord<'_> {
    fn starting(&mut self, item: u64, begin: Instant) {
        self.mark = begin.duration_since(self.started).as_micros() as u64 + 1;
        self.slot.item.store(item, Ordering::Relaxed);
        self.slot.attempt.store(0, Ordering::Relaxed);
        self.slot.running_since.store(self.mark, Ordering::Release);
    }

    fn failed_attempt(&mut self, item: u64, attempt: u32, err: &ItemError) {
        let mut stats = lock(&self.slot.stats);
        if !self.slot.abandoned() {
            stats.note_failed_attempt(item, attempt, err);
        }
    }

    fn ended(&mut self, finished: Finished) -> Option<Outcome> {
        self.slot
            .running_since
            .compare_exchange(self.mark, 0, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        Some(finished.record_into(&mut lock(&self.slot.stats)))
    }
}
