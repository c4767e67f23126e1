//! One run judged against the runs before it, with `compare` itself: the earlier runs of each
//! point — those since the last step in any of its metrics, so a level already left behind
//! does not blur the one that holds — are pooled into one baseline and compared with the judged
//! run (repetitions, bootstrap, noise threshold, machine drift, the error rate as counts, and
//! the two-run model of run-to-run variation). Where five or more earlier runs remain, each
//! timing metric is tested again with the run-to-run variation its own history shows
//! (`run_means`).

use serde::Serialize;

use super::run_means::{self, PointVariation};
use super::series::{run_value, Series};
use super::HistoryRun;
use crate::analysis::compare::{
    self, samples, MetricComparison, MetricRunToRun, PointKey, MIN_REPETITIONS, MIN_RSS_CHANGE_MB,
};
use crate::analysis::metric::{verdict, Metric, Verdict};
use crate::error::SpecError;
use crate::results::{median, SweepResult};

/// Where a row's run-to-run variation came from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "from")]
pub enum Variation {
    /// The scatter of this point's earlier runs.
    History(PointVariation),
    /// `compare`'s two-run model (see the judgement's `run_to_run`).
    TwoRunModel,
}

/// One metric at one point of the judged run, against its history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryRow {
    /// The test, as `compare` reports it (baseline = the earlier runs pooled).
    #[serde(flatten)]
    pub comparison: MetricComparison,
    /// The earlier runs it was judged against (1-based, inclusive).
    pub first_run: usize,
    pub last_run: usize,
    /// The median of those runs' values, and the judged run's value (medians of repetitions).
    pub history_median: Option<f64>,
    pub run_value: Option<f64>,
    pub variation: Option<Variation>,
}

/// A run against the runs before it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    /// The judged run (1-based).
    pub run: usize,
    pub rows: Vec<HistoryRow>,
    /// Points the history has and this run lacks, and the reverse.
    pub missing_in_run: Vec<PointKey>,
    pub new_in_run: Vec<PointKey>,
    /// False when some point had fewer than `MIN_REPETITIONS` repetitions.
    pub tested: bool,
    /// The two-run model's estimate, per timing metric.
    pub run_to_run: Vec<MetricRunToRun>,
    pub notes: Vec<String>,
}

impl Judgement {
    pub fn count(&self, verdict: Verdict) -> usize {
        self.rows
            .iter()
            .filter(|r| r.comparison.verdict == verdict)
            .count()
    }

    /// "2 regressions, 1 improvement", or "no change beyond noise".
    pub fn verdicts(&self) -> String {
        let plural = |n: usize, one: &str| format!("{n} {one}{}", if n == 1 { "" } else { "s" });
        let parts: Vec<String> = [
            (self.count(Verdict::Regressed), "regression"),
            (self.count(Verdict::Improved), "improvement"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, word)| plural(n, word))
        .collect();
        if parts.is_empty() {
            "no change beyond noise".into()
        } else {
            parts.join(", ")
        }
    }
}

/// The first earlier run (0-based) that each point is judged against: the start of the level
/// its metrics hold before run `judged`.
fn window_start(series: &[Series], key: PointKey, judged: usize, threshold: f64) -> usize {
    series
        .iter()
        .filter(|s| s.key() == key)
        .flat_map(|s| super::series::steps(s, judged, threshold))
        .map(|step| step.run - 1)
        .max()
        .unwrap_or(0)
}

/// The earlier runs' points pooled into one baseline sweep, each point from its own window,
/// with their noise probes in step when every run has them in step.
fn pooled(
    runs: &[HistoryRun],
    judged: usize,
    starts: &[(PointKey, usize)],
) -> (SweepResult, Vec<crate::analysis::noise::NoiseSample>) {
    let mut sweep = runs[judged - 1].stored.sweep.clone();
    sweep.points.clear();
    sweep.interrupted = false;
    let mut noise = Vec::new();
    let mut aligned = true;
    for (key, start) in starts {
        for run in &runs[*start..judged] {
            let stored = &run.stored;
            aligned &= stored.noise.len() == stored.sweep.points.len();
            for (i, p) in stored.sweep.points.iter().enumerate() {
                if p.backend == key.backend && p.throttle == key.throttle {
                    sweep.points.push(p.clone());
                    if let Some(sample) = stored.noise.get(i) {
                        noise.push(*sample);
                    }
                }
            }
        }
    }
    if !aligned {
        noise.clear();
    }
    (sweep, noise)
}

