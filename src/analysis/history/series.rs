//! One metric at one point across the runs of a history: each run's value (the median of its
//! repetitions; the error rate from its counts), and the sustained steps in it. A step is a
//! change point that Pettitt's test finds (`change_point`) and that `compare`'s rule confirms on
//! the runs either side of it — Welch's test over the runs' values (runs are the replicates, so
//! their scatter already holds the run-to-run variation), significant at 0.05 with the whole
//! 95 % interval beyond the noise threshold. The error rate needs only significance, as in
//! `compare`: a failed item is never work.

use serde::Serialize;

use crate::analysis::bootstrap::TwoSample;
use crate::analysis::change_point;
use crate::analysis::compare::{samples, PointKey, MIN_ITEMS_FOR_P99, MIN_RSS_CHANGE_MB};
use crate::analysis::metric::{verdict, Metric, Verdict};
use crate::analysis::run_to_run::WithinRun;
use crate::analysis::student::{quantile, two_sided_t, Welch};
use crate::results::{median, SweepResult};

/// Where a level changed for good.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    /// The run (1-based) where the new level began.
    pub run: usize,
    /// The median of the runs' values before and from that run (within the segment it was
    /// found in).
    pub before: f64,
    pub after: f64,
    /// Change of the mean, percent (percentage points for the error rate), and its 95 %
    /// interval.
    pub change_pct: f64,
    pub ci_low_pct: f64,
    pub ci_high_pct: f64,
    /// Welch's p over the runs either side.
    pub p_value: f64,
    /// Pettitt's permutation p for the change point.
    pub change_point_p: f64,
    pub verdict: Verdict,
}

/// A metric's values at a point across the runs, with its steps.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub backend: crate::backend::BackendKind,
    pub throttle: usize,
    pub metric: Metric,
    pub unit: &'static str,
    /// One value per run, in history order; `None` where the run did not measure it.
    pub values: Vec<Option<f64>>,
    /// False where steps are not looked for: p99 over fewer than `MIN_ITEMS_FOR_P99` items.
    pub judged: bool,
    pub steps: Vec<Step>,
}

impl Series {
    pub fn key(&self) -> PointKey {
        PointKey {
            backend: self.backend,
            throttle: self.throttle,
        }
    }
}

/// A run's value of `metric` at `key`: the median of its repetitions, or for the error rate
/// the failed share of every item the repetitions ended.
pub fn run_value(sweep: &SweepResult, key: PointKey, metric: Metric) -> Option<f64> {
    if metric == Metric::ErrorRate {
        let (bad, all) = sweep
            .points
            .iter()
            .filter(|p| p.backend == key.backend && p.throttle == key.throttle)
            .fold((0u64, 0u64), |(bad, all), p| {
                (bad + p.failed + p.timed_out, all + p.items)
            });
        return (all > 0).then(|| bad as f64 / all as f64 * 100.0);
    }
    median(&mut samples(sweep, key, metric))
}

/// Whether a run measured enough successful items at `key` for its p99 to mean something.
fn enough_for_p99(sweep: &SweepResult, key: PointKey) -> bool {
    sweep
        .points
        .iter()
        .filter(|p| p.backend == key.backend && p.throttle == key.throttle)
        .all(|p| p.ok >= MIN_ITEMS_FOR_P99)
}

/// The series of `metric` at `key` over `runs` (steps not yet searched).
pub fn of(runs: &[&SweepResult], key: PointKey, metric: Metric) -> Series {
    let values: Vec<Option<f64>> = runs.iter().map(|s| run_value(s, key, metric)).collect();
    let judged = match metric {
        Metric::LatencyP99 => runs.iter().all(|s| enough_for_p99(s, key)),
        // Nothing to find in a series that never failed.
        Metric::ErrorRate => values.iter().flatten().any(|v| *v > 0.0),
        _ => true,
    };
    Series {
        backend: key.backend,
        throttle: key.throttle,
        metric,
        unit: metric.unit(),
        values,
        judged,
        steps: Vec::new(),
    }
}

/// The steps among the first `runs` values of a series.
pub fn steps(series: &Series, runs: usize, threshold: f64) -> Vec<Step> {
    if !series.judged {
        return Vec::new();
    }
    // Runs that did not measure the point are left out; steps are placed by run number.
    let present: Vec<(usize, f64)> = series.values[..runs]
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.map(|v| (i, v)))
        .collect();
    let values: Vec<f64> = present.iter().map(|(_, v)| *v).collect();
    let metric = series.metric;
    let confirm = |before: &[f64], after: &[f64]| confirm(metric, threshold, before, after);
    change_point::steps(&values, &confirm)
        .into_iter()
        .map(|found| {
            let (stats, verdict, before, after) = found.confirmed;
            Step {
                run: present[found.at].0 + 1,
                before,
                after,
                change_pct: stats.change * 100.0,
                ci_low_pct: stats.ci_low * 100.0,
                ci_high_pct: stats.ci_high * 100.0,
                p_value: stats.p_value,
                change_point_p: found.p_value,
                verdict,
            }
        })
        .collect()
}

type Confirmed = (TwoSample, Verdict, f64, f64);

