//! Throughput against load with the fitted Universal Scalability Law curve, for `fit`: measured
//! points filled, points left out of the fit hollow, the curve solid over the loads measured and
//! dotted where it extrapolates, and N*'s 95% interval as a pale band: where the fit places the
//! peak, and how surely.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::speedup::draw_fit;
use super::style::{self, LegendEntry, Mark};
use super::{Chart, DrawResult};
use crate::analysis::UslFit;

/// One fitted series.
pub struct Curve {
    pub name: String,
    pub color: RGBColor,
    /// Points the fit used.
    pub kept: Vec<(f64, f64)>,
    /// Points measured but left out of the fit.
    pub left_out: Vec<(f64, f64)>,
    pub fit: UslFit,
    /// N*'s 95% interval, when the fit has a peak.
    pub n_star: Option<(f64, f64)>,
}

pub struct Scalability<'a> {
    pub curves: &'a [Curve],
    /// The axis names: what the load and the throughput were read from.
    pub load: String,
    pub throughput: String,
}

impl Chart for Scalability<'_> {
    fn stem(&self) -> String {
        "scalability".into()
    }

    fn title(&self) -> String {
        "Throughput vs load, with the USL fit".into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let (plot, legend) = style::frame(root, &self.title())?;
        let measured = || {
            self.curves
                .iter()
                .flat_map(|c| c.kept.iter().chain(&c.left_out))
        };
        let x_max = measured().map(|p| p.0).fold(1.0, f64::max) * 1.05;
        let y_measured = measured().map(|p| p.1).fold(0.0, f64::max);
        let samples: Vec<f64> = (0..=300)
            .map(|i| 1.0 + (x_max - 1.0) * f64::from(i) / 300.0)
            .collect();
        let lines: Vec<Vec<(f64, f64)>> = self
            .curves
            .iter()
            .map(|c| samples.iter().map(|&n| (n, c.fit.throughput(n))).collect())
            .collect();
        let y_fitted = lines.iter().flatten().map(|p| p.1).fold(0.0, f64::max);
        // A curve that shoots far above every measurement is cut, not allowed to flatten them.
        let y_max = style::top(y_measured.max(y_fitted.min(y_measured * 1.5)));
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)?;
        chart
            .configure_mesh()
            .x_desc(self.load.as_str())
            .y_desc(self.throughput.as_str())
            .x_label_formatter(&style::value_label)
            .y_label_formatter(&style::value_label)
            .label_style((style::FONT, style::LABEL_SIZE))
            .axis_desc_style((style::FONT, style::AXIS_DESC_SIZE))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        let mut entries = Vec::new();
        for curve in self.curves {
            if let Some((lo, hi)) = curve.n_star {
                let band = [(lo.clamp(0.0, x_max), 0.0), (hi.clamp(0.0, x_max), y_max)];
                let pale = style::shade(curve.color, 0.15);
                chart.draw_series([Rectangle::new(band, pale.filled())])?;
                entries.push(LegendEntry::new(
                    format!("{} N* 95% interval", curve.name),
                    pale,
                    Mark::Bar,
                ));
            }
        }
        let mut extrapolated = false;
        for (curve, line) in self.curves.iter().zip(&lines) {
            let color = curve.color;
            let loads = || curve.kept.iter().chain(&curve.left_out).map(|p| p.0);
            let lo = loads().fold(f64::INFINITY, f64::min);
            let hi = loads().fold(f64::NEG_INFINITY, f64::max);
            extrapolated |= draw_fit(&mut chart, line, (lo, hi), y_max, color)?;
            chart.draw_series(
                curve
                    .kept
                    .iter()
                    .map(|p| Circle::new(*p, 5, color.filled())),
            )?;
            chart.draw_series(
                curve
                    .left_out
                    .iter()
                    .map(|p| Circle::new(*p, 6, color.stroke_width(2))),
            )?;
            entries.push(LegendEntry::new(
                format!("{} measured", curve.name),
                color,
                Mark::Point,
            ));
            entries.push(LegendEntry::new(
                format!("{} USL fit", curve.name),
                color,
                Mark::Line,
            ));
            if !curve.left_out.is_empty() {
                entries.push(LegendEntry::new(
                    format!("{} left out of the fit", curve.name),
                    color,
                    Mark::Hollow,
                ));
            }
        }
        if extrapolated {
            entries.push(LegendEntry::new(
                "fit beyond the measured",
                style::IDEAL,
                Mark::Dotted,
            ));
        }
        style::draw_legend(&legend, &entries)
    }
}
