//! `process`: N long-lived worker processes (`throttlebench worker`), one per throttle slot.
//! The parent sends the workload spec once, then item numbers over each worker's stdin; the
//! worker answers each item on its stdout (see `protocol`).
//!
//! Each slot has a parent thread that keeps a small window of items queued in its worker, sized
//! to about 200 µs of work (1 for slow items, up to 64 for no-op ones): fast items travel in
//! batches, slow ones are handed out one at a time so the tail of a point stays balanced.
//!
//! A worker that dies mid-item (crash, SIGKILL) costs exactly that item, recorded failed with
//! kind `worker-died`; its queued items go back to the pool and a new worker takes the slot. An
//! item past `--timeout` gets its worker's process group killed and is recorded timed out.
//! Latency is measured inside the worker; the worker's own histogram replaces the parent's copy
//! when it exits cleanly. With `--retries` a worker retries a failed item itself and reports
//! the failed attempts with the item, so an item killed at the timeout is one timed-out item.
//!
//! An open-loop point (`--rates`) runs one worker per item allowed in flight, and each slot
//! sends its worker one item at a time, when it is due (see `feed_open`).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use crossbeam_utils::CachePadded;

use std::process::{Command, Stdio};

use super::driver::{median_startup, Schedule, StartupSample};
use super::feed::{serve, Clock, Ending, MAX_WINDOW, QUEUED_WORK_NS};
use super::feed_open::{serve_one_at_a_time, Pace};
use super::inflight::InflightTracker;
use super::limiter::LimitGate;
use super::protocol::mono_ns;
use super::retry::RetryPolicy;
use super::worker_proc::WorkerProc;
use super::{Backend, BackendKind, Budget, Execution, PointJob, PointProgress};
use crate::child::{worker_exe, PARENT_ENV};
use crate::measure::WorkerStats;

pub struct ProcessBackend;

impl Backend for ProcessBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Process
    }

    fn execute(&self, job: &PointJob<'_>) -> anyhow::Result<Execution> {
        run_pool(job, &Local).map(|(execution, _)| execution)
    }

    fn check(&self, spec: &crate::workload::WorkloadSpec) -> anyhow::Result<()> {
        check_worker(spec)
    }
}

/// Where a slot's worker runs: a local child (`process`), or a command that reaches a worker on
/// another host (`remote`). The pool is the same; only the start of a worker differs.
pub(crate) trait Launch: Sync {
    /// The command that starts `slot`'s worker, which speaks the protocol on stdin and stdout.
    fn command(&self, slot: usize) -> anyhow::Result<Command>;
    /// Names where `slot`'s worker runs, for messages.
    fn place(&self, slot: usize) -> String;
    /// Remote workers: a closed connection loses every item queued on it (kind `host-lost`),
    /// and a slot whose worker cannot be (re)started is given up while the others go on.
    fn remote(&self) -> bool {
        false
    }
    /// How much work to keep queued in a worker (ns of average item time) and at most how many
    /// items: a longer round trip (ssh) needs a deeper queue to keep the worker busy.
    fn window(&self) -> (u64, usize) {
        (QUEUED_WORK_NS, MAX_WINDOW)
    }
}

/// Workers started from this machine's own executable.
struct Local;

impl Launch for Local {
    fn command(&self, _slot: usize) -> anyhow::Result<Command> {
        let mut cmd = Command::new(worker_exe()?);
        cmd.arg("worker")
            .env(PARENT_ENV, std::process::id().to_string())
            .stderr(Stdio::inherit());
        Ok(cmd)
    }

    fn place(&self, _slot: usize) -> String {
        worker_exe()
            .map(|p| format!("is {} a throttlebench binary?", p.display()))
            .unwrap_or_default()
    }
}

