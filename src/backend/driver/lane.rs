//! The loop itself: a point's shared state, and one worker's pass over its items.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;

use super::schedule::wait_blocking;
use super::{median_startup, StartupSample};
use super::{
    Attempt, Claims, Finished, ItemEnd, ItemSource, LocalRunner, Outcomes, PointItems, Schedule,
    Span,
};
use crate::backend::inflight::{Entered, InflightTracker};
use crate::backend::limiter::LimitGate;
use crate::backend::retry::RetryPolicy;
use crate::backend::{Budget, PointJob, PointProgress};

/// What the workers of one point share: the item budget, the rules an item runs under and the
/// point's clock. Built once per point from its job.
pub(crate) struct Point {
    next_item: CachePadded<AtomicU64>,
    items: u64,
    next_warmup: CachePadded<AtomicU64>,
    warmup: u64,
    duration: Option<Duration>,
    pub(crate) timeout: Option<Duration>,
    retry: RetryPolicy,
    trace: bool,
    inflight: InflightTracker,
    progress: Arc<PointProgress>,
    stop: Arc<AtomicBool>,
    started: OnceLock<Instant>,
    /// Open loop: when each item is due.
    schedule: Option<Schedule>,
    /// Every finished lane's sample of startups (ns), merged once per lane, not per item.
    startups: Mutex<Vec<u64>>,
    /// A limiter's gate: a lane runs an item only while its slot is below the limit.
    gate: Option<Arc<LimitGate>>,
}

impl Point {
    /// The point `job` describes; `inflight` counts its items in flight.
    pub(crate) fn new(job: &PointJob<'_>, inflight: InflightTracker) -> Point {
        let (items, duration) = match job.budget {
            Budget::Items(n) => (n, None),
            Budget::Duration(d) => (u64::MAX, Some(d)),
        };
        Point {
            next_item: CachePadded::new(AtomicU64::new(0)),
            items,
            next_warmup: CachePadded::new(AtomicU64::new(0)),
            warmup: job.warmup,
            duration,
            timeout: job.timeout,
            retry: job.retry,
            trace: job.trace,
            inflight,
            progress: job.progress.clone(),
            stop: job.stop.clone(),
            started: OnceLock::new(),
            schedule: job
                .open_loop
                .as_ref()
                .map(|open| Schedule::new(open, items, duration)),
            startups: Mutex::new(Vec::new()),
            gate: job.limit.clone(),
        }
    }

    /// Takes one of the point's warm-up items; false once they are spent or Ctrl-C came.
    pub(crate) fn take_warmup(&self) -> bool {
        !self.stopped() && self.next_warmup.fetch_add(1, Ordering::Relaxed) < self.warmup
    }

    /// Opens the timed window, or says when it opened: the first call fixes the moment.
    pub(crate) fn start(&self) -> Instant {
        *self.started.get_or_init(Instant::now)
    }

    /// When the timed window opened, if it has.
    pub(crate) fn started(&self) -> Option<Instant> {
        self.started.get().copied()
    }

    #[inline]
    pub(crate) fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// How many items the point has: `u64::MAX` for a timed budget.
    pub(crate) fn item_count(&self) -> u64 {
        self.items
    }

    /// A timed budget's length.
    pub(crate) fn duration(&self) -> Option<Duration> {
        self.duration
    }

    pub(crate) fn max_inflight(&self) -> usize {
        self.inflight.max()
    }

    /// The point's items, handed out from its one counter.
    pub(crate) fn claims(&self) -> Claims<'_> {
        match self.gate {
            Some(_) => Claims::one_at_a_time(&self.next_item, self.items),
            None => Claims::new(&self.next_item, self.items),
        }
    }

    /// The median time from an item being handed out to its workload starting, over the
    /// lanes that have finished.
    pub(crate) fn startup(&self) -> Option<Duration> {
        let sample = self.startups.lock().map(|s| s.clone()).unwrap_or_default();
        median_startup(sample)
    }

    /// Where a lane's items come from: the shared counter, or the open loop's schedule.
    pub(crate) fn items(&self) -> PointItems<'_> {
        match &self.schedule {
            None => PointItems::Closed(self.claims()),
            Some(schedule) => PointItems::Open(schedule.lane(self.start())),
        }
    }

    /// A pass over the point's items for the worker in progress slot `slot` (also its name in
    /// the trace); opens the timed window if nothing has yet.
    pub(crate) fn lane(&self, slot: usize) -> Lane<'_> {
        let started = self.start();
        Lane {
            point: self,
            slot,
            started,
            // An open loop's schedule ends at the duration; items due before it still start.
            deadline: self
                .duration
                .filter(|_| self.schedule.is_none())
                .and_then(|d| started.checked_add(d)),
            completed: 0,
            last_end: started,
            startup: StartupSample::default(),
        }
    }
}

