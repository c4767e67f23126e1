//! Startup per item: the time from an item being handed out to its workload starting it. The
//! per-item path pays a clock read only for a thinning sample of items — every item at first,
//! then every 2nd, 4th … once the sample is full — so a point of a million no-op items reads
//! the clock a few hundred extra times, and the sample still spans the whole point.

use std::time::Duration;

/// Samples kept per lane; past this the stride doubles and every other sample goes.
const KEEP: usize = 256;

/// One lane's (or one worker slot's) sample of startups, in ns.
#[derive(Debug)]
pub(crate) struct StartupSample {
    ns: Vec<u64>,
    /// A power of two: every `stride`-th item is measured.
    stride: u64,
    seen: u64,
}

impl Default for StartupSample {
    fn default() -> Self {
        StartupSample {
            ns: Vec::new(),
            stride: 1,
            seen: 0,
        }
    }
}

impl StartupSample {
    /// Whether the item handed out now is one to measure.
    #[inline]
    pub(crate) fn wants(&mut self) -> bool {
        let wanted = self.seen & (self.stride - 1) == 0;
        self.seen += 1;
        wanted
    }

    /// Adds a measured startup.
    #[inline]
    pub(crate) fn add(&mut self, ns: u64) {
        if self.ns.len() >= KEEP {
            // Keeping the samples at even positions leaves exactly those a doubled stride
            // would have taken.
            let mut at = 0;
            self.ns.retain(|_| {
                at += 1;
                at % 2 == 1
            });
            self.stride *= 2;
        }
        self.ns.push(ns);
    }

    /// The samples taken so far, leaving this one empty.
    pub(crate) fn take(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.ns)
    }
}

/// The median of startups gathered from several lanes.
pub(crate) fn median(mut ns: Vec<u64>) -> Option<Duration> {
    if ns.is_empty() {
        return None;
    }
    ns.sort_unstable();
    let mid = ns.len() / 2;
    let median = if ns.len() % 2 == 0 {
        (ns[mid - 1] + ns[mid]) / 2
    } else {
        ns[mid]
    };
    Some(Duration::from_nanos(median))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_point_keeps_a_bounded_sample_spread_over_all_its_items() {
        let mut sample = StartupSample::default();
        let mut measured = 0u64;
        for item in 0..100_000u64 {
            if sample.wants() {
                measured += 1;
                sample.add(item);
            }
        }
        let kept = sample.take();
        assert!(
            kept.len() <= KEEP && kept.len() > KEEP / 2,
            "{}",
            kept.len()
        );
        // Few clock reads for many items: 256, then 128 more per doubling of the point.
        assert!(measured < 2_000, "{measured} items measured");
        // Evenly spaced from the first item to near the last.
        assert_eq!(kept[0], 0);
        let step = kept[1] - kept[0];
        assert!(kept.windows(2).all(|w| w[1] - w[0] == step), "{kept:?}");
        assert!(*kept.last().unwrap() > 100_000 - 2 * step);
    }

    #[test]
    fn the_median_of_lanes_is_the_middle_value() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![30, 10, 20]), Some(Duration::from_nanos(20)));
        assert_eq!(median(vec![40, 10, 20, 30]), Some(Duration::from_nanos(25)));
    }
}
