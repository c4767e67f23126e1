//! Speedup against throttle, with the ideal line y = min(throttle, items) and, when the analysis
//! fitted one, each backend's Universal Scalability Law curve — solid over the throttles it was
//! fitted to, dotted where it extrapolates; a point left out of the fit is drawn hollow; the
//! recommended throttle is marked.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{self, LegendEntry, Mark};
use super::{Chart, DrawResult, Series};
use crate::analysis::UslFit;
use crate::backend::{BackendKind, Budget};
use crate::results::SweepResult;

pub struct Speedup<'a> {
    series: &'a Series,
    /// Items per point, when the budget is a count (it caps the ideal speedup).
    items: Option<u64>,
    /// Fitted curves, as speedup: fitted throughput over the baseline throughput.
    fits: Vec<(BackendKind, UslFit, f64)>,
    /// Throttles each backend's fit left out.
    left_out: Vec<(BackendKind, f64)>,
}

impl<'a> Speedup<'a> {
    pub fn new(sweep: &SweepResult, series: &'a Series) -> Speedup<'a> {
        let items = match sweep.spec.sweep.budget {
            Budget::Items(n) => Some(n),
            Budget::Duration(_) => None,
        };
        let baseline = sweep.baseline_goodput_per_s.filter(|b| *b > 0.0);
        let fits = match (&sweep.analysis, baseline) {
            (Some(analysis), Some(base)) => analysis
                .backends
                .iter()
                .filter_map(|b| b.usl.map(|fit| (b.backend, fit, base)))
                .collect(),
            _ => Vec::new(),
        };
        let left_out = sweep
            .analysis
            .iter()
            .flat_map(|a| &a.backends)
            .flat_map(|b| {
                let left = b.scaling.iter().flat_map(|s| &s.left_out);
                left.map(move |l| (b.backend, l.throttle))
            })
            .collect();
        Speedup {
            series,
            items,
            fits,
            left_out,
        }
    }

    /// The throttles `backend`'s fit was fitted to: its own, from 1 when the baseline stood in
    /// for a throttle 1 it did not measure.
    fn fitted_span(&self, backend: BackendKind) -> (f64, f64) {
        let own = self
            .series
            .backends
            .iter()
            .filter(|(b, _)| *b == backend)
            .flat_map(|(_, list)| list.iter().map(|s| s.throttle as f64));
        let (lo, hi) = own.fold((f64::INFINITY, 1.0_f64), |(lo, hi), t| {
            (lo.min(t), hi.max(t))
        });
        let lo = if self.series.baseline.is_some() {
            1.0
        } else {
            lo.min(hi)
        };
        (lo, hi)
    }

    fn ideal(&self, n: f64) -> f64 {
        match self.items {
            Some(items) => n.min(items as f64),
            None => n,
        }
    }
}

/// `n` throttles spread evenly on the log axis between `lo` and `hi`.
fn samples(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let (a, b) = (lo.max(1.0).ln(), hi.max(1.0).ln());
    (0..=n)
        .map(|i| (a + (b - a) * i as f64 / n as f64).exp())
        .collect()
}

/// Splits a sampled curve where it leaves the span `lo..=hi` of measured loads: each piece with
/// whether it lies inside, neighbouring pieces sharing their end point so the curve stays whole.
pub fn split_by_span(points: &[(f64, f64)], lo: f64, hi: f64) -> Vec<(bool, Vec<(f64, f64)>)> {
    let mut pieces: Vec<(bool, Vec<(f64, f64)>)> = Vec::new();
    for &p in points {
        let inside = (lo..=hi).contains(&p.0);
        match pieces.last_mut() {
            Some((was, piece)) if *was == inside => piece.push(p),
            Some((_, piece)) => {
                let joint = *piece.last().expect("pieces are never empty");
                pieces.push((inside, vec![joint, p]));
            }
            None => pieces.push((inside, vec![p])),
        }
    }
    pieces
}

/// Draws a fitted curve solid over the span `lo..=hi` it was fitted to and dotted beyond, cut at
/// `y_max`; true when some of it was drawn dotted.
pub fn draw_fit<DB, C>(
    chart: &mut ChartContext<'_, DB, C>,
    curve: &[(f64, f64)],
    (lo, hi): (f64, f64),
    y_max: f64,
    color: RGBColor,
) -> Result<bool, DrawingAreaErrorKind<DB::ErrorType>>
where
    DB: DrawingBackend,
    C: plotters::coord::CoordTranslate<From = (f64, f64)>,
{
    let mut extrapolated = false;
    for (inside, span) in split_by_span(curve, lo, hi) {
        for piece in clip_below(&span, y_max) {
            if inside {
                chart.draw_series(LineSeries::new(piece, color.stroke_width(2)))?;
            } else {
                extrapolated = true;
                chart.draw_series(DottedLineSeries::new(piece, 0, 7, move |c| {
                    Circle::new(c, 2, color.filled())
                }))?;
            }
        }
    }
    Ok(extrapolated)
}

/// Splits a polyline into the pieces that lie at or below `limit`, cutting segments where they
/// cross it, so a curve leaving the plot stops at its edge instead of being drawn over the title.
pub fn clip_below(points: &[(f64, f64)], limit: f64) -> Vec<Vec<(f64, f64)>> {
    let mut pieces = Vec::new();
    let mut current: Vec<(f64, f64)> = Vec::new();
    let cross = |(x0, y0): (f64, f64), (x1, y1): (f64, f64)| {
        let t = (limit - y0) / (y1 - y0);
        (x0 + (x1 - x0) * t, limit)
    };
    for (i, &p) in points.iter().enumerate() {
        let inside = p.1 <= limit;
        if i > 0 {
            let prev = points[i - 1];
            let was_inside = prev.1 <= limit;
            if was_inside && !inside {
                current.push(cross(prev, p));
                pieces.push(std::mem::take(&mut current));
            } else if !was_inside && inside {
                current.push(cross(prev, p));
            }
        }
        if inside {
            current.push(p);
        }
    }
    if current.len() > 1 {
        pieces.push(current);
    }
    pieces.retain(|piece| piece.len() > 1);
    pieces
}

impl Chart for Speedup<'_> {
    fn stem(&self) -> String {
        "speedup".into()
    }

