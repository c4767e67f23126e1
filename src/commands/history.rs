//! `throttlebench history RUN…`: read the runs, put them in order, follow each point across
//! them, print the latest run's judgement, write the page and charts, pick the exit code.

mod inputs;

use super::Exit;
use crate::analysis::history::{self, History, Options};
use crate::analysis::metric::Verdict;
use crate::commands::cli::{HistoryArgs, HistoryFormat};
use crate::report::charts::history::render_all;
use crate::report::{history as text, history_html, write_atomic};

pub fn run(args: HistoryArgs) -> anyhow::Result<Exit> {
    let (mut runs, skipped) = inputs::gather(&args.runs)?;
    inputs::order(&mut runs, args.order)?;
    let options = Options {
        threshold: args.threshold / 100.0,
        allow_param_change: args.allow_param_change,
        judge_all: args.all,
    };
    let mut history = history::analyse(&runs, &options)?;
    history.notes.extend(skipped);
    if let Some(dir) = &args.out {
        write_folder(dir, &history)?;
    }
    print!(
        "{}",
        match args.format {
            HistoryFormat::Console => text::console(&history),
            HistoryFormat::Markdown => text::markdown(&history),
            HistoryFormat::Json => text::json(&history)?,
        }
    );
    if let (Some(dir), HistoryFormat::Console) = (&args.out, args.format) {
        println!("Report: {}", dir.join("index.html").display());
    }
    let regressed = history
        .latest()
        .is_some_and(|j| j.count(Verdict::Regressed) > 0);
    Ok(if args.fail_on_change && regressed {
        Exit::Failed
    } else {
        Exit::Ok
    })
}

/// `index.html`, `history.json`, `history.md` and every chart as SVG and PNG.
pub fn write_folder(dir: &std::path::Path, history: &History) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", dir.display()))?;
    let charts = render_all(history)?;
    for chart in &charts {
        write_atomic(
            &dir.join(format!("{}.svg", chart.stem)),
            chart.svg.as_bytes(),
        )?;
        write_atomic(&dir.join(format!("{}.png", chart.stem)), &chart.png)?;
    }
    write_atomic(
        &dir.join("index.html"),
        history_html::page(history, &charts).as_bytes(),
    )?;
    write_atomic(&dir.join("history.json"), text::json(history)?.as_bytes())?;
    write_atomic(&dir.join("history.md"), text::markdown(history).as_bytes())?;
    Ok(())
}
