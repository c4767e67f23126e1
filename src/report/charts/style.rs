//! The look shared by every chart: one colour per backend (the same in every chart), fonts, the
//! canvas size, the throttle axis, and a legend drawn beside the plot so it never covers data.

use plotters::chart::MeshStyle;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::backend::BackendKind;

/// Pixels of every chart, SVG and PNG alike.
pub const SIZE: (u32, u32) = (960, 540);
/// Width of the legend column to the right of the plot.
pub const LEGEND_WIDTH: u32 = 230;
pub const FONT: &str = "sans-serif";
pub const TITLE_SIZE: u32 = 26;
pub const LABEL_SIZE: u32 = 16;
pub const AXIS_DESC_SIZE: u32 = 18;

/// Colours for backends without a fixed one, picked by name so a backend keeps its colour.
const SPARE: [RGBColor; 4] = [
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// A backend's colour, the same in every chart (matched by name, so new backends fit in).
pub fn backend_color(backend: BackendKind) -> RGBColor {
    match backend.name() {
        "sequential" => RGBColor(100, 100, 100),
        "thread" => RGBColor(31, 119, 180),
        "async" => RGBColor(255, 127, 14),
        "process" => RGBColor(44, 160, 44),
        "process-per-item" => RGBColor(148, 103, 189),
        other => {
            let sum: usize = other.bytes().map(usize::from).sum();
            SPARE[sum % SPARE.len()]
        }
    }
}

/// Failed items: red, a colour no backend uses.
pub const FAILED: RGBColor = RGBColor(214, 39, 40);
/// Timed-out items.
pub const TIMED_OUT: RGBColor = RGBColor(20, 20, 20);
/// The ideal-scaling reference line.
pub const IDEAL: RGBColor = RGBColor(150, 150, 150);

/// `color` blended towards white: `strength` 1 is the colour itself, 0 is white.
pub fn shade(color: RGBColor, strength: f64) -> RGBColor {
    let s = strength.clamp(0.0, 1.0);
    let mix = |c: u8| (f64::from(c) * s + 255.0 * (1.0 - s)).round() as u8;
    RGBColor(mix(color.0), mix(color.1), mix(color.2))
}

/// Step `t` (0…1) of a light-to-dark ramp around `color`: pale at 0, the colour itself at 0.5,
/// darkened towards black at 1. Lines of one backend at several throttles stay its colour yet
/// remain distinguishable.
pub fn ramp(color: RGBColor, t: f64) -> RGBColor {
    let t = t.clamp(0.0, 1.0);
    if t <= 0.5 {
        shade(color, 0.25 + 1.5 * t)
    } else {
        let k = 1.0 - (t - 0.5) * 1.1;
        let dark = |c: u8| (f64::from(c) * k).round() as u8;
        RGBColor(dark(color.0), dark(color.1), dark(color.2))
    }
}

/// The x range of a throttle axis: log base 2 with a little room either side, so 1…64 reads as
/// evenly spaced doublings and single points do not sit on the frame.
pub fn throttle_range(throttles: impl IntoIterator<Item = usize>) -> (f64, f64) {
    let (lo, hi) = throttles
        .into_iter()
        .fold((usize::MAX, 1usize), |(lo, hi), t| (lo.min(t), hi.max(t)));
    let lo = if lo == usize::MAX { 1 } else { lo.max(1) };
    (lo as f64 / 1.25, hi.max(lo) as f64 * 1.25)
}

/// Where the throttle axis has ticks: at the measured throttles when there are few enough to
/// read, otherwise at the powers of two.
pub fn throttle_ticks(throttles: impl IntoIterator<Item = usize>) -> Vec<f64> {
    let mut list: Vec<usize> = throttles.into_iter().collect();
    list.sort_unstable();
    list.dedup();
    // Neighbours closer than a fifth of a doubling would print over each other.
    let crowded = list
        .windows(2)
        .any(|w| (w[1] as f64 / w[0] as f64).log2() < 0.2);
    if list.len() <= 12 && !crowded {
        return list.into_iter().map(|t| t as f64).collect();
    }
    let hi = list.last().copied().unwrap_or(1);
    std::iter::successors(Some(1usize), |t| t.checked_mul(2))
        .take_while(|t| *t <= hi)
        .filter(|t| *t >= list.first().copied().unwrap_or(1))
        .map(|t| t as f64)
        .collect()
}

/// Ticks for a log-scale value axis: 1-2-5 steps per decade, thinned to powers of ten when the
/// range spans many decades, more steps when it spans less than one.
pub fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let pick = |steps: &[f64]| -> Vec<f64> {
        let first = lo.log10().floor() as i32;
        let last = hi.log10().ceil() as i32;
        (first..=last)
            .flat_map(|k| steps.iter().map(move |m| m * 10f64.powi(k)))
            .filter(|v| *v >= lo && *v <= hi)
            .collect()
    };
    let ticks = pick(&[1.0, 2.0, 5.0]);
    if ticks.len() > 12 {
        pick(&[1.0])
    } else if ticks.len() < 4 {
        pick(&[1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0])
    } else {
        ticks
    }
}

pub fn throttle_label(v: &f64) -> String {
    format!("{}", v.round() as u64)
}

