//! Charts of a history, runs along the x axis (each labelled by date and short commit): a
//! metric per point over the runs, as a percentage of that point's median so that every
//! throttle shares one scale and a step reads as the same drop on every line; and the
//! recommended throttle over the runs. Steps are marked where they began; the latest run's
//! regressions are ringed in red.

use plotters::chart::MeshStyle;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::style::{self, LegendEntry, Mark};
use super::{Chart, DrawResult};
use crate::analysis::history::{History, Series};
use crate::analysis::metric::{Metric, Verdict};
use crate::results::median;

/// Height of the rotated run labels and the axis description under the plot.
const RUN_LABEL_AREA: u32 = 150;
/// Lines drawn at most: beyond them the legend would run off the canvas.
const MAX_LINES: usize = 16;

/// Where each run sits on the x axis, and the ticks to label (every run while they fit).
fn run_ticks(runs: usize) -> Vec<usize> {
    let every = runs.div_ceil(40).max(1);
    (1..=runs)
        .filter(|r| (r - 1) % every == 0 || *r == runs)
        .collect()
}

/// Draws the run labels (date and short commit) under the plot, rotated to read upwards;
/// `pixel` places a run on the x axis.
fn draw_run_labels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    history: &History,
    pixel: impl Fn(usize) -> (i32, i32),
) -> DrawResult<DB> {
    let text = TextStyle::from((style::FONT, 12).into_font())
        .color(&BLACK)
        .transform(FontTransform::Rotate270)
        .pos(Pos::new(HPos::Right, VPos::Center));
    let (origin_x, origin_y) = root.get_base_pixel();
    for run in run_ticks(history.runs.len()) {
        let info = &history.runs[run - 1];
        let (x, y) = pixel(run);
        // With a commit, the day is enough to place it; without one, the time tells runs apart.
        let label = match info.short_commit() {
            Some(c) => format!("#{run} {} {c}", short_date(&info.started_at, "%m-%d")),
            None => format!("#{run} {}", short_date(&info.started_at, "%m-%d %H:%M")),
        };
        root.draw(&Text::new(
            label,
            (x - origin_x, y - origin_y + 8),
            text.clone(),
        ))?;
    }
    Ok(())
}

/// "12-03" or "12-03 10:50" (the year is in the axis description).
fn short_date(started_at: &str, format: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(started_at)
        .map(|t| t.format(format).to_string())
        .unwrap_or_else(|_| started_at.chars().take(16).collect())
}

fn year_span(history: &History) -> String {
    let year = |s: &str| s.chars().take(4).collect::<String>();
    let (a, b) = (
        year(&history.runs[0].started_at),
        year(&history.runs[history.runs.len() - 1].started_at),
    );
    if a == b {
        a
    } else {
        format!("{a}–{b}")
    }
}

/// The mesh of a chart over runs: no x labels of its own (`draw_run_labels` writes them), the
/// house fonts, no light grid lines.
fn run_mesh<'m, 'a, 'b, X, Y, DB>(
    mesh: &'m mut MeshStyle<'a, 'b, X, Y, DB>,
    history: &History,
    y_desc: &str,
) -> &'m mut MeshStyle<'a, 'b, X, Y, DB>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    DB: DrawingBackend,
{
    mesh.x_labels(0)
        .x_desc(format!(
            "run (number, month-day, commit; {})",
            year_span(history)
        ))
        .y_desc(y_desc)
        .label_style((style::FONT, style::LABEL_SIZE))
        .axis_desc_style((style::FONT, style::AXIS_DESC_SIZE))
        .light_line_style(WHITE.mix(0.0))
}

/// One metric per point over the runs, relative to each point's median.
pub struct Trend<'a> {
    pub history: &'a History,
    pub metric: Metric,
}

