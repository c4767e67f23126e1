//! Student's t distribution: Welch's t-test with its exact p-value (at the Welch–Satterthwaite
//! degrees of freedom), and quantiles for confidence intervals with few degrees of freedom (a
//! fit of 3 coefficients to 7 points has 4; the normal quantile would make them too narrow).
//! Both go through the regularized incomplete beta function. A resampled p-value cannot go below
//! 1 / resamples, so a change measured beyond any doubt (p ≈ 1e-12) would read "p = 0.0001";
//! this one says what it is. Written here rather than pulled in: the crate that offers it
//! (statrs) brings a linear-algebra stack for these few functions.

/// Welch's comparison of two samples: the difference of means (b − a), its standard error and
/// the Welch–Satterthwaite degrees of freedom.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Welch {
    pub diff: f64,
    pub se: f64,
    pub df: f64,
}

impl Welch {
    /// `None` with fewer than two values on a side.
    pub fn of(a: &[f64], b: &[f64]) -> Option<Welch> {
        if a.len() < 2 || b.len() < 2 {
            return None;
        }
        let (ma, va) = mean_var(a);
        let (mb, vb) = mean_var(b);
        let (sa, sb) = (va / a.len() as f64, vb / b.len() as f64);
        let se2 = sa + sb;
        let df = if se2 > 0.0 {
            se2 * se2 / (sa * sa / (a.len() - 1) as f64 + sb * sb / (b.len() - 1) as f64)
        } else {
            f64::INFINITY
        };
        Some(Welch {
            diff: mb - ma,
            se: se2.sqrt(),
            df,
        })
    }

    /// Two-sided p-value of "the means are equal". Two constant samples give 1 when equal and 0
    /// when not.
    pub fn p(&self) -> f64 {
        if self.se <= 0.0 {
            return if self.diff == 0.0 { 1.0 } else { 0.0 };
        }
        two_sided_t(self.diff / self.se, self.df)
    }

    /// The lower end of the 95 % interval of the difference.
    pub fn lower_95(&self) -> f64 {
        if self.se <= 0.0 {
            return self.diff;
        }
        self.diff - quantile(0.975, self.df) * self.se
    }
}

/// Two-sided p-value of Welch's t-test of `a` against `b`; `None` with fewer than two values on
/// a side.
pub fn welch_p(a: &[f64], b: &[f64]) -> Option<f64> {
    Welch::of(a, b).map(|w| w.p())
}

fn mean_var(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var)
}

/// P(|T| ≥ |t|) for Student's t with `df` degrees of freedom.
pub fn two_sided_t(t: f64, df: f64) -> f64 {
    if !t.is_finite() {
        return 0.0;
    }
    incomplete_beta(df / 2.0, 0.5, df / (df + t * t)).clamp(0.0, 1.0)
}

/// The `p` quantile (0 < p < 1) of Student's t with `df` degrees of freedom; NaN outside.
pub fn quantile(p: f64, df: f64) -> f64 {
    if !(p > 0.0 && p < 1.0) || df <= 0.0 {
        return f64::NAN;
    }
    if p < 0.5 {
        return -quantile(1.0 - p, df);
    }
    // The upper tail falls monotonically in t: bracket the root, then bisect on it.
    let tail = 2.0 * (1.0 - p);
    let mut hi = 1.0;
    while two_sided_t(hi, df) > tail && hi < 1e12 {
        hi *= 2.0;
    }
    let mut lo = 0.0;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if two_sided_t(mid, df) > tail {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo <= 1e-14 * hi {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// The regularized incomplete beta function I_x(a, b), by its continued fraction (modified
/// Lentz), using the symmetry I_x(a, b) = 1 − I_{1−x}(b, a) where the fraction converges slowly.
fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..300 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        d = if d.abs() < TINY { TINY } else { d };
        c = 1.0 + aa / c;
        c = if c.abs() < TINY { TINY } else { c };
        d = 1.0 / d;
        let step = d * c;
        h *= step;
        if (step - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: about 15 significant digits).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let sum = G[1..]
        .iter()
        .enumerate()
        .fold(G[0], |acc, (i, g)| acc + g / (x + i as f64 + 1.0));
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= rel * want.abs()
    }

    /// Reference: scipy 1.17, `scipy.stats.ttest_ind(a, b, equal_var=False).pvalue`.
    #[test]
    fn agrees_with_scipy_welch() {
        let cases: [(&[f64], &[f64], f64); 4] = [
            (
                &[50.0, 50.5, 49.5, 50.2, 49.8],
                &[41.6, 41.9, 41.4, 41.7, 41.5],
                1.145_720_767_451_697_7e-8,
            ),
            (
                &[100.0, 92.0, 108.0, 97.0, 103.0],
                &[101.0, 95.0, 110.0, 93.0, 104.0],
                0.887_164_552_772_745_8,
            ),
            // The p50 of 20 ms items moved by +10 %: p is about 3e-15, not "0.0001".
            (
                &[20.18, 20.20, 20.22, 20.19, 20.21],
                &[22.18, 22.20, 22.21, 22.19, 22.20],
                2.657_208_496_432_372_5e-15,
            ),
            (
                &[10.0, 11.0, 9.5],
                &[10.4, 11.3, 9.9],
                0.575_444_165_444_498_1,
            ),
        ];
        for (a, b, want) in cases {
            let got = welch_p(a, b).unwrap();
            assert!(close(got, want, 1e-6), "{a:?} {b:?}: {got:e} vs {want:e}");
        }
        // scipy.stats.t.sf(3.0, 4.5) * 2
        assert!(close(two_sided_t(3.0, 4.5), 0.034_380_867_888_759_62, 1e-7));
    }

    /// Reference values: scipy 1.17 `stats.t.ppf(0.975, df)` (R's `qt(0.975, df)` agrees).
    #[test]
    fn quantiles_match_the_reference_tables() {
        for (df, want) in [
            (1.0, 12.706_204_736_174_694),
            (2.0, 4.302_652_729_749_462),
            (4.0, 2.776_445_105_197_793),
            (9.0, 2.262_157_162_798_205),
            (30.0, 2.042_272_456_301_238),
            (1000.0, 1.962_339_080_826_408),
        ] {
            let got = quantile(0.975, df);
            assert!((got - want).abs() < 1e-9 * want, "df {df}: {got} vs {want}");
        }
        assert!((quantile(0.025, 4.0) + 2.776_445_105_197_793).abs() < 1e-9);
        assert!(quantile(1.5, 4.0).is_nan() && quantile(0.9, 0.0).is_nan());
    }

    #[test]
    fn degenerate_samples_stay_defined() {
        assert_eq!(welch_p(&[8.0, 8.0], &[8.0, 8.0]), Some(1.0));
        assert_eq!(welch_p(&[8.0, 8.0], &[9.0, 9.0]), Some(0.0));
        assert_eq!(welch_p(&[8.0], &[9.0, 9.0]), None);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-12);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-12);
    }
}
