//! Analysis of a finished sweep: what the measured points mean for a capacity planner — the
//! scalability fit per backend, the knee, the SLO limit and one recommended throttle — and the
//! comparison of two runs. What it concludes is stored with the results (`results::findings`).
//!
//! [`analyze`] is what a sweep runs at its end; the fit also stands alone:
//!
//! ```
//! use throttlebench::analysis::{scaling, UslFit};
//!
//! let truth = UslFit { sigma: 0.05, kappa: 0.001, lambda: 100.0 };
//! let points: Vec<(f64, f64)> =
//!     [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0].map(|n| (n, truth.throughput(n))).to_vec();
//! let fit = scaling::fit(&points).unwrap();
//! assert!((fit.sigma - 0.05).abs() < 1e-3 && (fit.kappa - 0.001).abs() < 1e-4);
//! // Throughput peaks near N* = √((1−σ)/κ) ≈ 30.8.
//! assert!(matches!(scaling::optimum(&fit), Some(30 | 31)));
//! ```

pub(crate) mod costs;
pub(crate) mod efficiency;
pub(crate) mod explain;
pub mod knee;
pub mod limiter_behaviour;
pub mod limiter_choice;
pub mod limiters;
pub(crate) mod littles_law;
pub(crate) mod pick;
pub(crate) mod recommend;
pub mod scaling;
pub(crate) mod slo;
pub mod sustainable;
pub(crate) mod text;

use crate::backend::BackendKind;
pub use crate::results::findings::{
    Analysis, BackendAnalysis, LittleCheck, Recommendation, Scaling, SearchRecord, SloOutcome,
    UslFit,
};
use crate::results::{median, median_of, SweepResult};
pub use slo::{error_budget, Measured, Slo, DEFAULT_ERROR_BUDGET};

impl SearchRecord {
    /// A search not yet started, with the sweeps it is measured against, each counting the
    /// baseline and every repetition.
    pub fn new(backend: BackendKind, max_limit: usize, repeat: usize) -> SearchRecord {
        let doubling = crate::spec::parse_limits(&format!("1..{max_limit}")).map_or(1, |l| l.len());
        SearchRecord {
            backend,
            probes: Vec::new(),
            max_limit,
            runs: 0,
            full_sweep_runs: (max_limit + 1) * repeat,
            doubling_sweep_runs: (doubling + 1) * repeat,
            outcome: "interrupted".into(),
        }
    }
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
    // A run of rates alone has no throttle to recommend: its finding is the sustainable rate.
    let open_loop_only = tables.is_empty() && !sweep.open_loop.is_empty();
    if !open_loop_only {
        match pick::recommend(&analysis.backends, &tables, slo, sweep.environment.cores) {
            Ok(r) => analysis.recommendation = Some(r),
            Err(why) => analysis.no_recommendation = Some(why),
        }
    }
    analysis.open_loop = sustainable::analyze(sweep, &analysis.backends);
    analysis.limiters = limiters::judge(sweep, &analysis.backends);
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
        for open in &self.open_loop {
            lines.push(open.summary.clone());
        }
        for limiter in &self.limiters {
            lines.push(limiter.summary.clone());
        }
        for note in &self.notes {
            lines.push(format!("note: {note}"));
        }
        lines
    }
}
pub(crate) mod allowance;
pub mod bootstrap;
pub mod change_point;
pub mod compare;
pub(crate) mod error_rate;
#[cfg(test)]
pub(crate) mod fixture;
pub mod history;
pub(crate) mod metric;
pub mod noise;
pub(crate) mod run_to_run;
pub(crate) mod student;

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
