//! `throttlebench compare BASELINE CURRENT`, and the baseline hooks of `run` (`--baseline`,
//! `--save-baseline`, `--history`, `--export`): load both runs, compare, print, export, pick the exit code.

use std::path::Path;

use super::cli::{CheckArgs, CompareArgs, CompareFormat, FailOn, RunArgs};
use super::Exit;
use crate::analysis::compare::{self, Comparison, Options, Verdict};
use crate::analysis::noise::NoiseProbe;
use crate::report::baseline::{Baselines, StoredRun};
use crate::report::{ci, comparison, write_atomic};
use crate::results::{PointResult, SweepResult};
use crate::spec::RunSpec;
use crate::sweep::SweepListener;

impl CheckArgs {
    pub fn options(&self) -> Options {
        Options {
            threshold: self.threshold / 100.0,
            allow_param_change: self.allow_param_change,
            base_noise: Vec::new(),
            current_noise: Vec::new(),
        }
    }

    /// The options for comparing two stored runs, with the drift their probes show.
    pub fn options_for(&self, base: &StoredRun, current: &StoredRun) -> Options {
        Options {
            base_noise: base.noise.clone(),
            current_noise: current.noise.clone(),
            ..self.options()
        }
    }
}

/// The exit code a comparison earns under `--fail-on`.
pub fn exit_for(c: &Comparison, fail_on: FailOn) -> Exit {
    let (regressed, improved) = (
        c.count(Verdict::Regressed) > 0,
        c.count(Verdict::Improved) > 0,
    );
    let fail = match fail_on {
        FailOn::Regressed => regressed,
        FailOn::Improved => improved,
        FailOn::Any => regressed || improved,
        FailOn::Never => false,
    };
    if fail {
        Exit::Failed
    } else {
        Exit::Ok
    }
}

pub fn render(c: &Comparison, format: CompareFormat) -> anyhow::Result<String> {
    Ok(match format {
        CompareFormat::Console => comparison::console(c),
        CompareFormat::Markdown => comparison::markdown(c),
        CompareFormat::Json => comparison::json(c)?,
    })
}

pub fn run(args: CompareArgs) -> anyhow::Result<Exit> {
    let store = Baselines::new(Some(&args.check.baseline_dir));
    let base = store.load(&args.baseline)?;
    let current = store.load(&args.current)?;
    let options = args.check.options_for(&base, &current);
    let result = compare::compare(&base.sweep, &current.sweep, &options)?;
    ci::write_all(&args.check.exports, &current.sweep)?;
    print!("{}", render(&result, args.format)?);
    Ok(exit_for(&result, args.check.fail_on))
}

/// What `run` must know before it starts: the baseline to compare with, already loaded and
/// checked against the spec so a mismatch is refused before minutes of measuring.
pub struct RunHooks {
    store: Baselines,
    baseline: Option<StoredRun>,
    /// Probes the machine after every point; add it to the sweep's listeners.
    pub probe: NoiseProbe,
}

/// The probe runs between the points of the sweep it judges.
impl SweepListener for NoiseProbe {
    fn point_done(&mut self, _point: &PointResult, _sweep: &SweepResult) -> anyhow::Result<()> {
        self.record();
        Ok(())
    }
}

pub fn prepare(args: &RunArgs, spec: &RunSpec) -> anyhow::Result<RunHooks> {
    let store = Baselines::new(Some(&args.check.baseline_dir));
    if let Some(name) = &args.save_baseline {
        store.path_of(name)?;
    }
    if let Some(dir) = &args.history {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("cannot create history folder {}: {e}", dir.display()))?;
    }
    let baseline = match &args.baseline {
        Some(name) => {
            let base = store.load(name)?;
            let mut planned = base.sweep.clone();
            planned.spec = spec.clone();
            planned.interrupted = false;
            compare::check_compatible(&base.sweep, &planned, &args.check.options())?;
            Some(base)
        }
        None => None,
    };
    Ok(RunHooks {
        store,
        baseline,
        probe: NoiseProbe::default(),
    })
}

/// After the sweep: the probe added to `results.json`, exports, the saved baseline, the
/// comparison (printed and written as `comparison.md` and `comparison.json` in the run
/// folder). Returns the comparison's exit code.
pub fn finish(
    hooks: RunHooks,
    args: &RunArgs,
    sweep: &SweepResult,
    dir: &Path,
) -> anyhow::Result<Exit> {
    let run = StoredRun {
        sweep: sweep.clone(),
        noise: hooks.probe.samples(),
    };
    write_atomic(&dir.join("results.json"), &run.to_json()?)?;
    ci::write_all(&args.check.exports, sweep)?;
    if sweep.interrupted {
        if args.save_baseline.is_some() || args.history.is_some() || hooks.baseline.is_some() {
            eprintln!("The run was interrupted: no baseline saved, no comparison made.");
        }
        return Ok(Exit::Ok);
    }
    if let Some(name) = &args.save_baseline {
        let path = hooks.store.save(name, &run)?;
        if !args.quiet {
            println!("Baseline saved: {}", path.display());
        }
    }
    if let Some(dir) = &args.history {
        let path = crate::report::baseline::append_to_history(dir, &run)?;
        if !args.quiet {
            println!("Added to the history: {}", path.display());
        }
    }
    let Some(base) = hooks.baseline else {
        return Ok(Exit::Ok);
    };
    let options = args.check.options_for(&base, &run);
    let result = compare::compare(&base.sweep, sweep, &options)?;
    write_atomic(
        &dir.join("comparison.md"),
        comparison::markdown(&result).as_bytes(),
    )?;
    write_atomic(
        &dir.join("comparison.json"),
        comparison::json(&result)?.as_bytes(),
    )?;
    let exit = exit_for(&result, args.check.fail_on);
    if !args.quiet {
        print!("\n{}", comparison::console(&result));
    } else if exit == Exit::Failed {
        // Quiet leaves a failed job's log with an exit code alone: the reason goes with it.
        eprintln!(
            "failed: {} against the baseline (--fail-on {}; see {})",
            result.headline(),
            fail_on_name(args.check.fail_on),
            dir.join("comparison.md").display()
        );
    }
    Ok(exit)
}

/// The flag's value as the user writes it.
fn fail_on_name(fail_on: FailOn) -> String {
    use clap::ValueEnum;
    fail_on
        .to_possible_value()
        .map_or_else(|| format!("{fail_on:?}"), |v| v.get_name().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fail_on_picks_the_verdicts_that_fail() {
        use crate::analysis::fixture;
        let c = compare::compare(
            &fixture::sweep(20.0, 3),
            &fixture::sweep(24.0, 3),
            &Options::default(),
        )
        .unwrap();
        assert_eq!(exit_for(&c, FailOn::Regressed), Exit::Failed);
        assert_eq!(exit_for(&c, FailOn::Any), Exit::Failed);
        assert_eq!(exit_for(&c, FailOn::Improved), Exit::Ok);
        assert_eq!(exit_for(&c, FailOn::Never), Exit::Ok);
    }
}
