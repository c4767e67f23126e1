//! `thread` and `sequential`: exactly N OS threads (1 for sequential) pulling item numbers from
//! one atomic counter. The per-item path is a fetch-add, two clock reads, the item, and a record
//! into the worker's own histogram.
//!
//! With a per-item timeout, the calling thread doubles as a watchdog: an item past its limit is
//! recorded `timed_out`, its thread is abandoned (a thread cannot be killed; it is not reused and
//! exits once the item returns) and a fresh thread takes its place, so N stay in flight.

use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use crossbeam_utils::CachePadded;

use super::inflight::InflightTracker;
use super::retry::RetryPolicy;
use super::{Backend, BackendKind, Budget, Execution, PointJob, PointProgress};
use crate::measure::timeline::TraceEvent;
use crate::measure::WorkerStats;
use crate::workload::{ItemError, ItemResult, Runner, Workload};

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
    next_item: CachePadded<AtomicU64>,
    next_warmup: CachePadded<AtomicU64>,
    items: u64,
    warmup: u64,
    duration: Option<Duration>,
    timeout: Option<Duration>,
    retry: RetryPolicy,
    trace: bool,
    ready: Barrier,
    started: OnceLock<Instant>,
    inflight: InflightTracker,
    progress: Arc<PointProgress>,
    stop: Arc<AtomicBool>,
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
}

/// A worker's last word: its index, its record (empty when kept in a slot) and when it ended.
struct Done {
    stats: WorkerStats,
    finished: Instant,
}

