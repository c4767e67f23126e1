//! What the analysis concluded, drawn where a reader looks for it: the recommended throttle as a
//! vertical line, with a ring on its point, on the throughput, speedup and latency charts; each
//! latency bound of the SLO as a horizontal line on the latency charts.

use plotters::coord::CoordTranslate;
use plotters::prelude::*;

use super::style::{LegendEntry, Mark};
use super::DrawResult;
use crate::analysis::slo::Metric;
use crate::backend::BackendKind;
use crate::format::number;
use crate::results::SweepResult;

/// The recommended throttle's line and ring: a green no backend uses.
pub const RECOMMENDED: RGBColor = RGBColor(0, 130, 60);
/// An SLO bound: the red of failures, as breaking it is one.
pub const SLO: RGBColor = RGBColor(214, 39, 40);

/// One latency bound of the SLO.
#[derive(Debug, Clone, PartialEq)]
pub struct SloLine {
    /// `SLO: p99 ≤ 100 ms`.
    pub label: String,
    pub ms: f64,
    /// The percentile it bounds, as a quantile (0.99).
    pub quantile: f64,
}

/// The recommended throttle and the SLO, as the charts show them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answer {
    /// The backend and throttle recommended, and how to name it in a legend.
    pub recommended: Option<(BackendKind, usize, String)>,
    pub slo: Vec<SloLine>,
}

impl Answer {
    pub fn of(sweep: &SweepResult) -> Answer {
        let analysis = sweep.analysis.as_ref();
        let recommended = analysis
            .and_then(|a| a.recommendation.as_ref().map(|r| (a, r)))
            .map(|(a, r)| {
                // With an SLO nobody meets, the pick is only the closest: the legend says so.
                // The ring on its point tells the backend: the label stays short enough for the
                // legend column.
                let what = if a.slo_met == Some(false) {
                    "closest to SLO"
                } else {
                    "recommended"
                };
                let label = format!("{what}: {}", r.throttle);
                (r.backend, r.throttle, label)
            });
        let slo = sweep
            .spec
            .sweep
            .slo
            .iter()
            .flat_map(|s| &s.bounds)
            .filter_map(|b| {
                let (name, quantile) = match b.metric {
                    Metric::P50 => ("p50", 0.5),
                    Metric::P90 => ("p90", 0.9),
                    Metric::P99 => ("p99", 0.99),
                    Metric::P999 => ("p999", 0.999),
                    Metric::Errors => return None,
                };
                Some(SloLine {
                    label: format!("SLO: {name} ≤ {} ms", number(b.limit)),
                    ms: b.limit,
                    quantile,
                })
            })
            .collect();
        Answer { recommended, slo }
    }

    /// The recommended throttle, when it is `backend`'s.
    pub fn throttle_on(&self, backend: BackendKind) -> Option<usize> {
        self.recommended
            .as_ref()
            .filter(|r| r.0 == backend)
            .map(|r| r.1)
    }

    /// A vertical line at the recommended throttle from `y.0` to `y.1`, and a ring on the
    /// recommended backend's point there (`value` reads it, when it was measured).
    pub fn mark_throttle<DB, C>(
        &self,
        chart: &mut ChartContext<'_, DB, C>,
        y: (f64, f64),
        value: impl Fn(BackendKind, usize) -> Option<f64>,
        entries: &mut Vec<LegendEntry>,
    ) -> DrawResult<DB>
    where
        DB: DrawingBackend,
        C: CoordTranslate<From = (f64, f64)>,
    {
        let Some((backend, throttle, label)) = &self.recommended else {
            return Ok(());
        };
        let x = *throttle as f64;
        chart.draw_series(LineSeries::new(
            [(x, y.0), (x, y.1)],
            RECOMMENDED.stroke_width(2),
        ))?;
        if let Some(v) = value(*backend, *throttle) {
            chart.draw_series([Circle::new((x, v), 10, RECOMMENDED.stroke_width(3))])?;
        }
        entries.push(LegendEntry::new(label.clone(), RECOMMENDED, Mark::Line));
        Ok(())
    }

    /// Each SLO bound as a horizontal line from `x.0` to `x.1`.
    pub fn draw_slo<DB, C>(
        &self,
        chart: &mut ChartContext<'_, DB, C>,
        x: (f64, f64),
        entries: &mut Vec<LegendEntry>,
    ) -> DrawResult<DB>
    where
        DB: DrawingBackend,
        C: CoordTranslate<From = (f64, f64)>,
    {
        for line in &self.slo {
            chart.draw_series(DashedLineSeries::new(
                [(x.0, line.ms), (x.1, line.ms)],
                14,
                5,
                SLO.stroke_width(2),
            ))?;
            entries.push(LegendEntry::new(line.label.clone(), SLO, Mark::Dashed));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{Analysis, Recommendation};

    #[test]
    fn the_answer_is_read_from_the_analysis_and_the_slo() {
        let mut sweep = crate::analysis::fixture::sweep(20.0, 1);
        assert_eq!(Answer::of(&sweep), Answer::default());
        sweep.spec.sweep.slo = Some("p99=100ms,errors=1%,p50=20ms".parse().unwrap());
        sweep.analysis = Some(Analysis {
            recommendation: Some(Recommendation {
                backend: BackendKind::Thread,
                throttle: 4,
                summary: String::new(),
            }),
            slo_met: Some(true),
            ..Analysis::default()
        });
        let answer = Answer::of(&sweep);
        assert_eq!(
            answer.recommended,
            Some((BackendKind::Thread, 4, "recommended: 4".into()))
        );
        assert_eq!(answer.throttle_on(BackendKind::Thread), Some(4));
        assert_eq!(answer.throttle_on(BackendKind::Async), None);
        let labels: Vec<&str> = answer.slo.iter().map(|l| l.label.as_str()).collect();
        assert_eq!(labels, ["SLO: p99 ≤ 100 ms", "SLO: p50 ≤ 20.0 ms"]);
        sweep.analysis.as_mut().unwrap().slo_met = Some(false);
        assert!(Answer::of(&sweep)
            .recommended
            .unwrap()
            .2
            .starts_with("closest to SLO"));
    }
}
