//! Run specs: a TOML file and/or command-line flags → one typed, validated `RunSpec`. Every
//! mistake is refused here, before anything runs, with the file, line and column where known.
//! The spec holds all a sweep asks for, down to its SLO and the weighting of its fit.
//!
//! ```
//! use throttlebench::spec::{self, Overrides};
//! use throttlebench::{BackendKind, Budget, Registry};
//!
//! let text = "[workload]\nkind = \"sleep\"\nms = 20\n[sweep]\nlimits = \"1..16\"\nslo = \"p99=50ms\"\n";
//! let flags = Overrides { items: Some(40), ..Overrides::default() };
//! let spec = spec::parse(text, "demo.toml", None, &flags, &Registry::builtin())?;
//! assert_eq!(spec.sweep.limits, [1, 2, 4, 8, 16]);
//! assert_eq!(spec.sweep.budget, Budget::Items(40));
//! assert_eq!(spec.sweep.backends, [BackendKind::Thread, BackendKind::Async]);
//! assert_eq!(spec.sweep.slo.unwrap().to_string(), "p99=50ms");
//!
//! // A mistake names where it stands.
//! let err = spec::parse("[workload]\nkind = \"slep\"\n", "demo.toml", None, &flags, &Registry::builtin())
//!     .unwrap_err();
//! assert!(err.to_string().starts_with("demo.toml:2:8: unknown workload kind 'slep'"));
//! # Ok::<(), throttlebench::SpecError>(())
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use toml::Spanned;

use crate::backend::hosts::RemoteSettings;
use crate::backend::retry::RetryPolicy;
use crate::backend::{BackendKind, Budget};
use crate::error::SpecError;
use crate::workload::params::{parse_cli_value, ParamType};
use crate::workload::{Registry, WorkloadSpec};

mod remote;
pub mod slo;
mod weights;

pub use remote::{apply_remote_flags, RemoteFlags};
pub use slo::Slo;
pub use weights::FitWeights;

/// Highest throttle accepted: beyond it threads and file descriptors run out before anything
/// useful is measured.
pub const MAX_THROTTLE: usize = 4096;
/// Highest item count accepted per point.
pub const MAX_ITEMS: u64 = 1_000_000_000_000;
const MAX_REPEAT: u32 = 1000;
const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Everything one sweep needs: what to run and how to sweep it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub workload: WorkloadSpec,
    pub sweep: SweepSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSettings {
    /// Backends compared against the baseline (the sequential baseline always runs too).
    pub backends: Vec<BackendKind>,
    /// Throttle limits, ascending, without repeats.
    pub limits: Vec<usize>,
    pub budget: Budget,
    pub repeat: u32,
    pub warmup: u64,
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    #[serde(default)]
    pub trace: bool,
    /// Attempts per item beyond the first, with exponential backoff.
    #[serde(default = "RetryPolicy::none")]
    pub retry: RetryPolicy,
    /// Objectives a throttle must meet to be recommended (`p99=200ms,errors=1%`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<Slo>,
    /// Hosts and ssh settings of the `remote` backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteSettings>,
    /// Measure every point even when no baseline item succeeded (otherwise the sweep stops
    /// after the baseline).
    #[serde(default)]
    pub ignore_failures: bool,
    /// Weighting of the scalability (USL) fit: equal (plain least squares) or relative (1/X²).
    #[serde(default)]
    pub usl_weights: FitWeights,
    /// Keep every point in the scalability fit, even one that looks stalled.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub usl_keep_all: bool,
}

