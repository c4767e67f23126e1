//! Which throttle to use. One rule, shared by `run` (over the swept throttles) and `tune` (over
//! the throttles it probed): the smallest throttle that meets the SLO and the error budget whose
//! goodput is within 95% of the best such throttle's. Then the overall pick across backends: the
//! backend whose own pick gives the most goodput, or the throttle closest to an SLO nobody
//! meets, or why there is no recommendation at all. Backends whose picks cannot be told apart
//! (within 3%, or their repetitions overlap) are not ranked by a median that noise decides: the
//! one that spends the least CPU per item is chosen, and the sentence says so.

use super::{error_budget, explain, knee, BackendAnalysis, Measured, Recommendation, Slo};
use crate::format::{number, percent};

/// Backends whose picks are this close in goodput count as equal.
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

/// The pick's CPU seconds per successful item: the cost a tie is broken on.
fn cpu_per_item(m: &Measured) -> Option<f64> {
    (m.goodput_per_s > 0.0 && m.cpu_cores > 0.0).then(|| m.cpu_cores / m.goodput_per_s)
}

/// Whether `m` cannot be told apart from `best`: within 3% of its median, or reaching into the
/// range of its repetitions.
fn indistinct(m: &Measured, best: &Measured) -> bool {
    m.goodput_per_s >= SAME_THROUGHPUT * best.goodput_per_s
        || (m.goodput_hi > 0.0 && m.goodput_hi >= best.goodput_lo)
}

/// The overall pick: the backend whose own pick gives the most goodput; of picks that cannot be
/// told apart from it, the cheapest in CPU per item (then the lower throttle). With an SLO
/// nobody meets, the closest throttle, said so. `Err` says why there is no recommendation.
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
        .max_by(|a, b| a.1.goodput_per_s.total_cmp(&b.1.goodput_per_s))
        .map(|(_, m, _)| *m);
    let tied: Vec<&(&BackendAnalysis, &Measured, &[Measured])> = match best {
        Some(best) => picks
            .iter()
            .filter(|(_, m, _)| indistinct(m, best))
            .collect(),
        None => Vec::new(),
    };
    let cost = |m: &Measured| cpu_per_item(m).unwrap_or(f64::INFINITY);
    let chosen = tied.iter().copied().min_by(|a, b| {
        let (ca, cb) = (cost(a.1), cost(b.1));
        // CPU figures within 3% of each other are equal too: then the lower throttle.
        if ca.is_finite() && cb.is_finite() && (ca - cb).abs() <= 0.03 * ca.max(cb) {
            a.1.throttle.cmp(&b.1.throttle)
        } else {
            ca.total_cmp(&cb).then(a.1.throttle.cmp(&b.1.throttle))
        }
    });
    let tie_note = |chosen: &BackendAnalysis| -> String {
        if tied.len() < 2 {
            return String::new();
        }
        let named = tied
            .iter()
            .map(|(b, m, _)| {
                let cpu = cpu_per_item(m)
                    .map(|c| format!(", {} ms CPU/item", number(c * 1000.0)))
                    .unwrap_or_default();
                format!("{} {}/s{cpu}", b.backend, number(m.goodput_per_s))
            })
            .collect::<Vec<_>>()
            .join("; ");
        format!(
            ". {named}: their goodputs cannot be told apart (within 3% or overlapping \
             repetitions), so {} was chosen as the cheapest in CPU per item",
            chosen.backend
        )
    };
    if let Some(&(b, m, rows)) = chosen {
        return Ok(Recommendation {
            backend: b.backend,
            throttle: m.throttle,
            summary: explain::summary(b, rows, m, slo, cores) + &tie_note(b) + ".",
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
            "No throttle meets the SLO ({slo}): the closest is throttle {} on {} with p99 {} ms at {} successful items/s.",
            m.throttle,
            b.backend,
            number(p99),
            number(m.goodput_per_s)
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::BackendKind;

    /// A backend whose pick at `throttle` reached `goodput` (repetitions `lo`..`hi`) keeping
    /// `cores` busy.
    fn picked(
        kind: BackendKind,
        throttle: usize,
        (goodput, lo, hi): (f64, f64, f64),
        cores: f64,
    ) -> (BackendAnalysis, Vec<Measured>) {
        let m = Measured {
            throttle,
            goodput_per_s: goodput,
            goodput_lo: lo,
            goodput_hi: hi,
            cpu_cores: cores,
            p99_ms: Some(5.0),
            ..Measured::default()
        };
        let b = BackendAnalysis {
            backend: kind,
            usl: None,
            knee: Some(throttle),
            kneedle: None,
            scaling: None,
            peak_throttle: Some(throttle),
            peak_throughput_per_s: goodput,
            peak_cpu_cores: cores,
            retrograde: false,
            slo: None,
            recommended: Some(throttle),
        };
        (b, vec![m])
    }

    fn pick(entries: Vec<(BackendAnalysis, Vec<Measured>)>) -> Recommendation {
        let (backends, tables): (Vec<_>, Vec<_>) = entries.into_iter().unzip();
        recommend(&backends, &tables, None, 2).unwrap()
    }

    #[test]
    fn overlapping_backends_are_said_to_tie_and_the_cheapest_per_item_is_chosen() {
        // The sha256sum comparison: process-per-item's median is lowest, but its repetitions
        // reach those of the others; it also costs the most CPU per item.
        let r = pick(vec![
            picked(BackendKind::Thread, 4, (1152.0, 900.0, 1250.0), 1.5),
            picked(BackendKind::Process, 4, (1163.0, 950.0, 1300.0), 1.7),
            picked(BackendKind::ProcessPerItem, 4, (1018.0, 800.0, 1200.0), 1.9),
        ]);
        assert_eq!(r.backend, BackendKind::Thread, "{}", r.summary);
        assert!(r.summary.contains("cannot be told apart"), "{}", r.summary);
        assert!(
            r.summary.contains("cheapest in CPU per item"),
            "{}",
            r.summary
        );
        assert!(
            r.summary.contains("process-per-item 1018/s"),
            "{}",
            r.summary
        );
    }

    #[test]
    fn a_clearly_faster_backend_wins_without_a_tie_note() {
        let r = pick(vec![
            picked(BackendKind::Thread, 4, (600.0, 580.0, 620.0), 0.5),
            picked(BackendKind::Process, 4, (1160.0, 1150.0, 1170.0), 1.7),
        ]);
        assert_eq!(r.backend, BackendKind::Process, "{}", r.summary);
        assert!(!r.summary.contains("told apart"), "{}", r.summary);
    }
}
