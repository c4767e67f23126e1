//! `process-per-item`: a fresh process for every item, N at a time — the Start-Job model, which
//! measures what starting a process costs.
//!
//! For the `command` workload the item's process *is* the command: spawning
//! `throttlebench worker` only to have it spawn the command would count two process starts per
//! item, which no real job runner does (xargs, GNU parallel and Start-Job run the command
//! itself). Every other workload runs as `throttlebench worker --one ITEM`.
//!
//! With `--retries`, a failed item is tried again in a fresh process after the backoff, started
//! from this side: nothing of the failed attempt (a half-written file, a poisoned cache) carries
//! over. The per-item timeout covers every attempt and the waits between them together, as on
//! the thread backend; an item whose time runs out during a wait is recorded timed out.
//!
//! An item's latency runs from the spawn call to the moment its exit is seen, so it includes
//! process creation (of every attempt, with retries). `startup` is the median time from the
//! spawn call to the item starting to run: for `command`, until the program has been exec'd
//! (spawn returns then); for a worker, until the worker reports that it has built the workload
//! and begun the item.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use crossbeam_utils::CachePadded;

use super::inflight::InflightTracker;
use super::protocol::{mono_ns, FrameReader, FromWorker, Next};
use super::retry::RetryPolicy;
use super::{Backend, BackendKind, Budget, Execution, PointJob, PointProgress};
use crate::child::{describe, kill_and_reap, own_group, peak_rss_of, pidfd, wait_until, Waited};
use crate::child::{worker_exe, PARENT_ENV};
use crate::measure::timeline::TraceEvent;
use crate::measure::WorkerStats;
use crate::workload::command::{self, CommandLine};
use crate::workload::{ItemError, ItemResult, Transfer};

/// How often a waiting slot samples its child's memory and looks at Ctrl-C.
const SLICE: Duration = Duration::from_millis(5);

pub struct PerItemBackend;

impl Backend for PerItemBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::ProcessPerItem
    }

    fn execute(&self, job: &PointJob<'_>) -> anyhow::Result<Execution> {
        run(job)
    }
}

/// What each item's process is.
enum Launch {
    Command(CommandLine),
    Worker { exe: PathBuf, spec_json: String },
}

struct Shared {
    launch: Launch,
    next_item: CachePadded<AtomicU64>,
    next_warmup: CachePadded<AtomicU64>,
    items: u64,
    warmup: u64,
    duration: Option<Duration>,
    timeout: Option<Duration>,
    retry: RetryPolicy,
    trace: bool,
    stop: Arc<AtomicBool>,
    ready: Barrier,
    started: OnceLock<Instant>,
    inflight: InflightTracker,
    progress: Arc<PointProgress>,
}

/// One item's process, start to end.
struct Ran {
    pid: u32,
    begin: Instant,
    end: Instant,
    /// `None`: killed at the timeout.
    outcome: Option<ItemResult>,
    startup: Option<Duration>,
    peak_rss: u64,
    /// The bytes the worker's item moved, as its `Stats` frame said (`http` only).
    transfer: Option<Transfer>,
}

struct SlotResult {
    stats: WorkerStats,
    startups: Vec<u64>,
    peak_rss: u64,
    last_end: Option<Instant>,
}

fn run(job: &PointJob<'_>) -> anyhow::Result<Execution> {
    let spec = job
        .workload
        .spec_for_workers()
        .unwrap_or_else(|| job.spec.clone());
    let launch = if spec.kind == "command" {
        Launch::Command(CommandLine::from_spec(&spec)?)
    } else {
        Launch::Worker {
            exe: worker_exe()?,
            spec_json: serde_json::to_string(&spec).context("cannot encode the workload spec")?,
        }
    };
    let slots = job.throttle.max(1);
    let (items, duration) = match job.budget {
        Budget::Items(n) => (n, None),
        Budget::Duration(d) => (u64::MAX, Some(d)),
    };
    let shared = Shared {
        launch,
        next_item: CachePadded::new(AtomicU64::new(0)),
        next_warmup: CachePadded::new(AtomicU64::new(0)),
        items,
        warmup: job.warmup,
        duration,
        timeout: job.timeout,
        retry: job.retry,
        trace: job.trace,
        stop: job.stop.clone(),
        ready: Barrier::new(slots + 1),
        started: OnceLock::new(),
        inflight: InflightTracker::new(slots),
        progress: job.progress.clone(),
    };
    let results: Vec<SlotResult> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..slots)
            .map(|slot| {
                let shared = &shared;
                std::thread::Builder::new()
                    .name(format!("tb-per-item-{slot}"))
                    .spawn_scoped(scope, move || run_slot(shared, slot))
            })
            .collect::<Result<_, _>>()?;
        shared.ready.wait();
        job.window.open();
        shared.started.get_or_init(Instant::now);
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow!("a process slot thread panicked"))
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let started = *shared
        .started
        .get()
        .ok_or_else(|| anyhow!("the point never started"))?;
    let mut stats = WorkerStats::new();
    let mut startups = Vec::new();
    let mut last_end = started;
    let mut peak = 0;
    for slot in results {
        stats.merge(slot.stats);
        startups.extend(slot.startups);
        peak += slot.peak_rss;
        last_end = last_end.max(slot.last_end.unwrap_or(started));
    }
    startups.sort_unstable();
    let startup = startups
        .get(startups.len() / 2)
        .map(|&ns| Duration::from_nanos(ns));
    Ok(Execution {
        stats,
        wall: last_end.saturating_duration_since(started),
        max_inflight: shared.inflight.max(),
        startup,
        children_peak_rss: (peak > 0).then_some(peak),
    })
}

