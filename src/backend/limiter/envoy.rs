//! Envoy's adaptive concurrency filter, its gradient controller. Unlike Gradient2 it compares
//! latency with a *measured* no-load latency: first, and every `min_rtt_interval_ms` (jittered
//! by up to `jitter` %), the limit is pinned to `min_concurrency` until `request_count` items
//! started after the pin have ended, and their `sample_percentile` is the minRTT. Between
//! measurements, every `update_interval_ms` the window's latencies are summarised the same way
//! (sampleRTT) and `gradient = clamp(minRTT × (1 + buffer %) / sampleRTT, 0.5, 2)`;
//! `limit × gradient + √(limit × gradient)` is the new limit. A limit held at `min_concurrency`
//! for 5 windows in a row measures the minRTT again at once. Every answer's latency counts,
//! failed ones included, as in Envoy (which samples every response it encodes).
//!
//! Envoy's timers fire on their own; here a window ends at the first sample past its end, which
//! on a busy point is within a few milliseconds. Envoy has no default for the two intervals (its
//! configuration must give them); the defaults here are its documentation's example, 100 ms and
//! 60 s. The rest are Envoy's own defaults.

use std::time::Duration;

use super::{Limit, Params, Sample};

pub(super) const PARAMS: &[(&str, f64)] = &[
    ("max_limit", 1000.0),
    ("min_concurrency", 3.0),
    ("update_interval_ms", 100.0),
    ("sample_percentile", 50.0),
    ("buffer", 25.0),
    ("min_rtt_interval_ms", 60_000.0),
    ("request_count", 50.0),
    ("jitter", 15.0),
];

/// Windows in a row at `min_concurrency` that make Envoy doubt its minRTT.
const AT_MIN_WINDOWS: u32 = 5;

pub(super) struct Envoy {
    limit: usize,
    min: usize,
    max: usize,
    update_interval: Duration,
    percentile: f64,
    buffer: f64,
    min_rtt_interval: Duration,
    request_count: usize,
    jitter: f64,
    min_rtt: Duration,
    /// The limit to go back to while a minRTT measurement pins it, `None` between them.
    deferred: Option<usize>,
    /// When the last minRTT measurement began: items started before it are not sampled.
    epoch: Duration,
    latencies: Vec<Duration>,
    window_end: Duration,
    next_min_rtt: Duration,
    windows_at_min: u32,
    draws: u64,
}

impl Envoy {
    pub(super) fn new(p: &Params) -> Envoy {
        let (_, max) = p.bounds();
        let min = (p.get("min_concurrency") as usize).clamp(1, max);
        let ms = |name: &str| Duration::from_secs_f64(p.get(name) / 1000.0);
        let mut envoy = Envoy {
            limit: min,
            min,
            max,
            update_interval: ms("update_interval_ms"),
            percentile: p.get("sample_percentile"),
            buffer: p.get("buffer") / 100.0,
            min_rtt_interval: ms("min_rtt_interval_ms"),
            request_count: p.get("request_count") as usize,
            jitter: p.get("jitter") / 100.0,
            min_rtt: Duration::ZERO,
            deferred: None,
            epoch: Duration::ZERO,
            latencies: Vec::new(),
            window_end: Duration::ZERO,
            next_min_rtt: Duration::ZERO,
            windows_at_min: 0,
            draws: 0,
        };
        envoy.measure_min_rtt(Duration::ZERO);
        envoy
    }

    fn measuring(&self) -> bool {
        self.deferred.is_some()
    }

    /// Pins the limit to `min_concurrency` and starts gathering the minRTT from items that
    /// start from `now` on.
    fn measure_min_rtt(&mut self, now: Duration) {
        if self.measuring() {
            return;
        }
        self.deferred = Some(self.limit);
        self.limit = self.min;
        self.windows_at_min = 0;
        self.latencies.clear();
        self.epoch = now;
    }

    /// The minRTT is measured: the limit goes back to where it was.
    fn end_min_rtt(&mut self, now: Duration) {
        self.min_rtt = self.summary();
        self.limit = self.deferred.take().unwrap_or(self.min);
        self.draws += 1;
        let jitter = self
            .min_rtt_interval
            .mul_f64(self.jitter * super::unit_hash(self.draws));
        self.next_min_rtt = now + self.min_rtt_interval + jitter;
        self.window_end = now + self.update_interval;
    }

    /// The window's latencies summarised by `sample_percentile` (nearest rank), and cleared.
    fn summary(&mut self) -> Duration {
        let n = self.latencies.len();
        let rank = ((self.percentile / 100.0 * n as f64).ceil() as usize).clamp(1, n) - 1;
        let (_, value, _) = self.latencies.select_nth_unstable(rank);
        let value = *value;
        self.latencies.clear();
        value
    }

