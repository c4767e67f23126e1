//! Run-to-run variation: what moves a point's mean between two runs of the same code, beyond the
//! scatter of the repetitions inside each run. Repetitions of one run share its process, its
//! memory layout and the machine's state of the moment, so their spread understates how far a
//! second run lands: in identical runs on a quiet machine, 12–50 % of points differ "significantly"
//! by Welch's test alone. A fixed noise threshold hid that; here it is modelled.
//!
//! Each point's change between the runs is (true change) + (run-to-run effect of that point) +
//! (repetition noise). A real slowdown of the code moves every point the same way; run-to-run
//! effects scatter the points' changes around their common value. So the scatter of the
//! changes across points around their median, minus what the repetitions already explain,
//! estimates the run-to-run variance — from the two runs themselves, without a history. The
//! scatter is the plain standard deviation, not a robust one: between identical runs, a
//! backend's points can move as a block (async at throttles above the core count, cpu items:
//! −14 % at two points while five stayed put), and with two runs nothing tells that block from
//! a regression of those points alone — a robust scale would call it one, and raise a false
//! alarm in one identical pair in ten. A regression of every point is still caught, since it
//! moves the median, not the scatter; a history (`history`) tells a block from a regression by
//! the earlier runs. The estimate is never taken below `FLOOR`, and with too few points to
//! estimate it, `WITHOUT_ESTIMATE` (the largest measured, computing items) is assumed. Each
//! point's test then adds it to the repetitions' variance.

use super::bootstrap::TwoSample;
use super::student::{quantile, two_sided_t};

/// Never assume runs closer than this (0.5 %): the largest run-to-run variation measured for
/// sleeping items on a quiet machine, whose repetitions hardly scatter at all.
pub const FLOOR: f64 = 0.005;
/// Assumed when there are too few points to estimate it (2 %): the largest measured for
/// computing items on a quiet machine (BENCHMARKS.md, "The CI gate").
pub const WITHOUT_ESTIMATE: f64 = 0.02;
/// Fewest points of a metric for the scatter across points to estimate anything.
pub const MIN_POINTS: usize = 5;

/// One point's comparison as the repetitions alone see it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WithinRun {
    /// Relative change of the mean (current / base − 1).
    pub change: f64,
    /// Variance of that change from the repetitions (delta method) and its Welch degrees of
    /// freedom.
    pub variance: f64,
    pub df: f64,
}

impl WithinRun {
    /// `None` with fewer than two repetitions on a side or a base mean that is not positive.
    pub fn of(base: &[f64], current: &[f64]) -> Option<WithinRun> {
        if base.len() < 2 || current.len() < 2 {
            return None;
        }
        let (mb, vb) = mean_var(base);
        let (mc, vc) = mean_var(current);
        if mb <= 0.0 || mc <= 0.0 {
            return None;
        }
        // Relative variances of each side's mean; the ratio's relative variance is their sum.
        let (rb, rc) = (
            vb / base.len() as f64 / (mb * mb),
            vc / current.len() as f64 / (mc * mc),
        );
        let ratio = mc / mb;
        let sum = rb + rc;
        let df = if sum > 0.0 {
            sum * sum / (rb * rb / (base.len() - 1) as f64 + rc * rc / (current.len() - 1) as f64)
        } else {
            f64::INFINITY
        };
        Some(WithinRun {
            change: ratio - 1.0,
            variance: ratio * ratio * sum,
            df,
        })
    }
}

fn mean_var(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    (
        mean,
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0),
    )
}

/// Where the run-to-run variation of a metric came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The scatter of the points' changes exceeded what their repetitions explain.
    Estimated,
    /// The estimate fell below the floor (the points moved together as tightly as their
    /// repetitions predict).
    Floor,
    /// Too few points to estimate: the assumed value.
    Assumed,
}

/// The run-to-run variation of one metric between two runs: a coefficient of variation of one
/// run's mean, with the degrees of freedom of its estimate.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RunToRun {
    /// As a fraction of the mean (0.01 = 1 %).
    pub cv: f64,
    /// Points whose scatter estimated it (infinite degrees of freedom where it is assumed).
    pub points: usize,
    pub source: Source,
}

