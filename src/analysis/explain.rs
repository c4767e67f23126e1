//! The recommendation in the words a capacity planner uses, every figure checked against the
//! measured points: where goodput stops growing, what happens past the recommended throttle and
//! the figures at it come first, from the measurements alone; the scalability fit follows as
//! evidence, named as the model's, and said to disagree when its level is further from the
//! measured best than its own residual.

use super::knee::PEAK_SHARE;
use super::pick::smallest_near_best;
use super::text::coef;
use super::{error_budget, BackendAnalysis, Measured, Scaling, Slo, UslFit};
use crate::format::{maybe, number, percent};

/// Goodput past the peak below this share of it is a fall, not the noise of a plateau (the
/// same line as `BackendAnalysis::retrograde`).
pub const FALL: f64 = 0.90;
/// A p99 this many times the pick's counts as latency growing.
const LATENCY_GROWS: f64 = 1.2;
/// Quoted figures are rounded to about this share: a smaller disagreement cannot be shown.
const ROUNDING_PCT: f64 = 1.0;

/// The sentence for the recommended throttle `pick` of backend `b`; `rows` are all its
/// throttles, those over the error budget too, ascending.
pub fn summary(
    b: &BackendAnalysis,
    rows: &[Measured],
    pick: &Measured,
    slo: Option<&Slo>,
    cores: usize,
) -> String {
    let budget = error_budget(slo);
    let done: Vec<&Measured> = rows.iter().filter(|m| m.within_budget(budget)).collect();
    let mut plain = vec![growth(&done)];
    plain.extend(past_pick(rows, pick, slo, budget, falls(&done).is_some()));
    format!(
        "Use throttle {} on {}: {}. At {}: {}. {}; at its peak the process kept {:.2} of {cores} cores busy",
        pick.throttle,
        b.backend,
        plain.join("; "),
        pick.throttle,
        at_pick(&done, pick, slo),
        fit_evidence(b, &done),
        b.peak_cpu_cores
    )
}

/// The throttle with the most goodput; of equals, the smallest.
fn best<'a>(done: &[&'a Measured]) -> Option<&'a Measured> {
    done.iter().copied().max_by(|a, b| {
        a.goodput_per_s
            .total_cmp(&b.goodput_per_s)
            .then(b.throttle.cmp(&a.throttle))
    })
}

/// Where goodput stops growing, and whether it falls after its peak, from the throttles that
/// did their work (`done`, ascending). A level is only ever placed at or between measured
/// throttles: a sweep that doubles cannot say more than "between 4 and 8".
pub fn growth(done: &[&Measured]) -> String {
    let (Some(peak), Some(first), Some(last)) = (best(done), done.first(), done.last()) else {
        return "no throttle did its work within the error budget".into();
    };
    if done.len() == 1 {
        return format!(
            "only throttle {} was measured within the error budget ({} successful items/s)",
            first.throttle,
            number(first.goodput_per_s)
        );
    }
    let knee = smallest_near_best(done.iter().copied()).unwrap_or(peak.throttle);
    let level = number(peak.goodput_per_s);
    let mut text = if knee == last.throttle {
        let before = done[done.len() - 2];
        format!(
            "goodput was still growing at the highest throttle measured ({} successful items/s at {}, {} at {}): higher throttles may give more",
            number(before.goodput_per_s),
            before.throttle,
            number(last.goodput_per_s),
            last.throttle
        )
    } else if knee == first.throttle {
        format!(
            "goodput does not grow with concurrency: {} in flight already gives {} successful items/s, within {:.0}% of the best measured ({level})",
            first.throttle,
            number(first.goodput_per_s),
            (1.0 - PEAK_SHARE) * 100.0
        )
    } else {
        let before = done
            .iter()
            .rev()
            .find(|m| m.throttle < knee)
            .map_or(1, |m| m.throttle);
        let place = if knee - before == 1 {
            format!("at {knee} in flight")
        } else {
            format!("between {before} and {knee} in flight")
        };
        format!("goodput stops growing {place}, at about {level} successful items/s")
    };
    if let Some((peak, last)) = falls(done) {
        text.push_str(&format!(
            ", and falls past {} (to {} at {})",
            peak.throttle,
            number(last.goodput_per_s),
            last.throttle
        ));
    }
    text
}

/// The peak and the highest throttle, when goodput there fell below `FALL` of the peak.
fn falls<'a>(done: &[&'a Measured]) -> Option<(&'a Measured, &'a Measured)> {
    let (peak, last) = (best(done)?, *done.last()?);
    (last.throttle > peak.throttle && last.goodput_per_s < FALL * peak.goodput_per_s)
        .then_some((peak, last))
}

