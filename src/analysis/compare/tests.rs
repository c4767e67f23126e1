//! Comparisons of synthetic sweeps: identical runs, a slowdown, refusals, unmatched points,
//! too few repetitions, and the machine-noise allowance.

use super::*;
use crate::analysis::fixture;

#[test]
fn identical_runs_show_no_change() {
    let run = fixture::sweep(20.0, 5);
    let c = compare(&run, &run, &Options::default()).unwrap();
    assert_eq!(c.rows.len(), 16);
    assert!(c.tested);
    assert!(
        c.rows.iter().all(|r| r.verdict == Verdict::Unchanged),
        "{c:#?}"
    );
    assert_eq!(c.headline(), "No change beyond noise");
}

#[test]
fn a_twenty_percent_slowdown_regresses_every_point() {
    let (base, slow) = (fixture::sweep(20.0, 5), fixture::sweep(24.0, 5));
    let c = compare(&base, &slow, &Options::default()).unwrap();
    for r in &c.rows {
        let expected = match r.metric {
            Metric::PeakRss => Verdict::Unchanged,
            _ => Verdict::Regressed,
        };
        assert_eq!(r.verdict, expected, "{r:?}");
    }
    assert_eq!(c.headline(), "12 regressions");
    let back = compare(&slow, &base, &Options::default()).unwrap();
    assert_eq!(back.count(Verdict::Improved), 12);
}

#[test]
fn different_parameters_or_budgets_are_refused_by_name() {
    let base = fixture::sweep(20.0, 3);
    let mut other = base.clone();
    other.spec.workload.params.insert("ms".into(), 24.into());
    let err = compare(&base, &other, &Options::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("parameter 'ms' differs (baseline 20, current 24)"),
        "{err}"
    );
    let allowed = Options {
        allow_param_change: true,
        ..Options::default()
    };
    let c = compare(&base, &other, &allowed).unwrap();
    assert!(c.notes[0].contains("'ms'"), "{:?}", c.notes);

    let mut longer = base.clone();
    longer.spec.sweep.budget = crate::backend::Budget::Items(80);
    let err = compare(&base, &longer, &allowed).unwrap_err().to_string();
    assert!(
        err.contains("items per point differ (baseline 1s, current 80 items)"),
        "{err}"
    );

    let mut cpu = base.clone();
    cpu.spec.workload.kind = "cpu".into();
    let err = compare(&base, &cpu, &allowed).unwrap_err().to_string();
    assert!(
        err.contains("workload kind differs (baseline 'sleep', current 'cpu')"),
        "{err}"
    );
}

#[test]
fn points_on_one_side_only_are_listed() {
    let base = fixture::sweep(20.0, 3);
    let mut current = base.clone();
    current.points.retain(|p| p.backend != BackendKind::Async);
    current
        .points
        .push(fixture::point(BackendKind::Thread, 8, 1, 20.0));
    let c = compare(&base, &current, &Options::default()).unwrap();
    assert_eq!(
        c.missing_in_current,
        vec![PointKey {
            backend: BackendKind::Async,
            throttle: 4
        }]
    );
    assert_eq!(
        c.missing_in_baseline,
        vec![PointKey {
            backend: BackendKind::Thread,
            throttle: 8
        }]
    );
    assert!(
        c.headline().contains("2 unmatched points"),
        "{}",
        c.headline()
    );
}

#[test]
fn too_few_repetitions_are_untested() {
    let (base, slow) = (fixture::sweep(20.0, 2), fixture::sweep(24.0, 2));
    let c = compare(&base, &slow, &Options::default()).unwrap();
    assert!(!c.tested);
    assert!(c
        .rows
        .iter()
        .all(|r| r.p_value.is_none() && r.ci_low_pct.is_none()));
    assert_eq!(c.count(Verdict::Regressed), 12);
}

