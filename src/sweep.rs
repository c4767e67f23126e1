//! Runs a sweep: the sequential baseline first, then every backend at every throttle, with
//! repetitions interleaved (rep 1 of every point, then rep 2, …) so machine drift spreads over
//! all points instead of landing on one. Each finished point goes to the listeners at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::backend::{Backend, BackendKind, Budget, Execution, PointJob, PointProgress};
use crate::measure::cpu::CpuTimes;
use crate::measure::environment::Environment;
use crate::measure::latency::{encode_histogram, us_to_ms};
use crate::measure::memory::{bytes_to_mb, rss_bytes, PeakMethod, PeakWatch};
use crate::results::{median, PointResult, SweepResult, FORMAT_VERSION};
use crate::spec::RunSpec;
use crate::warning::Warning;
use crate::workload::{Nature, Registry, Workload};

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
        points: Vec::new(),
        warnings: Vec::new(),
        interrupted: false,
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
            progress,
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
            let mut baseline: Vec<f64> = sweep
                .points
                .iter()
                .filter(|p| p.is_baseline())
                .map(|p| p.throughput_per_s)
                .collect();
            baseline.push(result.throughput_per_s);
            sweep.baseline_throughput_per_s = median(&mut baseline);
        }
        set_speedup(&mut result, sweep.baseline_throughput_per_s);
        for w in point_warnings(&result, spec) {
            warn(&mut sweep, listener, w);
        }
        sweep.points.push(result);
        if point.backend == BackendKind::Sequential {
            // Later baseline repetitions move the median: earlier baseline rows follow it.
            let base = sweep.baseline_throughput_per_s;
            sweep
                .points
                .iter_mut()
                .filter(|p| p.is_baseline())
                .for_each(|p| set_speedup(p, base));
        }
        let last = sweep.points.last().cloned().expect("just pushed");
        listener.point_done(&last, &sweep)?;
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

pub(crate) fn set_speedup(point: &mut PointResult, baseline: Option<f64>) {
    let speedup = match baseline {
        Some(base) if base > 0.0 => point.throughput_per_s / base,
        _ => 0.0,
    };
    point.speedup = speedup;
    point.efficiency = speedup / point.throttle as f64;
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

/// Runs one point inside CPU and memory measurement and turns it into a result row.
pub(crate) fn measure_point(
    backend: &dyn Backend,
    spec: &RunSpec,
    workload: &Arc<dyn Workload>,
    point: &PlannedPoint,
    progress: Arc<PointProgress>,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<(PointResult, PeakMethod)> {
    let job = PointJob {
        workload,
        spec: &spec.workload,
        throttle: point.throttle,
        budget: spec.sweep.budget,
        warmup: spec.sweep.warmup,
        timeout: spec.sweep.timeout,
        retry: spec.sweep.retry,
        trace: spec.sweep.trace,
        progress,
        stop,
    };
    let rss_before = rss_bytes().unwrap_or(0);
    let cpu_before = (CpuTimes::of_self(), CpuTimes::of_children());
    let peak = PeakWatch::start();
    let execution = backend.execute(&job)?;
    // Children count too: worker processes, per-item processes and `command` items are reaped
    // within the point, and their CPU is part of what the point cost.
    let cpu = CpuTimes::of_self()
        .since(cpu_before.0)
        .plus(CpuTimes::of_children().since(cpu_before.1));
    let (peak_rss, method) = peak.finish();
    let rss_after = rss_bytes().unwrap_or(0);
    let mut result = point_result(
        spec,
        point,
        execution,
        cpu,
        (rss_before, rss_after, peak_rss.unwrap_or(rss_after)),
    );
    result.hosts = backend.take_hosts();
    Ok((result, method))
}

fn point_result(
    spec: &RunSpec,
    point: &PlannedPoint,
    ex: Execution,
    cpu: CpuTimes,
    (rss_before, rss_after, peak): (u64, u64, u64),
) -> PointResult {
    let s = &ex.stats;
    let items = s.completed();
    let wall_s = ex.wall.as_secs_f64();
    let h = &s.latency;
    let q = |quantile: f64| {
        if h.is_empty() {
            0.0
        } else {
            us_to_ms(h.value_at_quantile(quantile))
        }
    };
    // Worker processes' memory counts too: their peaks add to ours.
    let children = ex.children_peak_rss.unwrap_or(0);
    PointResult {
        workload: spec.name.clone(),
        backend: point.backend,
        throttle: point.throttle,
        repetition: point.repetition,
        items,
        ok: s.ok,
        failed: s.failed,
        timed_out: s.timed_out,
        wall_s,
        throughput_per_s: if wall_s > 0.0 {
            items as f64 / wall_s
        } else {
            0.0
        },
        speedup: 0.0,
        efficiency: 0.0,
        lat_mean_ms: if h.is_empty() { 0.0 } else { h.mean() / 1000.0 },
        lat_p50_ms: q(0.50),
        lat_p90_ms: q(0.90),
        lat_p99_ms: q(0.99),
        lat_p999_ms: q(0.999),
        lat_max_ms: if h.is_empty() { 0.0 } else { us_to_ms(h.max()) },
        cpu_user_s: cpu.user.as_secs_f64(),
        cpu_sys_s: cpu.sys.as_secs_f64(),
        rss_before_mb: bytes_to_mb(rss_before),
        rss_after_mb: bytes_to_mb(rss_after),
        mem_delta_mb: bytes_to_mb(rss_after) - bytes_to_mb(rss_before),
        peak_rss_mb: bytes_to_mb(peak + children),
        max_inflight: ex.max_inflight,
        startup_ms: ex.startup.map(|d| d.as_secs_f64() * 1000.0),
        errors: s.errors.clone(),
        failures: s.failures.clone(),
        achieved_concurrency: if wall_s > 0.0 {
            s.busy.as_secs_f64() / wall_s
        } else {
            0.0
        },
        histogram: encode_histogram(h),
        retried: s.retried,
        hosts: Vec::new(),
        trace: ex.stats.trace,
    }
}

pub(crate) fn peak_method_name(method: PeakMethod) -> &'static str {
    match method {
        PeakMethod::ClearRefs => "clear-refs",
        PeakMethod::Sampled => "sampled",
        PeakMethod::Unavailable => "unavailable",
    }
}

/// Local time as `2026-11-25T21:46:17+00:00`.
pub fn now_text() -> String {
    chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}
