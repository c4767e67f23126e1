//! `async`: N tokio tasks, each owning one runner and pulling item numbers from one counter, on
//! a multi-threaded runtime with one executor thread per core. Exactly N items are in flight.
//! The timeout cancels the item's future; blocking work inside it cannot be cancelled and blocks
//! an executor thread — a finding about the workload, reported as such.

use std::sync::atomic::{AtomicU64, Ordering};
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
    runtime: tokio::runtime::Runtime,
}

impl AsyncBackend {
    pub fn new() -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("tb-async")
            .build()
            .context("cannot start the async runtime")?;
        Ok(AsyncBackend { runtime })
    }
}

impl Backend for AsyncBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Async
    }

    fn execute(&self, job: &PointJob<'_>) -> anyhow::Result<Execution> {
        self.runtime.block_on(run_tasks(job))
    }
}

async fn run_tasks(job: &PointJob<'_>) -> anyhow::Result<Execution> {
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
        handles.push(tokio::spawn(task.run()));
    }
    ready.wait().await;
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
                    let attempts = self.retry.run_async(&mut stats, item, r.as_mut());
                    match self.timeout {
                        None => {
                            let (outcome, n) = attempts.await;
                            (Some(outcome), n)
                        }
                        Some(limit) => match tokio::time::timeout(limit, attempts).await {
                            Ok((outcome, n)) => (Some(outcome), n),
                            Err(_) => (None, 1),
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
