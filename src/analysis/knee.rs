//! The knee of a throughput curve: where adding concurrency stops paying. Two opinions — the
//! smallest throttle reaching 95% of the best measured throughput (simple, robust to noise), and
//! Kneedle (Satopää et al., 2011) on the rising part of the curve, as a second opinion.

/// Share of the peak throughput that counts as "as good as the peak".
pub const PEAK_SHARE: f64 = 0.95;

/// The smallest throttle whose throughput is at least 95% of the highest measured.
/// `curve` holds (throttle, throughput) pairs in any order.
pub fn knee(curve: &[(usize, f64)]) -> Option<usize> {
    let peak = curve.iter().map(|&(_, x)| x).fold(0.0, f64::max);
    if peak <= 0.0 {
        return None;
    }
    curve
        .iter()
        .filter(|&&(_, x)| x >= PEAK_SHARE * peak)
        .map(|&(n, _)| n)
        .min()
}

/// The knee when repetitions were measured: the smallest throttle whose median reaches 95% of
/// the peak median, or whose repetitions overlap the peak's (its best run beats the peak's
/// worst) — on a noisy machine such a throttle cannot be told apart from the peak, and the
/// smaller one is the safer choice. `curve` holds (throttle, median, lowest, highest).
pub fn knee_within_noise(curve: &[(usize, f64, f64, f64)]) -> Option<usize> {
    let peak = curve
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .filter(|p| p.1 > 0.0)?;
    curve
        .iter()
        .filter(|&&(_, median, _, highest)| {
            median >= PEAK_SHARE * peak.1 || (peak.2 > 0.0 && highest >= peak.2)
        })
        .map(|&(n, ..)| n)
        .min()
}

/// The range of a point's repetitions that speak for it: those within 3 scaled median absolute
/// deviations of the median (the usual robust outlier rule). One stalled repetition (another
/// process took the machine) would otherwise stretch the peak's range down to the lowest
/// throttles, and every one of them would "overlap the peak". With fewer than three values,
/// nothing can be called an outlier and the plain range is returned.
pub fn robust_range(values: &[f64]) -> (f64, f64) {
    let plain = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        });
    if values.len() < 3 {
        return plain;
    }
    let mut sorted = values.to_vec();
    let median = crate::results::median(&mut sorted).unwrap_or(0.0);
    let mut deviations: Vec<f64> = values.iter().map(|x| (x - median).abs()).collect();
    let mad = crate::results::median(&mut deviations).unwrap_or(0.0);
    let reach = 3.0 * 1.4826 * mad;
    values
        .iter()
        .filter(|&&x| (x - median).abs() <= reach)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
            (lo.min(x), hi.max(x))
        })
}

/// Kneedle on the curve up to its peak, with throttles on a log₂ axis (sweeps double, so a
/// linear axis would squeeze every low throttle into one corner). The knee is the point farthest
/// above the straight line from the first point to the peak, normalised to the unit square.
/// `None` when the rising part has fewer than three points or no point stands above the line.
pub fn kneedle(curve: &[(usize, f64)]) -> Option<usize> {
    let mut sorted: Vec<(usize, f64)> = curve.iter().copied().filter(|&(n, _)| n > 0).collect();
    sorted.sort_by_key(|&(n, _)| n);
    let peak_at = sorted
        .iter()
        .enumerate()
        .max_by(|a, b| a.1 .1.total_cmp(&b.1 .1))
        .map(|(i, _)| i)?;
    let rising = &sorted[..=peak_at];
    if rising.len() < 3 {
        return None;
    }
    let xs: Vec<f64> = rising.iter().map(|&(n, _)| (n as f64).log2()).collect();
    let ys: Vec<f64> = rising.iter().map(|&(_, x)| x).collect();
    let (x0, x1) = (xs[0], xs[xs.len() - 1]);
    let (y0, y1) = (ys[0], ys[ys.len() - 1]);
    if x1 <= x0 || y1 <= y0 {
        return None;
    }
    let (i, d) = xs
        .iter()
        .zip(&ys)
        .map(|(x, y)| ((y - y0) / (y1 - y0)) - ((x - x0) / (x1 - x0)))
        .enumerate()
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    // A difference this small is a straight line with noise, not a knee.
    (d > 0.05 && i + 1 < rising.len()).then_some(rising[i].0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knee_is_the_smallest_throttle_near_the_peak() {
        let curve = [(1, 10.0), (2, 19.0), (4, 30.0), (8, 39.0), (16, 40.0)];
        assert_eq!(knee(&curve), Some(8));
        assert_eq!(knee(&[(4, 5.0), (1, 5.0)]), Some(1));
        assert_eq!(knee(&[]), None);
        assert_eq!(knee(&[(1, 0.0)]), None);
    }

    #[test]
    fn throttles_inside_the_peaks_noise_count_as_the_peak() {
        // Throttle 2's best run (110) beats the peak's worst (105): indistinguishable.
        let curve = [
            (1, 50.0, 48.0, 52.0),
            (2, 90.0, 80.0, 110.0),
            (4, 120.0, 105.0, 125.0),
        ];
        assert_eq!(knee_within_noise(&curve), Some(2));
        // Single runs: the plain 95% rule.
        let single = [
            (1, 50.0, 50.0, 50.0),
            (2, 90.0, 90.0, 90.0),
            (4, 120.0, 120.0, 120.0),
        ];
        assert_eq!(knee_within_noise(&single), Some(4));
        assert_eq!(knee_within_noise(&[]), None);
    }

    #[test]
    fn a_stalled_repetition_does_not_drag_the_knee_down() {
        // The peak's third repetition stalled at 30: its robust range ignores it, so throttle 1
        // (about 50) is not "inside the peak's noise".
        assert_eq!(robust_range(&[120.0, 122.0, 30.0]), (120.0, 122.0));
        assert_eq!(robust_range(&[48.0, 50.0, 52.0]), (48.0, 52.0));
        assert_eq!(robust_range(&[120.0, 30.0]), (30.0, 120.0));
        let with = |reps: &[f64], n: usize| {
            let (lo, hi) = robust_range(reps);
            let mut v = reps.to_vec();
            (n, crate::results::median(&mut v).unwrap(), lo, hi)
        };
        let curve = [
            with(&[48.0, 50.0, 52.0], 1),
            with(&[95.0, 97.0, 99.0], 2),
            with(&[120.0, 122.0, 30.0], 4),
            with(&[119.0, 121.0, 118.0], 8),
        ];
        assert_eq!(knee_within_noise(&curve), Some(4));
        // The plain range would have called throttle 1 the knee.
        let plain = [(1, 50.0, 48.0, 52.0), (4, 120.0, 30.0, 122.0)];
        assert_eq!(knee_within_noise(&plain), Some(1));
    }

    #[test]
    fn kneedle_finds_the_bend_of_a_saturating_curve() {
        // Linear to 8, flat after: the bend is at 8.
        let curve = [
            (1, 10.0),
            (2, 20.0),
            (4, 40.0),
            (8, 80.0),
            (16, 82.0),
            (32, 83.0),
            (64, 84.0),
        ];
        assert_eq!(kneedle(&curve), Some(8));
    }

    #[test]
    fn kneedle_declines_a_straight_line_or_a_short_curve() {
        let line: Vec<(usize, f64)> = (0..6).map(|i| (1 << i, i as f64 + 1.0)).collect();
        assert_eq!(kneedle(&line), None);
        assert_eq!(kneedle(&[(1, 1.0), (2, 2.0)]), None);
    }
}
