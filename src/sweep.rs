//! Runs a sweep: the sequential baseline first, then every backend at every throttle, with
//! repetitions interleaved (rep 1 of every point, then rep 2, …) so machine drift spreads over
//! all points instead of landing on one. Each finished point goes to the listeners at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::backend::{Backend, BackendKind, Budget, PointProgress};
use crate::measure::environment::Environment;
use crate::measure::memory::PeakMethod;
use crate::results::warning::Warning;
use crate::results::{median, PointResult, SweepResult, FORMAT_VERSION};
use crate::spec::RunSpec;
use crate::workload::{Nature, Registry};

mod point;
pub use point::FIRST_POINT_WARMUP;
pub(crate) use point::{measure_point, peak_method_name, warmup_for};

/// One point to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedPoint {
    pub backend: BackendKind,
    pub throttle: usize,
    pub repetition: u32,
}

/// Hears about a sweep as it runs; every hook defaults to doing nothing.
pub trait SweepListener {
    fn sweep_start(&mut self, _plan: &[PlannedPoint], _spec: &RunSpec) -> anyhow::Result<()> {
        Ok(())
    }
    fn point_start(
        &mut self,
        _index: usize,
        _point: &PlannedPoint,
        _progress: &Arc<PointProgress>,
    ) {
    }
    fn point_done(&mut self, _point: &PointResult, _sweep: &SweepResult) -> anyhow::Result<()> {
        Ok(())
    }
    fn warning(&mut self, _warning: &Warning) {}
    fn sweep_done(&mut self, _sweep: &SweepResult) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Forwards every hook to several listeners, in order.
#[derive(Default)]
pub struct Listeners(pub Vec<Box<dyn SweepListener>>);

impl SweepListener for Listeners {
    fn sweep_start(&mut self, plan: &[PlannedPoint], spec: &RunSpec) -> anyhow::Result<()> {
        self.0
            .iter_mut()
            .try_for_each(|l| l.sweep_start(plan, spec))
    }
    fn point_start(&mut self, index: usize, point: &PlannedPoint, progress: &Arc<PointProgress>) {
        self.0
            .iter_mut()
            .for_each(|l| l.point_start(index, point, progress));
    }
    fn point_done(&mut self, point: &PointResult, sweep: &SweepResult) -> anyhow::Result<()> {
        self.0
            .iter_mut()
            .try_for_each(|l| l.point_done(point, sweep))
    }
    fn warning(&mut self, warning: &Warning) {
        self.0.iter_mut().for_each(|l| l.warning(warning));
    }
    fn sweep_done(&mut self, sweep: &SweepResult) -> anyhow::Result<()> {
        self.0.iter_mut().try_for_each(|l| l.sweep_done(sweep))
    }
}

/// The order points run in: all baseline repetitions, then repetition by repetition every
/// backend at every throttle.
pub fn plan(spec: &RunSpec) -> Vec<PlannedPoint> {
    let s = &spec.sweep;
    let mut points: Vec<PlannedPoint> = (1..=s.repeat)
        .map(|repetition| PlannedPoint {
            backend: BackendKind::Sequential,
            throttle: 1,
            repetition,
        })
        .collect();
    for repetition in 1..=s.repeat {
        for &backend in &s.backends {
            for &throttle in &s.limits {
                points.push(PlannedPoint {
                    backend,
                    throttle,
                    repetition,
                });
            }
        }
    }
    points
}

/// Runs a sweep to the end (or until `stop` is set), telling `listener` as it goes.
pub fn run(
    spec: &RunSpec,
    registry: &Registry,
    listener: &mut dyn SweepListener,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<SweepResult> {
    let fresh = SweepResult {
        format_version: FORMAT_VERSION,
        spec: spec.clone(),
        environment: Environment::detect(),
        started_at: now_text(),
        finished_at: None,
        baseline_throughput_per_s: None,
        baseline_goodput_per_s: None,
        points: Vec::new(),
        warnings: Vec::new(),
        interrupted: false,
        stopped: None,
        analysis: None,
    };
    resume(fresh, registry, listener, stop)
}

/// Continues a sweep that was interrupted: the points it already holds are kept (the baseline
/// too, if it finished) and only the missing ones run.
pub fn resume(
    mut sweep: SweepResult,
    registry: &Registry,
    listener: &mut dyn SweepListener,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<SweepResult> {
    let spec = &sweep.spec.clone();
    let workload = registry.build(&spec.workload)?;
    let done = |p: &PlannedPoint, sweep: &SweepResult| {
        sweep.points.iter().any(|r| {
            r.backend == p.backend && r.throttle == p.throttle && r.repetition == p.repetition
        })
    };
    let plan: Vec<PlannedPoint> = plan(spec)
        .into_iter()
        .filter(|p| !done(p, &sweep))
        .collect();
    sweep.interrupted = false;
    sweep.finished_at = None;
    listener.sweep_start(&plan, spec)?;
    let warn = |sweep: &mut SweepResult, listener: &mut dyn SweepListener, w: Warning| {
        let text = w.to_string();
        if !sweep.warnings.contains(&text) {
            listener.warning(&w);
            sweep.warnings.push(text);
        }
    };
    if let Budget::Items(items) = spec.sweep.budget {
        let top = spec.sweep.limits.iter().copied().max().unwrap_or(1);
        if items < top as u64 {
            warn(
                &mut sweep,
                listener,
                Warning::FewerItemsThanThrottle {
                    items,
                    throttle: top,
                },
            );
        }
    }
    if workload.nature() == Nature::CpuBound && spec.sweep.backends.contains(&BackendKind::Async) {
        warn(&mut sweep, listener, Warning::CpuBoundOnAsync);
    }

    let mut backends: HashMap<BackendKind, Box<dyn Backend>> = HashMap::new();
    // Remote hosts are checked before the baseline, so a bad host costs no waiting.
    if spec.sweep.backends.contains(&BackendKind::Remote) {
        let remote = BackendKind::Remote.create_for(&spec.sweep)?;
        backends.insert(BackendKind::Remote, remote);
    }
    for (index, point) in plan.iter().enumerate() {
        if stop.load(Ordering::Relaxed) {
            sweep.interrupted = true;
            break;
        }
        let backend = match backends.entry(point.backend) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(point.backend.create_for(&spec.sweep)?)
            }
        };
        let progress = Arc::new(PointProgress::new(point.throttle));
        listener.point_start(index, point, &progress);
        let measured = measure_point(
            backend.as_ref(),
            spec,
            &workload,
            point,
            (progress, warmup_for(spec, sweep.points.is_empty())),
            stop.clone(),
        )
        .with_context(|| format!("{} at throttle {}", point.backend, point.throttle))?;
        if stop.load(Ordering::Relaxed) {
            // The point was cut short: its numbers would mislead, so it is not kept.
            sweep.interrupted = true;
            break;
        }
        let (mut result, peak_method) = measured;
        if peak_method == PeakMethod::Sampled {
            warn(&mut sweep, listener, Warning::PeakRssSampled);
        }
        sweep.environment.peak_rss_method = peak_method_name(peak_method).to_string();
        if point.backend == BackendKind::Sequential {
            update_baseline(&mut sweep, &result);
        }
        set_speedup(&mut result, sweep.baseline_goodput_per_s);
        for w in point_warnings(&result, spec) {
            warn(&mut sweep, listener, w);
        }
        sweep.points.push(result);
        let last = sweep.points.last().cloned().expect("just pushed");
        listener.point_done(&last, &sweep)?;
        let baseline_done = point.backend == BackendKind::Sequential
            && plan
                .get(index + 1)
                .map_or(true, |next| next.backend != BackendKind::Sequential);
        if baseline_done && sweep.baseline_goodput_per_s.is_none() && !spec.sweep.ignore_failures {
            sweep.stopped = Some(baseline_failed(&sweep));
            break;
        }
    }
    for summary in sweep.summaries() {
        if summary.spread > 0.10 {
            let w = Warning::NoisyRepetitions {
                backend: summary.backend,
                throttle: summary.throttle,
                spread: summary.spread,
            };
            warn(&mut sweep, listener, w);
        }
    }
    sweep.finished_at = Some(now_text());
    sweep.analysis = Some(crate::analysis::analyze(&sweep));
    listener.sweep_done(&sweep)?;
    Ok(sweep)
}

/// Folds a new baseline repetition into the baseline's medians; earlier baseline rows follow
/// the moved median. A repetition without a successful item has no goodput to offer.
pub(crate) fn update_baseline(sweep: &mut SweepResult, result: &PointResult) {
    let earlier = || sweep.points.iter().filter(|p| p.is_baseline());
    let mut rates: Vec<f64> = earlier().map(|p| p.throughput_per_s).collect();
    rates.push(result.throughput_per_s);
    let mut goodputs: Vec<f64> = earlier()
        .chain(std::iter::once(result))
        .filter(|p| p.ok > 0)
        .map(|p| p.goodput_per_s)
        .collect();
    sweep.baseline_throughput_per_s = median(&mut rates);
    sweep.baseline_goodput_per_s = median(&mut goodputs);
    let base = sweep.baseline_goodput_per_s;
    sweep
        .points
        .iter_mut()
        .filter(|p| p.is_baseline())
        .for_each(|p| set_speedup(p, base));
}

/// Speedup is goodput against the baseline's goodput: a point with no successful item, or a
/// baseline without one, has none (not 0, which would read as "measured, and useless").
pub(crate) fn set_speedup(point: &mut PointResult, baseline: Option<f64>) {
    point.speedup = match baseline {
        Some(base) if base > 0.0 && point.ok > 0 => Some(point.goodput_per_s / base),
        _ => None,
    };
    point.efficiency = point.speedup.map(|s| s / point.throttle as f64);
}

/// The line a sweep stops on when no baseline item succeeded: the error kinds seen and one
/// sample message, so the cause is on screen without opening a file.
pub(crate) fn baseline_failed(sweep: &SweepResult) -> String {
    let mut kinds: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for p in sweep.points.iter().filter(|p| p.is_baseline()) {
        for (kind, n) in &p.errors {
            *kinds.entry(kind).or_insert(0) += n;
        }
    }
    let mut by_count: Vec<(&str, u64)> = kinds.into_iter().collect();
    by_count.sort_by_key(|&(_, n)| std::cmp::Reverse(n));
    let kinds = by_count
        .iter()
        .take(3)
        .map(|(k, n)| format!("{k} ×{n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sample = sweep
        .points
        .iter()
        .filter(|p| p.is_baseline())
        .flat_map(|p| &p.failures)
        .next()
        .map(|f| format!("; e.g. item {}: {}", f.item, f.message))
        .unwrap_or_default();
    format!(
        "no item of the sequential baseline succeeded ({kinds}{sample}): nothing to measure          speedup against, so the sweep stopped; fix the workload, or pass --ignore-failures to          measure every point anyway"
    )
}

pub(crate) fn point_warnings(p: &PointResult, spec: &RunSpec) -> Vec<Warning> {
    let mut warnings = Vec::new();
    let wall = Duration::from_secs_f64(p.wall_s);
    if matches!(spec.sweep.budget, Budget::Items(_)) && wall < Duration::from_millis(100) {
        warnings.push(Warning::ShortPoint {
            backend: p.backend,
            throttle: p.throttle,
            wall,
        });
    }
    if p.items >= p.throttle as u64 && p.max_inflight < p.throttle && p.failed + p.timed_out == 0 {
        warnings.push(Warning::InflightBelowThrottle {
            backend: p.backend,
            throttle: p.throttle,
            observed: p.max_inflight,
        });
    }
    if p.failed + p.timed_out > 0 {
        warnings.push(Warning::ItemsFailed {
            backend: p.backend,
            throttle: p.throttle,
            failed: p.failed,
            timed_out: p.timed_out,
            items: p.items,
        });
    }
    warnings
}

/// Local time as `2026-11-25T21:46:17+00:00`.
pub fn now_text() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}
