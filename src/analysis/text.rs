//! The analysis as short lines of text: one per backend (knee, peak, fit, SLO) and one for an
//! adaptive search, for the console and `summary.md`.

use super::scaling::{Estimate, Scaling};
use super::{BackendAnalysis, SearchRecord, UslFit};
use crate::format::number;

/// A coefficient with sensible precision: 0.12, 0.034, 2.1e-4.
pub fn coef(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if x >= 0.1 {
        format!("{x:.2}")
    } else if x >= 0.01 {
        format!("{x:.3}")
    } else {
        format!("{x:.1e}")
    }
}

/// One line per backend: knee, peak, and the fit.
pub fn describe_backend(b: &BackendAnalysis) -> String {
    let mut parts = Vec::new();
    if let Some(k) = b.knee {
        parts.push(match b.kneedle {
            Some(kn) => format!("knee at throttle {k} (Kneedle: {kn})"),
            None => format!("knee at throttle {k}"),
        });
    }
    if let Some(t) = b.peak_throttle {
        parts.push(format!(
            "peak goodput {} items/s at {t}",
            number(b.peak_throughput_per_s)
        ));
    }
    if let (Some(fit), Some(s)) = (&b.usl, &b.scaling) {
        parts.push(describe_fit(fit, s));
    }
    if let Some(o) = &b.slo {
        parts.push(if o.feasible.is_empty() {
            "no throttle meets the SLO".to_string()
        } else {
            format!(
                "SLO met at {}",
                o.feasible
                    .iter()
                    .map(usize::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
    }
    format!("{}: {}", b.backend, parts.join("; "))
}

/// The fit in one clause: coefficients with their 95% intervals in brackets, the weighting, the
/// peak or ceiling, the residual and any point left out.
pub fn describe_fit(fit: &UslFit, s: &Scaling) -> String {
    let ci = s.intervals;
    let bracket = |e: Option<Estimate>, show: fn(f64) -> String| {
        e.map(|e| format!(" [{}, {}]", show(e.lo), show(e.hi)))
            .unwrap_or_default()
    };
    let shape = match (s.optimum, s.ceiling_per_s) {
        (Some(n), _) => format!(
            "N*={n}{}, predicted peak {} items/s",
            bracket(ci.and_then(|c| c.n_star), |x| format!("{x:.0}")),
            number(s.predicted_peak_per_s.unwrap_or(0.0))
        ),
        (None, Some(c)) => format!("no peak within reach; ceiling λ/σ = {} items/s", number(c)),
        (None, None) => "no peak within reach; no ceiling (linear)".to_string(),
    };
    let mut text = format!(
        "USL σ={}{} κ={}{} λ={}{} items/s ({}{}): {shape} (fit residual {:.1}%)",
        coef(fit.sigma),
        bracket(ci.map(|c| c.sigma), coef),
        coef(fit.kappa),
        bracket(ci.map(|c| c.kappa), coef),
        number(fit.lambda),
        bracket(ci.map(|c| c.lambda), number),
        s.weights.describe(),
        if ci.is_some() {
            "; 95% intervals in brackets"
        } else {
            ""
        },
        s.residual_pct
    );
    for left in &s.left_out {
        text.push_str(&format!(
            "; left out of the fit: throttle {} ({} items/s)",
            left.throttle,
            number(left.throughput_per_s)
        ));
    }
    text
}

/// `tune: 12 runs (11 probes + baseline) vs 257 for a full 1..256 sweep (5%)`.
pub fn describe_search(s: &SearchRecord) -> String {
    format!(
        "tune on {}: {} runs vs {} for a full 1..{} integer sweep ({:.0}%); probed {}; {}",
        s.backend,
        s.runs,
        s.full_sweep_runs,
        s.max_limit,
        s.runs as f64 / s.full_sweep_runs.max(1) as f64 * 100.0,
        s.probes
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        s.outcome
    )
}
