//! `throttlebench fit FILE`: the Universal Scalability Law fit of throughput against load from a
//! file — a plain CSV, or a run's results — with 95% confidence intervals, on the console or as
//! JSON, and with `--out DIR` a chart of the fitted curve.

mod input;

use std::fmt::Write;

use anyhow::Context;
use serde::Serialize;

use super::cli::{FitArgs, FitFormat, UslArgs};
use super::Exit;
use crate::analysis::scaling::{self, FitOptions, Scaling, MIN_POINTS};
use crate::analysis::UslFit;
use crate::error::SpecError;
use crate::report::charts::{self, scalability, style};
use crate::spec::SweepSettings;

/// `--usl-weights` and `--usl-keep-all` on top of a spec's `[sweep]` settings.
pub fn apply_usl_flags(flags: &UslArgs, sweep: &mut SweepSettings) {
    if let Some(weights) = flags.usl_weights {
        sweep.usl_weights = weights;
    }
    sweep.usl_keep_all |= flags.usl_keep_all;
}

/// Everything `fit` found. `--format json` prints one fit as an object of its own (with the
/// file and columns beside its keys), several (a run's backends) under `fits`.
#[derive(Debug, Serialize)]
pub struct FitReport {
    pub file: String,
    /// The columns the load and the throughput came from.
    pub load: String,
    pub throughput: String,
    pub fits: Vec<SeriesFit>,
    /// Series that could not be fitted, and why.
    pub notes: Vec<String>,
}

/// One fitted curve, in the keys scripts read: the coefficients, N*, the predicted peak, the
/// 95 % intervals (`ci`) and the points left out (`dropped`).
#[derive(Debug, Serialize)]
pub struct SeriesFit {
    pub name: String,
    pub sigma: f64,
    pub kappa: f64,
    pub lambda: f64,
    /// √((1−σ)/κ), unrounded; null when κ = 0 (no peak).
    pub n_star: Option<f64>,
    /// The whole load the model predicts highest near N*; null beyond reach.
    pub optimum: Option<usize>,
    /// Predicted throughput at `optimum`.
    pub peak_per_s: Option<f64>,
    /// λ/σ, the level approached when there is no peak within reach.
    pub ceiling_per_s: Option<f64>,
    pub residual_pct: f64,
    pub weights: scaling::FitWeights,
    pub ci: Option<Ci>,
    pub dropped: Vec<scaling::LeftOut>,
    /// Every (load, throughput) point read, those left out of the fit included.
    pub points: Vec<[f64; 2]>,
    #[serde(skip)]
    pub usl: UslFit,
    #[serde(skip)]
    pub scaling: Scaling,
}

/// 95 % confidence intervals, `[low, high]`, from the Jacobian at the solution.
#[derive(Debug, Serialize)]
pub struct Ci {
    pub level: f64,
    pub df: usize,
    pub sigma: [f64; 2],
    pub kappa: [f64; 2],
    pub lambda: [f64; 2],
    pub n_star: Option<[f64; 2]>,
}

impl SeriesFit {
    fn new(name: String, points: &[(f64, f64)], usl: UslFit, scaling: Scaling) -> SeriesFit {
        let pair = |e: scaling::Estimate| [e.lo, e.hi];
        SeriesFit {
            name,
            sigma: usl.sigma,
            kappa: usl.kappa,
            lambda: usl.lambda,
            n_star: (usl.kappa > 0.0).then(|| ((1.0 - usl.sigma).max(0.0) / usl.kappa).sqrt()),
            optimum: scaling.optimum,
            peak_per_s: scaling.predicted_peak_per_s,
            ceiling_per_s: scaling.ceiling_per_s,
            residual_pct: scaling.residual_pct,
            weights: scaling.weights,
            ci: scaling.intervals.map(|c| Ci {
                level: c.level,
                df: c.df,
                sigma: pair(c.sigma),
                kappa: pair(c.kappa),
                lambda: pair(c.lambda),
                n_star: c.n_star.map(pair),
            }),
            dropped: scaling.left_out.clone(),
            points: points.iter().map(|&(n, x)| [n, x]).collect(),
            usl,
            scaling,
        }
    }
}

