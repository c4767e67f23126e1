//! Feeding one worker of the `process` or `remote` pool one item at a time: in an open-loop
//! point each item is taken from the point's schedule and sent when it is due; in a limiter's
//! point it is sent when the limiter's gate lets this slot run one. Either way alone — an item
//! queued inside a worker would start late there without anyone counting it, and would be in
//! flight while the limit says it must not.
//!
//! The figures mean what they mean on `thread`: the lag runs from the item's intended start to
//! its sending, the service time is the worker's own measure of the item, and the latency from
//! the intended start is the lag plus sending → answer. Lag and latency are read on this
//! process's clock alone, since a remote worker's clock is another machine's. A limiter's
//! sample is sending → answer, the latency its users' callers would see.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::driver::schedule::{wait_blocking, Schedule};
use super::driver::ItemSource;
use super::feed::{finish, record, trace_lost, Clock, Ending};
use super::limiter::LimitGate;
use super::process::{Shared, SlotResult};
use super::protocol::{mono_ns, FromWorker, Next, ToWorker};
use super::worker_proc::{WorkerProc, SLICE};
use crate::measure::timeline::Outcome;
use crate::measure::WorkerStats;
use crate::workload::ItemError;

/// How a one-at-a-time feeder paces its worker.
pub(super) enum Pace<'p> {
    /// Open loop: each item at its intended time.
    Scheduled(&'p Schedule),
    /// A limiter's point: an item whenever the gate admits this slot.
    Limited(&'p LimitGate),
}

/// Feeds one worker items one at a time until they run out (the schedule's, or the budget's),
/// Ctrl-C, the worker dies or an item times out.
pub(super) fn serve_one_at_a_time(
    shared: &Shared,
    pace: Pace<'_>,
    slot: usize,
    clock: &Clock,
    proc: &mut WorkerProc,
    out: &mut SlotResult,
    completed: &mut u64,
) -> anyhow::Result<Ending> {
    let mut feeder = Feeder {
        shared,
        slot,
        clock,
        proc,
        out,
        completed,
        life: WorkerStats::new(),
    };
    let ending = match pace {
        Pace::Scheduled(schedule) => feeder.serve(schedule),
        Pace::Limited(gate) => feeder.serve_limited(gate),
    };
    let Feeder { out, life, .. } = feeder;
    out.stats.merge(life);
    ending
}

/// One worker's feeding, with what it recorded so far.
struct Feeder<'a, 's> {
    shared: &'a Shared<'s>,
    slot: usize,
    clock: &'a Clock,
    proc: &'a mut WorkerProc,
    out: &'a mut SlotResult,
    completed: &'a mut u64,
    life: WorkerStats,
}

impl Feeder<'_, '_> {
    fn stopped(&self) -> bool {
        self.shared.stop.load(Ordering::Relaxed)
    }

    fn serve(&mut self, schedule: &Schedule) -> anyhow::Result<Ending> {
        // A replacement worker goes on from the schedule's shared counter: nothing is lost.
        let mut source = schedule.lane(self.clock.started);
        // No short slice here, unlike the thread and async lanes: with a feeder thread per
        // worker process, feeders that pre-empt sooner took the cores from the workers
        // themselves — achieved fell below 99 % at 20 000/s (BENCHMARKS, "The lag's tail").
        loop {
            if self.stopped() {
                break;
            }
            let Some(item) = source.next_item() else {
                break;
            };
            let due = source.due().unwrap_or_else(Instant::now);
            // Asleep, not spinning, until the item is due: see `wait_blocking`.
            if !wait_blocking(due, || self.stopped()) {
                break;
            }
            let entered = self.shared.inflight.enter();
            let sent = self.send(item, Some(due));
            self.shared.inflight.leave(entered);
            if let Some(ending) = sent?.ending {
                return Ok(ending);
            }
        }
        Ok(finish(self.shared, self.proc, &mut self.life, self.out))
    }

    /// Whether a limited slot may stop for good: Ctrl-C, the budget's time is up, or every item
    /// has been claimed.
    fn limited_over(&self) -> bool {
        self.stopped()
            || matches!(self.clock.deadline, Some(d) if Instant::now() >= d)
            || !self.shared.items_left()
    }

    fn serve_limited(&mut self, gate: &LimitGate) -> anyhow::Result<Ending> {
        loop {
            if !gate.wait_blocking(self.slot, || self.limited_over()) || self.limited_over() {
                break;
            }
            let Some(item) = self.shared.claim() else {
                break;
            };
            let entered = self.shared.inflight.enter();
            let inflight = gate.enter();
            let sent = self.send(item, None);
            self.shared.inflight.leave(entered);
            let at = Instant::now().saturating_duration_since(self.clock.started);
            match sent {
                Ok(sent) => {
                    gate.leave(sent.took, inflight, sent.dropped, at);
                    if let Some(ending) = sent.ending {
                        return Ok(ending);
                    }
                }
                Err(e) => {
                    gate.leave(Duration::ZERO, inflight, true, at);
                    return Err(e);
                }
            }
        }
        Ok(finish(self.shared, self.proc, &mut self.life, self.out))
    }

    /// Sends `item` to the idle worker and records its answer, with the lag from `due` when it
    /// has an intended start.
    fn send(&mut self, item: u64, due: Option<Instant>) -> anyhow::Result<Sent> {
        let shared = self.shared;
        ToWorker::Item(item).encode(&mut self.proc.writer.buf);
        let sent = Instant::now();
        let sent_ns = mono_ns();
        let lag = due.map(|due| sent.saturating_duration_since(due));
        // Both ends read CLOCK_MONOTONIC only on one machine.
        let measured = !shared.launch.remote() && self.out.startups.wants();
        let timeout_ns = shared.timeout.map(|t| t.as_nanos() as u64);
        loop {
            let wait = match timeout_ns {
                Some(limit) => SLICE.min(Duration::from_nanos(
                    (sent_ns + limit).saturating_sub(mono_ns()),
                )),
                None => SLICE,
            };
            let next = match self.proc.writer.flush() {
                Ok(()) => self
                    .proc
                    .reader
                    .next_within(wait, FromWorker::decode)
                    .unwrap_or(Next::Closed),
                Err(_) => Next::Closed,
            };
            match next {
                Next::Frame(FromWorker::Done(done)) => {
                    let answered = Instant::now();
                    if done.item != item {
                        anyhow::bail!(
                            "worker {} answered item {} when sent {item}",
                            self.proc.pid,
                            done.item
                        );
                    }
                    if measured {
                        self.out.startups.add(done.begin_ns.saturating_sub(sent_ns));
                    }
                    let ended = record(shared, self.clock, self.proc.pid, &mut self.life, done);
                    let took = answered - sent;
                    if let Some(lag) = lag {
                        self.life.scheduled(lag, took, ended);
                    }
                    self.ended();
                    return Ok(Sent::answered(took, ended));
                }
                Next::Frame(_) => {
                    anyhow::bail!("worker {} sent an unexpected frame", self.proc.pid)
                }
                Next::Idle if self.stopped() => {
                    self.proc.kill();
                    return Ok(Sent::ending(sent.elapsed(), Ending::Stopped));
                }
                Next::Idle => {
                    let Some(limit) = shared.timeout else {
                        continue;
                    };
                    if mono_ns().saturating_sub(sent_ns) < limit.as_nanos() as u64 {
                        continue;
                    }
                    self.proc.kill();
                    self.life.record_timeout(item, limit);
                    if let Some(lag) = lag {
                        self.life.scheduled(lag, limit, Outcome::TimedOut);
                    }
                    self.lost(item, sent_ns, "timeout");
                    return Ok(Sent::ending(limit, Ending::Replace));
                }
                Next::Closed if self.stopped() => {
                    self.proc.kill();
                    return Ok(Sent::ending(sent.elapsed(), Ending::Stopped));
                }
                Next::Closed => {
                    let how = self.proc.reap_dead();
                    let took = sent.elapsed();
                    // As on the closed loop: a dropped connection is the host's loss, a dead
                    // local worker the item's.
                    let (kind, why) = if shared.launch.remote() {
                        let place = shared.launch.place(self.slot);
                        let why = format!("{place}: connection lost (ssh {how}) with item {item}");
                        ("host-lost", why)
                    } else {
                        let why =
                            format!("worker {} {how} while running item {item}", self.proc.pid);
                        ("worker-died", why)
                    };
                    self.life.record(item, took, Err(ItemError::new(kind, why)));
                    if let Some(lag) = lag {
                        self.life.scheduled(lag, took, Outcome::Failed);
                    }
                    self.lost(item, sent_ns, kind);
                    return Ok(Sent::ending(took, Ending::Replace));
                }
            }
        }
    }

    /// Traces an item lost with its worker, and counts it ended.
    fn lost(&mut self, item: u64, since_ns: u64, kind: &str) {
        let (shared, clock, pid) = (self.shared, self.clock, self.proc.pid);
        trace_lost(shared, clock, pid, &mut self.life, item, since_ns, kind);
        self.ended();
    }

    fn ended(&mut self) {
        self.out.last_end = Some(Instant::now());
        *self.completed += 1;
        self.shared.progress.set(self.slot, *self.completed);
    }
}

/// How one item sent alone ended, for the feeder and a limiter's sample.
struct Sent {
    /// Sending → answer (or → the worker lost, → the timeout).
    took: Duration,
    /// Failed, timed out or lost: a drop to a limiter.
    dropped: bool,
    /// `Some` when the worker is done for (Ctrl-C, death, the item's timeout).
    ending: Option<Ending>,
}

impl Sent {
    fn answered(took: Duration, ended: Outcome) -> Sent {
        Sent {
            took,
            dropped: !matches!(ended, Outcome::Ok),
            ending: None,
        }
    }

    fn ending(took: Duration, ending: Ending) -> Sent {
        Sent {
            took,
            dropped: true,
            ending: Some(ending),
        }
    }
}
