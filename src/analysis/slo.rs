//! Service-level objectives against measured throttles: which throttles meet them, which one to
//! use, or that none does. The objectives themselves (`p99=200ms,errors=1%`) are part of the spec.

pub use crate::results::findings::SloOutcome;
pub use crate::spec::slo::{error_budget, Metric, Slo, DEFAULT_ERROR_BUDGET};

/// The measured figures of one throttle an SLO is checked against (medians over repetitions).
/// Throughput is goodput: successful items per second. Latency is of successful items, and
/// absent when no repetition had one.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Measured {
    pub throttle: usize,
    pub goodput_per_s: f64,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub p999_ms: Option<f64>,
    /// Failed and timed-out items as a share of all items, over every repetition.
    pub error_share: f64,
    /// CPU time / wall time: how many cores the point kept busy.
    pub cpu_cores: f64,
    /// Lowest and highest goodput across the repetitions that speak for the point (a stalled
    /// repetition left out: `knee::robust_range`).
    pub goodput_lo: f64,
    pub goodput_hi: f64,
}

impl Measured {
    fn value(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::P50 => self.p50_ms,
            Metric::P90 => self.p90_ms,
            Metric::P99 => self.p99_ms,
            Metric::P999 => self.p999_ms,
            Metric::Errors => Some(self.error_share),
        }
    }

    /// Whether this throttle did work within the error budget: some successful item, and no
    /// more failures than the budget allows. Only such throttles are recommended.
    pub fn within_budget(&self, budget: f64) -> bool {
        self.goodput_per_s > 0.0 && self.error_share <= budget
    }
}

// What an objective makes of measured throttles: the objective is the spec's, the verdict the
// analysis's.
impl Slo {
    /// Whether every bound holds and the error budget (the `errors=` bound, else 1%) too. A
    /// latency bound is never met by a throttle without a successful item: it has no latency.
    pub fn met(&self, m: &Measured) -> bool {
        m.within_budget(error_budget(Some(self)))
            && self
                .bounds
                .iter()
                .all(|b| m.value(b.metric).is_some_and(|v| v <= b.limit))
    }

    /// `p99 41 ms ≤ 200 ms SLO` for this throttle's figures.
    pub fn quote(&self, m: &Measured) -> String {
        let Some(b) = self.headline() else {
            return String::new();
        };
        match m.value(b.metric) {
            Some(v) => format!(
                "{} {} {} {} SLO",
                b.metric.name(),
                b.show(v),
                if v <= b.limit { "≤" } else { ">" },
                b.show(b.limit)
            ),
            None => format!(
                "no {} (no successful item), {} SLO",
                b.metric.name(),
                b.show(b.limit)
            ),
        }
    }

    pub fn evaluate(&self, rows: &[Measured]) -> SloOutcome {
        let mut feasible: Vec<&Measured> = rows.iter().filter(|m| self.met(m)).collect();
        feasible.sort_by_key(|m| m.throttle);
        let recommended = super::pick::smallest_near_best(feasible.iter().copied());
        // The closest one can get: the lowest p99 among throttles that did their work.
        let budget = error_budget(Some(self));
        let lowest_p99_throttle = if feasible.is_empty() {
            rows.iter()
                .filter(|m| m.within_budget(budget))
                .filter_map(|m| m.p99_ms.map(|p99| (p99, m.throttle)))
                .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
                .map(|(_, throttle)| throttle)
        } else {
            None
        };
        SloOutcome {
            feasible: feasible.iter().map(|m| m.throttle).collect(),
            recommended,
            lowest_p99_throttle,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(throttle: usize, x: f64, p99: f64) -> Measured {
        Measured {
            throttle,
            goodput_per_s: x,
            p99_ms: Some(p99),
            ..Measured::default()
        }
    }

    #[test]
    fn recommends_the_smallest_feasible_throttle_near_the_best_feasible() {
        let slo: Slo = "p99=100ms".parse().unwrap();
        let rows = [
            row(1, 10.0, 20.0),
            row(2, 19.0, 21.0),
            row(4, 38.0, 25.0),
            row(8, 39.0, 60.0),
            row(16, 60.0, 150.0),
        ];
        let out = slo.evaluate(&rows);
        assert_eq!(out.feasible, vec![1, 2, 4, 8]);
        assert_eq!(out.recommended, Some(4));
        assert_eq!(out.lowest_p99_throttle, None);
        assert_eq!(slo.quote(&rows[2]), "p99 25.0 ms ≤ 100 ms SLO");
    }

    #[test]
    fn infeasible_names_the_lowest_p99() {
        let slo: Slo = "p99=10ms".parse().unwrap();
        let out = slo.evaluate(&[row(1, 10.0, 30.0), row(2, 19.0, 20.0), row(4, 30.0, 40.0)]);
        assert!(out.feasible.is_empty());
        assert_eq!(out.recommended, None);
        assert_eq!(out.lowest_p99_throttle, Some(2));
    }

    #[test]
    fn error_share_is_bounded_too() {
        let slo: Slo = "errors=1%".parse().unwrap();
        let mut m = row(1, 1.0, 1.0);
        m.error_share = 0.02;
        assert!(!slo.met(&m));
        m.error_share = 0.005;
        assert!(slo.met(&m));
    }

    #[test]
    fn the_error_budget_holds_without_an_errors_bound() {
        let slo: Slo = "p99=50ms".parse().unwrap();
        assert_eq!(error_budget(Some(&slo)), DEFAULT_ERROR_BUDGET);
        assert_eq!(error_budget(None), DEFAULT_ERROR_BUDGET);
        let mut shedding = row(8, 200.0, 20.0);
        shedding.error_share = 0.99;
        assert!(!slo.met(&shedding), "fast 503s never meet an SLO");
        let loose: Slo = "p99=50ms,errors=100%".parse().unwrap();
        assert!(loose.met(&shedding));
    }

    #[test]
    fn a_throttle_without_a_successful_item_meets_no_latency_bound() {
        let slo: Slo = "p99=50ms,errors=100%".parse().unwrap();
        let nothing = Measured {
            throttle: 4,
            error_share: 1.0,
            ..Measured::default()
        };
        assert!(!slo.met(&nothing));
        assert_eq!(
            slo.quote(&nothing),
            "no p99 (no successful item), 50.0 ms SLO"
        );
        let out = slo.evaluate(&[nothing]);
        assert!(out.feasible.is_empty() && out.lowest_p99_throttle.is_none());
    }
}
