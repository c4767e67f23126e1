//! `throttlebench tune`: find the throttle `run` would recommend, adaptively on one backend — the
//! sequential baseline, a doubling ramp, then only the throttles that can change the answer
//! (`tune::search`) — printing each probe, and writing the same report folder as `run`.

use std::path::Path;

use super::cli::TuneArgs;
use super::{install_interrupt, Exit};
use crate::error::SpecError;
use crate::format::{maybe, number, percent};
use crate::report::folder::{default_folder, RunFolder};
use crate::report::table;
use crate::results::warning::Warning;
use crate::spec::MAX_THROTTLE;
use crate::sweep::{fresh_sweep, Backends, Listeners, PointRunner, SweepListener};
use crate::tune::{self, Heard};
use crate::workload::Registry;

pub fn run(args: TuneArgs, registry: &Registry) -> anyhow::Result<Exit> {
    if args.run.overrides.limits.is_some() {
        return Err(SpecError::invalid(
            "tune chooses its own throttles: give --max-limit N instead of --limits",
        )
        .into());
    }
    if args.run.limiter.is_some() {
        return Err(SpecError::invalid(
            "tune searches static throttles; judge limiters with run --limiter",
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
    if args.run.shard.any() {
        // Shards follow a plan fixed in advance; tune chooses each point from the last.
        return Err(SpecError::invalid(
            "tune cannot be sharded or scheduled: use run --shard K/N --start-at TIME",
        )
        .into());
    }
    let mut spec = super::run::resolve_spec(&args.run, registry)?;
    super::run::check_fail_on_slo(&args.run, &spec)?;
    if spec
        .sweep
        .open_loop
        .as_ref()
        .is_some_and(|o| !o.stages.is_empty())
    {
        return Err(SpecError::invalid(
            "tune searches offered rates (--rates LOW..HIGH); a ramp of [[sweep.stages]] is for run",
        )
        .into());
    }
    if args.run.overrides.backends.is_some() && spec.sweep.backends.len() > 1 {
        let given: Vec<String> = spec.sweep.backends.iter().map(|b| b.to_string()).collect();
        return Err(SpecError::invalid(format!(
            "tune searches one backend at a time, got {}: give one, e.g. --backend {}",
            given.join(","),
            given[0]
        ))
        .into());
    }
    let backend = *spec.sweep.backends.first().ok_or_else(|| {
        SpecError::invalid(
            "tune needs a backend to search besides sequential (e.g. --backend thread)",
        )
    })?;
    spec.sweep.backends = vec![backend];
    let quiet = args.run.quiet;

    let dir = args
        .run
        .out
        .clone()
        .unwrap_or_else(|| default_folder(Path::new("reports"), &spec.name));
    let folder = RunFolder::create(&dir, args.run.force)?;
    let stop = install_interrupt()?;
    let mut listeners = Listeners(vec![Box::new(WarningLines { quiet }), Box::new(folder)]);
    let runner = PointRunner::start(
        fresh_sweep(&spec),
        registry,
        Backends::real(&spec.sweep),
        &[],
        &mut listeners,
        stop,
    )?;
    let sweep = tune::run(runner, backend, args.max_limit, &mut |heard| {
        if !quiet {
            eprintln!("{}", heard_line(&heard, spec.sweep.slo.is_some()));
        }
    })?;
    drop(listeners);
    if !quiet {
        println!("\n{}", table::console(&sweep));
        let open_loop = crate::report::open_loop::console(&sweep);
        if !open_loop.is_empty() {
            println!("{open_loop}");
        }
        for line in table::host_lines(&sweep) {
            println!("{line}");
        }
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

/// One line of the search's progress.
fn heard_line(heard: &Heard<'_>, with_slo: bool) -> String {
    match heard {
        Heard::Baseline { goodput_per_s } => format!(
            "baseline (sequential): {} successful items/s",
            number(*goodput_per_s)
        ),
        Heard::Probe {
            count,
            phase,
            backend,
            measured: m,
            slo_met,
        } => format!(
            "probe {count} ({}): {backend} at throttle {}: {} ok/s, p99 {} ms{}{}",
            phase.name(),
            m.throttle,
            number(m.goodput_per_s),
            maybe(m.p99_ms, number),
            if m.error_share > 0.0 {
                format!(", {}% errors", percent(m.error_share * 100.0))
            } else {
                String::new()
            },
            match (with_slo, *slo_met) {
                (true, false) => ", SLO broken",
                (false, false) => ", over the error budget",
                _ => "",
            }
        ),
        Heard::Rate { backend, outcome } => format!(
            "rate: {backend} at {}/s offered: {} ok/s, p99 {} ms from the intended start, {}",
            crate::format::rate(outcome.offered_per_s),
            number(outcome.goodput_per_s),
            maybe(outcome.lat_p99_ms, number),
            match &outcome.why_not {
                None => "sustained".to_string(),
                Some(why) => format!("not sustained ({why})"),
            }
        ),
    }
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
