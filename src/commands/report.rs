//! `throttlebench report RUN_DIR`: rebuilds every chart, `index.html` and the table files of a
//! run folder from its `results.json` (and `items.jsonl`), without running anything.

use super::cli::ReportArgs;
use super::Exit;
use crate::report::{json, render};

pub fn run(args: ReportArgs) -> anyhow::Result<Exit> {
    if !args.run_dir.is_dir() {
        anyhow::bail!("{} is not a run folder", args.run_dir.display());
    }
    let sweep = json::load(&args.run_dir)?;
    let choice = args.timeline.as_deref().map(str::parse).transpose()?;
    let mut files = render::rewrite_tables(&args.run_dir, &sweep)?;
    let rendered = render::render_all(&args.run_dir, &sweep, choice)?;
    files.extend(rendered.files);
    if !args.quiet {
        let charts = files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "svg"))
            .count();
        println!(
            "Report: {} ({} files, {charts} charts{})",
            args.run_dir.join("index.html").display(),
            files.len(),
            match rendered.timeline {
                Some(c) => format!(", timeline of {}:{}", c.backend, c.throttle),
                None => String::new(),
            }
        );
    }
    Ok(Exit::Ok)
}
