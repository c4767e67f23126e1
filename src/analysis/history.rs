//! A sweep's history: the same sweep run again over days or commits, read as a trend. Every
//! point's metrics become series across the runs (`series`), searched for sustained steps
//! (Pettitt's change-point test, confirmed by `compare`'s rule); the latest run — or each run —
//! is judged against the runs before it with `compare`'s own statistics (`judge`), and with the
//! run-to-run variation the history itself shows once it is long enough (`run_means`).

pub mod judge;
pub mod run_means;
pub mod series;

use serde::Serialize;

pub use judge::{HistoryRow, Judgement, Variation};
pub use series::{Series, Step};

use crate::analysis::compare::{self, check_compatible, PointKey, SIGNIFICANCE};
use crate::analysis::metric::Metric;
use crate::analysis::noise::StoredRun;
use crate::error::SpecError;
use crate::results::SweepResult;

/// A run of the history, as read, and where it was read from.
#[derive(Debug, Clone)]
pub struct HistoryRun {
    pub stored: StoredRun,
    pub source: String,
}

/// How to read a history.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Noise threshold as a fraction (0.02 = 2 %), as `compare`'s.
    pub threshold: f64,
    /// Accept runs whose workload parameters differ (the difference is noted).
    pub allow_param_change: bool,
    /// Judge every run against those before it, not only the latest.
    pub judge_all: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            threshold: compare::DEFAULT_THRESHOLD,
            allow_param_change: false,
            judge_all: false,
        }
    }
}

/// One run as the history shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunInfo {
    /// 1-based, in history order.
    pub number: usize,
    pub started_at: String,
    pub git_commit: Option<String>,
    pub source: String,
    /// The throttle the run's analysis recommended, and on which backend.
    pub recommended: Option<PointKey>,
    pub interrupted: bool,
}

impl RunInfo {
    /// "2026-12-03 10:50" from the run's RFC 3339 start time (as written when unreadable).
    pub fn date(&self) -> String {
        chrono::DateTime::parse_from_rfc3339(&self.started_at)
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_else(|_| self.started_at.clone())
    }

    /// The commit as people quote it: its first 7 characters.
    pub fn short_commit(&self) -> Option<String> {
        self.git_commit
            .as_deref()
            .map(|c| c.chars().take(7).collect())
    }

    /// "#5 2026-12-03 10:50 abc1234".
    pub fn label(&self) -> String {
        let mut text = format!("#{} {}", self.number, self.date());
        if let Some(commit) = self.short_commit() {
            text.push(' ');
            text.push_str(&commit);
        }
        text
    }
}

/// Everything a history shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct History {
    /// The sweep's name (the latest run's).
    pub name: String,
    pub runs: Vec<RunInfo>,
    pub threshold_pct: f64,
    pub significance: f64,
    pub series: Vec<Series>,
    /// The latest run's judgement last; with `judge_all`, every run's from the second on.
    pub judgements: Vec<Judgement>,
    pub notes: Vec<String>,
}

impl History {
    /// The latest run's judgement, when there is an earlier run to judge it against.
    pub fn latest(&self) -> Option<&Judgement> {
        self.judgements.last().filter(|j| j.run == self.runs.len())
    }

    /// Every step found, with the series it is in, by run.
    pub fn steps(&self) -> Vec<(&Series, &Step)> {
        let mut all: Vec<(&Series, &Step)> = self
            .series
            .iter()
            .flat_map(|s| s.steps.iter().map(move |step| (s, step)))
            .collect();
        all.sort_by_key(|(_, step)| step.run);
        all
    }
}

/// The metrics followed across runs, in `compare`'s order.
pub const METRICS: [Metric; 5] = Metric::ALL;

