//! Warnings about a sweep, each one telling the user what to do about it.

use std::fmt;
use std::time::Duration;

use crate::backend::BackendKind;

/// Something about a sweep the user should know, and can act on: its `Display` says how.
#[derive(Debug, Clone, PartialEq)]
pub enum Warning {
    FewerItemsThanThrottle {
        items: u64,
        throttle: usize,
    },
    ShortPoint {
        backend: BackendKind,
        throttle: usize,
        wall: Duration,
    },
    CpuBoundOnAsync,
    NoisyRepetitions {
        backend: BackendKind,
        throttle: usize,
        spread: f64,
    },
    InflightBelowThrottle {
        backend: BackendKind,
        throttle: usize,
        observed: usize,
    },
    ItemsFailed {
        backend: BackendKind,
        throttle: usize,
        failed: u64,
        timed_out: u64,
        items: u64,
    },
    PeakRssSampled,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::FewerItemsThanThrottle { items, throttle } => write!(
                f,
                "only {items} {} per point but throttles up to {throttle}: throttles above {items} cannot be filled; raise --items to at least {}",
                if *items == 1 { "item" } else { "items" },
                throttle * 4
            ),
            Warning::ShortPoint { backend, throttle, wall } => write!(
                f,
                "{backend} at throttle {throttle} took only {:.1} ms: too short to measure reliably; use more --items or --duration 2s",
                wall.as_secs_f64() * 1000.0
            ),
            Warning::CpuBoundOnAsync => f.write_str(
                "CPU-bound work on the async backend blocks its executor threads: async cannot beat the core count here; compare with --backend thread",
            ),
            Warning::NoisyRepetitions { backend, throttle, spread } => write!(
                f,
                "{backend} at throttle {throttle}: repetitions disagree by {:.0}% in throughput; the machine is noisy — close other work, add --warmup, or raise --repeat",
                spread * 100.0
            ),
            Warning::InflightBelowThrottle { backend, throttle, observed } => write!(
                f,
                "{backend} at throttle {throttle} never had more than {observed} {} in flight; the pool is smaller than asked, blocking work holds the async executor, or items are too short to overlap",
                if *observed == 1 { "item" } else { "items" }
            ),
            Warning::ItemsFailed { backend, throttle, failed, timed_out, items } => write!(
                f,
                "{backend} at throttle {throttle}: {failed} failed and {timed_out} timed out of {items} {}; see failures.csv",
                if *items == 1 { "item" } else { "items" }
            ),
            Warning::PeakRssSampled => f.write_str(
                "the kernel refused to reset the peak-memory counter (/proc/self/clear_refs): peak_rss_mb was sampled every 5 ms and may miss short spikes",
            ),
        }
    }
}
