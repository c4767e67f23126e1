//! Vector's adaptive request concurrency (ARC), as its sinks' controller: latencies are averaged
//! over a window as long as the past mean latency, and at the window's end compared with an
//! exponentially weighted mean and deviation of past windows (`ewma_alpha`). The limit grows by
//! one when the limit was reached in the window, nothing failed and the window's mean is not
//! above the past mean; it is multiplied by `decrease_ratio` when an item failed (back
//! pressure) or the mean is at least `rtt_deviation_scale` deviations above the past mean.
//! Failed items are back pressure and their latency is not a sample. Vector counts only
//! retriable errors (timeouts, 429, 503) as back pressure; an item here does not say which
//! failure it met, so every failure is.

use std::time::Duration;

use super::{Limit, Params, Sample};

pub(super) const PARAMS: &[(&str, f64)] = &[
    ("initial_limit", 1.0),
    ("max_limit", 200.0),
    ("decrease_ratio", 0.9),
    ("ewma_alpha", 0.4),
    ("rtt_deviation_scale", 2.5),
];

pub(super) struct Vector {
    limit: usize,
    max: usize,
    decrease_ratio: f64,
    alpha: f64,
    deviation_scale: f64,
    /// Mean and variance of past windows' mean latency (s), from the first window on.
    past: Option<(f64, f64)>,
    next_update: Duration,
    window_sum: f64,
    window_count: u64,
    back_pressure: bool,
    reached_limit: bool,
}

impl Vector {
    pub(super) fn new(p: &Params) -> Vector {
        let (_, max) = p.bounds();
        Vector {
            limit: (p.get("initial_limit") as usize).clamp(1, max),
            max,
            decrease_ratio: p.get("decrease_ratio"),
            alpha: p.get("ewma_alpha"),
            deviation_scale: p.get("rtt_deviation_scale"),
            past: None,
            next_update: Duration::ZERO,
            window_sum: 0.0,
            window_count: 0,
            back_pressure: false,
            reached_limit: false,
        }
    }

    fn window_mean(&self) -> Option<f64> {
        (self.window_count > 0).then(|| self.window_sum / self.window_count as f64)
    }

    /// The exponentially weighted mean and variance after `x` (West's recurrence, as Vector's
    /// `EwmaVar`).
    fn add_past(&mut self, x: f64) -> (f64, f64) {
        let next = match self.past {
            None => (x, 0.0),
            Some((mean, var)) => {
                let diff = x - mean;
                let increment = self.alpha * diff;
                (
                    mean + increment,
                    (1.0 - self.alpha) * (var + diff * increment),
                )
            }
        };
        self.past = Some(next);
        next
    }

    fn manage_limit(&mut self, (past_mean, past_var): (f64, f64), current: Option<f64>) {
        let threshold = past_var.sqrt() * self.deviation_scale;
        if self.limit < self.max
            && self.reached_limit
            && !self.back_pressure
            && current.is_some_and(|c| c <= past_mean)
        {
            self.limit += 1;
        } else if self.limit > 1
            && (self.back_pressure || current.unwrap_or(0.0) >= past_mean + threshold)
        {
            self.limit = ((self.limit as f64 * self.decrease_ratio) as usize).max(1);
        }
    }
}

impl Limit for Vector {
    fn limit(&self) -> usize {
        self.limit
    }

    fn reference(&self) -> Option<Duration> {
        self.past.map(|(mean, _)| Duration::from_secs_f64(mean))
    }

    fn on_sample(&mut self, s: &Sample) {
        self.reached_limit |= s.limit_reached;
        if s.dropped {
            self.back_pressure = true;
        } else {
            self.window_sum += s.rtt.as_secs_f64();
            self.window_count += 1;
        }
        let current = self.window_mean();
        let Some(mut past) = self.past else {
            // The first latency sets the past mean and the first window's length.
            if let Some(current) = current {
                self.add_past(current);
                self.next_update = s.at + Duration::from_secs_f64(current);
            }
            return;
        };
        if s.at < self.next_update {
            return;
        }
        self.manage_limit(past, current);
        if let Some(current) = current {
            past = self.add_past(current);
        }
        self.next_update = s.at + Duration::from_secs_f64(past.0);
        self.window_sum = 0.0;
        self.window_count = 0;
        self.back_pressure = false;
        self.reached_limit = false;
    }
}

#[cfg(test)]
mod tests {
    use super::super::LimiterSpec;
    use super::*;

    fn vector(text: &str) -> Vector {
        Vector::new(&text.parse::<LimiterSpec>().unwrap().params(1000))
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn sample(rtt: u64, at: u64) -> Sample {
        Sample::new(ms(rtt), 1, false).at(ms(at))
    }

    #[test]
    fn a_steady_latency_grows_the_limit_by_one_a_window() {
        let mut l = vector("vector");
        assert_eq!(l.limit(), 1);
        l.on_sample(&sample(20, 20)); // the first window: 20 ms from here
        l.on_sample(&sample(20, 30));
        assert_eq!(l.limit(), 1, "the window is not over");
        l.on_sample(&sample(20, 40));
        assert_eq!(l.limit(), 2);
        l.on_sample(&sample(20, 60));
        assert_eq!(l.limit(), 3);
    }

    #[test]
    fn a_latency_past_the_deviation_or_a_failure_cuts_by_the_ratio() {
        let mut l = vector("vector:initial_limit=20");
        l.on_sample(&sample(20, 20));
        l.on_sample(&sample(20, 40));
        assert_eq!(l.limit(), 21);
        // The past deviation is 0: any rise is past it. 21 × 0.9 = 18.9 → 18.
        l.on_sample(&sample(30, 60));
        assert_eq!(l.limit(), 18);
        let mut l = vector("vector:initial_limit=20");
        l.on_sample(&sample(20, 20));
        l.on_sample(&Sample::new(ms(20), 1, true).at(ms(40)));
        assert_eq!(l.limit(), 18, "back pressure");
    }

    #[test]
    fn without_reaching_the_limit_it_does_not_grow() {
        let mut l = vector("vector:initial_limit=4");
        let idle = |rtt, at| Sample {
            limit_reached: false,
            ..sample(rtt, at)
        };
        l.on_sample(&idle(20, 20));
        // Faster than the past mean, but the limit was never full: no evidence for more.
        l.on_sample(&idle(15, 40));
        l.on_sample(&idle(15, 60));
        assert_eq!(l.limit(), 4);
    }

    #[test]
    fn settles_where_latency_starts_to_rise() {
        let limits = super::super::on_a_queueing_server(&mut vector("vector"), 10);
        // Noise-free, any rise is past the deviation: it holds at the knee. A real server's noise
        // widens the deviation, and the limit creeps up (README, Adaptive limiters).
        let tail = &limits[limits.len() / 2..];
        assert!(tail.iter().all(|&x| (6..=10).contains(&x)), "{tail:?}");
    }
}
