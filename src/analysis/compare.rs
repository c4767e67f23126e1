//! Baseline comparison: is the current run slower than the saved one, or only noisier? Points
//! are matched by (backend, throttle) once the two runs are proven comparable (same workload
//! kind and parameters, same budget); each metric's repetitions are compared with a bootstrap
//! test and confidence interval, and a change counts only when it is significant at 0.05 and its
//! whole interval lies beyond the noise threshold — criterion's rule for "changed".

use serde::Serialize;

use super::allowance::{allowance, capped, point_drift};
use super::bootstrap;
use super::error_rate;
pub use super::metric::{verdict, Metric, Verdict};
use super::run_to_run::{RunToRun, WithinRun};
use crate::analysis::noise::{Drift, NoiseSample};
use crate::backend::BackendKind;
use crate::error::SpecError;
use crate::results::SweepResult;

/// Significance level of the test.
pub const SIGNIFICANCE: f64 = 0.05;
/// Fewest repetitions per side for a statistical test.
pub const MIN_REPETITIONS: usize = 3;
/// Repetitions we recommend for a test with some power on a noisy machine.
pub const RECOMMENDED_REPETITIONS: usize = 5;
/// Fewest measured items per repetition for a p99 to be compared: 10 items in the slowest 1%.
/// With fewer, the "p99" is one or two items, decided by a single hiccup of the machine.
pub const MIN_ITEMS_FOR_P99: u64 = 1000;
/// Smallest change of peak RSS that can count, MB: a process of a few MB moves by a few hundred
/// KB between identical runs (allocator arenas, pages touched once), which is no leak.
pub const MIN_RSS_CHANGE_MB: f64 = 1.0;
/// Default noise threshold, as a fraction: 2 %. With run-to-run variation modelled, the power
/// study (BENCHMARKS.md, "The CI gate") saw no false alarm in identical runs at 1 % or 2 % and
/// caught every 5 % slowdown of sleeping items at both; 2 % keeps a margin for noisier machines.
/// 5 % could not catch a 5 % change at all.
pub const DEFAULT_THRESHOLD: f64 = 0.02;

/// A point present in one run only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PointKey {
    pub backend: BackendKind,
    pub throttle: usize,
}

/// One metric at one point, before and after.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricComparison {
    pub backend: BackendKind,
    pub throttle: usize,
    pub metric: Metric,
    pub unit: &'static str,
    pub baseline_repetitions: usize,
    pub current_repetitions: usize,
    /// Mean over the repetitions, in `unit`.
    pub baseline_mean: f64,
    pub current_mean: f64,
    pub change_pct: f64,
    /// 95% confidence interval of the change; absent without enough repetitions.
    pub ci_low_pct: Option<f64>,
    pub ci_high_pct: Option<f64>,
    pub p_value: Option<f64>,
    /// The run-to-run variation of one run's mean assumed in the test (percent of the mean);
    /// absent where the metric is not tested that way (peak RSS, error rate, too few
    /// repetitions).
    pub run_to_run_pct: Option<f64>,
    /// How much worse this metric may get from the machine alone (measured by the noise
    /// probe), added to the threshold before a change counts as a regression.
    pub machine_allowance_pct: f64,
    /// The same for an improvement, when the baseline run had the busier machine.
    pub machine_allowance_improved_pct: f64,
    pub verdict: Verdict,
}

/// The run-to-run variation of one metric, estimated from both runs (see `run_to_run`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricRunToRun {
    pub metric: Metric,
    #[serde(flatten)]
    pub variation: RunToRun,
}

/// Which run a side of the comparison is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunLabel {
    pub name: String,
    pub started_at: String,
    pub git_commit: Option<String>,
    pub repetitions: u32,
}

impl RunLabel {
    fn of(sweep: &SweepResult) -> RunLabel {
        RunLabel {
            name: sweep.spec.name.clone(),
            started_at: sweep.started_at.clone(),
            git_commit: sweep.environment.git_commit.clone(),
            repetitions: sweep.spec.sweep.repeat,
        }
    }
}

