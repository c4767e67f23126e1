//! Runs a sweep: the sequential baseline first, then every backend at every throttle, with
//! repetitions interleaved (rep 1 of every point, then rep 2, …) so machine drift spreads over
//! all points instead of landing on one. Points are measured by the point runner (`runner`),
//! which `tune` and `--resume` measure through too; each finished point goes to the listeners
//! at once.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use crate::backend::{BackendKind, Budget, PointProgress};
use crate::results::warning::Warning;
use crate::results::{PointResult, SweepResult};
use crate::spec::RunSpec;
use crate::workload::Registry;

#[cfg(test)]
pub(crate) mod fake;
pub mod merge;
pub mod merge_checks;
mod point;
mod runner;
#[cfg(test)]
mod runner_tests;
mod shard;
mod speedup;
pub use point::FIRST_POINT_WARMUP;
pub(crate) use runner::{fresh_sweep, Backends, PointRunner, Step};
pub(crate) use speedup::set_speedup;

/// One point to measure.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlannedPoint {
    pub backend: BackendKind,
    /// Items in flight: exactly (closed loop), or at most (open loop).
    pub throttle: usize,
    pub repetition: u32,
    /// Open loop: items offered per second.
    pub rate: Option<f64>,
}

impl PlannedPoint {
    /// A closed-loop point.
    pub fn closed(backend: BackendKind, throttle: usize, repetition: u32) -> PlannedPoint {
        PlannedPoint {
            backend,
            throttle,
            repetition,
            rate: None,
        }
    }
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
    /// A limiter's point (`--limiter`) was measured: it is the last of `sweep.limited`.
    fn limited_done(&mut self, _point: &PointResult, _sweep: &SweepResult) -> anyhow::Result<()> {
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
    fn limited_done(&mut self, point: &PointResult, sweep: &SweepResult) -> anyhow::Result<()> {
        self.0
            .iter_mut()
            .try_for_each(|l| l.limited_done(point, sweep))
    }
    fn warning(&mut self, warning: &Warning) {
        self.0.iter_mut().for_each(|l| l.warning(warning));
    }
    fn sweep_done(&mut self, sweep: &SweepResult) -> anyhow::Result<()> {
        self.0.iter_mut().try_for_each(|l| l.sweep_done(sweep))
    }
}

/// The order points run in: all baseline repetitions, then repetition by repetition every
/// backend at every throttle, then at every offered rate. A run of rates alone has no
/// baseline: nothing in the open loop is measured against one.
pub fn plan(spec: &RunSpec) -> Vec<PlannedPoint> {
    let s = &spec.sweep;
    let closed_loop = !s.limits.is_empty();
    let mut points: Vec<PlannedPoint> = (1..=s.repeat)
        .filter(|_| closed_loop)
        .map(|repetition| PlannedPoint::closed(BackendKind::Sequential, 1, repetition))
        .collect();
    for repetition in 1..=s.repeat {
        for &backend in &s.backends {
            for &throttle in &s.limits {
                points.push(PlannedPoint::closed(backend, throttle, repetition));
            }
            let Some(open) = s.open_loop.as_ref().filter(|_| backend.runs_open_loop()) else {
                continue;
            };
            for rate in open.point_rates() {
                points.push(PlannedPoint {
                    backend,
                    throttle: open.max_inflight_on(backend),
                    repetition,
                    rate: Some(rate),
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
    resume(fresh_sweep(spec), registry, listener, stop)
}

/// Continues a sweep that was interrupted: the points it already holds are kept (the baseline
/// too, if it finished) and only the missing ones run.
pub fn resume(
    sweep: SweepResult,
    registry: &Registry,
    listener: &mut dyn SweepListener,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<SweepResult> {
    let backends = Backends::real(&sweep.spec.sweep);
    resume_with(sweep, registry, backends, listener, stop)
}

/// `resume` on backends of the caller's making.
pub(crate) fn resume_with(
    sweep: SweepResult,
    registry: &Registry,
    backends: Backends,
    listener: &mut dyn SweepListener,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<SweepResult> {
    let measured = |p: &PlannedPoint| {
        sweep.points.iter().chain(&sweep.open_loop).any(|r| {
            r.backend == p.backend
                && r.throttle == p.throttle
                && r.repetition == p.repetition
                && r.offered_per_s == p.rate
        })
    };
    let remaining: Vec<PlannedPoint> = plan(&sweep.spec)
        .into_iter()
        .filter(|p| !measured(p) && shard::runs_point(&sweep.spec.sweep, p))
        .collect();
    let mut runner = PointRunner::start(sweep, registry, backends, &remaining, listener, stop)?;
    for (index, &point) in remaining.iter().enumerate() {
        if runner.measure(point)? == Step::Interrupted {
            break;
        }
        let baseline_done = point.backend == BackendKind::Sequential
            && remaining
                .get(index + 1)
                .map_or(true, |next| next.backend != BackendKind::Sequential);
        if baseline_done && !runner.baseline_usable() {
            break;
        }
    }
    runner.measure_limiters()?;
    runner.finish(None)
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
    // An open loop's throttle is a cap, not a target; a shard's is its share of slots.
    let slots = p.slots.unwrap_or(p.throttle);
    if !p.is_open_loop()
        && p.items >= slots as u64
        && p.max_inflight < slots
        && p.failed + p.timed_out == 0
    {
        warnings.push(Warning::InflightBelowThrottle {
            backend: p.backend,
            throttle: slots,
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
