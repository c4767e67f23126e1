//! Latency of successful items (p50, p99, max) against throttle on a log scale, one colour per
//! backend and one line style per percentile; the sequential baseline's values as faint
//! reference lines, the SLO's bounds as red lines, the recommended throttle marked on its p99.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{self, LegendEntry, Mark};
use super::{Chart, DrawResult, Series};
use crate::results::Summary;

pub struct Latency<'a>(pub &'a Series);

/// A percentile, how to read it off a row (absent when no item succeeded), its line style.
type Metric = (&'static str, fn(&Summary) -> Option<f64>, Mark);

const METRICS: [Metric; 3] = [
    ("p50", |s| s.lat_p50_ms, Mark::Line),
    ("p99", |s| s.lat_p99_ms, Mark::Dashed),
    ("max", |s| s.lat_max_ms, Mark::Dotted),
];

impl Chart for Latency<'_> {
    fn stem(&self) -> String {
        "latency".into()
    }

    fn title(&self) -> String {
        "Latency vs throttle (p50, p99, max)".into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let series = self.0;
        let (plot, legend) = style::frame(root, &self.title())?;
        let x = style::throttle_range(series.throttles());
        let low = series
            .all()
            .filter_map(|s| s.lat_p50_ms)
            .filter(|v| *v > 0.0)
            .fold(f64::INFINITY, f64::min);
        // The SLO's lines are part of the answer: the range always holds them.
        let slo = series.answer.slo.iter().map(|l| l.ms);
        let low = slo.clone().fold(low, f64::min);
        let high = series
            .max_of(|s| s.lat_max_ms.unwrap_or(0.0).max(s.lat_p99_ms.unwrap_or(0.0)))
            .max(slo.fold(0.0, f64::max));
        let (y0, y1) = if low.is_finite() && high > 0.0 {
            (low / 1.5, high * 1.5)
        } else {
            (0.001, 1.0)
        };
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(
                (x.0..x.1)
                    .log_scale()
                    .base(2.0)
                    .with_key_points(style::throttle_ticks(series.throttles())),
                (y0..y1)
                    .log_scale()
                    .with_key_points(style::log_ticks(y0, y1)),
            )?;
        style::throttle_mesh(
            &mut chart.configure_mesh(),
            "throttle (items in flight, log scale)",
            "latency (ms, log scale)",
        )
        .draw()?;
        let mut entries = Vec::new();
        if let Some(base) = &series.baseline {
            let color = style::shade(style::backend_color(base.backend), 0.55);
            for (_, value, mark) in METRICS {
                if let Some(v) = value(base).filter(|v| *v > 0.0) {
                    style::stroked_line(&mut chart, vec![(x.0, v), (x.1, v)], color, 1, mark)?;
                }
            }
            entries.push(LegendEntry::new("sequential (baseline)", color, Mark::Line));
        }
        for (backend, list) in &series.backends {
            let color = style::backend_color(*backend);
            for (_, value, mark) in METRICS {
                // A throttle without a successful item has no latency: the line skips it.
                let points: Vec<(f64, f64)> = list
                    .iter()
                    .filter_map(|s| value(s).map(|v| (s.throttle as f64, v)))
                    .filter(|p| p.1 > 0.0)
                    .collect();
                style::stroked_line(&mut chart, points, color, 3, mark)?;
            }
            entries.push(LegendEntry::new(backend.name(), color, Mark::Line));
        }
        series.answer.draw_slo(&mut chart, x, &mut entries)?;
        series.answer.mark_throttle(
            &mut chart,
            (y0, y1),
            |b, t| series.at(b, t).and_then(|s| s.lat_p99_ms),
            &mut entries,
        )?;
        for (name, _, mark) in METRICS {
            entries.push(LegendEntry::new(name, RGBColor(60, 60, 60), mark));
        }
        style::draw_legend(&legend, &entries)
    }
}
