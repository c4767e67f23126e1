//! Each limiter's limit over time (a step line per limiter), one panel per backend, with what
//! the sweep found on that backend drawn across it: the swept knee (dashed) and the USL's N*
//! (dotted). Where a limit settles against those lines is the chart's answer. Panels rather
//! than one plot: three backends' runs of three limiters are nine lines that cross each other.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{self, LegendEntry, Mark};
use super::{Chart, DrawResult};
use crate::backend::limiter::{Algorithm, LimiterSpec};
use crate::backend::BackendKind;
use crate::results::findings::BackendAnalysis;
use crate::results::SweepResult;

pub struct Limiters<'a>(pub &'a SweepResult);

/// One hue per algorithm; the panels tell the backends apart.
fn algorithm_color(algorithm: Algorithm) -> RGBColor {
    match algorithm {
        Algorithm::Aimd => RGBColor(214, 39, 40),
        Algorithm::Vegas => RGBColor(44, 160, 44),
        Algorithm::Gradient2 => RGBColor(148, 103, 189),
        Algorithm::Envoy => RGBColor(255, 127, 14),
        Algorithm::Vector => RGBColor(31, 119, 180),
    }
}

/// The limiters of `sweep` in the order they first ran, each with its colour: its algorithm's
/// hue, and for the same algorithm with other parameters (`vegas,vegas:alpha=2`) that hue darker,
/// then lighter, then darker still.
fn colors(sweep: &SweepResult) -> Vec<(&LimiterSpec, RGBColor)> {
    let mut out: Vec<(&LimiterSpec, RGBColor)> = Vec::new();
    for track in sweep.limited.iter().filter_map(|p| p.limiter.as_ref()) {
        if out.iter().any(|(l, _)| **l == track.limiter) {
            continue;
        }
        let earlier = out
            .iter()
            .filter(|(l, _)| l.algorithm == track.limiter.algorithm)
            .count();
        let color = shade(algorithm_color(track.limiter.algorithm), earlier);
        out.push((&track.limiter, color));
    }
    out
}

/// The `k`-th variant of `c`: `c` itself, then mixed toward black and white by turns, a third
/// further each pair (at most 80 %).
fn shade(c: RGBColor, k: usize) -> RGBColor {
    if k == 0 {
        return c;
    }
    let amount = (0.35 * k.div_ceil(2) as f64).min(0.8);
    let toward = if k % 2 == 1 { 0.0 } else { 255.0 };
    let mix = |v: u8| (v as f64 + (toward - v as f64) * amount).round() as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
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

    fn size(&self) -> (u32, u32) {
        let (w, h) = style::SIZE;
        let panels = self.backends().len().max(1) as u32;
        // One panel keeps the common size; each further one adds room for a readable plot.
        (w, h + (panels - 1) * 260)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let sweep = self.0;
        let (plot, legend) = style::frame(root, &self.title())?;
        let backends = self.backends();
        let t_max = sweep
            .limited
            .iter()
            .filter(|p| p.limiter.is_some())
            .map(|p| p.wall_s)
            .fold(0.0f64, f64::max)
            .max(0.001);
        let panels = plot.split_evenly((backends.len().max(1), 1));
        // A reference line is in the legend only where some panel draws it: a sweep too short
        // for the USL fit has no N*.
        let references: Vec<_> = backends.iter().filter_map(|b| self.reference(*b)).collect();
        let mut entries = Vec::new();
        if references.iter().any(|r| r.knee.is_some()) {
            entries.push(LegendEntry::new("swept knee", GREY_LINE, Mark::Dashed));
        }
        if references.iter().any(|r| optimum(r).is_some()) {
            entries.push(LegendEntry::new("USL N*", GREY_LINE, Mark::Dotted));
        }
        for (limiter, color) in colors(sweep) {
            entries.push(LegendEntry::new(limiter.name(), color, Mark::Line));
        }
        for (area, backend) in panels.iter().zip(&backends) {
            self.draw_panel(area, *backend, t_max)?;
        }
        style::draw_legend(&legend, &entries)
    }
}

/// The caption's font size: the usual one, smaller when five limiters' settled limits would not
/// fit across the panel.
fn fitting_size<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, caption: &str) -> u32 {
    let width = area.dim_in_pixel().0.saturating_sub(24);
    let mut size = style::LABEL_SIZE + 2;
    while size > 10 {
        let fits = area
            .estimate_text_size(caption, &TextStyle::from((style::FONT, size).into_font()))
            .is_ok_and(|(w, _)| w <= width);
        if fits {
            break;
        }
        size -= 1;
    }
    size
}

