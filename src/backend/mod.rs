//! Backends: how items are run at a given throttle. Each one runs a point — a budget of items at
//! exactly `throttle` in flight — and returns what its workers recorded. They know nothing of
//! reports; the sweep wraps every execution with CPU and memory measurement.

pub(crate) mod async_tokio;
pub(crate) mod driver;
mod feed;
mod feed_open;
mod framing;
pub mod hosts;
pub(crate) mod inflight;
pub mod limiter;
pub(crate) mod per_item;
pub(crate) mod process;
pub mod protocol;
pub(crate) mod rayon_pool;
pub(crate) mod remote;
mod remote_check;
pub mod retry;
pub(crate) mod thread;
pub mod worker;
pub(crate) mod worker_proc;

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crossbeam_utils::CachePadded;
use serde::{Deserialize, Serialize};

// Backends that spawn children name it `super::child`.
use crate::child;
/// Set it to the `throttlebench` binary when the running executable is not one (a bench, a
/// program of your own): the process backends start workers from it.
pub use crate::child::EXE_ENV;
use crate::error::SpecError;
use crate::measure::cpu::CpuTimes;
use crate::measure::WorkerStats;
use crate::workload::{Workload, WorkloadSpec};
pub use driver::{Arrival, OpenLoopJob, Stage};

/// How much work one point does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Budget {
    /// Exactly this many items.
    Items(u64),
    /// As many items as fit in this time; items in flight at the end are finished and counted.
    #[serde(with = "humantime_serde")]
    Duration(Duration),
}

/// Completed items per worker slot, read by the progress display while a point runs. Each
/// worker writes only its own padded counter, so progress costs no contention.
pub struct PointProgress {
    done: Vec<CachePadded<AtomicU64>>,
}

impl PointProgress {
    pub fn new(slots: usize) -> Self {
        PointProgress {
            done: (0..slots.max(1))
                .map(|_| CachePadded::new(AtomicU64::new(0)))
                .collect(),
        }
    }

    #[inline]
    /// Slot `slot` has completed `completed` items of this point.
    pub fn set(&self, slot: usize, completed: u64) {
        if let Some(counter) = self.done.get(slot) {
            counter.store(completed, Ordering::Relaxed);
        }
    }