    fn title(&self) -> String {
        "Speedup over the sequential baseline".into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let series = self.series;
        let (plot, legend) = style::frame(root, &self.title())?;
        let x = style::throttle_range(series.throttles());
        let xs = samples(x.0, x.1, 200);
        let curves: Vec<(BackendKind, Vec<(f64, f64)>)> = self
            .fits
            .iter()
            .map(|(backend, fit, base)| {
                let points = xs.iter().map(|&n| (n, fit.throughput(n) / base));
                (*backend, points.filter(|p| p.1.is_finite()).collect())
            })
            .collect();
        let measured = series.max_of(|s| s.speedup.unwrap_or(0.0));
        let fitted = curves
            .iter()
            .flat_map(|(_, c)| c.iter().map(|p| p.1))
            .fold(0.0, f64::max);
        let ideal_max = self.ideal(x.1);
        // The ideal line is only a reference: when it climbs far above what was measured it is
        // cut at the top rather than squashing the measured lines into the bottom strip.
        let data_max = measured.max(fitted.min(measured * 2.0)).max(1.0);
        let y_max = style::top(if ideal_max <= data_max * 1.6 {
            ideal_max.max(data_max)
        } else {
            data_max
        });
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(70)
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
            "speedup (× sequential goodput)",
        )
        .draw()?;
        let ideal: Vec<(f64, f64)> = xs.iter().map(|&n| (n, self.ideal(n))).collect();
        for piece in clip_below(&ideal, y_max) {
            chart.draw_series(DashedLineSeries::new(
                piece,
                8,
                6,
                style::IDEAL.stroke_width(2),
            ))?;
        }
        let mut entries = vec![LegendEntry::new(
            if self.items.is_some() {
                "ideal: min(N, items)"
            } else {
                "ideal: N"
            },
            style::IDEAL,
            Mark::Dashed,
        )];
        for (backend, list) in &series.backends {
            let color = style::backend_color(*backend);
            let points: Vec<(f64, f64)> = list
                .iter()
                .filter_map(|s| s.speedup.map(|x| (s.throttle as f64, x)))
                .collect();
            chart.draw_series(LineSeries::new(points.clone(), color.stroke_width(3)))?;
            let left = |p: &(f64, f64)| self.left_out.contains(&(*backend, p.0));
            chart.draw_series(
                points
                    .iter()
                    .filter(|p| !left(p))
                    .map(|p| Circle::new(*p, 4, color.filled())),
            )?;
            // Hollow, on a white disc, so the line through it does not fill it in.
            for p in points.iter().filter(|p| left(p)) {
                chart.draw_series([Circle::new(*p, 6, WHITE.filled())])?;
                chart.draw_series([Circle::new(*p, 6, color.stroke_width(2))])?;
            }
            entries.push(LegendEntry::new(backend.name(), color, Mark::Line));
        }
        let mut with_left_out: Vec<BackendKind> = self.left_out.iter().map(|l| l.0).collect();
        with_left_out.dedup();
        for backend in with_left_out {
            entries.push(LegendEntry::new(
                format!("{} left out of the fit", backend.name()),
                style::backend_color(backend),
                Mark::Hollow,
            ));
        }
        let mut extrapolated = false;
        for (backend, curve) in &curves {
            let color = style::shade(style::backend_color(*backend), 0.7);
            extrapolated |= draw_fit(&mut chart, curve, self.fitted_span(*backend), y_max, color)?;
            entries.push(LegendEntry::new(
                format!("{} USL fit", backend.name()),
                color,
                Mark::Line,
            ));
        }
        if extrapolated {
            entries.push(LegendEntry::new(
                "fit beyond the measured",
                style::IDEAL,
                Mark::Dotted,
            ));
        }
        series.answer.mark_throttle(
            &mut chart,
            (0.0, y_max),
            |b, t| series.at(b, t).and_then(|s| s.speedup),
            &mut entries,
        )?;
        style::draw_legend(&legend, &entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_curve_is_cut_where_it_leaves_the_plot() {
        let pieces = clip_below(&[(0.0, 0.0), (2.0, 2.0), (4.0, 0.0)], 1.0);
        assert_eq!(
            pieces,
            vec![vec![(0.0, 0.0), (1.0, 1.0)], vec![(3.0, 1.0), (4.0, 0.0)]]
        );
        assert!(clip_below(&[(0.0, 5.0), (1.0, 6.0)], 1.0).is_empty());
    }

    #[test]
    fn a_curve_is_split_where_it_leaves_the_measured_span() {
        let curve = [(0.5, 1.0), (1.0, 2.0), (2.0, 3.0), (4.0, 4.0), (8.0, 5.0)];
        let pieces = split_by_span(&curve, 1.0, 4.0);
        assert_eq!(
            pieces,
            vec![
                (false, vec![(0.5, 1.0)]),
                (true, vec![(0.5, 1.0), (1.0, 2.0), (2.0, 3.0), (4.0, 4.0)]),
                (false, vec![(4.0, 4.0), (8.0, 5.0)]),
            ]
        );
        assert_eq!(split_by_span(&curve, 0.0, 9.0).len(), 1);
    }

    #[test]
    fn samples_span_the_axis() {
        let s = samples(1.0, 64.0, 6);
        assert!((s[0] - 1.0).abs() < 1e-9 && (s[6] - 64.0).abs() < 1e-9);
        assert!((s[1] - 2.0).abs() < 1e-9);
    }
}
