//! The item driver: one worker's pass over a point's items, written once for every backend that
//! runs items itself — `thread` and `sequential`, `async`, `process-per-item` — and sharing its
//! run step (retries, panic capture) with the `process` worker. For each item: take it from the
//! worker's source, run it (retries under the item's timeout; a panic is a failed item that
//! keeps its message), record how it ended, trace it.
//!
//! Three seams keep the loop open to what comes next — an open-loop schedule, another pool, a
//! limiter that moves the throttle from each item's latency and outcome: an [`ItemSource`] says
//! which item runs next and hears how each one went, an [`Attempt`] runs one attempt of an item,
//! and [`Outcomes`] takes each item's ending. The loop is generic over all three, so every
//! backend gets a copy compiled for its own source and record: the per-item path is a claim, two
//! clock reads, the item and a record into the worker's own histogram, as before — no lock, no
//! allocation, no dynamic call beyond the workload's own.

mod claims;
mod lane;
mod local;
pub(crate) mod schedule;
mod stages;
mod startup;
#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

pub(crate) use claims::Claims;
pub(crate) use lane::{Lane, LaneEnd, Point};
pub use local::panic_message;
pub(crate) use local::{guarded, LocalRunner};
pub use schedule::{Arrival, OpenLoopJob, Stage};
pub(crate) use schedule::{PointItems, Schedule};
pub(crate) use startup::{median as median_startup, StartupSample};

use crate::measure::timeline::{Outcome, TraceEvent};
use crate::measure::WorkerStats;
use crate::workload::{ItemError, ItemResult};

/// The item number warm-up items run as: never one of the point's own.
pub(crate) const WARMUP_ITEM: u64 = u64::MAX;

/// Where a lane's next item comes from.
pub(crate) trait ItemSource {
    /// The next item to run; `None` once this lane has no more.
    fn next_item(&mut self) -> Option<u64>;

    /// How the item last handed out went: what a source that paces itself goes by.
    #[inline]
    fn item_ended(&mut self, _took: Duration, _outcome: Outcome) {}

    /// When the item last handed out is meant to start (open loop): the lane waits for it,
    /// and its latency runs from then. `None`: at once.
    #[inline]
    fn due(&self) -> Option<Instant> {
        None
    }
}

/// How one attempt of an item runs.
pub(crate) trait Attempt {
    /// Runs one attempt of `item`. `deadline` is the item's own, over all its attempts: an
    /// attempt that can be cut there ends [`ItemEnd::TimedOut`].
    fn attempt(&mut self, item: u64, deadline: Option<Instant>) -> ItemEnd;

    /// Who ran the last attempt, for the trace, when not the lane itself (a process's pid).
    #[inline]
    fn ran_on(&self) -> Option<u64> {
        None
    }
}

/// Where each item's ending is recorded.
pub(crate) trait Outcomes {
    /// `item` starts now, at `begin`.
    #[inline]
    fn starting(&mut self, _item: u64, _begin: Instant) {}

    /// A failed attempt of `item` that will be retried.
    fn failed_attempt(&mut self, item: u64, attempt: u32, err: &ItemError);

    /// Records an ended item and says how it ended; `None` when the item was no longer this
    /// lane's to record (a watchdog took it), and the lane must stop.
    fn ended(&mut self, finished: Finished) -> Option<Outcome>;
}

/// How an item's attempts ended.
#[derive(Debug)]
pub(crate) enum ItemEnd {
    /// The last attempt's outcome.
    Ran(ItemResult),
    /// Out of time, during an attempt or a wait between two.
    TimedOut,
    /// Ctrl-C came first: there is nothing to record.
    Stopped,
}

impl ItemEnd {
    /// The outcome for a caller that sets no deadline and no stop, where only `Ran` can arise;
    /// the others still say what happened rather than vanish.
    pub(crate) fn into_result(self, item: u64) -> ItemResult {
        match self {
            ItemEnd::Ran(outcome) => outcome,
            ItemEnd::TimedOut => Err(ItemError::new(
                "timeout",
                format!("item {item} ran out of time"),
            )),
            ItemEnd::Stopped => Err(ItemError::new(
                "interrupted",
                format!("item {item} was interrupted"),
            )),
        }
    }
}

/// One item, ended, as it is recorded.
#[derive(Debug)]
pub(crate) struct Finished {
    pub item: u64,
    /// From the first attempt's start to the last one's end.
    pub took: Duration,
    /// `None`: timed out.
    pub outcome: Option<ItemResult>,
    pub attempts: u32,
    /// The point's per-item timeout: an item that took longer counts as timed out.
    pub limit: Option<Duration>,
    /// Set when the point is traced.
    pub trace: Option<Span>,
    /// Open loop: from the item's intended start to its actual one.
    pub lag: Option<Duration>,
}

/// Where and when a traced item ran: microseconds from the point's measured start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub worker: u64,
    pub start_us: i64,
    pub end_us: i64,
}

impl Finished {
    /// Records the item (and its trace event) in `stats`; says how it ended.
    #[inline]
    pub(crate) fn record_into(self, stats: &mut WorkerStats) -> Outcome {
        let kind = match (&self.trace, &self.outcome) {
            (Some(_), Some(Err(e))) => Some(e.kind.to_string()),
            _ => None,
        };
        let ended = stats.finish_attempts(
            self.item,
            self.took,
            self.outcome,
            self.limit,
            self.attempts,
        );
        if let Some(lag) = self.lag {
            stats.scheduled(lag, self.took, ended);
        }
        if let Some(span) = self.trace {
            // Every backend names a timeout the same way, whatever the attempt was doing.
            let error = match ended {
                Outcome::TimedOut => Some("timeout".to_string()),
                _ => kind,
            };
            stats.trace_item(TraceEvent {
                item: self.item,
                worker: span.worker,
                start_us: span.start_us,
                end_us: span.end_us,
                outcome: ended,
                error,
            });
        }
        ended
    }
}

/// A worker's own record is where its items' endings go, unless a backend needs more.
impl Outcomes for WorkerStats {
    #[inline]
    fn failed_attempt(&mut self, item: u64, attempt: u32, err: &ItemError) {
        self.note_failed_attempt(item, attempt, err);
    }

    #[inline]
    fn ended(&mut self, finished: Finished) -> Option<Outcome> {
        Some(finished.record_into(self))
    }
}