/// The USL's N* on a backend, where its fit gave one.
fn optimum(b: &BackendAnalysis) -> Option<usize> {
    b.scaling.as_ref().and_then(|s| s.optimum)
}

/// The reference lines' colour: the sweep's findings, apart from every limiter's hue.
const GREY_LINE: RGBColor = RGBColor(90, 90, 90);

impl Limiters<'_> {
    /// The backends that ran a limiter, in the order their points ran.
    fn backends(&self) -> Vec<BackendKind> {
        let mut kinds: Vec<BackendKind> = Vec::new();
        for p in self.0.limited.iter().filter(|p| p.limiter.is_some()) {
            if !kinds.contains(&p.backend) {
                kinds.push(p.backend);
            }
        }
        kinds
    }

    /// What the sweep found on `backend`, if it was analysed.
    fn reference(&self, backend: BackendKind) -> Option<&BackendAnalysis> {
        self.0
            .analysis
            .iter()
            .flat_map(|a| a.backends.iter())
            .find(|b| b.backend == backend)
    }

    /// One backend's limiters, its knee and its N*; the caption says which backend and where
    /// each limiter settled.
    fn draw_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        backend: BackendKind,
        t_max: f64,
    ) -> DrawResult<DB> {
        let sweep = self.0;
        let colors = colors(sweep);
        let tracks: Vec<_> = sweep
            .limited
            .iter()
            .filter(|p| p.backend == backend)
            .filter_map(|p| p.limiter.as_ref().map(|t| (p, t)))
            .collect();
        let reference = self.reference(backend);
        let knee = reference.and_then(|b| b.knee);
        let optimum = reference.and_then(optimum);
        let highest = tracks
            .iter()
            .flat_map(|(_, t)| t.limit_over_time.iter().map(|s| s.limit))
            .chain(knee)
            .chain(optimum)
            .max()
            .unwrap_or(1);
        let mut caption = format!("{backend}:");
        for (p, track) in &tracks {
            caption.push_str(&format!(" {} → {},", track.limiter, p.throttle));
        }
        let mut found = Vec::new();
        if let Some(knee) = knee {
            found.push(format!("knee {knee}"));
        }
        if let Some(n) = optimum {
            found.push(format!("N* {n}"));
        }
        let caption = match found.is_empty() {
            true => caption.trim_end_matches(',').to_string(),
            false => format!("{caption} swept {}", found.join(", ")),
        };
        let caption_size = fitting_size(area, &caption);
        let mut chart = ChartBuilder::on(area)
            .margin(12)
            .caption(caption, (style::FONT, caption_size))
            .x_label_area_size(45)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..t_max, 0.0..style::top(highest as f64))?;
        chart
            .configure_mesh()
            .x_desc("seconds into the point")
            .y_desc("limit (in flight)")
            .x_label_formatter(&style::value_label)
            .y_label_formatter(&style::value_label)
            .label_style((style::FONT, style::LABEL_SIZE))
            .axis_desc_style((style::FONT, style::AXIS_DESC_SIZE))
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        if let Some(knee) = knee {
            let y = knee as f64;
            let dashes = (0..40).map(|i| i as f64 * t_max / 40.0);
            chart.draw_series(dashes.map(|x| {
                PathElement::new(
                    vec![(x, y), ((x + t_max / 80.0).min(t_max), y)],
                    GREY_LINE.stroke_width(2),
                )
            }))?;
        }
        if let Some(n) = optimum {
            let y = n as f64;
            let dots = (0..=80).map(|i| i as f64 * t_max / 80.0);
            chart.draw_series(dots.map(|x| Circle::new((x, y), 2, GREY_LINE.filled())))?;
        }
        for (p, track) in &tracks {
            let mut path = Vec::new();
            for (i, step) in track.limit_over_time.iter().enumerate() {
                let end = track
                    .limit_over_time
                    .get(i + 1)
                    .map_or(p.wall_s, |next| next.t_s);
                path.push((step.t_s, step.limit as f64));
                path.push((end, step.limit as f64));
            }
            let color = colors
                .iter()
                .find(|(l, _)| **l == track.limiter)
                .map_or(GREY_LINE, |(_, c)| *c);
            chart.draw_series(std::iter::once(PathElement::new(
                path,
                color.stroke_width(2),
            )))?;
        }
        Ok(())
    }
}
