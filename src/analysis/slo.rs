//! Service-level objectives: `p99=200ms`, `p50=…`, `p90=…`, `p999=…`, `errors=1%`, several
//! joined by commas. Which throttles meet them, which one to use, or that none does.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::SpecError;

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
    fn name(self) -> &'static str {
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

/// The measured figures of one throttle an SLO is checked against (medians over repetitions).
/// Throughput is goodput: successful items per second. Latency is of successful items, and
/// absent when no repetition had one.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Measured {
    pub throttle: usize,
    pub goodput_per_s: f64,
    pub p50_ms: Option<f64>,
    pub p90_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub p999_ms: Option<f64>,
    /// Failed and timed-out items as a share of all items, over every repetition.
    pub error_share: f64,
    /// CPU time / wall time: how many cores the point kept busy.
    pub cpu_cores: f64,
    /// Lowest and highest goodput across the repetitions that speak for the point (a stalled
    /// repetition left out: `knee::robust_range`).
    pub goodput_lo: f64,
    pub goodput_hi: f64,
}

impl Measured {
    fn value(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::P50 => self.p50_ms,
            Metric::P90 => self.p90_ms,
            Metric::P99 => self.p99_ms,
            Metric::P999 => self.p999_ms,
            Metric::Errors => Some(self.error_share),
        }
    }

    /// Whether this throttle did work within the error budget: some successful item, and no
    /// more failures than the budget allows. Only such throttles are recommended.
    pub fn within_budget(&self, budget: f64) -> bool {
        self.goodput_per_s > 0.0 && self.error_share <= budget
    }
}

/// The SLO applied to one backend's throttles.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SloOutcome {
    /// Throttles meeting every bound, ascending.
    pub feasible: Vec<usize>,
    /// The smallest feasible throttle within 95% of the best feasible goodput (`pick`'s rule).
    pub recommended: Option<usize>,
    /// When nothing is feasible: the throttle with the lowest p99, the closest one can get.
    pub lowest_p99_throttle: Option<usize>,
}

impl Slo {
    /// Whether every bound holds and the error budget (the `errors=` bound, else 1%) too. A
    /// latency bound is never met by a throttle without a successful item: it has no latency.
    pub fn met(&self, m: &Measured) -> bool {
        m.within_budget(error_budget(Some(self)))
            && self
                .bounds
                .iter()
                .all(|b| m.value(b.metric).is_some_and(|v| v <= b.limit))
    }

    /// The bound to quote in a summary: the first latency bound, else the first.
    pub fn headline(&self) -> Option<Bound> {
        self.bounds
            .iter()
            .find(|b| b.metric != Metric::Errors)
            .or(self.bounds.first())
            .copied()
    }

    /// `p99 41 ms ≤ 200 ms SLO` for this throttle's figures.
    pub fn quote(&self, m: &Measured) -> String {
        let Some(b) = self.headline() else {
            return String::new();
        };
        match m.value(b.metric) {
            Some(v) => format!(
                "{} {} {} {} SLO",
                b.metric.name(),
                b.show(v),
                if v <= b.limit { "≤" } else { ">" },
                b.show(b.limit)
            ),
            None => format!(
                "no {} (no successful item), {} SLO",
                b.metric.name(),
                b.show(b.limit)
            ),
        }
    }

    pub fn evaluate(&self, rows: &[Measured]) -> SloOutcome {
        let mut feasible: Vec<&Measured> = rows.iter().filter(|m| self.met(m)).collect();
        feasible.sort_by_key(|m| m.throttle);
        let recommended = super::pick::smallest_near_best(feasible.iter().copied());
        // The closest one can get: the lowest p99 among throttles that did their work.
        let budget = error_budget(Some(self));
        let lowest_p99_throttle = if feasible.is_empty() {
            rows.iter()
                .filter(|m| m.within_budget(budget))
                .filter_map(|m| m.p99_ms.map(|p99| (p99, m.throttle)))
                .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)))
                .map(|(_, throttle)| throttle)
        } else {
            None
        };
        SloOutcome {
            feasible: feasible.iter().map(|m| m.throttle).collect(),
            recommended,
            lowest_p99_throttle,
        }
    }
}

