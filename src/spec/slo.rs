//! Service-level objectives as the user writes them: `p99=200ms`, `p50=…`, `p90=…`, `p999=…`,
//! `errors=1%`, several joined by commas. Which throttles meet them is the analysis's business.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::SpecError;
use crate::format::number;

/// What an objective bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    P50,
    P90,
    P99,
    P999,
    /// Failed and timed-out items as a share of all items.
    Errors,
}

impl Metric {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Metric::P50 => "p50",
            Metric::P90 => "p90",
            Metric::P99 => "p99",
            Metric::P999 => "p999",
            Metric::Errors => "errors",
        }
    }
}

/// One bound: latency in ms, or an error share in 0..1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bound {
    pub metric: Metric,
    pub limit: f64,
}

/// All bounds must hold for a throttle to be feasible.
#[derive(Debug, Clone, PartialEq)]
pub struct Slo {
    pub bounds: Vec<Bound>,
}

/// Share of failed and timed-out items a throttle may have and still count as doing the work,
/// when the SLO names no `errors=` bound of its own.
pub const DEFAULT_ERROR_BUDGET: f64 = 0.01;

/// The error budget in force: the SLO's `errors=` bound, else 1%.
pub fn error_budget(slo: Option<&Slo>) -> f64 {
    slo.and_then(|s| s.bounds.iter().find(|b| b.metric == Metric::Errors))
        .map_or(DEFAULT_ERROR_BUDGET, |b| b.limit)
}

impl Slo {
    /// The bound to quote in a summary: the first latency bound, else the first.
    pub fn headline(&self) -> Option<Bound> {
        self.bounds
            .iter()
            .find(|b| b.metric != Metric::Errors)
            .or(self.bounds.first())
            .copied()
    }
}

impl Bound {
    /// The bound's figure with its unit: `200 ms`, `1%`.
    pub(crate) fn show(&self, value: f64) -> String {
        match self.metric {
            Metric::Errors => format!("{}%", number(value * 100.0)),
            _ => format!("{} ms", number(value)),
        }
    }
}

impl fmt::Display for Slo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .bounds
            .iter()
            .map(|b| match b.metric {
                Metric::Errors => format!("errors={}%", b.limit * 100.0),
                m => format!("{}={}ms", m.name(), b.limit),
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

impl FromStr for Slo {
    type Err = SpecError;

    fn from_str(text: &str) -> Result<Self, SpecError> {
        let bad = |why: String| {
            SpecError::invalid(format!(
                "SLO '{text}': {why} (write e.g. p99=200ms, p50=20ms, p999=1s or errors=1%)"
            ))
        };
        let mut bounds = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| bad(format!("'{part}' has no '='")))?;
            let metric = match name.trim().to_ascii_lowercase().as_str() {
                "p50" => Metric::P50,
                "p90" => Metric::P90,
                "p99" => Metric::P99,
                "p999" | "p99.9" => Metric::P999,
                "errors" | "error" => Metric::Errors,
                other => return Err(bad(format!("unknown objective '{other}'"))),
            };
            let value = value.trim();
            let name = metric.name();
            let limit = match metric {
                Metric::Errors => parse_share(value),
                _ => parse_millis(value),
            }
            .map_err(|why| match why {
                Unreadable::NoUnit if metric == Metric::Errors => SpecError::invalid(format!(
                    "SLO '{text}': {name}={value} needs its unit: write {name}={value}% for {value} percent"
                )),
                Unreadable::NoUnit => SpecError::invalid(format!(
                    "SLO '{text}': {name}={value} needs a time unit, as every duration does: write {name}={value}ms or {name}={value}s"
                )),
                Unreadable::Bad => bad(format!("cannot read '{value}'")),
            })?;
            bounds.retain(|b: &Bound| b.metric != metric);
            bounds.push(Bound { metric, limit });
        }
        if bounds.is_empty() {
            return Err(bad("no objective given".into()));
        }
        Ok(Slo { bounds })
    }
}

/// Why an objective's figure was refused.
enum Unreadable {
    /// A plain number: milliseconds or seconds? a share or a percentage? Not guessed.
    NoUnit,
    Bad,
}

/// `200ms`, `1.5s`, `800us` → milliseconds.
fn parse_millis(text: &str) -> Result<f64, Unreadable> {
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix("us").or(text.strip_suffix("µs")) {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        return Err(unit_missing(text));
    };
    let v: f64 = number.trim().parse().map_err(|_| Unreadable::Bad)?;
    (v.is_finite() && v > 0.0)
        .then_some(v * scale)
        .ok_or(Unreadable::Bad)
}

/// `1%` → 0.01.
fn parse_share(text: &str) -> Result<f64, Unreadable> {
    let number = text.strip_suffix('%').ok_or_else(|| unit_missing(text))?;
    let v: f64 = number.trim().parse().map_err(|_| Unreadable::Bad)?;
    let share = v * 0.01;
    (share.is_finite() && (0.0..=1.0).contains(&share))
        .then_some(share)
        .ok_or(Unreadable::Bad)
}

fn unit_missing(text: &str) -> Unreadable {
    if text.parse::<f64>().is_ok() {
        Unreadable::NoUnit
    } else {
        Unreadable::Bad
    }
}

impl Serialize for Slo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Slo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objectives_parse_in_every_unit() {
        let slo: Slo = "p99=200ms, p50=0.5s,p999=800us,errors=1%".parse().unwrap();
        assert_eq!(slo.bounds.len(), 4);
        assert_eq!(slo.bounds[0].limit, 200.0);
        assert_eq!(slo.bounds[1].limit, 500.0);
        assert!((slo.bounds[2].limit - 0.8).abs() < 1e-12);
        assert!((slo.bounds[3].limit - 0.01).abs() < 1e-12);
        let again: Slo = slo.to_string().parse().unwrap();
        assert_eq!(again, slo);
    }

    #[test]
    fn bad_objectives_say_what_is_accepted() {
        for text in ["", "p99", "p98=1ms", "p99=fast", "p99=-1ms", "errors=150%"] {
            let err = text.parse::<Slo>().unwrap_err().to_string();
            assert!(err.contains("p99=200ms"), "{text}: {err}");
        }
    }

    #[test]
    fn a_figure_without_its_unit_is_refused_not_guessed() {
        let err = "p99=100".parse::<Slo>().unwrap_err().to_string();
        assert!(err.contains("write p99=100ms or p99=100s"), "{err}");
        let err = "errors=0.01".parse::<Slo>().unwrap_err().to_string();
        assert!(err.contains("write errors=0.01%"), "{err}");
    }
}
