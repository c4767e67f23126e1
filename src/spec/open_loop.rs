//! The open loop in a spec: offered rates (`--rates`, `rates = […]`), how arrivals are spaced
//! (`--arrival`), the cap on items in flight (`--max-inflight`) and the seed of Poisson
//! arrivals — read from the file or the flags, and checked against the backends.

use serde::{Deserialize, Serialize};

use super::{RunSpec, MAX_THROTTLE};
use crate::backend::driver::{Arrival, Stage};
use crate::backend::BackendKind;
use crate::error::SpecError;

/// Items in flight an open-loop point allows unless told otherwise: generous, so that only a
/// service slower than 256 concurrent items makes arrivals wait for a free slot.
pub const DEFAULT_MAX_INFLIGHT: usize = 256;
/// The same default on `process` and `remote`, where each item in flight holds a worker process
/// (and on `remote` an ssh connection) for the whole point: 256 of them would cost more to start
/// than most points measure.
pub const DEFAULT_POOL_MAX_INFLIGHT: usize = 32;
/// Highest offered rate accepted, items/s.
pub const MAX_RATE: f64 = 10_000_000.0;
const DEFAULT_SEED: u64 = 1;

/// Open-loop points of a sweep: one per rate and backend, beside any closed-loop throttles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenLoop {
    /// Offered rates, items/s, ascending, without repeats.
    pub rates: Vec<f64>,
    #[serde(default)]
    pub arrival: Arrival,
    /// Items in flight at most, when given; an item due when all are busy starts late. Unset,
    /// each backend has its own default (`max_inflight_on`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_inflight: Option<usize>,
    /// Seeds Poisson arrivals (each point mixes in its rate and repetition).
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// A ramping run instead of rates (`[[sweep.stages]]`): one point per backend.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<Stage>,
}

fn default_seed() -> u64 {
    DEFAULT_SEED
}

impl OpenLoop {
    fn with_rates(rates: Vec<f64>) -> OpenLoop {
        OpenLoop {
            rates,
            arrival: Arrival::Constant,
            max_inflight: None,
            seed: DEFAULT_SEED,
            stages: Vec::new(),
        }
    }

    /// Items in flight at most on `backend`: as given, or the backend's default.
    pub fn max_inflight_on(&self, backend: BackendKind) -> usize {
        self.max_inflight.unwrap_or(match backend {
            BackendKind::Process | BackendKind::Remote => DEFAULT_POOL_MAX_INFLIGHT,
            _ => DEFAULT_MAX_INFLIGHT,
        })
    }

    /// The offered rates of the run's points: the rates, or the stages' mean rate.
    pub fn point_rates(&self) -> Vec<f64> {
        if self.stages.is_empty() {
            self.rates.clone()
        } else {
            vec![Stage::mean_rate(&self.stages)]
        }
    }
}

/// The open-loop flags `run` shares with `tune`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct OpenLoopFlags {
    /// Open loop: offered rates in items/s, a list (100,200,400) or a doubling range
    /// (100..6400). Each rate is a point; with --limits too, both loops run.
    #[arg(long, value_name = "RATES", allow_hyphen_values = true)]
    pub rates: Option<String>,
    /// Open loop: how arrivals are spaced, constant or poisson (seeded).
    #[arg(long, value_name = "KIND")]
    pub arrival: Option<String>,
    /// Open loop: items in flight at most (default 256; 32 on process and remote, one worker
    /// each); an item due when all are busy waits and starts late.
    #[arg(long, value_name = "N", allow_hyphen_values = true)]
    pub max_inflight: Option<String>,
}

impl OpenLoopFlags {
    /// Lays the flags over `spec`. With rates and no throttles given anywhere, the run is open
    /// loop only: the default throttles are not measured.
    pub(super) fn apply(&self, spec: &mut RunSpec, limits_given: bool) -> Result<(), SpecError> {
        if let Some(text) = &self.rates {
            let rates = parse_rates(text)?;
            match &mut spec.sweep.open_loop {
                Some(open) => open.rates = rates,
                None => spec.sweep.open_loop = Some(OpenLoop::with_rates(rates)),
            }
        }
        if self.arrival.is_some() || self.max_inflight.is_some() {
            let open = spec.sweep.open_loop.as_mut().ok_or_else(|| {
                SpecError::invalid("--arrival and --max-inflight need --rates (the open loop)")
            })?;
            if let Some(text) = &self.arrival {
                open.arrival = parse_arrival(text)?;
            }
            if let Some(text) = &self.max_inflight {
                open.max_inflight = Some(parse_max_inflight(text)?);
            }
        }
        if spec.sweep.open_loop.is_some() && !limits_given {
            spec.sweep.limits.clear();
        }
        check(spec)
    }
}