impl Bound {
    fn show(&self, value: f64) -> String {
        match self.metric {
            Metric::Errors => format!("{}%", crate::report::table::number(value * 100.0)),
            _ => format!("{} ms", crate::report::table::number(value)),
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
            let limit = match metric {
                Metric::Errors => parse_share(value.trim()),
                _ => parse_millis(value.trim()),
            }
            .ok_or_else(|| bad(format!("cannot read '{}'", value.trim())))?;
            bounds.retain(|b: &Bound| b.metric != metric);
            bounds.push(Bound { metric, limit });
        }
        if bounds.is_empty() {
            return Err(bad("no objective given".into()));
        }
        Ok(Slo { bounds })
    }
}

/// `200ms`, `1.5s`, `800us` → milliseconds; a bare number is milliseconds.
fn parse_millis(text: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix("us").or(text.strip_suffix("µs")) {
        (n, 0.001)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else {
        (text, 1.0)
    };
    let v: f64 = number.trim().parse().ok()?;
    (v.is_finite() && v > 0.0).then_some(v * scale)
}

/// `1%` → 0.01; a bare number is a share (`0.01`).
fn parse_share(text: &str) -> Option<f64> {
    let (number, scale) = match text.strip_suffix('%') {
        Some(n) => (n, 0.01),
        None => (text, 1.0),
    };
    let v: f64 = number.trim().parse().ok()?;
    let share = v * scale;
    (share.is_finite() && (0.0..=1.0).contains(&share)).then_some(share)
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

    fn row(throttle: usize, x: f64, p99: f64) -> Measured {
        Measured {
            throttle,
            goodput_per_s: x,
            p99_ms: Some(p99),
            ..Measured::default()
        }
    }

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
    fn recommends_the_smallest_feasible_throttle_near_the_best_feasible() {
        let slo: Slo = "p99=100ms".parse().unwrap();
        let rows = [
            row(1, 10.0, 20.0),
            row(2, 19.0, 21.0),
            row(4, 38.0, 25.0),
            row(8, 39.0, 60.0),
            row(16, 60.0, 150.0),
        ];
        let out = slo.evaluate(&rows);
        assert_eq!(out.feasible, vec![1, 2, 4, 8]);
        assert_eq!(out.recommended, Some(4));
        assert_eq!(out.lowest_p99_throttle, None);
        assert_eq!(slo.quote(&rows[2]), "p99 25.0 ms ≤ 100 ms SLO");
    }

    #[test]
    fn infeasible_names_the_lowest_p99() {
        let slo: Slo = "p99=10ms".parse().unwrap();
        let out = slo.evaluate(&[row(1, 10.0, 30.0), row(2, 19.0, 20.0), row(4, 30.0, 40.0)]);
        assert!(out.feasible.is_empty());
        assert_eq!(out.recommended, None);
        assert_eq!(out.lowest_p99_throttle, Some(2));
    }

    #[test]
    fn error_share_is_bounded_too() {
        let slo: Slo = "errors=1%".parse().unwrap();
        let mut m = row(1, 1.0, 1.0);
        m.error_share = 0.02;
        assert!(!slo.met(&m));
        m.error_share = 0.005;
        assert!(slo.met(&m));
    }

    #[test]
    fn the_error_budget_holds_without_an_errors_bound() {
        let slo: Slo = "p99=50ms".parse().unwrap();
        assert_eq!(error_budget(Some(&slo)), DEFAULT_ERROR_BUDGET);
        assert_eq!(error_budget(None), DEFAULT_ERROR_BUDGET);
        let mut shedding = row(8, 200.0, 20.0);
        shedding.error_share = 0.99;
        assert!(!slo.met(&shedding), "fast 503s never meet an SLO");
        let loose: Slo = "p99=50ms,errors=100%".parse().unwrap();
        assert!(loose.met(&shedding));
    }

    #[test]
    fn a_throttle_without_a_successful_item_meets_no_latency_bound() {
        let slo: Slo = "p99=50ms,errors=100%".parse().unwrap();
        let nothing = Measured {
            throttle: 4,
            error_share: 1.0,
            ..Measured::default()
        };
        assert!(!slo.met(&nothing));
        assert_eq!(
            slo.quote(&nothing),
            "no p99 (no successful item), 50.0 ms SLO"
        );
        let out = slo.evaluate(&[nothing]);
        assert!(out.feasible.is_empty() && out.lowest_p99_throttle.is_none());
    }
}
