//! Gradient2, as Netflix concurrency-limits' `Gradient2Limit`: the gradient of a long-term
//! average latency (an exponential average over `long_window` samples, the first 10 averaged)
//! against the last item's, `max(0.5, min(1, rtt_tolerance × long / short))`, scales the limit,
//! `queue_size` is added, and the result is smoothed: `limit × (1 − smoothing) + (limit ×
//! gradient + queue_size) × smoothing`. When the long average is over twice the last latency it
//! decays by 5 % a sample, so that the limiter recovers after a spell of load. With fewer than
//! half the limit in flight the limit stays.

use std::time::Duration;

use super::{Limit, Params, Sample};

pub(super) const PARAMS: &[(&str, f64)] = &[
    ("initial_limit", 20.0),
    ("min_limit", 1.0),
    ("max_limit", 200.0),
    ("smoothing", 0.2),
    ("queue_size", 4.0),
    ("long_window", 600.0),
    ("rtt_tolerance", 1.5),
];

/// Samples averaged plainly before the long-term average turns exponential.
const WARMUP_SAMPLES: u32 = 10;

pub(super) struct Gradient2 {
    estimated: f64,
    min: usize,
    max: usize,
    smoothing: f64,
    queue_size: f64,
    tolerance: f64,
    long: LongRtt,
}

/// The library's `ExpAvgMeasurement`: a plain mean of the first samples, then an exponential
/// average with factor 2 / (window + 1).
struct LongRtt {
    window: f64,
    count: u32,
    sum: f64,
    value: f64,
}

impl LongRtt {
    fn add(&mut self, sample: f64) -> f64 {
        if self.count < WARMUP_SAMPLES {
            self.count += 1;
            self.sum += sample;
            self.value = self.sum / f64::from(self.count);
        } else {
            let factor = 2.0 / (self.window + 1.0);
            self.value = self.value * (1.0 - factor) + sample * factor;
        }
        self.value
    }
}

impl Gradient2 {
    pub(super) fn new(p: &Params) -> Gradient2 {
        let (min, max) = p.bounds();
        Gradient2 {
            estimated: p.initial() as f64,
            min,
            max,
            smoothing: p.get("smoothing"),
            queue_size: p.get("queue_size"),
            tolerance: p.get("rtt_tolerance"),
            long: LongRtt {
                window: p.get("long_window"),
                count: 0,
                sum: 0.0,
                value: 0.0,
            },
        }
    }
}

impl Limit for Gradient2 {
    fn limit(&self) -> usize {
        (self.estimated as usize).clamp(self.min, self.max)
    }

    fn reference(&self) -> Option<Duration> {
        (self.long.count > 0).then(|| Duration::from_secs_f64(self.long.value))
    }

    fn on_sample(&mut self, s: &Sample) {
        let short = s.rtt.as_secs_f64().max(1e-9);
        let long = self.long.add(short);
        if long / short > 2.0 {
            self.long.value *= 0.95;
        }
        if (s.inflight as f64) < self.estimated / 2.0 {
            return;
        }
        let gradient = (self.tolerance * long / short).clamp(0.5, 1.0);
        let new = self.estimated * gradient + self.queue_size;
        let new = self.estimated * (1.0 - self.smoothing) + new * self.smoothing;
        self.estimated = new.clamp(self.min as f64, self.max as f64);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::LimiterSpec;
    use super::*;

    fn gradient2(text: &str) -> Gradient2 {
        Gradient2::new(&text.parse::<LimiterSpec>().unwrap().params(1000))
    }

    #[test]
    fn steady_latency_grows_the_limit_by_the_smoothed_queue_size() {
        let mut l = gradient2("gradient2");
        l.on_sample(&Sample::new(Duration::from_millis(20), 20, false));
        // Gradient 1 (1.5 × 20/20, capped): 20 × 0.8 + (20 + 4) × 0.2 = 20.8.
        assert!((l.estimated - 20.8).abs() < 1e-9, "{}", l.estimated);
        assert_eq!(l.limit(), 20);
    }

    #[test]
    fn a_latency_jump_halves_the_target_at_most() {
        let mut l = gradient2("gradient2");
        for _ in 0..10 {
            l.on_sample(&Sample::new(Duration::from_millis(20), 20, false));
        }
        let before = l.estimated;
        // 1.5 × ~20 / 200 is under 0.5: the gradient is held at 0.5.
        l.on_sample(&Sample::new(Duration::from_millis(200), 30, false));
        let expected = before * 0.8 + (before * 0.5 + 4.0) * 0.2;
        assert!((l.estimated - expected).abs() < 1e-6, "{}", l.estimated);
    }

    #[test]
    fn few_in_flight_leave_the_limit_alone() {
        let mut l = gradient2("gradient2:min_limit=20");
        l.on_sample(&Sample::new(Duration::from_millis(20), 5, false));
        assert_eq!(l.estimated, 20.0);
    }
}
