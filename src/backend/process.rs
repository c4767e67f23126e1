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
//! when it exits cleanly.

use std::collections::VecDeque;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use crossbeam_utils::CachePadded;
use hdrhistogram::serialization::Deserializer;

use super::child::{kill_and_reap, kill_group, own_group};
use super::inflight::{Entered, InflightTracker};
use super::protocol::{mono_ns, FrameReader, FrameWriter, FromWorker, ItemDone, Next, ToWorker};
use super::worker::{worker_exe, PARENT_ENV};
use super::{Backend, BackendKind, Budget, Execution, PointJob, PointProgress};
use crate::measure::timeline::TraceEvent;
use crate::measure::WorkerStats;
use crate::workload::ItemError;

/// Work kept queued in a worker, in nanoseconds of average item time.
const QUEUED_WORK_NS: u64 = 200_000;
const MAX_WINDOW: usize = 64;
/// How often a waiting slot looks at Ctrl-C and the item timeout.
const SLICE: Duration = Duration::from_millis(20);
/// How long a finishing worker gets to send its last report.
const FINISH_GRACE: Duration = Duration::from_secs(10);

pub struct ProcessBackend;

impl Backend for ProcessBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Process
    }

    fn execute(&self, job: &PointJob<'_>) -> anyhow::Result<Execution> {
        run_pool(job, &Local).map(|(execution, _)| execution)
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

/// What one slot of a pool measured, for a per-host breakdown.
pub(crate) struct SlotReport {
    pub stats: WorkerStats,
    /// Why the slot was given up (remote only): its host could not be reached again.
    pub lost: Option<String>,
}

/// State shared by the slots of one point.
struct Shared<'a> {
    launch: &'a dyn Launch,
    spec_json: Vec<u8>,
    next_item: CachePadded<AtomicU64>,
    items: u64,
    /// Items handed back by a worker that died before starting them.
    retry: Mutex<VecDeque<u64>>,
    retry_waiting: AtomicBool,
    duration: Option<Duration>,
    timeout: Option<Duration>,
    trace: bool,
    stop: Arc<AtomicBool>,
    failed_start: AtomicBool,
    ready: Barrier,
    started: OnceLock<(Instant, u64)>,
    inflight: InflightTracker,
    progress: Arc<PointProgress>,
}

impl Shared<'_> {
    fn claim(&self) -> Option<u64> {
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

    fn give_back(&self, items: impl IntoIterator<Item = u64>) {
        let mut retry = lock(&self.retry);
        retry.extend(items);
        self.retry_waiting
            .store(!retry.is_empty(), Ordering::Release);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One running worker process and its pipes. Dropping it kills its process group.
struct WorkerProc {
    child: Child,
    pid: u32,
    reader: FrameReader<ChildStdout>,
    writer: FrameWriter<ChildStdin>,
    reaped: bool,
}

impl WorkerProc {
    /// Starts a worker and sends it the spec; it answers `Ready` once warmed up.
    fn spawn(
        launch: &dyn Launch,
        slot: usize,
        spec_json: &[u8],
        warmup: u64,
    ) -> anyhow::Result<WorkerProc> {
        let mut cmd = launch.command(slot)?;
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut child = own_group(&mut cmd)
            .spawn()
            .context("cannot start a worker process")?;
        let pid = child.id();
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            kill_and_reap(&mut child);
            anyhow::bail!("worker process started without pipes");
        };
        let mut proc = WorkerProc {
            child,
            pid,
            reader: FrameReader::new(stdout),
            writer: FrameWriter::new(stdin),
            reaped: false,
        };
        ToWorker::Start {
            spec_json: spec_json.to_vec(),
            warmup,
        }
        .encode(&mut proc.writer.buf);
        proc.writer
            .flush()
            .context("cannot send the workload to a worker")?;
        Ok(proc)
    }

    /// Waits for `Ready`, giving up on Ctrl-C.
    fn await_ready(&mut self, stop: &AtomicBool, place: impl Fn() -> String) -> anyhow::Result<()> {
        loop {
            match self.reader.next_within(SLICE, FromWorker::decode)? {
                Next::Frame(FromWorker::Ready {
                    setup_error: None, ..
                }) => return Ok(()),
                Next::Frame(FromWorker::Ready {
                    setup_error: Some(why),
                    ..
                }) => anyhow::bail!("a worker process cannot build the workload: {why}"),
                Next::Frame(_) => anyhow::bail!("a worker process answered out of turn"),
                Next::Closed => {
                    anyhow::bail!("a worker process exited before it was ready ({})", place())
                }
                Next::Idle if stop.load(Ordering::Relaxed) => anyhow::bail!("interrupted"),
                Next::Idle => {}
            }
        }
    }

    /// Kills the worker's group; returns how the worker ended.
    fn kill(&mut self) -> String {
        self.reaped = true;
        describe(kill_and_reap(&mut self.child))
    }

    /// After its stdout closed: lets the worker finish exiting, then sweeps its group.
    fn reap_dead(&mut self) -> String {
        self.reaped = true;
        let until = Instant::now() + Duration::from_millis(200);
        while Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                kill_group(self.pid);
                return describe(Some(status));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        describe(kill_and_reap(&mut self.child))
    }
}

impl Drop for WorkerProc {
    fn drop(&mut self) {
        if !self.reaped {
            kill_and_reap(&mut self.child);
        }
    }
}

fn describe(status: Option<std::process::ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Some(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("exited with code {code}"),
            (_, Some(signal)) => format!("was killed by signal {signal}"),
            _ => format!("ended ({s})"),
        },
        None => "vanished".to_string(),
    }
}

