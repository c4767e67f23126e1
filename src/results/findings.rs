//! What the analysis concluded about a sweep, as data: stored in `results.json` beside the
//! points and read back by reports and `compare`. The `analysis` module computes these; they live
//! here, with the results that hold them, so that results never depend on the computation.

use serde::{Deserialize, Serialize};

use crate::backend::BackendKind;
use crate::spec::FitWeights;

/// Everything the analysis concluded, stored in `results.json` and shown in reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// The throttle to use, with the evidence in one sentence.
    #[serde(default)]
    pub recommendation: Option<Recommendation>,
    /// Why there is no recommendation, when there is none (e.g. every throttle failed more
    /// than the error budget).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_recommendation: Option<String>,
    /// One entry per backend that was swept.
    #[serde(default)]
    pub backends: Vec<BackendAnalysis>,
    /// Caveats about the analysis itself (too few points, poor fit, …).
    #[serde(default)]
    pub notes: Vec<String>,
    /// The SLO the throttles were held to, as written (`p99=200ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<String>,
    /// With an SLO: whether any throttle met it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo_met: Option<bool>,
    /// Achieved concurrency against the throttle, per point.
    #[serde(default)]
    pub littles_law: Vec<LittleCheck>,
    /// What a job costs on each backend (startup, memory, CPU, best goodput, crash).
    #[serde(default)]
    pub costs: Vec<super::costs::BackendCost>,
    /// How an adaptive search (`tune`) chose its points, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchRecord>,
    /// Open-loop points: per backend, which offered rates were sustained.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open_loop: Vec<OpenLoopAnalysis>,
    /// Each limiter's point judged against the sweep (`--limiter`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limiters: Vec<super::limited::LimiterJudgement>,
}

/// What one backend's offered rates showed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OpenLoopAnalysis {
    pub backend: BackendKind,
    /// Each offered rate, ascending, repetitions folded into medians.
    pub rates: Vec<RateOutcome>,
    /// The highest offered rate sustained: goodput ≥ 99 % of offered, errors within budget,
    /// the SLO met from the intended start. `None` when none was.
    pub max_sustainable_per_s: Option<f64>,
    /// The finding in one sentence, linked to the closed loop by Little's law when the run
    /// has both.
    pub summary: String,
}

/// One offered rate on one backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateOutcome {
    pub offered_per_s: f64,
    pub goodput_per_s: f64,
    pub error_pct: Option<f64>,
    /// Latency from the intended start.
    pub lat_p50_ms: Option<f64>,
    pub lat_p99_ms: Option<f64>,
    /// Service time, from the actual start.
    pub svc_p99_ms: Option<f64>,
    /// Items in flight on average (Σ service time / wall time).
    pub in_flight: f64,
    /// Items started more than 1 ms late, all repetitions.
    pub late: u64,
    /// Whether the rate was sustained; else why not.
    pub sustained: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub why_not: Option<String>,
}

/// The one throttle to use, on one backend, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub backend: BackendKind,
    pub throttle: usize,
    /// What happens at and past the throttle in measured figures first, then the fit as
    /// evidence: "Use throttle 8 on thread: goodput stops growing between 4 and 8 in flight, at
    /// about 200 successful items/s; past 8 only latency grows (…). At 8: … The USL fit (…) …"
    pub summary: String,
}

/// What one backend's throttles showed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendAnalysis {
    pub backend: BackendKind,
    /// Universal Scalability Law fit, when there were enough points.
    #[serde(default)]
    pub usl: Option<UslFit>,
    /// Smallest throttle reaching ≥ 95% of the peak measured throughput (medians over
    /// repetitions), or whose repetitions overlap the peak's: not distinguishable from it.
    #[serde(default)]
    pub knee: Option<usize>,
    /// Kneedle's knee of the rising curve, a second opinion, where it finds one.
    #[serde(default)]
    pub kneedle: Option<usize>,
    /// The fit's optimum N*, predicted peak, ceiling and residual error.
    #[serde(default)]
    pub scaling: Option<Scaling>,
    /// The throttle with the highest goodput within the error budget, and that goodput
    /// (successful items/s; the field keeps its name for older results files).
    #[serde(default)]
    pub peak_throttle: Option<usize>,
    #[serde(default)]
    pub peak_throughput_per_s: f64,
    /// CPU time / wall time at the peak: the cores the process kept busy there.
    #[serde(default)]
    pub peak_cpu_cores: f64,
    /// Whether throughput at the highest throttle fell more than 10% below the peak: the
    /// retrograde scaling that coherency costs cause.
    #[serde(default)]
    pub retrograde: bool,
    /// The SLO applied to this backend's throttles, when one was given.
    #[serde(default)]
    pub slo: Option<SloOutcome>,
    /// This backend's own pick: the SLO's recommendation, or the knee.
    #[serde(default)]
    pub recommended: Option<usize>,
}

