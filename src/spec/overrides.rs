//! The flags `run` and `tune` share, laid over a spec file (or standing in for one), and the
//! whole spec checked once more with them.

use std::collections::BTreeMap;

use serde_json::Value;

use super::values::{
    checked_items, checked_repeat, checked_retries, parse_backends, parse_budget_duration,
    parse_count, parse_duration, parse_limits, parse_positive, parse_timeout,
};
use super::RunSpec;
use crate::backend::Budget;
use crate::error::SpecError;
use crate::workload::params::{accepted_names, parse_cli_value, ParamType};
use crate::workload::{Registry, WorkloadSpec};

/// Command-line values that override (or stand in for) a spec file: the flags `run` and `tune`
/// share, each one a field of the spec.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Overrides {
    /// Workload kind (ad-hoc run, or replace the spec's kind).
    #[arg(long)]
    pub kind: Option<String>,
    /// Workload parameter, repeatable: --param ms=100 --param distribution=uniform
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Backends to compare, comma-separated: thread,async
    #[arg(long = "backend", value_name = "LIST")]
    pub backends: Option<String>,
    /// Throttle limits: a list (1,2,4,8) or a doubling range (1..64).
    #[arg(long, value_name = "LIMITS", allow_negative_numbers = true)]
    pub limits: Option<String>,
    /// Items per point.
    #[arg(long, value_name = "N", conflicts_with = "duration", allow_negative_numbers = true, value_parser = parse_positive::<u64>)]
    pub items: Option<u64>,
    /// Run each point for this long instead of a fixed item count (e.g. 10s).
    #[arg(long, value_name = "TIME")]
    pub duration: Option<String>,
    /// Repetitions of every point (interleaved).
    #[arg(long, value_name = "R", allow_negative_numbers = true, value_parser = parse_positive::<u32>)]
    pub repeat: Option<u32>,
    /// Unmeasured items run before each point, at its throttle.
    #[arg(long, value_name = "W", allow_negative_numbers = true, value_parser = parse_count::<u64>)]
    pub warmup: Option<u64>,
    /// Per-item timeout (e.g. 5s); an item past it is recorded as timed out.
    #[arg(long, value_name = "TIME")]
    pub timeout: Option<String>,
    /// Attempts per item after a failure (exponential backoff with jitter).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = parse_count::<u32>)]
    pub retries: Option<u32>,
    /// Wait before the first retry; doubled for each further one (e.g. 100ms).
    #[arg(long, value_name = "TIME")]
    pub retry_backoff: Option<String>,
    /// Record every item's start and end in items.jsonl.
    #[arg(long)]
    pub trace: bool,
    /// Name of the run (default: the spec's name or file name).
    #[arg(long)]
    pub name: Option<String>,
    /// Service-level objective for the recommendation: p99=200ms (also p50, p90, p999,
    /// errors=1%), several joined by commas.
    #[arg(long, value_name = "OBJECTIVES")]
    pub slo: Option<String>,
    /// Measure every point even when no item of the sequential baseline succeeds (by default
    /// the sweep stops there, exit 1).
    #[arg(long)]
    pub ignore_failures: bool,
    #[command(flatten)]
    pub open_loop: super::OpenLoopFlags,
}

impl Overrides {
    /// Applies command-line overrides, then validates the whole spec. `file_limits`: the spec
    /// file named its throttles (with rates and no throttles anywhere, the run is open loop
    /// only).
    pub(super) fn apply(
        &self,
        spec: &mut RunSpec,
        registry: &Registry,
        file_limits: bool,
    ) -> Result<(), SpecError> {
        if let Some(kind) = &self.kind {
            if *kind != spec.workload.kind {
                spec.workload = WorkloadSpec {
                    kind: kind.clone(),
                    params: BTreeMap::new(),
                };
            }
        }
        let kind = registry.get(&spec.workload.kind)?;
        // A list of lines given on the command line replaces the file's, and each further use of
        // the flag adds a line (`--param header=A:1 --param header=B:2`, as curl's -H).
        let mut lines_given: Vec<&str> = Vec::new();
        for pair in &self.params {
            let (name, text) = pair.split_once('=').ok_or_else(|| {
                SpecError::invalid(format!("--param expects name=value, got '{pair}'"))
            })?;
            let name = name.trim();
            let def = kind.params.iter().find(|d| d.name == name).ok_or_else(|| {
                SpecError::UnknownParam {
                    kind: kind.name.to_string(),
                    param: name.to_string(),
                    accepted: accepted_names(kind.params),
                }
            })?;
            let value = parse_cli_value(def, text).map_err(|why| SpecError::BadParam {
                kind: kind.name.to_string(),
                param: name.to_string(),
                why,
            })?;
            let params = &mut spec.workload.params;
            match (def.ty, params.get_mut(def.name), value) {
                (ParamType::Lines, Some(Value::Array(lines)), Value::Array(more))
                    if lines_given.contains(&def.name) =>
                {
                    lines.extend(more)
                }
                (ty, _, value) => {
                    if ty == ParamType::Lines {
                        lines_given.push(def.name);
                    }
                    params.insert(name.to_string(), value);
                }
            }
        }
        if let Some(b) = &self.backends {
            spec.sweep.backends = parse_backends(b)?;
        }
        if let Some(l) = &self.limits {
            spec.sweep.limits = parse_limits(l)?;
        }
        if let Some(n) = self.items {
            spec.sweep.budget = Budget::Items(checked_items(n.min(i64::MAX as u64) as i64)?);
        }
        if let Some(d) = &self.duration {
            spec.sweep.budget = Budget::Duration(parse_budget_duration(d)?);
        }
        if let Some(r) = self.repeat {
            spec.sweep.repeat = checked_repeat(i64::from(r))?;
        }
        if let Some(w) = self.warmup {
            spec.sweep.warmup = w;
        }
        if let Some(t) = &self.timeout {
            spec.sweep.timeout = Some(parse_timeout(t)?);
        }
        spec.sweep.trace |= self.trace;
        spec.sweep.ignore_failures |= self.ignore_failures;
        if let Some(r) = self.retries {
            spec.sweep.retry.retries = checked_retries(i64::from(r))?;
        }
        if let Some(b) = &self.retry_backoff {
            spec.sweep.retry.backoff = parse_duration(b, "retry backoff")?;
        }
        if let Some(text) = &self.slo {
            spec.sweep.slo = Some(text.parse()?);
        }
        if let Some(name) = &self.name {
            spec.name = name.clone();
        }
        self.open_loop
            .apply(spec, file_limits || self.limits.is_some())?;
        // The whole parameter set once more, with defaults, so the kind's own checks run now.
        registry.build(&spec.workload)?;
        Ok(())
    }
}
