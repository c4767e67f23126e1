//! The runs a history is read from: run folders, results files and saved baselines, named one
//! by one or found in the folders holding them, put in order by start time or by commit.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::analysis::history::HistoryRun;
use crate::commands::cli::HistoryOrder;
use crate::error::SpecError;
use crate::report::baseline::StoredRun;

/// Every run the arguments name, each once, and the files passed over (not results files).
pub fn gather(args: &[PathBuf]) -> anyhow::Result<(Vec<HistoryRun>, Vec<String>)> {
    let mut files: Vec<(PathBuf, Named)> = Vec::new();
    let mut seen: Vec<PathBuf> = Vec::new();
    let mut skipped = Vec::new();
    for arg in args {
        for (file, named) in files_of(arg)? {
            let same = file.canonicalize().unwrap_or_else(|_| file.clone());
            if !seen.contains(&same) {
                seen.push(same);
                files.push((file, named));
            }
        }
    }
    let mut runs = Vec::new();
    for (file, named) in files {
        match StoredRun::read(&file) {
            Ok(stored) => runs.push(HistoryRun {
                stored,
                source: file.display().to_string(),
            }),
            // Named as a run, it must be one; found in a folder, it may be anything else.
            Err(e) if named == Named::AsRun => return Err(e),
            Err(_) => skipped.push(file.display().to_string()),
        }
    }
    if runs.is_empty() {
        let what = args
            .iter()
            .map(|a| a.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(SpecError::invalid(format!(
            "no run found in {what} (looked for run folders with results.json and .json results \
             files)"
        ))
        .into());
    }
    let notes = if skipped.is_empty() {
        Vec::new()
    } else {
        vec![format!(
            "Not results files, left out: {}.",
            skipped.join(", ")
        )]
    };
    Ok((runs, notes))
}

/// How a file came to be read: named as a run (a file, a run folder), or found in a folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Named {
    AsRun,
    InFolder,
}

/// The results files `arg` names: itself, its results.json, or those of the folders and .json
/// files inside it, by name.
fn files_of(arg: &Path) -> anyhow::Result<Vec<(PathBuf, Named)>> {
    if arg.is_file() {
        return Ok(vec![(arg.to_path_buf(), Named::AsRun)]);
    }
    if !arg.is_dir() {
        return Err(
            SpecError::invalid(format!("{}: no such file or folder", arg.display())).into(),
        );
    }
    if arg.join("results.json").is_file() {
        return Ok(vec![(arg.join("results.json"), Named::AsRun)]);
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(arg)
        .with_context(|| format!("cannot read folder {}", arg.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    let found: Vec<(PathBuf, Named)> = entries
        .into_iter()
        .filter_map(|p| {
            if p.is_dir() {
                Some(p.join("results.json")).filter(|r| r.is_file())
            } else {
                (p.extension().is_some_and(|e| e == "json")).then_some(p)
            }
        })
        .map(|p| (p, Named::InFolder))
        .collect();
    if found.is_empty() {
        return Err(SpecError::invalid(format!(
            "{} holds no run (no run folder with results.json, no .json results file)",
            arg.display()
        ))
        .into());
    }
    Ok(found)
}

/// Puts the runs in history order, oldest first.
pub fn order(runs: &mut Vec<HistoryRun>, by: HistoryOrder) -> anyhow::Result<()> {
    let mut times = Vec::with_capacity(runs.len());
    for run in runs.iter() {
        let at = &run.stored.sweep.started_at;
        let time = chrono::DateTime::parse_from_rfc3339(at).map_err(|_| {
            SpecError::invalid(format!("{}: start time '{at}' is not a date", run.source))
        })?;
        times.push(time);
    }
    let positions = match by {
        HistoryOrder::Time => vec![0; runs.len()],
        HistoryOrder::Git => commit_positions(runs)?,
    };
    let mut keyed: Vec<(usize, chrono::DateTime<chrono::FixedOffset>, HistoryRun)> = positions
        .into_iter()
        .zip(times)
        .zip(runs.drain(..))
        .map(|((p, t), r)| (p, t, r))
        .collect();
    keyed.sort_by_key(|(p, t, _)| (*p, *t));
    runs.extend(keyed.into_iter().map(|(_, _, run)| run));
    Ok(())
}

/// Each run's commit's place in the history of the checkout here (`git rev-list
/// --topo-order --reverse`: a commit after every one it descends from).
fn commit_positions(runs: &[HistoryRun]) -> anyhow::Result<Vec<usize>> {
    let mut commits = Vec::with_capacity(runs.len());
    for run in runs {
        let commit = run
            .stored
            .sweep
            .environment
            .git_commit
            .clone()
            .ok_or_else(|| {
                SpecError::invalid(format!(
                    "{} recorded no git commit: it cannot be ordered by commit (use --order time)",
                    run.source
                ))
            })?;
        commits.push(commit);
    }
    let mut unique = commits.clone();
    unique.sort();
    unique.dedup();
    let output = std::process::Command::new("git")
        .args(["rev-list", "--topo-order", "--reverse"])
        .args(&unique)
        .arg("--")
        .output()
        .map_err(|e| SpecError::invalid(format!("--order git needs git: {e}")))?;
    if !output.status.success() {
        let why = String::from_utf8_lossy(&output.stderr);
        return Err(SpecError::invalid(format!(
            "cannot order by commit: git rev-list says '{}' (run where the runs' commits are \
             in the checkout's history, fetched in full)",
            why.lines().next().unwrap_or("").trim()
        ))
        .into());
    }
    let listed = String::from_utf8_lossy(&output.stdout);
    let order: Vec<&str> = listed.lines().collect();
    Ok(commits
        .iter()
        .map(|c| {
            order
                .iter()
                .position(|full| full.starts_with(c.as_str()))
                .unwrap_or(usize::MAX)
        })
        .collect())
}