impl Default for SweepSettings {
    fn default() -> Self {
        SweepSettings {
            backends: vec![BackendKind::Thread, BackendKind::Async],
            limits: vec![1, 2, 4, 8, 16, 32],
            budget: Budget::Items(100),
            repeat: 1,
            warmup: 0,
            timeout: None,
            trace: false,
            retry: RetryPolicy::none(),
            slo: None,
            remote: None,
            ignore_failures: false,
            usl_weights: Default::default(),
            usl_keep_all: false,
        }
    }
}

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
    #[arg(long, value_name = "LIMITS")]
    pub limits: Option<String>,
    /// Items per point.
    #[arg(long, value_name = "N", conflicts_with = "duration")]
    pub items: Option<u64>,
    /// Run each point for this long instead of a fixed item count (e.g. 10s).
    #[arg(long, value_name = "TIME")]
    pub duration: Option<String>,
    /// Repetitions of every point (interleaved).
    #[arg(long, value_name = "R")]
    pub repeat: Option<u32>,
    /// Unmeasured items run before each point, at its throttle.
    #[arg(long, value_name = "W")]
    pub warmup: Option<u64>,
    /// Per-item timeout (e.g. 5s); an item past it is recorded as timed out.
    #[arg(long, value_name = "TIME")]
    pub timeout: Option<String>,
    /// Attempts per item after a failure (exponential backoff with jitter).
    #[arg(long, value_name = "N")]
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
}

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
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawLimits {
    List(Vec<i64>),
    Text(String),
}

/// Reads a spec file, applies the overrides, validates the result.
pub fn load(path: &Path, overrides: &Overrides, registry: &Registry) -> Result<RunSpec, SpecError> {
    let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().to_string());
    parse(
        &text,
        &path.display().to_string(),
        stem,
        overrides,
        registry,
    )
}

/// A spec from flags alone (`run --kind K --param k=v …`).
pub fn from_flags(overrides: &Overrides, registry: &Registry) -> Result<RunSpec, SpecError> {
    let kind = overrides.kind.clone().ok_or_else(|| {
        SpecError::invalid("give a spec file (run SPEC.toml) or a workload kind (run --kind sleep)")
    })?;
    let mut spec = RunSpec {
        name: kind.clone(),
        description: None,
        workload: WorkloadSpec {
            kind,
            params: BTreeMap::new(),
        },
        sweep: SweepSettings::default(),
    };
    apply(&mut spec, overrides, registry)?;
    Ok(spec)
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
    apply(&mut spec, overrides, registry)?;
    Ok(spec)
}

