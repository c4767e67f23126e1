//! What a limiter's point adds to its result row: which limiter, how many lanes it could use,
//! and its limit over time. The row's `throttle` is where the limit settled.

use serde::{Deserialize, Serialize};

use crate::backend::limiter::{LimitStep, LimiterSpec};

/// A limiter's run on one backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimiterTrack {
    pub limiter: LimiterSpec,
    /// Lanes started: the highest the limit could go.
    pub lanes: usize,
    /// The median of the limit over the second half of the point (time-weighted).
    pub settled: f64,
    /// The limit at the start and at every change, seconds from the point's start.
    pub limit_over_time: Vec<LimitStep>,
}

/// How a limiter did against the sweep's truth (the analysis's `limiters`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LimiterJudgement {
    /// `async+vegas`.
    pub label: String,
    pub backend: crate::backend::BackendKind,
    /// The limiter with its parameters, as given.
    pub limiter: String,
    /// Where the limit settled: its median over the second half of the point.
    pub settled: f64,
    pub lanes: usize,
    /// Seconds from the start until the limit first came within 10 % of where it settled.
    pub settle_s: Option<f64>,
    /// After that: the limit's time-weighted standard deviation, and its lowest and highest.
    pub swing_sd: f64,
    pub swing_min: usize,
    pub swing_max: usize,
    pub goodput_per_s: f64,
    /// The share of the limiter's items that failed or timed out, 0–1: a limiter that keeps
    /// goodput by sending many requests a target refuses is not one to copy.
    #[serde(default)]
    pub failed_share: f64,
    pub p99_ms: Option<f64>,
    /// The same backend's best static throttle (highest goodput) and that goodput.
    pub best_throttle: Option<usize>,
    pub best_goodput_per_s: Option<f64>,
    /// The static throttle the analysis recommends on that backend (the smallest within 95 %
    /// of the best goodput, meeting any SLO) and its p99: the latency a static limit gets.
    pub recommended_throttle: Option<usize>,
    pub recommended_p99_ms: Option<f64>,
    /// The swept knee and the USL's N* on the same backend.
    pub knee: Option<usize>,
    pub n_star: Option<usize>,
    /// The limiter's reference latency ("no queue", where it keeps one): the first it kept and
    /// its median over the second half, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_ms: Option<(f64, f64)>,
    /// How the limit moved once near where it settled; `None` in results written before
    /// throttlebench said so.
    #[serde(default)]
    pub behaviour: Option<Behaviour>,
    /// Why the limiter missed the level the sweep found; `None` when it found it.
    pub missed: Option<String>,
    /// The findings in one sentence.
    pub summary: String,
}

/// How a limiter's limit moved, in the words its users complain in. Descriptive: whether it
/// found the level is the judgement's `missed`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Behaviour {
    /// Held near one level once there.
    Steady,
    /// Swung widely around its level, or was never within 10 % of it.
    Oscillating,
    /// Moved by `by` over the second half of the point (least-squares line).
    Drifting { by: f64 },
    /// First came near its level only after `after_s`, past half of the point.
    SlowToSettle { after_s: f64 },
    /// Held at the lowest limit it may set.
    AtFloor { floor: usize },
    /// Held at the highest limit it may set: it limited nothing.
    AtCeiling { ceiling: usize },
}

impl std::fmt::Display for Behaviour {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Behaviour::Steady => f.write_str("steady"),
            Behaviour::Oscillating => f.write_str("oscillating"),
            Behaviour::Drifting { by } => {
                let way = if by > 0.0 { "up" } else { "down" };
                write!(f, "drifting {way} ({by:+.0} over the second half)")
            }
            Behaviour::SlowToSettle { after_s } => {
                write!(f, "slow to settle (near its level after {after_s:.1} s)")
            }
            Behaviour::AtFloor { floor } => write!(f, "stuck at its floor of {floor}"),
            Behaviour::AtCeiling { ceiling } => write!(f, "held at its ceiling of {ceiling}"),
        }
    }
}
