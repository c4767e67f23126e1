//! The open loop's item source: items issued at their intended times, whatever the ones before
//! them are doing, as a service's users arrive. A point of `rate` items/s numbers its items as
//! the closed loop does, from one shared counter; item `k` is due at the `k`-th arrival time
//! (`k / rate` seconds after the window opened, or the `k`-th arrival of a seeded Poisson
//! process). The lane that claims an item waits for its time; when every lane is busy, the item
//! waits for one to come free and starts late — wrk2's semantics, where the lag counts in the
//! item's latency from its intended start.
//!
//! Lanes claim in order and each waits for the item it claimed, so the lanes are the cap on
//! items in flight (`--max-inflight`), and an item never overtakes an earlier one's start.

use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use crossbeam_utils::CachePadded;
use rand::SeedableRng;
use rand_distr::{Distribution, Exp};
use serde::{Deserialize, Serialize};

use super::stages::staged_offsets;
pub use super::stages::Stage;
use super::{Claims, ItemSource};
use crate::measure::timeline::Outcome;

/// How the intended start times of an open-loop point are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrival {
    /// Evenly, `1 / rate` apart.
    #[default]
    Constant,
    /// As a Poisson process of the rate (exponential gaps), from a seeded generator: the same
    /// seed gives the same times.
    Poisson,
}

impl Arrival {
    pub fn name(self) -> &'static str {
        match self {
            Arrival::Constant => "constant",
            Arrival::Poisson => "poisson",
        }
    }
}

/// What makes a point open loop: items offered at `rate` per second.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenLoopJob {
    /// Offered items per second.
    pub rate: f64,
    pub arrival: Arrival,
    /// Seeds the Poisson arrivals.
    pub seed: u64,
    /// A ramping run instead of one rate: each stage moves the rate linearly from the previous
    /// stage's target (0 before the first) to its own over its duration, as k6's
    /// ramping-arrival-rate. The point's budget is then the stages' total duration.
    pub stages: Vec<Stage>,
}

/// Intended starts of a point's items, as offsets from its window's opening.
pub(crate) struct Schedule {
    next_item: CachePadded<AtomicU64>,
    /// Items that have an intended start: the item budget, or every arrival inside the duration.
    items: u64,
    times: Times,
}

enum Times {
    /// Item `k` is due `k * gap_ns / 1024` ns in: fixed point keeps fractional gaps exact.
    Even { gap_ns_x1024: u64 },
    /// Drawn before the window opens, so a claim is one atomic add and a load.
    Drawn(Vec<u64>),
}

/// The most Poisson arrivals a point draws ahead (8 bytes each): far beyond a day at 10 k/s.
pub(super) const MAX_DRAWN: u64 = 1 << 30;

impl Schedule {
    /// The schedule of `job` for a budget of `items`, or of `duration` when set.
    pub(crate) fn new(job: &OpenLoopJob, items: u64, duration: Option<Duration>) -> Schedule {
        let gap_ns = 1e9 / job.rate;
        let items = match duration {
            // Arrivals strictly inside the window: ceil(rate × duration).
            Some(d) => (d.as_secs_f64() * job.rate).ceil().max(1.0) as u64,
            None => items,
        };
        let times = match job.arrival {
            _ if !job.stages.is_empty() => Times::Drawn(staged_offsets(job)),
            Arrival::Constant => Times::Even {
                gap_ns_x1024: (gap_ns * 1024.0).round().max(1.0) as u64,
            },
            Arrival::Poisson => Times::Drawn(poisson_offsets(job, items.min(MAX_DRAWN), duration)),
        };
        let items = match &times {
            Times::Drawn(offsets) => offsets.len() as u64,
            Times::Even { .. } => items,
        };
        Schedule {
            next_item: CachePadded::new(AtomicU64::new(0)),
            items,
            times,
        }
    }

    /// When item `item` is due, after the window's opening.
    #[inline]
    pub(crate) fn offset(&self, item: u64) -> Duration {
        Duration::from_nanos(match &self.times {
            Times::Even { gap_ns_x1024 } => {
                ((u128::from(item) * u128::from(*gap_ns_x1024)) >> 10) as u64
            }
            Times::Drawn(offsets) => offsets.get(item as usize).copied().unwrap_or(u64::MAX),
        })
    }

    /// Items with an intended start.
    #[cfg(test)]
    pub(crate) fn items(&self) -> u64 {
        self.items
    }

    /// A lane's view of the schedule, for a window opened at `started`.
    pub(crate) fn lane(&self, started: Instant) -> Scheduled<'_> {
        Scheduled {
            schedule: self,
            claims: Claims::new(&self.next_item, self.items),
            started,
            due: started,
        }
    }
}

/// A Poisson process of `job.rate`: cumulative exponential gaps, up to `items` arrivals or the
/// end of `duration`.
fn poisson_offsets(job: &OpenLoopJob, items: u64, duration: Option<Duration>) -> Vec<u64> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(job.seed);
    let Ok(gaps) = Exp::new(job.rate) else {
        return Vec::new();
    };
    let end_ns = duration.map_or(u64::MAX, |d| d.as_nanos().min(u128::from(u64::MAX)) as u64);
    let mut at = 0.0f64;
    let mut offsets = Vec::with_capacity(items.min(1 << 20) as usize);
    while (offsets.len() as u64) < items {
        let ns = (at * 1e9) as u64;
        if ns >= end_ns {
            break;
        }
        offsets.push(ns);
        at += gaps.sample(&mut rng);
    }
    offsets
}