fn run_slot(shared: &Shared, slot: usize) -> SlotResult {
    while shared.next_warmup.fetch_add(1, Ordering::Relaxed) < shared.warmup {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let _ = run_child(shared, u64::MAX, shared.timeout.map(|t| Instant::now() + t));
    }
    shared.ready.wait();
    let started = *shared.started.get_or_init(Instant::now);
    let deadline = shared.duration.map(|d| started + d);
    let mut out = SlotResult {
        stats: WorkerStats::new(),
        startups: Vec::new(),
        peak_rss: 0,
        last_end: None,
    };
    let mut completed = 0u64;
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        let item = shared.next_item.fetch_add(1, Ordering::Relaxed);
        if item >= shared.items {
            break;
        }
        let entered = shared.inflight.enter();
        let ran = run_attempts(shared, item, &mut out);
        shared.inflight.leave(entered);
        let Some((ran, attempts)) = ran else { break }; // Ctrl-C: nothing to record
        let took = ran.end - ran.begin;
        let error = match &ran.outcome {
            Some(Err(e)) => Some(e.kind.to_string()),
            None => Some("timeout".to_string()),
            Some(Ok(())) => None,
        };
        let ended = out
            .stats
            .finish_attempts(item, took, ran.outcome, shared.timeout, attempts);
        if shared.trace {
            out.stats.trace_item(TraceEvent::new(
                item,
                u64::from(ran.pid),
                (ran.begin, ran.end),
                started,
                ended,
                error.as_deref(),
            ));
        }
        out.peak_rss = out.peak_rss.max(ran.peak_rss);
        out.last_end = Some(ran.end);
        completed += 1;
        shared.progress.set(slot, completed);
        if deadline.is_some_and(|d| ran.end >= d) {
            break;
        }
    }
    out
}

/// Runs one item, a fresh process per attempt, until an attempt succeeds, the retries run out
/// or the item's time does. Failed attempts that are retried are noted in `out`, and every
/// attempt's startup is kept. Returns the item's run from the first spawn to the last exit, and
/// the attempts it took; `None` when Ctrl-C cut it short.
fn run_attempts(shared: &Shared, item: u64, out: &mut SlotResult) -> Option<(Ran, u32)> {
    let first = Instant::now();
    let deadline = shared.timeout.map(|t| first + t);
    let mut attempt = 1;
    let mut peak = 0;
    loop {
        let mut ran = run_child(shared, item, deadline)?;
        out.stats.add_transfer(ran.transfer.take());
        if let Some(s) = ran.startup {
            out.startups.push(s.as_nanos() as u64);
        }
        peak = peak.max(ran.peak_rss);
        ran.begin = first;
        ran.peak_rss = peak;
        // A workload that cannot be built is not retried, as on the other backends.
        let err = match &ran.outcome {
            Some(Err(err)) if attempt <= shared.retry.retries && err.kind != "setup" => err,
            _ => return Some((ran, attempt)),
        };
        out.stats.note_failed_attempt(item, attempt, err);
        let wake = Instant::now() + shared.retry.delay(item, attempt);
        match deadline {
            Some(limit) if limit <= wake => {
                // The next attempt could not start in time: the item is out of time.
                pause_until(shared, limit)?;
                ran.outcome = None;
                ran.end = Instant::now();
                return Some((ran, attempt));
            }
            _ => pause_until(shared, wake)?,
        }
        attempt += 1;
    }
}