/// One worker's pass over a point's items.
pub(crate) struct Lane<'p> {
    point: &'p Point,
    slot: usize,
    started: Instant,
    /// The end of a timed budget: no item is claimed once one has ended past it.
    deadline: Option<Instant>,
    completed: u64,
    last_end: Instant,
    /// Claim → the first attempt starting, for a sample of this lane's items.
    startup: StartupSample,
}

impl Drop for Lane<'_> {
    fn drop(&mut self) {
        let sample = self.startup.take();
        if let Ok(mut all) = self.point.startups.lock() {
            all.extend(sample);
        }
    }
}

/// How a lane's pass ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LaneEnd {
    /// No items left, the budget's time is up, or Ctrl-C: what the lane recorded stands.
    Finished,
    /// Its item was taken from it (a watchdog's timeout): the lane has nothing more to say.
    Abandoned,
}

/// An item claimed by a lane and in flight.
struct Claimed {
    item: u64,
    begin: Instant,
    entered: Entered,
    /// Open loop: when it was meant to start.
    due: Option<Instant>,
    /// With a limiter: the items in flight when this one started, itself included.
    inflight: usize,
}

impl Lane<'_> {
    /// When the lane's last recorded item ended (the point's start if none did).
    pub(crate) fn last_end(&self) -> Instant {
        self.last_end
    }

    /// Runs items on the calling thread until the lane is done.
    pub(crate) fn run_blocking(
        &mut self,
        source: &mut impl ItemSource,
        attempt: &mut impl Attempt,
        sink: &mut impl Outcomes,
    ) -> LaneEnd {
        let point = self.point;
        // Open loop: this thread starts items at their due times (see `ask_short_slice`).
        let mut sliced = false;
        loop {
            if let Some(gate) = &point.gate {
                if !gate.wait_blocking(self.slot, || self.point_over()) {
                    return LaneEnd::Finished;
                }
            }
            let Some(item) = self.next(source) else {
                return LaneEnd::Finished;
            };
            let due = source.due();
            if let Some(due) = due {
                if !sliced {
                    crate::timer::ask_short_slice();
                    sliced = true;
                }
                if !wait_blocking(due, || point.stopped()) {
                    return LaneEnd::Finished;
                }
            }
            let claimed = self.begin(item, due, sink);
            let deadline = point.timeout.and_then(|t| claimed.begin.checked_add(t));
            let mut first = self.startup.wants();
            let startup = &mut self.startup;
            let (ended, attempts) = point.retry.attempt_blocking(
                item,
                deadline,
                &point.stop,
                |deadline| {
                    if first {
                        first = false;
                        startup.add(claimed.begin.elapsed().as_nanos() as u64);
                    }
                    attempt.attempt(item, deadline)
                },
                |n, err| sink.failed_attempt(item, n, &err),
            );
            if let Err(end) = self.settle(claimed, ended, attempts, attempt.ran_on(), source, sink)
            {
                return end;
            }
        }
    }

    /// Runs items as one async task until the lane is done. The timeout cancels the item's
    /// future: its attempt ends where it stands.
    pub(crate) async fn run_async<S, O>(
        &mut self,
        source: &mut S,
        runner: &mut LocalRunner,
        sink: &mut O,
    ) -> LaneEnd
    where
        S: ItemSource + Send,
        O: Outcomes + Send,
    {
        let point = self.point;
        // Open loop: this lane's own timer, made on its first due item (see `LaneDeadline`).
        let mut deadline: Option<Option<crate::timer::LaneDeadline>> = None;
        loop {
            if let Some(gate) = &point.gate {
                if !gate.wait_async(self.slot, || self.point_over()).await {
                    return LaneEnd::Finished;
                }
            }
            let Some(item) = self.next(source) else {
                return LaneEnd::Finished;
            };
            let due = source.due();
            if let Some(due) = due {
                let now = Instant::now();
                if due > now {
                    let lane_timer =
                        deadline.get_or_insert_with(|| crate::timer::LaneDeadline::new().ok());
                    match lane_timer {
                        Some(timer) if timer.sleep_until(due).await.is_ok() => {}
                        _ => {
                            crate::timer::sleep(due.saturating_duration_since(Instant::now())).await
                        }
                    }
                }
                if point.stopped() {
                    return LaneEnd::Finished;
                }
            }
            let claimed = self.begin(item, due, sink);
            if self.startup.wants() {
                // The item's future is polled at once below: its start is now.
                self.startup.add(claimed.begin.elapsed().as_nanos() as u64);
            }
            let (ended, attempts) = match runner.runner() {
                Some(r) => {
                    point
                        .retry
                        .attempt_async(item, r, point.timeout, |n, err| {
                            sink.failed_attempt(item, n, &err)
                        })
                        .await
                }
                None => (runner.attempt(item, None), 1),
            };
            if let Err(end) = self.settle(claimed, ended, attempts, None, source, sink) {
                return end;
            }
        }
    }

    /// Whether a lane held back by a limiter may stop waiting for good: Ctrl-C, the budget's
    /// time is up, or every item has been claimed.
    fn point_over(&self) -> bool {
        self.point.stopped()
            || self.deadline.is_some_and(|d| Instant::now() >= d)
            || self.point.next_item.load(Ordering::Relaxed) >= self.point.items
    }

    /// Claims the next item; `None` when the lane is done.
    #[inline]
    fn next(&self, source: &mut impl ItemSource) -> Option<u64> {
        if self.point.stopped() {
            return None;
        }
        source.next_item()
    }

    /// Marks `item` in flight, starting now.
    #[inline]
    fn begin(&self, item: u64, due: Option<Instant>, sink: &mut impl Outcomes) -> Claimed {
        let entered = self.point.inflight.enter();
        let inflight = self.point.gate.as_ref().map_or(0, |g| g.enter());
        let begin = Instant::now();
        sink.starting(item, begin);
        Claimed {
            item,
            begin,
            entered,
            due,
            inflight,
        }
    }

    /// Takes `claimed` out of flight and records how it ended; `Err` when the lane stops here.
    #[inline]
    fn settle(
        &mut self,
        claimed: Claimed,
        ended: ItemEnd,
        attempts: u32,
        ran_on: Option<u64>,
        source: &mut impl ItemSource,
        sink: &mut impl Outcomes,
    ) -> Result<(), LaneEnd> {
        let end = Instant::now();
        self.point.inflight.leave(claimed.entered);
        let took = end - claimed.begin;
        if let Some(gate) = &self.point.gate {
            let dropped = !matches!(ended, ItemEnd::Ran(Ok(())));
            let at = end.saturating_duration_since(self.started);
            gate.leave(took, claimed.inflight, dropped, at);
        }
        let outcome = match ended {
            ItemEnd::Ran(outcome) => Some(outcome),
            ItemEnd::TimedOut => None,
            ItemEnd::Stopped => return Err(LaneEnd::Finished),
        };
        let trace = self.point.trace.then(|| {
            let offset = |t: Instant| t.saturating_duration_since(self.started).as_micros() as i64;
            Span {
                worker: ran_on.unwrap_or(self.slot as u64),
                start_us: offset(claimed.begin),
                end_us: offset(end),
            }
        });
        let finished = Finished {
            item: claimed.item,
            took,
            outcome,
            attempts,
            limit: self.point.timeout,
            trace,
            lag: claimed
                .due
                .map(|due| claimed.begin.saturating_duration_since(due)),
        };
        let Some(how) = sink.ended(finished) else {
            return Err(LaneEnd::Abandoned);
        };
        source.item_ended(took, how);
        self.last_end = end;
        self.completed += 1;
        self.point.progress.set(self.slot, self.completed);
        if self.deadline.is_some_and(|d| end >= d) {
            return Err(LaneEnd::Finished);
        }
        Ok(())
    }
}
