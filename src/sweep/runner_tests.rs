//! The point runner on the fake backend: order, speedups, listeners, interruption and resume,
//! a failing baseline, warnings — exact figures, fake time, no sleeping.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use super::fake::{spec, Fake};
use super::*;
use crate::backend::BackendKind::{Remote, Sequential, Thread};

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * b.abs().max(1.0)
}

#[test]
fn the_baseline_runs_first_and_speedups_follow_the_curve() {
    // 10 ms items through a resource of 4 slots: 100/s alone, 400/s from throttle 4 on.
    let fake = Fake::bounded(10.0, 4, 0.0);
    let sweep = fake.run(&spec(&[Thread], &[1, 2, 4, 8], 40, 1));
    let keys: Vec<(BackendKind, usize)> = sweep
        .points
        .iter()
        .map(|p| (p.backend, p.throttle))
        .collect();
    assert_eq!(
        keys,
        [
            (Sequential, 1),
            (Thread, 1),
            (Thread, 2),
            (Thread, 4),
            (Thread, 8)
        ]
    );
    assert!(close(sweep.baseline_goodput_per_s.unwrap(), 100.0));
    let speedups: Vec<f64> = sweep.points.iter().map(|p| p.speedup.unwrap()).collect();
    for (got, want) in speedups.iter().zip([1.0, 1.0, 2.0, 4.0, 4.0]) {
        assert!(close(*got, want), "{speedups:?}");
    }
    assert!(close(sweep.points[4].efficiency.unwrap(), 0.5));
    // Time passed on the fake clock only: 40 items per point, plus the first point's one
    // warm-up item, at each point's rate.
    let fake_s = 0.01 + 0.4 + 0.4 + 0.2 + 0.1 + 0.1;
    assert!(close(fake.clock().now().as_secs_f64(), fake_s));
    assert!(!sweep.interrupted && sweep.finished_at.is_some());
    assert!(sweep.analysis.is_some());
}

/// Every hook, in the order heard.
#[derive(Default)]
struct Recorder(Vec<String>);

impl SweepListener for Recorder {
    fn sweep_start(&mut self, plan: &[PlannedPoint], _spec: &RunSpec) -> anyhow::Result<()> {
        self.0.push(format!("sweep_start {}", plan.len()));
        Ok(())
    }
    fn point_start(&mut self, index: usize, point: &PlannedPoint, _: &Arc<PointProgress>) {
        self.0
            .push(format!("point_start {index} {}", point.throttle));
    }
    fn point_done(&mut self, point: &PointResult, sweep: &SweepResult) -> anyhow::Result<()> {
        assert_eq!(
            sweep.points.last(),
            Some(point),
            "the point is the sweep's last"
        );
        self.0.push(format!("point_done {}", point.throttle));
        Ok(())
    }
    fn sweep_done(&mut self, sweep: &SweepResult) -> anyhow::Result<()> {
        assert!(sweep.analysis.is_some());
        self.0.push("sweep_done".into());
        Ok(())
    }
}

#[test]
fn every_point_reaches_the_listeners_before_the_next_starts() {
    let mut heard = Recorder::default();
    Fake::bounded(10.0, 4, 0.0).run_heard(&spec(&[Thread], &[2, 4], 20, 1), &mut heard);
    assert_eq!(
        heard.0,
        [
            "sweep_start 3",
            "point_start 0 1",
            "point_done 1",
            "point_start 1 2",
            "point_done 2",
            "point_start 2 4",
            "point_done 4",
            "sweep_done",
        ]
    );
}

#[test]
fn an_interruption_keeps_finished_points_and_resume_measures_only_the_rest() {
    let spec = spec(&[Thread], &[1, 2, 3, 4, 5], 10, 1);
    // 10 ms items alone: the baseline (with its warm-up item) ends at 110 ms and thread x1 at
    // 210 ms; Ctrl-C comes during thread x2.
    let first = Fake::bounded(10.0, 8, 0.0).interrupt_at(Duration::from_millis(230));
    let cut = first.run(&spec);
    assert!(cut.interrupted);
    let kept: Vec<usize> = cut.points.iter().map(|p| p.throttle).collect();
    assert_eq!(kept, [1, 1], "the baseline and thread x1 only");
    assert_eq!(
        first.executed().len(),
        3,
        "thread x2 ran, cut short, and was dropped"
    );

    let second = Fake::bounded(10.0, 8, 0.0);
    let done = second.resume_heard(cut, &mut Listeners::default());
    assert!(!done.interrupted);
    assert_eq!(
        second.executed(),
        [(Thread, 2), (Thread, 3), (Thread, 4), (Thread, 5)],
        "nothing measured twice, the baseline kept"
    );
    let mut keys: Vec<(BackendKind, usize)> = done
        .points
        .iter()
        .map(|p| (p.backend, p.throttle))
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 6);
    assert!(close(done.points.last().unwrap().speedup.unwrap(), 5.0));
}

