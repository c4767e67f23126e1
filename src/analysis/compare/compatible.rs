//! Whether two runs can be compared at all: the same workload kind, parameters and item budget
//! (or a named difference the user accepted), with notes on lesser differences (machine,
//! warm-up, an interrupted run).

use super::Options;
use crate::error::SpecError;
use crate::results::SweepResult;

/// Refuses runs whose numbers mean different things; returns notes on lesser differences.
pub fn check_compatible(
    base: &SweepResult,
    current: &SweepResult,
    options: &Options,
) -> Result<Vec<String>, SpecError> {
    let refuse = |what: String| SpecError::invalid(format!("cannot compare these runs: {what}"));
    let (bw, cw) = (&base.spec.workload, &current.spec.workload);
    if bw.kind != cw.kind {
        return Err(refuse(format!(
            "workload kind differs (baseline '{}', current '{}')",
            bw.kind, cw.kind
        )));
    }
    let mut notes = Vec::new();
    let names: std::collections::BTreeSet<&String> =
        bw.params.keys().chain(cw.params.keys()).collect();
    for name in names {
        let (b, c) = (bw.params.get(name), cw.params.get(name));
        if b != c {
            let show = |v: Option<&serde_json::Value>| {
                v.map(|v| v.to_string()).unwrap_or_else(|| "default".into())
            };
            let what = format!(
                "workload parameter '{name}' differs (baseline {}, current {})",
                show(b),
                show(c)
            );
            if !options.allow_param_change {
                return Err(refuse(format!(
                    "{what}; pass --allow-param-change to compare anyway"
                )));
            }
            notes.push(format!("Compared despite a difference: {what}."));
        }
    }
    let (bb, cb) = (base.spec.sweep.budget, current.spec.sweep.budget);
    if bb != cb {
        let show = |b: crate::backend::Budget| match b {
            crate::backend::Budget::Items(n) => format!("{n} items"),
            crate::backend::Budget::Duration(d) => humantime::format_duration(d).to_string(),
        };
        return Err(refuse(format!(
            "items per point differ (baseline {}, current {})",
            show(bb),
            show(cb)
        )));
    }
    let (be, ce) = (&base.environment, &current.environment);
    if be.cpu_model != ce.cpu_model || be.cores != ce.cores {
        notes.push(format!(
            "Different machines ({} × {} vs {} × {}): differences may come from the hardware alone.",
            be.cores, be.cpu_model, ce.cores, ce.cpu_model
        ));
    }
    if base.spec.sweep.warmup != current.spec.sweep.warmup {
        notes.push(format!(
            "Warm-up differs (baseline {}, current {} items).",
            base.spec.sweep.warmup, current.spec.sweep.warmup
        ));
    }
    for (side, sweep) in [("baseline", base), ("current", current)] {
        if sweep.interrupted {
            notes.push(format!(
                "The {side} run was interrupted: some points may be missing."
            ));
        }
    }
    Ok(notes)
}
