//! `throttlebench run`: build the spec, prepare the run folder, sweep, print the table.

use std::path::Path;

use super::{install_interrupt, Exit};
use crate::cli::RunArgs;
use crate::progress::{ProgressListener, ProgressMode};
use crate::report::folder::{default_folder, RunFolder};
use crate::report::table;
use crate::spec::{self, Overrides, RunSpec};
use crate::sweep::{self, Listeners};
use crate::workload::Registry;

pub fn overrides(args: &RunArgs) -> Overrides {
    Overrides {
        kind: args.kind.clone(),
        params: args.params.clone(),
        backends: args.backends.clone(),
        limits: args.limits.clone(),
        items: args.items,
        duration: args.duration.clone(),
        repeat: args.repeat,
        warmup: args.warmup,
        timeout: args.timeout.clone(),
        trace: args.trace,
        name: args.name.clone(),
    }
}

/// The spec a `run` (or `tune`) asks for: a file with flags on top, or flags alone.
pub fn resolve_spec(args: &RunArgs, registry: &Registry) -> anyhow::Result<RunSpec> {
    let o = overrides(args);
    Ok(match &args.spec {
        Some(path) => spec::load(path, &o, registry)?,
        None => spec::from_flags(&o, registry)?,
    })
}

pub fn run(args: RunArgs, registry: &Registry) -> anyhow::Result<Exit> {
    let spec = resolve_spec(&args, registry)?;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| default_folder(Path::new("reports"), &spec.name));
    let hooks = super::compare::prepare(&args, &spec)?;
    let folder = RunFolder::create(&dir)?;
    let stop = install_interrupt()?;
    let mode = ProgressMode::detect(args.quiet);
    let mut listeners = Listeners(vec![
        Box::new(ProgressListener::new(mode)),
        Box::new(folder),
        Box::new(hooks.probe.clone()),
    ]);
    let sweep = sweep::run(&spec, registry, &mut listeners, stop)?;
    drop(listeners);
    if !args.quiet {
        println!("\n{}", table::console(&sweep));
        if sweep.interrupted {
            println!(
                "Interrupted: {} points measured and kept.",
                sweep.points.len()
            );
        }
        println!(
            "Report: {}/ (results.csv, results.json, summary.md)",
            dir.display()
        );
    }
    let verdict = super::compare::finish(hooks, &args, &sweep, &dir)?;
    Ok(if sweep.interrupted {
        Exit::Interrupted
    } else {
        verdict
    })
}
