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
    let mut spec = match &args.spec {
        Some(path) => spec::load(path, &o, registry)?,
        None => spec::from_flags(&o, registry)?,
    };
    let remote = crate::backend::hosts::RemoteFlags {
        hosts: args.hosts.as_deref(),
        hosts_file: args.hosts_file.as_deref(),
        binary: args.remote_binary.as_deref(),
        ssh_options: &args.ssh_options,
    };
    crate::backend::hosts::apply(&mut spec.sweep, &remote)?;
    Ok(spec)
}

pub fn run(args: RunArgs, registry: &Registry) -> anyhow::Result<Exit> {
    let spec = resolve_spec(&args, registry)?;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| default_folder(Path::new("reports"), &spec.name));
    let folder = RunFolder::create(&dir)?;
    let stop = install_interrupt()?;
    let mode = ProgressMode::detect(args.quiet);
    let mut listeners = Listeners(vec![
        Box::new(ProgressListener::new(mode)),
        Box::new(folder),
    ]);
    let sweep = sweep::run(&spec, registry, &mut listeners, stop)?;
    drop(listeners);
    if !args.quiet {
        println!("\n{}", table::console(&sweep));
        for line in crate::backend::hosts::console_lines(&sweep) {
            println!("{line}");
        }
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
    Ok(if sweep.interrupted {
        Exit::Interrupted
    } else {
        Exit::Ok
    })
}
