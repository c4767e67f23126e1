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
            (self.batch * 2).min(Self::MAX_BATCH)
        } else {
            1
        };
    }
}