/// The whole comparison of a current run against a baseline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub baseline: RunLabel,
    pub current: RunLabel,
    pub threshold_pct: f64,
    pub significance: f64,
    /// False when some point had fewer than `MIN_REPETITIONS` on a side: those verdicts come
    /// from the threshold alone.
    pub tested: bool,
    pub rows: Vec<MetricComparison>,
    pub missing_in_current: Vec<PointKey>,
    pub missing_in_baseline: Vec<PointKey>,
    /// How much busier the machine was during the current run, when both runs were probed.
    pub machine_drift: Option<Drift>,
    /// The run-to-run variation used for each tested metric.
    pub run_to_run: Vec<MetricRunToRun>,
    pub notes: Vec<String>,
}

impl Comparison {
    pub fn count(&self, verdict: Verdict) -> usize {
        self.rows.iter().filter(|r| r.verdict == verdict).count()
    }

    /// "2 regressions, 1 improvement" (or "no change beyond noise").
    pub fn headline(&self) -> String {
        let plural =
            |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        let (r, i) = (
            self.count(Verdict::Regressed),
            self.count(Verdict::Improved),
        );
        let mut parts = Vec::new();
        if r > 0 {
            parts.push(plural(r, "regression", "regressions"));
        }
        if i > 0 {
            parts.push(plural(i, "improvement", "improvements"));
        }
        if parts.is_empty() {
            parts.push("No change beyond noise".to_string());
        }
        let mut text = parts.join(", ");
        let missing = self.missing_in_current.len() + self.missing_in_baseline.len();
        if missing > 0 {
            text.push_str(&format!(
                ", {}",
                plural(missing, "unmatched point", "unmatched points")
            ));
        }
        text
    }
}

/// How to compare.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Noise threshold as a fraction (0.05 = 5%).
    pub threshold: f64,
    /// Compare even when workload parameters differ (e.g. to prove a known slowdown is seen).
    pub allow_param_change: bool,
    /// Each run's machine-noise probes, one after each point in measuring order (empty when
    /// the run was not probed).
    pub base_noise: Vec<NoiseSample>,
    pub current_noise: Vec<NoiseSample>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threshold: DEFAULT_THRESHOLD,
            allow_param_change: false,
            base_noise: Vec::new(),
            current_noise: Vec::new(),
        }
    }
}

