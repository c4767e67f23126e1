//! Adaptive concurrency limiters: the published algorithms of Netflix concurrency-limits (AIMD,
//! Vegas, Gradient2), Envoy's adaptive concurrency gradient controller and Vector's adaptive
//! request concurrency, each moving a limit from every item's latency, the items in flight when
//! it started, whether it was dropped (failed or timed out) and when it ended. The `gate` holds
//! a point's lanes to the limit and keeps the limit over time, so that a limiter can be judged
//! against the sweep.
//!
//! Parameters are each project's defaults but one: `min_limit` is 1 (concurrency-limits' is 20
//! for AIMD and Gradient2), so that a limiter can go where a target's optimum is. Each is
//! settable: `vegas:alpha=3,beta=6`.

mod aimd;
mod envoy;
mod gate;
mod gradient2;
mod vector;
mod vegas;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::SpecError;

pub use gate::{LimitGate, LimitStep};

/// A concurrency limit algorithm, fed one sample per ended item.
pub trait Limit: Send {
    /// The limit now.
    fn limit(&self) -> usize;
    /// One item ended.
    fn on_sample(&mut self, sample: &Sample);
    /// The latency it takes for "no queue" now, where it keeps one: Vegas's no-load RTT,
    /// Gradient2's long average, Envoy's measured minRTT, Vector's past mean. A reference that
    /// follows the latency the limit causes lets the limit drift; results keep it to show that.
    fn reference(&self) -> Option<Duration> {
        None
    }
}

/// One ended item, as a limiter sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// How long it took.
    pub rtt: Duration,
    /// The items in flight when it started, itself included.
    pub inflight: usize,
    /// It failed or timed out.
    pub dropped: bool,
    /// When it ended, from the point's start: the clock of the limiters that work in windows
    /// of time (Envoy's, Vector's).
    pub at: Duration,
    /// Some item that started since the previous sample found the limit full (Vector's
    /// `reached_limit`: evidence that a larger limit would have been used).
    pub limit_reached: bool,
}

impl Sample {
    /// An item that took `rtt` with `inflight` in flight, ended at the point's start; the limit
    /// counts as reached.
    pub fn new(rtt: Duration, inflight: usize, dropped: bool) -> Sample {
        Sample {
            rtt,
            inflight,
            dropped,
            at: Duration::ZERO,
            limit_reached: true,
        }
    }

    /// The same item, ended at `at`.
    pub fn at(self, at: Duration) -> Sample {
        Sample { at, ..self }
    }
}

/// The algorithms known by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Aimd,
    Vegas,
    Gradient2,
    Envoy,
    Vector,
}

impl Algorithm {
    pub const ALL: [Algorithm; 5] = [
        Algorithm::Aimd,
        Algorithm::Vegas,
        Algorithm::Gradient2,
        Algorithm::Envoy,
        Algorithm::Vector,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Aimd => "aimd",
            Algorithm::Vegas => "vegas",
            Algorithm::Gradient2 => "gradient2",
            Algorithm::Envoy => "envoy",
            Algorithm::Vector => "vector",
        }
    }

    /// Its parameters and their defaults (NaN: a function of the limit unless given).
    fn params(self) -> &'static [(&'static str, f64)] {
        match self {
            Algorithm::Aimd => aimd::PARAMS,
            Algorithm::Vegas => vegas::PARAMS,
            Algorithm::Gradient2 => gradient2::PARAMS,
            Algorithm::Envoy => envoy::PARAMS,
            Algorithm::Vector => vector::PARAMS,
        }
    }
}

/// A limiter as asked for: an algorithm and the parameters given (the rest are defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimiterSpec {
    pub algorithm: Algorithm,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, f64>,
}

impl LimiterSpec {
    /// Its name: `vegas`, or `vegas:alpha=3,beta=6` with parameters.
    pub fn name(&self) -> String {
        self.to_string()
    }

