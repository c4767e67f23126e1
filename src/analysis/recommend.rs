//! One backend's analysis: its fit, knee, peak, SLO outcome and pick (`pick`'s rule), with notes
//! on what could not be done. The sentence that explains the pick is `explain`'s.

use super::explain::FALL;
use super::scaling::{self, MIN_POINTS};
use super::{error_budget, knee, pick, BackendAnalysis, Measured, Slo};
use crate::backend::BackendKind;
use crate::format::{number, percent};
use crate::results::SweepResult;

/// A fit whose RMS relative residual exceeds this is flagged as rough.
const POOR_FIT_PCT: f64 = 10.0;

/// One backend's fit, knee, peak and SLO outcome, plus notes about what could not be done.
pub fn backend_analysis(
    sweep: &SweepResult,
    backend: BackendKind,
    all_rows: &[Measured],
    slo: Option<&Slo>,
) -> (BackendAnalysis, Vec<String>) {
    let mut notes = Vec::new();
    // A throttle that failed more than the error budget did not do the work it seems to: its
    // fast failures would pass for speed. It is kept out of every figure a decision rests on.
    let budget = error_budget(slo);
    let rows: Vec<Measured> = all_rows
        .iter()
        .filter(|m| m.within_budget(budget))
        .copied()
        .collect();
    if let Some(note) = over_budget_note(backend, all_rows, budget) {
        notes.push(note);
    }
    let rows = rows.as_slice();
    let curve: Vec<(usize, f64)> = rows.iter().map(|m| (m.throttle, m.goodput_per_s)).collect();
    let fit_points = fit_points(sweep, rows, budget);
    let options = scaling::FitOptions {
        weights: sweep.spec.sweep.usl_weights,
        keep_all: sweep.spec.sweep.usl_keep_all,
    };
    let (usl, scaling) = if fit_points.len() >= MIN_POINTS {
        match scaling::analyse(&fit_points, options) {
            Some((fit, s)) => {
                for left in &s.left_out {
                    notes.push(format!(
                        "{backend}: throttle {} ({} items/s) was left out of the scalability fit: {}",
                        left.throttle,
                        number(left.throughput_per_s),
                        left.reason
                    ));
                }
                if s.residual_pct > POOR_FIT_PCT {
                    notes.push(format!(
                        "{backend}: the scalability fit is rough (residual {:.0}%): the curve is noisy or not USL-shaped; read σ and κ as indications",
                        s.residual_pct
                    ));
                }
                (Some(fit), Some(s))
            }
            None => (None, None),
        }
    } else {
        notes.push(format!(
            "{backend}: {} measured; the scalability fit (σ, κ) needs at least {MIN_POINTS} (e.g. --limits 1..32)",
            match fit_points.len() {
                1 => "1 throttle".to_string(),
                n => format!("{n} throttles"),
            }
        ));
        (None, None)
    };
    let peak = rows
        .iter()
        .max_by(|a, b| a.goodput_per_s.total_cmp(&b.goodput_per_s));
    let knee = knee::knee_within_noise(
        &rows
            .iter()
            .map(|m| (m.throttle, m.goodput_per_s, m.goodput_lo, m.goodput_hi))
            .collect::<Vec<_>>(),
    );
    let slo_outcome = slo.map(|s| s.evaluate(all_rows));
    let recommended = pick::pick_throttle(all_rows, slo);
    (
        BackendAnalysis {
            backend,
            usl,
            knee,
            kneedle: knee::kneedle(&curve),
            scaling,
            peak_throttle: peak.map(|m| m.throttle),
            peak_throughput_per_s: peak.map_or(0.0, |m| m.goodput_per_s),
            peak_cpu_cores: peak.map_or(0.0, |m| m.cpu_cores),
            retrograde: match (peak, rows.last()) {
                (Some(p), Some(last)) => last.goodput_per_s < FALL * p.goodput_per_s,
                _ => false,
            },
            slo: slo_outcome,
            recommended,
        },
        notes,
    )
}

/// The (throttle, goodput) points a backend's scalability fit uses: its medians within the
/// error budget, with the sequential baseline as throttle 1 when the backend has no throttle 1
/// (and the baseline kept within the budget too).
pub fn fit_points(sweep: &SweepResult, rows: &[Measured], budget: f64) -> Vec<(f64, f64)> {
    let mut points: Vec<(f64, f64)> = rows
        .iter()
        .map(|m| (m.throttle as f64, m.goodput_per_s))
        .collect();
    if !rows.iter().any(|m| m.throttle == 1) && baseline_error_share(sweep) <= budget {
        if let Some(base) = sweep.baseline_goodput_per_s.filter(|b| *b > 0.0) {
            points.insert(0, (1.0, base));
        }
    }
    points
}

/// Throttles over the error budget, named in one note; `None` when there are none.
fn over_budget_note(backend: BackendKind, rows: &[Measured], budget: f64) -> Option<String> {
    let over: Vec<&Measured> = rows.iter().filter(|m| !m.within_budget(budget)).collect();
    let worst = over.iter().map(|m| m.error_share).fold(0.0, f64::max);
    let names: Vec<String> = over.iter().map(|m| m.throttle.to_string()).collect();
    (!over.is_empty()).then(|| {
        format!(
            "{backend}: throttle{} {} failed more than {}% of items (up to {}%): not counted as \
             work, left out of the fit, the knee and the recommendation",
            if over.len() == 1 { "" } else { "s" },
            names.join(", "),
            percent(budget * 100.0),
            percent(worst * 100.0)
        )
    })
}

/// Failed share of the sequential baseline over all its repetitions.
fn baseline_error_share(sweep: &SweepResult) -> f64 {
    let (bad, all) = sweep
        .points
        .iter()
        .filter(|p| p.is_baseline())
        .fold((0, 0), |(bad, all), p| {
            (bad + p.failed + p.timed_out, all + p.items)
        });
    if all == 0 {
        0.0
    } else {
        bad as f64 / all as f64
    }
}

#[cfg(test)]
#[path = "recommend_tests.rs"]
pub(crate) mod tests;