/// X(N) = λN / (1 + σ(N−1) + κN(N−1)).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct UslFit {
    /// Contention (serial fraction).
    pub sigma: f64,
    /// Coherency (crosstalk) cost.
    pub kappa: f64,
    /// Throughput of one unit of concurrency, items/s.
    pub lambda: f64,
}

impl UslFit {
    /// Predicted throughput (items/s) at concurrency `n`.
    pub fn throughput(&self, n: f64) -> f64 {
        self.lambda * n / (1.0 + self.sigma * (n - 1.0) + self.kappa * n * (n - 1.0))
    }
}

/// How an adaptive search reached its recommendation, and what it saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchRecord {
    pub backend: BackendKind,
    /// Throttles probed, in the order they ran.
    pub probes: Vec<usize>,
    /// The highest throttle the search could try.
    pub max_limit: usize,
    /// Points measured, the baseline included.
    pub runs: usize,
    /// Points a full integer sweep 1..max-limit would have measured, the baseline included.
    pub full_sweep_runs: usize,
    /// Points the doubling sweep `run --limits 1..max-limit` would have measured, the baseline
    /// included: the sweep a user would otherwise run (0 in results written before it was kept).
    #[serde(default)]
    pub doubling_sweep_runs: usize,
    /// Why the ramp stopped and how the bracket was searched.
    pub outcome: String,
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

/// A point left out of the fit, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeftOut {
    /// Its load (the throttle, in a sweep).
    pub throttle: f64,
    pub throughput_per_s: f64,
    /// What the fit of the other points predicts there.
    pub predicted_per_s: f64,
    pub reason: String,
}

/// What the fit says about one backend, beyond the three coefficients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaling {
    /// N* = √((1−σ)/κ), rounded to the neighbouring integer the model prefers; `None` when κ is
    /// 0 or N* lies beyond 4× the highest throttle measured: no peak within reach.
    pub optimum: Option<usize>,
    /// Predicted throughput at `optimum`, items/s.
    pub predicted_peak_per_s: Option<f64>,
    /// λ/σ: the throughput the model approaches when there is no peak, items/s.
    pub ceiling_per_s: Option<f64>,
    /// Root-mean-square relative residual of the fit, percent.
    pub residual_pct: f64,
    /// Distinct throttles the fit used.
    pub points: usize,
    /// The weighting of the least-squares fit.
    #[serde(default = "FitWeights::before_it_was_recorded")]
    pub weights: FitWeights,
    /// 95% confidence intervals of σ, κ, λ and N*.
    #[serde(default)]
    pub intervals: Option<Intervals>,
    /// Points measured but left out of the fit, with the reason.
    #[serde(default)]
    pub left_out: Vec<LeftOut>,
}

/// A fitted quantity with its standard error and confidence interval. The interval is clipped to
/// where the quantity can lie (σ and κ in [0, 1]; λ and N* not below 0).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub value: f64,
    pub se: f64,
    pub lo: f64,
    pub hi: f64,
}

/// The confidence intervals of a fit's coefficients and of N*.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Intervals {
    /// 0.95.
    pub level: f64,
    /// Degrees of freedom of the t quantile: points fitted − 3.
    pub df: usize,
    pub sigma: Estimate,
    pub kappa: Estimate,
    pub lambda: Estimate,
    /// N* = √((1−σ)/κ), not rounded; `None` when κ is 0 (no peak).
    #[serde(default)]
    pub n_star: Option<Estimate>,
}

/// Achieved concurrency against the throttle at one point (Little's law).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LittleCheck {
    pub backend: BackendKind,
    pub throttle: usize,
    pub repetition: u32,
    /// Σ item time / wall time.
    pub achieved: f64,
    /// What a perfectly held throttle gives for this item count: with a fixed item budget the
    /// last wave is partial, so 100 items at throttle 32 cannot average more than 25 in flight.
    pub expected: f64,
    /// achieved / expected.
    pub share: f64,
    /// Whether the point ran long enough to judge: a timed budget, or at least
    /// `MIN_ITEMS_PER_SLOT` items per slot. With fewer, the drain at the end (slots idle while
    /// the last items finish) weighs too much, and a low share says nothing about the throttle.
    #[serde(default)]
    pub conclusive: bool,
}
