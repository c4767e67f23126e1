//! The point runner: every way of measuring — a planned sweep, a resumed one, `tune`'s search —
//! measures its points here, one at a time, in the order its caller chooses. For each point it
//! picks the backend (built once, with the sweep's settings), measures, folds the baseline and
//! speedups in, raises warnings and tells the listeners, which write the point to disk before
//! the next one starts. The caller only decides which point comes next and when to finish.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;

use super::point::{idle_point, measure_point, peak_method_name, warmup_for};
use super::shard::{ms_between, shard_load, wait_until, window, PointLoad};
use super::speedup::{baseline_failed, set_speedup, update_baseline};
use super::{now_text, point_warnings, PlannedPoint, SweepListener};
use crate::analysis::{self, SearchRecord};
use crate::backend::limiter::{LimitGate, LimiterSpec};
use crate::backend::{Backend, BackendKind, Budget, PointProgress};
use crate::measure::environment::Environment;
use crate::measure::memory::PeakMethod;
use crate::results::limited::LimiterTrack;
use crate::results::warning::Warning;
use crate::results::{SweepResult, FORMAT_VERSION};
use crate::spec::{RunSpec, SweepSettings};
use crate::workload::{Nature, Registry, Workload};

/// Repetitions of one point that disagree by more than this share of throughput are noisy.
const NOISY_SPREAD: f64 = 0.10;

/// Builds the backend of a kind; called once per kind a sweep uses.
pub(crate) type MakeBackend = Box<dyn FnMut(BackendKind) -> anyhow::Result<Box<dyn Backend>>>;

/// The backends of one sweep, each built on first use and kept for the points after.
pub(crate) struct Backends {
    built: HashMap<BackendKind, Box<dyn Backend>>,
    make: MakeBackend,
}

impl Backends {
    /// The real backends, built for these settings (`remote` connects to their hosts).
    pub fn real(settings: &SweepSettings) -> Backends {
        let settings = settings.clone();
        Backends::from_fn(Box::new(move |kind| kind.create_for(&settings)))
    }

    /// Backends made by `make`: a fake in tests, later other kinds of runner.
    pub fn from_fn(make: MakeBackend) -> Backends {
        Backends {
            built: HashMap::new(),
            make,
        }
    }

    fn get(&mut self, kind: BackendKind) -> anyhow::Result<&dyn Backend> {
        let backend = match self.built.entry(kind) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert((self.make)(kind)?),
        };
        Ok(&**backend)
    }
}

/// What became of a point the runner was asked to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Measured and kept: it is the sweep's last point now.
    Kept,
    /// The run was interrupted before or during the point: nothing of it is kept.
    Interrupted,
}

/// Measures points into one sweep; see the module's documentation.
pub(crate) struct PointRunner<'l> {
    sweep: SweepResult,
    workload: Arc<dyn Workload>,
    backends: Backends,
    listener: &'l mut dyn SweepListener,
    stop: Arc<AtomicBool>,
    /// The whole plan, baseline included, when points open on a schedule: a point's place in
    /// it is its window, the same for every shard.
    scheduled: Vec<PlannedPoint>,
}