/// Starts one local worker with `spec` and waits for it to be ready, within the start limit: a
/// worker that cannot build the workload (a kind only the parent's registry knows, a program
/// that does not dispatch its `worker` command line) or hangs while starting is one clear error
/// before a sweep, not a failure in its middle.
pub(crate) fn check_worker(spec: &crate::workload::WorkloadSpec) -> anyhow::Result<()> {
    let limit = super::worker_proc::start_limit()?;
    let spec_json = serde_json::to_vec(spec).context("cannot encode the workload spec")?;
    let mut proc = WorkerProc::spawn(&Local, 0, &spec_json, 0, RetryPolicy::none())?;
    proc.await_ready(&AtomicBool::new(false), Some(limit), || Local.place(0))?;
    proc.finish();
    Ok(())
}

/// What one slot of a pool measured, for a per-host breakdown.
pub(crate) struct SlotReport {
    pub stats: WorkerStats,
    /// Why the slot was given up (remote only): its host could not be reached again.
    pub lost: Option<String>,
}

/// State shared by the slots of one point.
pub(super) struct Shared<'a> {
    pub(super) launch: &'a dyn Launch,
    pub(super) spec_json: Vec<u8>,
    pub(super) next_item: CachePadded<AtomicU64>,
    pub(super) items: u64,
    /// Items handed back by a worker that died before starting them.
    pub(super) retry: Mutex<VecDeque<u64>>,
    pub(super) retry_waiting: AtomicBool,
    pub(super) duration: Option<Duration>,
    pub(super) timeout: Option<Duration>,
    /// Sent to every worker, which retries failed items itself.
    pub(super) retry_policy: RetryPolicy,
    pub(super) trace: bool,
    pub(super) stop: Arc<AtomicBool>,
    pub(super) failed_start: AtomicBool,
    pub(super) ready: Barrier,
    pub(super) started: OnceLock<(Instant, u64)>,
    pub(super) inflight: InflightTracker,
    pub(super) progress: Arc<PointProgress>,
    pub(super) window: Arc<super::WindowStart>,
    /// `command` items on local workers: the programs are the jobs, and everything a worker
    /// holds itself — its start, and the code and buffers its first spawns touch — is what the
    /// backend costs per slot. Otherwise a job runs inside the worker, and the worker's peak
    /// before its first measured item is the backend's part.
    pub(super) programs_are_jobs: bool,
    /// Open loop: when each item is due. Its items replace `next_item`'s.
    pub(super) schedule: Option<Schedule>,
    /// A limiter's point: a slot sends an item only while the gate admits it.
    pub(super) gate: Option<Arc<LimitGate>>,
}

