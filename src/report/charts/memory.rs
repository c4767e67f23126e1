//! Memory against throttle: peak RSS on the left, the RSS change over the point on the right,
//! one line per backend, the sequential baseline as a point.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{self, LegendEntry, Mark};
use super::{Chart, DrawResult, Series};
use crate::results::Summary;

pub struct Memory<'a>(pub &'a Series);

/// One panel: `value` of every summary against throttle.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    series: &Series,
    caption: &str,
    y_desc: &str,
    value: fn(&Summary) -> f64,
) -> DrawResult<DB> {
    let x = style::throttle_range(series.throttles());
    let lo = series.all().map(value).fold(0.0, f64::min);
    let hi = style::top(series.max_of(value));
    // A negative change needs room below zero; a flat zero line still needs some height.
    let lo = if lo < 0.0 { lo * 1.12 } else { 0.0 };
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (style::FONT, style::AXIS_DESC_SIZE))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(
            (x.0..x.1)
                .log_scale()
                .base(2.0)
                .with_key_points(style::throttle_ticks(series.throttles())),
            lo..hi,
        )?;
    style::throttle_mesh(&mut chart.configure_mesh(), "throttle (log scale)", y_desc).draw()?;
    for (backend, list) in &series.backends {
        let color = style::backend_color(*backend);
        let points: Vec<(f64, f64)> = list.iter().map(|s| (s.throttle as f64, value(s))).collect();
        chart.draw_series(LineSeries::new(points.clone(), color.stroke_width(3)))?;
        chart.draw_series(points.iter().map(|p| Circle::new(*p, 4, color.filled())))?;
    }
    if let Some(base) = &series.baseline {
        let color = style::backend_color(base.backend);
        let p = (base.throttle as f64, value(base));
        chart.draw_series(std::iter::once(Circle::new(p, 6, color.filled())))?;
    }
    Ok(())
}

impl Chart for Memory<'_> {
    fn stem(&self) -> String {
        "memory".into()
    }

    fn title(&self) -> String {
        "Memory vs throttle".into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let series = self.0;
        let (plot, legend) = style::frame(root, &self.title())?;
        let half = plot.dim_in_pixel().0 / 2;
        let (left, right) = plot.split_horizontally(half);
        panel(&left, series, "peak RSS", "peak RSS (MB)", |s| {
            s.peak_rss_mb
        })?;
        panel(
            &right,
            series,
            "RSS change over the point",
            "Δ RSS (MB)",
            |s| s.mem_delta_mb,
        )?;
        let mut entries: Vec<LegendEntry> = series
            .backends
            .iter()
            .map(|(b, _)| LegendEntry::new(b.name(), style::backend_color(*b), Mark::Line))
            .collect();
        if let Some(base) = &series.baseline {
            entries.push(LegendEntry::new(
                "sequential (baseline)",
                style::backend_color(base.backend),
                Mark::Point,
            ));
        }
        style::draw_legend(&legend, &entries)
    }
}
