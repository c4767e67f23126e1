//! A spec file: TOML read into the spec, each value checked where it stands so that an error
//! names its file, line and column.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::values::{
    checked_items, checked_limits, checked_repeat, checked_retries, parse_backends,
    parse_budget_duration, parse_duration, parse_limits, parse_timeout,
};
use super::{open_loop, FitWeights, Overrides, RunSpec, SweepSettings};
use crate::backend::Budget;
use crate::error::SpecError;
use crate::workload::{Registry, WorkloadSpec};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    name: Option<String>,
    description: Option<String>,
    workload: BTreeMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    sweep: RawSweep,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSweep {
    backends: Option<Spanned<Vec<String>>>,
    limits: Option<Spanned<RawLimits>>,
    items: Option<Spanned<i64>>,
    duration: Option<Spanned<String>>,
    repeat: Option<Spanned<i64>>,
    warmup: Option<Spanned<i64>>,
    timeout: Option<Spanned<String>>,
    trace: Option<bool>,
    retries: Option<Spanned<i64>>,
    retry_backoff: Option<Spanned<String>>,
    slo: Option<Spanned<String>>,
    ignore_failures: Option<bool>,
    usl_weights: Option<Spanned<String>>,
    usl_keep_all: Option<bool>,
    rates: Option<Spanned<RawRates>>,
    stages: Option<Vec<Spanned<RawStage>>>,
    arrival: Option<Spanned<String>>,
    max_inflight: Option<Spanned<i64>>,
    seed: Option<Spanned<i64>>,
    limiters: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    rate: Option<f64>,
    duration: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawRates {
    List(Vec<f64>),
    Text(String),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawLimits {
    List(Vec<i64>),
    Text(String),
}

/// Parses spec text; `origin` names it in errors.
pub fn parse(
    text: &str,
    origin: &str,
    fallback_name: Option<String>,
    overrides: &Overrides,
    registry: &Registry,
) -> Result<RunSpec, SpecError> {
    let at = |span: std::ops::Range<usize>, message: String| {
        let (line, column) = line_column(text, span.start);
        SpecError::Toml {
            path: origin.to_string(),
            line,
            column,
            message,
        }
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let message = e.message().trim().replace('\n', " ");
        match e.span() {
            Some(span) => at(span, message),
            None => SpecError::Toml {
                path: origin.to_string(),
                line: 1,
                column: 1,
                message,
            },
        }
    })?;

    let mut params = BTreeMap::new();
    let mut kind = None;
    for (key, value) in raw.workload {
        let span = value.span();
        let value = value.into_inner();
        if key == "kind" {
            match value {
                toml::Value::String(k) => kind = Some((k, span)),
                _ => {
                    return Err(at(
                        span,
                        "workload kind must be a string such as \"sleep\"".into(),
                    ))
                }
            }
            continue;
        }
        let json = serde_json::to_value(&value).map_err(|e| at(span.clone(), e.to_string()))?;
        params.insert(key, (json, span));
    }
    let (kind, kind_span) = kind.ok_or_else(|| {
        at(
            0..0,
            "[workload] needs a kind, e.g. kind = \"sleep\"".into(),
        )
    })?;
    let workload_kind = registry
        .get(&kind)
        .map_err(|e| at(kind_span, e.to_string()))?;
    // Check each parameter where it stands, so the error points at its line.
    for (name, (value, span)) in &params {
        let one = BTreeMap::from([(name.clone(), value.clone())]);
        crate::workload::Params::validate(workload_kind.name, workload_kind.params, &one)
            .map_err(|e| at(span.clone(), e.to_string()))?;
    }
    let workload = WorkloadSpec {
        kind,
        params: params.into_iter().map(|(k, (v, _))| (k, v)).collect(),
    };

    let mut sweep = SweepSettings::default();
    let s = raw.sweep;
    let file_limits = s.limits.is_some();
    if let Some(b) = s.backends {
        let span = b.span();
        sweep.backends =
            parse_backends(&b.into_inner().join(",")).map_err(|e| at(span, e.to_string()))?;
    }
    if let Some(l) = s.limits {
        let span = l.span();
        sweep.limits = match l.into_inner() {
            RawLimits::List(list) => checked_limits(list),
            RawLimits::Text(text) => parse_limits(&text),
        }
        .map_err(|e| at(span, e.to_string()))?;
    }
    if let Some(n) = s.items {
        let span = n.span();
        sweep.budget =
            Budget::Items(checked_items(*n.get_ref()).map_err(|e| at(span, e.to_string()))?);
    }
    if let Some(d) = s.duration {
        let span = d.span();
        sweep.budget = Budget::Duration(
            parse_budget_duration(d.get_ref()).map_err(|e| at(span, e.to_string()))?,
        );
    }
    if let Some(r) = s.repeat {
        let span = r.span();
        sweep.repeat = checked_repeat(*r.get_ref()).map_err(|e| at(span, e.to_string()))?;
    }
    if let Some(w) = s.warmup {
        let span = w.span();
        sweep.warmup = u64::try_from(*w.get_ref())
            .map_err(|_| at(span, "warmup must be 0 or more items".into()))?;
    }
    if let Some(t) = s.timeout {
        let span = t.span();
        sweep.timeout = Some(parse_timeout(t.get_ref()).map_err(|e| at(span, e.to_string()))?);
    }
    sweep.trace = s.trace.unwrap_or(false);
    sweep.ignore_failures = s.ignore_failures.unwrap_or(false);
    if let Some(r) = s.retries {
        let span = r.span();
        sweep.retry.retries = checked_retries(*r.get_ref()).map_err(|e| at(span, e.to_string()))?;
    }
    if let Some(b) = s.retry_backoff {
        let span = b.span();
        sweep.retry.backoff =
            parse_duration(b.get_ref(), "retry_backoff").map_err(|e| at(span, e.to_string()))?;
    }
    if let Some(text) = s.slo {
        let span = text.span();
        sweep.slo = Some(
            text.get_ref()
                .parse()
                .map_err(|e: SpecError| at(span, e.to_string()))?,
        );
    }

    if let Some(w) = s.usl_weights {
        let span = w.span();
        sweep.usl_weights = match w.get_ref().as_str() {
            "equal" => FitWeights::Equal,
            "relative" => FitWeights::Relative,
            other => {
                return Err(at(
                    span,
                    format!("usl_weights must be \"equal\" or \"relative\", got \"{other}\""),
                ))
            }
        };
    }
    sweep.usl_keep_all = s.usl_keep_all.unwrap_or(false);
    let mut stages = Vec::new();
    for (i, stage) in s.stages.unwrap_or_default().into_iter().enumerate() {
        let span = stage.span();
        let raw = stage.into_inner();
        stages.push(
            open_loop::checked_stage(i + 1, raw.rate, raw.duration.as_deref())
                .map_err(|e| at(span, e.to_string()))?,
        );
    }
    sweep.open_loop = read_open_loop(s.rates, stages, s.arrival, s.max_inflight, s.seed, &at)?;
    if let Some(list) = s.limiters {
        let span = list.span();
        sweep.limiters = super::limiters::limiters_from_list(list.get_ref())
            .map_err(|e| at(span, e.to_string()))?;
    }

    let name = raw
        .name
        .or(fallback_name)
        .unwrap_or_else(|| workload.kind.clone());
    let mut spec = RunSpec {
        name,
        description: raw.description,
        workload,
        sweep,
    };
    overrides.apply(&mut spec, registry, file_limits)?;
    Ok(spec)
}

/// The open loop's `[sweep]` keys, each checked where it stands.
fn read_open_loop(
    rates: Option<Spanned<RawRates>>,
    stages: Vec<crate::backend::Stage>,
    arrival: Option<Spanned<String>>,
    max_inflight: Option<Spanned<i64>>,
    seed: Option<Spanned<i64>>,
    at: &dyn Fn(std::ops::Range<usize>, String) -> SpecError,
) -> Result<Option<super::OpenLoop>, SpecError> {
    let first_span = rates
        .as_ref()
        .map(|r| r.span())
        .or_else(|| arrival.as_ref().map(|a| a.span()))
        .or_else(|| max_inflight.as_ref().map(|m| m.span()))
        .or_else(|| seed.as_ref().map(|s| s.span()))
        .unwrap_or(0..0);
    let rates = match rates {
        Some(r) => {
            let span = r.span();
            Some(
                match r.into_inner() {
                    RawRates::List(list) => open_loop::checked_rates(list),
                    RawRates::Text(text) => open_loop::parse_rates(&text),
                }
                .map_err(|e| at(span, e.to_string()))?,
            )
        }
        None => None,
    };
    let arrival = match arrival {
        Some(a) => {
            Some(open_loop::parse_arrival(a.get_ref()).map_err(|e| at(a.span(), e.to_string()))?)
        }
        None => None,
    };
    let max_inflight = match max_inflight {
        Some(m) => Some(
            open_loop::checked_max_inflight(*m.get_ref())
                .map_err(|e| at(m.span(), e.to_string()))?,
        ),
        None => None,
    };
    let seed = match seed {
        Some(s) => Some(
            u64::try_from(*s.get_ref())
                .map_err(|_| at(s.span(), "seed must be 0 or more".into()))?,
        ),
        None => None,
    };
    open_loop::from_file(rates, stages, arrival, max_inflight, seed)
        .map_err(|e| at(first_span, e.to_string()))
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(before.chars().count(), |nl| {
        before[nl + 1..].chars().count()
    }) + 1;
    (line, column)
}
