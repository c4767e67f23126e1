//! The Universal Scalability Law fit: X(N) = λN / (1 + σ(N−1) + κN(N−1)), σ, κ ∈ [0, 1], λ ≥ 0.
//!
//! The reference fit is plain (unweighted) nonlinear least squares of throughput on load, solved
//! to convergence: what R's `usl` package (`nls(algorithm = "port")` with these bounds) and
//! scipy's `curve_fit` with bounds compute, so every coefficient can be checked against them.
//! Relative weighting (each point by 1/X², for noise proportional to throughput) is an option.
//! Beside the coefficients: their 95% confidence intervals, N* with its interval, the predicted
//! peak or ceiling, and at most one stalled point left out of the fit.

mod intervals;
mod pruning;
mod solver;
mod weights;

pub use crate::results::findings::{Estimate, Intervals, LeftOut, Scaling, UslFit};
pub use crate::spec::FitWeights;
use crate::spec::MAX_THROTTLE;
pub use intervals::LEVEL;
pub use pruning::MIN_LOADS_TO_PRUNE;

/// Fewer distinct throttles than this leave σ and κ undetermined.
pub const MIN_POINTS: usize = 6;
/// An optimum beyond this multiple of the highest measured throttle is extrapolation: the data
/// cannot tell a far-off peak from none.
const REACH: f64 = 4.0;

/// How to fit: the weighting, and whether a stalled point may be left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FitOptions {
    pub weights: FitWeights,
    /// Keep every point, even one that qualifies as stalled.
    pub keep_all: bool,
}

impl Scaling {
    /// N* with its interval, when that interval is wider than the span of loads measured
    /// (`lowest`..`highest`): the fit cannot place the peak, whatever N* itself says.
    pub fn unplaced_peak(&self, lowest: f64, highest: f64) -> Option<Estimate> {
        self.optimum?;
        let n = self.intervals?.n_star?;
        // A NaN or infinite bound places nothing either.
        let placed = (n.hi - n.lo).is_finite() && n.hi - n.lo <= highest - lowest;
        (!placed).then_some(n)
    }
}

/// Fits the USL to (throttle, throughput) pairs by plain least squares. `None` when fewer than
/// two usable points.
pub fn fit(points: &[(f64, f64)]) -> Option<UslFit> {
    fit_with(points, FitWeights::Equal)
}

/// Fits the USL with the given weighting.
pub fn fit_with(points: &[(f64, f64)], weights: FitWeights) -> Option<UslFit> {
    solve(points, weights).map(|(fit, _, _)| fit)
}

/// The points a fit can use (load ≥ 1, throughput > 0), as weighted observations.
fn observations(points: &[(f64, f64)], weights: FitWeights) -> Vec<solver::Observation> {
    points
        .iter()
        .filter(|&&(n, x)| n >= 1.0 && x > 0.0 && n.is_finite() && x.is_finite())
        .map(|&(n, x)| (n, x, weights.weight(x)))
        .collect()
}

fn solve(
    points: &[(f64, f64)],
    weights: FitWeights,
) -> Option<(UslFit, f64, Vec<solver::Observation>)> {
    let usable = observations(points, weights);
    if usable.len() < 2 {
        return None;
    }
    let (fit, rss) = solver::solve(&usable)?;
    Some((fit, rss, usable))
}

/// The fit with at most one stalled point left out (see `pruning`), and that point.
pub fn fit_robust(points: &[(f64, f64)], weights: FitWeights) -> Option<(UslFit, Option<LeftOut>)> {
    match pruning::stalled_point(points, weights) {
        Some((i, left)) => {
            let rest: Vec<(f64, f64)> = points
                .iter()
                .enumerate()
                .filter(|&(j, _)| j != i)
                .map(|(_, p)| *p)
                .collect();
            Some((fit_with(&rest, weights)?, Some(left)))
        }
        None => Some((fit_with(points, weights)?, None)),
    }
}

