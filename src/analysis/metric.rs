//! What is compared and how a change is judged: the metrics of a point, and criterion's rule
//! that turns a bootstrap result into a verdict.

use serde::Serialize;

use super::bootstrap::TwoSample;
use super::compare::SIGNIFICANCE;
use crate::results::PointResult;

/// The metrics compared per point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Successful items per second.
    Goodput,
    LatencyP50,
    LatencyP99,
    PeakRss,
    /// Failed and timed-out items, percent of all items; compared as counts (see
    /// `error_rate`), its change in percentage points.
    ErrorRate,
}

impl Metric {
    pub const ALL: [Metric; 5] = [
        Metric::Goodput,
        Metric::LatencyP50,
        Metric::LatencyP99,
        Metric::PeakRss,
        Metric::ErrorRate,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Metric::Goodput => "goodput",
            Metric::LatencyP50 => "p50",
            Metric::LatencyP99 => "p99",
            Metric::PeakRss => "peak RSS",
            Metric::ErrorRate => "error rate",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Metric::Goodput => "ok/s",
            Metric::LatencyP50 | Metric::LatencyP99 => "ms",
            Metric::PeakRss => "MB",
            Metric::ErrorRate => "%",
        }
    }

    pub fn bigger_is_better(self) -> bool {
        self == Metric::Goodput
    }

    /// The metric of one repetition; `None` where it was not measured (latency when no item
    /// succeeded, error rate when no item ended).
    pub fn value(self, p: &PointResult) -> Option<f64> {
        match self {
            Metric::Goodput => Some(p.goodput_per_s),
            Metric::LatencyP50 => p.lat_p50_ms,
            Metric::LatencyP99 => p.lat_p99_ms,
            Metric::PeakRss => Some(p.peak_rss_mb),
            Metric::ErrorRate => p.error_pct,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Significantly better, by more than the threshold.
    Improved,
    /// Significantly worse, by more than the threshold.
    Regressed,
    /// No significant difference.
    Unchanged,
    /// A difference, but not clearly beyond the threshold (or untested and under it).
    WithinNoise,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Improved => "improved",
            Verdict::Regressed => "regressed",
            Verdict::Unchanged => "unchanged",
            Verdict::WithinNoise => "within noise",
        }
    }
}

/// Criterion's rule: significant, and the whole interval beyond the threshold on one side — plus,
/// on that side, what the machine's drift explains (a busier current run for a worsening, a
/// busier baseline run for an improvement). Without
/// enough repetitions for a test, the point estimate is all there is.
pub fn verdict(
    metric: Metric,
    s: &TwoSample,
    tested: bool,
    threshold: f64,
    (worse_allowance, better_allowance): (f64, f64),
) -> Verdict {
    // Oriented so that positive means worse.
    let worse = |x: f64| if metric.bigger_is_better() { -x } else { x };
    let regress_above = threshold + worse_allowance;
    let improve_above = threshold + better_allowance;
    if !tested {
        let w = worse(s.change);
        return if w > regress_above {
            Verdict::Regressed
        } else if w < -improve_above {
            Verdict::Improved
        } else {
            Verdict::WithinNoise
        };
    }
    if s.p_value >= SIGNIFICANCE {
        return Verdict::Unchanged;
    }
    let (a, b) = (worse(s.ci_low), worse(s.ci_high));
    let (lo, hi) = (a.min(b), a.max(b));
    if lo > regress_above {
        Verdict::Regressed
    } else if hi < -improve_above {
        Verdict::Improved
    } else {
        Verdict::WithinNoise
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(change: f64, lo: f64, hi: f64, p: f64) -> TwoSample {
        TwoSample {
            change,
            ci_low: lo,
            ci_high: hi,
            p_value: p,
        }
    }

    #[test]
    fn throughput_down_is_a_regression_latency_down_an_improvement() {
        let down = stats(-0.17, -0.18, -0.16, 0.001);
        assert_eq!(
            verdict(Metric::Goodput, &down, true, 0.05, (0.0, 0.0)),
            Verdict::Regressed
        );
        assert_eq!(
            verdict(Metric::LatencyP99, &down, true, 0.05, (0.0, 0.0)),
            Verdict::Improved
        );
    }

    #[test]
    fn significant_but_small_is_within_noise() {
        let small = stats(0.04, 0.02, 0.06, 0.001);
        assert_eq!(
            verdict(Metric::LatencyP50, &small, true, 0.05, (0.0, 0.0)),
            Verdict::WithinNoise
        );
        let large_but_unsure = stats(0.2, 0.01, 0.4, 0.2);
        assert_eq!(
            verdict(
                Metric::LatencyP50,
                &large_but_unsure,
                true,
                0.05,
                (0.0, 0.0)
            ),
            Verdict::Unchanged
        );
    }

    #[test]
    fn untested_verdicts_use_the_threshold_alone() {
        let s = stats(0.08, 0.08, 0.08, 1.0);
        assert_eq!(
            verdict(Metric::PeakRss, &s, false, 0.05, (0.0, 0.0)),
            Verdict::Regressed
        );
        assert_eq!(
            verdict(Metric::PeakRss, &s, false, 0.10, (0.0, 0.0)),
            Verdict::WithinNoise
        );
    }
}
