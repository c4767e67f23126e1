//! Charts of a sweep, each a pure function from results to an SVG and a PNG: throughput, speedup,
//! latency, memory, the latency percentile distribution of every backend and a per-item
//! timeline; the recommended throttle and the SLO are drawn on the charts they answer. Text is drawn with the embedded DejaVu Sans, so PNGs render on a machine without
//! any font configuration.

pub mod answer;
pub mod distribution;
pub mod history;
pub mod latency;
pub mod limiters;
pub mod memory;
pub mod open_loop;
pub mod scalability;
pub mod speedup;
pub mod style;
pub mod throughput;
pub mod timeline;

use std::sync::OnceLock;

use anyhow::anyhow;
use image::ImageEncoder;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::backend::BackendKind;
use crate::results::{Summary, SweepResult};

/// One rendered chart.
#[derive(Debug, Clone)]
pub struct ChartFile {
    /// File name without extension, e.g. `throughput` or `distribution-thread`.
    pub stem: String,
    pub title: String,
    pub svg: String,
    pub png: Vec<u8>,
}

pub type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A chart that can be drawn on any plotters backend.
pub trait Chart {
    fn stem(&self) -> String;
    fn title(&self) -> String;
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32) {
        style::SIZE
    }
}

/// Registers the embedded font with plotters, once per process.
pub fn register_fonts() -> anyhow::Result<()> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        register_font(style::FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
            && register_font(style::FONT, FontStyle::Bold, dejavu::sans::bold()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(anyhow!("the embedded chart font could not be loaded"))
    }
}

/// Draws `chart` twice: as SVG text and as a PNG.
pub fn render<C: Chart>(chart: &C) -> anyhow::Result<ChartFile> {
    register_fonts()?;
    let stem = chart.stem();
    let (w, h) = chart.size();
    let fail = |e: &dyn std::fmt::Display| anyhow!("cannot draw the {stem} chart: {e}");
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        chart.draw(&root).map_err(|e| fail(&e))?;
        root.present().map_err(|e| fail(&e))?;
    }
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        chart.draw(&root).map_err(|e| fail(&e))?;
        root.present().map_err(|e| fail(&e))?;
    }
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new_with_quality(
        &mut png,
        image::codecs::png::CompressionType::Best,
        image::codecs::png::FilterType::Adaptive,
    )
    .write_image(&rgb, w, h, image::ColorType::Rgb8)
    .map_err(|e| fail(&e))?;
    Ok(ChartFile {
        stem,
        title: chart.title(),
        svg,
        png,
    })
}

/// The measured series the throttle charts share: repetitions folded into medians, and the
/// answer the analysis drew from them.
pub struct Series {
    /// The sequential baseline, when it was measured.
    pub baseline: Option<Summary>,
    /// Every other backend, in sweep order, with its points by increasing throttle.
    pub backends: Vec<(BackendKind, Vec<Summary>)>,
    pub answer: answer::Answer,
}

impl Series {
    pub fn of(sweep: &SweepResult) -> Series {
        let mut baseline = None;
        let mut backends: Vec<(BackendKind, Vec<Summary>)> = Vec::new();
        for s in sweep.summaries() {
            if s.backend == BackendKind::Sequential {
                baseline = Some(s);
            } else if let Some((_, list)) = backends.iter_mut().find(|(b, _)| *b == s.backend) {
                list.push(s);
            } else {
                backends.push((s.backend, vec![s]));
            }
        }
        Series {
            baseline,
            backends,
            answer: answer::Answer::of(sweep),
        }
    }

    /// One backend's point at one throttle.
    pub fn at(&self, backend: BackendKind, throttle: usize) -> Option<&Summary> {
        self.backends
            .iter()
            .find(|(b, _)| *b == backend)
            .and_then(|(_, list)| list.iter().find(|s| s.throttle == throttle))
    }

    /// Every summary, baseline included.
    pub fn all(&self) -> impl Iterator<Item = &Summary> {
        self.baseline
            .iter()
            .chain(self.backends.iter().flat_map(|(_, list)| list.iter()))
    }

    pub fn throttles(&self) -> impl Iterator<Item = usize> + '_ {
        self.all().map(|s| s.throttle)
    }

    pub fn max_of(&self, f: impl Fn(&Summary) -> f64) -> f64 {
        self.all().map(f).fold(0.0, f64::max)
    }
}

/// Every chart of a sweep; the timeline only when a traced point is given.
pub fn render_all(
    sweep: &SweepResult,
    timeline: Option<&timeline::TimelineData>,
) -> anyhow::Result<Vec<ChartFile>> {
    let series = Series::of(sweep);
    let mut files = vec![
        render(&throughput::Throughput(&series))?,
        render(&speedup::Speedup::new(sweep, &series))?,
        render(&latency::Latency(&series))?,
        render(&memory::Memory(&series))?,
    ];
    for chart in distribution::Distribution::all(sweep) {
        files.push(render(&chart)?);
    }
    if let Some(chart) = open_loop::OpenLoop::of(sweep) {
        files.push(render(&chart)?);
    }
    if let Some(chart) = limiters::Limiters::of(sweep) {
        files.push(render(&chart)?);
    }
    if let Some(data) = timeline {
        files.push(render(&timeline::Timeline(data))?);
    }
    Ok(files)
}
