//! A Gantt chart of one traced point: one row per worker, one bar per item from its start to its
//! end, coloured by outcome. Shows idle gaps, stragglers and uneven work at a glance.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{self, LegendEntry, Mark};
use super::{Chart, DrawResult};
use crate::backend::BackendKind;
use crate::measure::timeline::{Outcome, TraceEvent};

/// Bars drawn at most; a longer trace shows its first items (the SVG stays a reasonable size).
pub const MAX_BARS: usize = 5_000;

/// The traced items of one point.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineData {
    pub backend: BackendKind,
    pub throttle: usize,
    pub repetition: u32,
    pub events: Vec<TraceEvent>,
}

pub struct Timeline<'a>(pub &'a TimelineData);

impl Timeline<'_> {
    /// The events drawn (the earliest `MAX_BARS`) and the worker ids, one per row.
    fn shown(&self) -> (Vec<&TraceEvent>, Vec<u64>) {
        let mut events: Vec<&TraceEvent> = self.0.events.iter().collect();
        events.sort_by_key(|e| (e.start_us, e.worker));
        events.truncate(MAX_BARS);
        let mut workers: Vec<u64> = events.iter().map(|e| e.worker).collect();
        workers.sort_unstable();
        workers.dedup();
        (events, workers)
    }
}

impl Chart for Timeline<'_> {
    fn stem(&self) -> String {
        "timeline".into()
    }

    fn title(&self) -> String {
        let d = self.0;
        let mut title = format!(
            "Per-item timeline: {} at throttle {}",
            d.backend, d.throttle
        );
        if d.repetition > 1 {
            title.push_str(&format!(", repetition {}", d.repetition));
        }
        if d.events.len() > MAX_BARS {
            title.push_str(&format!(" (first {MAX_BARS} of {} items)", d.events.len()));
        }
        title
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let (plot, legend) = style::frame(root, &self.title())?;
        let (events, workers) = self.shown();
        let rows = workers.len().max(1);
        let end_ms = events
            .iter()
            .map(|e| e.end_us as f64 / 1000.0)
            .fold(0.0, f64::max);
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(80)
            // An integer range includes its end, so 0..rows-1 gives one segment per worker (a lone
            // worker gets an empty row beside it: a zero-width range cannot be drawn).
            .build_cartesian_2d(
                0.0..style::top(end_ms),
                (0..rows.max(2) - 1).into_segmented(),
            )?;
        let label_row = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) => workers.get(*i).map(u64::to_string).unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .x_desc("time since the point started (ms)")
            .y_desc("worker (thread index or pid)")
            .y_labels(rows.min(24))
            .y_label_formatter(&label_row)
            .x_label_formatter(&style::value_label)
            .label_style((style::FONT, style::LABEL_SIZE))
            .axis_desc_style((style::FONT, style::AXIS_DESC_SIZE))
            .disable_y_mesh()
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        let ok = style::backend_color(self.0.backend);
        // A thin gap between rows, unless there are so many rows that it would eat the bars.
        let gap = if rows <= 64 { 2 } else { 0 };
        chart.draw_series(events.iter().map(|e| {
            let row = workers.binary_search(&e.worker).unwrap_or(0);
            let color = match e.outcome {
                Outcome::Ok => ok,
                Outcome::Failed => style::FAILED,
                Outcome::TimedOut => style::TIMED_OUT,
            };
            let mut bar = Rectangle::new(
                [
                    (e.start_us as f64 / 1000.0, SegmentValue::Exact(row)),
                    (e.end_us as f64 / 1000.0, SegmentValue::Exact(row + 1)),
                ],
                color.filled(),
            );
            bar.set_margin(gap, gap, 0, 1);
            bar
        }))?;
        let entries = [
            LegendEntry::new("ok", ok, Mark::Bar),
            LegendEntry::new("failed", style::FAILED, Mark::Bar),
            LegendEntry::new("timed out", style::TIMED_OUT, Mark::Bar),
        ];
        style::draw_legend(&legend, &entries)
    }
}
