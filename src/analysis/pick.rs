//! The overall pick across backends: the backend whose own pick gives the most goodput, or the
//! throttle closest to an SLO nobody meets, or why there is no recommendation at all.

use super::recommend::explain;
use super::{error_budget, BackendAnalysis, Measured, Recommendation, Slo};
use crate::format::{maybe, number, percent};

/// Backends whose picks are this close in goodput count as equal; the lower throttle wins.
const SAME_THROUGHPUT: f64 = 0.97;

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