/// The open loop's settings against the rest of the spec.
fn check(spec: &RunSpec) -> Result<(), SpecError> {
    let Some(open) = &spec.sweep.open_loop else {
        return Ok(());
    };
    if spec.sweep.backends.contains(&BackendKind::Rayon) {
        return Err(SpecError::invalid(
            "--rates cannot run on the rayon backend: its par_iter hands each thread a range of items ahead of time, so no item can start at its intended time (use thread, async, process, process-per-item or remote)",
        ));
    }
    if !spec.sweep.backends.iter().any(|k| k.runs_open_loop()) {
        return Err(SpecError::invalid(
            "--rates needs a concurrent backend (thread, async, process, process-per-item or remote): sequential runs one item at a time and cannot keep a rate",
        ));
    }
    if !open.stages.is_empty() && !open.rates.is_empty() {
        return Err(SpecError::invalid(
            "give rates or [[sweep.stages]], not both: stages make one ramping point per backend",
        ));
    }
    if open.rates.is_empty() && open.stages.is_empty() {
        return Err(SpecError::invalid(
            "the list of rates is empty (e.g. --rates 100,200,400)",
        ));
    }
    if !open.stages.is_empty() && Stage::mean_rate(&open.stages) <= 0.0 {
        return Err(SpecError::invalid(
            "the stages offer no items: give at least one stage a rate above 0",
        ));
    }
    Ok(())
}

/// `100,200,400` (a list) or `100..6400` (doubling from the first to the last, included).
pub fn parse_rates(text: &str) -> Result<Vec<f64>, SpecError> {
    let text = text.trim();
    let mut rates = Vec::new();
    if let Some((from, to)) = text.split_once("..") {
        let from = parse_rate(from)?;
        let to = parse_rate(to.trim_start_matches('='))?;
        if from > to {
            return Err(SpecError::invalid(format!(
                "rate range {text} runs backwards"
            )));
        }
        let mut rate = from;
        while rate < to {
            rates.push(rate);
            rate *= 2.0;
        }
        rates.push(to);
    } else {
        for part in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            rates.push(parse_rate(part)?);
        }
    }
    finish_rates(rates)
}

/// The rates of a TOML list, each checked.
pub(super) fn checked_rates(list: Vec<f64>) -> Result<Vec<f64>, SpecError> {
    let rates = list
        .into_iter()
        .map(checked_rate)
        .collect::<Result<Vec<_>, _>>()?;
    finish_rates(rates)
}

fn finish_rates(mut rates: Vec<f64>) -> Result<Vec<f64>, SpecError> {
    if rates.is_empty() {
        return Err(SpecError::invalid(
            "the list of rates is empty (e.g. --rates 100,200,400)",
        ));
    }
    rates.sort_by(f64::total_cmp);
    rates.dedup();
    Ok(rates)
}

fn parse_rate(text: &str) -> Result<f64, SpecError> {
    let text = text.trim();
    let rate: f64 = text.trim_end_matches("/s").parse().map_err(|_| {
        SpecError::invalid(format!(
            "rate '{text}' is not a number (rates look like 100,200,400 or 100..6400, items/s)"
        ))
    })?;
    checked_rate(rate)
}

fn checked_rate(rate: f64) -> Result<f64, SpecError> {
    if !rate.is_finite() || rate <= 0.0 {
        return Err(SpecError::invalid(format!(
            "rate {rate} is not allowed: a rate is more than 0 items/s"
        )));
    }
    if rate > MAX_RATE {
        return Err(SpecError::invalid(format!(
            "rate {rate} is above the maximum of {MAX_RATE} items/s"
        )));
    }
    Ok(rate)
}

