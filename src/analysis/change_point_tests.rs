use super::*;

/// Annual flow of the Nile at Aswan, 1871–1970 (10⁸ m³; R's `datasets::Nile`, Cobb 1978): the
/// classic change-point series, its level dropping around 1898.
const NILE: [f64; 100] = [
    1120.0, 1160.0, 963.0, 1210.0, 1160.0, 1160.0, 813.0, 1230.0, 1370.0, 1140.0, 995.0, 935.0,
    1110.0, 994.0, 1020.0, 960.0, 1180.0, 799.0, 958.0, 1140.0, 1100.0, 1210.0, 1150.0, 1250.0,
    1260.0, 1220.0, 1030.0, 1100.0, 774.0, 840.0, 874.0, 694.0, 940.0, 833.0, 701.0, 916.0, 692.0,
    1020.0, 1050.0, 969.0, 831.0, 726.0, 456.0, 824.0, 702.0, 1120.0, 1100.0, 832.0, 764.0, 821.0,
    768.0, 845.0, 864.0, 862.0, 698.0, 845.0, 744.0, 796.0, 1040.0, 759.0, 781.0, 865.0, 845.0,
    944.0, 984.0, 897.0, 822.0, 1010.0, 771.0, 676.0, 649.0, 846.0, 812.0, 742.0, 801.0, 1040.0,
    860.0, 874.0, 848.0, 890.0, 744.0, 749.0, 838.0, 1050.0, 918.0, 986.0, 797.0, 923.0, 975.0,
    815.0, 1020.0, 906.0, 901.0, 1170.0, 912.0, 746.0, 919.0, 718.0, 714.0, 740.0,
];

/// Reference: the `trend` package's `pettitt.test` (R, the function body of trend 1.1.x) run
/// under R 4 on `Nile`, `c(20.1, 20.3, 19.9, 20.0, 20.2, 20.2, 26.1, 25.9, 26.3, 26.0)` and
/// `c(5, 5, 3, 3, 8, 8, 8, 1, 9, 9)`:
/// `r <- pettitt.test(x); r$statistic; r$estimate; print(r$p.value, digits = 15)`.
#[test]
fn agrees_with_r_trend_pettitt_test() {
    let nile = pettitt(&NILE, 1).unwrap();
    assert_eq!(nile.statistic, 1617.0);
    assert_eq!(nile.split, 28);
    assert!(
        (nile.p_approx / 3.591_022_176_936_29e-7 - 1.0).abs() < 1e-9,
        "{nile:?}"
    );

    let step = [20.1, 20.3, 19.9, 20.0, 20.2, 20.2, 26.1, 25.9, 26.3, 26.0];
    let t = pettitt(&step, 1).unwrap();
    assert_eq!((t.statistic, t.split), (24.0, 6));
    assert!(
        (t.p_approx - 0.086_408_346_808_512_5).abs() < 1e-12,
        "{t:?}"
    );

    // Ties share their mean rank, as R's rank(); of two equal maxima the first is taken.
    let tied = [5.0, 5.0, 3.0, 3.0, 8.0, 8.0, 8.0, 1.0, 9.0, 9.0];
    assert_eq!(
        ranks(&tied),
        [4.5, 4.5, 2.5, 2.5, 7.0, 7.0, 7.0, 1.0, 9.5, 9.5]
    );
    let t = pettitt(&tied, 1).unwrap();
    assert_eq!((t.statistic, t.split), (16.0, 4));
    assert!((t.p_approx - 0.494_990_625_090_607).abs() < 1e-12, "{t:?}");
}

#[test]
fn the_permutation_p_sees_what_the_approximation_misses() {
    // Six runs, then four at a new level: Pettitt's approximation says 0.086; by enumeration the
    // arrangements as extreme (perfect 4|6, 5|5 or 6|4 splits either way) are about 3 %.
    let step = [20.1, 20.3, 19.9, 20.0, 20.2, 20.2, 26.1, 25.9, 26.3, 26.0];
    let p = permutation_p(&step, 1).unwrap();
    assert!(p < 0.05 && p > 0.01, "{p}");
    // The Nile's drop is beyond any doubt.
    assert!(permutation_p(&NILE, 1).unwrap() < 0.001);
}

#[test]
fn a_level_series_has_no_step() {
    let flat = [
        20.1, 20.3, 19.9, 20.0, 20.2, 20.2, 20.1, 19.9, 20.3, 20.0, 20.1, 20.2,
    ];
    assert!(permutation_p(&flat, MIN_SEGMENT).unwrap() > 0.05);
    let accept = |_: &[f64], _: &[f64]| Some(());
    assert!(steps(&flat, &accept).is_empty());
    let constant = [5.0; 8];
    assert_eq!(pettitt(&constant, 1).unwrap().statistic, 0.0);
    assert!(permutation_p(&constant, 1).unwrap() > 0.9);
}

#[test]
fn binary_segmentation_finds_both_steps_where_they_begin() {
    let mut series = vec![10.0, 10.1, 9.9, 10.0, 10.2, 9.8, 10.1, 9.9];
    series.extend([12.0, 12.1, 11.9, 12.0, 12.2, 11.8, 12.1]);
    series.extend([9.0, 9.1, 8.9, 9.0, 9.2, 8.8]);
    let accept = |a: &[f64], b: &[f64]| Some((a.len(), b.len()));
    let found = steps(&series, &accept);
    let at: Vec<usize> = found.iter().map(|f| f.at).collect();
    assert_eq!(at, [8, 15], "{found:?}");
    assert!(found.iter().all(|f| f.p_value < 0.05));
    // A refusal by `confirm` stops the search there.
    let refuse = |_: &[f64], _: &[f64]| None::<()>;
    assert!(steps(&series, &refuse).is_empty());
}

#[test]
fn one_odd_run_is_no_step() {
    let mut series = [20.0, 20.1, 19.9, 20.0, 20.2, 19.8, 20.1, 19.9, 20.0, 20.1];
    series[4] = 35.0;
    let accept = |_: &[f64], _: &[f64]| Some(());
    assert!(steps(&series, &accept).is_empty());
    assert!(pettitt(&[1.0, 2.0, 3.0], MIN_SEGMENT).is_none());
}