/// The (backend, throttle) pairs of a run, in the order they were first measured.
fn keys(sweep: &SweepResult) -> Vec<PointKey> {
    let mut keys: Vec<PointKey> = Vec::new();
    for p in &sweep.points {
        let key = PointKey {
            backend: p.backend,
            throttle: p.throttle,
        };
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys
}

/// The fewest successful items in any repetition of a point, on either side.
fn fewest_items(base: &SweepResult, current: &SweepResult, key: PointKey) -> u64 {
    // p99 is of successful items: the failed ones do not make it any better founded.
    base.points
        .iter()
        .chain(&current.points)
        .filter(|p| p.backend == key.backend && p.throttle == key.throttle)
        .map(|p| p.ok)
        .min()
        .unwrap_or(0)
}

/// The metric's value in each repetition of a point that measured it.
pub(crate) fn samples(sweep: &SweepResult, key: PointKey, metric: Metric) -> Vec<f64> {
    sweep
        .points
        .iter()
        .filter(|p| p.backend == key.backend && p.throttle == key.throttle)
        .filter_map(|p| metric.value(p))
        .collect()
}

/// Compares `current` against `base`, point by point and metric by metric.
pub fn compare(
    base: &SweepResult,
    current: &SweepResult,
    options: &Options,
) -> Result<Comparison, SpecError> {
    if !(options.threshold >= 0.0 && options.threshold.is_finite()) {
        return Err(SpecError::invalid("the noise threshold must be 0% or more"));
    }
    let mut notes = check_compatible(base, current, options)?;
    let (base_keys, current_keys) = (keys(base), keys(current));
    let missing_in_current: Vec<PointKey> = base_keys
        .iter()
        .filter(|k| !current_keys.contains(k))
        .copied()
        .collect();
    let missing_in_baseline: Vec<PointKey> = current_keys
        .iter()
        .filter(|k| !base_keys.contains(k))
        .copied()
        .collect();
    let mut rows = Vec::new();
    let mut tested = true;
    let mut unmeasured: Vec<&str> = Vec::new();
    let mut short_p99 = false;
    let global = Drift::between(&options.base_noise, &options.current_noise);
    let mut lost_latency: Vec<String> = Vec::new();
    let mut failing_points: Vec<String> = Vec::new();
    let common: Vec<PointKey> = base_keys
        .iter()
        .filter(|k| current_keys.contains(k))
        .copied()
        .collect();
    let run_to_run = run_to_run_of(base, current, &common);
    for key in &common {
        let first_row = rows.len();
        for metric in Metric::ALL {
            if metric == Metric::ErrorRate {
                rows.extend(error_rate::row(base, current, *key));
                continue;
            }
            if metric == Metric::LatencyP99 && fewest_items(base, current, *key) < MIN_ITEMS_FOR_P99
            {
                short_p99 = true;
                continue;
            }
            let (b, c) = (samples(base, *key, metric), samples(current, *key, metric));
            if !b.is_empty() && c.is_empty() {
                // Every current repetition failed every item: no latency to compare, and the
                // error rate's row says what happened.
                let name = format!("{} ×{}", key.backend, key.throttle);
                if !lost_latency.contains(&name) {
                    lost_latency.push(name);
                }
                continue;
            }
            let Some(stats) = bootstrap::compare(&b, &c) else {
                if !unmeasured.contains(&metric.label()) {
                    unmeasured.push(metric.label());
                }
                continue;
            };
            let enough = b.len() >= MIN_REPETITIONS && c.len() >= MIN_REPETITIONS;
            tested &= enough;
            // Between two runs a point moves by more than its repetitions scatter: the test
            // carries both.
            let between = run_to_run.iter().find(|r| r.metric == metric);
            let within = WithinRun::of(&b, &c);
            let (stats, run_to_run_pct) = match (between, within) {
                (Some(r), Some(w)) if enough => {
                    (r.variation.widen(&stats, &w), Some(r.variation.cv * 100.0))
                }
                _ => (stats, None),
            };
            let sides = (
                (base, options.base_noise.as_slice()),
                (current, options.current_noise.as_slice()),
            );
            // A busier current run excuses a worsening; a busier baseline run an improvement.
            let worse = point_drift(sides.0, sides.1, *key);
            let better = point_drift(sides.1, sides.0, *key);
            let item_ms = bootstrap::mean(&samples(base, *key, Metric::LatencyP50));
            let cap = |a: f64| capped(a, item_ms, options.threshold);
            let allowance = (
                cap(allowance(base, *key, metric, worse.as_ref())),
                cap(allowance(base, *key, metric, better.as_ref())),
            );
            rows.push(MetricComparison {
                backend: key.backend,
                throttle: key.throttle,
                metric,
                unit: metric.unit(),
                baseline_repetitions: b.len(),
                current_repetitions: c.len(),
                baseline_mean: bootstrap::mean(&b),
                current_mean: bootstrap::mean(&c),
                change_pct: stats.change * 100.0,
                ci_low_pct: enough.then_some(stats.ci_low * 100.0),
                ci_high_pct: enough.then_some(stats.ci_high * 100.0),
                p_value: enough.then_some(stats.p_value),
                run_to_run_pct,
                machine_allowance_pct: allowance.0 * 100.0,
                machine_allowance_improved_pct: allowance.1 * 100.0,
                verdict: match verdict(metric, &stats, enough, options.threshold, allowance) {
                    Verdict::Regressed | Verdict::Improved
                        if metric == Metric::PeakRss
                            && (bootstrap::mean(&c) - bootstrap::mean(&b)).abs()
                                < MIN_RSS_CHANGE_MB =>
                    {
                        Verdict::WithinNoise
                    }
                    v => v,
                },
            });
        }
        // A point that fails more items is not better for being faster at the rest (or at
        // failing): none of its changes counts as an improvement.
        let errors_rose = rows[first_row..]
            .iter()
            .any(|r| r.metric == Metric::ErrorRate && r.current_mean > r.baseline_mean);
        if errors_rose {
            for row in rows[first_row..].iter_mut() {
                if row.verdict == Verdict::Improved && row.metric != Metric::ErrorRate {
                    row.verdict = Verdict::WithinNoise;
                    let name = format!("{} ×{}", key.backend, key.throttle);
                    if !failing_points.contains(&name) {
                        failing_points.push(name);
                    }
                }
            }
        }
    }
    if !lost_latency.is_empty() {
        notes.push(format!(
            "Latency not compared at {}: no item of the current run succeeded there.",
            lost_latency.join(", ")
        ));
    }
    if !failing_points.is_empty() {
        notes.push(format!(
            "Not called improvements at {}: the error rate rose there, so a faster figure may \
             come from items that failed fast.",
            failing_points.join(", ")
        ));
    }
    if short_p99 {
        notes.push(format!(
            "p99 not compared where a repetition measured fewer than {MIN_ITEMS_FOR_P99} items: \
             there it rests on one or two items, decided by a single hiccup of the machine. Use \
             --items {MIN_ITEMS_FOR_P99} or more to compare tail latency."
        ));
    }
    if !unmeasured.is_empty() {
        notes.push(format!(
            "Not compared where the baseline measured zero: {}.",
            unmeasured.join(", ")
        ));
    }
    let busier = |d: &Drift| d.delay_ms > 0.05 || d.cpu_slowdown > 0.02;
    let reverse = Drift::between(&options.current_noise, &options.base_noise);
    match (&global, &reverse) {
        (None, _) | (_, None) => notes.push(
            "A run without a machine-noise probe: a busier machine cannot be told apart from a \
             slower workload."
                .into(),
        ),
        (Some(g), Some(r)) => {
            for (d, which, excuses) in [
                (g, "current", "a worsening"),
                (r, "baseline", "an improvement"),
            ] {
                if busier(d) {
                    notes.push(format!(
                        "The machine was busier during the {which} run (a woken thread waited \
                         {:+.2} ms longer for a core on average, a fixed CPU loop ran {:+.0}% \
                         slower, beyond the probes' own scatter): {excuses} up to what that \
                         explains for each point's kind of item, run-wide or around the point, \
                         counts as noise (the \"excused by machine\" column).",
                        d.delay_ms,
                        d.cpu_slowdown * 100.0
                    ));
                }
            }
        }
    }
    Ok(Comparison {
        baseline: RunLabel::of(base),
        current: RunLabel::of(current),
        threshold_pct: options.threshold * 100.0,
        significance: SIGNIFICANCE,
        tested,
        rows,
        missing_in_current,
        missing_in_baseline,
        machine_drift: global,
        run_to_run,
        notes,
    })
}

/// The metrics tested with run-to-run variation: the timing ones. Peak RSS has its own floor
/// (`MIN_RSS_CHANGE_MB`) and the error rate is compared as counts.
const RUN_TO_RUN_METRICS: [Metric; 3] = [Metric::Goodput, Metric::LatencyP50, Metric::LatencyP99];

/// Each timing metric's run-to-run variation, from every common point with enough repetitions
/// (and, for p99, enough items to compare it at all).
fn run_to_run_of(
    base: &SweepResult,
    current: &SweepResult,
    common: &[PointKey],
) -> Vec<MetricRunToRun> {
    RUN_TO_RUN_METRICS
        .iter()
        .map(|&metric| {
            let points: Vec<WithinRun> = common
                .iter()
                .filter(|&&key| {
                    metric != Metric::LatencyP99
                        || fewest_items(base, current, key) >= MIN_ITEMS_FOR_P99
                })
                .filter_map(|&key| {
                    let (b, c) = (samples(base, key, metric), samples(current, key, metric));
                    (b.len() >= MIN_REPETITIONS && c.len() >= MIN_REPETITIONS)
                        .then(|| WithinRun::of(&b, &c))
                        .flatten()
                })
                .collect();
            MetricRunToRun {
                metric,
                variation: RunToRun::estimate(&points),
            }
        })
        .collect()
}

mod compatible;
pub use compatible::check_compatible;

#[cfg(test)]
mod tests;