/// A number for an axis label: no scientific notation, no trailing zeros.
pub fn value_label(v: &f64) -> String {
    if v.abs() >= 1000.0 {
        return format!("{v:.0}");
    }
    let text = format!("{v:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

/// An upper bound with headroom, never zero (an empty range cannot be drawn).
pub fn top(max: f64) -> f64 {
    if max.is_finite() && max > 0.0 {
        max * 1.12
    } else {
        1.0
    }
}

/// How a legend entry's sample is drawn.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mark {
    Line,
    Dashed,
    Dotted,
    Point,
    /// An open circle: a point measured but left out of a fit.
    Hollow,
    Bar,
}

#[derive(Debug, Clone)]
pub struct LegendEntry {
    pub label: String,
    pub color: RGBColor,
    pub mark: Mark,
}

impl LegendEntry {
    pub fn new(label: impl Into<String>, color: RGBColor, mark: Mark) -> Self {
        LegendEntry {
            label: label.into(),
            color,
            mark,
        }
    }
}

/// Draws the legend in its own column (see `split`), top-aligned with the plot.
pub fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[LegendEntry],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let text = TextStyle::from((FONT, LABEL_SIZE).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (i, entry) in entries.iter().enumerate() {
        let y = 30 + i as i32 * 26;
        let (x0, x1) = (8, 40);
        let line = entry.color.stroke_width(3);
        match entry.mark {
            Mark::Line => area.draw(&PathElement::new(vec![(x0, y), (x1, y)], line))?,
            Mark::Dashed => {
                for (a, b) in [(x0, x0 + 9), (x0 + 13, x0 + 22), (x0 + 26, x1)] {
                    area.draw(&PathElement::new(vec![(a, y), (b, y)], line))?;
                }
            }
            Mark::Dotted => {
                for x in (x0..=x1).step_by(8) {
                    area.draw(&Circle::new((x, y), 2, entry.color.filled()))?;
                }
            }
            Mark::Point => area.draw(&Circle::new(((x0 + x1) / 2, y), 5, entry.color.filled()))?,
            Mark::Hollow => area.draw(&Circle::new(
                ((x0 + x1) / 2, y),
                6,
                entry.color.stroke_width(2),
            ))?,
            Mark::Bar => area.draw(&Rectangle::new(
                [(x0, y - 7), (x1, y + 7)],
                entry.color.filled(),
            ))?,
        }
        area.draw(&Text::new(entry.label.clone(), (x1 + 8, y), text.clone()))?;
    }
    Ok(())
}

/// The mesh every chart against the throttle shares: throttle labels on x, values on y, the
/// house fonts, and no light grid lines.
pub fn throttle_mesh<'m, 'a, 'b, X, Y, DB>(
    mesh: &'m mut MeshStyle<'a, 'b, X, Y, DB>,
    x_desc: &str,
    y_desc: &str,
) -> &'m mut MeshStyle<'a, 'b, X, Y, DB>
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
    DB: DrawingBackend,
{
    mesh.x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&throttle_label)
        .y_label_formatter(&value_label)
        .label_style((FONT, LABEL_SIZE))
        .axis_desc_style((FONT, AXIS_DESC_SIZE))
        .light_line_style(WHITE.mix(0.0))
}

/// Fills the canvas, writes the title, and splits what is left into the plot and the legend.
#[allow(clippy::type_complexity)]
pub fn frame<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
) -> Result<(DrawingArea<DB, Shift>, DrawingArea<DB, Shift>), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    let body = root.titled(title, (FONT, TITLE_SIZE).into_font().style(FontStyle::Bold))?;
    let width = body.dim_in_pixel().0;
    Ok(body.split_horizontally(width.saturating_sub(LEGEND_WIDTH)))
}

/// Draws one polyline `width` pixels wide in `mark`'s line style (a solid line for the others).
pub fn stroked_line<DB: DrawingBackend, C>(
    chart: &mut ChartContext<'_, DB, C>,
    points: Vec<(f64, f64)>,
    color: RGBColor,
    width: u32,
    mark: Mark,
) -> super::DrawResult<DB>
where
    C: plotters::coord::CoordTranslate<From = (f64, f64)>,
{
    let style = color.stroke_width(width);
    match mark {
        Mark::Dashed => {
            chart.draw_series(DashedLineSeries::new(points, 10, 6, style))?;
        }
        Mark::Dotted => {
            chart.draw_series(DottedLineSeries::new(points, 0, 7, move |c| {
                Circle::new(c, 2, color.filled())
            }))?;
        }
        _ => {
            chart.draw_series(LineSeries::new(points, style))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backends_keep_distinct_colours() {
        let colors: Vec<RGBColor> = BackendKind::ALL.iter().map(|b| backend_color(*b)).collect();
        for (i, a) in colors.iter().enumerate() {
            assert_ne!(*a, FAILED);
            for b in &colors[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn throttle_axis_pads_and_counts_doublings() {
        let range = throttle_range([1, 2, 4, 128]);
        assert!(range.0 < 1.0 && range.1 > 128.0);
        assert_eq!(
            throttle_ticks([1, 5, 10, 20, 50]),
            vec![1.0, 5.0, 10.0, 20.0, 50.0]
        );
        assert_eq!(throttle_ticks(1..=20).len(), 5);
        assert_eq!(
            log_ticks(3.0, 45.0),
            vec![3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 40.0]
        );
        assert_eq!(log_ticks(0.5, 2000.0).len(), 12);
        assert_eq!(log_ticks(1.0, 1e9).len(), 10);
        assert_eq!(value_label(&0.600000001), "0.6");
        assert_eq!(value_label(&12000.0), "12000");
        assert_eq!(throttle_range(Vec::new()), (0.8, 1.25));
        assert_eq!(shade(RGBColor(0, 0, 0), 0.0), RGBColor(255, 255, 255));
    }
}
