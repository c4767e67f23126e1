//! How `tune` measures: the sequential baseline, then every throttle the search asks for, each
//! with all its repetitions, through the sweep's point runner — so a search measures, warns and
//! writes its points exactly as a sweep does, on every backend a sweep can use.

use crate::analysis::{measured, pick, Measured, SearchRecord};
use crate::backend::BackendKind;
use crate::results::findings::RateOutcome;
use crate::results::SweepResult;
use crate::sweep::{PlannedPoint, PointRunner, Step};

use super::{search, Phase, Probe};

/// What a search tells its caller as it goes, for showing.
#[derive(Debug)]
pub enum Heard<'a> {
    /// The baseline's repetitions are measured and some of its items succeeded.
    Baseline { goodput_per_s: f64 },
    /// A throttle was probed (every repetition of it measured).
    Probe {
        /// 1 for the first probe.
        count: usize,
        phase: Phase,
        backend: BackendKind,
        measured: &'a Measured,
        /// The SLO held there (without one: the error budget did).
        slo_met: bool,
    },
    /// An offered rate was probed (`tune --rates`, every repetition of it measured).
    Rate {
        backend: BackendKind,
        outcome: &'a RateOutcome,
    },
}

/// Searches 1..=`max_limit` on `backend` for the best throttle, measuring through `runner`,
/// and ends the sweep with the search's record in its analysis.
pub fn run(
    runner: PointRunner<'_>,
    backend: BackendKind,
    max_limit: usize,
    heard: &mut dyn FnMut(Heard<'_>),
) -> anyhow::Result<SweepResult> {
    let mut stepper = Stepper { runner, backend };
    let repeat = stepper.runner.spec().sweep.repeat as usize;
    let mut record = SearchRecord::new(backend, max_limit, repeat);
    let mut complete = stepper.baseline()?;
    if let Some(goodput_per_s) = stepper.runner.sweep().baseline_goodput_per_s {
        heard(Heard::Baseline { goodput_per_s });
    }
    if complete {
        let slo = stepper.runner.spec().sweep.slo.clone();
        let mut count = 0;
        let outcome = search(max_limit, |n, phase| {
            let Some(m) = stepper.probe(n)? else {
                return Ok(None);
            };
            // Past the error budget a throttle breaks the ramp as an SLO would: its speed is
            // failures', not work's.
            let slo_met = pick::feasible(&m, slo.as_ref());
            count += 1;
            heard(Heard::Probe {
                count,
                phase,
                backend,
                measured: &m,
                slo_met,
            });
            Ok(Some(Probe {
                measured: m,
                feasible: slo_met,
            }))
        })?;
        complete = outcome.complete;
        record.probes = outcome.probes;
        record.outcome = outcome.story;
    }
    let mut runner = stepper.runner;
    record.runs = runner.sweep().points.len();
    if complete {
        // Seeded by what the throttle search found; its points count apart from `runs`.
        super::rates::run(&mut runner, backend, &mut |outcome| {
            heard(Heard::Rate { backend, outcome })
        })?;
        complete = !runner.sweep().interrupted;
    }
    if !complete && runner.sweep().stopped.is_none() {
        runner.interrupt();
    }
    runner.finish(Some(record))
}

/// Measures what the search asks for, a throttle (all its repetitions) at a time.
struct Stepper<'l> {
    runner: PointRunner<'l>,
    backend: BackendKind,
}

impl Stepper<'_> {
    /// Every repetition of the baseline; false when interrupted, or when no baseline item
    /// succeeded and failures are not ignored (the sweep then says why it stopped).
    fn baseline(&mut self) -> anyhow::Result<bool> {
        if !self.repetitions(BackendKind::Sequential, 1)? {
            return Ok(false);
        }
        Ok(self.runner.baseline_usable())
    }

    /// Every repetition of throttle `n` on the searched backend, summarised as the analysis
    /// sees it; `None` when interrupted.
    fn probe(&mut self, n: usize) -> anyhow::Result<Option<Measured>> {
        if !self.repetitions(self.backend, n)? {
            return Ok(None);
        }
        Ok(measured(self.runner.sweep(), self.backend)
            .into_iter()
            .find(|m| m.throttle == n))
    }

    fn repetitions(&mut self, backend: BackendKind, throttle: usize) -> anyhow::Result<bool> {
        for repetition in 1..=self.runner.spec().sweep.repeat {
            let point = PlannedPoint::closed(backend, throttle, repetition);
            if self.runner.measure(point)? == Step::Interrupted {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
#[path = "stepper_tests.rs"]
mod tests;
