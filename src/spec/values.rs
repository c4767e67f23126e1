//! Single values of a spec, from a file or a flag: backends, throttle limits, counts and
//! durations, each refused with a message that says what is accepted.

use std::time::Duration;

use crate::backend::BackendKind;
use crate::error::SpecError;

use super::{MAX_DURATION, MAX_ITEMS, MAX_REPEAT, MAX_THROTTLE};

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

pub(super) fn checked_limits(list: Vec<i64>) -> Result<Vec<usize>, SpecError> {
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

pub(super) fn checked_items(n: i64) -> Result<u64, SpecError> {
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

pub(super) fn checked_retries(n: i64) -> Result<u32, SpecError> {
    if !(0..=100).contains(&n) {
        return Err(SpecError::invalid(format!(
            "retries must be between 0 and 100, got {n}"
        )));
    }
    Ok(n as u32)
}

pub(super) fn checked_repeat(n: i64) -> Result<u32, SpecError> {
    if !(1..=i64::from(MAX_REPEAT)).contains(&n) {
        return Err(SpecError::invalid(format!(
            "repeat must be between 1 and {MAX_REPEAT}, got {n}"
        )));
    }
    Ok(n as u32)
}

/// A whole number of 1 or more from a flag (`--items 100`). The flag takes negative numbers as
/// values (`allow_negative_numbers`), so that `-5` is refused as a number, not as a flag.
pub fn parse_positive<T: TryFrom<i128>>(text: &str) -> Result<T, String> {
    match whole(text)? {
        n if n < 1 => Err(format!("must be positive (at least 1), got {n}")),
        n => T::try_from(n).map_err(|_| format!("{n} is too large")),
    }
}

/// A whole number of 0 or more from a flag (`--warmup 0`); see `parse_positive`.
pub fn parse_count<T: TryFrom<i128>>(text: &str) -> Result<T, String> {
    match whole(text)? {
        n if n < 0 => Err(format!("must be 0 or positive, got {n}")),
        n => T::try_from(n).map_err(|_| format!("{n} is too large")),
    }
}

fn whole(text: &str) -> Result<i128, String> {
    let text = text.trim();
    text.parse().map_err(|_| match text.parse::<f64>() {
        Ok(x) if x.is_finite() => format!("'{text}' is not a whole number"),
        _ => format!("'{text}' is not a number"),
    })
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

pub(super) fn parse_budget_duration(text: &str) -> Result<Duration, SpecError> {
    parse_duration(text, "duration")
}

pub(super) fn parse_timeout(text: &str) -> Result<Duration, SpecError> {
    parse_duration(text, "timeout")
}
