//! A run judged against the runs before it when there are enough of them to see run-to-run
//! variation directly. Each earlier run's mean at a point is (level) + (that run's effect) +
//! (its repetitions' noise), so the scatter of those means, less what their repetitions
//! explain, estimates one run's variation at this very point — no model of how points move
//! together is needed (`run_to_run` estimates it from two runs alone, across points). The
//! history's level is the mean of its runs' means; the judged run carries its own repetitions'
//! noise and one run's effect. The test is `RunToRun::widen`'s (Welch's t at the
//! Welch–Satterthwaite degrees of freedom, Student's interval shaped by the bootstrap), fed
//! these variances.

use serde::Serialize;

use crate::analysis::bootstrap::{self, TwoSample};
use crate::analysis::run_to_run::{RunToRun, Source, WithinRun, FLOOR};

/// Fewest earlier runs for their scatter to estimate the run-to-run variation (4 degrees of
/// freedom); with fewer, the two-run model is used.
pub const MIN_RUNS: usize = 5;

/// One earlier run at one point: its repetitions' values of a metric.
pub type RunSamples = Vec<f64>;

/// The run-to-run variation of one point as its history shows it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PointVariation {
    /// One run's variation, as a fraction of the level (0.01 = 1 %).
    pub cv: f64,
    /// Earlier runs it was estimated from.
    pub runs: usize,
    /// True when the estimate fell below `FLOOR` and the floor was used.
    pub floor: bool,
}

fn mean_var(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 {
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var)
}

/// Welch–Satterthwaite degrees of freedom of a sum of variances (infinite where nothing is
/// estimated).
fn satterthwaite(parts: &[(f64, f64)]) -> f64 {
    let total: f64 = parts.iter().map(|(v, _)| v).sum();
    let denominator: f64 = parts
        .iter()
        .filter(|(v, df)| *v > 0.0 && df.is_finite() && *df > 0.0)
        .map(|(v, df)| v * v / df)
        .sum();
    if denominator > 0.0 {
        total * total / denominator
    } else {
        f64::INFINITY
    }
}

/// Tests `latest` (the judged run's repetitions) against `history` (each earlier run's
/// repetitions); `None` with fewer than `MIN_RUNS` earlier runs, fewer than two repetitions in
/// the judged run, or a level that is not positive.
pub fn test(history: &[RunSamples], latest: &[f64]) -> Option<(TwoSample, PointVariation)> {
    let runs: Vec<&RunSamples> = history.iter().filter(|r| !r.is_empty()).collect();
    let k = runs.len();
    if k < MIN_RUNS || latest.len() < 2 {
        return None;
    }
    let means: Vec<f64> = runs.iter().map(|r| mean_var(r).0).collect();
    // The variance of each earlier run's mean that its own repetitions explain.
    let within: Vec<f64> = runs
        .iter()
        .map(|r| mean_var(r).1 / r.len() as f64)
        .collect();
    let within_df: f64 = runs.iter().map(|r| r.len() as f64 - 1.0).sum();
    let (level, scatter) = mean_var(&means);
    let (current, current_var) = mean_var(latest);
    if level <= 0.0 || current <= 0.0 {
        return None;
    }
    let explained = within.iter().sum::<f64>() / k as f64;
    let floor = (FLOOR * level).powi(2);
    let estimated = scatter - explained;
    let (between, floored) = if estimated > floor {
        (estimated, false)
    } else {
        (floor, true)
    };
    let ratio = current / level;
    let k = k as f64;
    // Relative variances (of the change current/level − 1, delta method): the repetitions'
    // share on both sides, and the run effects' — the history's level averages k of them.
    let history_reps = ratio * ratio * explained / k / (level * level);
    let current_reps = ratio * ratio * current_var / latest.len() as f64 / (current * current);
    let run_effects =
        ratio * ratio * between * (1.0 / (k * level * level) + 1.0 / (current * current));
    let within = WithinRun {
        change: ratio - 1.0,
        variance: history_reps + current_reps,
        df: satterthwaite(&[
            (history_reps, within_df),
            (current_reps, latest.len() as f64 - 1.0),
        ]),
    };
    // `widen` adds 2·(cv·ratio)² for two runs' effects at the estimate's degrees of freedom:
    // hand it the cv whose two shares make up `run_effects`, estimated from k runs.
    let effects = RunToRun {
        cv: (run_effects / (2.0 * ratio * ratio)).sqrt(),
        points: k as usize,
        source: if floored {
            Source::Floor
        } else {
            Source::Estimated
        },
    };
    let shape = bootstrap::compare(&means, latest)?;
    Some((
        effects.widen(&shape, &within),
        PointVariation {
            cv: between.sqrt() / level,
            runs: k as usize,
            floor: floored,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs whose means scatter by `cv` around `level`, each with three repetitions ±0.1 %.
    fn runs(level: f64, offsets: &[f64]) -> Vec<RunSamples> {
        offsets
            .iter()
            .map(|o| {
                let m = level * (1.0 + o);
                vec![m * 0.999, m, m * 1.001]
            })
            .collect()
    }

    const SCATTER: [f64; 8] = [0.03, -0.02, 0.01, -0.035, 0.025, -0.01, 0.0, 0.015];

    #[test]
    fn the_history_scatter_is_the_run_to_run_variation() {
        let history = runs(100.0, &SCATTER);
        let (stats, v) = test(&history, &[101.0, 101.1, 100.9]).unwrap();
        // The offsets' standard deviation is about 2.3 %; the repetitions explain almost none.
        assert!((v.cv - 0.0226).abs() < 0.002, "{v:?}");
        assert!(!v.floor);
        // A 1 % change among runs that wander by 2 % is nothing.
        assert!(stats.p_value > 0.5, "{stats:?}");
        assert!(stats.ci_low < 0.0 && stats.ci_high > 0.0, "{stats:?}");
    }

    #[test]
    fn a_step_beyond_the_scatter_is_significant() {
        let history = runs(100.0, &SCATTER);
        let (stats, _) = test(&history, &[77.0, 77.1, 76.9]).unwrap();
        assert!(stats.p_value < 0.001, "{stats:?}");
        assert!(stats.ci_high < -0.15, "{stats:?}");
    }

    #[test]
    fn quiet_histories_use_the_floor_and_few_runs_none() {
        let history = runs(20.0, &[0.0, 0.0005, -0.0005, 0.0, 0.0003]);
        let (stats, v) = test(&history, &[20.5, 20.52, 20.48]).unwrap();
        assert!(v.floor && v.cv == FLOOR, "{v:?}");
        // +2.5 % against a 0.5 % floor: clearly a change.
        assert!(stats.p_value < 0.01, "{stats:?}");
        assert!(test(&history[..4], &[20.5, 20.5]).is_none());
        assert!(test(&history, &[20.5]).is_none());
    }
}
