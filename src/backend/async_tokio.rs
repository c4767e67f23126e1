//! `async`: N tokio tasks, each owning one runner and driving a lane of the point's items (see
//! `driver`), claimed from one counter.
//! The tasks are dealt round-robin to one single-threaded runtime per core, each on its own
//! thread with its own I/O driver and timers, the way wrk runs one event loop per thread: a task
//! never migrates, so an I/O wake-up never crosses threads. Load still balances, since every task
//! pulls its next item from the shared counter. Exactly N items are in flight.
//! Open-loop points run on one work-stealing runtime instead: an item is due at its own time,
//! and on a thread the OS has put aside it would wait for that thread, where work stealing lets
//! another core start it.
//! The timeout cancels the item's future; blocking work inside it cannot be cancelled and blocks
//! its runtime's thread — a finding about the workload, reported as such.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;

use super::driver::{LocalRunner, Point};
use super::inflight::InflightTracker;
use super::{Backend, BackendKind, Execution, PointJob};
use crate::measure::WorkerStats;
use crate::workload::Workload;

pub struct AsyncBackend {
    shards: Vec<Shard>,
    /// Open loop's runtime, started on its first open-loop point.
    stealing: std::sync::OnceLock<tokio::runtime::Runtime>,
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
        Ok(AsyncBackend {
            shards,
            stealing: std::sync::OnceLock::new(),
        })
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
        let handles: Vec<tokio::runtime::Handle> = match job.open_loop {
            None => self.shards.iter().map(|s| s.handle.clone()).collect(),
            Some(_) => vec![self.stealing()?.handle().clone()],
        };
        futures_lite::future::block_on(run_tasks(&handles, job))
    }
}

impl Drop for AsyncBackend {
    fn drop(&mut self) {
        // Tasks still parked (an item that outlived its point) are dropped, not awaited.
        if let Some(runtime) = self.stealing.take() {
            runtime.shutdown_background();
        }
    }
}

impl AsyncBackend {
    fn stealing(&self) -> anyhow::Result<&tokio::runtime::Runtime> {
        if let Some(runtime) = self.stealing.get() {
            return Ok(runtime);
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(cores)
            .thread_name("tb-async-open")
            // Its workers start items at their due times: see `ask_short_slice`.
            .on_thread_start(|| {
                crate::timer::ask_short_slice();
            })
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        Ok(self.stealing.get_or_init(|| runtime))
    }
}

async fn run_tasks(
    shards: &[tokio::runtime::Handle],
    job: &PointJob<'_>,
) -> anyhow::Result<Execution> {
    let tasks = job.throttle;
    let point = Arc::new(Point::new(job, InflightTracker::new(tasks)));
    let ready = Arc::new(tokio::sync::Barrier::new(tasks + 1));
    let mut handles = Vec::with_capacity(tasks);
    for index in 0..tasks {
        let task = Task {
            index,
            workload: job.workload.clone(),
            point: point.clone(),
            ready: ready.clone(),
        };
        handles.push(shards[index % shards.len()].spawn(task.run()));
    }
    ready.wait().await;
    job.window.open();
    let started = point.start();
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
        max_inflight: point.max_inflight(),
        startup: point.startup(),
        children_peak_rss: None,
    })
}

struct Task {
    index: usize,
    workload: Arc<dyn Workload>,
    point: Arc<Point>,
    ready: Arc<tokio::sync::Barrier>,
}

impl Task {
    async fn run(self) -> (WorkerStats, Instant) {
        let point = self.point.as_ref();
        let mut runner = LocalRunner::build(self.workload.as_ref());
        runner.warm_up_async(|| point.take_warmup()).await;
        self.ready.wait().await;
        let mut lane = point.lane(self.index);
        let mut stats = WorkerStats::new();
        lane.run_async(&mut point.items(), &mut runner, &mut stats)
            .await;
        stats.add_transfer(runner.take_transfer());
        (stats, lane.last_end())
    }
}