#[test]
fn a_busier_machine_excuses_what_it_explains_and_no_more() {
    use crate::analysis::noise::NoiseSample;
    let probe = |over: f64| NoiseSample {
        sleep_overshoot_ms: over,
        sleep_overshoot_max_ms: over,
        cpu_loop_ms: 1.0,
    };
    let (base, slow) = (fixture::sweep(20.0, 5), fixture::sweep(24.0, 5));
    let with = |b: f64, c: f64| Options {
        base_noise: vec![probe(b); base.points.len()],
        current_noise: vec![probe(c); slow.points.len()],
        ..Options::default()
    };
    // Every item waited 4 ms longer for a core: +20% on 20 ms items is the machine's doing.
    let busy = compare(&base, &slow, &with(0.1, 4.1)).unwrap();
    assert_eq!(busy.count(Verdict::Regressed), 0, "{busy:#?}");
    assert!(busy
        .notes
        .iter()
        .any(|n| n.contains("busier during the current run")));
    // A calm machine excuses nothing.
    let calm = compare(&base, &slow, &with(0.1, 0.1)).unwrap();
    assert_eq!(calm.count(Verdict::Regressed), 12);
    // A busier baseline excuses an improvement, not a regression.
    let back = compare(&slow, &base, &with(4.1, 0.1)).unwrap();
    assert_eq!(back.count(Verdict::Improved), 0);
    let worse = compare(&base, &slow, &with(4.1, 0.1)).unwrap();
    assert_eq!(worse.count(Verdict::Regressed), 12);
}

#[test]
fn peak_rss_must_move_a_whole_megabyte() {
    let base = fixture::sweep(20.0, 5);
    let mut grown = base.clone();
    for p in &mut grown.points {
        p.peak_rss_mb += 0.5;
    }
    let c = compare(&base, &grown, &Options::default()).unwrap();
    assert_eq!(c.count(Verdict::Regressed), 0, "{c:#?}");
    for p in &mut grown.points {
        p.peak_rss_mb += 1.0;
    }
    let c = compare(&base, &grown, &Options::default()).unwrap();
    assert_eq!(c.count(Verdict::Regressed), 4);
}

/// Every item of the current run failed: the error rate regresses, goodput regresses, latency
/// is not compared (there is none), and nothing is called an improvement.
#[test]
fn an_all_failing_run_is_a_regression_and_improves_nothing() {
    let base = fixture::sweep(20.0, 3);
    let mut failing = base.clone();
    for p in &mut failing.points {
        (p.ok, p.failed, p.goodput_per_s, p.error_pct) = (0, p.items, 0.0, Some(100.0));
        (p.lat_p50_ms, p.lat_p99_ms) = (None, None);
    }
    let c = compare(&base, &failing, &Options::default()).unwrap();
    assert_eq!(c.count(Verdict::Improved), 0, "{c:#?}");
    for r in &c.rows {
        match r.metric {
            Metric::ErrorRate | Metric::Goodput => assert_eq!(r.verdict, Verdict::Regressed),
            Metric::LatencyP50 | Metric::LatencyP99 => panic!("latency compared: {r:?}"),
            Metric::PeakRss => {}
        }
    }
    assert!(
        c.notes
            .iter()
            .any(|n| n.contains("no item of the current run succeeded")),
        "{:?}",
        c.notes
    );
}

/// Faster items that fail more are not an improvement.
#[test]
fn faster_but_failing_more_is_never_an_improvement() {
    let base = fixture::sweep(20.0, 5);
    let mut current = fixture::sweep(10.0, 5);
    for p in &mut current.points {
        p.failed = 100;
        p.ok = p.items - 100;
        p.error_pct = Some(10.0);
        p.goodput_per_s *= 0.9;
    }
    let c = compare(&base, &current, &Options::default()).unwrap();
    assert_eq!(c.count(Verdict::Improved), 0, "{c:#?}");
    assert!(c
        .rows
        .iter()
        .any(|r| r.metric == Metric::ErrorRate && r.verdict == Verdict::Regressed));
    assert!(
        c.notes
            .iter()
            .any(|n| n.contains("the error rate rose there")),
        "{:?}",
        c.notes
    );
}

