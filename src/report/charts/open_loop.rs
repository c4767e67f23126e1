//! The open loop's "hockey stick": latency against offered rate — p50 and p99 from each item's
//! intended start, and the p99 of service time from its actual start — above, and the achieved
//! goodput against the offered rate (with the line where they are equal) below, one colour per
//! backend. Past the highest sustainable rate the latency from the intended start turns upward
//! while service time may stay flat: the gap is the queue the closed loop never sees.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{self, LegendEntry, Mark};
use super::{Chart, DrawResult};
use crate::results::findings::{OpenLoopAnalysis, RateOutcome};
use crate::results::SweepResult;

pub struct OpenLoop<'a>(pub &'a [OpenLoopAnalysis]);

impl<'a> OpenLoop<'a> {
    /// The chart of a sweep's open-loop points, if it has any.
    pub fn of(sweep: &'a SweepResult) -> Option<OpenLoop<'a>> {
        let analyses = &sweep.analysis.as_ref()?.open_loop;
        (!analyses.is_empty()).then_some(OpenLoop(analyses))
    }

    fn rates(&self) -> impl Iterator<Item = &RateOutcome> {
        self.0.iter().flat_map(|b| b.rates.iter())
    }
}

type Metric = (&'static str, fn(&RateOutcome) -> Option<f64>, Mark);

const METRICS: [Metric; 3] = [
    ("p50 from intended start", |r| r.lat_p50_ms, Mark::Line),
    ("p99 from intended start", |r| r.lat_p99_ms, Mark::Dashed),
    ("p99 service time", |r| r.svc_p99_ms, Mark::Dotted),
];

/// A metric's line, 3 pixels wide; a solid one marks each measured rate with a dot.
fn line<DB: DrawingBackend, C>(
    chart: &mut ChartContext<'_, DB, C>,
    points: Vec<(f64, f64)>,
    color: RGBColor,
    mark: Mark,
) -> DrawResult<DB>
where
    C: plotters::coord::CoordTranslate<From = (f64, f64)>,
{
    let dots = matches!(mark, Mark::Line).then(|| points.clone());
    style::stroked_line(chart, points, color, 3, mark)?;
    if let Some(dots) = dots {
        chart.draw_series(dots.into_iter().map(|p| Circle::new(p, 4, color.filled())))?;
    }
    Ok(())
}

impl Chart for OpenLoop<'_> {
    fn stem(&self) -> String {
        "open-loop".into()
    }

    fn title(&self) -> String {
        "Open loop: latency and goodput vs offered rate".into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let (plot, legend) = style::frame(root, &self.title())?;
        let height = plot.dim_in_pixel().1;
        let (upper, lower) = plot.split_vertically(height * 62 / 100);
        let offered: Vec<f64> = self.rates().map(|r| r.offered_per_s).collect();
        let x0 = offered.iter().copied().fold(f64::INFINITY, f64::min) / 1.25;
        let x1 = offered.iter().copied().fold(0.0, f64::max) * 1.25;
        let (x0, x1) = if x0.is_finite() && x1 > x0 {
            (x0, x1)
        } else {
            (1.0, 10.0)
        };
        let latencies: Vec<f64> = self
            .rates()
            .flat_map(|r| METRICS.iter().filter_map(move |(_, f, _)| f(r)))
            .filter(|v| *v > 0.0)
            .collect();
        let low = latencies.iter().copied().fold(f64::INFINITY, f64::min);
        let high = latencies.iter().copied().fold(0.0, f64::max);
        let (y0, y1) = if low.is_finite() && high > 0.0 {
            (low / 1.5, high * 1.5)
        } else {
            (0.001, 1.0)
        };
        let ticks = style::log_ticks(x0, x1);
        let mut top = ChartBuilder::on(&upper)
            .margin(12)
            .x_label_area_size(30)
            .y_label_area_size(80)
            .build_cartesian_2d(
                (x0..x1).log_scale().with_key_points(ticks.clone()),
                (y0..y1)
                    .log_scale()
                    .with_key_points(style::log_ticks(y0, y1)),
            )?;
        style::throttle_mesh(&mut top.configure_mesh(), "", "latency (ms, log)")
            .x_label_formatter(&style::value_label)
            .draw()?;
        let mut entries = Vec::new();
        for backend in self.0 {
            let color = style::backend_color(backend.backend);
            for (_, value, mark) in METRICS {
                let points: Vec<(f64, f64)> = backend
                    .rates
                    .iter()
                    .filter_map(|r| value(r).map(|v| (r.offered_per_s, v)))
                    .filter(|p| p.1 > 0.0)
                    .collect();
                line(&mut top, points, color, mark)?;
            }
            entries.push(LegendEntry::new(backend.backend.name(), color, Mark::Line));
        }
        // Log on both axes, so that goodput = offered is the diagonal.
        let g0 = self
            .rates()
            .map(|r| r.goodput_per_s)
            .filter(|g| *g > 0.0)
            .fold(x0, f64::min);
        let mut bottom = ChartBuilder::on(&lower)
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(
                (x0..x1).log_scale().with_key_points(ticks),
                (g0..x1)
                    .log_scale()
                    .with_key_points(style::log_ticks(g0, x1)),
            )?;
        style::throttle_mesh(
            &mut bottom.configure_mesh(),
            "offered rate (items/s, log scale)",
            "goodput (ok/s, log)",
        )
        .x_label_formatter(&style::value_label)
        .draw()?;
        bottom.draw_series(DashedLineSeries::new(
            vec![(x0, x0), (x1, x1)],
            6,
            4,
            style::IDEAL.stroke_width(2),
        ))?;
        for backend in self.0 {
            let color = style::backend_color(backend.backend);
            let points: Vec<(f64, f64)> = backend
                .rates
                .iter()
                .map(|r| (r.offered_per_s, r.goodput_per_s))
                .filter(|p| p.1 > 0.0)
                .collect();
            line(&mut bottom, points, color, Mark::Line)?;
            if let Some(best) = backend.max_sustainable_per_s {
                let at = backend
                    .rates
                    .iter()
                    .find(|r| r.offered_per_s == best)
                    .map_or(best, |r| r.goodput_per_s);
                bottom.draw_series(std::iter::once(Circle::new(
                    (best, at),
                    9,
                    color.stroke_width(2),
                )))?;
            }
        }
        for (name, _, mark) in METRICS {
            entries.push(LegendEntry::new(name, RGBColor(60, 60, 60), mark));
        }
        entries.push(LegendEntry::new(
            "goodput = offered",
            style::IDEAL,
            Mark::Dashed,
        ));
        entries.push(LegendEntry::new(
            "highest sustained",
            RGBColor(60, 60, 60),
            Mark::Hollow,
        ));
        style::draw_legend(&legend, &entries)
    }
}
