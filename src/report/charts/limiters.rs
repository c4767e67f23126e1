//! Each limiter's limit over time (a step line per `backend+limiter`), with what the sweep found
//! drawn across it: the swept knee (dashed) and the USL's N* (dotted) of each backend. Where a
//! limit settles against those lines is the chart's answer.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{self, LegendEntry, Mark};
use super::{Chart, DrawResult};
use crate::backend::limiter::Algorithm;
use crate::results::SweepResult;

pub struct Limiters<'a>(pub &'a SweepResult);

/// One colour per algorithm, apart from the backends' (their lines are the reference here).
fn limiter_color(algorithm: Algorithm) -> RGBColor {
    match algorithm {
        Algorithm::Aimd => RGBColor(214, 39, 40),
        Algorithm::Vegas => RGBColor(44, 160, 44),
        Algorithm::Gradient2 => RGBColor(148, 103, 189),
    }
}

impl Limiters<'_> {
    /// The chart, when the sweep has limiters' points.
    pub fn of(sweep: &SweepResult) -> Option<Limiters<'_>> {
        sweep
            .limited
            .iter()
            .any(|p| p.limiter.is_some())
            .then_some(Limiters(sweep))
    }
}

impl Chart for Limiters<'_> {
    fn stem(&self) -> String {
        "limiters".into()
    }

    fn title(&self) -> String {
        "Adaptive limiters: limit over time".into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let sweep = self.0;
        let (plot, legend) = style::frame(root, &self.title())?;
        let tracks: Vec<_> = sweep
            .limited
            .iter()
            .filter_map(|p| p.limiter.as_ref().map(|t| (p, t)))
            .collect();
        let t_max = tracks
            .iter()
            .map(|(p, _)| p.wall_s)
            .fold(0.0f64, f64::max)
            .max(0.001);
        let references: Vec<_> = sweep
            .analysis
            .iter()
            .flat_map(|a| a.backends.iter())
            .filter(|b| tracks.iter().any(|(p, _)| p.backend == b.backend))
            .collect();
        let highest = tracks
            .iter()
            .flat_map(|(_, t)| t.limit_over_time.iter().map(|s| s.limit))
            .chain(references.iter().filter_map(|b| b.knee))
            .chain(
                references
                    .iter()
                    .filter_map(|b| b.scaling.as_ref().and_then(|s| s.optimum)),
            )
            .max()
            .unwrap_or(1);
        let y_max = style::top(highest as f64);
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..t_max, 0.0..y_max)?;
        chart
            .configure_mesh()
            .x_desc("seconds into the point")
            .y_desc("limit (items in flight)")
            .x_label_formatter(&style::value_label)
            .y_label_formatter(&style::value_label)
            .label_style((style::FONT, style::LABEL_SIZE))
            .axis_desc_style((style::FONT, style::AXIS_DESC_SIZE))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        let mut entries = Vec::new();
        for b in &references {
            let color = style::backend_color(b.backend);
            if let Some(knee) = b.knee {
                let y = knee as f64;
                let dashes = (0..40).map(|i| i as f64 * t_max / 40.0);
                chart.draw_series(dashes.map(|x| {
                    PathElement::new(
                        vec![(x, y), ((x + t_max / 80.0).min(t_max), y)],
                        color.stroke_width(2),
                    )
                }))?;
                entries.push(LegendEntry::new(
                    format!("{} knee: {knee}", b.backend),
                    color,
                    Mark::Dashed,
                ));
            }
            if let Some(n) = b.scaling.as_ref().and_then(|s| s.optimum) {
                let y = n as f64;
                let dots = (0..=80).map(|i| i as f64 * t_max / 80.0);
                chart.draw_series(dots.map(|x| Circle::new((x, y), 2, color.filled())))?;
                entries.push(LegendEntry::new(
                    format!("{} USL N*: {n}", b.backend),
                    color,
                    Mark::Dotted,
                ));
            }
        }
        for (p, track) in &tracks {
            // One hue per algorithm; `async` full, other backends paler, so two backends' runs
            // of one limiter stay apart.
            let hue = limiter_color(track.limiter.algorithm);
            let (color, width) = if p.backend == crate::backend::BackendKind::Async {
                (hue, 3)
            } else {
                (style::shade(hue, 0.45), 2)
            };
            let mut path = Vec::new();
            for (i, step) in track.limit_over_time.iter().enumerate() {
                let end = track
                    .limit_over_time
                    .get(i + 1)
                    .map_or(p.wall_s, |next| next.t_s);
                path.push((step.t_s, step.limit as f64));
                path.push((end, step.limit as f64));
            }
            chart.draw_series(std::iter::once(PathElement::new(
                path,
                color.stroke_width(width),
            )))?;
            entries.push(LegendEntry::new(
                format!("{} → {}", p.backend_label(), p.throttle),
                color,
                Mark::Line,
            ));
        }
        style::draw_legend(&legend, &entries)
    }
}
