//! A shard's part of a point and the point's place on the shared schedule: the one place where
//! a point's load is divided among shards (throttle slots, items and offered rates), and the
//! wait for a point's wall-clock window.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use super::PlannedPoint;
use crate::backend::{BackendKind, Budget};
use crate::spec::{Shard, SweepSettings};

/// What this process runs of a point: all of it, or its shard's part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PointLoad {
    pub slots: usize,
    pub budget: Budget,
}

impl PointLoad {
    /// A shard whose part of the point is nothing: no slot, or no item to run.
    pub fn is_idle(&self) -> bool {
        self.slots == 0 || self.budget == Budget::Items(0)
    }
}

/// This process's part of `point`: the whole point without `--shard`, else the shard's share of
/// the throttle (`Shard::share`), and its share of the items among the shards that got a slot
/// (all N, or the first T when the throttle T is below N). The baseline is never divided: only
/// shard 1 runs it.
pub(crate) fn shard_load(settings: &SweepSettings, point: &PlannedPoint) -> PointLoad {
    let whole = PointLoad {
        slots: point.throttle,
        budget: settings.budget,
    };
    let Some(shard) = settings.shard else {
        return whole;
    };
    if point.backend == BackendKind::Sequential {
        return whole;
    }
    let slots = shard.share(point.throttle as u64);
    // Items go to the shards that have a slot: with fewer slots than shards, the others would
    // be handed items they cannot run.
    let active = Shard {
        index: shard.index,
        count: shard.count.min(point.throttle as u32).max(1),
    };
    PointLoad {
        slots: slots as usize,
        budget: match settings.budget {
            Budget::Items(_) if slots == 0 => Budget::Items(0),
            Budget::Items(items) => Budget::Items(active.share(items)),
            time => time,
        },
    }
}

/// This process's part of an offered rate (items/s): all of it, or a shard's N-th.
pub(crate) fn shard_rate(settings: &SweepSettings, rate: f64) -> f64 {
    settings.shard.map_or(rate, |shard| shard.share_rate(rate))
}

/// Whether this process measures `point` at all: a shard other than 1 leaves the baseline out.
pub(crate) fn runs_point(settings: &SweepSettings, point: &PlannedPoint) -> bool {
    point.backend != BackendKind::Sequential || settings.shard.map_or(true, |s| s.runs_baseline())
}

/// A point's wall-clock window: it opens, runs for the point's duration, and must be done
/// before the next one opens.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub opens: SystemTime,
    pub measures_until: SystemTime,
    pub closes: SystemTime,
}

/// The window of the point at `index` in the whole plan (baseline included, so every shard
/// counts the same), when the run is on a schedule.
pub(crate) fn window(settings: &SweepSettings, index: usize) -> Option<Window> {
    let schedule = settings.schedule.as_ref()?;
    let opens = schedule.window_start(index);
    Some(Window {
        opens,
        measures_until: opens + schedule.duration,
        closes: opens + schedule.duration + schedule.gap,
    })
}

/// Sleeps until `at` by the wall clock; false when `stop` was set first.
pub(crate) fn wait_until(at: SystemTime, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        match at.duration_since(SystemTime::now()) {
            Ok(left) if !left.is_zero() => std::thread::sleep(left.min(Duration::from_millis(50))),
            _ => return true,
        }
    }
}

/// Milliseconds from `from` to `to`, 0 when `to` is earlier.
pub(crate) fn ms_between(from: SystemTime, to: SystemTime) -> f64 {
    to.duration_since(from)
        .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(backend: BackendKind, throttle: usize) -> PlannedPoint {
        PlannedPoint {
            backend,
            throttle,
            repetition: 1,
            rate: None,
        }
    }

    #[test]
    fn a_shard_offers_its_nth_of_a_rate() {
        let mut settings = SweepSettings::default();
        assert_eq!(shard_rate(&settings, 900.0), 900.0);
        settings.shard = Some(Shard { index: 2, count: 3 });
        assert_eq!(shard_rate(&settings, 900.0), 300.0);
    }

    #[test]
    fn a_shard_takes_its_share_of_slots_and_items() {
        let mut settings = SweepSettings {
            budget: Budget::Items(10),
            shard: Some(Shard { index: 2, count: 3 }),
            ..SweepSettings::default()
        };
        let load = shard_load(&settings, &point(BackendKind::Thread, 8));
        assert_eq!(
            load,
            PointLoad {
                slots: 3,
                budget: Budget::Items(3)
            }
        );
        settings.shard = Some(Shard { index: 3, count: 3 });
        let load = shard_load(&settings, &point(BackendKind::Thread, 2));
        assert!(load.is_idle(), "{load:?}");
        settings.shard = Some(Shard { index: 1, count: 3 });
        let alone = shard_load(&settings, &point(BackendKind::Thread, 1));
        assert_eq!(
            alone,
            PointLoad {
                slots: 1,
                budget: Budget::Items(10)
            }
        );
        settings.shard = Some(Shard { index: 3, count: 3 });
        let baseline = shard_load(&settings, &point(BackendKind::Sequential, 1));
        assert_eq!(
            baseline,
            PointLoad {
                slots: 1,
                budget: Budget::Items(10)
            }
        );
        assert!(!runs_point(&settings, &point(BackendKind::Sequential, 1)));
        settings.shard = Some(Shard { index: 1, count: 3 });
        assert!(runs_point(&settings, &point(BackendKind::Sequential, 1)));
    }
}
