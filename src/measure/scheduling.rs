//! What the open loop measures beside an item's own time: how late it started against its
//! intended time, and its latency counted from that intended time — the figure coordinated
//! omission cannot hide, since a stall delays the start of every item due during it.

use std::time::Duration;

use hdrhistogram::Histogram;

use super::timeline::Outcome;

/// An item is late when it started more than this after its intended time.
pub const LATE_AFTER: Duration = Duration::from_millis(1);

/// Latencies above a day are recorded as a day, as the closed loop's.
const MAX_US: u64 = 86_400_000_000;

/// One worker's open-loop record, merged after the point as its latency histogram is.
#[derive(Debug, Clone)]
pub struct Scheduling {
    /// Successful items, from intended start to end, in microseconds.
    pub intended: Histogram<u64>,
    /// Every item's lag, intended to actual start, in microseconds.
    pub lag: Histogram<u64>,
    /// Items that started more than `LATE_AFTER` after their intended time.
    pub late: u64,
}

impl Default for Scheduling {
    fn default() -> Self {
        Scheduling {
            intended: Histogram::new(3).expect("3 significant digits is a valid precision"),
            lag: Histogram::new(3).expect("3 significant digits is a valid precision"),
            late: 0,
        }
    }
}

impl Scheduling {
    /// Notes an item that started `lag` after its time and ran for `took`.
    #[inline]
    pub fn record(&mut self, lag: Duration, took: Duration, ended: Outcome) {
        let us = |d: Duration| (d.as_micros() as u64).min(MAX_US);
        let _ = self.lag.record(us(lag));
        if lag > LATE_AFTER {
            self.late += 1;
        }
        if ended == Outcome::Ok {
            let _ = self.intended.record(us(lag + took));
        }
    }

    pub fn merge(&mut self, other: &Scheduling) {
        let _ = self.intended.add(&other.intended);
        let _ = self.lag.add(&other.lag);
        self.late += other.late;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_from_the_intended_start_includes_the_lag_and_late_counts_past_a_millisecond() {
        let mut a = Scheduling::default();
        a.record(
            Duration::from_micros(200),
            Duration::from_millis(5),
            Outcome::Ok,
        );
        a.record(
            Duration::from_millis(40),
            Duration::from_millis(5),
            Outcome::Ok,
        );
        let mut b = Scheduling::default();
        b.record(
            Duration::from_millis(3),
            Duration::from_millis(1),
            Outcome::Failed,
        );
        a.merge(&b);
        assert_eq!(a.late, 2);
        assert_eq!(a.lag.len(), 3);
        assert_eq!(a.intended.len(), 2, "failed items are not in the latency");
        assert!(a.intended.equivalent(a.intended.max(), 45_000));
        assert!(a.intended.equivalent(a.intended.min(), 5_200));
    }
}
