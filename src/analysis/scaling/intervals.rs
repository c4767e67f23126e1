//! 95% confidence intervals of the USL coefficients and of N*, asymptotic, as R reports them for
//! an `nls` fit: standard errors from the Jacobian at the solution, se = √(diag((JᵀWJ)⁻¹)·s²)
//! with s² = RSS / (n − 3), times Student's t quantile with n − 3 degrees of freedom. N*'s
//! interval comes from the same covariance by the delta method.

use super::solver::{self, Observation};
use crate::results::findings::{Estimate, Intervals, UslFit};

/// The confidence level of every interval.
pub const LEVEL: f64 = 0.95;

/// The intervals of `fit` on these observations; `None` with fewer than 4 observations or when
/// the coefficients cannot be told apart (a singular JᵀWJ).
pub fn confidence(observations: &[Observation], fit: &UslFit, rss: f64) -> Option<Intervals> {
    let df = observations.len().checked_sub(3).filter(|&d| d > 0)?;
    let inverse = solver::inverse_information(observations, fit)?;
    let s2 = rss / df as f64;
    let t = crate::analysis::student::quantile(0.5 + LEVEL / 2.0, df as f64);
    let estimate = |value: f64, variance: f64, lo: f64, hi: f64| {
        let se = variance.max(0.0).sqrt();
        Estimate {
            value,
            se,
            lo: (value - t * se).clamp(lo, hi),
            hi: (value + t * se).clamp(lo, hi),
        }
    };
    let cov = |i: usize, j: usize| inverse[i][j] * s2;
    let n_star = (fit.kappa > 0.0).then(|| {
        let n = ((1.0 - fit.sigma).max(0.0) / fit.kappa).sqrt();
        // ∂N*/∂σ = −1/(2κN*), ∂N*/∂κ = −N*/(2κ).
        let (ds, dk) = (-1.0 / (2.0 * fit.kappa * n), -n / (2.0 * fit.kappa));
        let variance = ds * ds * cov(0, 0) + 2.0 * ds * dk * cov(0, 1) + dk * dk * cov(1, 1);
        estimate(n, variance, 0.0, f64::INFINITY)
    });
    let n_star = n_star.filter(|e| e.value.is_finite() && e.se.is_finite());
    Some(Intervals {
        level: LEVEL,
        df,
        sigma: estimate(fit.sigma, cov(0, 0), 0.0, 1.0),
        kappa: estimate(fit.kappa, cov(1, 1), 0.0, 1.0),
        lambda: estimate(fit.lambda, cov(2, 2), 0.0, f64::INFINITY),
        n_star,
    })
}