impl RunToRun {
    /// Estimates it from every point's within-run comparison of one metric.
    pub fn estimate(points: &[WithinRun]) -> RunToRun {
        if points.len() < MIN_POINTS {
            return RunToRun {
                cv: WITHOUT_ESTIMATE,
                points: points.len(),
                source: Source::Assumed,
            };
        }
        let mut changes: Vec<f64> = points.iter().map(|p| p.change).collect();
        let centre = median(&mut changes);
        let squares: f64 = changes.iter().map(|c| (c - centre).powi(2)).sum();
        let scatter = (squares / (changes.len() - 1) as f64).sqrt();
        let repetitions = points.iter().map(|p| p.variance).sum::<f64>() / points.len() as f64;
        // Each change carries both runs' effects: twice one run's variance.
        let per_run = ((scatter * scatter - repetitions) / 2.0).max(0.0).sqrt();
        if per_run > FLOOR {
            RunToRun {
                cv: per_run,
                points: points.len(),
                source: Source::Estimated,
            }
        } else {
            RunToRun {
                cv: FLOOR,
                points: points.len(),
                source: Source::Floor,
            }
        }
    }

    /// Degrees of freedom of the variance: an estimate from k points has k − 1; an assumed or
    /// floor value is taken as known.
    fn df(&self) -> f64 {
        match self.source {
            Source::Estimated => (self.points - 1) as f64,
            Source::Floor | Source::Assumed => f64::INFINITY,
        }
    }

    /// The comparison with both runs' run-to-run variance added to the repetitions': Welch's t
    /// at the Welch–Satterthwaite degrees of freedom of the two parts, and its 95 % interval,
    /// as wide as Student's and as lopsided as the bootstrap's.
    pub fn widen(&self, bootstrap: &TwoSample, within: &WithinRun) -> TwoSample {
        let ratio = 1.0 + within.change;
        let between = 2.0 * (self.cv * ratio).powi(2);
        let total = within.variance + between;
        let df = satterthwaite(&[(within.variance, within.df), (between, self.df())]);
        let se = total.sqrt();
        let p_value = if se > 0.0 {
            two_sided_t(within.change / se, df)
        } else if within.change == 0.0 {
            1.0
        } else {
            0.0
        };
        // The interval is Student's for the total variance (so it excludes 0 exactly when p <
        // 0.05), shaped by the bootstrap's asymmetry: a ratio's interval leans upward.
        let half = quantile(0.975, df) * se;
        let (below, above) = (
            bootstrap.change - bootstrap.ci_low,
            bootstrap.ci_high - bootstrap.change,
        );
        let mean_half = 0.5 * (below + above);
        let (ci_low, ci_high) = if mean_half > 0.0 {
            let scale = half / mean_half;
            (
                bootstrap.change - below * scale,
                bootstrap.change + above * scale,
            )
        } else {
            (bootstrap.change - half, bootstrap.change + half)
        };
        TwoSample {
            change: bootstrap.change,
            ci_low,
            ci_high,
            p_value,
        }
    }
}

/// Degrees of freedom beyond which Student's t is the normal distribution for our purpose (its
/// 97.5 % quantile is 1.962 there, against 1.960), and where its series still converges fast.
const MAX_DF: f64 = 1000.0;

/// Welch–Satterthwaite degrees of freedom of a sum of variances, each with its own (at most
/// `MAX_DF`).
fn satterthwaite(parts: &[(f64, f64)]) -> f64 {
    let total: f64 = parts.iter().map(|(v, _)| v).sum();
    let denominator: f64 = parts
        .iter()
        .filter(|(v, df)| *v > 0.0 && df.is_finite())
        .map(|(v, df)| v * v / df)
        .sum();
    if denominator > 0.0 {
        (total * total / denominator).min(MAX_DF)
    } else {
        MAX_DF
    }
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        0.5 * (xs[n / 2 - 1] + xs[n / 2])
    }
}

#[cfg(test)]
#[path = "run_to_run_tests.rs"]
mod tests;
