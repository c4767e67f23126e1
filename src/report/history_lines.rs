//! The sentences of a history report, shared by the console, markdown and the HTML page: the
//! headline, the steps and where they began, the recommended throttle over the runs, each
//! judged run in a line, and the remarks under the table.

use crate::analysis::compare::{
    MetricComparison, PointKey, MIN_REPETITIONS, RECOMMENDED_REPETITIONS,
};
use crate::analysis::history::{History, Judgement, RunInfo, Series, Step, Variation, METRICS};
use crate::analysis::metric::{Metric, Verdict};

pub(crate) fn run_of(h: &History, number: usize) -> &RunInfo {
    &h.runs[number - 1]
}

/// "2 regressions at #5 2026-12-03 10:52 abc1234 against #1–#4", or why nothing is judged.
pub fn headline(h: &History) -> String {
    match h.latest() {
        None => format!(
            "One run ({}): nothing to judge it against yet.",
            h.runs[0].label()
        ),
        Some(j) => {
            let verdicts = j.verdicts();
            let mut first = verdicts[..1].to_uppercase();
            first.push_str(&verdicts[1..]);
            format!(
                "{first} in the latest run, {}, against the runs before it.",
                run_of(h, j.run).label()
            )
        }
    }
}

/// "History of sleep: 5 runs from #1 … to #5 …; threshold 2%, significance 0.05."
pub fn describe(h: &History) -> String {
    let (first, last) = (&h.runs[0], &h.runs[h.runs.len() - 1]);
    format!(
        "History of {}: {} runs, {} to {}; threshold {}%, significance {}.",
        h.name,
        h.runs.len(),
        first.label(),
        last.label(),
        h.threshold_pct,
        h.significance
    )
}

pub(crate) fn point(key: PointKey) -> String {
    format!("{} ×{}", key.backend, key.throttle)
}

/// The rows of a judgement that regressed or improved.
fn changed_rows(j: &Judgement) -> impl Iterator<Item = &MetricComparison> {
    j.rows
        .iter()
        .map(|r| &r.comparison)
        .filter(|r| matches!(r.verdict, Verdict::Regressed | Verdict::Improved))
}

/// Changes of the latest run shown in its step line at most; the table has them all.
const MAX_NAMED: usize = 4;

/// The latest run's changes when they are not (yet) a sustained step: a step begins there if
/// the next run holds the level.
fn latest_departure(h: &History) -> Option<String> {
    let j = h.latest()?;
    if h.steps().iter().any(|(_, s)| s.run == j.run) {
        return None;
    }
    let changed: Vec<String> = changed_rows(j)
        .map(|r| {
            let pp = if r.metric == Metric::ErrorRate {
                " pp"
            } else {
                "%"
            };
            let key = PointKey {
                backend: r.backend,
                throttle: r.throttle,
            };
            format!(
                "{} at {} {:+.1}{pp} ({})",
                r.metric.label(),
                point(key),
                r.change_pct,
                r.verdict.label()
            )
        })
        .collect();
    if changed.is_empty() {
        return None;
    }
    let more = changed.len().saturating_sub(MAX_NAMED);
    let mut named = changed[..changed.len().min(MAX_NAMED)].join("; ");
    if more > 0 {
        named.push_str(&format!("; {more} more in the table"));
    }
    Some(format!(
        "Step at {}, the latest run (sustained once the next run holds it): {named}.",
        run_of(h, j.run).label()
    ))
}

/// One line per run where a step began: what moved there, and by how much.
pub fn step_lines(h: &History) -> Vec<String> {
    let steps = h.steps();
    let departure = latest_departure(h);
    if steps.is_empty() {
        return vec![departure.unwrap_or_else(|| {
            "Steps: none found (a step must hold for two runs or more to be told from an odd \
             run)."
                .into()
        })];
    }
    let mut runs: Vec<usize> = steps.iter().map(|(_, s)| s.run).collect();
    runs.dedup();
    let mut lines: Vec<String> = runs
        .iter()
        .map(|&run| {
            let at_run: Vec<&(&Series, &Step)> =
                steps.iter().filter(|(_, s)| s.run == run).collect();
            let metrics: Vec<Metric> = METRICS
                .into_iter()
                .filter(|m| at_run.iter().any(|(s, _)| s.metric == *m))
                .collect();
            // One clause per metric: "goodput −9.8% at thread ×16, −10.0% at thread ×32".
            let clauses: Vec<String> = metrics
                .iter()
                .map(|&metric| {
                    let pp = if metric == Metric::ErrorRate {
                        " pp"
                    } else {
                        "%"
                    };
                    let of_metric: Vec<_> = at_run
                        .iter()
                        .filter(|(series, _)| series.metric == metric)
                        .collect();
                    let one_verdict = of_metric
                        .iter()
                        .all(|(_, s)| s.verdict == of_metric[0].1.verdict);
                    let changes: Vec<String> = of_metric
                        .iter()
                        .map(|(series, s)| {
                            let mut text =
                                format!("{:+.1}{pp} at {}", s.change_pct, point(series.key()));
                            if !one_verdict {
                                text.push_str(&format!(" ({})", s.verdict.label()));
                            }
                            text
                        })
                        .collect();
                    let verdict = if one_verdict {
                        format!(" ({})", of_metric[0].1.verdict.label())
                    } else {
                        String::new()
                    };
                    format!("{} {}{verdict}", metric.label(), changes.join(", "))
                })
                .collect();
            format!(
                "Step at {}: {}.",
                run_of(h, run).label(),
                clauses.join("; ")
            )
        })
        .collect();
    lines.extend(departure);
    lines
}

