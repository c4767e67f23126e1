//! `async`: N tokio tasks, each owning one runner and pulling item numbers from one counter.
//! The tasks are dealt round-robin to one single-threaded runtime per core, each on its own
//! thread with its own I/O driver and timers, the way wrk runs one event loop per thread: a task
//! never migrates, so an I/O wake-up never crosses threads. Load still balances, since every task
//! pulls its next item from the shared counter. Exactly N items are in flight.
//! The timeout cancels the item's future; blocking work inside it cannot be cancelled and blocks
//! its runtime's thread — a finding about the workload, reported as such.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_lite::FutureExt as _;

use super::inflight::InflightTracker;
use super::{Backend, BackendKind, Budget, Execution, PointJob};
use crate::measure::timeline::TraceEvent;
use crate::measure::WorkerStats;
use crate::workload::{ItemError, ItemResult};

pub struct AsyncBackend {
    shards: Vec<Shard>,
}

/// One single-threaded runtime, driven by a thread of its own until the backend is dropped.
struct Shard {
    handle: tokio::runtime::Handle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl AsyncBackend {
    pub fn new() -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let shards = (0..cores)
            .map(Shard::start)
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(AsyncBackend { shards })
    }
}

impl Shard {
    fn start(index: usize) -> anyhow::Result<Shard> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("tb-async-{index}"))
            .spawn(move || {
                let _ = runtime.block_on(stopped);
                // Tasks still parked (an item that outlived its point) are dropped, not awaited.
                runtime.shutdown_background();
            })
            .context("cannot start an async runtime thread")?;
        Ok(Shard {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Shard {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Backend for AsyncBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Async
    }

    fn execute(&self, job: &PointJob<'_>) -> anyhow::Result<Execution> {
        futures_lite::future::block_on(run_tasks(&self.shards, job))
    }
}

async fn run_tasks(shards: &[Shard], job: &PointJob<'_>) -> anyhow::Result<Execution> {
    let (items, duration) = match job.budget {
        Budget::Items(n) => (n, None),
        Budget::Duration(d) => (u64::MAX, Some(d)),
    };
    let tasks = job.throttle;
    let next_item = Arc::new(AtomicU64::new(0));
    let next_warmup = Arc::new(AtomicU64::new(0));
    let ready = Arc::new(tokio::sync::Barrier::new(tasks + 1));
    let start_cell = Arc::new(std::sync::OnceLock::<Instant>::new());
    let inflight = Arc::new(InflightTracker::new(tasks));
    let mut handles = Vec::with_capacity(tasks);
    for index in 0..tasks {
        let task = Task {
            index,
            workload: job.workload.clone(),
            next_item: next_item.clone(),
            next_warmup: next_warmup.clone(),
            items,
            warmup: job.warmup,
            duration,
            timeout: job.timeout,
            retry: job.retry,
            trace: job.trace,
            ready: ready.clone(),
            started: start_cell.clone(),
            inflight: inflight.clone(),
            progress: job.progress.clone(),
            stop: job.stop.clone(),
        };
        handles.push(shards[index % shards.len()].handle.spawn(task.run()));
    }
    ready.wait().await;
    job.window.open();
    let started = *start_cell.get_or_init(Instant::now);
    let mut stats = WorkerStats::new();
    let mut last_end = started;
    for handle in handles {
        match handle.await {
            Ok((worker, end)) => {
                stats.merge(worker);
                last_end = last_end.max(end);
            }
            Err(e) => anyhow::bail!("an async worker task failed: {e}"),
        }
    }
    Ok(Execution {
        stats,
        wall: last_end.saturating_duration_since(started),
        max_inflight: inflight.max(),
        startup: None,
        children_peak_rss: None,
    })
}

struct Task {
    index: usize,
    workload: Arc<dyn crate::workload::Workload>,
    next_item: Arc<AtomicU64>,
    next_warmup: Arc<AtomicU64>,
    items: u64,
    warmup: u64,
    duration: Option<Duration>,
    timeout: Option<Duration>,
    retry: super::retry::RetryPolicy,
    trace: bool,
    ready: Arc<tokio::sync::Barrier>,
    started: Arc<std::sync::OnceLock<Instant>>,
    inflight: Arc<InflightTracker>,
    progress: Arc<super::PointProgress>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Task {
    async fn run(self) -> (WorkerStats, Instant) {
        let mut stats = WorkerStats::new();
        let mut runner = self.workload.runner();
        if let Ok(r) = runner.as_mut() {
            while self.next_warmup.fetch_add(1, Ordering::Relaxed) < self.warmup {
                let _ = guarded(r.run_async(u64::MAX)).await;
            }
        }
        if let Ok(r) = runner.as_mut() {
            let _ = r.take_transfer(); // the warm-up's bytes are not the point's
        }
        self.ready.wait().await;
        let started = *self.started.get_or_init(Instant::now);
        let deadline = self.duration.map(|d| started + d);
        let mut last_end = started;
        let mut completed = 0;
        loop {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            let item = self.next_item.fetch_add(1, Ordering::Relaxed);
            if item >= self.items {
                break;
            }
            let entered = self.inflight.enter();
            let begin = Instant::now();
            let (outcome, attempts) = match runner.as_mut() {
                Ok(r) => {
                    let started = AtomicU32::new(1);
                    let attempts = self.retry.run_async(&mut stats, item, r.as_mut(), &started);
                    match self.timeout {
                        None => {
                            let (outcome, n) = attempts.await;
                            (Some(outcome), n)
                        }
                        // Cut: the failed attempts before are already noted; the timeout's row
                        // names the attempt it cut, as on the thread backend.
                        Some(limit) => match tokio::time::timeout(limit, attempts).await {
                            Ok((outcome, n)) => (Some(outcome), n),
                            Err(_) => (None, started.load(Ordering::Relaxed)),
                        },
                    }
                }
                Err(setup) => (Some(Err(ItemError::new("setup", setup.to_string()))), 1),
            };
            let end = Instant::now();
            self.inflight.leave(entered);
            let error = outcome
                .as_ref()
                .and_then(|o| o.as_ref().err())
                .map(|e| e.kind.clone());
            let ended = stats.finish_attempts(item, end - begin, outcome, self.timeout, attempts);
            last_end = end;
            if self.trace {
                let event = TraceEvent::new(
                    item,
                    self.index as u64,
                    (begin, end),
                    started,
                    ended,
                    error.as_deref(),
                );
                stats.trace_item(event);
            }
            completed += 1;
            self.progress.set(self.index, completed);
            if deadline.is_some_and(|d| end >= d) {
                break;
            }
        }
        if let Ok(r) = runner.as_mut() {
            stats.add_transfer(r.take_transfer());
        }
        (stats, last_end)
    }
}

/// A panic inside an item's future is a failed item, not a dead task.
pub(crate) async fn guarded<F: std::future::Future<Output = ItemResult>>(future: F) -> ItemResult {
    match std::panic::AssertUnwindSafe(future).catch_unwind().await {
        Ok(outcome) => outcome,
        Err(_) => Err(ItemError::new("panic", "the item panicked")),
    }
}