/// Applies command-line overrides, then validates the whole spec.
fn apply(spec: &mut RunSpec, o: &Overrides, registry: &Registry) -> Result<(), SpecError> {
    if let Some(kind) = &o.kind {
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
    for pair in &o.params {
        let (name, text) = pair.split_once('=').ok_or_else(|| {
            SpecError::invalid(format!("--param expects name=value, got '{pair}'"))
        })?;
        let name = name.trim();
        let def =
            kind.params
                .iter()
                .find(|d| d.name == name)
                .ok_or_else(|| SpecError::UnknownParam {
                    kind: kind.name.to_string(),
                    param: name.to_string(),
                    accepted: crate::workload::params::accepted_names(kind.params),
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
    if let Some(b) = &o.backends {
        spec.sweep.backends = parse_backends(b)?;
    }
    if let Some(l) = &o.limits {
        spec.sweep.limits = parse_limits(l)?;
    }
    if let Some(n) = o.items {
        spec.sweep.budget = Budget::Items(checked_items(n.min(i64::MAX as u64) as i64)?);
    }
    if let Some(d) = &o.duration {
        spec.sweep.budget = Budget::Duration(parse_budget_duration(d)?);
    }
    if let Some(r) = o.repeat {
        spec.sweep.repeat = checked_repeat(i64::from(r))?;
    }
    if let Some(w) = o.warmup {
        spec.sweep.warmup = w;
    }
    if let Some(t) = &o.timeout {
        spec.sweep.timeout = Some(parse_timeout(t)?);
    }
    spec.sweep.trace |= o.trace;
    spec.sweep.ignore_failures |= o.ignore_failures;
    if let Some(r) = o.retries {
        spec.sweep.retry.retries = checked_retries(i64::from(r))?;
    }
    if let Some(b) = &o.retry_backoff {
        spec.sweep.retry.backoff = parse_duration(b, "retry backoff")?;
    }
    if let Some(text) = &o.slo {
        spec.sweep.slo = Some(text.parse()?);
    }
    if let Some(name) = &o.name {
        spec.name = name.clone();
    }
    // The whole parameter set once more, with defaults, so the kind's own checks run now.
    registry.build(&spec.workload)?;
    Ok(())
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(before.chars().count(), |nl| {
        before[nl + 1..].chars().count()
    }) + 1;
    (line, column)
}

/// `thread,async` → backends. `sequential` may be named; the baseline runs regardless.
pub fn parse_backends(text: &str) -> Result<Vec<BackendKind>, SpecError> {
    let mut backends = Vec::new();
    for name in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let kind: BackendKind = name.parse()?;
        if kind != BackendKind::Sequential && !backends.contains(&kind) {
            backends.push(kind);
        }
    }
    if backends.is_empty() && !text.split(',').any(|s| s.trim() == "sequential") {
        return Err(SpecError::invalid(
            "no backend given (e.g. --backend thread,async)",
        ));
    }
    Ok(backends)
}

/// `1,2,4,8` (a list) or `1..64` (doubling from the first to the last, the last included).
pub fn parse_limits(text: &str) -> Result<Vec<usize>, SpecError> {
    let text = text.trim();
    if let Some((from, to)) = text.split_once("..") {
        let from = parse_throttle(from)?;
        let to = parse_throttle(to.trim_start_matches('='))?;
        if from > to {
            return Err(SpecError::invalid(format!(
                "limit range {text} runs backwards"
            )));
        }
        let mut limits = Vec::new();
        let mut n = from;
        while n < to {
            limits.push(n);
            n *= 2;
        }
        limits.push(to);
        return Ok(limits);
    }
    let list: Result<Vec<usize>, SpecError> = text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(parse_throttle)
        .collect();
    finish_limits(list?)
}

fn parse_throttle(text: &str) -> Result<usize, SpecError> {
    let text = text.trim();
    let n: i64 = text.parse().map_err(|_| {
        SpecError::invalid(format!(
            "throttle '{text}' is not a number (limits look like 1,2,4,8 or 1..64)"
        ))
    })?;
    checked_limits(vec![n]).map(|v| v[0])
}

fn checked_limits(list: Vec<i64>) -> Result<Vec<usize>, SpecError> {
    let mut limits = Vec::with_capacity(list.len());
    for n in list {
        if n < 1 {
            return Err(SpecError::invalid(format!(
                "throttle {n} is not allowed: a throttle is at least 1"
            )));
        }
        if n as u64 > MAX_THROTTLE as u64 {
            return Err(SpecError::invalid(format!(
                "throttle {n} is above the maximum of {MAX_THROTTLE}"
            )));
        }
        limits.push(n as usize);
    }
    finish_limits(limits)
}

fn finish_limits(mut limits: Vec<usize>) -> Result<Vec<usize>, SpecError> {
    if limits.is_empty() {
        return Err(SpecError::invalid(
            "the list of throttle limits is empty (e.g. --limits 1,2,4,8)",
        ));
    }
    limits.sort_unstable();
    limits.dedup();
    Ok(limits)
}

fn checked_items(n: i64) -> Result<u64, SpecError> {
    if n < 1 {
        return Err(SpecError::invalid(format!(
            "items must be at least 1, got {n}"
        )));
    }
    if n as u64 > MAX_ITEMS {
        return Err(SpecError::invalid(format!("items {n} is above the maximum of {MAX_ITEMS} per point (use --duration for long runs)")));
    }
    Ok(n as u64)
}

fn checked_retries(n: i64) -> Result<u32, SpecError> {
    if !(0..=100).contains(&n) {
        return Err(SpecError::invalid(format!(
            "retries must be between 0 and 100, got {n}"
        )));
    }
    Ok(n as u32)
}

fn checked_repeat(n: i64) -> Result<u32, SpecError> {
    if !(1..=i64::from(MAX_REPEAT)).contains(&n) {
        return Err(SpecError::invalid(format!(
            "repeat must be between 1 and {MAX_REPEAT}, got {n}"
        )));
    }
    Ok(n as u32)
}

/// A positive duration such as `10s`, `250ms`, `1m 30s`.
pub fn parse_duration(text: &str, what: &str) -> Result<Duration, SpecError> {
    let d = humantime::parse_duration(text.trim()).map_err(|e| {
        SpecError::invalid(format!(
            "{what} '{text}' is not a duration such as 10s or 250ms ({e})"
        ))
    })?;
    if d.is_zero() {
        return Err(SpecError::invalid(format!(
            "{what} must be longer than zero"
        )));
    }
    if d > MAX_DURATION {
        return Err(SpecError::invalid(format!(
            "{what} '{text}' is longer than the maximum of 24h"
        )));
    }
    Ok(d)
}

fn parse_budget_duration(text: &str) -> Result<Duration, SpecError> {
    parse_duration(text, "duration")
}

fn parse_timeout(text: &str) -> Result<Duration, SpecError> {
    parse_duration(text, "timeout")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_text(text: &str) -> Result<RunSpec, SpecError> {
        parse(
            text,
            "t.toml",
            Some("t".into()),
            &Overrides::default(),
            &Registry::builtin(),
        )
    }

    #[test]
    fn a_full_spec_parses() {
        let spec = parse_text(
            "name = \"demo\"\n[workload]\nkind = \"sleep\"\nms = 20\n[sweep]\nbackends = [\"thread\"]\nlimits = \"1..16\"\nitems = 40\nrepeat = 3\ntimeout = \"2s\"\n",
        )
        .unwrap();
        assert_eq!(spec.name, "demo");
        assert_eq!(spec.sweep.limits, vec![1, 2, 4, 8, 16]);
        assert_eq!(spec.sweep.budget, Budget::Items(40));
        assert_eq!(spec.sweep.repeat, 3);
        assert_eq!(spec.sweep.timeout, Some(Duration::from_secs(2)));
        assert_eq!(spec.workload.params["ms"], serde_json::json!(20));
    }

    #[test]
    fn malformed_toml_names_line_and_column() {
        let err = parse_text("[workload]\nkind = \"sleep\"\nms = = 3\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("t.toml:3:"), "{err}");
        assert!(!err.contains('\n'), "{err}");
    }

    #[test]
    fn unknown_kind_and_parameter_point_at_their_line() {
        let err = parse_text("[workload]\nkind = \"slep\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("t.toml:2:8") && err.contains("known kinds"),
            "{err}"
        );
        let err = parse_text("[workload]\nkind = \"sleep\"\nmsec = 3\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("t.toml:3:8") && err.contains("accepted: distribution"),
            "{err}"
        );
    }

    #[test]
    fn throttle_zero_and_empty_limits_are_refused() {
        let err = parse_text("[workload]\nkind = \"noop\"\n[sweep]\nlimits = [1, 0]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("t.toml:4:") && err.contains("throttle 0"),
            "{err}"
        );
        assert!(parse_limits("").is_err());
        assert!(parse_limits("0").is_err());
        assert!(parse_limits("x")
            .unwrap_err()
            .to_string()
            .contains("not a number"));
        assert!(parse_limits("1..100000")
            .unwrap_err()
            .to_string()
            .contains("maximum"));
    }

    #[test]
    fn limit_ranges_double_and_include_the_end() {
        assert_eq!(parse_limits("1..64").unwrap(), vec![1, 2, 4, 8, 16, 32, 64]);
        assert_eq!(parse_limits("1..50").unwrap(), vec![1, 2, 4, 8, 16, 32, 50]);
        assert_eq!(parse_limits("3..3").unwrap(), vec![3]);
        assert_eq!(parse_limits("8,1,4,4").unwrap(), vec![1, 4, 8]);
        assert!(parse_limits("8..1").is_err());
    }

    #[test]
    fn an_slo_comes_from_the_file_or_the_flag() {
        let spec =
            parse_text("[workload]\nkind = \"noop\"\n[sweep]\nslo = \"p99=200ms\"\n").unwrap();
        assert_eq!(spec.sweep.slo.unwrap().to_string(), "p99=200ms");
        let err = parse_text("[workload]\nkind = \"noop\"\n[sweep]\nslo = \"p99=soon\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("t.toml:4:7") && err.contains("p99=200ms"),
            "{err}"
        );
        let o = Overrides {
            kind: Some("noop".into()),
            slo: Some("errors=1%".into()),
            ..Overrides::default()
        };
        let spec = from_flags(&o, &Registry::builtin()).unwrap();
        assert_eq!(spec.sweep.slo.unwrap().to_string(), "errors=1%");
    }

    #[test]
    fn flags_override_the_file() {
        let o = Overrides {
            params: vec!["ms=5".into()],
            limits: Some("2,4".into()),
            items: Some(7),
            ..Overrides::default()
        };
        let spec = parse(
            "[workload]\nkind = \"sleep\"\nms = 20\n",
            "t.toml",
            None,
            &o,
            &Registry::builtin(),
        )
        .unwrap();
        assert_eq!(spec.workload.params["ms"], serde_json::json!(5.0));
        assert_eq!(spec.sweep.limits, vec![2, 4]);
        assert_eq!(spec.sweep.budget, Budget::Items(7));
    }

    #[test]
    fn repeated_line_flags_add_up_and_replace_the_files_list() {
        let server = crate::server::Server::start(
            "127.0.0.1:0".parse().unwrap(),
            crate::server::ServerConfig::default(),
            None,
        )
        .unwrap();
        let o = Overrides {
            params: vec![
                "header=Accept-Encoding: gzip, deflate".into(),
                "method=POST".into(),
                "header=X-Id:7".into(),
            ],
            ..Overrides::default()
        };
        let file = format!(
            "[workload]\nkind = \"http\"\nurl = \"{}\"\nheader = [\"From-File: 1\"]\n",
            server.url()
        );
        let spec = parse(&file, "t.toml", None, &o, &Registry::builtin()).unwrap();
        assert_eq!(
            spec.workload.params["header"],
            serde_json::json!(["Accept-Encoding: gzip, deflate", "X-Id:7"])
        );
    }

    #[test]
    fn flag_values_are_checked() {
        let reg = Registry::builtin();
        let bad = |o: Overrides| from_flags(&o, &reg).unwrap_err().to_string();
        let base = Overrides {
            kind: Some("sleep".into()),
            ..Overrides::default()
        };
        assert!(bad(Overrides {
            items: Some(0),
            ..base.clone()
        })
        .contains("at least 1"));
        assert!(bad(Overrides {
            params: vec!["ms=abc".into()],
            ..base.clone()
        })
        .contains("'ms'"));
        assert!(bad(Overrides {
            params: vec!["nope=1".into()],
            ..base.clone()
        })
        .contains("accepted"));
        assert!(bad(Overrides {
            duration: Some("0s".into()),
            ..base.clone()
        })
        .contains("longer than zero"));
        assert!(bad(Overrides {
            backends: Some("fibers".into()),
            ..base.clone()
        })
        .contains("known backends"));
        assert!(bad(Overrides {
            kind: Some("nope".into()),
            ..Overrides::default()
        })
        .contains("known kinds"));
        assert!(bad(Overrides {
            items: Some(1_000_000_000_000_000_000),
            ..base
        })
        .contains("maximum"));
    }
}
