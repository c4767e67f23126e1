//! The classic HdrHistogram percentile plot, one chart per backend: latency against percentile on
//! a log "nines" axis (0%, 90%, 99%, 99.9% …), one line per throttle, darker as throttle grows,
//! with the sequential baseline in grey. Repetitions of a point are merged. The SLO's bounds are
//! red lines with a dot at the percentile they bound; the recommended throttle's line is bold.

use hdrhistogram::Histogram;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::answer::{self, Answer, SloLine};
use super::style::{self, LegendEntry, Mark};
use super::{Chart, DrawResult};
use crate::backend::BackendKind;
use crate::measure::latency::{decode_histogram, us_to_ms};
use crate::results::SweepResult;

/// The latency histogram of every repetition of (backend, throttle), merged.
pub fn merged_histogram(
    sweep: &SweepResult,
    backend: BackendKind,
    throttle: usize,
) -> Option<Histogram<u64>> {
    let mut merged: Option<Histogram<u64>> = None;
    let points = sweep
        .points
        .iter()
        .filter(|p| p.backend == backend && p.throttle == throttle);
    for h in points.filter_map(|p| decode_histogram(&p.histogram)) {
        match merged.as_mut() {
            Some(m) => {
                let _ = m.add(&h);
            }
            None => merged = Some(h),
        }
    }
    merged.filter(|h| !h.is_empty())
}

/// Percentile → position on the nines axis: 90% is 1, 99% is 2, 99.9% is 3.
pub fn nines(quantile: f64) -> f64 {
    -(1.0 - quantile).max(1e-9).log10()
}

/// The axis label at position `x` of the nines axis.
pub fn nines_label(x: &f64) -> String {
    let k = x.round();
    if (x - k).abs() < 1e-6 {
        match k as i64 {
            i64::MIN..=0 => "0%".into(),
            1 => "90%".into(),
            2 => "99%".into(),
            n => format!("99.{}%", "9".repeat((n - 2) as usize)),
        }
    } else {
        format!("{:.3}%", 100.0 * (1.0 - 10f64.powf(-x)))
    }
}

/// One curve: (nines position, latency ms), up to the percentile where one item is left.
pub fn curve(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    let end = (h.len() as f64).log10().min(5.0);
    let steps = 150;
    let mut points: Vec<(f64, f64)> = (0..steps)
        .map(|i| {
            let x = end * i as f64 / steps as f64;
            let q = 1.0 - 10f64.powf(-x);
            (x, us_to_ms(h.value_at_quantile(q)))
        })
        .collect();
    points.push((end, us_to_ms(h.max())));
    points
}

pub struct Distribution {
    backend: BackendKind,
    /// (throttle, curve), by increasing throttle.
    curves: Vec<(usize, Vec<(f64, f64)>)>,
    baseline: Option<Vec<(f64, f64)>>,
    slo: Vec<SloLine>,
    /// This backend's recommended throttle, when it is the one recommended.
    recommended: Option<usize>,
}

/// An SLO line this far above the slowest latency measured would squash every curve into the
/// bottom of the chart: it is named in the legend instead.
const SLO_REACH: f64 = 3.0;

impl Distribution {
    /// One chart per swept backend that has histograms.
    pub fn all(sweep: &SweepResult) -> Vec<Distribution> {
        let baseline = sweep
            .points
            .iter()
            .find(|p| p.is_baseline())
            .and_then(|p| merged_histogram(sweep, p.backend, p.throttle))
            .map(|h| curve(&h));
        let answer = Answer::of(sweep);
        let mut charts: Vec<Distribution> = Vec::new();
        for s in sweep.summaries() {
            if s.backend == BackendKind::Sequential {
                continue;
            }
            let Some(h) = merged_histogram(sweep, s.backend, s.throttle) else {
                continue;
            };
            let entry = (s.throttle, curve(&h));
            match charts.iter_mut().find(|c| c.backend == s.backend) {
                Some(chart) => chart.curves.push(entry),
                None => charts.push(Distribution {
                    backend: s.backend,
                    curves: vec![entry],
                    baseline: baseline.clone(),
                    slo: answer.slo.clone(),
                    recommended: answer.throttle_on(s.backend),
                }),
            }
        }
        charts
    }
}

