//! `throttlebench run`: build the spec, prepare the run folder, sweep, print the table.

use std::path::Path;

use super::cli::RunArgs;
use super::{install_interrupt, Exit};
use crate::error::SpecError;
use crate::report::folder::{default_folder, RunFolder};
use crate::report::progress::{ProgressListener, ProgressMode};
use crate::report::{json, table};
use crate::results::SweepResult;
use crate::spec::{self, RemoteFlags, RunSpec};
use crate::sweep::{self, Listeners};
use crate::workload::Registry;

/// The spec a `run` (or `tune`) asks for: a file with flags on top, or flags alone.
pub fn resolve_spec(args: &RunArgs, registry: &Registry) -> anyhow::Result<RunSpec> {
    let mut spec = match &args.spec {
        Some(path) => spec::load(path, &args.overrides, registry)?,
        None => spec::from_flags(&args.overrides, registry)?,
    };
    let remote = RemoteFlags {
        hosts: args.hosts.as_deref(),
        hosts_file: args.hosts_file.as_deref(),
        binary: args.remote_binary.as_deref(),
        ssh_options: &args.ssh_options,
    };
    spec::apply_remote_flags(&mut spec.sweep, &remote)?;
    super::fit::apply_usl_flags(&args.usl, &mut spec.sweep);
    let index_var = args.shard.shard_index_env.as_deref();
    let index_value = index_var.and_then(|var| std::env::var(var).ok());
    spec::apply_shard_flags(
        &mut spec.sweep,
        &args.shard.flags(index_value.as_deref()),
        std::time::SystemTime::now(),
    )?;
    spec::apply_limiter_flag(&mut spec.sweep, args.limiter.as_deref())?;
    Ok(spec)
}

pub fn run(args: RunArgs, registry: &Registry) -> anyhow::Result<Exit> {
    let mode = ProgressMode::detect(args.quiet);
    let (spec, previous, dir) = match &args.resume {
        Some(dir) => {
            let mut previous = json::load(dir)?;
            super::fit::apply_usl_flags(&args.usl, &mut previous.spec.sweep);
            (previous.spec.clone(), Some(previous), dir.clone())
        }
        None => {
            let spec = resolve_spec(&args, registry)?;
            check_fail_on_slo(&args, &spec)?;
            let dir = args
                .out
                .clone()
                .unwrap_or_else(|| default_folder(Path::new("reports"), &spec.name));
            (spec, None, dir)
        }
    };
    let hooks = super::compare::prepare(&args, &spec)?;
    let folder = match &previous {
        Some(previous) => RunFolder::reopen(&dir, previous)?,
        None => RunFolder::create(&dir, args.force)?,
    };
    let stop = install_interrupt()?;
    let mut listeners = Listeners(vec![
        Box::new(ProgressListener::new(mode)),
        Box::new(folder),
        Box::new(hooks.probe.clone()),
    ]);
    let sweep = match previous {
        Some(previous) => sweep::resume(previous, registry, &mut listeners, stop)?,
        None => sweep::run(&spec, registry, &mut listeners, stop)?,
    };
    drop(listeners);
    if args.shard.results_line {
        println!("{}", serde_json::to_string(&sweep)?);
    }
    if !args.quiet {
        if !sweep.points.is_empty() || sweep.open_loop.is_empty() {
            println!("\n{}", table::console(&sweep));
        }
        let costs = crate::report::costs::console(&sweep);
        if !costs.is_empty() {
            println!("{costs}");
        }
        let open_loop = crate::report::open_loop::console(&sweep);
        if !open_loop.is_empty() {
            println!("\n{open_loop}");
        }
        let limiters = crate::report::limiters::console(&sweep);
        if !limiters.is_empty() {
            println!("{limiters}");
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
        if sweep.interrupted {
            println!(
                "Interrupted: {} points measured and kept.",
                sweep.points.len() + sweep.open_loop.len()
            );
        }
        println!("Report: {}", dir.join("index.html").display());
    }
    if let Some(why) = &sweep.stopped {
        eprintln!("error: {why} (measured: {})", dir.display());
        return Ok(Exit::Failed);
    }
    let verdict = super::compare::finish(hooks, &args, &sweep, &dir)?;
    Ok(exit_for(&args, &sweep, verdict))
}

/// `--fail-on-slo` needs an SLO to fail on.
pub fn check_fail_on_slo(args: &RunArgs, spec: &RunSpec) -> anyhow::Result<()> {
    if args.fail_on_slo && spec.sweep.slo.is_none() {
        return Err(SpecError::invalid(
            "--fail-on-slo needs an SLO: give --slo p99=200ms or set slo in the spec's [sweep]",
        )
        .into());
    }
    Ok(())
}

/// 130 when interrupted; 1 when asked to fail on an SLO nothing met; else the comparison's
/// verdict (0 without one).
pub fn exit_for(args: &RunArgs, sweep: &SweepResult, verdict: Exit) -> Exit {
    let slo_missed = sweep
        .analysis
        .as_ref()
        .is_some_and(|a| a.slo_met == Some(false));
    if sweep.interrupted {
        Exit::Interrupted
    } else if args.fail_on_slo && slo_missed {
        if args.quiet {
            // Quiet leaves a failed job's log with an exit code alone: the reason goes with it.
            let slo = sweep.spec.sweep.slo.as_ref().map(|s| s.to_string());
            eprintln!(
                "failed: no throttle meets the SLO {} (--fail-on-slo)",
                slo.unwrap_or_default()
            );
        }
        Exit::Failed
    } else {
        verdict
    }
}