/// What one slot measured over all the workers it ran.
struct SlotResult {
    stats: WorkerStats,
    last_end: Option<Instant>,
    peak_rss: u64,
    error: Option<anyhow::Error>,
    lost: Option<String>,
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
        trace: job.trace,
        stop: job.stop.clone(),
        failed_start: AtomicBool::new(false),
        ready: Barrier::new(workers + 1),
        started: OnceLock::new(),
        inflight: InflightTracker::new(workers),
        progress: job.progress.clone(),
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
                }),
                Err(e) => SlotResult {
                    stats: WorkerStats::new(),
                    last_end: None,
                    peak_rss: 0,
                    error: Some(anyhow!("cannot start a worker slot thread: {e}")),
                    lost: None,
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
    }
    // A remote worker's memory is another machine's: it is not added to this one's peak.
    let children_peak = if launch.remote() { 0 } else { children_peak };
    let execution = Execution {
        stats,
        wall: last_end.saturating_duration_since(started),
        max_inflight: shared.inflight.max(),
        startup: None,
        children_peak_rss: (children_peak > 0).then_some(children_peak),
    };
    Ok((execution, reports))
}

/// Starts a worker and waits for it to be ready.
fn start_worker(shared: &Shared, slot: usize, warmup: u64) -> anyhow::Result<WorkerProc> {
    let mut proc = WorkerProc::spawn(shared.launch, slot, &shared.spec_json, warmup)?;
    proc.await_ready(&shared.stop, || shared.launch.place(slot))?;
    Ok(proc)
}

