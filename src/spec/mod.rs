//! Run specs: a TOML file and/or command-line flags → one typed, validated `RunSpec`. Every
//! mistake is refused here, before anything runs, with the file, line and column where known.
//! The spec holds all a sweep asks for, down to its SLO and the weighting of its fit.
//!
//! ```
//! use throttlebench::spec::{self, Overrides};
//! use throttlebench::{BackendKind, Budget, Registry};
//!
//! let text = "[workload]\nkind = \"sleep\"\nms = 20\n[sweep]\nlimits = \"1..16\"\nslo = \"p99=50ms\"\n";
//! let flags = Overrides { items: Some(40), ..Overrides::default() };
//! let spec = spec::parse(text, "demo.toml", None, &flags, &Registry::builtin())?;
//! assert_eq!(spec.sweep.limits, [1, 2, 4, 8, 16]);
//! assert_eq!(spec.sweep.budget, Budget::Items(40));
//! assert_eq!(spec.sweep.backends, [BackendKind::Thread, BackendKind::Async]);
//! assert_eq!(spec.sweep.slo.unwrap().to_string(), "p99=50ms");
//!
//! // A mistake names where it stands.
//! let err = spec::parse("[workload]\nkind = \"slep\"\n", "demo.toml", None, &flags, &Registry::builtin())
//!     .unwrap_err();
//! assert!(err.to_string().starts_with("demo.toml:2:8: unknown workload kind 'slep'"));
//! # Ok::<(), throttlebench::SpecError>(())
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backend::hosts::RemoteSettings;
use crate::backend::limiter::LimiterSpec;
use crate::backend::retry::RetryPolicy;
use crate::backend::{BackendKind, Budget};
use crate::error::SpecError;
use crate::workload::{Registry, WorkloadSpec};

mod file;
mod limiters;
pub mod open_loop;
mod overrides;
mod remote;
mod shard;
pub mod slo;
#[cfg(test)]
mod tests;
mod values;
mod weights;

pub use file::parse;
pub use limiters::{
    apply_limiter_flag, check_limiters, limiter_lanes, takes_limiter, LANES_PER_LARGEST_THROTTLE,
};
pub use open_loop::{OpenLoop, OpenLoopFlags};
pub use overrides::Overrides;
pub use remote::{apply_remote_flags, RemoteFlags};
pub use shard::{apply_shard_flags, Schedule, Shard, ShardFlags, DEFAULT_GAP};
pub use slo::Slo;
pub use values::{parse_backends, parse_count, parse_duration, parse_limits, parse_positive};
pub use weights::FitWeights;

/// Highest throttle accepted: beyond it threads and file descriptors run out before anything
/// useful is measured.
pub const MAX_THROTTLE: usize = 4096;
/// Highest item count accepted per point.
pub const MAX_ITEMS: u64 = 1_000_000_000_000;
const MAX_REPEAT: u32 = 1000;
const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);
/// Work per point when neither `items` nor `duration` is given: a time, not a count, because no
/// one count suits a no-op item and a 100 ms one alike — 100 items are 0.1 ms of the first, too
/// short to measure, and 10 s of the second. A second is ten times the shortest point measured
/// without a warning, and a default sweep of 13 points takes about a quarter of a minute.
pub const DEFAULT_POINT_DURATION: Duration = Duration::from_secs(1);

/// Everything one sweep needs: what to run and how to sweep it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub workload: WorkloadSpec,
    pub sweep: SweepSettings,
}

/// How to sweep: the backends, throttles, budget per point and what the analysis holds them to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSettings {
    /// Backends compared against the baseline (the sequential baseline always runs too).
    pub backends: Vec<BackendKind>,
    /// Throttle limits, ascending, without repeats.
    pub limits: Vec<usize>,
    pub budget: Budget,
    pub repeat: u32,
    pub warmup: u64,
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
    #[serde(default)]
    pub trace: bool,
    /// Attempts per item beyond the first, with exponential backoff.
    #[serde(default = "RetryPolicy::none")]
    pub retry: RetryPolicy,
    /// Objectives a throttle must meet to be recommended (`p99=200ms,errors=1%`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slo: Option<Slo>,
    /// Hosts and ssh settings of the `remote` backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteSettings>,
    /// Measure every point even when no baseline item succeeded (otherwise the sweep stops
    /// after the baseline).
    #[serde(default)]
    pub ignore_failures: bool,
    /// Weighting of the scalability (USL) fit: equal (plain least squares) or relative (1/X²).
    #[serde(default)]
    pub usl_weights: FitWeights,
    /// Keep every point in the scalability fit, even one that looks stalled.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub usl_keep_all: bool,
    /// Open-loop points (`--rates`): offered rates instead of throttles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_loop: Option<OpenLoop>,
    /// This run is one shard of several (`--shard K/N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<Shard>,
    /// Points open on a shared wall-clock schedule (`--start-at`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// Adaptive limiters to judge against the sweep (`--limiter`): one point per limiter on
    /// each backend that can take one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub limiters: Vec<LimiterSpec>,
}

impl Default for SweepSettings {
    fn default() -> Self {
        SweepSettings {
            backends: vec![BackendKind::Thread, BackendKind::Async],
            limits: vec![1, 2, 4, 8, 16, 32],
            budget: Budget::Duration(DEFAULT_POINT_DURATION),
            repeat: 1,
            warmup: 0,
            timeout: None,
            trace: false,
            retry: RetryPolicy::none(),
            slo: None,
            remote: None,
            ignore_failures: false,
            usl_weights: Default::default(),
            usl_keep_all: false,
            open_loop: None,
            shard: None,
            schedule: None,
            limiters: Vec::new(),
        }
    }
}

/// Reads a spec file, applies the overrides, validates the result.
pub fn load(path: &Path, overrides: &Overrides, registry: &Registry) -> Result<RunSpec, SpecError> {
    let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let stem = path.file_stem().map(|s| s.to_string_lossy().to_string());
    parse(
        &text,
        &path.display().to_string(),
        stem,
        overrides,
        registry,
    )
}

/// A spec from flags alone (`run --kind K --param k=v …`).
pub fn from_flags(overrides: &Overrides, registry: &Registry) -> Result<RunSpec, SpecError> {
    let kind = overrides.kind.clone().ok_or_else(|| {
        SpecError::invalid("give a spec file (run SPEC.toml) or a workload kind (run --kind sleep)")
    })?;
    let mut spec = RunSpec {
        name: kind.clone(),
        description: None,
        workload: WorkloadSpec {
            kind,
            params: BTreeMap::new(),
        },
        sweep: SweepSettings::default(),
    };
    overrides.apply(&mut spec, registry, false)?;
    Ok(spec)
}