impl FitReport {
    /// The JSON `--format json` prints and `fit.json` holds.
    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        let mut value = serde_json::to_value(self)?;
        if self.fits.len() == 1 {
            if let Some(map) = value.as_object_mut() {
                let fits = map.remove("fits");
                if let Some(serde_json::Value::Object(fit)) =
                    fits.and_then(|f| f.as_array().and_then(|a| a.first().cloned()))
                {
                    map.extend(fit);
                }
            }
        }
        Ok(value)
    }
}

pub fn run(args: FitArgs) -> anyhow::Result<Exit> {
    let input = input::read(&args)?;
    let options = FitOptions {
        weights: args.usl.usl_weights.unwrap_or_default(),
        keep_all: args.usl.usl_keep_all,
    };
    let file = args.file.display().to_string();
    let mut report = FitReport {
        file: file.clone(),
        load: input.load.clone(),
        throughput: input.throughput.clone(),
        fits: Vec::new(),
        notes: Vec::new(),
    };
    let mut colors = Vec::new();
    for series in &input.series {
        let loads = scaling::distinct_loads(&series.points);
        let fitted = (loads >= MIN_POINTS)
            .then(|| scaling::analyse(&series.points, options))
            .flatten();
        match fitted {
            Some((usl, scaling)) => {
                // A plain CSV's curve is drawn in the colour of the first backend.
                colors.push(series.backend.map_or(
                    style::backend_color(crate::backend::BackendKind::Thread),
                    style::backend_color,
                ));
                report.fits.push(SeriesFit::new(
                    series.name.clone(),
                    &series.points,
                    usl,
                    scaling,
                ));
            }
            None if loads < MIN_POINTS => report.notes.push(format!(
                "{}: {loads} distinct loads; the USL fit needs at least {MIN_POINTS}",
                series.name
            )),
            None => report
                .notes
                .push(format!("{}: the USL fit found no solution", series.name)),
        }
    }
    if report.fits.is_empty() {
        let why = report.notes.join("; ");
        return Err(SpecError::invalid(format!("{file}: nothing to fit: {why}")).into());
    }
    if let Some(dir) = &args.out {
        write_folder(dir, &report, &colors)?;
    }
    match args.format {
        FitFormat::Json => println!("{}", serde_json::to_string_pretty(&report.json()?)?),
        FitFormat::Console => print!("{}", console(&report)),
    }
    Ok(Exit::Ok)
}

/// `scalability.svg`, `scalability.png` and `fit.json` in `dir`.
fn write_folder(
    dir: &std::path::Path,
    report: &FitReport,
    colors: &[plotters::style::RGBColor],
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let curves: Vec<scalability::Curve> = report
        .fits
        .iter()
        .zip(colors)
        .map(|(f, &color)| {
            let left = |p: &[f64; 2]| {
                f.scaling
                    .left_out
                    .iter()
                    .any(|l| (l.throttle, l.throughput_per_s) == (p[0], p[1]))
            };
            scalability::Curve {
                name: f.name.clone(),
                color,
                kept: f
                    .points
                    .iter()
                    .filter(|p| !left(p))
                    .map(|p| (p[0], p[1]))
                    .collect(),
                left_out: f
                    .points
                    .iter()
                    .filter(|p| left(p))
                    .map(|p| (p[0], p[1]))
                    .collect(),
                fit: f.usl,
                n_star: f
                    .scaling
                    .optimum
                    .and(f.scaling.intervals.and_then(|c| c.n_star))
                    .map(|n| (n.lo, n.hi)),
            }
        })
        .collect();
    let chart = charts::render(&scalability::Scalability {
        curves: &curves,
        load: report.load.clone(),
        throughput: report.throughput.clone(),
    })?;
    crate::report::write_atomic(&dir.join("scalability.svg"), chart.svg.as_bytes())?;
    crate::report::write_atomic(&dir.join("scalability.png"), &chart.png)?;
    let mut json = serde_json::to_vec_pretty(&report.json()?)?;
    json.push(b'\n');
    crate::report::write_atomic(&dir.join("fit.json"), &json)?;
    Ok(())
}