fn run_pool(job: &PointJob<'_>, workers: usize) -> anyhow::Result<Execution> {
    let (items, duration) = match job.budget {
        Budget::Items(n) => (n, None),
        Budget::Duration(d) => (u64::MAX, Some(d)),
    };
    let shared = Arc::new(Shared {
        workload: job.workload.clone(),
        next_item: CachePadded::new(AtomicU64::new(0)),
        next_warmup: CachePadded::new(AtomicU64::new(0)),
        items,
        warmup: job.warmup,
        duration,
        timeout: job.timeout,
        retry: job.retry,
        trace: job.trace,
        ready: Barrier::new(workers + 1),
        started: OnceLock::new(),
        // An abandoned item runs on beside its replacement: in flight can exceed the workers.
        inflight: match job.timeout {
            Some(_) => InflightTracker::unbounded(),
            None => InflightTracker::new(workers),
        },
        progress: job.progress.clone(),
        stop: job.stop.clone(),
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
    let started = *shared.started.get_or_init(Instant::now);

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
                    shared.progress.add(*index, 1);
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
            let abandoned = slot.running_since.load(Ordering::Acquire) == ABANDONED;
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
        max_inflight: shared.inflight.max(),
        startup: None,
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
            let abandoned = |slot: &Option<Arc<Slot>>| {
                slot.as_ref()
                    .is_some_and(|s| s.running_since.load(Ordering::Acquire) == ABANDONED)
            };
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
    let mut stats = WorkerStats::new();
    let mut runner = shared.workload.runner();
    if original {
        if let Ok(r) = runner.as_mut() {
            while shared.next_warmup.fetch_add(1, Ordering::Relaxed) < shared.warmup {
                let _ = run_guarded(r.as_mut(), u64::MAX);
            }
        }
        shared.ready.wait();
    }
    if let Ok(r) = runner.as_mut() {
        let _ = r.take_transfer(); // the warm-up's bytes are not the point's
    }
    let started = *shared.started.get_or_init(Instant::now);
    let deadline = shared.duration.map(|d| started + d);
    let mut completed = 0u64;
    let mut last_end = started;
    let mut claim = Claim::default();
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let Some(item) = claim.next(&shared.next_item, shared.items) else {
            break;
        };
        // In flight until the item really ends: an abandoned item still runs, so it is counted
        // until its attempt returns, not until the watchdog gives up on it.
        let entered = Cell::new(Some(shared.inflight.enter()));
        let release = || {
            if let Some(e) = entered.take() {
                shared.inflight.leave(e);
            }
        };
        let begin = Instant::now();
        let mark = slot.map(|s| {
            let mark = begin.duration_since(started).as_micros() as u64 + 1;
            s.item.store(item, Ordering::Relaxed);
            s.attempt.store(0, Ordering::Relaxed);
            s.running_since.store(mark, Ordering::Release);
            mark
        });
        let (outcome, attempts) = match (runner.as_mut(), slot) {
            // Watched: failed attempts go to the slot as they happen, so that they outlive a
            // thread the watchdog abandons later, and the watchdog knows the attempt it cuts.
            // Once abandoned, the item is the watchdog's: no further attempt runs or is noted.
            (Ok(r), Some(s)) => shared.retry.attempt_blocking(
                item,
                || {
                    if s.running_since.load(Ordering::Acquire) == ABANDONED {
                        release(); // cut during a wait
                        return Err(ItemError::new("timeout", "abandoned at the timeout"));
                    }
                    s.attempt.fetch_add(1, Ordering::AcqRel);
                    let outcome = run_guarded(r.as_mut(), item);
                    if s.running_since.load(Ordering::Acquire) == ABANDONED {
                        release(); // the cut attempt is over; what follows is only backoff
                    }
                    outcome
                },
                |attempt, err| {
                    let mut stats = lock(&s.stats);
                    if s.running_since.load(Ordering::Acquire) != ABANDONED {
                        stats.note_failed_attempt(item, attempt, &err);
                    }
                },
            ),
            (Ok(r), None) => shared
                .retry
                .run_blocking(&mut stats, item, || run_guarded(r.as_mut(), item)),
            (Err(setup), _) => (Err(ItemError::new("setup", setup.to_string())), 1),
        };
        let end = Instant::now();
        release();
        last_end = end;
        claim.adapt(end - begin);
        let error = outcome.as_ref().err().map(|e| e.kind.clone());
        let record = |stats: &mut WorkerStats| {
            let ended =
                stats.finish_attempts(item, end - begin, Some(outcome), shared.timeout, attempts);
            if shared.trace {
                let event = TraceEvent::new(
                    item,
                    index as u64,
                    (begin, end),
                    started,
                    ended,
                    error.as_deref(),
                );
                stats.trace_item(event);
            }
        };
        match (slot, mark) {
            (Some(s), Some(mark)) => {
                if s.running_since
                    .compare_exchange(mark, 0, Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
                {
                    // The watchdog gave up on this item and replaced us; what this runner
                    // moved is not counted (its slot's record may already be merged).
                    return None;
                }
                record(&mut lock(&s.stats));
            }
            _ => record(&mut stats),
        }
        completed += 1;
        shared.progress.set(index, completed);
        if deadline.is_some_and(|d| end >= d) {
            break;
        }
    }
    if let Ok(r) = runner.as_mut() {
        stats.add_transfer(r.take_transfer());
    }
    Some((stats, last_end))
}

/// Hands a worker its item numbers. Items of a few hundred nanoseconds would spend most of
/// their time fighting over the shared counter's cache line, so short items are claimed in
/// growing batches (up to 64, i.e. a few microseconds of work, which bounds the imbalance at the
/// end of a point); anything longer is claimed one at a time.
#[derive(Default)]
struct Claim {
    next: u64,
    end: u64,
    batch: u64,
}

impl Claim {
    const SHORT: Duration = Duration::from_micros(2);
    const MAX_BATCH: u64 = 64;

    #[inline]
    fn next(&mut self, counter: &AtomicU64, items: u64) -> Option<u64> {
        if self.next >= self.end {
            let batch = self.batch.max(1);
            let first = counter.fetch_add(batch, Ordering::Relaxed);
            if first >= items {
                return None;
            }
            self.next = first;
            self.end = first.saturating_add(batch).min(items);
        }
        self.next += 1;
        Some(self.next - 1)
    }

    #[inline]
    fn adapt(&mut self, took: Duration) {
        self.batch = if took < Self::SHORT {
            (self.batch * 2).clamp(1, Self::MAX_BATCH)
        } else {
            1
        };
    }
}

/// Runs one item; a panic inside the workload is a failed item, not a dead worker.
#[inline]
pub(crate) fn run_guarded(runner: &mut dyn Runner, item: u64) -> ItemResult {
    match catch_unwind(AssertUnwindSafe(|| runner.run(item))) {
        Ok(outcome) => outcome,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".to_string());
            Err(ItemError::new("panic", message))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_every_item_exactly_once_in_growing_batches() {
        let counter = AtomicU64::new(0);
        let mut a = Claim::default();
        let mut b = Claim::default();
        let mut seen = Vec::new();
        let mut live = [true, true];
        while live.iter().any(|l| *l) {
            for (claim, live) in [&mut a, &mut b]
                .into_iter()
                .zip(live.iter_mut())
                .filter(|(_, l)| **l)
            {
                match claim.next(&counter, 1000) {
                    Some(item) => {
                        seen.push(item);
                        claim.adapt(Duration::from_nanos(100));
                    }
                    None => *live = false,
                }
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
        assert!(
            counter.load(Ordering::Relaxed) <= 1000 + 4 * Claim::MAX_BATCH,
            "claims overshoot by at most a batch each"
        );
    }

    #[test]
    fn long_items_are_claimed_one_at_a_time() {
        let counter = AtomicU64::new(0);
        let mut claim = Claim::default();
        for expected in 0..10 {
            assert_eq!(claim.next(&counter, 100), Some(expected));
            claim.adapt(Duration::from_millis(1));
            assert_eq!(counter.load(Ordering::Relaxed), expected + 1);
        }
    }
}
