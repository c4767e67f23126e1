//! Counts items in flight and keeps the highest count seen. Once the count has reached the
//! throttle it cannot go higher (there are only `throttle` workers), so tracking switches itself
//! off and the per-item path loses its two shared atomic operations. A thread pool with a
//! timeout is the exception: an abandoned item keeps running beside its replacement, so there
//! the count has no ceiling and is kept for the whole point.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crossbeam_utils::CachePadded;

pub struct InflightTracker {
    limit: usize,
    current: CachePadded<AtomicUsize>,
    max: CachePadded<AtomicUsize>,
    saturated: CachePadded<AtomicBool>,
}

/// Whether `enter` counted this item, so `leave` knows to uncount it.
#[must_use]
pub struct Entered(bool);

impl InflightTracker {
    pub fn new(limit: usize) -> Self {
        InflightTracker {
            limit,
            current: CachePadded::new(AtomicUsize::new(0)),
            max: CachePadded::new(AtomicUsize::new(0)),
            saturated: CachePadded::new(AtomicBool::new(false)),
        }
    }

    /// A tracker that never switches itself off: for workers that may outnumber the throttle.
    pub fn unbounded() -> Self {
        InflightTracker::new(usize::MAX)
    }

    #[inline]
    pub fn enter(&self) -> Entered {
        if self.saturated.load(Ordering::Relaxed) {
            return Entered(false);
        }
        let now = self.current.fetch_add(1, Ordering::AcqRel) + 1;
        if now > self.max.load(Ordering::Relaxed) {
            self.max.fetch_max(now, Ordering::AcqRel);
            if now >= self.limit {
                self.saturated.store(true, Ordering::Relaxed);
            }
        }
        Entered(true)
    }

    #[inline]
    pub fn leave(&self, entered: Entered) {
        if entered.0 {
            self.current.fetch_sub(1, Ordering::AcqRel);
        }
    }

    pub fn max(&self) -> usize {
        self.max.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_the_highest_overlap() {
        let t = InflightTracker::new(3);
        let a = t.enter();
        let b = t.enter();
        t.leave(a);
        let c = t.enter();
        assert_eq!(t.max(), 2);
        t.leave(b);
        t.leave(c);
        assert_eq!(t.max(), 2);
    }

    #[test]
    fn stops_counting_once_the_limit_is_reached() {
        let t = InflightTracker::new(2);
        let a = t.enter();
        let b = t.enter();
        let c = t.enter();
        assert_eq!(t.max(), 2);
        t.leave(a);
        t.leave(b);
        t.leave(c);
        assert_eq!(t.max(), 2);
    }

    #[test]
    fn an_unbounded_tracker_counts_past_any_throttle() {
        let t = InflightTracker::unbounded();
        let held: Vec<_> = (0..5).map(|_| t.enter()).collect();
        assert_eq!(t.max(), 5);
        held.into_iter().for_each(|e| t.leave(e));
        let again = t.enter();
        assert_eq!(t.max(), 5);
        t.leave(again);
    }
}
