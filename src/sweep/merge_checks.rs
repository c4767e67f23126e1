//! Whether a set of shard results belongs together before `merge` adds them up: every input a
//! shard of the same split, the same spec and schedule, each shard once, none missing, and the
//! same points measured. Each refusal is one line naming what is wrong and where.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::backend::BackendKind;
use crate::results::{PointResult, SweepResult};
use crate::spec::Shard;

/// A shard's results and where they were read from (for messages).
pub struct ShardInput {
    pub source: String,
    pub sweep: SweepResult,
}

/// The inputs in shard order (1 to N), or the one line saying why they cannot be merged.
pub fn check_shards(mut inputs: Vec<ShardInput>) -> Result<Vec<(Shard, ShardInput)>, String> {
    let mut shards = Vec::new();
    for input in inputs.drain(..) {
        let Some(shard) = input.sweep.spec.sweep.shard else {
            return Err(format!(
                "{} is not a shard: it ran without --shard",
                input.source
            ));
        };
        shards.push((shard, input));
    }
    let Some((first_shard, first)) = shards.first() else {
        return Err("no shard given".to_string());
    };
    let count = first_shard.count;
    for (shard, input) in &shards[1..] {
        if shard.count != first_shard.count {
            return Err(format!(
                "{} is shard {shard} but {} is shard {first_shard}: they split the run differently",
                input.source, first.source
            ));
        }
        if let Some(what) = spec_difference(&first.sweep, &input.sweep) {
            return Err(format!(
                "{} and {} are shards of different specs ({what} differs)",
                first.source, input.source
            ));
        }
        let (a, b) = (
            &first.sweep.spec.sweep.schedule,
            &input.sweep.spec.sweep.schedule,
        );
        if a != b {
            let show = |s: &Option<crate::spec::Schedule>| match s {
                Some(s) => format!(
                    "start {} every {} + {}",
                    s.start_at,
                    humantime::format_duration(s.duration),
                    humantime::format_duration(s.gap)
                ),
                None => "no --start-at".to_string(),
            };
            return Err(format!(
                "{} and {} are on different schedules ({} vs {})",
                first.source,
                input.source,
                show(a),
                show(b)
            ));
        }
    }
    shards.sort_by_key(|(shard, _)| shard.index);
    for pair in shards.windows(2) {
        if pair[0].0.index == pair[1].0.index {
            return Err(format!(
                "shard {} is given twice: {} and {}",
                pair[0].0, pair[0].1.source, pair[1].1.source
            ));
        }
    }
    let given: BTreeSet<u32> = shards.iter().map(|(s, _)| s.index).collect();
    let missing: Vec<String> = (1..=count)
        .filter(|k| !given.contains(k))
        .map(|k| format!("{k}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "shard{} {} missing: merge needs all {} shards",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", "),
            count
        ));
    }
    check_same_points(&shards)?;
    Ok(shards)
}

/// Every shard must hold the same points (the baseline is shard 1's alone): an interrupted
/// shard would make a sum that is no throttle's.
fn check_same_points(shards: &[(Shard, ShardInput)]) -> Result<(), String> {
    let keys = |sweep: &SweepResult| -> BTreeSet<(String, String, u32)> {
        sweep
            .points
            .iter()
            .chain(&sweep.open_loop)
            .filter(|p| p.backend != BackendKind::Sequential)
            .map(|p| (p.backend.to_string(), point_place(p), p.repetition))
            .collect()
    };
    let (first_shard, first) = &shards[0];
    let expected = keys(&first.sweep);
    for (shard, input) in shards {
        let own = keys(&input.sweep);
        let lacking = expected
            .difference(&own)
            .next()
            .map(|k| (shard, input, k))
            .or_else(|| {
                own.difference(&expected)
                    .next()
                    .map(|k| (first_shard, first, k))
            });
        if let Some((shard, input, (backend, place, repetition))) = lacking {
            return Err(format!(
                "{} (shard {shard}) lacks {backend} at {place}, repetition {repetition}{}",
                input.source,
                if input.sweep.interrupted {
                    ": it was interrupted"
                } else {
                    ""
                }
            ));
        }
    }
    Ok(())
}

/// Where a point sits in the plan: its throttle, or its offered rate (a shard's share of it,
/// the same on every shard).
pub(super) fn point_place(p: &PointResult) -> String {
    match p.offered_per_s {
        Some(rate) => format!("{} items/s (this shard's share)", crate::format::rate(rate)),
        None => format!("throttle {}", p.throttle),
    }
}

/// The first part of two shards' specs that differs (`workload.params.ms`), leaving out which
/// shard each is and their schedules (checked apart); `None` when they agree.
fn spec_difference(a: &SweepResult, b: &SweepResult) -> Option<String> {
    let comparable = |sweep: &SweepResult| {
        let mut spec = sweep.spec.clone();
        spec.sweep.shard = None;
        spec.sweep.schedule = None;
        serde_json::to_value(spec).unwrap_or(Value::Null)
    };
    first_difference(&comparable(a), &comparable(b), "spec")
}

fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let names: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            names.into_iter().find_map(|name| {
                let inner = if path == "spec" {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                first_difference(
                    x.get(name).unwrap_or(&Value::Null),
                    y.get(name).unwrap_or(&Value::Null),
                    &inner,
                )
            })
        }
        _ if a == b => None,
        _ => Some(path.to_string()),
    }
}
