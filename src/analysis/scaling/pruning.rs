//! Leaving one stalled point out of the fit. On a shared machine another process can stall one
//! point of a sweep; left in, that one point bends σ and κ for every other throttle. A point is
//! left out only when all of this holds:
//!
//! - the sweep has at least 8 distinct loads, so the fit keeps enough to stand on;
//! - it is neither the lowest load, nor the highest, nor the measured peak: those anchor the
//!   curve's start, its end and its top, and a fall at high load is retrograde scaling to fit,
//!   not an accident;
//! - it lies *below* the curve the other points draw (a stall loses throughput, nothing finds
//!   extra), by more than 15% and by more than three times their RMS residual.
//!
//! Of several such points, the one whose absence lets the others fit best goes.

use super::{fit_with, rms_residual, FitWeights, LeftOut};
use crate::format::number;

/// Fewer distinct loads than this: every point stays.
pub const MIN_LOADS_TO_PRUNE: usize = 8;
const MIN_MISS: f64 = 0.15;
const MISS_OVER_RMS: f64 = 3.0;

/// The point to leave out of the fit, if one qualifies, with the reason.
pub fn stalled_point(points: &[(f64, f64)], weights: FitWeights) -> Option<(usize, LeftOut)> {
    if super::distinct_loads(points) < MIN_LOADS_TO_PRUNE {
        return None;
    }
    let lowest = points.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
    let highest = points.iter().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
    let peak = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let mut best: Option<(f64, usize, LeftOut)> = None;
    for (i, &(n, x)) in points.iter().enumerate() {
        if n == lowest || n == highest || x == peak {
            continue;
        }
        let rest: Vec<(f64, f64)> = points
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(_, p)| *p)
            .collect();
        let Some(fit) = fit_with(&rest, weights) else {
            continue;
        };
        let predicted = fit.throughput(n);
        let miss = (predicted - x) / predicted;
        let rms = rms_residual(&fit, &rest);
        if !(predicted > x && miss > MIN_MISS.max(MISS_OVER_RMS * rms)) {
            continue;
        }
        if best.as_ref().map_or(true, |b| rms < b.0) {
            let reason = format!(
                "{:.0}% below the curve the other points draw ({} predicted; their RMS residual is {:.1}%): a stall?",
                miss * 100.0,
                number(predicted),
                rms * 100.0
            );
            let left = LeftOut {
                throttle: n,
                throughput_per_s: x,
                predicted_per_s: predicted,
                reason,
            };
            best = Some((rms, i, left));
        }
    }
    best.map(|(_, i, left)| (i, left))
}

#[cfg(test)]
mod tests {
    use crate::analysis::scaling::{analyse, fit_robust, synthetic, FitOptions, FitWeights};
    use crate::analysis::UslFit;

    fn peaked(throttles: &[usize]) -> Vec<(f64, f64)> {
        let truth = UslFit {
            sigma: 0.05,
            kappa: 0.002,
            lambda: 100.0,
        };
        synthetic(truth, throttles, 0.01, 3)
    }

    #[test]
    fn one_stalled_point_is_left_out_of_the_fit_with_its_reason() {
        let mut data = peaked(&[1, 2, 4, 8, 12, 16, 32, 64]);
        data[2].1 /= 3.0;
        let (got, s) = analyse(&data, FitOptions::default()).unwrap();
        assert_eq!(s.left_out.len(), 1, "{s:?}");
        assert_eq!(
            (s.left_out[0].throttle, s.left_out[0].throughput_per_s),
            data[2]
        );
        assert!(s.left_out[0].reason.contains("below the curve"), "{s:?}");
        assert_eq!(s.points, 7);
        let n = ((1.0 - got.sigma) / got.kappa).sqrt();
        assert!((n - 21.8).abs() / 21.8 < 0.1, "{got:?}");
        // --usl-keep-all keeps it.
        let keep = FitOptions {
            keep_all: true,
            ..FitOptions::default()
        };
        let (_, s) = analyse(&data, keep).unwrap();
        assert!(s.left_out.is_empty() && s.points == 8);
        // Clean data keeps every point.
        let clean = peaked(&[1, 2, 4, 8, 12, 16, 32, 64]);
        assert_eq!(fit_robust(&clean, FitWeights::Equal).unwrap().1, None);
    }

    #[test]
    fn the_ends_the_peak_and_points_above_the_curve_always_stay() {
        let throttles = [1, 2, 4, 8, 12, 16, 32, 64];
        let mut tests = Vec::new();
        for (i, factor) in [(0, 0.3), (7, 0.3), (3, 1.8)] {
            let mut data = peaked(&throttles);
            data[i].1 *= factor;
            tests.push(data);
        }
        // The measured peak, even when it sits below the curve the others draw.
        let mut data = peaked(&throttles);
        for p in data.iter_mut().filter(|p| p.0 != 16.0) {
            p.1 *= 0.5;
        }
        tests.push(data);
        for data in tests {
            let (_, left) = fit_robust(&data, FitWeights::Equal).unwrap();
            assert_eq!(left, None, "{data:?}");
        }
        // Fewer than 8 distinct loads: nothing is left out.
        let mut data = peaked(&[1, 2, 4, 8, 16, 32, 64]);
        data[2].1 /= 3.0;
        assert_eq!(fit_robust(&data, FitWeights::Equal).unwrap().1, None);
    }
}
