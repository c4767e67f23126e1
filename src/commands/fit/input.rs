//! What `fit` reads: (load, throughput) series from a plain CSV (columns chosen by name or
//! number), or one series per backend from a run's `results.json` / `results.csv` (repetitions
//! folded into medians, the sequential baseline as load 1, as the run's own analysis does).
//! Every problem is a one-line `SpecError` naming the file, and the line where there is one.

use std::collections::BTreeMap;
use std::path::Path;

use crate::analysis::{self, recommend};
use crate::backend::BackendKind;
use crate::commands::cli::FitArgs;
use crate::error::SpecError;
use crate::results::median;

/// One curve to fit.
#[derive(Debug, Clone)]
pub struct Series {
    /// The backend's name for a run, the file's name (without extension) for a plain CSV.
    pub name: String,
    pub backend: Option<BackendKind>,
    pub points: Vec<(f64, f64)>,
}

#[derive(Debug, Clone)]
pub struct Input {
    /// What the load and the throughput were read from (column names, or the run's).
    pub load: String,
    pub throughput: String,
    pub series: Vec<Series>,
}

const RUN_COLUMNS: [&str; 3] = ["backend", "throttle", "throughput_per_s"];

/// The error budget of the run a `results.csv` belongs to, percent: its SLO's, read from the
/// `results.json` beside it, else the default (a CSV carries no SLO).
fn csv_error_budget_pct(path: &Path) -> f64 {
    let json = path.with_file_name("results.json");
    let slo = json
        .exists()
        .then(|| crate::report::json::load(&json).ok())
        .flatten()
        .and_then(|sweep| sweep.spec.sweep.slo);
    analysis::error_budget(slo.as_ref()) * 100.0
}

pub fn read(args: &FitArgs) -> Result<Input, SpecError> {
    let path = &args.file;
    let run_results = path.is_dir() || path.extension().is_some_and(|e| e == "json");
    if run_results {
        if args.load.is_some() || args.throughput.is_some() {
            return Err(SpecError::invalid(format!(
                "--n and --x choose CSV columns; {} is a run's results",
                path.display()
            )));
        }
        let sweep = crate::report::json::load(path)
            .map_err(|e| SpecError::invalid(format!("{e:#}").replace('\n', " ")))?;
        // As `run` fits: goodput of the throttles within the run's error budget.
        let budget = analysis::error_budget(sweep.spec.sweep.slo.as_ref());
        let mut over_budget = Vec::new();
        let series = sweep
            .spec
            .sweep
            .backends
            .iter()
            .map(|&b| {
                let all = analysis::measured(&sweep, b);
                let rows: Vec<_> = all
                    .iter()
                    .filter(|m| m.within_budget(budget))
                    .copied()
                    .collect();
                if rows.is_empty() && !all.is_empty() {
                    over_budget.push(b.name());
                }
                (b, rows)
            })
            .filter(|(_, rows)| !rows.is_empty())
            .map(|(b, rows)| Series {
                name: b.name().to_string(),
                backend: Some(b),
                points: recommend::fit_points(&sweep, &rows, budget),
            })
            .collect::<Vec<_>>();
        if series.is_empty() && !over_budget.is_empty() {
            return Err(SpecError::invalid(format!(
                "{}: every throttle of {} failed more than {}% of its items (the run's error \
                 budget): no work to fit",
                path.display(),
                over_budget.join(", "),
                budget * 100.0
            )));
        }
        return select(path, run_input(series), args.backend.as_deref());
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| SpecError::invalid(format!("cannot read {}: {e}", path.display())))?;
    let mut reader = ::csv::ReaderBuilder::new()
        .trim(::csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(path, &e))?
        .iter()
        .map(str::to_string)
        .collect();
    let records = reader
        .records()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| csv_error(path, &e))?;
    // A first line of numbers is data, not a header: reading it as one would lose a point and
    // name columns "1" and "64.9".
    if !headers.is_empty() && headers.iter().all(|h| h.parse::<f64>().is_ok()) {
        return Err(SpecError::invalid(format!(
            "{} has no header row (its first line, {}, is numbers): add one, e.g. load,throughput",
            path.display(),
            headers.join(",")
        )));
    }
    if records.is_empty() {
        return Err(SpecError::invalid(format!(
            "{} holds no data rows under its header",
            path.display()
        )));
    }
    let is_run = RUN_COLUMNS.iter().all(|c| headers.iter().any(|h| h == c));
    if is_run && args.load.is_none() && args.throughput.is_none() {
        let series = run_csv(path, &headers, &records)?;
        return select(path, run_input(series), args.backend.as_deref());
    }
    if args.backend.is_some() {
        return Err(SpecError::invalid(format!(
            "--backend picks a backend of a run's results; {} is a plain CSV",
            path.display()
        )));
    }
    // Without a choice: the first two columns that hold a number in the first data row (a
    // later cell that is not one is then named with its line).
    let numeric: Vec<usize> = (0..headers.len())
        .filter(|&i| records[0].get(i).is_some_and(|t| t.parse::<f64>().is_ok()))
        .collect();
    let load = match args.load.as_deref() {
        Some(wanted) => column(path, &headers, wanted, "--n")?,
        None => *numeric
            .first()
            .ok_or_else(|| no_numeric(path, &headers, "load"))?,
    };
    let throughput = match args.throughput.as_deref() {
        Some(wanted) => column(path, &headers, wanted, "--x")?,
        None => *numeric
            .iter()
            .find(|&&i| i != load)
            .ok_or_else(|| no_numeric(path, &headers, "throughput"))?,
    };
    let mut points = Vec::with_capacity(records.len());
    for record in &records {
        let n = cell(path, record, load, &headers[load])?;
        let x = cell(path, record, throughput, &headers[throughput])?;
        let line = record.position().map_or(0, |p| p.line());
        if n < 1.0 {
            return Err(SpecError::invalid(format!(
                "{} line {line}: load {n} is below 1 (the USL counts load from 1)",
                path.display()
            )));
        }
        if x <= 0.0 {
            return Err(SpecError::invalid(format!(
                "{} line {line}: throughput {x} is not positive",
                path.display()
            )));
        }
        points.push((n, x));
    }
    Ok(Input {
        load: headers[load].clone(),
        throughput: headers[throughput].clone(),
        series: vec![Series {
            name: path.file_stem().map_or_else(
                || headers[throughput].clone(),
                |s| s.to_string_lossy().to_string(),
            ),
            backend: None,
            points,
        }],
    })
}