impl Chart for Distribution {
    fn stem(&self) -> String {
        format!("distribution-{}", self.backend.name())
    }

    fn title(&self) -> String {
        format!("Latency by percentile: {}", self.backend.name())
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let (plot, legend) = style::frame(root, &self.title())?;
        let all = || {
            self.curves
                .iter()
                .map(|(_, c)| c)
                .chain(self.baseline.iter())
                .flat_map(|c| c.iter())
        };
        let x_end = all().map(|p| p.0).fold(1.0, f64::max);

        let slowest = all().map(|p| p.1).fold(0.0, f64::max);
        let (shown, above): (Vec<&SloLine>, Vec<&SloLine>) = self
            .slo
            .iter()
            .partition(|l| l.ms <= SLO_REACH * slowest.max(f64::MIN_POSITIVE));
        let y_max = style::top(shown.iter().map(|l| l.ms).fold(slowest, f64::max));
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(50)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..x_end * 1.02, 0.0..y_max)?;
        chart
            .configure_mesh()
            .x_desc("percentile (log scale of nines)")
            // One label per nine: plotters then picks the integer positions.
            .x_labels(x_end.floor() as usize + 1)
            .y_desc("latency (ms)")
            .x_label_formatter(&nines_label)
            .y_label_formatter(&style::value_label)
            .label_style((style::FONT, style::LABEL_SIZE))
            .axis_desc_style((style::FONT, style::AXIS_DESC_SIZE))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        let mut entries = Vec::new();
        if let Some(base) = &self.baseline {
            let color = style::backend_color(BackendKind::Sequential);
            chart.draw_series(DashedLineSeries::new(
                base.clone(),
                8,
                5,
                color.stroke_width(2),
            ))?;
            entries.push(LegendEntry::new("sequential", color, Mark::Dashed));
        }
        let color = style::backend_color(self.backend);
        let steps = self.curves.len().saturating_sub(1).max(1) as f64;
        for (i, (throttle, points)) in self.curves.iter().enumerate() {
            let shade = style::ramp(color, i as f64 / steps);
            let chosen = self.recommended == Some(*throttle);
            let width = if chosen { 5 } else { 2 };
            chart.draw_series(LineSeries::new(points.clone(), shade.stroke_width(width)))?;
            entries.push(LegendEntry::new(
                if chosen {
                    format!("throttle {throttle} (recommended)")
                } else {
                    format!("throttle {throttle}")
                },
                shade,
                Mark::Line,
            ));
        }
        for line in &shown {
            let at = (nines(line.quantile), line.ms);
            chart.draw_series(DashedLineSeries::new(
                [(0.0, line.ms), (x_end * 1.02, line.ms)],
                14,
                5,
                answer::SLO.stroke_width(2),
            ))?;
            chart.draw_series([Circle::new(at, 6, answer::SLO.filled())])?;
            entries.push(LegendEntry::new(
                line.label.clone(),
                answer::SLO,
                Mark::Dashed,
            ));
        }
        for line in &above {
            entries.push(LegendEntry::new(
                format!("{} (above the chart)", line.label),
                answer::SLO,
                Mark::Dashed,
            ));
        }
        style::draw_legend(&legend, &entries)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nines_axis_positions_and_labels() {
        assert!((nines(0.99) - 2.0).abs() < 1e-9);
        assert_eq!(nines(0.0), 0.0);
        assert_eq!(nines_label(&0.0), "0%");
        assert_eq!(nines_label(&2.0), "99%");
        assert_eq!(nines_label(&5.0), "99.999%");
        assert_eq!(nines_label(&0.5), "68.377%");
    }

    #[test]
    fn a_curve_ends_at_the_maximum() {
        let mut h = Histogram::<u64>::new(3).unwrap();
        for v in 1..=1000u64 {
            h.record(v * 1000).unwrap();
        }
        let c = curve(&h);
        assert!((c.last().unwrap().0 - 3.0).abs() < 1e-9);
        assert!((c.last().unwrap().1 - 1000.0).abs() < 1.0);
        assert!(c.windows(2).all(|w| w[0].1 <= w[1].1));
    }
}
