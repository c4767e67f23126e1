//! AIMD, as Netflix concurrency-limits' `AIMDLimit`: one more when at least half the limit is in
//! flight and the item went well, times `backoff_ratio` when it failed or took longer than
//! `timeout_ms` (a drop). Loss based: latency alone never lowers it.

use std::time::Duration;

use super::{Limit, Params, Sample};

pub(super) const PARAMS: &[(&str, f64)] = &[
    ("initial_limit", 20.0),
    ("min_limit", 1.0),
    ("max_limit", 200.0),
    ("backoff_ratio", 0.9),
    ("timeout_ms", 5000.0),
];

pub(super) struct Aimd {
    limit: usize,
    min: usize,
    max: usize,
    backoff_ratio: f64,
    timeout: Duration,
}

impl Aimd {
    pub(super) fn new(p: &Params) -> Aimd {
        let (min, max) = p.bounds();
        Aimd {
            limit: p.initial(),
            min,
            max,
            backoff_ratio: p.get("backoff_ratio"),
            timeout: Duration::from_secs_f64(p.get("timeout_ms") / 1000.0),
        }
    }
}

impl Limit for Aimd {
    fn limit(&self) -> usize {
        self.limit
    }

    fn on_sample(&mut self, s: &Sample) {
        let mut limit = self.limit;
        if s.dropped || s.rtt > self.timeout {
            limit = (limit as f64 * self.backoff_ratio) as usize;
        } else if s.inflight * 2 >= limit {
            limit += 1;
        }
        self.limit = limit.clamp(self.min, self.max);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Algorithm, LimiterSpec};
    use super::*;

    fn aimd(text: &str) -> Box<dyn Limit> {
        text.parse::<LimiterSpec>().unwrap().build(1000)
    }

    #[test]
    fn grows_by_one_when_busy_and_backs_off_on_a_drop() {
        let mut l = aimd("aimd");
        assert_eq!(l.limit(), 20);
        l.on_sample(&Sample::new(Duration::from_millis(5), 10, false));
        assert_eq!(l.limit(), 21);
        // Fewer than half in flight: the limit is not the constraint, so it does not grow.
        l.on_sample(&Sample::new(Duration::from_millis(5), 5, false));
        assert_eq!(l.limit(), 21);
        l.on_sample(&Sample::new(Duration::from_millis(5), 21, true));
        assert_eq!(l.limit(), 18, "21 × 0.9, truncated");
        l.on_sample(&Sample::new(Duration::from_secs(6), 18, false));
        assert_eq!(l.limit(), 16, "past the 5 s timeout is a drop");
        assert_eq!(
            "aimd".parse::<LimiterSpec>().unwrap().algorithm,
            Algorithm::Aimd
        );
    }

    #[test]
    fn stays_within_its_bounds() {
        let mut l = aimd("aimd:initial_limit=2,min_limit=2,max_limit=3");
        for _ in 0..10 {
            l.on_sample(&Sample::new(Duration::from_millis(1), 3, false));
        }
        assert_eq!(l.limit(), 3);
        for _ in 0..10 {
            l.on_sample(&Sample::new(Duration::from_millis(1), 3, true));
        }
        assert_eq!(l.limit(), 2);
    }
}
