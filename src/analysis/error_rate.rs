//! The error rate of a point, compared as what it is: counts of failed items among items ended.
//! A relative change means nothing from 0 % (the usual baseline), so the change is in percentage
//! points, tested with the two-proportion z-test over every repetition's items, and its 95 %
//! interval is the normal (Wald) interval of the difference. A significant rise is a regression
//! whatever its size: a failed item is never work.

use super::compare::{MetricComparison, PointKey, SIGNIFICANCE};
use super::metric::{Metric, Verdict};
use crate::results::SweepResult;

/// Failed (and timed-out) items and all items ended, over a point's repetitions.
fn counts(sweep: &SweepResult, key: PointKey) -> (u64, u64, usize) {
    sweep
        .points
        .iter()
        .filter(|p| p.backend == key.backend && p.throttle == key.throttle)
        .fold((0, 0, 0), |(bad, all, reps), p| {
            (bad + p.failed + p.timed_out, all + p.items, reps + 1)
        })
}

/// What the test says about the error rate at one point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErrorRateChange {
    pub baseline_pct: f64,
    pub current_pct: f64,
    /// Current − baseline, percentage points, and its 95 % interval.
    pub change_pp: f64,
    pub ci_low_pp: f64,
    pub ci_high_pp: f64,
    pub p_value: f64,
    pub baseline_repetitions: usize,
    pub current_repetitions: usize,
    pub verdict: Verdict,
}

/// Compares the error rate of `key` in two runs; `None` when either side ended no item, or
/// when no item failed on either side (nothing to say, and no row to read past).
pub fn compare(
    base: &SweepResult,
    current: &SweepResult,
    key: PointKey,
) -> Option<ErrorRateChange> {
    let (b_bad, b_all, b_reps) = counts(base, key);
    let (c_bad, c_all, c_reps) = counts(current, key);
    if b_all == 0 || c_all == 0 || b_bad + c_bad == 0 {
        return None;
    }
    let (n1, n2) = (b_all as f64, c_all as f64);
    let (p1, p2) = (b_bad as f64 / n1, c_bad as f64 / n2);
    let diff = p2 - p1;
    let pooled = (b_bad + c_bad) as f64 / (n1 + n2);
    let se_pooled = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    let p_value = if se_pooled > 0.0 {
        2.0 * normal_upper_tail((diff / se_pooled).abs())
    } else {
        // Both sides all-failed or all-succeeded: equal rates, or (0 % vs 100 %) certain.
        if diff == 0.0 {
            1.0
        } else {
            0.0
        }
    };
    let se = (p1 * (1.0 - p1) / n1 + p2 * (1.0 - p2) / n2).sqrt();
    let verdict = if p_value >= SIGNIFICANCE {
        if diff == 0.0 {
            Verdict::Unchanged
        } else {
            Verdict::WithinNoise
        }
    } else if diff > 0.0 {
        Verdict::Regressed
    } else {
        Verdict::Improved
    };
    Some(ErrorRateChange {
        baseline_pct: p1 * 100.0,
        current_pct: p2 * 100.0,
        change_pp: diff * 100.0,
        ci_low_pp: (diff - 1.96 * se) * 100.0,
        ci_high_pp: (diff + 1.96 * se) * 100.0,
        p_value,
        baseline_repetitions: b_reps,
        current_repetitions: c_reps,
        verdict,
    })
}

/// The error rate's row: counts, not repetition means, decide it (see `error_rate`).
pub fn row(base: &SweepResult, current: &SweepResult, key: PointKey) -> Option<MetricComparison> {
    let c = compare(base, current, key)?;
    Some(MetricComparison {
        backend: key.backend,
        throttle: key.throttle,
        metric: Metric::ErrorRate,
        unit: Metric::ErrorRate.unit(),
        baseline_repetitions: c.baseline_repetitions,
        current_repetitions: c.current_repetitions,
        baseline_mean: c.baseline_pct,
        current_mean: c.current_pct,
        change_pct: c.change_pp,
        ci_low_pct: Some(c.ci_low_pp),
        ci_high_pct: Some(c.ci_high_pp),
        p_value: Some(c.p_value),
        run_to_run_pct: None,
        machine_allowance_pct: 0.0,
        machine_allowance_improved_pct: 0.0,
        verdict: c.verdict,
    })
}

/// P(Z > z) for a standard normal Z, from erfc (Numerical Recipes' erfcc, |error| < 1.2e-7).
fn normal_upper_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fixture;
    use crate::backend::BackendKind;

    fn with_failures(reps: u32, failed: u64) -> SweepResult {
        let mut s = fixture::sweep(20.0, reps);
        for p in &mut s.points {
            p.failed = failed;
            p.ok = p.items - failed;
        }
        s
    }

    const KEY: PointKey = PointKey {
        backend: BackendKind::Thread,
        throttle: 4,
    };

    /// Reference: scipy 1.17, `chi2_contingency([[3000, 0], [2985, 15]], correction=False)`
    /// gives χ² = 15.0376, p = 0.00010539 (the two-proportion z-test's z² is that χ²), as R's
    /// `prop.test(c(0, 15), c(3000, 3000), correct = FALSE)`.
    #[test]
    fn agrees_with_r_prop_test() {
        let c = compare(&with_failures(3, 0), &with_failures(3, 5), KEY).unwrap();
        assert!((c.p_value - 0.000_105_4).abs() < 2e-6, "{c:?}");
        assert!((c.change_pp - 0.5).abs() < 1e-9);
        assert_eq!(c.verdict, Verdict::Regressed);
    }

    #[test]
    fn all_failing_against_none_failing_is_a_certain_regression() {
        let c = compare(&with_failures(3, 0), &with_failures(3, 1000), KEY).unwrap();
        assert_eq!((c.p_value, c.verdict), (0.0, Verdict::Regressed));
        assert_eq!((c.baseline_pct, c.current_pct), (0.0, 100.0));
        let back = compare(&with_failures(3, 1000), &with_failures(3, 0), KEY).unwrap();
        assert_eq!(back.verdict, Verdict::Improved);
        assert!(compare(&with_failures(3, 0), &with_failures(3, 0), KEY).is_none());
    }

    #[test]
    fn one_stray_failure_is_not_a_regression() {
        let c = compare(&with_failures(1, 0), &with_failures(1, 1), KEY).unwrap();
        assert!(c.p_value > 0.05, "{c:?}");
        assert_eq!(c.verdict, Verdict::WithinNoise);
        let same = compare(&with_failures(3, 2), &with_failures(3, 2), KEY).unwrap();
        assert_eq!(same.verdict, Verdict::Unchanged);
    }

    #[test]
    fn erfc_matches_known_values() {
        assert!((normal_upper_tail(1.959_964) - 0.025).abs() < 1e-6);
        assert!((normal_upper_tail(0.0) - 0.5).abs() < 1e-7);
        assert!((erfc(-1.0) - 1.842_700_79).abs() < 1e-6);
    }
}
