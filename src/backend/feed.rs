//! Feeding one worker of the `process` backend: keeping a window of items queued in it, taking
//! its answers, and noticing when it dies or an item outlives `--timeout`.
//!
//! The window is sized to about 200 µs of work from the average item time seen so far (one item
//! until the first answer, at most 64): fast items travel in batches, slow ones are handed out
//! one at a time so the tail of a point stays balanced across workers. Answers already in the
//! read buffer are taken before anything is written or read again.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hdrhistogram::serialization::Deserializer;

use super::driver::{Finished, Span};
use super::inflight::Entered;
use super::process::{Shared, SlotResult};
use super::protocol::{mono_ns, FromWorker, ItemDone, Next, ToWorker};
use super::worker_proc::{WorkerProc, SLICE};
use crate::measure::timeline::{Outcome, TraceEvent};
use crate::measure::WorkerStats;
use crate::workload::ItemError;

/// Work kept queued in a worker, in nanoseconds of average item time.
pub(super) const QUEUED_WORK_NS: u64 = 200_000;
pub(super) const MAX_WINDOW: usize = 64;

pub(super) struct Clock {
    pub(super) started: Instant,
    pub(super) started_ns: u64,
    pub(super) deadline: Option<Instant>,
}

pub(super) enum Ending {
    /// Every item is done; the worker reported and exited.
    Finished,
    /// Ctrl-C: the worker was killed.
    Stopped,
    /// The worker died or was killed at the timeout: start another.
    Replace,
}

/// Feeds one worker until the items run out, it dies, or an item times out.
pub(super) fn serve(
    shared: &Shared,
    slot: usize,
    clock: &Clock,
    proc: &mut WorkerProc,
    out: &mut SlotResult,
    completed: &mut u64,
) -> anyhow::Result<Ending> {
    let mut life = WorkerStats::new();
    // (item, when it was sent, whether its startup is measured) for every item queued in the
    // worker, oldest first. An item sent to an idle worker starts as soon as the worker reads
    // it: its wait is a startup; one queued behind another waits for the worker instead, so
    // only the former are sampled.
    let (queued_work_ns, max_window) = shared.launch.window();
    let mut queue: VecDeque<(u64, u64, bool)> = VecDeque::with_capacity(max_window);
    // Both ends read CLOCK_MONOTONIC only on one machine: a remote worker's clock is another's.
    let local = !shared.launch.remote();
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
                let idle = queue.is_empty();
                if idle {
                    head_since = now;
                    busy = Some(shared.inflight.enter());
                }
                queue.push_back((item, now, idle && local && out.startups.wants()));
            }
        }
        if queue.is_empty() {
            break finish(shared, proc, &mut life, out);
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
                let Some((item, sent, measured)) = queue.pop_front() else {
                    anyhow::bail!("worker {} answered an item it was not sent", proc.pid);
                };
                if item != done.item {
                    anyhow::bail!("worker {} answered items out of order", proc.pid);
                }
                if measured {
                    out.startups.add(done.begin_ns.saturating_sub(sent));
                }
                let took = done.end_ns.saturating_sub(done.begin_ns);
                avg_ns = if avg_ns == 0 {
                    took.max(1)
                } else {
                    (avg_ns * 7 + took) / 8
                }
                .max(1);
                if let Some(&(_, sent, _)) = queue.front() {
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
                let (Some(limit), Some(&(item, _, _))) = (shared.timeout, queue.front()) else {
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
                shared.give_back(queue.drain(..).map(|(i, _, _)| i));
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
                    let lost = queue.drain(..).map(|(item, _, _)| item).collect::<Vec<_>>();
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
                let Some((item, _, _)) = queue.pop_front() else {
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
                shared.give_back(queue.drain(..).map(|(i, _, _)| i));
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

/// Records one answered item in the parent's copy of the worker's record: its failed attempts
/// first, then the item over all its attempts, as the in-process backends record them; says how
/// it ended.
#[inline]
pub(super) fn record(
    shared: &Shared,
    clock: &Clock,
    pid: u32,
    life: &mut WorkerStats,
    done: ItemDone,
) -> Outcome {
    for (attempt, (kind, message)) in (1..).zip(done.failed_attempts) {
        life.note_failed_attempt(done.item, attempt, &ItemError::new(kind, message));
    }
    let offset = |ns: u64| (ns as i64 - clock.started_ns as i64) / 1000;
    Finished {
        item: done.item,
        took: Duration::from_nanos(done.end_ns.saturating_sub(done.begin_ns)),
        outcome: Some(match done.error {
            None => Ok(()),
            Some((kind, message)) => Err(ItemError::new(kind, message)),
        }),
        attempts: done.attempts,
        limit: shared.timeout,
        trace: shared.trace.then(|| Span {
            worker: u64::from(pid),
            start_us: offset(done.begin_ns),
            end_us: offset(done.end_ns),
        }),
        lag: None,
    }
    .record_into(life)
}

/// Traces an item lost with its worker (`timeout`, `worker-died` or `host-lost`).
pub(super) fn trace_lost(
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
pub(super) fn finish(
    shared: &Shared,
    proc: &mut WorkerProc,
    life: &mut WorkerStats,
    out: &mut SlotResult,
) -> Ending {
    if shared.programs_are_jobs {
        // Idle, its programs reaped: the worker's own peak, apart from theirs.
        let own = crate::child::peak_rss_of(proc.pid).unwrap_or(0);
        out.worker_peak = out.worker_peak.max(own);
    }
    if let Some((histogram, peak_rss, transfer)) = proc.finish() {
        out.peak_rss = out.peak_rss.max(peak_rss);
        life.add_transfer(transfer);
        let theirs = Deserializer::new().deserialize(&mut histogram.as_slice());
        // The worker measured the same items; keep its own record when they agree.
        if let Ok(h) = theirs {
            if h.len() == life.latency.len() {
                life.latency = h;
            }
        }
    }
    Ending::Finished
}
