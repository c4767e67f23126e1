//! `tune` on the fake backend: what it finds, what it measures, and how it ends — exact points
//! in fake time, so the search's logic is checked without sleeping.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::backend::BackendKind::{Sequential, Thread};
use crate::spec::RunSpec;
use crate::sweep::fake::{spec, Fake};
use crate::sweep::{fresh_sweep, Backends, Listeners};
use crate::workload::Registry;

/// Tunes `spec` on `backends` up to `max_limit`; the sweep, and what was heard as lines.
fn tune_on(backends: Backends, spec: &RunSpec, max_limit: usize) -> (SweepResult, Vec<String>) {
    let mut listeners = Listeners::default();
    let stop = Arc::new(AtomicBool::new(false));
    let registry = Registry::builtin();
    let sweep = fresh_sweep(spec);
    let runner = PointRunner::start(sweep, &registry, backends, &[], &mut listeners, stop).unwrap();
    let mut heard = Vec::new();
    let sweep = run(runner, Thread, max_limit, &mut |h| {
        heard.push(match h {
            Heard::Baseline { .. } => "baseline".to_string(),
            Heard::Probe {
                count,
                phase,
                measured,
                ..
            } => format!("{count} {} {}", phase.name(), measured.throttle),
            Heard::Rate { outcome, .. } => format!("rate {}", outcome.offered_per_s),
        })
    })
    .unwrap();
    (sweep, heard)
}

fn recommended(sweep: &SweepResult) -> usize {
    sweep
        .analysis
        .as_ref()
        .unwrap()
        .recommendation
        .as_ref()
        .unwrap()
        .throttle
}

fn search_record(sweep: &SweepResult) -> &SearchRecord {
    sweep.analysis.as_ref().unwrap().search.as_ref().unwrap()
}

#[test]
fn a_bounded_resource_optimum_is_found_in_few_runs() {
    // 8 slots of 10 ms items, thrashing past them: the optimum is 8, at 800 items/s.
    let fake = Fake::bounded(10.0, 8, 0.05);
    let (sweep, _) = tune_on(fake.backends(), &spec(&[Thread], &[1], 48, 1), 256);
    let throttle = recommended(&sweep);
    assert!((7..=9).contains(&throttle), "recommended {throttle}");
    let record = search_record(&sweep);
    assert_eq!(record.full_sweep_runs, 257);
    assert_eq!(record.runs, sweep.points.len());
    assert!(record.runs * 10 <= record.full_sweep_runs * 4, "{record:?}");
    // And in a fraction of the time the full sweep would take on the same fake clock.
    let full_s: f64 = (0..=256).map(|n| 48.0 / fake.rate(n.max(1))).sum();
    assert!(fake.clock().now().as_secs_f64() * 4.0 < full_s);
}

#[test]
fn the_slo_is_respected() {
    // 4 slots of 10 ms items: past 4, items queue and latency grows with the throttle (Little's
    // law), passing the 45 ms p99 bound past 16.
    let fake = Fake::bounded(10.0, 4, 0.0);
    let mut spec = spec(&[Thread], &[1], 64, 1);
    spec.sweep.slo = Some("p99=45ms".parse().unwrap());
    let (sweep, _) = tune_on(fake.backends(), &spec, 64);
    let analysis = sweep.analysis.as_ref().unwrap();
    assert_eq!(analysis.slo.as_deref(), Some("p99=45ms"));
    let throttle = recommended(&sweep);
    let at = |n: usize| {
        sweep
            .points
            .iter()
            .find(|p| p.throttle == n && !p.is_baseline())
    };
    assert!(at(throttle).unwrap().lat_p99_ms.unwrap() <= 45.0);
    assert!((4..=16).contains(&throttle), "recommended {throttle}");
    let feasible = &analysis.backends[0].slo.as_ref().unwrap().feasible;
    assert!(feasible.contains(&throttle), "{feasible:?}");
}

#[test]
fn every_probe_measures_every_repetition_and_is_heard() {
    let fake = Fake::bounded(10.0, 4, 0.0);
    let (sweep, heard) = tune_on(fake.backends(), &spec(&[Thread], &[1], 20, 3), 64);
    let record = search_record(&sweep);
    assert_eq!(heard[0], "baseline");
    assert_eq!(heard[1], "1 ramp 1");
    let probed: Vec<usize> = heard[1..]
        .iter()
        .map(|line| line.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(probed, record.probes);
    let reps = |backend: BackendKind, n: usize| {
        sweep
            .points
            .iter()
            .filter(|p| p.backend == backend && p.throttle == n)
            .count()
    };
    assert_eq!(reps(Sequential, 1), 3);
    for &n in &record.probes {
        assert_eq!(reps(Thread, n), 3, "throttle {n}");
    }
    assert_eq!(record.full_sweep_runs, 65 * 3);
    // The spec lists the throttles measured, as a sweep's would.
    let mut limits = record.probes.clone();
    limits.sort_unstable();
    assert_eq!(sweep.spec.sweep.limits, limits);
}

#[test]
fn an_interruption_ends_the_search_with_what_was_measured() {
    // 10 ms items alone, 20 per point: the baseline ends at 210 ms (one warm-up item), throttle
    // 1 at 410 ms, throttle 2 at 510 ms; Ctrl-C comes during throttle 4.
    let fake = Fake::bounded(10.0, 8, 0.0).interrupt_at(Duration::from_millis(530));
    let (sweep, heard) = tune_on(fake.backends(), &spec(&[Thread], &[1], 20, 1), 64);
    assert!(sweep.interrupted);
    assert!(sweep.stopped.is_none());
    assert_eq!(heard, ["baseline", "1 ramp 1", "2 ramp 2"]);
    let record = search_record(&sweep);
    assert_eq!(record.probes, [1, 2]);
    assert!(record.outcome.contains("interrupted"), "{}", record.outcome);
    assert_eq!(sweep.points.len(), 3);
}

#[test]
fn a_baseline_without_a_success_stops_before_the_search() {
    let fake = Fake::bounded(10.0, 4, 0.0).failing(|_| 1.0);
    let (sweep, heard) = tune_on(fake.backends(), &spec(&[Thread], &[1], 10, 2), 64);
    assert!(heard.is_empty(), "{heard:?}");
    assert!(sweep.stopped.is_some());
    assert!(!sweep.interrupted);
    assert!(sweep.points.iter().all(|p| p.is_baseline()));
    assert!(search_record(&sweep).probes.is_empty());
}

#[test]
fn each_backend_is_built_once() {
    let fake = Fake::bounded(10.0, 4, 0.0);
    let (sweep, _) = tune_on(fake.backends(), &spec(&[Thread], &[1], 20, 2), 16);
    assert!(sweep.points.len() > 4);
    assert_eq!(fake.built(), [Sequential, Thread]);
}
