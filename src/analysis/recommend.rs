//! Turns the measured curves, fits and SLO outcomes into one recommended throttle per backend
//! and one overall, with the evidence in a sentence a capacity planner can paste into a ticket.

use super::scaling::{self, MIN_POINTS};
use super::text::coef;
use super::{error_budget, knee, BackendAnalysis, Measured, Scaling, Slo, UslFit};
use crate::backend::BackendKind;
use crate::format::{number, percent};
use crate::results::SweepResult;

/// Throughput at the highest throttle below this share of the peak counts as falling.
const RETROGRADE: f64 = 0.90;
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
            "{backend}: {} throttles measured; the scalability fit (σ, κ) needs at least {MIN_POINTS} (e.g. --limits 1..32)",
            fit_points.len()
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
    let recommended = match &slo_outcome {
        Some(o) => o.recommended,
        None => knee,
    };
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
                (Some(p), Some(last)) => last.goodput_per_s < RETROGRADE * p.goodput_per_s,
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

/// Why more concurrency does not help, in the fit's terms, with the CPU the peak kept busy.
pub fn explain(b: &BackendAnalysis, rows: &[Measured], cores: usize) -> String {
    let cpu = format!(
        "; at its peak the process kept {:.2} of {cores} cores busy",
        b.peak_cpu_cores
    );
    let (Some(fit), Some(s)) = (&b.usl, &b.scaling) else {
        return format!("too few throttles for a scalability fit{cpu}");
    };
    if let Some(why) = unplaced_peak(b, fit, s, rows) {
        return format!("{why}{cpu}");
    }
    // A fitted optimum alone is not enough: a hard plateau also bends the fit; only a measured
    // fall past the peak shows a coherency cost, and only when that cost, κN at the peak,
    // outweighs contention σ is coherency the story.
    let why = match s.optimum {
        Some(n) if b.retrograde && fit.kappa * n as f64 >= fit.sigma => format!(
            "coherency-limited: the fit peaks at throttle {n} and falls beyond it (κ={}, σ={})",
            coef(fit.kappa),
            coef(fit.sigma)
        ),
        _ if fit.sigma >= 0.01 => match measured_plateau(b, rows, ceiling(fit, s.optimum)) {
            Some((knee, flat)) => format!(
                "contention-limited (σ={}): throughput measured flat at about {} items/s past \
                 throttle {knee} (the fit's level, {} items/s, is above anything measured)",
                coef(fit.sigma),
                number(flat),
                number(ceiling(fit, s.optimum))
            ),
            None => format!(
                "contention-limited (σ={}): throughput levels off near {} items/s",
                coef(fit.sigma),
                number(ceiling(fit, s.optimum))
            ),
        },
        Some(n) => match measured_plateau(b, rows, ceiling(fit, s.optimum)) {
            Some((knee, flat)) => format!(
                "saturates at throttle {knee}: throughput measured flat at about {} items/s past \
                 it (the USL fit, σ={}, κ={}, puts a peak of {} items/s at throttle {n}, above \
                 anything measured: a hard limit, which the model smooths over)",
                number(flat),
                coef(fit.sigma),
                coef(fit.kappa),
                number(ceiling(fit, s.optimum))
            ),
            None => format!(
                "saturates near throttle {n}: throughput levels off near {} items/s (σ={}, κ={})",
                number(ceiling(fit, s.optimum)),
                coef(fit.sigma),
                coef(fit.kappa)
            ),
        },
        None => format!(
            "scales almost linearly (σ={}, κ={}): higher throttles may still pay",
            coef(fit.sigma),
            coef(fit.kappa)
        ),
    };
    format!("{why}{cpu}")
}

/// When N*'s confidence interval is wider than the sweep, the fit cannot say where the peak is:
/// the sentence says so and goes by what was measured, the knee (and a plateau past it).
fn unplaced_peak(
    b: &BackendAnalysis,
    fit: &UslFit,
    s: &Scaling,
    rows: &[Measured],
) -> Option<String> {
    let (lowest, highest) = (rows.first()?.throttle, rows.last()?.throttle);
    let n = s.unplaced_peak(lowest as f64, highest as f64)?;
    let unplaced = format!(
        "the USL fit (σ={}, κ={}) cannot place the peak: N*'s 95% interval, {:.0} to {:.0}, is wider than the sweep ({lowest} to {highest})",
        coef(fit.sigma),
        coef(fit.kappa),
        n.lo,
        n.hi
    );
    let model = ceiling(fit, s.optimum);
    Some(match (measured_plateau(b, rows, model), b.knee) {
        (Some((knee, flat)), _) => format!(
            "saturates at throttle {knee}: throughput measured flat at about {} items/s past it; {unplaced}",
            number(flat)
        ),
        (None, Some(knee)) if knee == highest => format!(
            "{unplaced}; going by the knee, throughput was still rising at the highest throttle measured ({knee}): higher throttles may still pay"
        ),
        (None, Some(knee)) => format!(
            "{unplaced}; going by the knee, throughput reaches 95% of its peak at throttle {knee}"
        ),
        (None, None) => unplaced,
    })
}

/// The knee and the measured peak, when the sweep measured a plateau past the knee (a higher
/// throttle within 95% of the peak) and the model's level lies more than 5% above the peak: a
/// hard limit (a server's capacity, a pool size) that the smooth USL curve overshoots, so the
/// measured level is the one to state.
fn measured_plateau(b: &BackendAnalysis, rows: &[Measured], model: f64) -> Option<(usize, f64)> {
    let knee = b.knee?;
    let peak = b.peak_throughput_per_s;
    let flat_past_knee = rows
        .iter()
        .any(|m| m.throttle > knee && m.goodput_per_s >= 0.95 * peak);
    (flat_past_knee && peak > 0.0 && model > peak * 1.05).then_some((knee, peak))
}

/// The throughput the model levels off at: λ/σ, or the predicted value far out.
fn ceiling(fit: &UslFit, optimum: Option<usize>) -> f64 {
    match optimum {
        Some(n) => fit.throughput(n as f64),
        None if fit.sigma > 0.0 => fit.lambda / fit.sigma,
        None => f64::INFINITY,
    }
}

#[cfg(test)]
#[path = "recommend_tests.rs"]
mod tests;
