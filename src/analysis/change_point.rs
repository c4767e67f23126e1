//! Where a series of runs changed level: Pettitt's rank test for a single change point, with a
//! permutation p-value, applied by binary segmentation to find every sustained step.
//!
//! Pettitt (1979, Applied Statistics 28:126–135) ranks the series and, for each split k, adds
//! the ranks before it: U_k = 2·Σ_{i≤k} r_i − k(n+1), the Mann–Whitney statistic of "before"
//! against "after". The split with the largest |U_k| is the probable change point. Ranks make
//! it robust: one run taken on a busy machine moves a rank by a few places, not the level of a
//! whole segment. Pettitt's own p-value, 2·exp(−6K²/(n³+n²)), is an approximation that is far
//! too conservative for the short series a history has (a perfect 6-then-4 split of ten runs
//! reads p = 0.086), so the p-value here is the permutation test's: the share of shuffled
//! series whose largest |U_k| is at least as large. The shuffles use a fixed seed, so the same
//! history always gets the same answer.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;

use super::compare::SIGNIFICANCE;

/// Shuffles drawn for a permutation p-value: resolves p to 0.0001.
pub const PERMUTATIONS: usize = 10_000;
const SEED: u64 = 0x7065_7474_6974_7421;
/// Fewest runs on each side of a step: one run is an outlier, two are a level.
pub const MIN_SEGMENT: usize = 2;

/// Pettitt's statistic of one series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pettitt {
    /// K = max |U_k| over the splits considered.
    pub statistic: f64,
    /// Values before the change: the new level begins at this index.
    pub split: usize,
    /// Pettitt's approximate two-sided p-value (reported for reference; decisions use the
    /// permutation p).
    pub p_approx: f64,
}

/// Midranks (1-based; tied values share the mean of their ranks), as R's `rank()`.
pub fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        // Ranks start+1 ..= end share their mean.
        let shared = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = shared;
        }
        start = end;
    }
    ranks
}

/// The largest |U_k| over splits leaving at least `min_segment` values on each side, and the
/// first split where it occurs.
fn largest_u(ranks: &[f64], min_segment: usize) -> (f64, usize) {
    let n = ranks.len();
    let mut sum = 0.0;
    let mut best = (f64::NEG_INFINITY, 0);
    for (i, r) in ranks.iter().enumerate() {
        sum += r;
        let k = i + 1;
        if k < min_segment || n - k < min_segment {
            continue;
        }
        let u = (2.0 * sum - (k * (n + 1)) as f64).abs();
        if u > best.0 {
            best = (u, k);
        }
    }
    best
}

/// Pettitt's test over the splits that leave `min_segment` values or more on each side;
/// `None` when there is no such split.
pub fn pettitt(values: &[f64], min_segment: usize) -> Option<Pettitt> {
    let n = values.len();
    let min_segment = min_segment.max(1);
    if n < 2 * min_segment {
        return None;
    }
    let (statistic, split) = largest_u(&ranks(values), min_segment);
    let nf = n as f64;
    let p_approx =
        (2.0 * (-6.0 * statistic * statistic / (nf.powi(3) + nf.powi(2))).exp()).min(1.0);
    Some(Pettitt {
        statistic,
        split,
        p_approx,
    })
}

/// The permutation p-value of Pettitt's statistic: (1 + shuffles at least as extreme) / (1 +
/// shuffles). Once more than `SIGNIFICANCE` of all shuffles have been as extreme, the answer
/// cannot be significant and the count so far stands.
pub fn permutation_p(values: &[f64], min_segment: usize) -> Option<f64> {
    let observed = pettitt(values, min_segment)?.statistic;
    let mut shuffled = ranks(values);
    let mut rng = StdRng::seed_from_u64(SEED);
    let give_up = (SIGNIFICANCE * PERMUTATIONS as f64) as usize;
    let mut extreme = 0usize;
    let mut drawn = 0usize;
    while drawn < PERMUTATIONS {
        shuffled.shuffle(&mut rng);
        drawn += 1;
        // U is a whole number (ranks are multiples of ½): the comparison is exact.
        if largest_u(&shuffled, min_segment.max(1)).0 >= observed {
            extreme += 1;
            if extreme > give_up {
                break;
            }
        }
    }
    Some((1 + extreme) as f64 / (1 + drawn) as f64)
}

/// What decides whether a change point between two sides (before, after) is a step: `Some`
/// with its evidence, or `None`.
pub type Confirm<'a, C> = &'a dyn Fn(&[f64], &[f64]) -> Option<C>;

/// A step found in a series: where the new level begins and what confirmed it.
#[derive(Debug, Clone, PartialEq)]
pub struct Found<C> {
    /// Index of the first value of the new level.
    pub at: usize,
    /// The permutation p-value of Pettitt's test on the segment it was found in.
    pub p_value: f64,
    /// What `confirm` said about the two sides.
    pub confirmed: C,
}

/// Every sustained step of `values`, by binary segmentation: the most likely change point of
/// the series is tested; where it is significant and `confirm` accepts the two sides (before,
/// after), it is kept and each side is searched again. Sorted by position.
pub fn steps<C>(values: &[f64], confirm: Confirm<'_, C>) -> Vec<Found<C>> {
    let mut found = Vec::new();
    search(values, 0, values.len(), confirm, &mut found);
    found.sort_by_key(|f| f.at);
    found
}

fn search<C>(
    values: &[f64],
    lo: usize,
    hi: usize,
    confirm: Confirm<'_, C>,
    found: &mut Vec<Found<C>>,
) {
    let segment = &values[lo..hi];
    let Some(test) = pettitt(segment, MIN_SEGMENT) else {
        return;
    };
    let at = lo + test.split;
    // Both must hold; the cheap test first, so a level series costs no shuffling.
    let Some(confirmed) = confirm(&values[lo..at], &values[at..hi]) else {
        return;
    };
    let Some(p_value) = permutation_p(segment, MIN_SEGMENT) else {
        return;
    };
    if p_value >= SIGNIFICANCE {
        return;
    }
    found.push(Found {
        at,
        p_value,
        confirmed,
    });
    search(values, lo, at, confirm, found);
    search(values, at, hi, confirm, found);
}

#[cfg(test)]
#[path = "change_point_tests.rs"]
mod tests;