/// For items under 1 ms the probe's drift may excuse at most the threshold: a 20 % slowdown of
/// 0.3 ms items (as an HTTP request on loopback takes) is caught even when the machine's worst
/// wake-up delay grew by far more than the items take.
#[test]
fn a_busy_machine_cannot_excuse_a_twenty_percent_slowdown_of_sub_millisecond_items() {
    use crate::analysis::noise::NoiseSample;
    let (base, slow) = (fixture::sweep(0.3, 5), fixture::sweep(0.36, 5));
    let calm = NoiseSample {
        sleep_overshoot_ms: 0.05,
        sleep_overshoot_max_ms: 0.1,
        cpu_loop_ms: 1.0,
    };
    let busy = NoiseSample {
        sleep_overshoot_ms: 0.3,
        sleep_overshoot_max_ms: 2.0,
        cpu_loop_ms: 1.0,
    };
    let options = Options {
        base_noise: vec![calm; base.points.len()],
        current_noise: vec![busy; slow.points.len()],
        ..Options::default()
    };
    let c = compare(&base, &slow, &options).unwrap();
    for r in c.rows.iter().filter(|r| r.metric == Metric::LatencyP50) {
        assert!(r.machine_allowance_pct <= 5.0 + 1e-9, "{r:?}");
        assert_eq!(r.verdict, Verdict::Regressed, "{r:?}");
    }
    // Without the cap the same drift would excuse it: 2 ms of worst delay on a 0.3 ms item.
    let drift = crate::analysis::noise::Drift::between(&[calm; 3], &[busy; 3]).unwrap();
    assert!(drift.explains(0.3, 0.0) > 0.5);
}

fn probes(
    n: usize,
    over: impl Fn(usize) -> (f64, f64),
    cpu: impl Fn(usize) -> f64,
) -> Vec<NoiseSample> {
    (0..n)
        .map(|i| NoiseSample {
            sleep_overshoot_ms: over(i).0,
            sleep_overshoot_max_ms: over(i).1,
            cpu_loop_ms: cpu(i),
        })
        .collect()
}

use crate::analysis::noise::NoiseSample;

/// The allowance rule for one hiccup: a single 2 ms overrun during the current run must not
/// excuse a +10 % change of 20 ms items (it once did, through the worst overrun).
#[test]
fn a_single_overrun_does_not_excuse_a_ten_percent_regression() {
    let (base, slow) = (fixture::sweep(20.0, 5), fixture::sweep(22.0, 5));
    let n = base.points.len();
    let calm = probes(n, |i| (0.06 + 0.002 * (i % 3) as f64, 0.1), |_| 1.0);
    let mut hiccup = calm.clone();
    hiccup[n / 2].sleep_overshoot_ms = 0.7;
    hiccup[n / 2].sleep_overshoot_max_ms = 2.0;
    let options = Options {
        base_noise: calm,
        current_noise: hiccup,
        ..Options::default()
    };
    let c = compare(&base, &slow, &options).unwrap();
    for r in c.rows.iter().filter(|r| r.metric != Metric::PeakRss) {
        assert_eq!(r.machine_allowance_pct, 0.0, "{r:?}");
        assert_eq!(r.verdict, Verdict::Regressed, "{r:?}");
    }
}

/// The allowance rule for the kind of item: a slower CPU excuses computing items, not sleeping
/// ones (a sleep does not get slower when the CPU is shared; its wake-up does, and that is the
/// delay rule).
#[test]
fn a_slower_cpu_excuses_computing_items_only() {
    let (base, slow) = (fixture::sweep(20.0, 5), fixture::sweep(24.0, 5));
    let n = base.points.len();
    let options = |b: &crate::results::SweepResult, c: &crate::results::SweepResult| Options {
        base_noise: probes(
            b.points.len(),
            |_| (0.06, 0.1),
            |i| 1.0 + 0.01 * (i % 3) as f64,
        ),
        current_noise: probes(
            c.points.len(),
            |_| (0.06, 0.1),
            |i| 1.3 + 0.01 * (i % 3) as f64,
        ),
        ..Options::default()
    };
    let sleeping = compare(&base, &slow, &options(&base, &slow)).unwrap();
    assert_eq!(sleeping.count(Verdict::Regressed), 12, "{sleeping:#?}");
    // The same items, now spending their whole time on a CPU: a 30 % slower CPU explains +20 %.
    let computing = |mut s: crate::results::SweepResult| {
        for p in &mut s.points {
            let item_s = p.lat_mean_ms.unwrap() / 1000.0;
            p.cpu_user_s = item_s * p.items as f64;
        }
        s
    };
    let (base, slow) = (computing(base), computing(slow));
    let c = compare(&base, &slow, &options(&base, &slow)).unwrap();
    assert_eq!(c.count(Verdict::Regressed), 0, "{c:#?}");
    assert!(c.rows.iter().any(|r| r.machine_allowance_pct > 25.0));
    assert_eq!(n, base.points.len());
}

