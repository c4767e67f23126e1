//! Which throttle to use. One rule, shared by `run` (over the swept throttles) and `tune` (over
//! the throttles it probed): the smallest throttle that meets the SLO and the error budget whose
//! goodput is within 95% of the best such throttle's. Then the overall pick across backends: the
//! backend whose own pick gives the most goodput, or the throttle closest to an SLO nobody
//! meets, or why there is no recommendation at all.

use super::{error_budget, explain, knee, BackendAnalysis, Measured, Recommendation, Slo};
use crate::format::{number, percent};

/// Backends whose picks are this close in goodput count as equal; the lower throttle wins.
const SAME_THROUGHPUT: f64 = 0.97;

/// Whether a throttle may be recommended: it meets the SLO (whose `errors=` bound, else 1%, is
/// its error budget), or without an SLO stays within the default error budget.
pub fn feasible(m: &Measured, slo: Option<&Slo>) -> bool {
    match slo {
        Some(slo) => slo.met(m),
        None => m.within_budget(error_budget(None)),
    }
}

/// The rule, on throttles already known to be feasible: the smallest whose goodput is within
/// 95% of the best, or whose repetitions overlap the best's (`knee::knee_within_noise`).
pub fn smallest_near_best<'a>(feasible: impl IntoIterator<Item = &'a Measured>) -> Option<usize> {
    let curve: Vec<(usize, f64, f64, f64)> = feasible
        .into_iter()
        .map(|m| (m.throttle, m.goodput_per_s, m.goodput_lo, m.goodput_hi))
        .collect();
    knee::knee_within_noise(&curve)
}

/// One backend's pick among its throttles `rows` (all of them, the infeasible ones too).
pub fn pick_throttle(rows: &[Measured], slo: Option<&Slo>) -> Option<usize> {
    smallest_near_best(rows.iter().filter(|m| feasible(m, slo)))
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
        return Ok(Recommendation {
            backend: b.backend,
            throttle: m.throttle,
            summary: explain::summary(b, rows, m, slo, cores),
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
