//! How much of a change the machine explains: each run's noise probes (one after every point)
//! are compared around the point and over the whole run, and the drift they show is turned into
//! the share of a metric's change that a busier machine alone would cause.

use super::bootstrap;
use super::compare::{samples, PointKey};
use super::metric::Metric;
use crate::analysis::noise::{Drift, NoiseSample};
use crate::results::SweepResult;

/// The probes taken right after one point's repetitions (where the probes line up with the
/// points), so a burst of load during that point is seen even when the run's average is calm.
fn probes_of(sweep: &SweepResult, noise: &[NoiseSample], key: PointKey) -> Vec<NoiseSample> {
    if noise.len() != sweep.points.len() {
        return Vec::new();
    }
    sweep
        .points
        .iter()
        .zip(noise)
        .filter(|(p, _)| p.backend == key.backend && p.throttle == key.throttle)
        .map(|(_, s)| *s)
        .collect()
}

/// The drift that applies to a point: the larger of the drift around that point and over the
/// whole run, part by part.
pub fn point_drift(
    (base, base_noise): (&SweepResult, &[NoiseSample]),
    (current, current_noise): (&SweepResult, &[NoiseSample]),
    key: PointKey,
) -> Option<Drift> {
    let global = Drift::between(base_noise, current_noise);
    let local = Drift::between(
        &probes_of(base, base_noise, key),
        &probes_of(current, current_noise, key),
    );
    match (local, global) {
        (Some(l), Some(g)) => Some(Drift {
            delay_ms: l.delay_ms.max(g.delay_ms),
            delay_max_ms: l.delay_max_ms.max(g.delay_max_ms),
            cpu_slowdown: l.cpu_slowdown.max(g.cpu_slowdown),
        }),
        (l, g) => l.or(g),
    }
}

/// The part of a metric's worsening that the machine's own drift explains, given how this
/// point's items spend their time (waiting or computing: their CPU share). Memory and the error
/// rate are not affected.
pub fn allowance(base: &SweepResult, key: PointKey, metric: Metric, drift: Option<&Drift>) -> f64 {
    let Some(drift) = drift else {
        return 0.0;
    };
    let item_ms = |m: Metric| bootstrap::mean(&samples(base, key, m));
    let share = cpu_share(base, key);
    match metric {
        Metric::Goodput | Metric::LatencyP50 => drift.explains(item_ms(Metric::LatencyP50), share),
        Metric::LatencyP99 => drift.explains(item_ms(Metric::LatencyP99), share),
        Metric::PeakRss | Metric::ErrorRate => 0.0,
    }
}

/// CPU time per item ÷ mean item time at this point of the baseline run, 0..1: near 0 for
/// sleeping or I/O items, near 1 for computing ones.
pub fn cpu_share(base: &SweepResult, key: PointKey) -> f64 {
    let shares: Vec<f64> = base
        .points
        .iter()
        .filter(|p| p.backend == key.backend && p.throttle == key.throttle && p.items > 0)
        .filter_map(|p| {
            let item_s = p.lat_mean_ms? / 1000.0;
            let cpu_per_item = (p.cpu_user_s + p.cpu_sys_s) / p.items as f64;
            (item_s > 0.0).then(|| (cpu_per_item / item_s).clamp(0.0, 1.0))
        })
        .collect();
    if shares.is_empty() {
        0.0
    } else {
        bootstrap::mean(&shares)
    }
}

/// Items under this time are too short for the probe's millisecond sleeps to speak for: a
/// 0.3 ms overrun would excuse a doubling of a 0.3 ms item.
pub const SUB_MS_ITEM: f64 = 1.0;

/// The allowance as applied: for items under 1 ms it never excuses, by itself, more than the
/// noise threshold (so a change must exceed twice the threshold to be excused entirely).
pub fn capped(allowance: f64, item_ms: f64, threshold: f64) -> f64 {
    if item_ms > 0.0 && item_ms < SUB_MS_ITEM {
        allowance.min(threshold)
    } else {
        allowance
    }
}
