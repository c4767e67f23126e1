//! `throttlebench merge DIR… --out DIR`: checks that the shards of a sharded run belong
//! together, adds them up (`sweep::merge`) and writes one ordinary run folder, which `report`,
//! `compare`, `history` and `fit` read like any other.

use std::path::Path;

use anyhow::Context;

use super::cli::MergeArgs;
use super::Exit;
use crate::error::SpecError;
use crate::report::folder::RunFolder;
use crate::report::json::{self, ResultsJson};
use crate::report::shards::{shard_lines, ShardsMarkdown};
use crate::report::{render, table, write_atomic, Exporter};
use crate::results::SweepResult;
use crate::sweep::merge::merge_shards;
use crate::sweep::merge_checks::ShardInput;

/// The shards in a run folder or results.json file, or in a log's `--results-line` lines.
fn read_shards(path: &Path) -> anyhow::Result<Vec<ShardInput>> {
    let source = path.display().to_string();
    if path.is_dir() {
        let sweep = json::load(path)?;
        return Ok(vec![ShardInput { source, sweep }]);
    }
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {source}"))?;
    if let Ok(mut sweep) = serde_json::from_str::<SweepResult>(&text) {
        json::upgrade(&mut sweep);
        return Ok(vec![ShardInput { source, sweep }]);
    }
    let mut shards = Vec::new();
    for (number, line) in text.lines().enumerate() {
        // A log holds other lines too (a runtime's prefix is not expected: --prefix=false).
        let line = line.trim();
        if !line.starts_with('{') {
            continue;
        }
        if let Ok(mut sweep) = serde_json::from_str::<SweepResult>(line) {
            json::upgrade(&mut sweep);
            shards.push(ShardInput {
                source: format!("{source}:{}", number + 1),
                sweep,
            });
        }
    }
    if shards.is_empty() {
        anyhow::bail!(
            "{source} is neither a run folder nor a results file, and holds no results line (run --results-line)"
        );
    }
    Ok(shards)
}

pub fn run(args: MergeArgs) -> anyhow::Result<Exit> {
    let mut inputs = Vec::new();
    for path in &args.shards {
        inputs.extend(read_shards(path)?);
    }
    let merged = merge_shards(inputs).map_err(SpecError::invalid)?;
    let folder = RunFolder::create(&args.out, args.force)?;
    let dir = folder.dir();
    for exporter in [&ResultsJson as &dyn Exporter, &ShardsMarkdown] {
        write_atomic(
            &dir.join(exporter.file_name()),
            &exporter.serialize(&merged)?,
        )?;
    }
    render::rewrite_tables(dir, &merged)?;
    render::render_all(dir, &merged, None)?;
    if !args.quiet {
        println!("{}", table::console(&merged));
        for line in shard_lines(&merged) {
            println!("{line}");
        }
        if let Some(analysis) = &merged.analysis {
            for line in analysis.lines() {
                println!("{line}");
            }
            println!();
        }
        for warning in &merged.warnings {
            println!("warning: {warning}");
        }
        println!("Report: {}", dir.join("index.html").display());
    }
    Ok(Exit::Ok)
}
