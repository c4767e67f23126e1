//! Analysis of a finished sweep: what the measured points mean for a capacity planner — the
//! scalability fit per backend, the knee, the SLO limit and one recommended throttle.

pub mod costs;
pub mod efficiency;
pub mod knee;
pub mod littles_law;
pub mod pick;
pub mod recommend;
pub mod scaling;
pub mod slo;
pub mod text;

use serde::{Deserialize, Serialize};

use crate::backend::BackendKind;
use crate::results::{median, median_of, SweepResult};
pub use littles_law::LittleCheck;
pub use scaling::Scaling;
pub use slo::{error_budget, Measured, Slo, SloOutcome, DEFAULT_ERROR_BUDGET};

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
    pub costs: Vec<costs::BackendCost>,
    /// How an adaptive search (`tune`) chose its points, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchRecord>,
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
    /// Why the ramp stopped and how the bracket was searched.
    pub outcome: String,
}

/// Analyses a sweep: per-backend fit and knee, the SLO, Little's law, one recommendation.
pub fn analyze(sweep: &SweepResult) -> Analysis {
    let slo = sweep.spec.sweep.slo.as_ref();
    let mut analysis = Analysis {
        slo: slo.map(|s| s.to_string()),
        ..Analysis::default()
    };
    let mut tables = Vec::new();
    for &backend in &sweep.spec.sweep.backends {
        let rows = measured(sweep, backend);
        if rows.is_empty() {
            continue;
        }
        let (entry, notes) = recommend::backend_analysis(sweep, backend, &rows, slo);
        analysis.notes.extend(notes);
        analysis.backends.push(entry);
        tables.push(rows);
    }
    if slo.is_some() {
        analysis.slo_met = Some(
            analysis
                .backends
                .iter()
                .any(|b| b.slo.as_ref().is_some_and(|o| !o.feasible.is_empty())),
        );
    }
    match pick::recommend(&analysis.backends, &tables, slo, sweep.environment.cores) {
        Ok(r) => analysis.recommendation = Some(r),
        Err(why) => analysis.no_recommendation = Some(why),
    }
    analysis.costs = costs::costs(sweep);
    analysis.notes.extend(efficiency::notes(sweep));
    analysis.littles_law = littles_law::checks(sweep);
    analysis
        .notes
        .extend(littles_law::notes(&analysis.littles_law));
    analysis
}

/// One backend's throttles, repetitions folded into medians, ascending by throttle.
pub fn measured(sweep: &SweepResult, backend: BackendKind) -> Vec<Measured> {
    let mut throttles: Vec<usize> = sweep
        .points
        .iter()
        .filter(|p| p.backend == backend)
        .map(|p| p.throttle)
        .collect();
    throttles.sort_unstable();
    throttles.dedup();
    throttles
        .into_iter()
        .map(|throttle| {
            let reps: Vec<_> = sweep
                .points
                .iter()
                .filter(|p| p.backend == backend && p.throttle == throttle)
                .collect();
            let med = |f: fn(&crate::results::PointResult) -> f64| {
                median(&mut reps.iter().map(|p| f(p)).collect::<Vec<_>>()).unwrap_or(0.0)
            };
            let med_opt = |f: fn(&crate::results::PointResult) -> Option<f64>| {
                median_of(reps.iter().map(|p| f(p)))
            };
            let items: u64 = reps.iter().map(|p| p.items).sum();
            let bad: u64 = reps.iter().map(|p| p.failed + p.timed_out).sum();
            let rates: Vec<f64> = reps.iter().map(|p| p.goodput_per_s).collect();
            let (goodput_lo, goodput_hi) = knee::robust_range(&rates);
            Measured {
                throttle,
                goodput_per_s: med(|p| p.goodput_per_s),
                goodput_lo,
                goodput_hi,
                p50_ms: med_opt(|p| p.lat_p50_ms),
                p90_ms: med_opt(|p| p.lat_p90_ms),
                p99_ms: med_opt(|p| p.lat_p99_ms),
                p999_ms: med_opt(|p| p.lat_p999_ms),
                cpu_cores: med(|p| {
                    if p.wall_s > 0.0 {
                        (p.cpu_user_s + p.cpu_sys_s) / p.wall_s
                    } else {
                        0.0
                    }
                }),
                error_share: if items > 0 {
                    bad as f64 / items as f64
                } else {
                    0.0
                },
            }
        })
        .collect()
}

impl Analysis {
    /// The analysis as lines of text: the recommendation, each backend's fit, the notes.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(r) = &self.recommendation {
            lines.push(r.summary.clone());
        }
        if let Some(why) = &self.no_recommendation {
            lines.push(why.clone());
        }
        for b in &self.backends {
            lines.push(text::describe_backend(b));
        }
        if let Some(s) = &self.search {
            lines.push(text::describe_search(s));
        }
        for note in &self.notes {
            lines.push(format!("note: {note}"));
        }
        lines
    }
}
pub mod allowance;
pub mod bootstrap;
pub mod compare;
pub mod error_rate;
#[cfg(test)]
pub(crate) mod fixture;
pub mod metric;
pub mod run_to_run;
pub mod student;
#[cfg(test)]
mod sweep_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_analysis_survives_results_json_and_old_files_still_load() {
        let a = Analysis {
            recommendation: Some(Recommendation {
                backend: BackendKind::Thread,
                throttle: 8,
                summary: "Use throttle 8 on thread".into(),
            }),
            slo: Some("p99=200ms".into()),
            slo_met: Some(true),
            ..Analysis::default()
        };
        let text = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<Analysis>(&text).unwrap(), a);
        let old = r#"{"recommendation":null,"backends":[{"backend":"thread","usl":{"sigma":0.1,"kappa":0.0,"lambda":5.0},"knee":4}],"notes":[]}"#;
        let parsed: Analysis = serde_json::from_str(old).unwrap();
        assert_eq!(parsed.backends[0].knee, Some(4));
        assert!(parsed.backends[0].scaling.is_none() && parsed.littles_law.is_empty());
    }
}