/// What the throttles above the pick gave: more goodput the SLO rules out, or only latency, or
/// a fall (unless `fall_told` already), and failures. `None` when nothing above the pick was
/// measured.
pub fn past_pick(
    rows: &[Measured],
    pick: &Measured,
    slo: Option<&Slo>,
    budget: f64,
    fall_told: bool,
) -> Option<String> {
    let above: Vec<&Measured> = rows.iter().filter(|m| m.throttle > pick.throttle).collect();
    let done: Vec<&Measured> = above
        .iter()
        .copied()
        .filter(|m| m.within_budget(budget))
        .collect();
    let mut parts = Vec::new();
    let breaks_slo = |m: &Measured| slo.is_some_and(|s| !s.met(m));
    let mut slo_named = false;
    if let (Some(top), Some(last)) = (best(&done), done.last()) {
        if top.goodput_per_s * PEAK_SHARE > pick.goodput_per_s {
            let why = match slo {
                Some(s) if breaks_slo(top) => {
                    slo_named = true;
                    format!("but break the SLO ({})", s.quote(top))
                }
                _ => "within the spread of its repetitions".into(),
            };
            parts.push(format!(
                "higher throttles measured more goodput ({} successful items/s at {}) {why}",
                number(top.goodput_per_s),
                top.throttle
            ));
        } else {
            let low = done
                .iter()
                .copied()
                .min_by(|a, b| a.goodput_per_s.total_cmp(&b.goodput_per_s))
                .filter(|m| !fall_told && m.goodput_per_s < FALL * pick.goodput_per_s);
            let fall = low.map(|m| {
                format!(
                    "goodput falls (to {} at {})",
                    number(m.goodput_per_s),
                    m.throttle
                )
            });
            let latency = match (pick.p99_ms, last.p99_ms) {
                (Some(a), Some(z)) if z > LATENCY_GROWS * a => Some(format!(
                    "p99 {} ms at {}, {} ms at {}",
                    number(a),
                    pick.throttle,
                    number(z),
                    last.throttle
                )),
                _ => None,
            };
            let t = pick.throttle;
            parts.extend(match (fall, latency) {
                (None, Some(l)) if fall_told => Some(format!("past {t} latency grows ({l})")),
                (None, Some(l)) => Some(format!("past {t} only latency grows ({l})")),
                (Some(f), Some(l)) => Some(format!("past {t} {f} and latency grows ({l})")),
                (Some(f), None) => Some(format!("past {t} {f}")),
                (None, None) if fall_told => None,
                (None, None) => Some(format!(
                    "past {t} neither goodput nor latency changes much (measured up to {})",
                    last.throttle
                )),
            });
        }
    }
    if let (Some(s), false) = (slo, slo_named) {
        if let Some(m) = done.iter().find(|m| breaks_slo(m)) {
            parts.push(format!("the SLO breaks at {} ({})", m.throttle, s.quote(m)));
        }
    }
    if let Some(m) = above.iter().find(|m| !m.within_budget(budget)) {
        parts.push(format!(
            "at {}, {}% of items failed",
            m.throttle,
            percent(m.error_share * 100.0)
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// The pick's own figures: its share of the best goodput measured, its latency against the SLO,
/// its errors.
fn at_pick(done: &[&Measured], pick: &Measured, slo: Option<&Slo>) -> String {
    let top = best(done).map_or(0.0, |m| m.goodput_per_s);
    let share = if top > 0.0 {
        pick.goodput_per_s / top * 100.0
    } else {
        0.0
    };
    let latency = match slo {
        Some(slo) => slo.quote(pick),
        None => format!("p99 {} ms", maybe(pick.p99_ms, number)),
    };
    let errors = if pick.error_share > 0.0 {
        format!(", {}% errors", percent(pick.error_share * 100.0))
    } else {
        String::new()
    };
    format!(
        "{share:.0}% of the best goodput measured ({} successful items/s), {latency}{errors}",
        number(pick.goodput_per_s)
    )
}

/// The USL fit as evidence: its coefficients and residual, what it predicts, and whether that
/// agrees with the measurements. A peak the fit bends to inside the sweep is a fall the
/// measurements must show; a level further from the best measured than the residual (or than
/// the quoted figures' rounding) is said to be off, by how much.
pub fn fit_evidence(b: &BackendAnalysis, done: &[&Measured]) -> String {
    let (Some(fit), Some(s)) = (&b.usl, &b.scaling) else {
        return "Too few throttles were measured for a scalability fit".into();
    };
    let (Some(peak), Some(first), Some(last)) = (best(done), done.first(), done.last()) else {
        return "No throttle within the error budget to fit".into();
    };
    let name = format!(
        "The USL fit (contention σ={}, coherency κ={}; residual {:.1}%)",
        coef(fit.sigma),
        coef(fit.kappa),
        s.residual_pct
    );
    let (lowest, highest) = (first.throttle, last.throttle);
    if let Some(n) = s.unplaced_peak(lowest as f64, highest as f64) {
        return format!(
            "{name} cannot place a peak: N*'s 95% interval, {:.0} to {:.0}, is wider than the sweep ({lowest} to {highest})",
            n.lo, n.hi
        );
    }
    let fell = falls(done).is_some();
    let level = model_level(fit, s.optimum);
    let says = match (s.optimum, s.ceiling_per_s) {
        (Some(n), _) if fell => format!(
            "predicts a peak of {} items/s at {n} in flight and a fall past it, as measured",
            number(level)
        ),
        (Some(n), _) if n < highest => format!(
            "bends over at {n} in flight ({} items/s) and falls past it, which the measurements do not show up to {highest}: the smooth model rounds off a hard limit",
            number(level)
        ),
        (Some(n), _) => format!(
            "predicts a peak of {} items/s at {n} in flight, beyond the highest throttle measured",
            number(level)
        ),
        (None, Some(c)) => format!("levels off at λ/σ = {} items/s", number(c)),
        (None, None) => "grows linearly: it sees no limit".into(),
    };
    let still_rising = smallest_near_best(done.iter().copied()) == Some(highest);
    let bent_inside = !fell && s.optimum.is_some_and(|n| n < highest);
    let verdict = verdict(fit, s, done, peak, level, (still_rising, bent_inside));
    format!("{name} {says}{verdict}")
}

/// How the fit's level compares with the best measured point. Within the quoted figures'
/// rounding it is in line; a level below a measured point is said to underestimate whatever the
/// residual (goodput was measured above where the model says it stops); a level above is the
/// fit overshooting only when its predictions at the measured throttles overshoot too — a peak
/// between two measured throttles may well be higher than both. `bent_inside`: the fit peaks
/// inside the sweep where the measurements show no fall, which the sentence has said already.
fn verdict(
    fit: &UslFit,
    s: &Scaling,
    done: &[&Measured],
    peak: &Measured,
    level: f64,
    (still_rising, bent_inside): (bool, bool),
) -> String {
    if !level.is_finite() {
        return String::new();
    }
    let tolerance = s.residual_pct.max(ROUNDING_PCT) / 100.0;
    let off = (level - peak.goodput_per_s) / peak.goodput_per_s;
    let pct = off.abs() * 100.0;
    let best = format!(
        "the best measured ({} items/s at {})",
        number(peak.goodput_per_s),
        peak.throttle
    );
    let at_measured = done
        .iter()
        .map(|m| fit.throughput(m.throttle as f64))
        .fold(0.0, f64::max);
    let overshoots_measured = at_measured > peak.goodput_per_s * (1.0 + tolerance);
    let unmeasured = s.optimum.filter(|n| !done.iter().any(|m| m.throttle == *n));
    if off.abs() <= ROUNDING_PCT / 100.0 {
        format!(", in line with {best}")
    } else if off < 0.0 {
        // Goodput was measured above where the model says it tops out: whatever the residual,
        // the measurement wins.
        format!(", {pct:.0}% below {best}: the fit underestimates; read σ and κ as indications")
    } else if bent_inside {
        // The sentence already says the model rounds off a limit the measurements show flat.
        format!(", {pct:.0}% above {best}")
    } else if still_rising {
        format!(", above {best}: the sweep stopped before the limit")
    } else if overshoots_measured {
        format!(", {pct:.0}% above {best}, more than its residual: the fit overshoots the measured limit")
    } else if let Some(n) = unmeasured {
        format!(", {pct:.0}% above {best}, at {n}, a throttle not measured")
    } else if off > tolerance {
        format!(", {pct:.0}% above {best}, more than its residual: the fit overshoots the measured limit")
    } else {
        format!(", {pct:.0}% above {best}, within its residual")
    }
}

/// The throughput the model levels off at: its peak, λ/σ, or unbounded.
pub fn model_level(fit: &UslFit, optimum: Option<usize>) -> f64 {
    match optimum {
        Some(n) => fit.throughput(n as f64),
        None if fit.sigma > 0.0 => fit.lambda / fit.sigma,
        None => f64::INFINITY,
    }
}

#[cfg(test)]
#[path = "explain_tests.rs"]
mod tests;
