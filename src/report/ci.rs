//! Files for CI tracking tools, one value per (backend, throttle) and metric — the median of the
//! repetitions, with their spread:
//! - github-action-benchmark's custom tools: an array of `{name, unit, value, range, extra}`;
//!   `customBiggerIsBetter` takes goodput, `customSmallerIsBetter` latency, memory and error rate, so
//!   each is its own file.
//! - Bencher Metric Format: `{benchmark: {measure: {value, lower_value, upper_value}}}`, with
//!   Bencher's built-in `throughput` (ops/s) and `latency` (ns, the p50) measures, plus
//!   `latency-p99` (ns) and `peak-rss-mb` (MB).

use std::path::PathBuf;
use std::str::FromStr;

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::Exporter;
use crate::error::SpecError;
use crate::results::{median, PointResult, SweepResult};

/// The CI formats, by their `--export` name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiFormat {
    /// github-action-benchmark, tool `customBiggerIsBetter`: goodput (successful items/s).
    GithubBigger,
    /// github-action-benchmark, tool `customSmallerIsBetter`: p50, p99, peak RSS, error rate.
    GithubSmaller,
    /// Bencher Metric Format.
    Bencher,
}

impl CiFormat {
    pub const NAMES: &'static str = "github-bigger, github-smaller, bencher";

    /// The exporter that writes this format.
    pub fn exporter(self) -> &'static dyn Exporter {
        match self {
            CiFormat::GithubBigger => &GithubBenchmark { bigger: true },
            CiFormat::GithubSmaller => &GithubBenchmark { bigger: false },
            CiFormat::Bencher => &Bencher,
        }
    }
}

impl FromStr for CiFormat {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        match s {
            "github-bigger" => Ok(CiFormat::GithubBigger),
            "github-smaller" => Ok(CiFormat::GithubSmaller),
            "bencher" => Ok(CiFormat::Bencher),
            other => Err(SpecError::invalid(format!(
                "unknown export format '{other}' (known formats: {})",
                Self::NAMES
            ))),
        }
    }
}

/// One `--export FORMAT=FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportTarget {
    pub format: CiFormat,
    pub path: PathBuf,
}

impl FromStr for ExportTarget {
    type Err = SpecError;
    fn from_str(s: &str) -> Result<Self, SpecError> {
        let (format, path) = s.split_once('=').ok_or_else(|| {
            SpecError::invalid(format!(
                "--export takes FORMAT=FILE (formats: {}), got '{s}'",
                CiFormat::NAMES
            ))
        })?;
        if path.is_empty() {
            return Err(SpecError::invalid(format!(
                "--export {format}= needs a file"
            )));
        }
        Ok(ExportTarget {
            format: format.parse()?,
            path: PathBuf::from(path),
        })
    }
}

/// Writes each export of `sweep`.
pub fn write_all(targets: &[ExportTarget], sweep: &SweepResult) -> anyhow::Result<()> {
    for t in targets {
        super::write_atomic(&t.path, &t.format.exporter().serialize(sweep)?)?;
    }
    Ok(())
}

/// A metric over the repetitions of one point: median and extremes.
struct Spread {
    median: f64,
    low: f64,
    high: f64,
    count: usize,
}

/// The spread of a figure over the repetitions that have it; `None` when none has (latency
/// with no successful item), so no entry claims a value that was never measured.
fn spread(reps: &[&PointResult], value: fn(&PointResult) -> Option<f64>) -> Option<Spread> {
    let mut values: Vec<f64> = reps.iter().filter_map(|p| value(p)).collect();
    let median = median(&mut values)?;
    Some(Spread {
        median,
        low: values.first().copied().unwrap_or(0.0),
        high: values.last().copied().unwrap_or(0.0),
        count: values.len(),
    })
}

/// Repetitions of each (backend, throttle), baseline first, in the order the summaries use.
fn groups(sweep: &SweepResult) -> Vec<(String, Vec<&PointResult>)> {
    sweep
        .summaries()
        .iter()
        .map(|s| {
            let reps = sweep
                .points
                .iter()
                .filter(|p| p.backend == s.backend && p.throttle == s.throttle)
                .collect();
            (
                format!("{} {} x{}", sweep.spec.name, s.backend, s.throttle),
                reps,
            )
        })
        .collect()
}

#[derive(Serialize)]
struct GithubEntry {
    name: String,
    unit: &'static str,
    value: f64,
    range: String,
    extra: String,
}

fn github_entry(name: String, unit: &'static str, s: Spread) -> GithubEntry {
    GithubEntry {
        name,
        unit,
        value: s.median,
        range: format!("± {:.3}", (s.high - s.low) / 2.0),
        extra: format!(
            "median of {} repetitions; min {:.3}, max {:.3}",
            s.count, s.low, s.high
        ),
    }
}

pub struct GithubBenchmark {
    bigger: bool,
}

impl Exporter for GithubBenchmark {
    fn file_name(&self) -> &'static str {
        if self.bigger {
            "github-bigger.json"
        } else {
            "github-smaller.json"
        }
    }

    fn serialize(&self, sweep: &SweepResult) -> anyhow::Result<Vec<u8>> {
        let mut entries = Vec::new();
        for (name, reps) in groups(sweep) {
            let mut add = |what: &str, unit: &'static str, s: Option<Spread>| {
                if let Some(s) = s {
                    entries.push(github_entry(format!("{name} {what}"), unit, s));
                }
            };
            if self.bigger {
                add("goodput", "ok/s", spread(&reps, |p| Some(p.goodput_per_s)));
            } else {
                add("p50 latency", "ms", spread(&reps, |p| p.lat_p50_ms));
                add("p99 latency", "ms", spread(&reps, |p| p.lat_p99_ms));
                add("peak RSS", "MB", spread(&reps, |p| Some(p.peak_rss_mb)));
                add("error rate", "%", spread(&reps, |p| p.error_pct));
            }
        }
        let mut bytes = serde_json::to_vec_pretty(&entries)?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