/// `compare`'s rule on the runs either side of a change point; `None` when it is no change.
fn confirm(metric: Metric, threshold: f64, before: &[f64], after: &[f64]) -> Option<Confirmed> {
    let level = |xs: &[f64]| median(&mut xs.to_vec()).unwrap_or(f64::NAN);
    let (b, a) = (level(before), level(after));
    if metric == Metric::ErrorRate {
        // In percentage points: a relative change from 0 % means nothing. Stored as a fraction
        // of 100 so that `change_pct` reads in points.
        let w = Welch::of(before, after)?;
        let p = w.p();
        if p >= crate::analysis::compare::SIGNIFICANCE || w.diff == 0.0 {
            return None;
        }
        let half = if w.se > 0.0 {
            quantile(0.975, w.df) * w.se
        } else {
            0.0
        };
        let stats = TwoSample {
            change: w.diff / 100.0,
            ci_low: (w.diff - half) / 100.0,
            ci_high: (w.diff + half) / 100.0,
            p_value: p,
        };
        let v = if w.diff > 0.0 {
            Verdict::Regressed
        } else {
            Verdict::Improved
        };
        return Some((stats, v, b, a));
    }
    let within = WithinRun::of(before, after)?;
    let se = within.variance.sqrt();
    let p_value = if se > 0.0 {
        two_sided_t(within.change / se, within.df)
    } else if within.change == 0.0 {
        1.0
    } else {
        0.0
    };
    let half = if se > 0.0 {
        quantile(0.975, within.df) * se
    } else {
        0.0
    };
    let stats = TwoSample {
        change: within.change,
        ci_low: within.change - half,
        ci_high: within.change + half,
        p_value,
    };
    if metric == Metric::PeakRss && (a - b).abs() < MIN_RSS_CHANGE_MB {
        return None;
    }
    match verdict(metric, &stats, true, threshold, (0.0, 0.0)) {
        v @ (Verdict::Regressed | Verdict::Improved) => Some((stats, v, b, a)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::BackendKind;

    fn series(metric: Metric, values: &[f64]) -> Series {
        Series {
            backend: BackendKind::Thread,
            throttle: 4,
            metric,
            unit: metric.unit(),
            values: values.iter().map(|v| Some(*v)).collect(),
            judged: true,
            steps: Vec::new(),
        }
    }

    const STEP: [f64; 12] = [
        200.0, 201.0, 199.5, 200.4, 199.8, 200.2, 180.1, 179.6, 180.4, 179.9, 180.2, 180.0,
    ];

    #[test]
    fn a_sustained_drop_in_goodput_is_a_regression_where_it_began() {
        let s = series(Metric::Goodput, &STEP);
        let found = steps(&s, STEP.len(), 0.02);
        assert_eq!(found.len(), 1, "{found:?}");
        let step = &found[0];
        assert_eq!(step.run, 7);
        assert_eq!(step.verdict, Verdict::Regressed);
        assert!((step.change_pct + 10.0).abs() < 0.3, "{step:?}");
        assert!(step.ci_high_pct < -2.0 && step.change_point_p < 0.05);
        // The same drop in latency is an improvement.
        let p50 = steps(&series(Metric::LatencyP50, &STEP), STEP.len(), 0.02);
        assert_eq!(p50[0].verdict, Verdict::Improved);
    }

    #[test]
    fn a_step_within_the_threshold_is_not_reported() {
        let small: Vec<f64> = STEP
            .iter()
            .enumerate()
            .map(|(i, v)| if i < 6 { *v } else { *v / 180.0 * 197.0 })
            .collect();
        assert!(steps(&series(Metric::Goodput, &small), 12, 0.02).is_empty());
        // With the step only in its last two runs, a prefix of ten sees none.
        assert!(steps(&series(Metric::Goodput, &STEP), 6, 0.02).is_empty());
    }

    /// Level series of 20 runs whose values scatter by 5 % (far beyond the 2 % threshold): a
    /// step is reported in about 5 % of them at most, the test's level, though the split is
    /// picked where the two sides differ most.
    #[test]
    fn noisy_level_series_rarely_show_a_step() {
        use rand::{rngs::StdRng, Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(18);
        let trials = 200;
        let false_steps = (0..trials)
            .filter(|_| {
                let values: Vec<f64> = (0..20)
                    .map(|_| 100.0 * (1.0 + 0.05 * (rng.random::<f64>() - 0.5) * 3.46))
                    .collect();
                !steps(&series(Metric::Goodput, &values), 20, 0.02).is_empty()
            })
            .count();
        assert!(false_steps <= trials / 10, "{false_steps} of {trials}");
    }

    #[test]
    fn error_rate_steps_are_in_points_and_any_significant_rise_counts() {
        let mut values = vec![0.0; 6];
        values.extend([1.0, 1.2, 0.9, 1.1, 1.0, 1.1]);
        let found = steps(&series(Metric::ErrorRate, &values), 12, 0.02);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].verdict, Verdict::Regressed);
        assert!((found[0].change_pct - 1.05).abs() < 0.01, "{:?}", found[0]);
    }
}
