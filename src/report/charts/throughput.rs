//! Goodput (successful items/s) against throttle, one line per backend, the sequential baseline as a
//! point at throttle 1, the recommended throttle marked.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{self, LegendEntry, Mark};
use super::{Chart, DrawResult, Series};
use crate::results::Summary;

pub struct Throughput<'a>(pub &'a Series);

impl Chart for Throughput<'_> {
    fn stem(&self) -> String {
        "throughput".into()
    }

    fn title(&self) -> String {
        "Goodput vs throttle (successful items/s)".into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let series = self.0;
        let (plot, legend) = style::frame(root, &self.title())?;
        let x = style::throttle_range(series.throttles());
        let y_max = style::top(series.max_of(|s| s.goodput_per_s));
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(
                (x.0..x.1)
                    .log_scale()
                    .base(2.0)
                    .with_key_points(style::throttle_ticks(series.throttles())),
                0.0..y_max,
            )?;
        style::throttle_mesh(
            &mut chart.configure_mesh(),
            "throttle (items in flight, log scale)",
            "goodput (successful items/s)",
        )
        .draw()?;
        let mut entries = Vec::new();
        let point = |s: &Summary| (s.throttle as f64, s.goodput_per_s);
        for (backend, list) in &series.backends {
            let color = style::backend_color(*backend);
            chart.draw_series(LineSeries::new(
                list.iter().map(point),
                color.stroke_width(3),
            ))?;
            chart.draw_series(
                list.iter()
                    .map(|s| Circle::new(point(s), 4, color.filled())),
            )?;
            entries.push(LegendEntry::new(backend.name(), color, Mark::Line));
        }
        series.answer.mark_throttle(
            &mut chart,
            (0.0, y_max),
            |b, t| series.at(b, t).map(|s| s.goodput_per_s),
            &mut entries,
        )?;
        if let Some(base) = &series.baseline {
            let color = style::backend_color(base.backend);
            chart.draw_series(std::iter::once(Circle::new(point(base), 6, color.filled())))?;
            entries.push(LegendEntry::new(
                "sequential (baseline)",
                color,
                Mark::Point,
            ));
        }
        style::draw_legend(&legend, &entries)
    }
}
