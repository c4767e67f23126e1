//! The baseline and speedups: the sequential baseline's median goodput, every point's speedup
//! against it, and the reason a sweep stops when no baseline item succeeded.

use crate::results::{median, PointResult, SweepResult};

/// Folds a new baseline repetition into the baseline's medians; earlier baseline rows follow
/// the moved median. A repetition without a successful item has no goodput to offer.
pub(crate) fn update_baseline(sweep: &mut SweepResult, result: &PointResult) {
    let earlier = || sweep.points.iter().filter(|p| p.is_baseline());
    let mut rates: Vec<f64> = earlier().map(|p| p.throughput_per_s).collect();
    rates.push(result.throughput_per_s);
    let mut goodputs: Vec<f64> = earlier()
        .chain(std::iter::once(result))
        .filter(|p| p.ok > 0)
        .map(|p| p.goodput_per_s)
        .collect();
    sweep.baseline_throughput_per_s = median(&mut rates);
    sweep.baseline_goodput_per_s = median(&mut goodputs);
    let base = sweep.baseline_goodput_per_s;
    sweep
        .points
        .iter_mut()
        .filter(|p| p.is_baseline())
        .for_each(|p| set_speedup(p, base));
}

/// Speedup is goodput against the baseline's goodput: a point with no successful item, or a
/// baseline without one, has none (not 0, which would read as "measured, and useless").
pub(crate) fn set_speedup(point: &mut PointResult, baseline: Option<f64>) {
    point.speedup = match baseline {
        Some(base) if base > 0.0 && point.ok > 0 => Some(point.goodput_per_s / base),
        _ => None,
    };
    point.efficiency = point.speedup.map(|s| s / point.throttle as f64);
}

/// The line a sweep stops on when no baseline item succeeded: the error kinds seen and one
/// sample message, so the cause is on screen without opening a file.
pub(crate) fn baseline_failed(sweep: &SweepResult) -> String {
    let mut kinds: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for p in sweep.points.iter().filter(|p| p.is_baseline()) {
        for (kind, n) in &p.errors {
            *kinds.entry(kind).or_insert(0) += n;
        }
    }
    let mut by_count: Vec<(&str, u64)> = kinds.into_iter().collect();
    by_count.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
    let kinds = by_count
        .iter()
        .take(3)
        .map(|(k, n)| format!("{k} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sample = sweep
        .points
        .iter()
        .filter(|p| p.is_baseline())
        .flat_map(|p| &p.failures)
        .next()
        .map(|f| format!("; e.g. item {}: {}", f.item, f.message))
        .unwrap_or_default();
    format!(
        "no item of the sequential baseline succeeded ({kinds}{sample}): nothing to measure speedup against, so the sweep stopped; fix the workload, or pass --ignore-failures to measure every point anyway"
    )
}