impl<'l> PointRunner<'l> {
    /// Starts measuring into `sweep` (fresh, or an interrupted one being continued): builds the
    /// workload, tells the listener what is `planned` (empty when points are chosen as the run
    /// goes), warns about what is wrong already, and checks every backend's workers now (remote
    /// hosts included), so a bad worker or host costs no waiting for the baseline.
    pub fn start(
        mut sweep: SweepResult,
        registry: &Registry,
        backends: Backends,
        planned: &[PlannedPoint],
        listener: &'l mut dyn SweepListener,
        stop: Arc<AtomicBool>,
    ) -> anyhow::Result<PointRunner<'l>> {
        let workload = registry.build(&sweep.spec.workload)?;
        let settings = &sweep.spec.sweep;
        let mut first_warnings = Vec::new();
        // Only planned throttles can be judged here: a search's are not known yet.
        // An open-loop point's throttle is a cap, which its items need not fill.
        let top = planned
            .iter()
            .filter(|p| p.rate.is_none())
            .map(|p| p.throttle)
            .max()
            .unwrap_or(1);
        if let Budget::Items(items) = settings.budget {
            if items < top as u64 {
                first_warnings.push(Warning::FewerItemsThanThrottle {
                    items,
                    throttle: top,
                });
            }
        }
        if workload.nature() == Nature::CpuBound && settings.backends.contains(&BackendKind::Async)
        {
            first_warnings.push(Warning::CpuBoundOnAsync);
        }
        sweep.interrupted = false;
        sweep.finished_at = None;
        listener.sweep_start(planned, &sweep.spec)?;
        let scheduled = if settings.schedule.is_some() {
            super::plan(&sweep.spec)
        } else {
            Vec::new()
        };
        let mut runner = PointRunner {
            sweep,
            workload,
            backends,
            listener,
            stop,
            scheduled,
        };
        for warning in first_warnings {
            runner.warn(warning);
        }
        // Backends that start workers show they can before the baseline: a worker that cannot
        // build the workload, a host out of reach, is one error now, not after a long wait.
        let for_workers = runner
            .workload
            .spec_for_workers()
            .unwrap_or_else(|| runner.sweep.spec.workload.clone());
        let with_workers = [
            BackendKind::Process,
            BackendKind::ProcessPerItem,
            BackendKind::Remote,
        ];
        for kind in runner.sweep.spec.sweep.backends.clone() {
            if with_workers.contains(&kind) {
                runner.backends.get(kind)?.check(&for_workers)?;
            }
        }
        Ok(runner)
    }

    /// The sweep so far.
    pub fn sweep(&self) -> &SweepResult {
        &self.sweep
    }

    pub fn spec(&self) -> &RunSpec {
        &self.sweep.spec
    }

    /// Tells the listener about `warning` unless the sweep holds it already.
    pub fn warn(&mut self, warning: Warning) {
        let text = warning.to_string();
        if !self.sweep.warnings.contains(&text) {
            self.listener.warning(&warning);
            self.sweep.warnings.push(text);
        }
    }

    /// Measures one point and keeps it, unless the run is or gets interrupted: a point cut
    /// short would mislead, so it is dropped.
    pub fn measure(&mut self, point: PlannedPoint) -> anyhow::Result<Step> {
        if self.stop.load(Ordering::Relaxed) {
            self.sweep.interrupted = true;
            return Ok(Step::Interrupted);
        }
        let window = self
            .scheduled
            .iter()
            .position(|p| *p == point)
            .and_then(|index| window(&self.sweep.spec.sweep, index));
        if let Some(window) = &window {
            if !wait_until(window.opens, &self.stop) {
                self.sweep.interrupted = true;
                return Ok(Step::Interrupted);
            }
        }
        let started = std::time::SystemTime::now();
        let load = shard_load(&self.sweep.spec.sweep, &point);
        let backend = self.backends.get(point.backend)?;
        let progress = Arc::new(PointProgress::new(load.slots));
        self.listener
            .point_start(self.sweep.points.len(), &point, &progress);
        let warmup = warmup_for(&self.sweep.spec, self.sweep.points.is_empty());
        let (mut result, peak_method) = if load.is_idle() {
            // Nothing of this point is ours: wait its measuring time out with the other shards.
            if let Some(window) = &window {
                wait_until(window.measures_until, &self.stop);
            }
            let waited = started.elapsed().unwrap_or_default();
            let idle = idle_point(&self.sweep.spec, &point, waited);
            (idle, None)
        } else {
            measure_point(
                backend,
                &self.sweep.spec,
                &self.workload,
                &point,
                (load, None),
                (progress, warmup),
                self.stop.clone(),
            )
            .map(|(result, method)| (result, Some(method)))
            .with_context(|| match point.rate {
                Some(rate) => format!("{} at {} items/s", point.backend, crate::format::rate(rate)),
                None => format!("{} at throttle {}", point.backend, point.throttle),
            })?
        };
        if self.sweep.spec.sweep.shard.is_some() {
            result.slots = Some(load.slots);
        }
        if let Some(window) = &window {
            result.late_start_ms = Some(ms_between(window.opens, started));
            result.overran = Some(std::time::SystemTime::now() > window.closes);
        }
        if self.stop.load(Ordering::Relaxed) {
            self.sweep.interrupted = true;
            return Ok(Step::Interrupted);
        }
        if let Some(peak_method) = peak_method {
            if peak_method == PeakMethod::Sampled {
                self.warn(Warning::PeakRssSampled);
            }
            self.sweep.environment.peak_rss_method = peak_method_name(peak_method).to_string();
        }
        if result.is_open_loop() {
            for warning in point_warnings(&result, &self.sweep.spec) {
                self.warn(warning);
            }
            self.sweep.open_loop.push(result);
            let kept = self.sweep.open_loop.last().expect("just pushed");
            self.listener.point_done(kept, &self.sweep)?;
            return Ok(Step::Kept);
        }
        if result.is_baseline() {
            update_baseline(&mut self.sweep, &result);
        }
        set_speedup(&mut result, self.sweep.baseline_goodput_per_s);
        for warning in point_warnings(&result, &self.sweep.spec) {
            self.warn(warning);
        }
        self.sweep.points.push(result);
        let kept = self.sweep.points.last().expect("just pushed");
        self.listener.point_done(kept, &self.sweep)?;
        Ok(Step::Kept)
    }

    /// Measures every limiter of the spec on every backend that can take one, after the static
    /// points (the truth they are judged against); those already measured are skipped.
    pub fn measure_limiters(&mut self) -> anyhow::Result<Step> {
        let settings = &self.sweep.spec.sweep;
        if self.sweep.stopped.is_some() || self.sweep.interrupted {
            return Ok(Step::Interrupted);
        }
        let mut pending = Vec::new();
        for &backend in settings
            .backends
            .iter()
            .filter(|b| crate::spec::takes_limiter(**b))
        {
            for limiter in &settings.limiters {
                let done = self.sweep.limited.iter().any(|p| {
                    p.backend == backend
                        && p.limiter.as_ref().is_some_and(|t| t.limiter == *limiter)
                });
                if !done {
                    pending.push((backend, limiter.clone()));
                }
            }
        }
        for (backend, limiter) in pending {
            if self.measure_limited(backend, &limiter)? == Step::Interrupted {
                return Ok(Step::Interrupted);
            }
        }
        Ok(Step::Kept)
    }

    /// One limiter's point: as many lanes as the limit may reach, held to the limiter's limit.
    /// Its row's throttle is where the limit settled.
    fn measure_limited(
        &mut self,
        kind: BackendKind,
        limiter: &LimiterSpec,
    ) -> anyhow::Result<Step> {
        if self.stop.load(Ordering::Relaxed) {
            self.sweep.interrupted = true;
            return Ok(Step::Interrupted);
        }
        let lanes = crate::spec::limiter_lanes(&self.sweep.spec.sweep);
        let gate = Arc::new(LimitGate::new(limiter.build(lanes)));
        let point = PlannedPoint {
            backend: kind,
            throttle: lanes,
            repetition: 1,
            rate: None,
        };
        let load = PointLoad {
            slots: lanes,
            budget: self.sweep.spec.sweep.budget,
        };
        let backend = self.backends.get(kind)?;
        let progress = Arc::new(PointProgress::new(lanes));
        self.listener
            .point_start(self.sweep.points.len(), &point, &progress);
        let (mut result, _) = measure_point(
            backend,
            &self.sweep.spec,
            &self.workload,
            &point,
            (load, Some(gate.clone())),
            (progress, self.sweep.spec.sweep.warmup),
            self.stop.clone(),
        )
        .with_context(|| format!("{kind} with limiter {limiter}"))?;
        if self.stop.load(Ordering::Relaxed) {
            self.sweep.interrupted = true;
            return Ok(Step::Interrupted);
        }
        let steps = gate.steps();
        let settled = analysis::limiters::settled_limit(&steps, result.wall_s);
        result.throttle = settled.round().max(1.0) as usize;
        result.limiter = Some(LimiterTrack {
            limiter: limiter.clone(),
            lanes,
            settled,
            limit_over_time: steps,
        });
        set_speedup(&mut result, self.sweep.baseline_goodput_per_s);
        self.sweep.limited.push(result);
        let kept = self.sweep.limited.last().expect("just pushed");
        self.listener.limited_done(kept, &self.sweep)?;
        Ok(Step::Kept)
    }

    /// Called once the baseline's repetitions are measured: false, with the reason kept as the
    /// sweep's `stopped`, when none of its items succeeded and failures are not to be ignored —
    /// there is nothing to measure speedup against.
    pub fn baseline_usable(&mut self) -> bool {
        if self.sweep.baseline_goodput_per_s.is_some() || self.sweep.spec.sweep.ignore_failures {
            return true;
        }
        self.sweep.stopped = Some(baseline_failed(&self.sweep));
        false
    }

    /// Marks the run interrupted although no point was cut: its caller gave up early.
    pub fn interrupt(&mut self) {
        self.sweep.interrupted = true;
    }

    /// Ends the sweep: warns about noisy repetitions, analyses, and tells the listener. A
    /// `search` (tune) is kept with the analysis, and the spec then lists the throttles it
    /// measured, so the sweep reads like one planned with them.
    pub fn finish(mut self, search: Option<SearchRecord>) -> anyhow::Result<SweepResult> {
        if search.is_some() {
            let mut limits: Vec<usize> = self
                .sweep
                .points
                .iter()
                .filter(|p| !p.is_baseline())
                .map(|p| p.throttle)
                .collect();
            limits.sort_unstable();
            limits.dedup();
            self.sweep.spec.sweep.limits = limits;
            let mut rates: Vec<f64> = self
                .sweep
                .open_loop
                .iter()
                .filter_map(|p| p.offered_per_s)
                .collect();
            rates.sort_by(f64::total_cmp);
            rates.dedup();
            if let Some(open) = self.sweep.spec.sweep.open_loop.as_mut() {
                open.rates = rates;
            }
        }
        for summary in self.sweep.summaries() {
            if summary.spread > NOISY_SPREAD {
                self.warn(Warning::NoisyRepetitions {
                    backend: summary.backend,
                    throttle: summary.throttle,
                    spread: summary.spread,
                });
            }
        }
        self.sweep.finished_at = Some(now_text());
        let mut analysis = analysis::analyze(&self.sweep);
        analysis.search = search;
        self.sweep.analysis = Some(analysis);
        self.listener.sweep_done(&self.sweep)?;
        Ok(self.sweep)
    }
}

/// A sweep of `spec` with nothing measured yet.
pub(crate) fn fresh_sweep(spec: &RunSpec) -> SweepResult {
    SweepResult {
        format_version: FORMAT_VERSION,
        spec: spec.clone(),
        environment: Environment::detect(),
        started_at: now_text(),
        finished_at: None,
        baseline_throughput_per_s: None,
        baseline_goodput_per_s: None,
        points: Vec::new(),
        open_loop: Vec::new(),
        limited: Vec::new(),
        warnings: Vec::new(),
        interrupted: false,
        stopped: None,
        analysis: None,
    }
}
