//! The stepper behind `tune`: a sweep measured one point at a time, each next point chosen by
//! the caller from the last ones, with the same measurement, speedups, warnings, listeners and
//! analysis as `sweep::run`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;

use crate::analysis::{self, SearchRecord};
use crate::backend::{Backend, BackendKind};
use crate::measure::environment::Environment;
use crate::measure::memory::PeakMethod;
use crate::results::warning::Warning;
use crate::results::{SweepResult, FORMAT_VERSION};
use crate::spec::RunSpec;
use crate::sweep::{self, PlannedPoint, SweepListener};
use crate::workload::{Nature, Registry, Workload};

/// A sweep built one point at a time by a caller that picks each next point from the last ones:
/// the same measurement, speedups, warnings, listeners and analysis as `sweep::run`.
pub struct Stepper<'a> {
    spec: &'a RunSpec,
    workload: Arc<dyn Workload>,
    backends: HashMap<BackendKind, Box<dyn Backend>>,
    stop: Arc<AtomicBool>,
    pub sweep: SweepResult,
}

impl<'a> Stepper<'a> {
    pub fn new(
        spec: &'a RunSpec,
        registry: &Registry,
        listener: &mut dyn SweepListener,
        stop: Arc<AtomicBool>,
    ) -> anyhow::Result<Self> {
        let workload = registry.build(&spec.workload)?;
        listener.sweep_start(&[], spec)?;
        let mut stepper = Stepper {
            spec,
            workload,
            backends: HashMap::new(),
            stop,
            sweep: SweepResult {
                format_version: FORMAT_VERSION,
                spec: spec.clone(),
                environment: Environment::detect(),
                started_at: sweep::now_text(),
                finished_at: None,
                baseline_throughput_per_s: None,
                baseline_goodput_per_s: None,
                points: Vec::new(),
                warnings: Vec::new(),
                interrupted: false,
                stopped: None,
                analysis: None,
            },
        };
        if stepper.workload.nature() == Nature::CpuBound
            && spec.sweep.backends.contains(&BackendKind::Async)
        {
            stepper.warn(listener, Warning::CpuBoundOnAsync);
        }
        Ok(stepper)
    }

    fn warn(&mut self, listener: &mut dyn SweepListener, w: Warning) {
        let text = w.to_string();
        if !self.sweep.warnings.contains(&text) {
            listener.warning(&w);
            self.sweep.warnings.push(text);
        }
    }

    /// Measures one point. False when the run was interrupted (the point is then not kept).
    pub fn measure(
        &mut self,
        point: PlannedPoint,
        listener: &mut dyn SweepListener,
    ) -> anyhow::Result<bool> {
        if self.stop.load(Ordering::Relaxed) {
            self.sweep.interrupted = true;
            return Ok(false);
        }
        let backend = match self.backends.entry(point.backend) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => e.insert(point.backend.create()?),
        };
        let progress = Arc::new(crate::backend::PointProgress::new(point.throttle));
        listener.point_start(self.sweep.points.len(), &point, &progress);
        let (mut result, peak_method) = sweep::measure_point(
            backend.as_ref(),
            self.spec,
            &self.workload,
            &point,
            (
                progress,
                sweep::warmup_for(self.spec, self.sweep.points.is_empty()),
            ),
            self.stop.clone(),
        )
        .with_context(|| format!("{} at throttle {}", point.backend, point.throttle))?;
        if self.stop.load(Ordering::Relaxed) {
            self.sweep.interrupted = true;
            return Ok(false);
        }
        if peak_method == PeakMethod::Sampled {
            self.warn(listener, Warning::PeakRssSampled);
        }
        self.sweep.environment.peak_rss_method = sweep::peak_method_name(peak_method).to_string();
        if result.is_baseline() {
            sweep::update_baseline(&mut self.sweep, &result);
        }
        sweep::set_speedup(&mut result, self.sweep.baseline_goodput_per_s);
        for w in sweep::point_warnings(&result, self.spec) {
            self.warn(listener, w);
        }
        self.sweep.points.push(result);
        let last = self.sweep.points.last().cloned().expect("just pushed");
        listener.point_done(&last, &self.sweep)?;
        Ok(true)
    }

    /// Records the throttles measured in the spec, analyses, and tells the listener.
    pub fn finish(
        mut self,
        listener: &mut dyn SweepListener,
        search: SearchRecord,
    ) -> anyhow::Result<SweepResult> {
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
        for summary in self.sweep.summaries() {
            if summary.spread > 0.10 {
                let w = Warning::NoisyRepetitions {
                    backend: summary.backend,
                    throttle: summary.throttle,
                    spread: summary.spread,
                };
                self.warn(listener, w);
            }
        }
        self.sweep.finished_at = Some(sweep::now_text());
        let mut analysis = analysis::analyze(&self.sweep);
        analysis.search = Some(search);
        self.sweep.analysis = Some(analysis);
        listener.sweep_done(&self.sweep)?;
        Ok(self.sweep)
    }
}
