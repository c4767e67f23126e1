//! Turns the measured curves, fits and SLO outcomes into one recommended throttle per backend
//! and one overall, with the evidence in a sentence a capacity planner can paste into a ticket.

use super::scaling::{self, MIN_POINTS};
use super::text::coef;
use super::{error_budget, knee, BackendAnalysis, Measured, Recommendation, Slo, UslFit};
use crate::backend::BackendKind;
use crate::report::table::{maybe, number, percent};
use crate::results::SweepResult;

/// Backends whose picks are this close in throughput count as equal; the lower throttle wins.
const SAME_THROUGHPUT: f64 = 0.97;
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
    // The sequential baseline is throughput at concurrency 1 when the backend has no throttle 1.
    let mut fit_points: Vec<(f64, f64)> = curve.iter().map(|&(n, x)| (n as f64, x)).collect();
    if !curve.iter().any(|&(n, _)| n == 1) && baseline_error_share(sweep) <= budget {
        if let Some(base) = sweep.baseline_goodput_per_s.filter(|b| *b > 0.0) {
            fit_points.insert(0, (1.0, base));
        }
    }
    let (usl, scaling) = if fit_points.len() >= MIN_POINTS {
        match scaling::fit_robust(&fit_points) {
            Some((fit, dropped)) => {
                if let Some((n, x)) = dropped {
                    fit_points.retain(|&p| p != (n, x));
                    notes.push(format!(
                        "{backend}: throttle {n} ({} items/s) was left out of the scalability fit: it lies far off the curve the other throttles draw (a stall?)",
                        number(x)
                    ));
                }
                let s = scaling::describe(&fit, &fit_points);
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

/// The overall pick: the backend whose own pick gives the most goodput (within 3% counts as a
/// tie, broken by the lower throttle). With an SLO nobody meets, the closest throttle, said so.
/// `Err` says why there is no recommendation at all.
pub fn recommend(
    backends: &[BackendAnalysis],
    tables: &[Vec<Measured>],
    slo: Option<&Slo>,
    cores: usize,
) -> Result<Recommendation, String> {
    let picks: Vec<(&BackendAnalysis, &Measured, &[Measured])> = backends
        .iter()
        .zip(tables)
        .filter_map(|(b, rows)| {
            let t = b.recommended?;
            rows.iter()
                .find(|m| m.throttle == t)
                .map(|m| (b, m, rows.as_slice()))
        })
        .collect();
    let best = picks
        .iter()
        .map(|(_, m, _)| m.goodput_per_s)
        .fold(0.0, f64::max);
    let chosen = picks
        .iter()
        .filter(|(_, m, _)| m.goodput_per_s >= SAME_THROUGHPUT * best)
        .min_by_key(|(_, m, _)| m.throttle);
    if let Some(&(b, m, rows)) = chosen {
        let pct = if b.peak_throughput_per_s > 0.0 {
            m.goodput_per_s / b.peak_throughput_per_s * 100.0
        } else {
            0.0
        };
        let latency = match slo {
            Some(slo) => slo.quote(m),
            None => format!("p99 {} ms", maybe(m.p99_ms, number)),
        };
        let errors = if m.error_share > 0.0 {
            format!(", {}% errors", percent(m.error_share * 100.0))
        } else {
            String::new()
        };
        return Ok(Recommendation {
            backend: b.backend,
            throttle: m.throttle,
            summary: format!(
                "Use throttle {} on {}: {:.0}% of peak goodput ({} successful items/s), {}{}; {}",
                m.throttle,
                b.backend,
                pct,
                number(m.goodput_per_s),
                latency,
                errors,
                explain(b, rows, cores)
            ),
        });
    }
    let budget = error_budget(slo);
    let all = || {
        backends
            .iter()
            .zip(tables)
            .flat_map(|(b, rows)| rows.iter().map(move |m| (b, m)))
    };
    if !all().any(|(_, m)| m.within_budget(budget)) {
        let lowest = all().min_by(|a, b| a.1.error_share.total_cmp(&b.1.error_share));
        let lowest = lowest
            .map(|(b, m)| {
                format!(
                    " (lowest: {}% at throttle {} on {})",
                    percent(m.error_share * 100.0),
                    m.throttle,
                    b.backend
                )
            })
            .unwrap_or_default();
        return Err(format!(
            "No recommendation: every throttle failed more than {}% of items{lowest}",
            percent(budget * 100.0)
        ));
    }
    let Some(slo) = slo else {
        return Err("No recommendation: no throttle had a knee to recommend".into());
    };
    let (b, m, p99) = all()
        .filter(|(_, m)| m.within_budget(budget))
        .filter_map(|(b, m)| m.p99_ms.map(|p99| (b, m, p99)))
        .min_by(|a, b| a.2.total_cmp(&b.2))
        .ok_or_else(|| format!("No throttle meets the SLO ({slo}), and none measured a p99"))?;
    Ok(Recommendation {
        backend: b.backend,
        throttle: m.throttle,
        summary: format!(
            "No throttle meets the SLO ({slo}): the closest is throttle {} on {} with p99 {} ms at {} successful items/s",
            m.throttle,
            b.backend,
            number(p99),
            number(m.goodput_per_s)
        ),
    })
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
mod tests {
    use super::*;
    use crate::analysis::{scaling, SloOutcome};

    fn row(throttle: usize, x: f64, p99: f64) -> Measured {
        Measured {
            throttle,
            goodput_per_s: x,
            p99_ms: Some(p99),
            ..Measured::default()
        }
    }

    fn backend(kind: BackendKind, rows: &[Measured], pick: Option<usize>) -> BackendAnalysis {
        let points: Vec<(f64, f64)> = rows
            .iter()
            .map(|m| (m.throttle as f64, m.goodput_per_s))
            .collect();
        let fit = scaling::fit(&points);
        let peak = rows
            .iter()
            .max_by(|a, b| a.goodput_per_s.total_cmp(&b.goodput_per_s))
            .unwrap();
        BackendAnalysis {
            backend: kind,
            usl: fit,
            knee: pick,
            kneedle: None,
            scaling: fit.map(|f| scaling::describe(&f, &points)),
            peak_throttle: Some(peak.throttle),
            peak_throughput_per_s: peak.goodput_per_s,
            peak_cpu_cores: 1.9,
            retrograde: false,
            slo: None,
            recommended: pick,
        }
    }

    fn plateau(level: f64) -> Vec<Measured> {
        [1, 2, 4, 8, 16, 32]
            .iter()
            .map(|&n| row(n, (n as f64).min(2.0) * level, n as f64))
            .collect()
    }

    #[test]
    fn the_better_backend_wins_and_ties_go_to_the_lower_throttle() {
        let a = plateau(100.0);
        let b = plateau(60.0);
        let backends = [
            backend(BackendKind::Thread, &a, Some(2)),
            backend(BackendKind::Async, &b, Some(2)),
        ];
        let r = recommend(&backends, &[a.clone(), b], None, 2).unwrap();
        assert_eq!((r.backend, r.throttle), (BackendKind::Thread, 2));
        assert!(
            r.summary.starts_with("Use throttle 2 on thread: 100% of peak goodput (200 successful items/s), p99 2.00 ms; contention-limited (σ="),
            "{}",
            r.summary
        );
        assert!(
            r.summary.ends_with("kept 1.90 of 2 cores busy"),
            "{}",
            r.summary
        );

        let c = plateau(99.0);
        let backends = [
            backend(BackendKind::Thread, &a, Some(8)),
            backend(BackendKind::Async, &c, Some(2)),
        ];
        let r = recommend(&backends, &[a, c], None, 2).unwrap();
        assert_eq!((r.backend, r.throttle), (BackendKind::Async, 2));
    }

    #[test]
    fn an_unmet_slo_points_at_the_lowest_p99() {
        let slo: Slo = "p99=0.5ms".parse().unwrap();
        let a = plateau(100.0);
        let mut b = backend(BackendKind::Thread, &a, None);
        b.slo = Some(SloOutcome::default());
        let r = recommend(&[b], &[a], Some(&slo), 2).unwrap();
        assert_eq!(r.throttle, 1);
        assert!(
            r.summary
                .starts_with("No throttle meets the SLO (p99=0.5ms)"),
            "{}",
            r.summary
        );
    }

    #[test]
    fn a_hard_limit_is_stated_as_measured_not_as_the_fit_overshoots_it() {
        // A service of capacity 8: linear to 8, flat after. The USL smooths the corner into
        // a peak above anything measured; the sentence must give the measured level.
        let rows: Vec<Measured> = [1, 2, 4, 8, 16, 32]
            .iter()
            .map(|&n| {
                row(
                    n,
                    50.0 * (n.min(8) as f64) * if n > 8 { 0.985 } else { 1.0 },
                    1.0,
                )
            })
            .collect();
        let b = backend(BackendKind::Thread, &rows, Some(8));
        let why = explain(&b, &rows, 2);
        assert!(why.contains("measured flat at about 400 items/s"), "{why}");
        let model = ceiling(b.usl.as_ref().unwrap(), b.scaling.as_ref().unwrap().optimum);
        assert!(model > 420.0, "the fit overshoots a hard corner: {model}");

        // Still rising at the last throttle: no plateau was measured, the fit's level stands.
        let rising: Vec<Measured> = [1, 2, 4, 8, 16, 32]
            .iter()
            .map(|&n| row(n, 50.0 * n as f64 / (1.0 + 0.02 * (n as f64 - 1.0)), 1.0))
            .collect();
        let b = backend(BackendKind::Thread, &rising, Some(32));
        assert!(
            !explain(&b, &rising, 2).contains("measured flat"),
            "{}",
            explain(&b, &rising, 2)
        );
    }

    #[test]
    fn a_peaked_curve_is_explained_by_coherency() {
        let truth = UslFit {
            sigma: 0.02,
            kappa: 0.01,
            lambda: 50.0,
        };
        let rows: Vec<Measured> = [1, 2, 4, 8, 16, 32]
            .iter()
            .map(|&n| row(n, truth.throughput(n as f64), 1.0))
            .collect();
        let mut b = backend(BackendKind::Thread, &rows, Some(8));
        b.retrograde = true;
        let why = explain(&b, &rows, 2);
        assert!(
            why.starts_with("coherency-limited: the fit peaks at throttle 10"),
            "{why}"
        );
    }
}