/// The whole analysis of one curve: the fit (a stalled point left out unless `keep_all`), its
/// intervals and derived figures.
pub fn analyse(points: &[(f64, f64)], options: FitOptions) -> Option<(UslFit, Scaling)> {
    let (fit, left) = if options.keep_all {
        (fit_with(points, options.weights)?, None)
    } else {
        fit_robust(points, options.weights)?
    };
    let kept: Vec<(f64, f64)> = points
        .iter()
        .copied()
        .filter(|&(n, x)| {
            left.as_ref()
                .map_or(true, |l| (l.throttle, l.throughput_per_s) != (n, x))
        })
        .collect();
    let mut scaling = describe(&fit, &kept, options.weights);
    scaling.left_out.extend(left);
    Some((fit, scaling))
}

/// The fit's derived figures on the points it was fitted to: optimum, predicted peak, ceiling,
/// residual, confidence intervals.
pub fn describe(fit: &UslFit, points: &[(f64, f64)], weights: FitWeights) -> Scaling {
    let highest = points.iter().map(|&(n, _)| n).fold(1.0, f64::max);
    let optimum = optimum(fit).filter(|&n| n as f64 <= REACH * highest);
    let usable = observations(points, weights);
    let rss: f64 = usable
        .iter()
        .map(|&(n, x, w)| w * (x - fit.throughput(n)).powi(2))
        .sum();
    Scaling {
        optimum,
        predicted_peak_per_s: optimum.map(|n| fit.throughput(n as f64)),
        ceiling_per_s: (optimum.is_none() && fit.sigma > 0.0).then(|| fit.lambda / fit.sigma),
        residual_pct: rms_residual(fit, points) * 100.0,
        points: distinct_loads(points),
        weights,
        intervals: intervals::confidence(&usable, fit, rss),
        left_out: Vec::new(),
    }
}

/// Root-mean-square of the relative residuals (X − X(N)) / X.
fn rms_residual(fit: &UslFit, points: &[(f64, f64)]) -> f64 {
    let residuals: Vec<f64> = points
        .iter()
        .filter(|&&(_, x)| x > 0.0)
        .map(|&(n, x)| (x - fit.throughput(n)) / x)
        .collect();
    if residuals.is_empty() {
        return 0.0;
    }
    (residuals.iter().map(|r| r * r).sum::<f64>() / residuals.len() as f64).sqrt()
}

/// How many different loads the points hold (repetitions of one load count once).
pub fn distinct_loads(points: &[(f64, f64)]) -> usize {
    let mut distinct: Vec<u64> = points.iter().map(|&(n, _)| n.to_bits()).collect();
    distinct.sort_unstable();
    distinct.dedup();
    distinct.len()
}

/// N* = √((1−σ)/κ), rounded to whichever neighbouring integer the model predicts higher.
pub fn optimum(fit: &UslFit) -> Option<usize> {
    if fit.kappa <= 0.0 {
        return None;
    }
    let n = ((1.0 - fit.sigma).max(0.0) / fit.kappa).sqrt();
    if !n.is_finite() || n > MAX_THROTTLE as f64 {
        return None;
    }
    let (lo, hi) = (n.floor().max(1.0), n.ceil().max(1.0));
    Some(if fit.throughput(hi) > fit.throughput(lo) {
        hi as usize
    } else {
        lo as usize
    })
}