impl Shared<'_> {
    pub(super) fn claim(&self) -> Option<u64> {
        if self.retry_waiting.load(Ordering::Acquire) {
            let mut retry = lock(&self.retry);
            if let Some(item) = retry.pop_front() {
                self.retry_waiting
                    .store(!retry.is_empty(), Ordering::Release);
                return Some(item);
            }
        }
        let item = self.next_item.fetch_add(1, Ordering::Relaxed);
        (item < self.items).then_some(item)
    }

    /// Whether an item may still be claimed: one handed back, or the budget not yet spent.
    pub(super) fn items_left(&self) -> bool {
        self.retry_waiting.load(Ordering::Acquire)
            || self.next_item.load(Ordering::Relaxed) < self.items
    }

    pub(super) fn give_back(&self, items: impl IntoIterator<Item = u64>) {
        let mut retry = lock(&self.retry);
        retry.extend(items);
        self.retry_waiting
            .store(!retry.is_empty(), Ordering::Release);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What one slot measured over all the workers it ran.
pub(super) struct SlotResult {
    pub(super) stats: WorkerStats,
    pub(super) last_end: Option<Instant>,
    pub(super) peak_rss: u64,
    pub(super) error: Option<anyhow::Error>,
    /// Remote only: why the slot was given up (its host could not be reached again).
    pub(super) lost: Option<String>,
    /// Writing an item to an idle worker → the worker starting it, for a sample of items.
    pub(super) startups: StartupSample,
    /// `programs_are_jobs`: the largest own peak (VmHWM) of the slot's workers, bytes.
    pub(super) worker_peak: u64,
}

/// Runs one point on a pool of `job.throttle` workers started by `launch`.
pub(crate) fn run_pool(
    job: &PointJob<'_>,
    launch: &dyn Launch,
) -> anyhow::Result<(Execution, Vec<SlotReport>)> {
    let spec = job
        .workload
        .spec_for_workers()
        .unwrap_or_else(|| job.spec.clone());
    let workers = job.throttle.max(1);
    let (items, duration) = match job.budget {
        Budget::Items(n) => (n, None),
        Budget::Duration(d) => (u64::MAX, Some(d)),
    };
    let shared = Shared {
        launch,
        spec_json: serde_json::to_vec(&spec).context("cannot encode the workload spec")?,
        next_item: CachePadded::new(AtomicU64::new(0)),
        items,
        retry: Mutex::new(VecDeque::new()),
        retry_waiting: AtomicBool::new(false),
        duration,
        timeout: job.timeout,
        retry_policy: job.retry,
        trace: job.trace,
        stop: job.stop.clone(),
        failed_start: AtomicBool::new(false),
        ready: Barrier::new(workers + 1),
        started: OnceLock::new(),
        inflight: InflightTracker::new(workers),
        progress: job.progress.clone(),
        window: job.window.clone(),
        programs_are_jobs: spec.kind == "command" && !launch.remote(),
        schedule: job
            .open_loop
            .as_ref()
            .map(|open| Schedule::new(open, items, duration)),
        gate: job.limit.clone(),
    };
    let slots: Vec<SlotResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|slot| {
                // The warm-up items are shared out between the workers.
                let warmup = job.warmup / workers as u64
                    + u64::from((slot as u64) < job.warmup % workers as u64);
                let shared = &shared;
                std::thread::Builder::new()
                    .name(format!("tb-process-{slot}"))
                    .spawn_scoped(scope, move || run_slot(shared, slot, warmup))
            })
            .collect();
        shared.ready.wait();
        job.window.open();
        shared.started.get_or_init(|| (Instant::now(), mono_ns()));
        handles
            .into_iter()
            .map(|h| match h {
                Ok(h) => h.join().unwrap_or_else(|_| SlotResult {
                    stats: WorkerStats::new(),
                    last_end: None,
                    peak_rss: 0,
                    error: Some(anyhow!("a worker slot thread panicked")),
                    lost: None,
                    startups: StartupSample::default(),
                    worker_peak: 0,
                }),
                Err(e) => SlotResult {
                    stats: WorkerStats::new(),
                    last_end: None,
                    peak_rss: 0,
                    error: Some(anyhow!("cannot start a worker slot thread: {e}")),
                    lost: None,
                    startups: StartupSample::default(),
                    worker_peak: 0,
                },
            })
            .collect()
    });
    let (started, _) = *shared
        .started
        .get()
        .ok_or_else(|| anyhow!("the point never started"))?;
    let mut stats = WorkerStats::new();
    let mut last_end = started;
    let mut children_peak = 0u64;
    let mut startups = Vec::new();
    let mut reports = Vec::new();
    if launch.remote() && !job.stop.load(Ordering::Relaxed) {
        if let Some(why) = slots
            .iter()
            .map(|s| s.lost.as_ref())
            .collect::<Option<Vec<_>>>()
        {
            let first = why.first().map_or("", |w| w.as_str());
            anyhow::bail!("every worker was lost: {first}");
        }
    }
    for slot in slots {
        if let Some(err) = slot.error {
            // After Ctrl-C a failed start is expected; the point is discarded anyway.
            if !job.stop.load(Ordering::Relaxed) {
                return Err(err);
            }
        }
        if launch.remote() {
            reports.push(SlotReport {
                stats: slot.stats.clone(),
                lost: slot.lost,
            });
        }
        stats.merge(slot.stats);
        last_end = last_end.max(slot.last_end.unwrap_or(started));
        children_peak += slot.peak_rss;
        let mut sample = slot.startups;
        startups.extend(sample.take());
        job.window.add_worker_resident(slot.worker_peak);
    }
    // A remote worker's memory is another machine's: it is not added to this one's peak.
    let children_peak = if launch.remote() { 0 } else { children_peak };
    let execution = Execution {
        stats,
        wall: last_end.saturating_duration_since(started),
        max_inflight: shared.inflight.max(),
        startup: median_startup(startups),
        children_peak_rss: (children_peak > 0).then_some(children_peak),
    };
    Ok((execution, reports))
}

