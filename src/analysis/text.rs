//! The analysis as short lines of text: one per backend (measured peak and knee, SLO, then the
//! fit) and one for an adaptive search, for the console and `summary.md`.

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

/// One line per backend: the measured peak and where goodput reaches 95% of it, the SLO, then
/// the fit.
pub fn describe_backend(b: &BackendAnalysis) -> String {
    let mut parts = Vec::new();
    if let Some(t) = b.peak_throttle {
        parts.push(format!(
            "best goodput {} successful items/s at {t}",
            number(b.peak_throughput_per_s)
        ));
    }
    if let Some(k) = b.knee {
        parts.push(match b.kneedle {
            Some(kn) => format!("within 95% of it from throttle {k} (Kneedle's bend: {kn})"),
            None => format!("within 95% of it from throttle {k}"),
        });
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
    if let (Some(fit), Some(s)) = (&b.usl, &b.scaling) {
        parts.push(describe_fit(fit, s));
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

/// `tune on thread: 8 runs vs 10 for the doubling sweep 1..256 and vs 257 for a full 1..256
/// integer sweep (3%); probed …; how the search went`.
pub fn describe_search(s: &SearchRecord) -> String {
    let doubling = if s.doubling_sweep_runs > 0 {
        format!(
            " vs {} for the doubling sweep 1..{} (run --limits 1..{}) and",
            s.doubling_sweep_runs, s.max_limit, s.max_limit
        )
    } else {
        String::new()
    };
    format!(
        "tune on {}: {} runs{doubling} vs {} for a full 1..{} integer sweep ({:.0}%); probed {}; {}",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::BackendKind;

    #[test]
    fn a_search_is_held_against_the_sweeps_a_user_would_run() {
        let mut s = SearchRecord::new(BackendKind::Thread, 256, 1);
        assert_eq!((s.doubling_sweep_runs, s.full_sweep_runs), (10, 257));
        s.runs = 8;
        s.probes = vec![1, 2, 4, 8, 16, 6, 5];
        assert!(
            describe_search(&s).starts_with(
                "tune on thread: 8 runs vs 10 for the doubling sweep 1..256 (run --limits 1..256) and vs 257 for a full 1..256 integer sweep (3%); probed 1, 2, 4, 8, 16, 6, 5"
            ),
            "{}",
            describe_search(&s)
        );
        let three = SearchRecord::new(BackendKind::Thread, 100, 3);
        assert_eq!(
            (three.doubling_sweep_runs, three.full_sweep_runs),
            (27, 303)
        );
        // A results file written before the doubling sweep was kept says nothing about it.
        s.doubling_sweep_runs = 0;
        assert!(describe_search(&s).starts_with("tune on thread: 8 runs vs 257"));
    }
}