/// One lane's source of scheduled items: the next item in order, and when it is due.
pub(crate) struct Scheduled<'p> {
    schedule: &'p Schedule,
    claims: Claims<'p>,
    started: Instant,
    due: Instant,
}

impl ItemSource for Scheduled<'_> {
    #[inline]
    fn next_item(&mut self) -> Option<u64> {
        let item = self.claims.next_item()?;
        self.due = self.started + self.schedule.offset(item);
        Some(item)
    }

    /// Never batched: each claim is the earliest item not yet taken, so batches would let a
    /// busy lane hold items a free one could start on time.
    #[inline]
    fn item_ended(&mut self, _took: Duration, _outcome: Outcome) {}

    #[inline]
    fn due(&self) -> Option<Instant> {
        Some(self.due)
    }
}

/// A point's item source: claimed as fast as lanes free up (closed loop), or at their intended
/// times (open loop).
pub(crate) enum PointItems<'p> {
    Closed(Claims<'p>),
    Open(Scheduled<'p>),
}

impl ItemSource for PointItems<'_> {
    #[inline]
    fn next_item(&mut self) -> Option<u64> {
        match self {
            PointItems::Closed(c) => c.next_item(),
            PointItems::Open(s) => s.next_item(),
        }
    }

    #[inline]
    fn item_ended(&mut self, took: Duration, outcome: Outcome) {
        match self {
            PointItems::Closed(c) => c.item_ended(took, outcome),
            PointItems::Open(s) => s.item_ended(took, outcome),
        }
    }

    #[inline]
    fn due(&self) -> Option<Instant> {
        match self {
            PointItems::Closed(_) => None,
            PointItems::Open(s) => s.due(),
        }
    }
}

/// Sleeps the calling thread until `due`, waking every 50 ms to see whether `stop` is set;
/// false when it was. No spin at the end: a thread sleep overshoots by some tens of
/// microseconds, far inside the 1 ms that makes an item late, and spinning would take a core
/// from the service on a small machine.
pub(crate) fn wait_blocking(due: Instant, stopped: impl Fn() -> bool) -> bool {
    const CHECK: Duration = Duration::from_millis(50);
    loop {
        if stopped() {
            return false;
        }
        let now = Instant::now();
        if now >= due {
            return true;
        }
        std::thread::sleep((due - now).min(CHECK));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(rate: f64, arrival: Arrival) -> OpenLoopJob {
        OpenLoopJob {
            rate,
            arrival,
            seed: 7,
            stages: Vec::new(),
        }
    }

    #[test]
    fn constant_arrivals_are_evenly_spaced_and_fill_the_duration() {
        let schedule = Schedule::new(
            &job(300.0, Arrival::Constant),
            0,
            Some(Duration::from_secs(2)),
        );
        assert_eq!(schedule.items(), 600);
        assert_eq!(schedule.offset(0), Duration::ZERO);
        let third = schedule.offset(100).as_secs_f64();
        assert!((third - 1.0 / 3.0).abs() < 1e-6, "{third}");
        assert!(schedule.offset(599) < Duration::from_secs(2));
    }

    #[test]
    fn poisson_arrivals_average_the_rate_and_repeat_with_the_seed() {
        let a = Schedule::new(
            &job(1000.0, Arrival::Poisson),
            0,
            Some(Duration::from_secs(20)),
        );
        let b = Schedule::new(
            &job(1000.0, Arrival::Poisson),
            0,
            Some(Duration::from_secs(20)),
        );
        // 20 000 expected; a Poisson count's sd is √20000 ≈ 141: 5 % is over 7 sd.
        assert!((19_000..21_000).contains(&a.items()), "{}", a.items());
        assert_eq!(a.items(), b.items());
        assert_eq!(a.offset(1234), b.offset(1234));
        let gaps: Vec<u64> = (1..a.items())
            .map(|k| (a.offset(k) - a.offset(k - 1)).as_nanos() as u64)
            .collect();
        // Exponential gaps: many far shorter than the mean, some far longer.
        let short = gaps.iter().filter(|&&g| g < 100_000).count() as f64 / gaps.len() as f64;
        assert!((0.05..0.15).contains(&short), "{short}"); // 1 - e^-0.1 ≈ 0.095
    }

    #[test]
    fn lanes_take_items_in_order_with_their_due_times() {
        let schedule = Schedule::new(&job(1000.0, Arrival::Constant), 5, None);
        let started = Instant::now();
        let mut a = schedule.lane(started);
        let mut b = schedule.lane(started);
        assert_eq!(a.next_item(), Some(0));
        assert_eq!(b.next_item(), Some(1));
        assert_eq!(b.due(), Some(started + Duration::from_millis(1)));
        a.item_ended(Duration::from_nanos(10), Outcome::Ok);
        assert_eq!(
            a.next_item(),
            Some(2),
            "never batched, however short the item"
        );
        assert_eq!(a.due(), Some(started + Duration::from_millis(2)));
        let rest: Vec<_> = std::iter::from_fn(|| b.next_item()).collect();
        assert_eq!(rest, [3, 4]);
        assert_eq!(a.next_item(), None);
    }

    #[test]
    fn a_blocking_wait_ends_at_its_time_or_at_stop() {
        let due = Instant::now() + Duration::from_millis(20);
        assert!(wait_blocking(due, || false));
        assert!(Instant::now() >= due);
        let far = Instant::now() + Duration::from_secs(3600);
        assert!(!wait_blocking(far, || true));
    }
}
