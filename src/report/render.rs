//! Renders the run folder's picture files — `charts/*.svg|png` and `index.html` — from a sweep
//! and its optional `items.jsonl`; with `rewrite_tables`, also every table file, so
//! `throttlebench report` can rebuild a folder from `results.json` alone.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::charts::{self, timeline::TimelineData};
use super::csv::{FailuresCsv, ResultsCsv};
use super::html::HtmlReport;
use super::items::{self, PointChoice};
use super::table::SummaryMarkdown;
use super::{write_atomic, Exporter};
use crate::measure::latency::hgrm_text;
use crate::results::SweepResult;

/// What was written.
#[derive(Debug, Clone)]
pub struct Rendered {
    pub files: Vec<PathBuf>,
    /// The point the timeline shows, when there is one.
    pub timeline: Option<PointChoice>,
}

/// The traced point for the timeline: `choice` if given (an error when it was not traced),
/// otherwise the default one; `Ok(None)` with the reason when there is nothing to show.
pub fn timeline_data(
    dir: &Path,
    sweep: &SweepResult,
    choice: Option<PointChoice>,
) -> anyhow::Result<Result<TimelineData, String>> {
    let path = dir.join("items.jsonl");
    if !path.exists() {
        if let Some(c) = choice {
            anyhow::bail!(
                "no timeline for {}:{}: {} does not exist (record one with run --trace)",
                c.backend,
                c.throttle,
                path.display()
            );
        }
        return Ok(Err(
            "No per-item timeline: run with --trace to record items.jsonl.".into(),
        ));
    }
    let rows = items::load(&path)?;
    let Some(choice) = choice.or_else(|| items::default_choice(sweep, &rows)) else {
        return Ok(Err(
            "No per-item timeline: items.jsonl holds no items.".into()
        ));
    };
    Ok(Ok(items::select(rows, choice)?))
}

/// Writes `charts/` and `index.html`.
pub fn render_all(
    dir: &Path,
    sweep: &SweepResult,
    choice: Option<PointChoice>,
) -> anyhow::Result<Rendered> {
    let timeline = timeline_data(dir, sweep, choice)?;
    let charts = charts::render_all(sweep, timeline.as_ref().ok())?;
    let folder = dir.join("charts");
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    let mut files = Vec::new();
    for chart in &charts {
        for (ext, bytes) in [("svg", chart.svg.as_bytes()), ("png", chart.png.as_slice())] {
            let path = folder.join(format!("{}.{ext}", chart.stem));
            write_atomic(&path, bytes)?;
            files.push(path);
        }
    }
    let html = HtmlReport {
        charts: &charts,
        timeline_note: timeline.as_ref().err().cloned(),
    };
    files.push(write(dir, &html, sweep)?);
    Ok(Rendered {
        files,
        timeline: timeline.ok().map(|t| PointChoice {
            backend: t.backend,
            throttle: t.throttle,
        }),
    })
}

/// Rewrites `results.csv`, `summary.md`, `failures.csv` (when something failed) and
/// `histograms/*.hgrm` from the sweep.
pub fn rewrite_tables(dir: &Path, sweep: &SweepResult) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = vec![
        write(dir, &ResultsCsv, sweep)?,
        write(dir, &SummaryMarkdown, sweep)?,
    ];
    if sweep.points.iter().any(|p| !p.failures.is_empty()) {
        files.push(write(dir, &FailuresCsv, sweep)?);
    }
    let folder = dir.join("histograms");
    std::fs::create_dir_all(&folder)
        .with_context(|| format!("cannot create {}", folder.display()))?;
    for s in sweep.summaries() {
        if let Some(h) = charts::distribution::merged_histogram(sweep, s.backend, s.throttle) {
            let path = folder.join(format!("{}-{}.hgrm", s.backend, s.throttle));
            write_atomic(&path, hgrm_text(&h).as_bytes())?;
            files.push(path);
        }
    }
    Ok(files)
}

fn write(dir: &Path, exporter: &dyn Exporter, sweep: &SweepResult) -> anyhow::Result<PathBuf> {
    let path = dir.join(exporter.file_name());
    write_atomic(&path, &exporter.serialize(sweep)?)?;
    Ok(path)
}
