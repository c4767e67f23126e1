//! `throttlebench tune`: find the throttle `run` would recommend, adaptively on one backend — the
//! sequential baseline, a doubling ramp, then only the throttles that can change the answer
//! (`tune::search`) — printing each probe, and writing the same report folder as `run`.

use std::path::Path;

use super::{install_interrupt, Exit};
use crate::analysis::{measured, pick, SearchRecord};
use crate::backend::BackendKind;
use crate::cli::TuneArgs;
use crate::error::SpecError;
use crate::report::folder::{default_folder, RunFolder};
use crate::report::table::{self, maybe, number, percent};
use crate::spec::MAX_THROTTLE;
use crate::sweep::{Listeners, PlannedPoint, SweepListener};
use crate::tune::{search, Probe, Stepper};
use crate::warning::Warning;
use crate::workload::Registry;

pub fn run(args: TuneArgs, registry: &Registry) -> anyhow::Result<Exit> {
    if args.run.limits.is_some() {
        return Err(SpecError::invalid(
            "tune chooses its own throttles: give --max-limit N instead of --limits",
        )
        .into());
    }
    if !(1..=MAX_THROTTLE).contains(&args.max_limit) {
        return Err(SpecError::invalid(format!(
            "--max-limit must be between 1 and {MAX_THROTTLE}, got {}",
            args.max_limit
        ))
        .into());
    }
    let mut spec = super::run::resolve_spec(&args.run, registry)?;
    super::run::check_fail_on_slo(&args.run, &spec)?;
    if args.run.backends.is_some() && spec.sweep.backends.len() > 1 {
        return Err(SpecError::invalid(
            "tune searches one backend at a time: give a single --backend (thread or async)",
        )
        .into());
    }
    let backend = *spec.sweep.backends.first().ok_or_else(|| {
        SpecError::invalid(
            "tune needs a backend to search besides sequential (e.g. --backend thread)",
        )
    })?;
    spec.sweep.backends = vec![backend];
    let repeat = spec.sweep.repeat as usize;
    let quiet = args.run.quiet;

    let dir = args
        .run
        .out
        .clone()
        .unwrap_or_else(|| default_folder(Path::new("reports"), &spec.name));
    let folder = RunFolder::create(&dir, args.run.force)?;
    let stop = install_interrupt()?;
    let mut listeners = Listeners(vec![Box::new(WarningLines { quiet }), Box::new(folder)]);
    let mut stepper = Stepper::new(&spec, registry, &mut listeners, stop)?;

    let say = |line: String| {
        if !quiet {
            eprintln!("{line}");
        }
    };
    let mut complete = true;
    for repetition in 1..=spec.sweep.repeat {
        let point = PlannedPoint {
            backend: BackendKind::Sequential,
            throttle: 1,
            repetition,
        };
        if !stepper.measure(point, &mut listeners)? {
            complete = false;
            break;
        }
    }
    if complete && stepper.sweep.baseline_goodput_per_s.is_none() && !spec.sweep.ignore_failures {
        stepper.sweep.stopped = Some(crate::sweep::baseline_failed(&stepper.sweep));
        complete = false;
    }
    if let Some(base) = stepper.sweep.baseline_goodput_per_s {
        say(format!(
            "baseline (sequential): {} successful items/s",
            number(base)
        ));
    }
    let mut record = SearchRecord::new(backend, args.max_limit, repeat);
    if complete {
        let slo = spec.sweep.slo.clone();
        let mut count = 0;
        let outcome = search(args.max_limit, |n, phase| {
            for repetition in 1..=spec.sweep.repeat {
                let point = PlannedPoint {
                    backend,
                    throttle: n,
                    repetition,
                };
                if !stepper.measure(point, &mut listeners)? {
                    return Ok(None);
                }
            }
            let Some(m) = measured(&stepper.sweep, backend)
                .into_iter()
                .find(|m| m.throttle == n)
            else {
                return Ok(None);
            };
            // Past the error budget a throttle breaks the ramp as an SLO would: its speed is
            // failures', not work's.
            let slo_met = pick::feasible(&m, slo.as_ref());
            count += 1;
            say(format!(
                "probe {count} ({}): {backend} at throttle {n}: {} ok/s, p99 {} ms{}{}",
                phase.name(),
                number(m.goodput_per_s),
                maybe(m.p99_ms, number),
                if m.error_share > 0.0 {
                    format!(", {}% errors", percent(m.error_share * 100.0))
                } else {
                    String::new()
                },
                match &slo {
                    Some(_) if !slo_met => ", SLO broken",
                    None if !slo_met => ", over the error budget",
                    _ => "",
                }
            ));
            Ok(Some(Probe {
                measured: m,
                feasible: slo_met,
            }))
        })?;
        complete = outcome.complete;
        record.probes = outcome.probes;
        record.outcome = outcome.story;
    }
    record.runs = stepper.sweep.points.len();
    if !complete && stepper.sweep.stopped.is_none() {
        stepper.sweep.interrupted = true;
    }
    let sweep = stepper.finish(&mut listeners, record)?;
    drop(listeners);
    if !quiet {
        println!("\n{}", table::console(&sweep));
        if let Some(analysis) = &sweep.analysis {
            for line in analysis.lines() {
                println!("{line}");
            }
            println!();
        }
        println!("Report: {}", dir.join("index.html").display());
    }
    if let Some(why) = &sweep.stopped {
        eprintln!("error: {why} (measured: {})", dir.display());
        return Ok(super::Exit::Failed);
    }
    Ok(super::run::exit_for(&args.run, &sweep, super::Exit::Ok))
}

/// Warnings as plain lines on stderr (the probe lines are the progress display).
struct WarningLines {
    quiet: bool,
}

impl SweepListener for WarningLines {
    fn warning(&mut self, warning: &Warning) {
        if !self.quiet {
            eprintln!("warning: {warning}");
        }
    }
}