/// One slot's life: its first worker, then a replacement for every worker that died.
fn run_slot(shared: &Shared, slot: usize, warmup: u64) -> SlotResult {
    let first = start_worker(shared, slot, warmup);
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
    let deadline = shared.duration.map(|d| started + d);
    let clock = Clock {
        started_ns,
        deadline,
    };
    let mut completed = 0u64;
    loop {
        let ending = serve(shared, slot, &clock, &mut proc, &mut result, &mut completed);
        match ending {
            Ok(Ending::Finished) | Ok(Ending::Stopped) => break,
            Ok(Ending::Replace) if shared.stop.load(Ordering::Relaxed) => break,
            Ok(Ending::Replace) => match start_worker(shared, slot, 0) {
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

struct Clock {
    started_ns: u64,
    deadline: Option<Instant>,
}

enum Ending {
    /// Every item is done; the worker reported and exited.
    Finished,
    /// Ctrl-C: the worker was killed.
    Stopped,
    /// The worker died or was killed at the timeout: start another.
    Replace,
}

/// Feeds one worker until the items run out, it dies, or an item times out.
fn serve(
    shared: &Shared,
    slot: usize,
    clock: &Clock,
    proc: &mut WorkerProc,
    out: &mut SlotResult,
    completed: &mut u64,
) -> anyhow::Result<Ending> {
    let mut life = WorkerStats::new();
    // (item, when it was sent) for every item queued in the worker, oldest first.
    let (queued_work_ns, max_window) = shared.launch.window();
    let mut queue: VecDeque<(u64, u64)> = VecDeque::with_capacity(max_window);
    // When the item at the head of the queue started (or will have started) running.
    let mut head_since = 0u64;
    let mut busy: Option<Entered> = None;
    let mut avg_ns = 0u64;
    let timeout_ns = shared.timeout.map(|t| t.as_nanos() as u64);
    let ending = loop {
        let accepting = !shared.stop.load(Ordering::Relaxed)
            && !matches!(clock.deadline, Some(d) if Instant::now() >= d);
        // Unknown item time (no answer yet): one at a time.
        let window = queued_work_ns
            .checked_div(avg_ns)
            .map_or(1, |w| (w as usize).clamp(1, max_window));
        if accepting && queue.len() < window {
            let now = mono_ns();
            while queue.len() < window {
                let Some(item) = shared.claim() else { break };
                ToWorker::Item(item).encode(&mut proc.writer.buf);
                if queue.is_empty() {
                    head_since = now;
                    busy = Some(shared.inflight.enter());
                }
                queue.push_back((item, now));
            }
        }
        if queue.is_empty() {
            break finish(proc, &mut life, out);
        }
        let next = match proc.reader.buffered(FromWorker::decode) {
            Ok(Some(frame)) => Next::Frame(frame),
            Ok(None) => {
                let wait = match timeout_ns {
                    Some(limit) => {
                        let left = (head_since + limit).saturating_sub(mono_ns());
                        SLICE.min(Duration::from_nanos(left))
                    }
                    None => SLICE,
                };
                match proc.writer.flush() {
                    Ok(()) => proc
                        .reader
                        .next_within(wait, FromWorker::decode)
                        .unwrap_or(Next::Closed),
                    Err(_) => Next::Closed,
                }
            }
            Err(_) => Next::Closed,
        };
        match next {
            Next::Frame(FromWorker::Done(done)) => {
                let Some((item, _)) = queue.pop_front() else {
                    anyhow::bail!("worker {} answered an item it was not sent", proc.pid);
                };
                if item != done.item {
                    anyhow::bail!("worker {} answered items out of order", proc.pid);
                }
                let took = done.end_ns.saturating_sub(done.begin_ns);
                avg_ns = if avg_ns == 0 {
                    took.max(1)
                } else {
                    (avg_ns * 7 + took) / 8
                }
                .max(1);
                if let Some(&(_, sent)) = queue.front() {
                    head_since = done.end_ns.max(sent);
                } else if let Some(entered) = busy.take() {
                    shared.inflight.leave(entered);
                }
                record(shared, clock, proc.pid, &mut life, done);
                out.last_end = Some(Instant::now());
                *completed += 1;
                shared.progress.set(slot, *completed);
            }
            Next::Frame(_) => anyhow::bail!("worker {} sent an unexpected frame", proc.pid),
            Next::Idle => {
                if shared.stop.load(Ordering::Relaxed) {
                    proc.kill();
                    break Ending::Stopped;
                }
                let (Some(limit), Some(&(item, _))) = (shared.timeout, queue.front()) else {
                    continue;
                };
                if mono_ns().saturating_sub(head_since) < limit.as_nanos() as u64 {
                    continue;
                }
                proc.kill();
                life.record_timeout(item, limit);
                trace_lost(
                    shared, clock, proc.pid, &mut life, item, head_since, "timeout",
                );
                out.last_end = Some(Instant::now());
                *completed += 1;
                shared.progress.set(slot, *completed);
                queue.pop_front();
                shared.give_back(queue.drain(..).map(|(i, _)| i));
                break Ending::Replace;
            }
            Next::Closed => {
                if shared.stop.load(Ordering::Relaxed) {
                    proc.kill();
                    break Ending::Stopped;
                }
                let how = proc.reap_dead();
                if shared.launch.remote() {
                    // Items sent over a dropped connection may or may not have run: all are lost.
                    let lost = queue.drain(..).map(|(item, _)| item).collect::<Vec<_>>();
                    let place = shared.launch.place(slot);
                    for &item in &lost {
                        let took = Duration::from_nanos(mono_ns().saturating_sub(head_since));
                        let why = format!("{place}: connection lost (ssh {how}) with item {item}");
                        life.record(item, took, Err(ItemError::new("host-lost", why)));
                        trace_lost(
                            shared,
                            clock,
                            proc.pid,
                            &mut life,
                            item,
                            head_since,
                            "host-lost",
                        );
                    }
                    out.last_end = Some(Instant::now());
                    *completed += lost.len() as u64;
                    shared.progress.set(slot, *completed);
                    break Ending::Replace;
                }
                let Some((item, _)) = queue.pop_front() else {
                    break Ending::Replace;
                };
                life.record(
                    item,
                    Duration::from_nanos(mono_ns().saturating_sub(head_since)),
                    Err(ItemError::new(
                        "worker-died",
                        format!("worker {} {how} while running item {item}", proc.pid),
                    )),
                );
                trace_lost(
                    shared,
                    clock,
                    proc.pid,
                    &mut life,
                    item,
                    head_since,
                    "worker-died",
                );
                out.last_end = Some(Instant::now());
                *completed += 1;
                shared.progress.set(slot, *completed);
                shared.give_back(queue.drain(..).map(|(i, _)| i));
                break Ending::Replace;
            }
        }
    };
    if let Some(entered) = busy.take() {
        shared.inflight.leave(entered);
    }
    out.stats.merge(life);
    Ok(ending)
}

/// Records one answered item in the parent's copy of the worker's record.
#[inline]
fn record(shared: &Shared, clock: &Clock, pid: u32, life: &mut WorkerStats, done: ItemDone) {
    let took = Duration::from_nanos(done.end_ns.saturating_sub(done.begin_ns));
    let error_kind = done.error.as_ref().map(|(k, _)| k.clone());
    let outcome = match done.error {
        None => Ok(()),
        Some((kind, message)) => Err(ItemError::new(kind, message)),
    };
    let ended = life.finish(done.item, took, Some(outcome), shared.timeout);
    if shared.trace {
        let offset = |ns: u64| (ns as i64 - clock.started_ns as i64) / 1000;
        life.trace_item(TraceEvent {
            item: done.item,
            worker: u64::from(pid),
            start_us: offset(done.begin_ns),
            end_us: offset(done.end_ns),
            outcome: ended,
            error: error_kind,
        });
    }
}

/// Traces an item lost with its worker (`timeout`, `worker-died` or `host-lost`).
fn trace_lost(
    shared: &Shared,
    clock: &Clock,
    pid: u32,
    life: &mut WorkerStats,
    item: u64,
    since_ns: u64,
    kind: &str,
) {
    if !shared.trace {
        return;
    }
    use crate::measure::timeline::Outcome;
    let offset = |ns: u64| (ns as i64 - clock.started_ns as i64) / 1000;
    life.trace_item(TraceEvent {
        item,
        worker: u64::from(pid),
        start_us: offset(since_ns),
        end_us: offset(mono_ns()),
        outcome: if kind == "timeout" {
            Outcome::TimedOut
        } else {
            Outcome::Failed
        },
        error: Some(kind.to_string()),
    });
}

/// Asks the worker for its report, swaps in its own histogram, and reaps it.
fn finish(proc: &mut WorkerProc, life: &mut WorkerStats, out: &mut SlotResult) -> Ending {
    ToWorker::Finish.encode(&mut proc.writer.buf);
    let sent = proc.writer.flush().is_ok();
    let until = Instant::now() + FINISH_GRACE;
    while sent && Instant::now() < until {
        match proc.reader.next_within(SLICE, FromWorker::decode) {
            Ok(Next::Frame(FromWorker::Stats {
                histogram,
                peak_rss,
            })) => {
                out.peak_rss = out.peak_rss.max(peak_rss);
                let theirs = Deserializer::new().deserialize(&mut histogram.as_slice());
                // The worker measured the same items; keep its own record when they agree.
                if let Ok(h) = theirs {
                    if h.len() == life.latency.len() {
                        life.latency = h;
                    }
                }
                break;
            }
            Ok(Next::Idle) => continue,
            _ => break,
        }
    }
    proc.reap_dead();
    Ending::Finished
}
