//! `tune --rates`: the highest sustainable rate in few points. After the throttle search, the
//! offered rate ramps by doubling from a start — half the closed loop's peak (the USL fit's
//! predicted peak when there is one, else the best goodput measured), within the `--rates`
//! range — until a rate is not sustained (or, from a start already too high, halves until one
//! is), then bisects between the highest sustained and the lowest unsustained rate until they
//! are within 5 % of each other.

use crate::analysis::sustainable;
use crate::backend::BackendKind;
use crate::results::findings::RateOutcome;
use crate::sweep::{PlannedPoint, PointRunner, Step};

/// Bisection stops once the unsustained rate is within this share above the sustained one.
pub const RESOLUTION: f64 = 0.05;

/// The rates probed, in order, and the highest sustained.
#[derive(Debug, Clone, PartialEq)]
pub struct RateSearch {
    pub probes: Vec<f64>,
    pub best: Option<f64>,
}

/// Searches `lo..=hi` from `start`; `probe` says whether a rate was sustained, `None` when the
/// run was interrupted (the search then ends with what it has).
pub fn search(
    (lo, hi): (f64, f64),
    start: f64,
    mut probe: impl FnMut(f64) -> anyhow::Result<Option<bool>>,
) -> anyhow::Result<RateSearch> {
    let mut probes = Vec::new();
    let (mut good, mut bad): (Option<f64>, Option<f64>) = (None, None);
    let mut rate = start.clamp(lo, hi);
    loop {
        probes.push(rate);
        let Some(sustained) = probe(rate)? else {
            return Ok(RateSearch { probes, best: good });
        };
        if sustained {
            good = Some(rate);
        } else {
            bad = Some(rate);
        }
        rate = match (sustained, good, bad) {
            (true, _, None) if rate < hi => (rate * 2.0).min(hi),
            (false, None, _) if rate > lo => (rate / 2.0).max(lo),
            _ => break,
        };
    }
    while let (Some(g), Some(b)) = (good, bad) {
        if b <= g * (1.0 + RESOLUTION) {
            break;
        }
        let mid = round((g * b).sqrt());
        if mid <= g || mid >= b {
            break;
        }
        probes.push(mid);
        match probe(mid)? {
            None => break,
            Some(true) => good = Some(mid),
            Some(false) => bad = Some(mid),
        }
    }
    Ok(RateSearch { probes, best: good })
}

/// Whole rates where they are large enough for it not to matter.
fn round(rate: f64) -> f64 {
    if rate >= 20.0 {
        rate.round()
    } else {
        rate
    }
}

/// Runs the rate search on `backend` through `runner`, every repetition of each rate, telling
/// `heard` each rate's outcome.
pub fn run(
    runner: &mut PointRunner<'_>,
    backend: BackendKind,
    heard: &mut dyn FnMut(&RateOutcome),
) -> anyhow::Result<Option<RateSearch>> {
    let spec = runner.spec().clone();
    let Some(open) = spec.sweep.open_loop.as_ref() else {
        return Ok(None);
    };
    let lo = open.rates.first().copied().unwrap_or(1.0);
    let hi = open.rates.last().copied().unwrap_or(lo);
    let analysis = crate::analysis::analyze(runner.sweep());
    let peak = analysis
        .backends
        .iter()
        .find(|b| b.backend == backend)
        .map(|b| {
            b.scaling
                .as_ref()
                .and_then(|s| s.predicted_peak_per_s)
                .unwrap_or(b.peak_throughput_per_s)
        })
        .filter(|p| *p > 0.0);
    let start = peak.map_or(lo, |p| round(p / 2.0));
    let found = search((lo, hi), start, |rate| {
        for repetition in 1..=spec.sweep.repeat {
            let point = PlannedPoint {
                backend,
                throttle: open.max_inflight_on(backend),
                repetition,
                rate: Some(rate),
            };
            if runner.measure(point)? == Step::Interrupted {
                return Ok(None);
            }
        }
        let outcome =
            sustainable::outcomes(&runner.sweep().open_loop, backend, spec.sweep.slo.as_ref())
                .into_iter()
                .find(|r| r.offered_per_s == rate);
        Ok(outcome.map(|o| {
            heard(&o);
            o.sustained
        }))
    })?;
    Ok(Some(found))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capacity(c: f64) -> impl FnMut(f64) -> anyhow::Result<Option<bool>> {
        move |rate| Ok(Some(rate <= c))
    }

    #[test]
    fn doubling_then_bisection_lands_within_the_resolution() {
        let found = search((100.0, 12_800.0), 100.0, capacity(1_000.0)).unwrap();
        let best = found.best.unwrap();
        assert!(
            (1_000.0 / (1.0 + RESOLUTION)..=1_000.0).contains(&best),
            "{found:?}"
        );
        // 100, 200, 400, 800, 1600, then a few bisections: far fewer than a sweep of the range.
        assert!(found.probes.len() <= 10, "{found:?}");
        assert_eq!(&found.probes[..5], &[100.0, 200.0, 400.0, 800.0, 1600.0]);
    }

    #[test]
    fn a_start_above_capacity_halves_down_first() {
        let found = search((100.0, 12_800.0), 6_000.0, capacity(1_000.0)).unwrap();
        assert_eq!(&found.probes[..4], &[6_000.0, 3_000.0, 1_500.0, 750.0]);
        let best = found.best.unwrap();
        assert!((950.0..=1_000.0).contains(&best), "{found:?}");
    }

    #[test]
    fn the_range_bounds_the_search() {
        let all = search((100.0, 400.0), 100.0, capacity(1e9)).unwrap();
        assert_eq!(all.probes, [100.0, 200.0, 400.0]);
        assert_eq!(all.best, Some(400.0));
        let none = search((100.0, 400.0), 100.0, capacity(10.0)).unwrap();
        assert_eq!(none.probes, [100.0]);
        assert_eq!(none.best, None);
    }

    #[test]
    fn an_interrupted_search_keeps_what_it_found() {
        let mut left = 2;
        let found = search((100.0, 12_800.0), 100.0, |_| {
            left -= 1;
            Ok((left >= 0).then_some(true))
        })
        .unwrap();
        assert_eq!(found.best, Some(200.0));
    }
}