/// Throughputs of `truth` at `throttles` with relative Gaussian noise, seeded: the fit's tests'
/// data.
#[cfg(test)]
pub(crate) fn synthetic(
    truth: UslFit,
    throttles: &[usize],
    noise: f64,
    seed: u64,
) -> Vec<(f64, f64)> {
    use rand::{rngs::StdRng, SeedableRng};
    use rand_distr::{Distribution, Normal};
    let mut rng = StdRng::seed_from_u64(seed);
    let normal = Normal::new(0.0, noise).unwrap();
    throttles
        .iter()
        .map(|&n| {
            let n = n as f64;
            (n, truth.throughput(n) * (1.0 + normal.sample(&mut rng)))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, tolerance: f64) -> bool {
        (got - want).abs() <= tolerance * want.abs()
    }

    /// SPEC SDM91 (Sun SPARCcenter 2000; the `specsdm91` data set of R's `usl` package).
    const SDM91: [(f64, f64); 7] = [
        (1.0, 64.9),
        (18.0, 995.9),
        (36.0, 1652.4),
        (72.0, 1853.2),
        (108.0, 1828.9),
        (144.0, 1775.0),
        (216.0, 1702.2),
    ];

    /// Reference: R 4.2 (Debian r-base-core),
    ///   nls(throughput ~ l*load/(1+s*(load-1)+k*load*(load-1)), data = d, algorithm = "port",
    ///       start = c(s=0.01, k=1e-4, l=65), lower = 0, upper = c(1, 1, Inf))
    ///   summary(m)$coefficients; cf ± qt(0.975, 4) * se; N* by the delta method on vcov(m):
    ///     s 2.772847e-02 se 9.121732e-03   CI [2.402486e-03, 5.305446e-02]
    ///     k 1.043655e-04 se 1.987527e-05   CI [4.918290e-05, 1.595481e-04]
    ///     l 8.999523e+01 se 1.421349e+01   CI [5.053226e+01, 1.294582e+02]
    ///     N* = 96.519554  95% CI [71.565003, 121.474105]  qt=2.776445  RSS=27453.719584
    /// scipy 1.17: curve_fit(usl, x, y, bounds=([0,0,0],[1,1,inf]), method="trf", xtol=ftol=gtol=1e-15)
    /// gives the same to 6 digits: sigma=0.0277284 kappa=0.000104366 lambda=89.9952 N*=96.5194,
    /// se 0.0091218 / 1.98767e-05 / 14.2135, N* se 8.98856, CI [71.5632, 121.476].
    #[test]
    fn spec_sdm91_matches_the_reference_fit() {
        let (fit, s) = analyse(&SDM91, FitOptions::default()).unwrap();
        assert!(close(fit.sigma, 2.772847e-2, 1e-5), "{fit:?}");
        assert!(close(fit.kappa, 1.043655e-4, 1e-5), "{fit:?}");
        assert!(close(fit.lambda, 89.99523, 1e-5), "{fit:?}");
        // N* = 96.52: of its integer neighbours the model predicts more at 97.
        assert_eq!(s.optimum, Some(97));
        assert_eq!(s.weights, FitWeights::Equal);
        let ci = s.intervals.unwrap();
        assert_eq!(ci.df, 4);
        for (e, se, lo, hi) in [
            (ci.sigma, 9.121732e-3, 2.402486e-3, 5.305446e-2),
            (ci.kappa, 1.987527e-5, 4.918290e-5, 1.595481e-4),
            (ci.lambda, 14.21349, 50.53226, 129.4582),
        ] {
            assert!(
                close(e.se, se, 1e-4) && close(e.lo, lo, 1e-4) && close(e.hi, hi, 1e-4),
                "{e:?}"
            );
        }
        let n = ci.n_star.unwrap();
        assert!(close(n.value, 96.519554, 1e-6), "{n:?}");
        assert!(
            close(n.lo, 71.565003, 1e-4) && close(n.hi, 121.474105, 1e-4),
            "{n:?}"
        );
        assert!(s.left_out.is_empty());
    }

    /// Reference, relative weights: scipy curve_fit as above with sigma=y (weights 1/y²):
    /// sigma=0.0135152 kappa=0.000115091 lambda=67.709 N*=92.5816, se 0.0039664 / 2.24642e-05 /
    /// 4.32323, N* CI [67.857, 117.306].
    #[test]
    fn relative_weights_match_the_weighted_reference() {
        let options = FitOptions {
            weights: FitWeights::Relative,
            keep_all: false,
        };
        let (fit, s) = analyse(&SDM91, options).unwrap();
        assert!(close(fit.sigma, 0.0135152, 1e-5), "{fit:?}");
        assert!(close(fit.kappa, 0.000115091, 1e-5), "{fit:?}");
        assert!(close(fit.lambda, 67.709, 1e-5), "{fit:?}");
        let ci = s.intervals.unwrap();
        assert!(close(ci.sigma.se, 0.0039664, 1e-4) && close(ci.lambda.se, 4.32323, 1e-4));
        let n = ci.n_star.unwrap();
        assert!(
            close(n.lo, 67.857, 1e-4) && close(n.hi, 117.306, 1e-4),
            "{n:?}"
        );
        assert_eq!(s.weights, FitWeights::Relative);
    }

    /// The bench's 12-point curve (σ=0.05, κ=0.002, λ=100, alternately ×1.02 and ×0.98).
    /// Reference (scipy, as above): sigma=0.0490475 kappa=0.0020164 lambda=99.6353 N*=21.7165;
    /// se 0.00524855 / 7.42159e-05 / 2.82675; N* CI [20.8641, 22.569]; t(0.975, 9)=2.262157.
    #[test]
    fn a_noisy_synthetic_curve_matches_the_reference_fit() {
        let truth = UslFit {
            sigma: 0.05,
            kappa: 0.002,
            lambda: 100.0,
        };
        let data: Vec<(f64, f64)> = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64]
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                (
                    n as f64,
                    truth.throughput(n as f64) * if i % 2 == 0 { 1.02 } else { 0.98 },
                )
            })
            .collect();
        let (fit, s) = analyse(&data, FitOptions::default()).unwrap();
        assert!(
            close(fit.sigma, 0.0490475, 1e-5) && close(fit.kappa, 0.0020164, 1e-5),
            "{fit:?}"
        );
        assert!(close(fit.lambda, 99.6353, 1e-5), "{fit:?}");
        let ci = s.intervals.unwrap();
        assert!(close(ci.sigma.se, 0.00524855, 1e-4) && close(ci.kappa.se, 7.42159e-5, 1e-4));
        let n = ci.n_star.unwrap();
        assert!(
            close(n.lo, 20.8641, 1e-4) && close(n.hi, 22.569, 1e-4),
            "{n:?}"
        );
    }

    /// Exact data gives back its coefficients to machine precision, with intervals of width ~0
    /// (scipy: sigma=0.05 kappa=0.002 lambda=100, RSS 1.3e-26, se 3e-17 / 4e-19 / 2e-14).
    #[test]
    fn exact_data_gives_back_its_coefficients() {
        let truth = UslFit {
            sigma: 0.05,
            kappa: 0.002,
            lambda: 100.0,
        };
        let data = synthetic(truth, &[1, 2, 4, 8, 16, 32, 64], 0.0, 1);
        let (got, s) = analyse(&data, FitOptions::default()).unwrap();
        assert!(close(got.sigma, 0.05, 1e-9), "{got:?}");
        assert!(close(got.kappa, 0.002, 1e-9), "{got:?}");
        assert!(close(got.lambda, 100.0, 1e-9), "{got:?}");
        assert_eq!(optimum(&got), Some(22));
        assert!(s.residual_pct < 1e-6);
        let n = s.intervals.unwrap().n_star.unwrap();
        assert!(n.hi - n.lo < 1e-6, "{n:?}");
    }

    #[test]
    fn a_plateau_without_decline_has_no_peak_but_a_ceiling() {
        let truth = UslFit {
            sigma: 0.2,
            kappa: 0.0,
            lambda: 100.0,
        };
        let data = synthetic(truth, &[1, 2, 4, 8, 16, 32], 0.0, 1);
        let (got, s) = analyse(&data, FitOptions::default()).unwrap();
        assert_eq!(got.kappa, 0.0, "κ lands on its bound: {got:?}");
        assert_eq!(s.optimum, None, "{s:?}");
        assert!(s.intervals.unwrap().n_star.is_none());
        let ceiling = s.ceiling_per_s.unwrap();
        assert!((ceiling - 500.0).abs() < 0.01, "{ceiling}");
    }

    #[test]
    fn linear_scaling_fits_zero_costs() {
        let data: Vec<(f64, f64)> = [1, 2, 4, 8, 16, 32]
            .iter()
            .map(|&n| (n as f64, 10.0 * n as f64))
            .collect();
        let got = fit(&data).unwrap();
        assert!(got.sigma < 1e-9 && got.kappa < 1e-12, "{got:?}");
        assert!((got.lambda - 10.0).abs() < 1e-9);
    }

    #[test]
    fn a_wide_interval_of_n_star_cannot_place_the_peak() {
        let (_, s) = analyse(&SDM91, FitOptions::default()).unwrap();
        // [71.6, 121.5] is narrower than the sweep 1..216, not than a sweep 1..40.
        assert_eq!(s.unplaced_peak(1.0, 216.0), None);
        assert!(s.unplaced_peak(1.0, 40.0).is_some());
    }

    #[test]
    fn unusable_points_are_ignored() {
        assert!(fit(&[]).is_none());
        assert!(fit(&[(1.0, 0.0), (2.0, f64::NAN), (4.0, 5.0)]).is_none());
    }
}