/// Every point of the history: the sequential baseline first, then each backend in the latest
/// run's order, by throttle.
fn keys(runs: &[HistoryRun]) -> Vec<PointKey> {
    let mut keys: Vec<PointKey> = Vec::new();
    for run in runs {
        for p in &run.stored.sweep.points {
            let key = PointKey {
                backend: p.backend,
                throttle: p.throttle,
            };
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
    }
    let order = &runs[runs.len() - 1].stored.sweep.spec.sweep.backends;
    keys.sort_by_key(|k| {
        (
            k.backend != crate::backend::BackendKind::Sequential,
            order
                .iter()
                .position(|b| *b == k.backend)
                .unwrap_or(usize::MAX),
            k.throttle,
        )
    });
    keys
}

fn recommended(sweep: &SweepResult) -> Option<PointKey> {
    let from = |a: &crate::analysis::Analysis| {
        a.recommendation.as_ref().map(|r| PointKey {
            backend: r.backend,
            throttle: r.throttle,
        })
    };
    match &sweep.analysis {
        Some(a) => from(a),
        None => from(&crate::analysis::analyze(sweep)),
    }
}

/// Refuses runs that do not measure the same thing as the first; returns the notes on lesser
/// differences, each once.
fn check_all(runs: &[HistoryRun], options: &compare::Options) -> Result<Vec<String>, SpecError> {
    let first = &runs[0];
    let mut notes: Vec<String> = Vec::new();
    for run in &runs[1..] {
        let found =
            check_compatible(&first.stored.sweep, &run.stored.sweep, options).map_err(|e| {
                SpecError::invalid(format!(
                    "{} does not belong with {}: {e}",
                    run.source, first.source
                ))
            })?;
        for note in found {
            // "baseline"/"current" mean the first run and this one here.
            if !notes.contains(&note) && !note.starts_with("The baseline run was interrupted") {
                notes.push(note);
            }
        }
    }
    Ok(notes)
}

/// Reads a history of runs, already in order (oldest first).
pub fn analyse(runs: &[HistoryRun], options: &Options) -> Result<History, SpecError> {
    if runs.is_empty() {
        return Err(SpecError::invalid("a history needs at least one run"));
    }
    if !(options.threshold >= 0.0 && options.threshold.is_finite()) {
        return Err(SpecError::invalid("the noise threshold must be 0% or more"));
    }
    let compare_options = compare::Options {
        threshold: options.threshold,
        allow_param_change: options.allow_param_change,
        ..compare::Options::default()
    };
    let mut notes = check_all(runs, &compare_options)?;
    let interrupted: Vec<String> = runs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.stored.sweep.interrupted)
        .map(|(i, _)| format!("#{}", i + 1))
        .collect();
    if !interrupted.is_empty() {
        notes.push(format!(
            "Interrupted runs ({}): some of their points are missing.",
            interrupted.join(", ")
        ));
    }
    let keys = keys(runs);
    let sweeps: Vec<&SweepResult> = runs.iter().map(|r| &r.stored.sweep).collect();
    let mut series: Vec<Series> = keys
        .iter()
        .flat_map(|k| METRICS.iter().map(|m| series::of(&sweeps, *k, *m)))
        .collect();
    let judged: Vec<usize> = if options.judge_all {
        (1..runs.len()).collect()
    } else {
        (runs.len() > 1)
            .then_some(runs.len() - 1)
            .into_iter()
            .collect()
    };
    let judgements = judged
        .into_iter()
        .map(|j| judge::judge(runs, &series, &keys, j, &compare_options))
        .collect::<Result<Vec<_>, _>>()?;
    for s in &mut series {
        s.steps = series::steps(s, runs.len(), options.threshold);
    }
    let latest = &runs[runs.len() - 1].stored.sweep;
    Ok(History {
        name: latest.spec.name.clone(),
        runs: runs
            .iter()
            .enumerate()
            .map(|(i, r)| RunInfo {
                number: i + 1,
                started_at: r.stored.sweep.started_at.clone(),
                git_commit: r.stored.sweep.environment.git_commit.clone(),
                source: r.source.clone(),
                recommended: recommended(&r.stored.sweep),
                interrupted: r.stored.sweep.interrupted,
            })
            .collect(),
        threshold_pct: options.threshold * 100.0,
        significance: SIGNIFICANCE,
        series,
        judgements,
        notes,
    })
}

#[cfg(test)]
#[path = "history_tests.rs"]
pub(crate) mod tests;
