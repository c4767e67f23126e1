use super::*;
use crate::analysis::bootstrap;

fn point(change: f64, sd: f64) -> WithinRun {
    WithinRun {
        change,
        variance: sd * sd,
        df: 8.0,
    }
}

#[test]
fn points_that_move_together_give_the_floor() {
    let points: Vec<WithinRun> = [0.001, -0.002, 0.0, 0.002, -0.001, 0.001, 0.0]
        .iter()
        .map(|&c| point(c, 0.002))
        .collect();
    let r = RunToRun::estimate(&points);
    assert_eq!(r.source, Source::Floor);
    assert_eq!(r.cv, FLOOR);
}

#[test]
fn a_common_slowdown_is_not_taken_for_run_to_run_variation() {
    // Every point 10 % slower, scattered only as their repetitions predict.
    let points: Vec<WithinRun> = [0.101, 0.098, 0.100, 0.102, 0.099, 0.101, 0.100]
        .iter()
        .map(|&c| point(c, 0.002))
        .collect();
    assert_eq!(RunToRun::estimate(&points).source, Source::Floor);
}

#[test]
fn scatter_beyond_the_repetitions_is_estimated() {
    // Changes scattered with a standard deviation of about 2.8 % (two runs of 2 % each), while
    // the repetitions explain 0.5 %.
    let changes = [-0.045, -0.02, -0.008, 0.0, 0.008, 0.02, 0.045, -0.03, 0.03];
    let points: Vec<WithinRun> = changes.iter().map(|&c| point(c, 0.005)).collect();
    let r = RunToRun::estimate(&points);
    assert_eq!(r.source, Source::Estimated);
    assert!(r.cv > 0.012 && r.cv < 0.03, "{r:?}");
    assert_eq!(r.df(), 8.0);
}

#[test]
fn points_that_moved_as_a_block_count_as_run_to_run_variation() {
    // Two points 15 % slower among five that did not move: what identical runs of async on
    // computing items do. With two runs this cannot be told from a regression of those two
    // points, so it widens every test rather than raise an alarm.
    let changes = [0.001, -0.001, 0.0, 0.002, -0.002, 0.15, 0.15];
    let points: Vec<WithinRun> = changes.iter().map(|&c| point(c, 0.002)).collect();
    let r = RunToRun::estimate(&points);
    assert_eq!(r.source, Source::Estimated);
    assert!(r.cv > 0.04, "{r:?}");
}

#[test]
fn too_few_points_assume_the_computing_items_value() {
    let r = RunToRun::estimate(&[point(0.0, 0.01), point(0.01, 0.01)]);
    assert_eq!(r.source, Source::Assumed);
    assert_eq!(r.cv, WITHOUT_ESTIMATE);
}

#[test]
fn within_run_variance_is_the_delta_method_of_the_ratio() {
    let base = [100.0, 102.0, 98.0, 101.0, 99.0];
    let current = [110.0, 112.0, 108.0, 111.0, 109.0];
    let w = WithinRun::of(&base, &current).unwrap();
    assert!((w.change - 0.1).abs() < 1e-12);
    // var(mean) = 2.5 / 5 = 0.5 on both sides; relative: 0.5/100² + 0.5/110²; times 1.1².
    let expected = 1.1f64.powi(2) * (0.5 / 1e4 + 0.5 / 12100.0);
    assert!((w.variance - expected).abs() < 1e-15, "{w:?}");
    assert!((w.df - 7.94).abs() < 0.05, "{w:?}");
    assert!(WithinRun::of(&[1.0], &current).is_none());
    assert!(WithinRun::of(&[0.0, 0.0], &current).is_none());
}

#[test]
fn a_negligible_run_to_run_variation_leaves_the_test_as_it_was() {
    let base = [20.18, 20.20, 20.22, 20.19, 20.21];
    let current = [20.38, 20.41, 20.40, 20.37, 20.42];
    let boot = bootstrap::compare(&base, &current).unwrap();
    let within = WithinRun::of(&base, &current).unwrap();
    let tiny = RunToRun {
        cv: 1e-7,
        points: 7,
        source: Source::Floor,
    };
    let w = tiny.widen(&boot, &within);
    // Welch's test and interval: scipy's ttest_ind(equal_var=False) gives p = 3.29e-7 here
    // (on the difference; the ratio's delta method lands within a few percent of it).
    let welch = crate::analysis::student::Welch::of(&base, &current).unwrap();
    assert!((w.p_value / 3.29e-7 - 1.0).abs() < 0.05, "{w:?} {welch:?}");
    let half = quantile(0.975, welch.df) * welch.se / 20.2;
    assert!(
        ((w.ci_high - w.ci_low) / 2.0 - half).abs() < 2e-4,
        "{w:?} {half}"
    );
}

#[test]
fn run_to_run_variation_widens_the_interval_and_weakens_the_test() {
    // +1 % with tight repetitions: certain within one run, but well inside what a second run
    // of 0.5 %-variation code would show.
    let base = [20.18, 20.20, 20.22, 20.19, 20.21];
    let current = [20.38, 20.41, 20.40, 20.37, 20.42];
    let boot = bootstrap::compare(&base, &current).unwrap();
    let within = WithinRun::of(&base, &current).unwrap();
    let floor = RunToRun {
        cv: FLOOR,
        points: 7,
        source: Source::Floor,
    };
    let w = floor.widen(&boot, &within);
    assert!(w.ci_low < 0.0 && w.ci_high > 0.02, "{w:?}");
    assert!(w.p_value > 0.05, "{w:?}");
    assert_eq!(w.change, boot.change);
    // A 10 % change stays certain.
    let slower: Vec<f64> = base.iter().map(|x| x * 1.1).collect();
    let boot = bootstrap::compare(&base, &slower).unwrap();
    let within = WithinRun::of(&base, &slower).unwrap();
    let w = floor.widen(&boot, &within);
    assert!(w.p_value < 1e-6 && w.ci_low > 0.08, "{w:?}");
}

#[test]
fn constant_repetitions_still_get_an_interval() {
    let w = RunToRun {
        cv: 0.01,
        points: 7,
        source: Source::Floor,
    };
    let boot = bootstrap::compare(&[8.0, 8.0, 8.0], &[9.0, 9.0, 9.0]).unwrap();
    let within = WithinRun::of(&[8.0, 8.0, 8.0], &[9.0, 9.0, 9.0]).unwrap();
    let t = w.widen(&boot, &within);
    assert!(
        t.ci_low < 0.125 && t.ci_high > 0.125 && t.ci_low > 0.08,
        "{t:?}"
    );
    assert!(t.p_value < 0.05, "{t:?}");
}

#[test]
fn degrees_of_freedom_add_as_welch_and_satterthwaite_say() {
    assert_eq!(satterthwaite(&[(1.0, 4.0), (0.0, 3.0)]), 4.0);
    assert!((satterthwaite(&[(1.0, 4.0), (1.0, 4.0)]) - 8.0).abs() < 1e-12);
    // A known variance (infinite degrees of freedom) adds variance but no uncertainty.
    assert!((satterthwaite(&[(1.0, 4.0), (1.0, f64::INFINITY)]) - 16.0).abs() < 1e-12);
    assert_eq!(satterthwaite(&[(1.0, f64::INFINITY)]), MAX_DF);
    assert!((quantile(0.975, MAX_DF) - 1.962).abs() < 0.001);
}