/// Judges run `judged` (0-based, at least 1) against the runs before it.
pub fn judge(
    runs: &[HistoryRun],
    series: &[Series],
    keys: &[PointKey],
    judged: usize,
    options: &compare::Options,
) -> Result<Judgement, SpecError> {
    let threshold = options.threshold;
    let starts: Vec<(PointKey, usize)> = keys
        .iter()
        .map(|k| (*k, window_start(series, *k, judged, threshold)))
        .collect();
    let (base, base_noise) = pooled(runs, judged, &starts);
    let current = &runs[judged].stored;
    let compare_options = compare::Options {
        base_noise,
        current_noise: current.noise.clone(),
        ..options.clone()
    };
    let comparison = compare::compare(&base, &current.sweep, &compare_options)?;
    let start_of = |key: PointKey| {
        starts
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(0, |(_, s)| *s)
    };
    let mut rows: Vec<HistoryRow> = comparison
        .rows
        .into_iter()
        .map(|row| {
            let key = PointKey {
                backend: row.backend,
                throttle: row.throttle,
            };
            let start = start_of(key);
            let earlier: Vec<&SweepResult> = runs[start..judged]
                .iter()
                .map(|r| &r.stored.sweep)
                .collect();
            let mut values: Vec<f64> = earlier
                .iter()
                .filter_map(|s| run_value(s, key, row.metric))
                .collect();
            let mut history_row = HistoryRow {
                first_run: start + 1,
                last_run: judged,
                history_median: median(&mut values),
                run_value: run_value(&current.sweep, key, row.metric),
                variation: row.run_to_run_pct.map(|_| Variation::TwoRunModel),
                comparison: row,
            };
            retest(&mut history_row, &earlier, &current.sweep, threshold);
            history_row
        })
        .collect();
    demote_improvements_where_errors_rose(&mut rows);
    Ok(Judgement {
        run: judged + 1,
        rows,
        missing_in_run: comparison.missing_in_current,
        new_in_run: comparison.missing_in_baseline,
        tested: comparison.tested,
        run_to_run: comparison.run_to_run,
        notes: comparison.notes,
    })
}

/// Tests a timing row again with the run-to-run variation of its own history, where that
/// history is long enough; leaves it as `compare` judged it otherwise.
fn retest(row: &mut HistoryRow, earlier: &[&SweepResult], current: &SweepResult, threshold: f64) {
    let r = &mut row.comparison;
    if r.run_to_run_pct.is_none() || r.current_repetitions < MIN_REPETITIONS {
        return;
    }
    let key = PointKey {
        backend: r.backend,
        throttle: r.throttle,
    };
    let history: Vec<Vec<f64>> = earlier.iter().map(|s| samples(s, key, r.metric)).collect();
    let latest = samples(current, key, r.metric);
    let Some((stats, variation)) = run_means::test(&history, &latest) else {
        return;
    };
    let level = run_means_level(&history);
    r.baseline_mean = level;
    r.current_mean = crate::analysis::bootstrap::mean(&latest);
    r.change_pct = stats.change * 100.0;
    r.ci_low_pct = Some(stats.ci_low * 100.0);
    r.ci_high_pct = Some(stats.ci_high * 100.0);
    r.p_value = Some(stats.p_value);
    r.run_to_run_pct = Some(variation.cv * 100.0);
    let allowance = (
        r.machine_allowance_pct / 100.0,
        r.machine_allowance_improved_pct / 100.0,
    );
    r.verdict = match verdict(r.metric, &stats, true, threshold, allowance) {
        Verdict::Regressed | Verdict::Improved
            if r.metric == Metric::PeakRss
                && (r.current_mean - r.baseline_mean).abs() < MIN_RSS_CHANGE_MB =>
        {
            Verdict::WithinNoise
        }
        v => v,
    };
    row.variation = Some(Variation::History(variation));
}

/// The history's level: the mean of its runs' means (each run weighs the same).
fn run_means_level(history: &[Vec<f64>]) -> f64 {
    let means: Vec<f64> = history
        .iter()
        .filter(|r| !r.is_empty())
        .map(|r| crate::analysis::bootstrap::mean(r))
        .collect();
    crate::analysis::bootstrap::mean(&means)
}

/// As in `compare`: at a point whose error rate rose, nothing counts as an improvement.
fn demote_improvements_where_errors_rose(rows: &mut [HistoryRow]) {
    let rose: Vec<(crate::backend::BackendKind, usize)> = rows
        .iter()
        .map(|r| &r.comparison)
        .filter(|r| r.metric == Metric::ErrorRate && r.current_mean > r.baseline_mean)
        .map(|r| (r.backend, r.throttle))
        .collect();
    for row in rows.iter_mut() {
        let r = &mut row.comparison;
        if r.verdict == Verdict::Improved
            && r.metric != Metric::ErrorRate
            && rose.contains(&(r.backend, r.throttle))
        {
            r.verdict = Verdict::WithinNoise;
        }
    }
}
