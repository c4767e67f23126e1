use super::*;
use crate::analysis::fixture;
use crate::analysis::metric::Verdict;
use crate::backend::BackendKind;

/// Small run-to-run wander of a quiet machine, ±0.3 %.
const WANDER: [f64; 6] = [0.0, 0.003, -0.002, 0.001, -0.003, 0.002];

/// A history of runs of 20 ms items (`--repeat 3`), one a day, whose items took `item_ms[i]`.
pub(crate) fn history(item_ms: &[f64]) -> Vec<HistoryRun> {
    item_ms
        .iter()
        .enumerate()
        .map(|(i, ms)| {
            let mut sweep = fixture::sweep(ms * (1.0 + WANDER[i % WANDER.len()]), 3);
            sweep.started_at = format!("2026-01-{:02}T03:00:00+00:00", i + 1);
            sweep.environment.git_commit = Some(format!("{:07x}aaaaa", 0xc0ffee + i));
            HistoryRun {
                stored: StoredRun {
                    sweep,
                    noise: Vec::new(),
                },
                source: format!("run-{}", i + 1),
            }
        })
        .collect()
}

fn regressed_points(j: &Judgement) -> Vec<(BackendKind, usize, Metric)> {
    j.rows
        .iter()
        .filter(|r| r.comparison.verdict == Verdict::Regressed)
        .map(|r| {
            (
                r.comparison.backend,
                r.comparison.throttle,
                r.comparison.metric,
            )
        })
        .collect()
}

#[test]
fn a_slower_latest_run_regresses_against_the_four_before_it() {
    let h = analyse(
        &history(&[20.0, 20.0, 20.0, 20.0, 26.0]),
        &Options::default(),
    )
    .unwrap();
    let latest = h.latest().unwrap();
    assert_eq!(latest.run, 5);
    let regressed = regressed_points(latest);
    // Every point's goodput and p50 regressed.
    for key in [
        (BackendKind::Sequential, 1),
        (BackendKind::Thread, 4),
        (BackendKind::Async, 4),
    ] {
        for metric in [Metric::Goodput, Metric::LatencyP50] {
            assert!(regressed.contains(&(key.0, key.1, metric)), "{regressed:?}");
        }
    }
    let row = &latest.rows[0];
    assert_eq!((row.first_run, row.last_run), (1, 4));
    // Four earlier runs are too few for their own scatter: the two-run model is used.
    assert!(latest
        .rows
        .iter()
        .all(|r| !matches!(r.variation, Some(Variation::History(_)))));
    assert!(h.steps().is_empty(), "one run is no sustained step");
}

#[test]
fn four_like_runs_show_no_change() {
    let h = analyse(&history(&[20.0; 4]), &Options::default()).unwrap();
    let latest = h.latest().unwrap();
    assert!(regressed_points(latest).is_empty(), "{latest:?}");
    assert_eq!(latest.count(Verdict::Improved), 0);
    assert_eq!(latest.verdicts(), "no change beyond noise");
    assert_eq!(h.runs[3].label(), "#4 2026-01-04 03:00 0c0fff1");
}

#[test]
fn a_step_in_the_middle_is_found_and_the_latest_is_judged_against_the_new_level() {
    let mut ms = vec![20.0; 7];
    ms.extend([22.0; 7]);
    let h = analyse(&history(&ms), &Options::default()).unwrap();
    let steps = h.steps();
    let goodput: Vec<&Step> = steps
        .iter()
        .filter(|(s, _)| s.metric == Metric::Goodput)
        .map(|(_, step)| *step)
        .collect();
    assert_eq!(goodput.len(), 4, "one per point: {steps:?}");
    assert!(goodput
        .iter()
        .all(|s| s.run == 8 && s.verdict == Verdict::Regressed));
    let latest = h.latest().unwrap();
    assert!(regressed_points(latest).is_empty(), "{latest:?}");
    let row = &latest.rows[0];
    assert_eq!((row.first_run, row.last_run), (8, 13));
    // Six earlier runs at the new level: their own scatter is the run-to-run variation.
    assert!(matches!(row.variation, Some(Variation::History(v)) if v.runs == 6));
}

/// Six runs of 20 ms items, then five of 23 ms, every run judged against those before it.
pub(crate) fn stepped_and_judged_all() -> History {
    let mut ms = vec![20.0; 6];
    ms.extend([23.0; 5]);
    let options = Options {
        judge_all: true,
        ..Options::default()
    };
    analyse(&history(&ms), &options).unwrap()
}

#[test]
fn judging_every_run_names_the_one_that_stepped() {
    let h = stepped_and_judged_all();
    assert_eq!(h.judgements.len(), 10);
    let failing: Vec<usize> = h
        .judgements
        .iter()
        .filter(|j| j.count(Verdict::Regressed) > 0)
        .map(|j| j.run)
        .collect();
    // Run 7 regressed. The runs right after it are judged against histories holding one or
    // two slow runs, not yet a sustained step; by the last, the step at 7 is found and the
    // run is judged against the new level alone.
    assert_eq!(failing.first(), Some(&7), "{failing:?}");
    let last = h.latest().unwrap();
    assert_eq!(last.count(Verdict::Regressed), 0, "{last:?}");
    assert_eq!(last.rows[0].first_run, 7, "{:?}", last.rows[0]);
}

#[test]
fn other_workloads_are_refused_with_the_difference_named() {
    let mut runs = history(&[20.0, 20.0, 20.0]);
    runs[2]
        .stored
        .sweep
        .spec
        .workload
        .params
        .insert("ms".into(), 26.into());
    let err = analyse(&runs, &Options::default()).unwrap_err().to_string();
    assert!(
        err.starts_with("run-3 does not belong with run-1: "),
        "{err}"
    );
    assert!(err.contains("workload parameter 'ms' differs"), "{err}");
    let allowed = Options {
        allow_param_change: true,
        ..Options::default()
    };
    let h = analyse(&runs, &allowed).unwrap();
    assert!(
        h.notes.iter().any(|n| n.contains("Compared despite")),
        "{:?}",
        h.notes
    );
    runs[1].stored.sweep.spec.workload.kind = "cpu".into();
    let err = analyse(&runs, &allowed).unwrap_err().to_string();
    assert!(err.contains("workload kind differs"), "{err}");
}

#[test]
fn a_single_run_is_a_history_with_nothing_to_judge() {
    let h = analyse(&history(&[20.0]), &Options::default()).unwrap();
    assert!(h.latest().is_none() && h.judgements.is_empty());
    assert_eq!(h.series.len(), 4 * METRICS.len());
    assert!(analyse(&[], &Options::default()).is_err());
}