/// Starts a worker and waits for it to be ready; a slot's `first` worker says what a slot holds.
fn start_worker(
    shared: &Shared,
    slot: usize,
    warmup: u64,
    first: bool,
) -> anyhow::Result<WorkerProc> {
    let mut proc = WorkerProc::spawn(
        shared.launch,
        slot,
        &shared.spec_json,
        warmup,
        shared.retry_policy,
    )?;
    let ready = proc.await_ready(&shared.stop, None, || shared.launch.place(slot))?;
    // A remote worker's CPU and memory are its host's and never reach our rusage or peak.
    if !shared.launch.remote() {
        shared
            .window
            .add_worker_setup(crate::measure::cpu::CpuTimes {
                user: ready.setup_cpu,
                sys: std::time::Duration::ZERO,
            });
        if first && !shared.programs_are_jobs {
            shared.window.add_worker_resident(ready.resident);
        }
    }
    Ok(proc)
}

/// One slot's life: its first worker, then a replacement for every worker that died.
fn run_slot(shared: &Shared, slot: usize, warmup: u64) -> SlotResult {
    let first = start_worker(shared, slot, warmup, true);
    // A remote slot that cannot start is given up; the other hosts run the point.
    if first.is_err() && !shared.launch.remote() {
        shared.failed_start.store(true, Ordering::Relaxed);
    }
    shared.ready.wait();
    let (started, started_ns) = *shared.started.get_or_init(|| (Instant::now(), mono_ns()));
    let mut result = SlotResult {
        stats: WorkerStats::new(),
        last_end: None,
        peak_rss: 0,
        error: None,
        lost: None,
        startups: StartupSample::default(),
        worker_peak: 0,
    };
    let mut proc = match first {
        Ok(p) if !shared.failed_start.load(Ordering::Relaxed) => p,
        Ok(_) => return result, // another slot failed: the point is abandoned
        Err(e) if shared.launch.remote() => {
            result.lost = Some(format!("{e:#}"));
            return result;
        }
        Err(e) => {
            result.error = Some(e);
            return result;
        }
    };
    // An open loop's schedule ends at the duration; items due before it still start.
    let deadline = shared
        .duration
        .filter(|_| shared.schedule.is_none())
        .map(|d| started + d);
    let clock = Clock {
        started,
        started_ns,
        deadline,
    };
    let mut completed = 0u64;
    loop {
        let (worker, out, done) = (&mut proc, &mut result, &mut completed);
        let pace = match (&shared.schedule, &shared.gate) {
            (Some(schedule), _) => Some(Pace::Scheduled(schedule)),
            (None, Some(gate)) => Some(Pace::Limited(gate)),
            (None, None) => None,
        };
        let ending = match pace {
            Some(pace) => serve_one_at_a_time(shared, pace, slot, &clock, worker, out, done),
            None => serve(shared, slot, &clock, worker, out, done),
        };
        match ending {
            Ok(Ending::Finished) | Ok(Ending::Stopped) => break,
            Ok(Ending::Replace) if shared.stop.load(Ordering::Relaxed) => break,
            Ok(Ending::Replace) => match start_worker(shared, slot, 0, false) {
                Ok(p) => proc = p,
                Err(e) if shared.launch.remote() => {
                    result.lost = Some(format!("{e:#}"));
                    break;
                }
                Err(e) => {
                    result.error = Some(e.context("cannot replace a worker process"));
                    break;
                }
            },
            Err(e) => {
                result.error = Some(e);
                break;
            }
        }
    }
    result
}