    /// Every parameter with the given ones laid over the defaults; the limit's bounds held
    /// within `ceiling`, the most lanes its point runs.
    pub(crate) fn params(&self, ceiling: usize) -> Params {
        let mut values: BTreeMap<&'static str, f64> =
            self.algorithm.params().iter().copied().collect();
        for (name, value) in &self.params {
            if let Some((known, _)) = self.algorithm.params().iter().find(|(n, _)| n == name) {
                values.insert(known, *value);
            }
        }
        Params {
            values,
            ceiling: ceiling.max(1),
        }
    }

    /// The lowest and highest limit it may set on a point of `ceiling` lanes.
    pub fn bounds(&self, ceiling: usize) -> (usize, usize) {
        self.params(ceiling).bounds()
    }

    /// A parameter's value, given or default; `None` for a name the algorithm does not take.
    pub fn param(&self, name: &str) -> Option<f64> {
        let known = self.algorithm.params().iter().find(|(n, _)| *n == name)?;
        Some(self.params.get(name).copied().unwrap_or(known.1))
    }

    /// Whether `other` runs the same algorithm with the same value for every parameter, given
    /// or default.
    pub fn same_as(&self, other: &LimiterSpec) -> bool {
        self.algorithm == other.algorithm
            && self.algorithm.params().iter().all(|(name, _)| {
                let (a, b) = (self.param(name), other.param(name));
                a == b || a.zip(b).is_some_and(|(a, b)| a.is_nan() && b.is_nan())
            })
    }

    /// The algorithm, ready for samples, on a point of at most `ceiling` lanes.
    pub fn build(&self, ceiling: usize) -> Box<dyn Limit> {
        let p = self.params(ceiling);
        match self.algorithm {
            Algorithm::Aimd => Box::new(aimd::Aimd::new(&p)),
            Algorithm::Vegas => Box::new(vegas::Vegas::new(&p)),
            Algorithm::Gradient2 => Box::new(gradient2::Gradient2::new(&p)),
            Algorithm::Envoy => Box::new(envoy::Envoy::new(&p)),
            Algorithm::Vector => Box::new(vector::Vector::new(&p)),
        }
    }
}

/// An algorithm's parameters, defaults filled in.
pub(crate) struct Params {
    values: BTreeMap<&'static str, f64>,
    ceiling: usize,
}

impl Params {
    fn get(&self, name: &str) -> f64 {
        self.values.get(name).copied().unwrap_or(f64::NAN)
    }

    /// (min, max) of the limit: the algorithm's, within 1 and the ceiling.
    fn bounds(&self) -> (usize, usize) {
        let max = (self.get("max_limit") as usize).clamp(1, self.ceiling);
        let min = (self.get("min_limit") as usize).clamp(1, max);
        (min, max)
    }

    fn initial(&self) -> usize {
        let (min, max) = self.bounds();
        (self.get("initial_limit") as usize).clamp(min, max)
    }
}

impl fmt::Display for LimiterSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.algorithm.name())?;
        let mut sep = ':';
        for (name, value) in &self.params {
            write!(f, "{sep}{name}={value}")?;
            sep = ',';
        }
        Ok(())
    }
}

impl FromStr for LimiterSpec {
    type Err = SpecError;