    #[inline]
    /// Slot `slot` completed `n` more items.
    pub fn add(&self, slot: usize, n: u64) {
        if let Some(counter) = self.done.get(slot) {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }

    /// Items completed by every slot together.
    pub fn total(&self) -> u64 {
        self.done.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

/// Everything a backend needs to run one point.
pub struct PointJob<'a> {
    pub workload: &'a Arc<dyn Workload>,
    /// The spec the workload was built from, for backends that rebuild it elsewhere.
    pub spec: &'a WorkloadSpec,
    pub throttle: usize,
    pub budget: Budget,
    /// Items run before the clock starts, at the same throttle, not measured.
    pub warmup: u64,
    pub timeout: Option<Duration>,
    /// Attempts per item beyond the first, and the wait between them.
    pub retry: retry::RetryPolicy,
    pub trace: bool,
    pub progress: Arc<PointProgress>,
    /// Set on Ctrl-C: stop claiming new items.
    pub stop: Arc<AtomicBool>,
    /// Marked by the backend when its timed window opens (every worker ready and warmed up).
    pub window: Arc<WindowStart>,
    /// Set for an open-loop point: items start at their intended times, at most `throttle` in
    /// flight.
    pub open_loop: Option<driver::OpenLoopJob>,
    /// A limiter's point: `throttle` lanes start, and the gate's limit says how many may run.
    pub limit: Option<Arc<limiter::LimitGate>>,
}

/// The CPU spent before a point's timed window opened, so the point's CPU columns cover the
/// same window as its wall time: starting threads or worker processes and warming up are not
/// billed to the items. Worker processes report their own start-up CPU (they are reaped, and
/// so counted, only after the window), which is taken out as well.
#[derive(Debug, Default)]
pub struct WindowStart {
    cpu: OnceLock<CpuTimes>,
    workers_setup: Mutex<CpuTimes>,
    /// Σ over slots of what the slot's worker holds itself, bytes (`PointResult::worker_rss_mb`):
    /// the backend's part of the memory, apart from what the items cost.
    workers_resident: AtomicU64,
}

impl WindowStart {
    /// Notes the CPU used so far, by this process and its reaped children; the first call wins.
    pub fn open(&self) {
        self.cpu
            .get_or_init(|| CpuTimes::of_self().plus(CpuTimes::of_children()));
    }

    /// The CPU total when the window opened; `None` if the backend never opened it.
    pub fn cpu_at_open(&self) -> Option<CpuTimes> {
        self.cpu.get().copied()
    }

    /// Adds a worker process's own CPU up to its `Ready` (start-up and warm-up).
    pub fn add_worker_setup(&self, cpu: CpuTimes) {
        if let Ok(mut total) = self.workers_setup.lock() {
            *total = total.plus(cpu);
        }
    }

    /// Adds what a slot's worker holds itself (bytes).
    pub fn add_worker_resident(&self, bytes: u64) {
        self.workers_resident.fetch_add(bytes, Ordering::Relaxed);
    }

    /// What the slots' workers held when ready, bytes; `None` when no worker said.
    pub fn workers_resident(&self) -> Option<u64> {
        Some(self.workers_resident.load(Ordering::Relaxed)).filter(|&b| b > 0)
    }

    /// CPU the workers spent before the timed window opened.
    pub fn workers_setup(&self) -> CpuTimes {
        self.workers_setup.lock().map(|t| *t).unwrap_or_default()
    }
}

impl<'a> PointJob<'a> {
    /// A point of `budget` at `throttle` with no warm-up, timeout, retries or trace, and a
    /// fresh progress counter: what benches and tests of a backend need.
    pub fn plain(
        workload: &'a Arc<dyn Workload>,
        spec: &'a WorkloadSpec,
        throttle: usize,
        budget: Budget,
    ) -> Self {
        PointJob {
            workload,
            spec,
            throttle,
            budget,
            warmup: 0,
            timeout: None,
            retry: retry::RetryPolicy::none(),
            trace: false,
            progress: Arc::new(PointProgress::new(throttle)),
            stop: Arc::new(AtomicBool::new(false)),
            window: Arc::new(WindowStart::default()),
            open_loop: None,
            limit: None,
        }
    }
}

/// What a backend measured for one point.
#[derive(Debug, Default)]
pub struct Execution {
    pub stats: WorkerStats,
    /// From the moment every worker was ready to the moment the last one finished.
    pub wall: Duration,
    pub max_inflight: usize,
    /// Median time from an item being handed out (claimed, written to a worker, or its process
    /// spawned) to its workload starting; `None` where it cannot be known (remote).
    pub startup: Option<Duration>,
    /// Sum of the peak RSS of the child processes, in bytes (process backends only).
    pub children_peak_rss: Option<u64>,
}

/// One way of running items.
pub trait Backend: Send + Sync {
    /// Which backend this is.
    fn kind(&self) -> BackendKind;

    /// Runs one point: the job's items at its throttle.
    fn execute(&self, job: &PointJob<'_>) -> anyhow::Result<Execution>;

    /// Backends spread over hosts: what each host did in the last point (taken once).
    fn take_hosts(&self) -> Vec<hosts::HostResult> {
        Vec::new()
    }

    /// Before a sweep: shows that this backend can run `spec`'s items — its worker processes
    /// start, speak the protocol and build the workload within the start limit — so that a
    /// worker that cannot is one error up front, not a failure in the sweep's middle. Backends
    /// that run items in this process have nothing to show.
    fn check(&self, _spec: &WorkloadSpec) -> anyhow::Result<()> {
        Ok(())
    }
}

/// The backends known by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BackendKind {
    Sequential,
    Thread,
    Async,
    Process,
    ProcessPerItem,
    Remote,
    Rayon,
}

impl BackendKind {
    pub const ALL: &'static [BackendKind] = &[
        BackendKind::Sequential,
        BackendKind::Thread,
        BackendKind::Async,
        BackendKind::Process,
        BackendKind::ProcessPerItem,
        BackendKind::Remote,
        BackendKind::Rayon,
    ];

    /// The name flags, spec files and reports use.
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Sequential => "sequential",
            BackendKind::Thread => "thread",
            BackendKind::Async => "async",
            BackendKind::Process => "process",
            BackendKind::ProcessPerItem => "process-per-item",
            BackendKind::Remote => "remote",
            BackendKind::Rayon => "rayon",
        }
    }

    /// Whether the backend can run an open-loop point (`--rates`): every one but `sequential`,
    /// which is one item at a time by definition and cannot keep a rate, and `rayon`, whose
    /// `par_iter` splits the item range among its threads ahead of time.
    pub fn runs_open_loop(self) -> bool {
        !matches!(self, BackendKind::Sequential | BackendKind::Rayon)
    }

    /// Builds the backend (for a sweep, whose settings hold the remote hosts: `create_for`).
    pub fn create(self) -> anyhow::Result<Box<dyn Backend>> {
        Ok(match self {
            BackendKind::Sequential => Box::new(thread::ThreadBackend::sequential()),
            BackendKind::Thread => Box::new(thread::ThreadBackend::pool()),
            BackendKind::Async => Box::new(async_tokio::AsyncBackend::new()?),
            BackendKind::Process => Box::new(process::ProcessBackend),
            BackendKind::ProcessPerItem => Box::new(per_item::PerItemBackend),
            BackendKind::Rayon => Box::new(rayon_pool::RayonBackend),
            BackendKind::Remote => {
                anyhow::bail!("the remote backend needs hosts (--hosts or --hosts-file)")
            }
        })
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BackendKind {
    type Err = SpecError;

    fn from_str(s: &str) -> Result<Self, SpecError> {
        BackendKind::ALL
            .iter()
            .copied()
            .find(|k| k.name() == s.trim())
            .ok_or_else(|| SpecError::UnknownBackend {
                name: s.trim().to_string(),
                known: BackendKind::ALL
                    .iter()
                    .map(|k| k.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}
