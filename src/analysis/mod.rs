//! Analysis of a finished sweep: what the measured points mean for a capacity planner — the
//! scalability fit per backend, the knee, the SLO limit and one recommended throttle.

use serde::{Deserialize, Serialize};

use crate::backend::BackendKind;

/// Everything the analysis concluded, stored in `results.json` and shown in reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// The throttle to use, with the evidence in one sentence.
    #[serde(default)]
    pub recommendation: Option<Recommendation>,
    /// One entry per backend that was swept.
    #[serde(default)]
    pub backends: Vec<BackendAnalysis>,
    /// Caveats about the analysis itself (too few points, poor fit, …).
    #[serde(default)]
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub backend: BackendKind,
    pub throttle: usize,
    /// e.g. "Use throttle 8 on thread: 97% of peak throughput, p99 41 ms ≤ 200 ms SLO; contention-limited (σ=0.12)"
    pub summary: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendAnalysis {
    pub backend: BackendKind,
    /// Universal Scalability Law fit, when there were enough points.
    #[serde(default)]
    pub usl: Option<UslFit>,
    /// Smallest throttle reaching ≥ 95% of the peak measured throughput.
    #[serde(default)]
    pub knee: Option<usize>,
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

pub mod allowance;
pub mod bootstrap;
pub mod compare;
#[cfg(test)]
pub(crate) mod fixture;
pub mod metric;