    /// A sample window ended: the new limit from its sampleRTT.
    fn end_window(&mut self, now: Duration) {
        self.window_end = now + self.update_interval;
        if self.latencies.is_empty() {
            return;
        }
        let sample_rtt = self.summary().max(Duration::from_nanos(1));
        let buffered = self.min_rtt.as_secs_f64() * (1.0 + self.buffer);
        let gradient = (buffered / sample_rtt.as_secs_f64()).clamp(0.5, 2.0);
        let scaled = self.limit as f64 * gradient;
        let new = ((scaled + scaled.sqrt()) as usize).clamp(self.min, self.max);
        let stayed_at_min = self.limit == self.min && new == self.min;
        self.limit = new;
        self.windows_at_min = if stayed_at_min {
            self.windows_at_min + 1
        } else {
            0
        };
        if self.windows_at_min >= AT_MIN_WINDOWS {
            self.measure_min_rtt(now);
        }
    }
}

impl Limit for Envoy {
    fn limit(&self) -> usize {
        self.limit
    }

    fn reference(&self) -> Option<Duration> {
        (self.min_rtt > Duration::ZERO).then_some(self.min_rtt)
    }

    fn on_sample(&mut self, s: &Sample) {
        let now = s.at;
        if !self.measuring() {
            if now >= self.next_min_rtt {
                self.measure_min_rtt(now);
            } else if now >= self.window_end {
                self.end_window(now);
            }
        }
        if now.saturating_sub(s.rtt) < self.epoch {
            return;
        }
        self.latencies.push(s.rtt);
        if self.measuring() && self.latencies.len() >= self.request_count {
            self.end_min_rtt(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::LimiterSpec;
    use super::*;

    fn envoy(text: &str) -> Envoy {
        Envoy::new(&text.parse::<LimiterSpec>().unwrap().params(1000))
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Feeds `n` items of `rtt` ending one millisecond apart from `from`; returns the next time.
    fn feed(l: &mut Envoy, from: Duration, n: u64, rtt: Duration) -> Duration {
        for i in 0..n {
            let at = from + ms(i) + rtt;
            l.on_sample(&Sample::new(rtt, 1, false).at(at));
        }
        from + ms(n)
    }

    #[test]
    fn starts_pinned_at_min_concurrency_until_the_min_rtt_is_measured() {
        let mut l = envoy("envoy");
        assert_eq!(l.limit(), 3);
        let t = feed(&mut l, ms(0), 49, ms(20));
        assert!(l.measuring(), "49 of 50 samples");
        feed(&mut l, t, 1, ms(20));
        assert!(!l.measuring());
        assert_eq!(l.min_rtt, ms(20));
        assert_eq!(l.limit(), 3, "back to the limit before the pin");
    }

    #[test]
    fn the_gradient_moves_the_limit_with_the_square_root_as_headroom() {
        let mut l = envoy("envoy");
        let t = feed(&mut l, ms(0), 50, ms(20));
        // No queue: gradient 25/20 = 1.25, 3 × 1.25 = 3.75, + √3.75 = 5.69 → 5.
        let t = feed(&mut l, t, 120, ms(20));
        assert_eq!(l.limit(), 5);
        // A window at 50 ms: gradient 25/50 = 0.5, 5 × 0.5 = 2.5 + 1.58 = 4.08 → 4.
        feed(&mut l, t, 100, ms(50));
        assert_eq!(l.limit(), 4);
        // Held at min_concurrency five windows in a row: the minRTT is measured again.
        let mut l = envoy("envoy:min_concurrency=4");
        let t = feed(&mut l, ms(0), 50, ms(20));
        feed(&mut l, t, 700, ms(200));
        assert!(l.measuring(), "limit {}", l.limit());
    }

    #[test]
    fn items_started_before_a_measurement_are_not_its_samples() {
        let mut l = envoy("envoy");
        feed(&mut l, ms(0), 50, ms(20));
        l.measure_min_rtt(ms(1000));
        // Ended at 1.1 s after 150 ms: started before the pin at 1 s.
        l.on_sample(&Sample::new(ms(150), 1, false).at(ms(1100)));
        assert!(l.latencies.is_empty());
        l.on_sample(&Sample::new(ms(50), 1, false).at(ms(1100)));
        assert_eq!(l.latencies, [ms(50)]);
    }

    #[test]
    fn settles_where_queueing_balances_the_headroom() {
        let limits = super::super::on_a_queueing_server(&mut envoy("envoy"), 10);
        // Latency 2.5 ms × L past 8; minRTT 20 ms buffered to 25: L = 25 / 2.5 + √L, about 13.
        let tail = &limits[limits.len() / 2..];
        assert!(tail.iter().all(|&x| (11..=14).contains(&x)), "{tail:?}");
    }
}
