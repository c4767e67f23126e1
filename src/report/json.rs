//! `results.json`: the whole sweep — spec, environment, every point with its histogram and error
//! counts, warnings — from which every other report can be rebuilt.

use super::Exporter;
use crate::results::{error_pct, median, SweepResult, FORMAT_VERSION};
use crate::sweep::set_speedup;

pub struct ResultsJson;

impl Exporter for ResultsJson {
    fn file_name(&self) -> &'static str {
        "results.json"
    }

    fn serialize(&self, sweep: &SweepResult) -> anyhow::Result<Vec<u8>> {
        let mut bytes = serde_json::to_vec_pretty(sweep)?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

/// Reads a `results.json` (or a run folder holding one).
pub fn load(path: &std::path::Path) -> anyhow::Result<SweepResult> {
    use anyhow::Context;
    let file = if path.is_dir() {
        path.join("results.json")
    } else {
        path.to_path_buf()
    };
    let text = std::fs::read_to_string(&file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    let mut sweep: SweepResult = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a throttlebench results file", file.display()))?;
    upgrade(&mut sweep);
    Ok(sweep)
}

/// Brings a file written before goodput was recorded up to date: goodput from the
/// successful items and the wall time, no latency where nothing succeeded (those files
/// wrote 0), speedup against the baseline's goodput.
pub(crate) fn upgrade(sweep: &mut SweepResult) {
    if sweep.format_version >= 2 {
        return;
    }
    for p in &mut sweep.points {
        p.goodput_per_s = if p.wall_s > 0.0 {
            p.ok as f64 / p.wall_s
        } else {
            0.0
        };
        p.error_pct = error_pct(p.ok, p.failed + p.timed_out);
        if p.ok == 0 {
            for lat in [
                &mut p.lat_mean_ms,
                &mut p.lat_p50_ms,
                &mut p.lat_p90_ms,
                &mut p.lat_p99_ms,
                &mut p.lat_p999_ms,
                &mut p.lat_max_ms,
            ] {
                *lat = None;
            }
        }
    }
    sweep.baseline_goodput_per_s = median(
        &mut sweep
            .points
            .iter()
            .filter(|p| p.is_baseline() && p.ok > 0)
            .map(|p| p.goodput_per_s)
            .collect::<Vec<_>>(),
    );
    let base = sweep.baseline_goodput_per_s;
    sweep.points.iter_mut().for_each(|p| set_speedup(p, base));
    sweep.format_version = FORMAT_VERSION;
}
