//! `throttlebench merge DIR… --out DIR`: checks that the shards of a sharded run belong
//! together, adds them up (`sweep::merge`) and writes one ordinary run folder, which `report`,
//! `compare`, `history` and `fit` read like any other.

use super::cli::MergeArgs;
use super::Exit;
use crate::error::SpecError;
use crate::report::folder::RunFolder;
use crate::report::json::{self, ResultsJson};
use crate::report::shards::{shard_lines, ShardsMarkdown};
use crate::report::{render, table, write_atomic, Exporter};
use crate::sweep::merge::merge_shards;
use crate::sweep::merge_checks::ShardInput;

pub fn run(args: MergeArgs) -> anyhow::Result<Exit> {
    let mut inputs = Vec::new();
    for path in &args.shards {
        inputs.push(ShardInput {
            source: path.display().to_string(),
            sweep: json::load(path)?,
        });
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