/// Four significant figures, in scientific notation only for very small or large values.
fn sig(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let magnitude = x.abs().log10().floor() as i32;
    if !(-3..6).contains(&magnitude) {
        format!("{x:.3e}")
    } else {
        format!("{x:.*}", (3 - magnitude).max(0) as usize)
    }
}

/// A load as written: whole numbers without decimals.
fn load(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        sig(x)
    }
}

/// The console text: per series, each coefficient with its interval, then N* and the peak.
pub fn console(report: &FitReport) -> String {
    let mut out = String::new();
    for f in &report.fits {
        let s = &f.scaling;
        let loads: Vec<f64> = f.points.iter().map(|p| p[0]).collect();
        let lo = loads.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = loads.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let _ = writeln!(
            out,
            "{}: {} against {}, {} points ({} loads fitted, {} to {}); USL fit by {}",
            f.name,
            report.throughput,
            report.load,
            f.points.len(),
            s.points,
            load(lo),
            load(hi),
            s.weights.describe()
        );
        let row = |out: &mut String,
                   name: &str,
                   value: f64,
                   ci: Option<scaling::Estimate>,
                   what: String| {
            let interval = ci.map_or("—".to_string(), |e| {
                format!("[{}, {}]", sig(e.lo), sig(e.hi))
            });
            let _ = writeln!(out, "  {name:<3}= {:<11} {interval:<25} {what}", sig(value));
        };
        let ci = s.intervals;
        if let Some(c) = ci {
            let _ = writeln!(
                out,
                "  95% confidence intervals (t with {} degrees of freedom):",
                c.df
            );
        }
        row(
            &mut out,
            "σ",
            f.usl.sigma,
            ci.map(|c| c.sigma),
            "contention".into(),
        );
        row(
            &mut out,
            "κ",
            f.usl.kappa,
            ci.map(|c| c.kappa),
            "coherency".into(),
        );
        row(
            &mut out,
            "λ",
            f.usl.lambda,
            ci.map(|c| c.lambda),
            "throughput at load 1".into(),
        );
        match (ci.and_then(|c| c.n_star), s.optimum, s.ceiling_per_s) {
            (Some(n), Some(opt), _) => row(
                &mut out,
                "N*",
                n.value,
                Some(n),
                format!(
                    "peak: {} at load {opt}",
                    sig(s.predicted_peak_per_s.unwrap_or(0.0))
                ),
            ),
            (Some(n), None, _) => row(
                &mut out,
                "N*",
                n.value,
                Some(n),
                "beyond 4× the highest load: no peak within reach".into(),
            ),
            (None, _, Some(c)) => {
                let _ = writeln!(
                    out,
                    "  no peak (κ = 0): throughput levels off at λ/σ = {}",
                    sig(c)
                );
            }
            (None, _, None) => {
                let _ = writeln!(out, "  no peak (κ = 0)");
            }
        }
        if let Some(n) = s.unplaced_peak(lo, hi) {
            let _ = writeln!(out, "  the fit cannot place the peak: N*'s interval ({} to {}) is wider than the loads measured", sig(n.lo), sig(n.hi));
        }
        let _ = writeln!(out, "  residual: RMS {:.1}% of throughput", s.residual_pct);
        for left in &s.left_out {
            let _ = writeln!(
                out,
                "  left out: load {} ({}): {}",
                load(left.throttle),
                sig(left.throughput_per_s),
                left.reason
            );
        }
    }
    for note in &report.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}