impl Trend<'_> {
    /// The series drawn, with their medians, and how many were left out: at most `MAX_LINES`,
    /// the lowest throttles left out first (the high ones are where scaling changes show).
    fn series(&self) -> (Vec<(&Series, f64)>, usize) {
        let list: Vec<(usize, &Series, f64)> = self
            .history
            .series
            .iter()
            .filter(|s| s.metric == self.metric)
            .filter_map(|s| {
                let level = median(&mut s.values.iter().flatten().copied().collect::<Vec<_>>())?;
                (level > 0.0).then_some((s, level))
            })
            .enumerate()
            .map(|(i, (s, level))| (i, s, level))
            .collect();
        let left_out = list.len().saturating_sub(MAX_LINES);
        let mut kept = list.clone();
        kept.sort_by_key(|(i, s, _)| (std::cmp::Reverse(s.throttle), *i));
        kept.truncate(MAX_LINES);
        kept.sort_by_key(|(i, _, _)| *i);
        (kept.into_iter().map(|(_, s, l)| (s, l)).collect(), left_out)
    }
}

impl Chart for Trend<'_> {
    fn stem(&self) -> String {
        match self.metric {
            Metric::Goodput => "history-goodput".into(),
            Metric::LatencyP99 => "history-p99".into(),
            other => format!("history-{}", other.label().replace(' ', "-")),
        }
    }

    fn title(&self) -> String {
        let what = match self.metric {
            Metric::Goodput => "Goodput",
            Metric::LatencyP99 => "p99 latency",
            other => other.label(),
        };
        format!("{what} per point over runs (% of its median)")
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let history = self.history;
        let (plot, legend) = style::frame(root, &self.title())?;
        let (series, left_out) = self.series();
        let relative = |v: f64, level: f64| v / level * 100.0;
        let (lo, hi) = series
            .iter()
            .flat_map(|(s, level)| s.values.iter().flatten().map(move |v| relative(*v, *level)))
            .fold((100.0f64, 100.0f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
        let pad = ((hi - lo) * 0.1).max(1.0);
        let (y0, y1) = (lo - pad, hi + pad);
        let n = history.runs.len();
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(RUN_LABEL_AREA)
            .y_label_area_size(70)
            .build_cartesian_2d(0.5..n as f64 + 0.5, y0..y1)?;
        run_mesh(
            &mut chart.configure_mesh(),
            history,
            &format!("{} (% of the point's median)", self.metric.label()),
        )
        .y_label_formatter(&style::value_label)
        .draw()?;
        draw_run_labels(root, history, |r| chart.backend_coord(&(r as f64, y0)))?;
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(0.5, 100.0), (n as f64 + 0.5, 100.0)],
            style::IDEAL.stroke_width(1),
        )))?;
        // Where steps began: a dashed line just before the run.
        let mut step_runs: Vec<usize> = series
            .iter()
            .flat_map(|(s, _)| s.steps.iter().map(|st| st.run))
            .collect();
        step_runs.sort_unstable();
        step_runs.dedup();
        for run in &step_runs {
            let x = *run as f64 - 0.5;
            chart.draw_series(DashedLineSeries::new(
                vec![(x, y0), (x, y1)],
                6,
                4,
                style::FAILED.stroke_width(2),
            ))?;
        }
        let mut entries = Vec::new();
        let per_backend = |b| series.iter().filter(|(s, _)| s.backend == b).count();
        for (s, level) in &series {
            let same: Vec<&usize> = series
                .iter()
                .filter(|(o, _)| o.backend == s.backend)
                .map(|(o, _)| &o.throttle)
                .collect();
            let rank = same.iter().position(|t| **t == s.throttle).unwrap_or(0);
            let count = per_backend(s.backend);
            let t = if count > 1 {
                rank as f64 / (count - 1) as f64
            } else {
                0.5
            };
            let color = style::ramp(style::backend_color(s.backend), 0.2 + 0.7 * t);
            let points: Vec<(f64, f64)> = s
                .values
                .iter()
                .enumerate()
                .filter_map(|(i, v)| v.map(|v| ((i + 1) as f64, relative(v, *level))))
                .collect();
            chart.draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?;
            chart.draw_series(points.iter().map(|p| Circle::new(*p, 3, color.filled())))?;
            entries.push(LegendEntry::new(
                format!("{} ×{}", s.backend, s.throttle),
                color,
                Mark::Line,
            ));
        }
        if let Some(latest) = history.latest() {
            let rings = latest.rows.iter().filter(|r| {
                r.comparison.metric == self.metric && r.comparison.verdict == Verdict::Regressed
            });
            for row in rings {
                let found = series.iter().find(|(s, _)| {
                    s.backend == row.comparison.backend && s.throttle == row.comparison.throttle
                });
                if let (Some((_, level)), Some(v)) = (found, row.run_value) {
                    let at = (latest.run as f64, relative(v, *level));
                    chart.draw_series(std::iter::once(Circle::new(
                        at,
                        8,
                        style::FAILED.stroke_width(2),
                    )))?;
                }
            }
        }
        if left_out > 0 {
            entries.push(LegendEntry::new(
                format!("(+{left_out} not drawn)"),
                WHITE,
                Mark::Point,
            ));
        }
        if series
            .iter()
            .any(|(s, _)| !s.judged && s.metric == Metric::LatencyP99)
        {
            entries.push(LegendEntry::new(
                // Fewer than `MIN_ITEMS_FOR_P99` items a repetition: see the notes.
                "(not judged: few items)".to_string(),
                WHITE,
                Mark::Point,
            ));
        }
        if !step_runs.is_empty() {
            entries.push(LegendEntry::new("step began", style::FAILED, Mark::Dashed));
        }
        if history.latest().is_some_and(|j| {
            j.rows.iter().any(|r| {
                r.comparison.metric == self.metric && r.comparison.verdict == Verdict::Regressed
            })
        }) {
            entries.push(LegendEntry::new(
                "latest: regressed",
                style::FAILED,
                Mark::Hollow,
            ));
        }
        style::draw_legend(&legend, &entries)
    }
}

