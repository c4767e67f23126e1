//! Vegas, as Netflix concurrency-limits' `VegasLimit` (after TCP Vegas): the queue an item met is
//! estimated from the lowest latency seen (`rtt_noload`) as `limit × (1 − rtt_noload / rtt)`.
//! Below `threshold` the limit grows by `beta`, below `alpha` by log10(limit), above `beta` it
//! shrinks by log10(limit), and a drop shrinks it too. Every `probe_multiplier × limit` samples
//! (jittered by ×0.5–1) the next latency becomes the new `rtt_noload`, so a baseline that
//! drifted up is noticed. `alpha`, `beta` and `threshold` default to 3, 6 and 1 × log10(limit)
//! (at least 1), as the library's; a number given fixes them.

use std::time::Duration;

use super::{Limit, Params, Sample};

pub(super) const PARAMS: &[(&str, f64)] = &[
    ("initial_limit", 20.0),
    ("min_limit", 1.0),
    ("max_limit", 1000.0),
    ("smoothing", 1.0),
    ("alpha", f64::NAN),
    ("beta", f64::NAN),
    ("threshold", f64::NAN),
    ("probe_multiplier", 30.0),
];

pub(super) struct Vegas {
    estimated: f64,
    rtt_noload: Option<Duration>,
    min: usize,
    max: usize,
    smoothing: f64,
    /// Fixed values, or `None` for the library's function of the limit.
    alpha: Option<f64>,
    beta: Option<f64>,
    threshold: Option<f64>,
    probe_multiplier: f64,
    probe_count: u64,
    probe_jitter: f64,
    /// Seeds the probe jitter, so a rerun probes at the same samples.
    draws: u64,
}

/// The library's `Log10RootFunction`: log10 of the limit, truncated, at least 1.
fn log10_root(limit: f64) -> f64 {
    (limit.max(1.0).log10().floor()).max(1.0)
}

impl Vegas {
    pub(super) fn new(p: &Params) -> Vegas {
        let (min, max) = p.bounds();
        let fixed = |name: &str| Some(p.get(name)).filter(|v| !v.is_nan());
        let mut vegas = Vegas {
            estimated: p.initial() as f64,
            rtt_noload: None,
            min,
            max,
            smoothing: p.get("smoothing"),
            alpha: fixed("alpha"),
            beta: fixed("beta"),
            threshold: fixed("threshold"),
            probe_multiplier: p.get("probe_multiplier"),
            probe_count: 0,
            probe_jitter: 0.0,
            draws: 0,
        };
        vegas.reset_probe_jitter();
        vegas
    }

    fn reset_probe_jitter(&mut self) {
        self.draws += 1;
        self.probe_jitter = 0.5 + 0.5 * super::unit_hash(self.draws);
    }

    fn should_probe(&self) -> bool {
        self.probe_jitter * self.probe_multiplier * self.estimated <= self.probe_count as f64
    }

    fn update(&mut self, rtt: Duration, noload: Duration, inflight: usize, dropped: bool) {
        let estimated = self.estimated;
        let queue = (estimated * (1.0 - noload.as_secs_f64() / rtt.as_secs_f64())).ceil();
        let log = log10_root(estimated);
        let new = if dropped {
            estimated - log
        } else if (inflight as f64) * 2.0 < estimated {
            // Not close to the limit: no evidence either way.
            return;
        } else {
            let alpha = self.alpha.unwrap_or(3.0 * log);
            let beta = self.beta.unwrap_or(6.0 * log);
            let threshold = self.threshold.unwrap_or(log);
            if queue <= threshold {
                estimated + beta
            } else if queue < alpha {
                estimated + log
            } else if queue > beta {
                estimated - log
            } else {
                return;
            }
        };
        let new = new.clamp(self.min as f64, self.max as f64);
        self.estimated = (1.0 - self.smoothing) * estimated + self.smoothing * new;
    }
}

impl Limit for Vegas {
    fn limit(&self) -> usize {
        (self.estimated as usize).clamp(self.min, self.max)
    }

    fn reference(&self) -> Option<Duration> {
        self.rtt_noload
    }

    fn on_sample(&mut self, s: &Sample) {
        let (inflight, dropped) = (s.inflight, s.dropped);
        let rtt = s.rtt.max(Duration::from_nanos(1));
        self.probe_count += 1;
        if self.should_probe() {
            self.reset_probe_jitter();
            self.probe_count = 0;
            self.rtt_noload = Some(rtt);
            return;
        }
        match self.rtt_noload {
            Some(noload) if rtt >= noload => self.update(rtt, noload, inflight, dropped),
            _ => self.rtt_noload = Some(rtt),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::LimiterSpec;
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn no_queue_grows_by_beta_a_long_one_shrinks() {
        let mut l = "vegas:probe_multiplier=1000"
            .parse::<LimiterSpec>()
            .unwrap()
            .build(1000);
        l.on_sample(&Sample::new(ms(20), 20, false)); // the first sample only sets rtt_noload
        assert_eq!(l.limit(), 20);
        l.on_sample(&Sample::new(ms(20), 20, false));
        assert_eq!(l.limit(), 26, "no queue: + 6 log10(20)");
        // 26 × (1 − 20/40) = 13 queued: more than beta (6), so − log10(26).
        l.on_sample(&Sample::new(ms(40), 26, false));
        assert_eq!(l.limit(), 25);
        // 25 × (1 − 20/24) = 4.2 → 5 queued: between alpha (3) and beta, so unchanged.
        l.on_sample(&Sample::new(ms(24), 25, false));
        assert_eq!(l.limit(), 25);
        // Few in flight: no evidence, unchanged.
        l.on_sample(&Sample::new(ms(20), 3, false));
        assert_eq!(l.limit(), 25);
        l.on_sample(&Sample::new(ms(20), 25, true));
        assert_eq!(l.limit(), 24, "a drop shrinks it");
    }

    #[test]
    fn fixed_alpha_and_beta_replace_the_functions() {
        let mut l = "vegas:alpha=1,beta=2,probe_multiplier=1000"
            .parse::<LimiterSpec>()
            .unwrap()
            .build(1000);
        l.on_sample(&Sample::new(ms(20), 20, false));
        // 20 × (1 − 20/25) = 4 queued: above beta = 2, so it shrinks.
        l.on_sample(&Sample::new(ms(25), 20, false));
        assert_eq!(l.limit(), 19);
    }

    #[test]
    fn probes_a_fresh_baseline_every_few_limits_worth_of_samples() {
        let spec = "vegas:initial_limit=2,max_limit=2"
            .parse::<LimiterSpec>()
            .unwrap();
        let mut l = Vegas::new(&spec.params(1000));
        l.on_sample(&Sample::new(ms(10), 2, false));
        assert_eq!(l.rtt_noload, Some(ms(10)));
        // Within 30 × 2 samples (jittered to ×0.5–1) the next latency becomes the baseline.
        for _ in 0..61 {
            l.on_sample(&Sample::new(ms(40), 2, false));
        }
        assert_eq!(l.rtt_noload, Some(ms(40)));
    }
}