    /// `vegas` or `vegas:alpha=3,beta=6`.
    fn from_str(text: &str) -> Result<Self, SpecError> {
        let text = text.trim();
        let (name, rest) = text.split_once(':').unwrap_or((text, ""));
        let known = || {
            Algorithm::ALL
                .iter()
                .map(|a| a.name())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let algorithm = Algorithm::ALL
            .into_iter()
            .find(|a| a.name() == name.trim())
            .ok_or_else(|| {
                SpecError::invalid(format!(
                    "unknown limiter '{}' (known limiters: {})",
                    name.trim(),
                    known()
                ))
            })?;
        let mut params = BTreeMap::new();
        for pair in rest.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let accepted = || {
                algorithm
                    .params()
                    .iter()
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                SpecError::invalid(format!(
                    "limiter {}: '{pair}' is not name=value",
                    algorithm.name()
                ))
            })?;
            let key = key.trim();
            if !algorithm.params().iter().any(|(n, _)| *n == key) {
                return Err(SpecError::invalid(format!(
                    "unknown parameter '{key}' for limiter {} (accepted: {})",
                    algorithm.name(),
                    accepted()
                )));
            }
            let value: f64 = value
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite())
                .ok_or_else(|| {
                    SpecError::invalid(format!(
                        "limiter {} parameter '{key}': '{}' is not a number",
                        algorithm.name(),
                        value.trim()
                    ))
                })?;
            check(algorithm, key, value)?;
            params.insert(key.to_string(), value);
        }
        Ok(LimiterSpec { algorithm, params })
    }
}

/// Refuses a value the algorithm cannot work with.
fn check(algorithm: Algorithm, key: &str, value: f64) -> Result<(), SpecError> {
    let why = match key {
        "backoff_ratio" if !(0.5..1.0).contains(&value) => Some("must be in [0.5, 1)"),
        "smoothing" | "ewma_alpha" if !(value > 0.0 && value <= 1.0) => Some("must be in (0, 1]"),
        "decrease_ratio" if !(value > 0.0 && value < 1.0) => Some("must be in (0, 1)"),
        "sample_percentile" if !(value > 0.0 && value <= 100.0) => Some("must be in (0, 100]"),
        "jitter" if !(0.0..=100.0).contains(&value) => Some("must be in [0, 100]"),
        "timeout_ms" | "update_interval_ms" | "min_rtt_interval_ms" if value <= 0.0 => {
            Some("must be positive")
        }
        "buffer" | "rtt_deviation_scale" if value < 0.0 => Some("must not be negative"),
        "rtt_tolerance" if value < 1.0 => Some("must be at least 1"),
        "initial_limit" | "min_limit" | "max_limit" | "long_window" | "probe_multiplier"
        | "min_concurrency" | "request_count"
            if value < 1.0 || value.fract() != 0.0 =>
        {
            Some("must be a whole number, at least 1")
        }
        "alpha" | "beta" | "threshold" | "queue_size" if value < 0.0 => {
            Some("must not be negative")
        }
        _ => None,
    };
    match why {
        Some(why) => Err(SpecError::invalid(format!(
            "limiter {} parameter '{key}' {why}, got {value}",
            algorithm.name()
        ))),
        None => Ok(()),
    }
}

/// Limiters from a comma list where each may carry its own parameters:
/// `aimd,vegas:alpha=3,beta=6,gradient2` — a piece with `=` belongs to the limiter before it.
pub fn parse_limiters(text: &str) -> Result<Vec<LimiterSpec>, SpecError> {
    let mut pieces: Vec<String> = Vec::new();
    for piece in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match pieces.last_mut() {
            Some(last) if piece.contains('=') && !piece.contains(':') => {
                last.push(',');
                last.push_str(piece);
            }
            _ => pieces.push(piece.to_string()),
        }
    }
    if pieces.is_empty() {
        return Err(SpecError::invalid(
            "--limiter needs at least one limiter (aimd, vegas, gradient2, envoy, vector)",
        ));
    }
    let limiters = pieces
        .iter()
        .map(|p| p.parse())
        .collect::<Result<Vec<LimiterSpec>, _>>()?;
    check_distinct(&limiters)?;
    Ok(limiters)
}

/// One algorithm may run with several sets of parameters (`vegas,vegas:alpha=2`), each its own
/// point and row; the same limiter twice would measure one thing twice under one name.
/// A parameter given at its default is the same limiter as one that leaves it out.
pub fn check_distinct(limiters: &[LimiterSpec]) -> Result<(), SpecError> {
    for (i, l) in limiters.iter().enumerate() {
        if let Some(earlier) = limiters[..i].iter().find(|o| o.same_as(l)) {
            let same = match earlier == l {
                true => String::new(),
                false => format!(" ({earlier} is the same limiter)"),
            };
            return Err(SpecError::invalid(format!(
                "limiter {l} is given twice{same}"
            )));
        }
    }
    Ok(())
}