pub(super) fn parse_arrival(text: &str) -> Result<Arrival, SpecError> {
    match text.trim() {
        "constant" => Ok(Arrival::Constant),
        "poisson" => Ok(Arrival::Poisson),
        other => Err(SpecError::invalid(format!(
            "arrival must be constant or poisson, got '{other}'"
        ))),
    }
}

fn parse_max_inflight(text: &str) -> Result<usize, SpecError> {
    let n: i64 = text.trim().parse().map_err(|_| {
        SpecError::invalid(format!("--max-inflight '{}' is not a number", text.trim()))
    })?;
    checked_max_inflight(n)
}

pub(super) fn checked_max_inflight(n: i64) -> Result<usize, SpecError> {
    if n < 1 {
        return Err(SpecError::invalid(format!(
            "max-inflight {n} is not allowed: at least 1 item must be in flight"
        )));
    }
    if n as u64 > MAX_THROTTLE as u64 {
        return Err(SpecError::invalid(format!(
            "max-inflight {n} is above the maximum of {MAX_THROTTLE}"
        )));
    }
    Ok(n as usize)
}

/// One stage as read from a file: its rate (≥ 0) and its duration, which it must have.
pub(super) fn checked_stage(
    number: usize,
    rate: Option<f64>,
    duration: Option<&str>,
) -> Result<Stage, SpecError> {
    let rate = rate.ok_or_else(|| {
        SpecError::invalid(format!("stage {number} has no rate (e.g. rate = 500)"))
    })?;
    if !rate.is_finite() || !(0.0..=MAX_RATE).contains(&rate) {
        return Err(SpecError::invalid(format!(
            "stage {number}: rate {rate} must be between 0 and {MAX_RATE} items/s"
        )));
    }
    let duration = duration.ok_or_else(|| {
        SpecError::invalid(format!(
            "stage {number} has no duration (e.g. duration = \"30s\")"
        ))
    })?;
    let duration = super::values::parse_budget_duration(duration)?;
    Ok(Stage { rate, duration })
}

/// The `[sweep]` keys of the open loop, as read from a file; each is checked by the caller
/// where it stands.
pub(super) fn from_file(
    rates: Option<Vec<f64>>,
    stages: Vec<Stage>,
    arrival: Option<Arrival>,
    max_inflight: Option<usize>,
    seed: Option<u64>,
) -> Result<Option<OpenLoop>, SpecError> {
    if rates.is_none() && stages.is_empty() {
        if arrival.is_some() || max_inflight.is_some() || seed.is_some() {
            return Err(SpecError::invalid(
                "arrival, max_inflight and seed need rates = [...] or [[sweep.stages]] (the open loop)",
            ));
        }
        return Ok(None);
    }
    let mut open = OpenLoop::with_rates(rates.unwrap_or_default());
    open.stages = stages;
    open.arrival = arrival.unwrap_or_default();
    open.max_inflight = max_inflight;
    open.seed = seed.unwrap_or(DEFAULT_SEED);
    Ok(Some(open))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_lists_or_doubling_ranges() {
        assert_eq!(parse_rates("400, 100,200").unwrap(), [100.0, 200.0, 400.0]);
        assert_eq!(
            parse_rates("100..1000").unwrap(),
            [100.0, 200.0, 400.0, 800.0, 1000.0]
        );
        assert_eq!(parse_rates("2.5").unwrap(), [2.5]);
    }

    #[test]
    fn a_rate_of_zero_a_negative_or_a_word_is_refused() {
        for bad in ["0", "-5", "abc", "100..0", "", "nan", "inf"] {
            assert!(parse_rates(bad).is_err(), "{bad}");
        }
        assert!(parse_max_inflight("0").is_err());
        assert!(parse_max_inflight("x").is_err());
        assert_eq!(parse_max_inflight("8").unwrap(), 8);
    }

    #[test]
    fn the_cap_in_flight_defaults_per_backend_unless_given() {
        let mut open = OpenLoop::with_rates(vec![100.0]);
        assert_eq!(open.max_inflight_on(BackendKind::Thread), 256);
        assert_eq!(open.max_inflight_on(BackendKind::Process), 32);
        assert_eq!(open.max_inflight_on(BackendKind::Remote), 32);
        open.max_inflight = Some(8);
        assert_eq!(open.max_inflight_on(BackendKind::Process), 8);
        assert_eq!(open.max_inflight_on(BackendKind::Async), 8);
    }
}
