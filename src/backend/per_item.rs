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
use std::sync::Barrier;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};

use super::driver::{Attempt, ItemEnd, Point, WARMUP_ITEM};
use super::inflight::InflightTracker;
use super::protocol::{mono_ns, FrameReader, FromWorker, Next};
use super::{Backend, BackendKind, Execution, PointJob};
use crate::child::{describe, kill_and_reap, own_group, peak_rss_of, pidfd, wait_until, Waited};
use crate::child::{worker_exe, PARENT_ENV};
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

    /// A `command` item's process is the program itself; any other is a worker, checked as the
    /// `process` backend's are.
    fn check(&self, spec: &crate::workload::WorkloadSpec) -> anyhow::Result<()> {
        match spec.kind.as_str() {
            "command" => Ok(()),
            _ => super::process::check_worker(spec),
        }
    }
}

/// What each item's process is.
enum Launch {
    Command(CommandLine),
    Worker { exe: PathBuf, spec_json: String },
}

struct Shared {
    launch: Launch,
    point: Point,
    ready: Barrier,
}

/// One attempt's process, as its slot saw it.
struct Ran {
    pid: u32,
    /// `None`: killed at the deadline.
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
    last_end: Instant,
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
    let shared = Shared {
        launch,
        point: Point::new(job, InflightTracker::new(slots)),
        ready: Barrier::new(slots + 1),
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
        shared.point.start();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| anyhow!("a process slot thread panicked"))
            })
            .collect::<anyhow::Result<Vec<_>>>()
    })?;
    let started = shared
        .point
        .started()
        .ok_or_else(|| anyhow!("the point never started"))?;
    let mut stats = WorkerStats::new();
    let mut startups = Vec::new();
    let mut last_end = started;
    let mut peak = 0;
    for slot in results {
        stats.merge(slot.stats);
        startups.extend(slot.startups);
        peak += slot.peak_rss;
        last_end = last_end.max(slot.last_end);
    }
    startups.sort_unstable();
    let startup = startups
        .get(startups.len() / 2)
        .map(|&ns| Duration::from_nanos(ns));
    Ok(Execution {
        stats,
        wall: last_end.saturating_duration_since(started),
        max_inflight: shared.point.max_inflight(),
        startup,
        children_peak_rss: (peak > 0).then_some(peak),
    })
}

fn run_slot(shared: &Shared, slot: usize) -> SlotResult {
    let point = &shared.point;
    while point.take_warmup() {
        let _ = run_child(
            shared,
            WARMUP_ITEM,
            point.timeout.and_then(|t| Instant::now().checked_add(t)),
        );
    }
    shared.ready.wait();
    let mut lane = point.lane(slot);
    let mut children = Children {
        shared,
        startups: Vec::new(),
        peak_rss: 0,
        transfer: None,
        pid: 0,
    };
    let mut stats = WorkerStats::new();
    lane.run_blocking(&mut point.items(), &mut children, &mut stats);
    stats.add_transfer(children.transfer);
    SlotResult {
        stats,
        startups: children.startups,
        peak_rss: children.peak_rss,
        last_end: lane.last_end(),
    }
}

/// A slot's attempts, each in a fresh process, killed at the item's deadline; keeps what the
/// processes said of themselves beside the items' outcomes.
struct Children<'a> {
    shared: &'a Shared,
    /// Every attempt's startup, in ns.
    startups: Vec<u64>,
    peak_rss: u64,
    transfer: Option<Transfer>,
    /// The last attempt's process: the item's worker in the trace.
    pid: u32,
}

impl Attempt for Children<'_> {
    fn attempt(&mut self, item: u64, deadline: Option<Instant>) -> ItemEnd {
        let Some(ran) = run_child(self.shared, item, deadline) else {
            return ItemEnd::Stopped;
        };
        self.pid = ran.pid;
        if let Some(s) = ran.startup {
            self.startups.push(s.as_nanos() as u64);
        }
        self.peak_rss = self.peak_rss.max(ran.peak_rss);
        self.transfer = Transfer::add(self.transfer, ran.transfer);
        match ran.outcome {
            Some(outcome) => ItemEnd::Ran(outcome),
            None => ItemEnd::TimedOut,
        }
    }

    fn ran_on(&self) -> Option<u64> {
        Some(u64::from(self.pid))
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
            Err(e) => return Some(failed(e)),
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
            return Some(failed(command::spawn_error(&program, &e)));
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
        &|| shared.point.stopped(),
        &mut |pid| peak = peak.max(peak_rss_of(pid).unwrap_or(0)),
    );
    let status = match waited {
        Ok(Waited::Exited(status)) => status,
        Ok(Waited::Deadline) => {
            kill_and_reap(&mut child);
            return Some(Ran {
                pid,
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
            return Some(failed(ItemError::io(&e)));
        }
    };
    // A command may have left something running in its group: it goes with the item.
    super::child::kill_group(pid);
    let mut ran = Ran {
        pid,
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

fn failed(error: ItemError) -> Ran {
    Ran {
        pid: 0,
        outcome: Some(Err(error)),
        startup: None,
        peak_rss: 0,
        transfer: None,
    }
}