/// The recommended throttle of each run, coloured by backend.
pub struct Recommended<'a>(pub &'a History);

impl Chart for Recommended<'_> {
    fn stem(&self) -> String {
        "history-recommended".into()
    }

    fn title(&self) -> String {
        "Recommended throttle over runs".into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let history = self.0;
        let (plot, legend) = style::frame(root, &self.title())?;
        let picks: Vec<(usize, crate::analysis::compare::PointKey)> = history
            .runs
            .iter()
            .filter_map(|r| r.recommended.map(|k| (r.number, k)))
            .collect();
        // Every throttle swept, so a pick is seen among the choices it had.
        let throttles: Vec<usize> = history.series.iter().map(|s| s.throttle).collect();
        let y = style::throttle_range(throttles.iter().copied());
        let n = history.runs.len();
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(RUN_LABEL_AREA)
            .y_label_area_size(70)
            .build_cartesian_2d(
                0.5..n as f64 + 0.5,
                (y.0..y.1)
                    .log_scale()
                    .base(2.0)
                    .with_key_points(style::throttle_ticks(throttles.iter().copied())),
            )?;
        run_mesh(
            &mut chart.configure_mesh(),
            history,
            "recommended throttle (log scale)",
        )
        .y_label_formatter(&style::throttle_label)
        .draw()?;
        draw_run_labels(root, history, |r| chart.backend_coord(&(r as f64, y.0)))?;
        // A step line: the pick holds until the next run's.
        let mut path: Vec<(f64, f64)> = Vec::new();
        for (run, key) in &picks {
            let (x, t) = (*run as f64, key.throttle as f64);
            if let Some(last) = path.last().copied() {
                path.push((x, last.1));
            }
            path.push((x, t));
        }
        chart.draw_series(std::iter::once(PathElement::new(
            path,
            style::IDEAL.stroke_width(2),
        )))?;
        let mut entries: Vec<LegendEntry> = Vec::new();
        for (run, key) in &picks {
            let color = style::backend_color(key.backend);
            chart.draw_series(std::iter::once(Circle::new(
                (*run as f64, key.throttle as f64),
                6,
                color.filled(),
            )))?;
            if !entries.iter().any(|e| e.label == key.backend.name()) {
                entries.push(LegendEntry::new(key.backend.name(), color, Mark::Point));
            }
        }
        if picks.len() < n {
            entries.push(LegendEntry::new(
                "gap: no recommendation",
                style::IDEAL,
                Mark::Line,
            ));
        }
        style::draw_legend(&legend, &entries)
    }
}

/// Every chart of a history: goodput and p99 per point over the runs, the recommended
/// throttle.
pub fn render_all(history: &History) -> anyhow::Result<Vec<super::ChartFile>> {
    Ok(vec![
        super::render(&Trend {
            history,
            metric: Metric::Goodput,
        })?,
        super::render(&Trend {
            history,
            metric: Metric::LatencyP99,
        })?,
        super::render(&Recommended(history))?,
    ])
}