/// Sleeps until `wake`, looking at Ctrl-C every `SLICE`; `None` when it came.
fn pause_until(shared: &Shared, wake: Instant) -> Option<()> {
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            return None;
        }
        let left = wake.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Some(());
        }
        std::thread::sleep(left.min(SLICE));
    }
}

/// Runs one attempt of an item in a process of its own, killed at `deadline`. `None` when
/// Ctrl-C cut it short.
fn run_child(shared: &Shared, item: u64, deadline: Option<Instant>) -> Option<Ran> {
    let begin = Instant::now();
    let begin_ns = mono_ns();
    let mut cmd = match &shared.launch {
        Launch::Command(line) => match line.command(item) {
            Ok(mut cmd) => {
                cmd.env(PARENT_ENV, std::process::id().to_string());
                cmd
            }
            Err(e) => return Some(failed(begin, e)),
        },
        Launch::Worker { exe, spec_json } => {
            let mut cmd = Command::new(exe);
            cmd.arg("worker")
                .arg("--one")
                .arg(item.to_string())
                .arg("--spec")
                .arg(spec_json)
                .env(PARENT_ENV, std::process::id().to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::piped());
            cmd
        }
    };
    let mut child = match own_group(&mut cmd).spawn() {
        Ok(child) => child,
        Err(e) => {
            let program = match &shared.launch {
                Launch::Command(line) => line.program.clone(),
                Launch::Worker { exe, .. } => exe.display().to_string(),
            };
            return Some(failed(begin, command::spawn_error(&program, &e)));
        }
    };
    let spawned = Instant::now();
    let pid = child.id();
    let fd = pidfd(pid);
    let mut peak = 0u64;
    let waited = wait_until(
        &mut child,
        fd.as_ref(),
        deadline,
        SLICE,
        &|| shared.stop.load(Ordering::Relaxed),
        &mut |pid| peak = peak.max(peak_rss_of(pid).unwrap_or(0)),
    );
    let status = match waited {
        Ok(Waited::Exited(status)) => status,
        Ok(Waited::Deadline) => {
            kill_and_reap(&mut child);
            return Some(Ran {
                pid,
                begin,
                end: Instant::now(),
                outcome: None,
                startup: None,
                peak_rss: peak,
                transfer: None,
            });
        }
        Ok(Waited::GaveUp) => {
            kill_and_reap(&mut child);
            return None;
        }
        Err(e) => {
            kill_and_reap(&mut child);
            return Some(failed(begin, ItemError::io(&e)));
        }
    };
    let end = Instant::now();
    // A command may have left something running in its group: it goes with the item.
    super::child::kill_group(pid);
    let mut ran = Ran {
        pid,
        begin,
        end,
        outcome: None,
        startup: None,
        peak_rss: peak,
        transfer: None,
    };
    match &shared.launch {
        Launch::Command(_) => {
            ran.outcome = Some(command::outcome(status));
            ran.startup = Some(spawned - begin);
        }
        Launch::Worker { .. } => {
            let mut report = Vec::new();
            if let Some(mut stdout) = child.stdout.take() {
                let _ = stdout.read_to_end(&mut report);
            }
            let mut reader = FrameReader::new(report.as_slice());
            ran.outcome = Some(Err(ItemError::new(
                "worker-died",
                format!(
                    "worker {pid} {} before reporting item {item}",
                    describe(Some(status))
                ),
            )));
            while let Ok(Next::Frame(frame)) = reader.next(FromWorker::decode) {
                match frame {
                    FromWorker::Done(done) => {
                        ran.startup =
                            Some(Duration::from_nanos(done.begin_ns.saturating_sub(begin_ns)));
                        ran.outcome = Some(match done.error {
                            None => Ok(()),
                            Some((kind, message)) => Err(ItemError::new(kind, message)),
                        });
                    }
                    FromWorker::Stats {
                        peak_rss, transfer, ..
                    } => {
                        ran.peak_rss = ran.peak_rss.max(peak_rss);
                        ran.transfer = transfer;
                    }
                    FromWorker::Ready { .. } => {}
                }
            }
        }
    }
    Some(ran)
}

fn failed(begin: Instant, error: ItemError) -> Ran {
    Ran {
        pid: 0,
        begin,
        end: Instant::now(),
        outcome: Some(Err(error)),
        startup: None,
        peak_rss: 0,
        transfer: None,
    }
}
