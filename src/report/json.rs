//! `results.json`: the whole sweep — spec, environment, every point with its histogram and error
//! counts, warnings — from which every other report can be rebuilt.

use super::Exporter;
use crate::results::SweepResult;

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
    sweep.upgrade();
    Ok(sweep)
}
