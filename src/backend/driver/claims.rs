//! The default item source: the point's items, claimed from its one shared counter.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::ItemSource;
use crate::measure::timeline::Outcome;

/// Hands a lane its item numbers. Items of a few hundred nanoseconds would spend most of their
/// time fighting over the shared counter's cache line, so short items are claimed in growing
/// batches (up to 64, i.e. a few microseconds of work, which bounds the imbalance at the end of
/// a point); anything longer is claimed one at a time. A batch never reaches past the budget.
pub(crate) struct Claims<'p> {
    counter: &'p AtomicU64,
    items: u64,
    next: u64,
    end: u64,
    batch: u64,
    max_batch: u64,
}

impl<'p> Claims<'p> {
    pub(super) const SHORT: Duration = Duration::from_micros(2);
    pub(super) const MAX_BATCH: u64 = 64;

    /// Claims from `counter`, which numbers the point's `items`.
    pub(crate) fn new(counter: &'p AtomicU64, items: u64) -> Self {
        Claims {
            counter,
            items,
            next: 0,
            end: 0,
            batch: 1,
            max_batch: Self::MAX_BATCH,
        }
    }

    /// Claims one item at a time whatever its length: a lane a limiter holds back must not sit
    /// on a batch of claimed items while others run out of work.
    pub(crate) fn one_at_a_time(counter: &'p AtomicU64, items: u64) -> Self {
        Claims {
            max_batch: 1,
            ..Claims::new(counter, items)
        }
    }
}

impl ItemSource for Claims<'_> {
    #[inline]
    fn next_item(&mut self) -> Option<u64> {
        if self.next >= self.end {
            let first = self.counter.fetch_add(self.batch, Ordering::Relaxed);
            if first >= self.items {
                return None;
            }
            self.next = first;
            self.end = first.saturating_add(self.batch).min(self.items);
        }
        self.next += 1;
        Some(self.next - 1)
    }

    #[inline]
    fn item_ended(&mut self, took: Duration, _outcome: Outcome) {
        self.batch = if took < Self::SHORT {
            (self.batch * 2).min(self.max_batch)
        } else {
            1
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batched_claims_never_reach_past_the_budget() {
        for items in [0, 1, 5, 63, 64, 65, 1000, 10_007] {
            let counter = AtomicU64::new(0);
            let claimed: Vec<Vec<u64>> = std::thread::scope(|scope| {
                let workers: Vec<_> = (0..4)
                    .map(|_| {
                        scope.spawn(|| {
                            let mut claims = Claims::new(&counter, items);
                            let mut mine = Vec::new();
                            while let Some(item) = claims.next_item() {
                                mine.push(item);
                                // Every item short: batches grow to their largest.
                                claims.item_ended(Duration::from_nanos(100), Outcome::Ok);
                            }
                            mine
                        })
                    })
                    .collect();
                workers.into_iter().map(|w| w.join().unwrap()).collect()
            });
            let mut all: Vec<u64> = claimed.into_iter().flatten().collect();
            assert!(all.iter().all(|&i| i < items), "{items}: {all:?}");
            all.sort_unstable();
            assert_eq!(
                all,
                (0..items).collect::<Vec<_>>(),
                "each item exactly once"
            );
        }
    }

    #[test]
    fn claims_every_item_exactly_once_in_growing_batches() {
        let counter = AtomicU64::new(0);
        let mut a = Claims::new(&counter, 1000);
        let mut b = Claims::new(&counter, 1000);
        let mut seen = Vec::new();
        let mut live = [true, true];
        while live.iter().any(|l| *l) {
            for (claims, live) in [&mut a, &mut b]
                .into_iter()
                .zip(live.iter_mut())
                .filter(|(_, l)| **l)
            {
                match claims.next_item() {
                    Some(item) => {
                        seen.push(item);
                        claims.item_ended(Duration::from_nanos(100), Outcome::Ok);
                    }
                    None => *live = false,
                }
            }
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..1000).collect::<Vec<_>>());
        assert!(
            counter.load(Ordering::Relaxed) <= 1000 + 4 * Claims::MAX_BATCH,
            "claims overshoot by at most a batch each"
        );
    }

    #[test]
    fn short_items_take_few_trips_to_the_counter() {
        let counter = AtomicU64::new(0);
        let mut claims = Claims::new(&counter, 1000);
        let mut trips = 0;
        let mut last = 0;
        while claims.next_item().is_some() {
            let now = counter.load(Ordering::Relaxed);
            trips += u32::from(now != last);
            last = now;
            claims.item_ended(Duration::from_nanos(100), Outcome::Ok);
        }
        // Batches of 1, 2, 4 … 64: about twenty trips for 1000 items, where one a time takes 1000.
        assert!((10..50).contains(&trips), "{trips} trips");
    }

    #[test]
    fn long_items_are_claimed_one_at_a_time() {
        let counter = AtomicU64::new(0);
        let mut claims = Claims::new(&counter, 100);
        for expected in 0..10 {
            assert_eq!(claims.next_item(), Some(expected));
            claims.item_ended(Duration::from_millis(1), Outcome::Ok);
            assert_eq!(counter.load(Ordering::Relaxed), expected + 1);
        }
    }
}