#[test]
fn a_baseline_without_a_success_stops_the_sweep_unless_failures_are_ignored() {
    let fake = Fake::bounded(10.0, 4, 0.0).failing(|_| 1.0);
    let mut spec = spec(&[Thread], &[1, 2, 4], 10, 2);
    let stopped = fake.run(&spec);
    assert!(stopped.points.iter().all(|p| p.is_baseline()));
    assert_eq!(stopped.points.len(), 2, "both baseline repetitions ran");
    let why = stopped.stopped.as_deref().unwrap();
    assert!(
        why.contains("fake ×20") && why.contains("--ignore-failures"),
        "{why}"
    );
    assert!(!why.contains("  "), "{why}");

    spec.sweep.ignore_failures = true;
    let all = Fake::bounded(10.0, 4, 0.0).failing(|_| 1.0).run(&spec);
    assert_eq!(all.points.len(), 8);
    assert!(all.stopped.is_none());
    assert!(all.points.iter().all(|p| p.speedup.is_none()));
}

#[test]
fn failed_items_are_not_work_and_are_warned_about() {
    // Half the items fail from throttle 4 on.
    let fake = Fake::bounded(10.0, 8, 0.0).failing(|n| if n >= 4 { 0.5 } else { 0.0 });
    let sweep = fake.run(&spec(&[Thread], &[2, 4], 40, 1));
    let four = sweep.points.iter().find(|p| p.throttle == 4).unwrap();
    assert_eq!((four.ok, four.failed), (20, 20));
    assert!(close(four.goodput_per_s, 200.0));
    assert!(close(four.speedup.unwrap(), 2.0));
    assert!(sweep
        .warnings
        .iter()
        .any(|w| w.contains("thread at throttle 4: 20 failed")));
}

#[test]
fn disagreeing_repetitions_are_warned_about_once() {
    let fake = Fake::bounded(10.0, 4, 0.0).jitter(&[1.0, 1.3]);
    let sweep = fake.run(&spec(&[Thread], &[2, 4], 40, 2));
    let noisy: Vec<&String> = sweep
        .warnings
        .iter()
        .filter(|w| w.contains("repetitions disagree"))
        .collect();
    // The baseline and both throttles spread alike: one warning each.
    assert_eq!(noisy.len(), 3, "{noisy:?}");
}

#[test]
fn too_few_items_for_the_planned_throttles_are_warned_about_before_measuring() {
    let sweep = Fake::bounded(10.0, 4, 0.0).run(&spec(&[Thread], &[2, 16], 8, 1));
    assert!(sweep
        .warnings
        .first()
        .is_some_and(|w| w.contains("only 8 items per point but throttles up to 16")));
}

#[test]
fn a_duration_budget_runs_as_many_items_as_fit() {
    let mut spec = spec(&[Thread], &[4], 1, 1);
    spec.sweep.budget = Budget::Duration(Duration::from_secs(2));
    let sweep = Fake::bounded(10.0, 4, 0.0).run(&spec);
    let items: Vec<u64> = sweep.points.iter().map(|p| p.items).collect();
    assert_eq!(items, [200, 800]);
}

#[test]
fn remote_hosts_are_checked_before_the_baseline() {
    let backends = Backends::from_fn(Box::new(|kind| {
        anyhow::ensure!(kind != Remote, "no such host");
        kind.create()
    }));
    let mut heard = Recorder::default();
    let result = resume_with(
        fresh_sweep(&spec(&[Remote], &[2], 10, 1)),
        &Registry::builtin(),
        backends,
        &mut heard,
        Arc::new(AtomicBool::new(false)),
    );
    assert_eq!(result.unwrap_err().to_string(), "no such host");
    assert_eq!(heard.0, ["sweep_start 2"], "no point ran");
}