pub struct Bencher;

fn metric(s: Spread, scale: f64) -> Value {
    json!({
        "value": s.median * scale,
        "lower_value": s.low * scale,
        "upper_value": s.high * scale,
    })
}

impl Exporter for Bencher {
    fn file_name(&self) -> &'static str {
        "bencher.json"
    }

    fn serialize(&self, sweep: &SweepResult) -> anyhow::Result<Vec<u8>> {
        const MS_TO_NS: f64 = 1e6;
        let mut benchmarks = Map::new();
        for (name, reps) in groups(sweep) {
            let mut measures = Map::new();
            let figures: [(&str, Option<Spread>, f64); 5] = [
                ("throughput", spread(&reps, |p| Some(p.goodput_per_s)), 1.0),
                ("latency", spread(&reps, |p| p.lat_p50_ms), MS_TO_NS),
                ("latency-p99", spread(&reps, |p| p.lat_p99_ms), MS_TO_NS),
                ("peak-rss-mb", spread(&reps, |p| Some(p.peak_rss_mb)), 1.0),
                ("error-pct", spread(&reps, |p| p.error_pct), 1.0),
            ];
            for (key, s, scale) in figures {
                if let Some(s) = s {
                    measures.insert(key.into(), metric(s, scale));
                }
            }
            benchmarks.insert(name, Value::Object(measures));
        }
        let mut bytes = serde_json::to_vec_pretty(&Value::Object(benchmarks))?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fixture;

    fn export(format: CiFormat) -> Value {
        let bytes = format
            .exporter()
            .serialize(&fixture::sweep(20.0, 3))
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn github_bigger_holds_goodput_only() {
        let v = export(CiFormat::GithubBigger);
        let entries = v.as_array().unwrap();
        assert_eq!(entries.len(), 4);
        let e = &entries[2];
        assert_eq!(e["name"], "sleep thread x4 goodput");
        assert_eq!(e["unit"], "ok/s");
        assert!((e["value"].as_f64().unwrap() - 200.0).abs() < 1e-9);
        assert!(e["range"].as_str().unwrap().starts_with("± "));
        for e in entries {
            let keys: Vec<&String> = e.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["extra", "name", "range", "unit", "value"]);
        }
    }

    #[test]
    fn github_smaller_holds_latency_memory_and_errors() {
        let v = export(CiFormat::GithubSmaller);
        let names: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(names.len(), 16);
        assert_eq!(
            &names[..4],
            [
                "sleep sequential x1 p50 latency",
                "sleep sequential x1 p99 latency",
                "sleep sequential x1 peak RSS",
                "sleep sequential x1 error rate"
            ]
        );
        assert_eq!(v[0]["unit"], "ms");
        assert_eq!(v[2]["unit"], "MB");
        assert_eq!(v[3]["unit"], "%");
    }

    #[test]
    fn a_point_without_a_successful_item_claims_no_latency() {
        let mut sweep = fixture::sweep(20.0, 3);
        for p in sweep.points.iter_mut().filter(|p| p.throttle == 4) {
            (p.ok, p.failed, p.goodput_per_s) = (0, p.items, 0.0);
            (p.lat_p50_ms, p.lat_p99_ms, p.error_pct) = (None, None, Some(100.0));
        }
        let bytes = CiFormat::GithubSmaller
            .exporter()
            .serialize(&sweep)
            .unwrap();
        let v: Value = serde_json::from_slice(&bytes).unwrap();
        let names: Vec<&str> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert!(!names.contains(&"sleep thread x4 p50 latency"), "{names:?}");
        assert!(names.contains(&"sleep thread x4 error rate"), "{names:?}");
    }

    #[test]
    fn bencher_metric_format_has_value_and_bounds() {
        let v = export(CiFormat::Bencher);
        let bench = &v["sleep async x4"];
        let latency = &bench["latency"];
        assert!((latency["value"].as_f64().unwrap() - 20e6).abs() < 1.0);
        assert!(latency["lower_value"].as_f64().unwrap() <= latency["value"].as_f64().unwrap());
        assert!(latency["upper_value"].as_f64().unwrap() >= latency["value"].as_f64().unwrap());
        let measures: Vec<&String> = bench.as_object().unwrap().keys().collect();
        assert_eq!(
            measures,
            [
                "error-pct",
                "latency",
                "latency-p99",
                "peak-rss-mb",
                "throughput"
            ]
        );
        assert_eq!(v.as_object().unwrap().len(), 4);
    }

    #[test]
    fn export_targets_parse_or_explain() {
        let t: ExportTarget = "bencher=out/b.json".parse().unwrap();
        assert_eq!(t.format, CiFormat::Bencher);
        assert_eq!(t.path, PathBuf::from("out/b.json"));
        let err = "junit=x".parse::<ExportTarget>().unwrap_err().to_string();
        assert!(err.contains("unknown export format 'junit'"), "{err}");
        let err = "bencher".parse::<ExportTarget>().unwrap_err().to_string();
        assert!(err.contains("FORMAT=FILE"), "{err}");
    }
}
