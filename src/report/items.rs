//! Reading `items.jsonl` (the per-item trace written with `--trace`) back, and choosing which
//! traced point the timeline chart shows.

use std::io::BufRead;
use std::path::Path;
use std::str::FromStr;

use anyhow::Context;
use serde::Deserialize;

use super::charts::timeline::TimelineData;
use crate::backend::BackendKind;
use crate::measure::timeline::TraceEvent;
use crate::results::SweepResult;

/// One line of `items.jsonl`: a trace event and the point it belongs to.
#[derive(Debug, Clone, Deserialize)]
pub struct TraceRow {
    #[serde(flatten)]
    pub event: TraceEvent,
    pub backend: BackendKind,
    pub throttle: usize,
    #[serde(default = "first")]
    pub repetition: u32,
}

fn first() -> u32 {
    1
}

/// A point named on the command line as `BACKEND:THROTTLE`, e.g. `thread:8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PointChoice {
    pub backend: BackendKind,
    pub throttle: usize,
}

impl FromStr for PointChoice {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<PointChoice> {
        let (backend, throttle) = s
            .split_once(':')
            .with_context(|| format!("timeline point {s:?} must look like thread:8"))?;
        Ok(PointChoice {
            backend: backend.parse()?,
            throttle: throttle
                .trim()
                .parse()
                .with_context(|| format!("timeline throttle {throttle:?} is not a number"))?,
        })
    }
}

/// Every traced row of `path`. Lines that are not trace rows are an error naming the line.
pub fn load(path: &Path) -> anyhow::Result<Vec<TraceRow>> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut rows = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        rows.push(
            serde_json::from_str(&line)
                .with_context(|| format!("{} line {}: not a trace row", path.display(), n + 1))?,
        );
    }
    Ok(rows)
}

/// The point the timeline shows when none is asked for: the highest traced throttle of the
/// first backend of the sweep that is not the sequential baseline (the baseline if it is all
/// there is), at its first repetition.
pub fn default_choice(sweep: &SweepResult, rows: &[TraceRow]) -> Option<PointChoice> {
    let traced = |b: BackendKind| rows.iter().filter(move |r| r.backend == b);
    let mut order: Vec<BackendKind> = sweep
        .spec
        .sweep
        .backends
        .iter()
        .copied()
        .filter(|b| *b != BackendKind::Sequential)
        .collect();
    order.push(BackendKind::Sequential);
    order.into_iter().find_map(|backend| {
        traced(backend)
            .map(|r| r.throttle)
            .max()
            .map(|throttle| PointChoice { backend, throttle })
    })
}

/// The rows of `choice`, at the lowest repetition traced; an error listing what was traced when
/// the point has no rows.
pub fn select(rows: Vec<TraceRow>, choice: PointChoice) -> anyhow::Result<TimelineData> {
    let matching = |r: &TraceRow| r.backend == choice.backend && r.throttle == choice.throttle;
    let Some(repetition) = rows
        .iter()
        .filter(|r| matching(r))
        .map(|r| r.repetition)
        .min()
    else {
        let mut traced: Vec<String> = rows
            .iter()
            .map(|r| format!("{}:{}", r.backend, r.throttle))
            .collect();
        traced.dedup();
        traced.sort();
        traced.dedup();
        anyhow::bail!(
            "no traced items for {}:{} (traced points: {})",
            choice.backend,
            choice.throttle,
            if traced.is_empty() {
                "none".to_string()
            } else {
                traced.join(", ")
            }
        );
    };
    Ok(TimelineData {
        backend: choice.backend,
        throttle: choice.throttle,
        repetition,
        events: rows
            .into_iter()
            .filter(|r| matching(r) && r.repetition == repetition)
            .map(|r| r.event)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(backend: BackendKind, throttle: usize, repetition: u32) -> TraceRow {
        let line = format!(
            r#"{{"item":1,"worker":0,"start_us":0,"end_us":5,"outcome":"ok","backend":"{backend}","throttle":{throttle},"repetition":{repetition}}}"#
        );
        serde_json::from_str(&line).unwrap()
    }

    #[test]
    fn a_point_choice_parses_or_says_what_is_wrong() {
        let c: PointChoice = "thread:8".parse().unwrap();
        assert_eq!((c.backend, c.throttle), (BackendKind::Thread, 8));
        assert!("thread".parse::<PointChoice>().is_err());
        assert!("thread:x".parse::<PointChoice>().is_err());
        assert!("warp:2".parse::<PointChoice>().is_err());
    }

    #[test]
    fn selection_takes_the_first_repetition_and_names_traced_points() {
        let rows = vec![
            row(BackendKind::Thread, 4, 2),
            row(BackendKind::Thread, 4, 1),
            row(BackendKind::Async, 2, 1),
        ];
        let data = select(rows.clone(), "thread:4".parse().unwrap()).unwrap();
        assert_eq!((data.repetition, data.events.len()), (1, 1));
        let err = select(rows, "thread:16".parse().unwrap()).unwrap_err();
        assert!(err.to_string().contains("async:2, thread:4"), "{err}");
    }
}