/// "Recommended throttle: thread ×8 in #1–#12, thread ×4 in #13–#30."
pub fn recommendation_line(h: &History) -> String {
    let mut spans: Vec<(Option<PointKey>, usize, usize)> = Vec::new();
    for run in &h.runs {
        match spans.last_mut() {
            Some((rec, _, last)) if *rec == run.recommended => *last = run.number,
            _ => spans.push((run.recommended, run.number, run.number)),
        }
    }
    let parts: Vec<String> = spans
        .iter()
        .map(|(rec, first, last)| {
            let what = rec.map_or("none".into(), point);
            if first == last {
                format!("{what} in #{first}")
            } else {
                format!("{what} in #{first}–#{last}")
            }
        })
        .collect();
    format!("Recommended throttle: {}.", parts.join(", "))
}

/// Each judged run's verdicts in one line (with `--all`).
pub fn judgement_lines(h: &History) -> Vec<String> {
    if h.judgements.len() < 2 {
        return Vec::new();
    }
    h.judgements
        .iter()
        .map(|j| {
            let changed: Vec<String> = changed_rows(j)
                .map(|r| {
                    format!(
                        "{} {} {:+.1}",
                        r.metric.label(),
                        point(PointKey {
                            backend: r.backend,
                            throttle: r.throttle
                        }),
                        r.change_pct
                    )
                })
                .collect();
            let detail = if changed.is_empty() {
                String::new()
            } else {
                format!(" ({})", changed.join(", "))
            };
            format!("{}: {}{detail}", run_of(h, j.run).label(), j.verdicts())
        })
        .collect()
}

/// Where each row's run-to-run variation came from, in one sentence.
fn variation_line(j: &Judgement) -> Option<String> {
    let mut own: Vec<f64> = Vec::new();
    let mut runs = 0;
    let mut model = false;
    for r in &j.rows {
        match r.variation {
            Some(Variation::History(v)) => {
                own.push(v.cv * 100.0);
                runs = runs.max(v.runs);
            }
            Some(Variation::TwoRunModel) => model = true,
            None => {}
        }
    }
    let mut parts = Vec::new();
    if !own.is_empty() {
        let (lo, hi) = own.iter().fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
            (lo.min(*x), hi.max(*x))
        });
        parts.push(format!(
            "from each point's own earlier runs (up to {runs}), {lo:.1}–{hi:.1}%"
        ));
    }
    if model {
        let per_metric: Vec<String> = j
            .run_to_run
            .iter()
            .filter(|m| {
                j.rows.iter().any(|r| {
                    r.comparison.metric == m.metric && r.variation == Some(Variation::TwoRunModel)
                })
            })
            .map(|m| format!("{} {:.1}%", m.metric.label(), m.variation.cv * 100.0))
            .collect();
        parts.push(format!(
            "from the two-run model where fewer than 5 earlier runs hold the level ({})",
            per_metric.join(", ")
        ));
    }
    (!parts.is_empty()).then(|| {
        format!(
            "Allowed for run-to-run variation (how far another run of the same code lands): {}.",
            parts.join("; ")
        )
    })
}

/// The lines under the table.
pub fn remarks(h: &History) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(j) = h.latest() {
        let keys = |ks: &[PointKey]| ks.iter().map(|k| point(*k)).collect::<Vec<_>>().join(", ");
        if !j.missing_in_run.is_empty() {
            out.push(format!(
                "Missing in the latest run: {}.",
                keys(&j.missing_in_run)
            ));
        }
        if !j.new_in_run.is_empty() {
            out.push(format!(
                "New in the latest run (no history): {}.",
                keys(&j.new_in_run)
            ));
        }
        if !j.tested {
            out.push(format!(
                "Fewer than {MIN_REPETITIONS} repetitions in a run: no statistical test is \
                 possible, so verdicts compare the change with the {}% threshold alone. Run \
                 with --repeat {RECOMMENDED_REPETITIONS} or more.",
                h.threshold_pct
            ));
        } else if let Some(line) = variation_line(j) {
            out.push(line);
        }
        for note in &j.notes {
            if !out.contains(note) {
                out.push(note.clone());
            }
        }
    }
    for note in &h.notes {
        if !out.contains(note) {
            out.push(note.clone());
        }
    }
    out
}