fn run_input(series: Vec<Series>) -> Input {
    Input {
        load: "throttle".into(),
        throughput: "goodput_per_s".into(),
        series,
    }
}

/// Keeps the backend asked for; an error when the run does not hold it, or holds nothing.
fn select(path: &Path, mut input: Input, backend: Option<&str>) -> Result<Input, SpecError> {
    let held: Vec<String> = input.series.iter().map(|s| s.name.clone()).collect();
    if let Some(name) = backend {
        input.series.retain(|s| s.name == name);
        if input.series.is_empty() {
            return Err(SpecError::invalid(format!(
                "{} holds no points of backend '{name}' (it holds: {})",
                path.display(),
                if held.is_empty() {
                    "none".into()
                } else {
                    held.join(", ")
                }
            )));
        }
    }
    if input.series.is_empty() {
        return Err(SpecError::invalid(format!(
            "{} holds no measured points besides the sequential baseline",
            path.display()
        )));
    }
    Ok(input)
}

/// A run's results.csv: medians per (backend, throttle), the sequential median as load 1.
fn run_csv(
    path: &Path,
    headers: &[String],
    records: &[::csv::StringRecord],
) -> Result<Vec<Series>, SpecError> {
    let find = |name: &str| headers.iter().position(|h| h == name);
    let at = |name: &str| find(name).unwrap_or(0);
    // Goodput where the run recorded it; files from before it have throughput only.
    let rate = if find("goodput_per_s").is_some() {
        "goodput_per_s"
    } else {
        "throughput_per_s"
    };
    let (backend, throttle, throughput) = (at("backend"), at("throttle"), at(rate));
    let error_pct = find("error_pct");
    let budget_pct = csv_error_budget_pct(path);
    let mut by_backend: BTreeMap<String, BTreeMap<u64, Vec<f64>>> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for record in records {
        let name = record.get(backend).unwrap_or("").to_string();
        let n = cell(path, record, throttle, "throttle")?;
        let x = cell(path, record, throughput, rate)?;
        let failed_pct = error_pct
            .and_then(|i| record.get(i))
            .and_then(|t| t.parse::<f64>().ok())
            .unwrap_or(0.0);
        if failed_pct > budget_pct || x <= 0.0 {
            continue;
        }
        if !order.contains(&name) {
            order.push(name.clone());
        }
        let loads = by_backend.entry(name).or_default();
        loads.entry(n.to_bits()).or_default().push(x);
    }
    let medians = |loads: &BTreeMap<u64, Vec<f64>>| -> Vec<(f64, f64)> {
        let mut points: Vec<(f64, f64)> = loads
            .iter()
            .filter_map(|(n, xs)| Some((f64::from_bits(*n), median(&mut xs.clone())?)))
            .collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        points
    };
    let sequential = BackendKind::Sequential.name();
    let baseline = by_backend
        .get(sequential)
        .and_then(|loads| median(&mut loads.values().flatten().copied().collect::<Vec<_>>()))
        .filter(|b| *b > 0.0);
    Ok(order
        .into_iter()
        .filter(|name| name != sequential)
        .map(|name| {
            let mut points = medians(&by_backend[&name]);
            if let (Some(base), false) = (baseline, points.iter().any(|p| p.0 == 1.0)) {
                points.insert(0, (1.0, base));
            }
            Series {
                backend: name.parse().ok(),
                name,
                points,
            }
        })
        .collect())
}

fn no_numeric(path: &Path, headers: &[String], what: &str) -> SpecError {
    SpecError::invalid(format!(
        "{} has no numeric column left for the {what} (its columns: {}); choose with --n and --x",
        path.display(),
        headers.join(", ")
    ))
}

/// A column by header name (exact, then ignoring case) or by 1-based number.
fn column(path: &Path, headers: &[String], wanted: &str, flag: &str) -> Result<usize, SpecError> {
    let found = headers
        .iter()
        .position(|h| h == wanted)
        .or_else(|| headers.iter().position(|h| h.eq_ignore_ascii_case(wanted)))
        .or_else(|| {
            wanted
                .parse::<usize>()
                .ok()
                .filter(|&i| (1..=headers.len()).contains(&i))
                .map(|i| i - 1)
        });
    found.ok_or_else(|| {
        SpecError::invalid(format!(
            "{} has no column '{wanted}' (its columns: {}); choose one with {flag} NAME or {flag} NUMBER",
            path.display(),
            headers.join(", ")
        ))
    })
}

fn cell(
    path: &Path,
    record: &::csv::StringRecord,
    index: usize,
    name: &str,
) -> Result<f64, SpecError> {
    let line = record.position().map_or(0, |p| p.line());
    let text = record.get(index).unwrap_or("");
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| {
            SpecError::invalid(format!(
                "{} line {line}: {name} '{text}' is not a number",
                path.display()
            ))
        })
}

fn csv_error(path: &Path, e: &::csv::Error) -> SpecError {
    SpecError::invalid(format!(
        "{} is not a readable CSV file: {e}",
        path.display()
    ))
}