/// A number in [0, 1) from `n`: splitmix64, so that a rerun draws the same.
fn unit_hash(n: u64) -> f64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// The limits `limit` takes against a simulated server of capacity 8 at 20 ms that queues past
/// it (latency 20 ms × max(1, limit / 8), items ending at the rate that allows), noise-free, over
/// `seconds`: one limit per sample.
#[cfg(test)]
pub(super) fn on_a_queueing_server(limit: &mut dyn Limit, seconds: u64) -> Vec<usize> {
    let mut at = Duration::ZERO;
    let mut limits = Vec::new();
    while at < Duration::from_secs(seconds) {
        let n = limit.limit();
        let rtt = Duration::from_millis(20).mul_f64((n as f64 / 8.0).max(1.0));
        at += rtt / n as u32;
        limit.on_sample(&Sample::new(rtt, n, false).at(at));
        limits.push(limit.limit());
    }
    limits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_keeps_each_limiters_parameters_with_it() {
        let l = parse_limiters("aimd, vegas:alpha=3,beta=6 ,gradient2:queue_size=2").unwrap();
        let names: Vec<String> = l.iter().map(|l| l.name()).collect();
        assert_eq!(
            names,
            ["aimd", "vegas:alpha=3,beta=6", "gradient2:queue_size=2"]
        );
        assert_eq!(l[1].params(100).get("alpha"), 3.0);
        assert_eq!(l[1].params(100).get("probe_multiplier"), 30.0);
    }

    #[test]
    fn bad_limiters_are_refused_in_one_line() {
        let err = |text: &str| parse_limiters(text).unwrap_err().to_string();
        assert!(
            err("cubic").starts_with("unknown limiter 'cubic'"),
            "{}",
            err("cubic")
        );
        assert!(
            err("vegas:gamma=2").starts_with("unknown parameter 'gamma' for limiter vegas"),
            "{}",
            err("vegas:gamma=2")
        );
        assert!(err("aimd:backoff_ratio=0.2").contains("[0.5, 1)"));
        assert!(err("vegas:alpha=x").contains("not a number"));
        assert!(err("vector:decrease_ratio=1").contains("(0, 1)"));
        assert!(err("envoy:sample_percentile=0").contains("(0, 100]"));
        assert!(err("envoy:request_count=2.5").contains("whole number"));
        assert!(err("vegas,vegas").contains("twice"));
        assert!(err("").contains("at least one"));
    }

    #[test]
    fn one_algorithm_runs_several_ways_but_one_limiter_runs_once() {
        let both = parse_limiters("vegas,vegas:alpha=2,beta=4,aimd:backoff_ratio=0.5").unwrap();
        let names: Vec<String> = both.iter().map(LimiterSpec::name).collect();
        assert_eq!(
            names,
            ["vegas", "vegas:alpha=2,beta=4", "aimd:backoff_ratio=0.5"]
        );
        let err = |text: &str| parse_limiters(text).unwrap_err().to_string();
        assert_eq!(
            err("vegas:alpha=2,vegas:alpha=2.0"),
            "limiter vegas:alpha=2 is given twice"
        );
        // A parameter given at its default: the same limiter under another name.
        assert_eq!(
            err("aimd,aimd:backoff_ratio=0.9"),
            "limiter aimd:backoff_ratio=0.9 is given twice (aimd is the same limiter)"
        );
    }

    #[test]
    fn bounds_are_held_within_the_lanes() {
        let p = "gradient2".parse::<LimiterSpec>().unwrap().params(16);
        assert_eq!(p.bounds(), (1, 16));
        assert_eq!(p.initial(), 16, "the initial 20 cannot exceed 16 lanes");
    }
}