/// Nine points whose item times are `item_ms` scaled per point by `shift` (the run-to-run
/// effect of that point), with the fixture's ±1 % spread of repetitions.
fn wide_run(item_ms: f64, shift: [f64; 9]) -> SweepResult {
    let mut run = fixture::sweep(item_ms, 5);
    let keys: Vec<(BackendKind, usize)> = std::iter::once((BackendKind::Sequential, 1))
        .chain([1, 2, 4, 8].map(|t| (BackendKind::Thread, t)))
        .chain([1, 2, 4, 8].map(|t| (BackendKind::Async, t)))
        .collect();
    run.points = (1..=5)
        .flat_map(|rep| {
            keys.iter()
                .zip(shift)
                .map(move |(&(b, t), s)| fixture::point(b, t, rep, item_ms * s))
        })
        .collect();
    run
}

#[test]
fn points_scattered_from_run_to_run_are_not_regressions() {
    // Each point of the second run landed up to 4 % away from the first, in both directions —
    // what a second run of the same code does on a noisy machine, and more than the ±1 %
    // repetitions can explain. Welch's test alone calls the 4 % points significant.
    let base = wide_run(20.0, [1.0; 9]);
    let again = wide_run(20.0, [1.04, 0.96, 1.03, 0.97, 1.0, 1.02, 0.98, 1.04, 0.965]);
    let c = compare(&base, &again, &Options::default()).unwrap();
    assert_eq!(c.count(Verdict::Regressed), 0, "{c:#?}");
    let goodput = c.run_to_run.iter().find(|m| m.metric == Metric::Goodput);
    let variation = goodput.unwrap().variation;
    assert_eq!(
        variation.source,
        crate::analysis::run_to_run::Source::Estimated
    );
    assert!(variation.cv > 0.015, "{variation:?}");
    // Welch alone would have flagged the worst points.
    let worst = c
        .rows
        .iter()
        .find(|r| r.metric == Metric::LatencyP50 && r.change_pct > 3.5)
        .unwrap();
    let (b, a) = (
        samples(
            &base,
            PointKey {
                backend: worst.backend,
                throttle: worst.throttle,
            },
            Metric::LatencyP50,
        ),
        samples(
            &again,
            PointKey {
                backend: worst.backend,
                throttle: worst.throttle,
            },
            Metric::LatencyP50,
        ),
    );
    assert!(crate::analysis::student::welch_p(&b, &a).unwrap() < 0.001);
}

#[test]
fn a_five_percent_slowdown_of_every_point_is_caught_at_the_default_threshold() {
    let base = wide_run(20.0, [1.0; 9]);
    let slower = wide_run(21.0, [1.0; 9]);
    let c = compare(&base, &slower, &Options::default()).unwrap();
    let p50 = |v: Verdict| {
        c.rows
            .iter()
            .filter(|r| r.metric == Metric::LatencyP50 && r.verdict == v)
            .count()
    };
    assert_eq!(p50(Verdict::Regressed), 9, "{c:#?}");
    // The points moved together: no run-to-run variation beyond the floor.
    assert!(c
        .run_to_run
        .iter()
        .filter(|m| m.metric != Metric::LatencyP99)
        .all(|m| m.variation.cv == crate::analysis::run_to_run::FLOOR));
}
